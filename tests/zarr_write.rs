//! Writing into existing Zarr stores through the public API: region writes (aligned,
//! and read-modify-write of partly covered chunks), appends along an axis, several
//! arrays into one group, attributes and dimension names; checked against ndarray
//! and read back by zarr-python (installed by scripts/python-env.sh).

mod common;
#[path = "common/servers.rs"]
mod servers;

use common::{config, partition};
use darray::{DArray, Error, Executor, LocalExecutor, RegionOptions, WriteOptions, ZarrFormat};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};
use proptest::prelude::*;
use servers::py;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Distinct values, so a misplaced element shows.
fn ramp(shape: &[usize], base: f64) -> ArrayD<f64> {
    let mut k = 0.0;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        k += 1.0;
        base + k
    })
}

fn region_slice(region: &[Range<u64>]) -> Vec<SliceInfoElem> {
    region
        .iter()
        .map(|r| SliceInfoElem::from(r.start as usize..r.end as usize))
        .collect()
}

fn store(path: &Path, a: &ArrayD<f64>, chunks: &[u64], format: ZarrFormat) {
    let opts = WriteOptions {
        zarr_format: format,
        chunk_shape: Some(chunks.to_vec()),
        ..WriteOptions::default()
    };
    DArray::from_ndarray(
        a,
        a.shape()
            .to_vec()
            .iter()
            .map(|&n| n.max(1))
            .collect::<Vec<_>>(),
    )
    .unwrap()
    .to_zarr(path, &opts)
    .unwrap();
}

/// Every file under `dir` and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    common::files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn read_back(path: &Path) -> ArrayD<f64> {
    DArray::<f64>::from_zarr(path).unwrap().compute().unwrap()
}

/// zarr-python's view of the array, as a flat list, checked against `want`.
fn assert_python_reads(path: &Path, want: &ArrayD<f64>) {
    let out = py(&format!(
        "import zarr, json\na = zarr.open_array({:?}, mode='r')\n\
         print(json.dumps([list(a.shape), a[...].ravel().tolist()]))",
        path.display().to_string()
    ));
    let (shape, values): (Vec<usize>, Vec<f64>) = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(shape, want.shape());
    assert_eq!(values, want.iter().copied().collect::<Vec<_>>());
}

#[test]
fn disjoint_region_writes_from_separate_computations() {
    let dir = tempfile::tempdir().unwrap();
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        let path = dir.path().join(format!("r-{format:?}.zarr"));
        let mut want = ArrayD::<f64>::zeros(IxDyn(&[10, 7]));
        store(&path, &want, &[4, 3], format);
        // Four aligned tiles (the last row and column chunks partial at the
        // array's edge), each written by its own computation and executor.
        let tiles = [
            [0..4u64, 0..3u64],
            [4..10, 0..3],
            [0..8, 3..7],
            [8..10, 3..7],
        ];
        for (i, t) in tiles.iter().enumerate() {
            let shape: Vec<usize> = t.iter().map(|r| (r.end - r.start) as usize).collect();
            let part = ramp(&shape, 100.0 * i as f64);
            let exec = LocalExecutor::with_threads(1 + i % 2).unwrap();
            DArray::from_ndarray(&part, [3, 2])
                .unwrap()
                .to_zarr_region_with(&path, t, &RegionOptions::default(), &exec)
                .unwrap();
            want.slice_mut(region_slice(t).as_slice()).assign(&part);
        }
        assert_eq!(read_back(&path), want);
        assert_python_reads(&path, &want);
    }
}

