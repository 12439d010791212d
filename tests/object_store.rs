//! Zarr in object stores and on HTTP servers, against real servers started here
//! (moto's S3 server, Python's `http.server`; see `common/servers.rs`), never
//! mocks: zarr-python writes through s3fs and darray reads, darray writes and
//! zarr-python reads, across v2/v3, codecs and sharding; the read-only HTTP path;
//! missing chunks; typed errors; and a 2-worker cluster working bucket to bucket.

#[path = "common/servers.rs"]
mod servers;

use darray::distributed::LocalCluster;
use darray::store::StoreError;
use darray::{Compression, DArray, Error, StoreOptions, WriteOptions, ZarrFormat};
use ndarray::{ArrayD, IxDyn};
use servers::{py, Server};

/// `x[i] = 0.5 * (flat index) - 7`, the same formula as the Python side's
/// `np.arange(n).reshape(shape) * 0.5 - 7`.
fn ramp(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f64 * 0.5 - 7.0).collect()).unwrap()
}

/// Options that reach moto: its endpoint over plain HTTP, path-style addressing.
fn moto_options(s: &Server) -> StoreOptions {
    StoreOptions {
        endpoint: Some(s.url.clone()),
        region: Some("us-east-1".into()),
        allow_http: true,
        path_style: true,
        ..StoreOptions::default()
    }
}

const PY_PRELUDE: &str = "import numpy as np, zarr, s3fs\n\
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec\n\
from numcodecs import Zstd, Blosc\n";

/// zarr-python writes v2 (zstd, blosc) and v3 (gzip, sharded zstd) arrays of
/// ragged edge chunks to S3 through s3fs; darray reads every one bit for bit.
#[test]
fn zarr_python_writes_to_s3_and_darray_reads_equal() {
    let s3 = Server::moto();
    s3.create_bucket("input");
    let so = s3.s3fs_options();
    py(&format!(
        "{PY_PRELUDE}so = {so}\n\
         data = np.arange(37 * 23).reshape(37, 23) * 0.5 - 7\n\
         def w(name, **kw):\n    \
             a = zarr.create_array(store='s3://input/' + name, shape=data.shape, dtype='f8', \
                 storage_options=so, overwrite=True, **kw)\n    \
             a[...] = data\n\
         w('v2zstd.zarr', chunks=(10, 7), zarr_format=2, compressors=Zstd(level=3))\n\
         w('v2blosc.zarr', chunks=(10, 7), zarr_format=2, compressors=Blosc(cname='lz4'))\n\
         w('v3gzip.zarr', chunks=(10, 7), compressors=GzipCodec(level=5))\n\
         w('v3shard.zarr', shards=(20, 14), chunks=(10, 7), compressors=ZstdCodec(level=1))\n"
    ));
    let opts = moto_options(&s3);
    let want = ramp(&[37, 23]);
    for name in ["v2zstd", "v2blosc", "v3gzip", "v3shard"] {
        let x = DArray::<f64>::from_zarr_with(&format!("s3://input/{name}.zarr"), &opts).unwrap();
        let expect_chunks = if name == "v3shard" { [20, 14] } else { [10, 7] };
        assert_eq!(x.chunks()[0][0], expect_chunks[0], "{name}");
        assert_eq!(x.chunks()[1][0], expect_chunks[1], "{name}");
        assert_eq!(x.compute().unwrap(), want, "{name}");
        // A reduction over chunks read from the bucket, against ndarray.
        let col = x.sum_axis(0).unwrap().compute().unwrap();
        assert_eq!(col, want.sum_axis(ndarray::Axis(0)), "{name}");
    }
}

