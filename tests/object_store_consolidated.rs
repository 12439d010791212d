//! Consolidated metadata against real servers (a request-logging Python
//! `http.server`, moto's S3 server) and zarr-python: opening a member of a
//! consolidated group costs one metadata request; groups are listed and their
//! attributes read; darray writes consolidated metadata zarr-python opens with
//! `zarr.open_consolidated`.

#[path = "common/servers.rs"]
mod servers;

use darray::store::{consolidate_metadata, open_group, NodeKind, StoreError};
use darray::{DArray, Error, StoreOptions, WriteOptions, ZarrFormat};
use ndarray::{ArrayD, IxDyn};
use servers::{py, Server};
use std::path::Path;

/// `x[i] = 0.5 * (flat index) - 7`, as the Python side's `np.arange(n) * 0.5 - 7`.
fn ramp(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f64 * 0.5 - 7.0).collect()).unwrap()
}

/// zarr-python writes group `g` (format `fmt`) at `store` with an array `temp`
/// (37 x 23 ramp, chunks 10 x 7, attributes units=K), a sub-group `sub` holding
/// `x` (int32, 0..10) and `y`, and group attributes; consolidated if asked.
fn write_group_with_zarr_python(store: &str, storage_options: &str, fmt: u8, consolidate: bool) {
    py(&format!(
        "import numpy as np, zarr\n\
         so = {storage_options}\n\
         kw = dict(storage_options=so) if so else {{}}\n\
         g = zarr.open_group({store:?}, mode='w', zarr_format={fmt}, attributes={{'title': 'run 7'}}, **kw)\n\
         t = g.create_array('temp', shape=(37, 23), chunks=(10, 7), dtype='f8', \
             attributes={{'units': 'K'}})\n\
         t[...] = np.arange(37 * 23).reshape(37, 23) * 0.5 - 7\n\
         s = g.create_group('sub')\n\
         x = s.create_array('x', shape=(10,), chunks=(4,), dtype='i4')\n\
         x[...] = np.arange(10)\n\
         s.create_array('y', shape=(3,), chunks=(3,), dtype='f4')\n\
         if {consolidate}:\n    \
             zarr.consolidate_metadata({store:?}, **kw)\n",
        consolidate = if consolidate { "True" } else { "False" },
    ));
}

/// The requests logged so far, emptied.
fn take_log(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    std::fs::write(log, "").unwrap();
    text.lines().map(str::to_string).collect()
}

/// Requests for metadata objects (not chunks).
fn metadata_requests(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| {
            ["zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"]
                .iter()
                .any(|m| l.ends_with(m))
        })
        .cloned()
        .collect()
}