#[test]
#[allow(clippy::single_range_in_vec_init)] // a region of one axis
fn misaligned_regions_are_refused_and_the_store_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.zarr");
    let base = ramp(&[9, 8], 0.0);
    store(&path, &base, &[4, 4], ZarrFormat::V3);
    let before = snapshot(&path);
    let opts = RegionOptions::default();
    let x = |shape: &[usize]| DArray::from_ndarray(&ramp(shape, -50.0), [3, 3]).unwrap();
    let err = x(&[3, 4])
        .to_zarr_region(&path, &[1..4, 0..4], &opts)
        .unwrap_err();
    assert!(
        matches!(&err, Error::RegionMisaligned { axis: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("read_modify_write"), "{err}");
    // Ends inside a chunk that is not the array's last.
    let err = x(&[4, 2])
        .to_zarr_region(&path, &[4..8, 4..6], &opts)
        .unwrap_err();
    assert!(
        matches!(err, Error::RegionMisaligned { axis: 1, .. }),
        "{err}"
    );
    // Outside the array: refused whatever the options.
    let rmw = RegionOptions {
        read_modify_write: true,
    };
    let err = x(&[4, 4])
        .to_zarr_region(&path, &[8..12, 0..4], &rmw)
        .unwrap_err();
    assert!(matches!(err, Error::RegionOutside { .. }), "{err}");
    assert!(err.to_string().contains("m.zarr"), "{err}");
    // Another shape than the region, axes or dtype.
    let err = x(&[4, 3])
        .to_zarr_region(&path, &[0..4, 0..4], &opts)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let err = x(&[4, 4])
        .to_zarr_region(&path, &[0..4], &opts)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let ints = DArray::<i32>::zeros(&[4, 4], [4, 4]).unwrap();
    let err = ints
        .to_zarr_region(&path, &[0..4, 0..4], &opts)
        .unwrap_err();
    assert!(matches!(err, Error::DTypeMismatch { .. }), "{err}");
    assert_eq!(snapshot(&path), before);
    assert_eq!(read_back(&path), base);
}

#[test]
fn appends_grow_the_array_and_rewrite_a_partial_last_chunk() {
    let dir = tempfile::tempdir().unwrap();
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        let path = dir.path().join(format!("a-{format:?}.zarr"));
        let mut want = ramp(&[5, 3], 0.0);
        store(&path, &want, &[4, 2], format);
        // 5 rows in chunks of 4: the last chunk is partial and gets completed.
        for (i, rows) in [2usize, 1, 6, 0].into_iter().enumerate() {
            let more = ramp(&[rows, 3], 1000.0 * (i + 1) as f64);
            DArray::from_ndarray(&more, [3, 3])
                .unwrap()
                .append_to_zarr(&path, 0)
                .unwrap();
            want = ndarray::concatenate(ndarray::Axis(0), &[want.view(), more.view()]).unwrap();
            assert_eq!(read_back(&path), want);
        }
        // Along the other axis.
        let more = ramp(&[want.shape()[0], 3], -500.0);
        DArray::from_ndarray(&more, [4, 1])
            .unwrap()
            .append_to_zarr(&path, 1)
            .unwrap();
        want = ndarray::concatenate(ndarray::Axis(1), &[want.view(), more.view()]).unwrap();
        assert_eq!(read_back(&path), want);
        assert_python_reads(&path, &want);
    }
}

#[test]
fn appends_that_do_not_fit_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zarr");
    let base = ramp(&[5, 3], 0.0);
    store(&path, &base, &[4, 2], ZarrFormat::V3);
    let before = snapshot(&path);
    let wrong = DArray::from_ndarray(&ramp(&[2, 4], 0.0), [2, 2]).unwrap();
    let err = wrong.append_to_zarr(&path, 0).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let err = wrong.append_to_zarr(&path, 2).unwrap_err();
    assert!(matches!(err, Error::AxisOutOfRange { .. }), "{err}");
    let ints = DArray::<i32>::zeros(&[2, 3], [2, 3]).unwrap();
    assert!(matches!(
        ints.append_to_zarr(&path, 0).unwrap_err(),
        Error::DTypeMismatch { .. }
    ));
    assert_eq!(snapshot(&path), before);
}

