//! Shared test helpers: proptest strategies for arrays and chunkings (1-4 dims,
//! zero-length axes, irregular grids, size-1 and ragged edge chunks), and
//! comparisons with stated tolerances.
#![allow(dead_code)]

use darray::{DArray, LocalExecutor};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// A `LocalCluster` of `n` workers of the `darray` binary cargo built for this
/// test run, with `nthreads` threads each (for the integration tests of the
/// distributed executor).
pub fn darray_cluster(n: usize, nthreads: usize) -> darray::distributed::LocalCluster {
    darray::distributed::LocalCluster::builder(n)
        .nthreads(nthreads)
        .worker_command(env!("CARGO_BIN_EXE_darray"), ["worker"])
        .build()
        .expect("cluster starts")
}

/// A random partition of `n` into blocks (sizes >= 1; `[0]` for `n == 0`).
pub fn partition(n: usize) -> impl Strategy<Value = Vec<usize>> {
    if n == 0 {
        return Just(vec![0]).boxed();
    }
    prop_oneof![
        // Regular with a ragged edge.
        (1..=n).prop_map(move |s| {
            let mut v = vec![s; n / s];
            if !n.is_multiple_of(s) {
                v.push(n % s);
            }
            v
        }),
        // Irregular cuts.
        proptest::collection::vec(any::<bool>(), n.saturating_sub(1)).prop_map(move |cuts| {
            let mut v = Vec::new();
            let mut run = 1;
            for c in cuts {
                if c {
                    v.push(run);
                    run = 1;
                } else {
                    run += 1;
                }
            }
            v.push(run);
            v
        }),
    ]
    .boxed()
}

/// A shape of 1..=`max_ndim` dims, each 0..=`max_len` (zero rarely).
pub fn shape(max_ndim: usize, max_len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(
        prop_oneof![1 => Just(0usize), 12 => 1..=max_len],
        1..=max_ndim,
    )
}

/// A grid for `shape`.
pub fn grid(shape: Vec<usize>) -> impl Strategy<Value = Vec<Vec<usize>>> {
    shape.into_iter().map(partition).collect::<Vec<_>>()
}

/// A float value: mostly moderate, sometimes NaN, infinities, zero, negatives.
pub fn float(with_nan: bool) -> BoxedStrategy<f64> {
    if with_nan {
        prop_oneof![
            10 => -100.0..100.0f64,
            1 => Just(f64::NAN),
            1 => Just(0.0),
            1 => Just(-0.0),
        ]
        .boxed()
    } else {
        prop_oneof![10 => -100.0..100.0f64, 1 => Just(0.0)].boxed()
    }
}

/// An f64 array of `shape` drawn from `float(with_nan)`.
pub fn array_f64(shape: Vec<usize>, with_nan: bool) -> impl Strategy<Value = ArrayD<f64>> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(float(with_nan), n)
        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap())
}

/// An i32 array of `shape` with small values (ties likely).
pub fn array_i32(shape: Vec<usize>) -> impl Strategy<Value = ArrayD<i32>> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(-20i32..20, n)
        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap())
}

/// An array with a grid: `(array, grid)`.
pub fn array_and_grid(
    max_ndim: usize,
    max_len: usize,
    with_nan: bool,
) -> impl Strategy<Value = (ArrayD<f64>, Vec<Vec<usize>>)> {
    shape(max_ndim, max_len).prop_flat_map(move |s| (array_f64(s.clone(), with_nan), grid(s)))
}

/// Same as [`array_and_grid`] for i32.
pub fn int_array_and_grid(
    max_ndim: usize,
    max_len: usize,
) -> impl Strategy<Value = (ArrayD<i32>, Vec<Vec<usize>>)> {
    shape(max_ndim, max_len).prop_flat_map(|s| (array_i32(s.clone()), grid(s)))
}

/// Chunked copy of an in-memory array.
pub fn chunked<T: darray::Element>(a: &ArrayD<T>, grid: &[Vec<usize>]) -> DArray<T> {
    DArray::from_ndarray(a, grid.to_vec()).unwrap()
}

/// Floats equal within `rel` relative (to max(1, |expected|)) tolerance, NaN
/// matching NaN and infinities matching exactly.
pub fn close(got: f64, want: f64, rel: f64) -> bool {
    if want.is_nan() {
        return got.is_nan();
    }
    if want.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= rel * want.abs().max(1.0)
}

/// Asserts shapes equal and every element close.
pub fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, rel: f64) {
    assert_eq!(got.shape(), want.shape(), "shapes differ");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            close(*g, *w, rel),
            "element {i}: got {g}, want {w} (rel tol {rel})"
        );
    }
}

/// Bitwise equality of f64 arrays (NaN payloads included).
pub fn assert_bits_eq(a: &ArrayD<f64>, b: &ArrayD<f64>) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x.to_bits(), y.to_bits(), "{x} vs {y}");
    }
}

/// Executors with 1, 2 and 4 threads.
pub fn executors() -> Vec<LocalExecutor> {
    [1, 2, 4]
        .into_iter()
        .map(|n| LocalExecutor::with_threads(n).unwrap())
        .collect()
}

/// Proptest config: enough cases to explore, few enough for CI on 2 cores.
///
/// `DARRAY_PROPTEST_MULT=k` runs `k` times the cases (a local sweep for rare
/// inputs before a release; CI runs the stated counts).
pub fn config(cases: u32) -> ProptestConfig {
    let mult = std::env::var("DARRAY_PROPTEST_MULT")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        cases: cases.saturating_mul(mult),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    }
}

/// Deterministic standard normals from a seed (splitmix64 + Box-Muller).
pub fn normals(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (next().max(1e-300), next());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        })
        .collect()
}

/// An `m x n` matrix of [`normals`].
pub fn random(seed: u64, m: usize, n: usize) -> ndarray::Array2<f64> {
    ndarray::Array2::from_shape_vec((m, n), normals(seed, m * n)).unwrap()
}

/// Every file under `dir`, in its subdirectories too (any order).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