/// Over HTTP, a member of a consolidated v3 group opens with one GET (the group's
/// `zarr.json`), and computing it reads the group's document once more and then
/// chunks only: never the member's own `zarr.json`. v2: `zarr.json` (absent),
/// then `.zmetadata`. Attributes and the group listing come from the same document.
#[test]
fn member_of_consolidated_group_opens_with_one_metadata_request() {
    let dir = tempfile::tempdir().unwrap();
    for fmt in [3u8, 2] {
        let p = dir.path().join(format!("g{fmt}.zarr"));
        write_group_with_zarr_python(&p.display().to_string(), "None", fmt, true);
    }
    let log = dir.path().join("requests.log");
    let http = Server::http_logged(dir.path(), &log);
    for (fmt, expect_open) in [
        (3u8, vec!["GET /g3.zarr/zarr.json"]),
        (2, vec!["GET /g2.zarr/zarr.json", "GET /g2.zarr/.zmetadata"]),
    ] {
        let group = format!("{}/g{fmt}.zarr", http.url);
        take_log(&log);
        let t = DArray::<f64>::from_zarr_member(&group, "temp").unwrap();
        assert_eq!(take_log(&log), expect_open, "v{fmt}: opening a member");
        assert_eq!(t.chunks()[0][0], 10);
        assert_eq!(t.attributes().unwrap()["units"], "K", "v{fmt}");
        assert_eq!(take_log(&log), expect_open, "v{fmt}: attributes");
        assert_eq!(t.compute().unwrap(), ramp(&[37, 23]), "v{fmt}");
        // Computing reads with the planner's open: chunks only, one GET each.
        let reads = take_log(&log);
        assert!(metadata_requests(&reads).is_empty(), "v{fmt}: {reads:#?}");
        assert_eq!(reads.len(), 4 * 4, "v{fmt}: one GET per chunk: {reads:#?}");
        // And again, for a second computation of the same graph.
        assert_eq!(t.compute().unwrap(), ramp(&[37, 23]), "v{fmt}");
        let reads = take_log(&log);
        assert!(metadata_requests(&reads).is_empty(), "v{fmt}: {reads:#?}");
        // Planned again, the array is opened again (a new plan sees new metadata).
        let again = DArray::<f64>::from_zarr_member(&group, "temp").unwrap();
        assert_eq!(take_log(&log), expect_open, "v{fmt}: planned again");
        assert_eq!(again.compute().unwrap(), ramp(&[37, 23]), "v{fmt}");
        assert!(metadata_requests(&take_log(&log)).is_empty(), "v{fmt}");
        // A nested member, int32 through the same document.
        let x = DArray::<i32>::from_zarr_member(&group, "sub/x").unwrap();
        assert_eq!(
            x.compute().unwrap().into_raw_vec_and_offset().0,
            (0..10).collect::<Vec<_>>()
        );
        let meta = metadata_requests(&take_log(&log));
        assert!(
            meta.iter().all(|m| expect_open.contains(&m.as_str())),
            "{meta:?}"
        );
        // A group is not an array; a name not in the group is not found.
        match DArray::<f64>::from_zarr_member(&group, "sub") {
            Err(Error::Store(StoreError::NotAnArray { path, .. })) => {
                assert!(path.display().to_string().contains("sub"));
            }
            other => panic!("v{fmt}: expected NotAnArray, got {other:?}"),
        }
        match DArray::<f64>::from_zarr_member(&group, "nothing") {
            Err(e) => assert!(e.to_string().contains("nothing"), "{e}"),
            Ok(_) => panic!("v{fmt}: opened a missing member"),
        }
        // The group itself: attributes and every member, from one document.
        take_log(&log);
        let g = open_group(Path::new(&group)).unwrap();
        assert_eq!(take_log(&log), expect_open, "v{fmt}: open_group");
        assert!(g.consolidated);
        assert_eq!(g.zarr_format, fmt);
        assert_eq!(g.attributes["title"], "run 7");
        assert_eq!(
            g.members,
            vec![
                ("sub".to_string(), NodeKind::Group),
                ("sub/x".to_string(), NodeKind::Array),
                ("sub/y".to_string(), NodeKind::Array),
                ("temp".to_string(), NodeKind::Array),
            ]
        );
    }
}

/// A member of a group without consolidated metadata still opens (the group's
/// document, then the member's own), and its location drops the consolidated
/// option, so later opens (computing) read the member's metadata directly.
#[test]
fn member_of_unconsolidated_group_opens_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.zarr");
    write_group_with_zarr_python(&p.display().to_string(), "None", 3, false);
    let log = dir.path().join("requests.log");
    let http = Server::http_logged(dir.path(), &log);
    let group = format!("{}/g.zarr", http.url);
    let t = DArray::<f64>::from_zarr_member(&group, "temp").unwrap();
    assert_eq!(
        take_log(&log),
        ["GET /g.zarr/zarr.json", "GET /g.zarr/temp/zarr.json"]
    );
    assert_eq!(t.compute().unwrap(), ramp(&[37, 23]));
    // Computing reads with the planner's open: no metadata.
    let meta = metadata_requests(&take_log(&log));
    assert!(meta.is_empty(), "{meta:?}");
    // Listing needs a store that lists: HTTP cannot, and says so naming the group.
    match open_group(Path::new(&group)) {
        Err(e) => assert!(e.to_string().contains("g.zarr"), "{e}"),
        Ok(g) => panic!("listed a group over HTTP: {g:?}"),
    }
}