#[test]
fn groups_hold_several_arrays_with_attributes_and_dimension_names() {
    let dir = tempfile::tempdir().unwrap();
    for format in [ZarrFormat::V3, ZarrFormat::V2] {
        let path = dir.path().join(format!("g-{format:?}.zarr"));
        let a = ramp(&[6, 4], 0.0);
        let temp = DArray::from_ndarray(&a, [4, 3]).unwrap();
        let wind = temp.mul(2.0).unwrap();
        let count = DArray::<i32>::ones(&[4], [3]).unwrap();
        let mut temp_opts = WriteOptions::default();
        temp_opts
            .attributes
            .insert("units".into(), serde_json::json!("K"));
        temp_opts.dimension_names = Some(vec!["time".into(), "x".into()]);
        let mut wind_opts = WriteOptions::default();
        wind_opts
            .attributes
            .insert("units".into(), serde_json::json!("m/s"));
        wind_opts.dimension_names = Some(vec!["time".into(), "x".into()]);
        let mut group_opts = WriteOptions {
            zarr_format: format,
            ..WriteOptions::default()
        };
        group_opts
            .attributes
            .insert("title".into(), serde_json::json!("test"));
        darray::to_zarr_group(
            &path,
            &[
                ("temp", &temp.zarr_member(&temp_opts)),
                ("wind", &wind.zarr_member(&wind_opts)),
                ("count", &count),
            ],
            &group_opts,
        )
        .unwrap();
        let t = DArray::<f64>::from_zarr_member(&path, "temp").unwrap();
        assert_eq!(t.compute().unwrap(), a);
        assert_eq!(t.attributes().unwrap()["units"], "K");
        assert_eq!(
            t.dimension_names().unwrap(),
            Some(vec![Some("time".to_string()), Some("x".to_string())])
        );
        let w = DArray::<f64>::from_zarr(path.join("wind")).unwrap();
        assert_eq!(w.compute().unwrap(), a.mapv(|v| v * 2.0));
        let c = DArray::<i32>::from_zarr_member(&path, "count").unwrap();
        assert_eq!(c.compute().unwrap().sum(), 4);
        assert!(c.attributes().unwrap().is_empty());
        assert_eq!(c.dimension_names().unwrap(), None);
        // zarr-python sees the group, its members, their attributes, and the
        // dimension names where xarray looks for them.
        let out = py(&format!(
            "import zarr, json\ng = zarr.open_group({:?}, mode='r')\n\
             t = g['temp']\n\
             dims = t.metadata.dimension_names if g.metadata.zarr_format == 3 \
                    else t.attrs['_ARRAY_DIMENSIONS']\n\
             print(json.dumps([sorted(g.array_keys()), g.attrs['title'], t.attrs['units'], \
                  g['wind'].attrs['units'], list(dims), g['wind'][...].ravel().tolist()]))",
            path.display().to_string()
        ));
        let got: (Vec<String>, String, String, String, Vec<String>, Vec<f64>) =
            serde_json::from_str(out.trim()).unwrap();
        assert_eq!(got.0, ["count", "temp", "wind"]);
        assert_eq!(
            (got.1.as_str(), got.2.as_str(), got.3.as_str()),
            ("test", "K", "m/s")
        );
        assert_eq!(got.4, ["time", "x"]);
        assert_eq!(
            got.5,
            a.mapv(|v| v * 2.0).iter().copied().collect::<Vec<_>>()
        );
    }
}

#[test]
fn group_members_share_their_inputs_in_one_graph() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.zarr");
    let a = ramp(&[8, 6], 0.0);
    store(&src, &a, &[4, 3], ZarrFormat::V3);
    let x = DArray::<f64>::from_zarr(&src).unwrap();
    let doubled = x.mul(2.0).unwrap();
    let exec = LocalExecutor::with_threads(2).unwrap();
    darray::to_zarr_group_with(
        dir.path().join("g.zarr"),
        &[("x", &x), ("doubled", &doubled)],
        &WriteOptions::default(),
        &exec,
    )
    .unwrap();
    // Each of the 4 source chunks is read once for both members.
    assert_eq!(exec.last_stats().chunks_read, 4);
    let back = DArray::<f64>::from_zarr_member(dir.path().join("g.zarr"), "doubled").unwrap();
    assert_eq!(back.compute().unwrap(), a.mapv(|v| v * 2.0));
}