/// darray writes v2 and sharded v3 arrays to S3, including over an existing
/// array; zarr-python reads them equal, and no staging object is left behind.
#[test]
fn darray_writes_to_s3_and_zarr_python_reads_equal() {
    let s3 = Server::moto();
    s3.create_bucket("out");
    let opts = moto_options(&s3);
    let a = ramp(&[29, 31]);
    let x = DArray::from_ndarray(&a, [8, 10]).unwrap();
    let v2 = WriteOptions {
        zarr_format: ZarrFormat::V2,
        compression: Compression::Zstd { level: 1 },
        ..WriteOptions::default()
    };
    let sharded = WriteOptions {
        chunk_shape: Some(vec![16, 20]),
        inner_chunk_shape: Some(vec![8, 10]),
        ..WriteOptions::default()
    };
    x.to_zarr_with_options("s3://out/v2.zarr", &opts, &v2)
        .unwrap();
    x.to_zarr_with_options("s3://out/v3.zarr", &opts, &sharded)
        .unwrap();
    // Without overwrite an existing array is refused; with it, replaced (v3 -> v2).
    match x.to_zarr_with_options("s3://out/v3.zarr", &opts, &v2) {
        Err(Error::Store(StoreError::Exists { .. })) => {}
        other => panic!("expected Exists, got {other:?}"),
    }
    let y = x.mul(2.0).unwrap();
    y.to_zarr_with_options(
        "s3://out/v3.zarr",
        &opts,
        &WriteOptions {
            overwrite: true,
            ..v2.clone()
        },
    )
    .unwrap();
    let so = s3.s3fs_options();
    let out = py(&format!(
        "{PY_PRELUDE}so = {so}\n\
         data = np.arange(29 * 31).reshape(29, 31) * 0.5 - 7\n\
         a = zarr.open_array('s3://out/v2.zarr', mode='r', storage_options=so)\n\
         assert a.metadata.zarr_format == 2 and a.chunks == (8, 10), a.metadata\n\
         assert np.array_equal(a[...], data)\n\
         b = zarr.open_array('s3://out/v3.zarr', mode='r', storage_options=so)\n\
         assert b.metadata.zarr_format == 2, b.metadata\n\
         assert np.array_equal(b[...], 2 * data)\n\
         fs = s3fs.S3FileSystem(**so)\n\
         print(sorted(k for k in fs.find('out') if 'darray-staging' in k or k.endswith('zarr.json')))\n"
    ));
    assert_eq!(
        out.trim(),
        "[]",
        "staging objects or stale v3 metadata left"
    );
    // darray reads its own output back too.
    let back = DArray::<f64>::from_zarr_with("s3://out/v2.zarr", &opts).unwrap();
    assert_eq!(back.compute().unwrap(), a);
}

/// A chunk object that is missing reads as the fill value, as on disk.
#[test]
fn missing_chunk_object_reads_as_fill_value() {
    let s3 = Server::moto();
    s3.create_bucket("holes");
    let so = s3.s3fs_options();
    py(&format!(
        "{PY_PRELUDE}so = {so}\n\
         a = zarr.create_array(store='s3://holes/a.zarr', shape=(20, 20), chunks=(10, 10), \
             dtype='f8', fill_value=-1.5, storage_options=so)\n\
         a[...] = np.arange(400).reshape(20, 20) * 0.5 - 7\n\
         s3fs.S3FileSystem(**so).rm('holes/a.zarr/c/1/0')\n"
    ));
    let x = DArray::<f64>::from_zarr_with("s3://holes/a.zarr", &moto_options(&s3)).unwrap();
    let got = x.compute().unwrap();
    let mut want = ramp(&[20, 20]);
    want.slice_mut(ndarray::s![10.., ..10]).fill(-1.5);
    assert_eq!(got, want);
}

/// `http://` serves a directory store read-only: reads equal, writes refused.
#[test]
fn http_reads_a_directory_store_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.zarr");
    py(&format!(
        "{PY_PRELUDE}a = zarr.create_array(store={:?}, shape=(13, 9), chunks=(5, 4), dtype='f8', \
             zarr_format=2)\n\
         a[...] = np.arange(13 * 9).reshape(13, 9) * 0.5 - 7\n",
        path.display().to_string()
    ));
    let http = Server::http(dir.path());
    let url = format!("{}/h.zarr", http.url);
    let x = DArray::<f64>::from_zarr(&url).unwrap();
    assert_eq!(x.compute().unwrap(), ramp(&[13, 9]));
    match x.to_zarr(format!("{}/new.zarr", http.url), &WriteOptions::default()) {
        Err(Error::Store(StoreError::ReadOnly { url, .. })) => assert!(url.contains("new.zarr")),
        other => panic!("expected ReadOnly, got {other:?}"),
    }
    // A path on the server that holds no array is an error naming it, not fills.
    match DArray::<f64>::from_zarr(format!("{}/nothing.zarr", http.url)) {
        Err(e) => assert!(e.to_string().contains("nothing.zarr"), "{e}"),
        Ok(_) => panic!("opened a missing array"),
    }
}