/// darray writes a group with consolidated metadata (v2 and v3); zarr-python opens
/// it with `zarr.open_consolidated` and reads every member, and darray lists it.
#[test]
fn darray_writes_consolidated_groups_zarr_python_opens() {
    let dir = tempfile::tempdir().unwrap();
    let temp = DArray::from_ndarray(&ramp(&[29, 31]), [8, 10]).unwrap();
    let wind = temp.mul(2.0).unwrap();
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        let path = dir.path().join(format!("w{format:?}.zarr"));
        let mut opts = WriteOptions {
            zarr_format: format,
            consolidated: true,
            ..WriteOptions::default()
        };
        opts.attributes.insert("title".into(), "darray".into());
        let mut kelvin = WriteOptions::default();
        kelvin.attributes.insert("units".into(), "K".into());
        darray::to_zarr_group(
            &path,
            &[("temp", &temp.zarr_member(&kelvin)), ("wind", &wind)],
            &opts,
        )
        .unwrap();
        let out = py(&format!(
            "import numpy as np, zarr\n\
             data = np.arange(29 * 31).reshape(29, 31) * 0.5 - 7\n\
             g = zarr.open_consolidated({p:?}, mode='r')\n\
             assert g.metadata.consolidated_metadata is not None\n\
             assert sorted(g.metadata.consolidated_metadata.metadata) == ['temp', 'wind'], \
                 g.metadata.consolidated_metadata\n\
             assert g.attrs['title'] == 'darray'\n\
             assert g['temp'].attrs['units'] == 'K'\n\
             assert np.array_equal(g['temp'][...], data)\n\
             assert np.array_equal(g['wind'][...], 2 * data)\n\
             h = zarr.open_group({p:?}, mode='r', use_consolidated=True)\n\
             print(sorted(k for k, _ in h.members()))\n",
            p = path.display().to_string()
        ));
        assert_eq!(out.trim(), "['temp', 'wind']", "{format:?}");
        let g = open_group(&path).unwrap();
        assert!(g.consolidated, "{format:?}");
        assert_eq!(
            g.members,
            vec![
                ("temp".to_string(), NodeKind::Array),
                ("wind".to_string(), NodeKind::Array)
            ]
        );
    }
    // Without the option, no consolidated metadata: zarr-python's
    // `use_consolidated=True` refuses it, and darray lists the directory.
    let plain = dir.path().join("plain.zarr");
    darray::to_zarr_group(&plain, &[("temp", &temp)], &WriteOptions::default()).unwrap();
    let g = open_group(&plain).unwrap();
    assert!(!g.consolidated);
    assert_eq!(g.members, vec![("temp".to_string(), NodeKind::Array)]);
}

/// On S3: zarr-python writes unconsolidated groups through s3fs; darray lists
/// them, consolidates them in the bucket, and zarr-python opens the result with
/// `zarr.open_consolidated`; darray then opens a member through it.
#[test]
fn consolidate_a_group_in_s3_for_zarr_python() {
    let s3 = Server::moto();
    s3.create_bucket("groups");
    let so = s3.s3fs_options();
    let opts = StoreOptions {
        endpoint: Some(s3.url.clone()),
        region: Some("us-east-1".into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    };
    for fmt in [3u8, 2] {
        let url = format!("s3://groups/g{fmt}.zarr");
        write_group_with_zarr_python(&url, &so, fmt, false);
        let loc = opts.locate(&url).unwrap();
        let g = open_group(Path::new(&loc)).unwrap();
        assert!(!g.consolidated, "v{fmt}");
        assert_eq!(g.attributes["title"], "run 7", "v{fmt}");
        let names: Vec<&str> = g.members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["sub", "sub/x", "sub/y", "temp"], "v{fmt}");
        consolidate_metadata(Path::new(&loc)).unwrap();
        let g = open_group(Path::new(&loc)).unwrap();
        assert!(g.consolidated, "v{fmt}");
        assert_eq!(g.members.len(), 4, "v{fmt}");
        py(&format!(
            "import numpy as np, zarr\n\
             g = zarr.open_consolidated({url:?}, mode='r', storage_options={so})\n\
             assert g.metadata.consolidated_metadata is not None or {fmt} == 2\n\
             assert g.attrs['title'] == 'run 7'\n\
             assert g['temp'].attrs['units'] == 'K'\n\
             assert np.array_equal(g['sub/x'][...], np.arange(10))\n\
             assert np.array_equal(g['temp'][...], np.arange(37 * 23).reshape(37, 23) * 0.5 - 7)\n"
        ));
        let t = DArray::<f64>::from_zarr_member(&loc, "temp").unwrap();
        assert!(t.attributes().unwrap()["units"] == "K");
        assert_eq!(t.compute().unwrap(), ramp(&[37, 23]), "v{fmt}");
    }
    // Not a group: an error naming the location.
    let missing = opts.locate("s3://groups/none.zarr").unwrap();
    match open_group(Path::new(&missing)) {
        Err(StoreError::NotAGroup { path, .. }) => {
            assert!(path.display().to_string().contains("none.zarr"));
        }
        other => panic!("expected NotAGroup, got {other:?}"),
    }
}