#[test]
fn bad_group_members_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.zarr");
    let x = DArray::<f64>::ones(&[3], [2]).unwrap();
    for bad in ["", ".hidden", "a/b"] {
        let err = darray::to_zarr_group(&path, &[(bad, &x)], &WriteOptions::default());
        assert!(err.is_err(), "{bad:?}");
    }
    let err = darray::to_zarr_group(&path, &[("x", &x), ("x", &x)], &WriteOptions::default());
    assert!(err.is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(DArray::<f64>::from_zarr_member(dir.path(), "../x").is_err());
}

/// Array shape, stored chunk shape, region, and a grid of the region's shape.
type RegionCase = (Vec<usize>, Vec<u64>, Vec<Range<u64>>, Vec<Vec<usize>>);

fn region_case() -> impl Strategy<Value = RegionCase> {
    proptest::collection::vec((1usize..=9, 1u64..=4), 1..=3).prop_flat_map(|axes| {
        let shape: Vec<usize> = axes.iter().map(|a| a.0).collect();
        let chunks: Vec<u64> = axes.iter().map(|a| a.1).collect();
        let region = shape
            .iter()
            .map(|&n| (0..=n as u64).prop_flat_map(move |a| (Just(a), a..=n as u64)))
            .map(|s| s.prop_map(|(a, b)| a..b))
            .collect::<Vec<_>>();
        (Just(shape), Just(chunks), region).prop_flat_map(|(shape, chunks, region)| {
            let grid = region
                .iter()
                .map(|r| partition((r.end - r.start) as usize))
                .collect::<Vec<_>>();
            (Just(shape), Just(chunks), Just(region), grid)
        })
    })
}

proptest! {
    #![proptest_config(config(32))]

    /// Any region (aligned or not, with read-modify-write), any chunking of the
    /// written array: the store holds the old values outside and the new inside.
    #[test]
    fn region_writes_match_ndarray((shape, chunks, region, grid) in region_case()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.zarr");
        let mut want = ramp(&shape, 0.0);
        store(&path, &want, &chunks, ZarrFormat::V3);
        let rshape: Vec<usize> = region.iter().map(|r| (r.end - r.start) as usize).collect();
        let part = ramp(&rshape, -1000.0);
        let x = DArray::from_ndarray(&part, grid).unwrap();
        let opts = RegionOptions { read_modify_write: true };
        x.to_zarr_region(&path, &region, &opts).unwrap();
        want.slice_mut(region_slice(&region).as_slice()).assign(&part);
        prop_assert_eq!(read_back(&path), want);
    }

    /// Appending any number of rows in any chunking onto an array of any chunking.
    #[test]
    fn appends_match_ndarray(
        (shape, chunks, _, _) in region_case(),
        rows in 0usize..7,
        block in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.zarr");
        let base = ramp(&shape, 0.0);
        store(&path, &base, &chunks, ZarrFormat::V2);
        let mut more_shape = shape.clone();
        more_shape[0] = rows;
        let more = ramp(&more_shape, 500.0);
        let mut grid: Vec<usize> = more_shape.iter().map(|&n| n.max(1)).collect();
        grid[0] = block;
        DArray::from_ndarray(&more, grid).unwrap().append_to_zarr(&path, 0).unwrap();
        let want = ndarray::concatenate(ndarray::Axis(0), &[base.view(), more.view()]).unwrap();
        prop_assert_eq!(read_back(&path), want);
    }
}