/// Bad locations are typed errors that name the URL.
#[test]
fn bad_urls_and_missing_buckets_are_typed_errors() {
    match DArray::<f64>::from_zarr("ftp://host/a.zarr") {
        Err(Error::Store(StoreError::UnsupportedUrl { url, .. })) => {
            assert_eq!(url, "ftp://host/a.zarr");
        }
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
    match DArray::<f64>::from_zarr("s3://bucket/a.zarr#colour=blue") {
        Err(Error::Store(StoreError::UnsupportedUrl { reason, .. })) => {
            assert!(reason.contains("colour"), "{reason}");
        }
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
    let s3 = Server::moto();
    let opts = moto_options(&s3);
    match DArray::<f64>::from_zarr_with("s3://no-such-bucket/a.zarr", &opts) {
        Err(e) => assert!(e.to_string().contains("s3://no-such-bucket/a.zarr"), "{e}"),
        Ok(_) => panic!("opened an array in a missing bucket"),
    }
    let x = DArray::<f64>::ones(&[4, 4], [2, 2]).unwrap();
    match x.to_zarr_with_options(
        "s3://no-such-bucket/a.zarr",
        &opts,
        &WriteOptions::default(),
    ) {
        Err(e) => assert!(e.to_string().contains("s3://no-such-bucket/a.zarr"), "{e}"),
        Ok(()) => panic!("wrote to a missing bucket"),
    }
    // An unreachable endpoint fails after the (few) retries asked for.
    let dead = StoreOptions {
        endpoint: Some("http://127.0.0.1:9".into()),
        max_retries: 1,
        request_timeout_ms: 2000,
        ..opts
    };
    match DArray::<f64>::from_zarr_with("s3://input/a.zarr", &dead) {
        Err(e) => assert!(e.to_string().contains("s3://input/a.zarr"), "{e}"),
        Ok(_) => panic!("opened an array on a dead endpoint"),
    }
}

/// Two worker processes read an `s3://` array and write their result to another
/// `s3://` array, with no directory shared between them: each worker reaches the
/// bucket itself, with credentials from its own environment.
#[test]
fn cluster_computes_from_s3_to_s3() {
    let s3 = Server::moto();
    s3.create_bucket("cluster");
    let opts = moto_options(&s3);
    let a = ramp(&[40, 30]);
    DArray::from_ndarray(&a, [10, 10])
        .unwrap()
        .to_zarr_with_options("s3://cluster/in.zarr", &opts, &WriteOptions::default())
        .unwrap();
    let cluster = LocalCluster::builder(2)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .unwrap();
    let client = cluster.client().unwrap();
    let x = DArray::<f64>::from_zarr_with("s3://cluster/in.zarr", &opts).unwrap();
    let y = x.mul(3.0).unwrap().add(1.0).unwrap();
    let dest = opts.locate("s3://cluster/out.zarr").unwrap();
    y.to_zarr_with(&dest, &WriteOptions::default(), &client)
        .unwrap();
    let back = DArray::<f64>::from_zarr(&dest).unwrap().compute().unwrap();
    assert_eq!(back, a.mapv(|v| v * 3.0 + 1.0));
}

/// `darray info` describes a remote array (and a local one) from the command line.
#[test]
fn darray_info_prints_a_remote_arrays_description() {
    let s3 = Server::moto();
    s3.create_bucket("info");
    let so = s3.s3fs_options();
    py(&format!(
        "{PY_PRELUDE}so = {so}\n\
         a = zarr.create_array(store='s3://info/a.zarr', shape=(30, 20), chunks=(10, 10), \
             shards=(20, 20), dtype='i4', compressors=ZstdCodec(level=2), storage_options=so, \
             attributes={{'units': 'K'}})\n\
         a[...] = np.arange(600).reshape(30, 20)\n"
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_darray"))
        .args(["info", "s3://info/a.zarr", "--endpoint", &s3.url])
        .args(["--region", "us-east-1", "--allow-http", "--path-style"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "shape:       [30, 20]",
        "dtype:       int32",
        "shards:      [20, 20]",
        "chunks:      [10, 10]",
        "sharding_indexed",
        "zstd",
        "\"units\":\"K\"",
        "stored:      ",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("unknown"), "{text}");
    // A missing array: status 2 and a message naming it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_darray"))
        .args(["info", "s3://info/none.zarr", "--endpoint", &s3.url])
        .args(["--allow-http", "--path-style"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3://info/none.zarr"));
}

/// Replacing an array on S3 with one of another shape and codec leaves exactly the
/// new array's objects, as replacing a directory does on disk: no chunk of the old
/// array shows through, even after zarr-python grows the new array (where stale
/// chunks would appear instead of the fill value), and edge chunks are written
/// whole rather than merged with the old array's objects at the same keys.
#[test]
fn replacing_an_array_leaves_no_stale_chunks() {
    let s3 = Server::moto();
    s3.create_bucket("replace");
    let opts = moto_options(&s3);
    let old = DArray::from_ndarray(&ramp(&[40, 40]), [10, 10]).unwrap();
    old.to_zarr_with_options("s3://replace/a.zarr", &opts, &WriteOptions::default())
        .unwrap();
    let new = DArray::<f64>::ones(&[25, 25], [10, 10])
        .unwrap()
        .mul(3.0)
        .unwrap();
    let gzip = WriteOptions {
        compression: Compression::Gzip { level: 1 },
        overwrite: true,
        ..WriteOptions::default()
    };
    new.to_zarr_with_options("s3://replace/a.zarr", &opts, &gzip)
        .unwrap();
    let back = DArray::<f64>::from_zarr_with("s3://replace/a.zarr", &opts).unwrap();
    assert_eq!(
        back.compute().unwrap(),
        ArrayD::from_elem(IxDyn(&[25, 25]), 3.0)
    );
    let so = s3.s3fs_options();
    let out = py(&format!(
        "{PY_PRELUDE}so = {so}\n\
         fs = s3fs.S3FileSystem(**so)\n\
         keys = sorted(k.split('a.zarr/')[1] for k in fs.find('replace/a.zarr'))\n\
         want = sorted(['zarr.json'] + [f'c/{{i}}/{{j}}' for i in range(3) for j in range(3)])\n\
         assert keys == want, keys\n\
         a = zarr.open_array('s3://replace/a.zarr', mode='a', storage_options=so)\n\
         a.resize((40, 40))\n\
         v = a[...]\n\
         assert (v[:25, :25] == 3).all(), v\n\
         assert (v[25:, :] == 0).all() and (v[:, 25:] == 0).all(), v\n\
         print('ok')\n"
    ));
    assert_eq!(out.trim(), "ok");
}

/// Attributes and dimension names written to a Zarr v3 array in an object
/// store survive the commit, also when the array is replaced (the stale-object
/// sweep keeps the new metadata); darray and zarr-python read them back. Zarr
/// v2 keeps attributes in a second object (`.zattrs`), which the one-object
/// metadata commit cannot publish with the `.zarray`: refused, before anything
/// is written.
#[test]
fn attributes_survive_remote_writes_and_v2_attributes_are_refused() {
    let s3 = Server::moto();
    s3.create_bucket("attrs");
    let opts = moto_options(&s3);
    let x = DArray::from_ndarray(&ramp(&[6, 4]), [3, 4]).unwrap();
    let mut attributes = serde_json::Map::new();
    attributes.insert("units".into(), serde_json::json!("K"));
    let w = WriteOptions {
        attributes,
        dimension_names: Some(vec!["time".into(), "x".into()]),
        overwrite: true,
        ..WriteOptions::default()
    };
    let url = "s3://attrs/v3.zarr";
    // Written, then replaced by the same write.
    for _ in 0..2 {
        x.to_zarr_with_options(url, &opts, &w).unwrap();
        let back = DArray::<f64>::from_zarr_with(url, &opts).unwrap();
        assert_eq!(
            back.attributes().unwrap().get("units"),
            Some(&serde_json::json!("K"))
        );
        assert_eq!(
            back.dimension_names().unwrap(),
            Some(vec![Some("time".to_string()), Some("x".to_string())])
        );
    }
    let so = s3.s3fs_options();
    let out = py(&format!(
        "{PY_PRELUDE}so = {so}\n\
         a = zarr.open_array('{url}', mode='r', storage_options=so)\n\
         print(a.attrs['units'], a.metadata.dimension_names)\n"
    ));
    assert_eq!(out.trim(), "K ('time', 'x')");
    let v2 = WriteOptions {
        zarr_format: ZarrFormat::V2,
        ..w
    };
    match x.to_zarr_with_options("s3://attrs/v2.zarr", &opts, &v2) {
        Err(Error::Store(StoreError::InvalidOptions { reason, .. })) => {
            assert!(reason.contains("v2"), "{reason}");
        }
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
    assert!(DArray::<f64>::from_zarr_with("s3://attrs/v2.zarr", &opts).is_err());
}
