//! Creation routines against their NumPy definitions, and chunk specs.

mod common;

use common::*;
use darray::{AxisChunks, ChunkSpec, DArray};
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use proptest::prelude::*;

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn random_values_do_not_depend_on_chunking(s in shape(3, 12), seed in any::<u64>()) {
        let grids = [s.clone(), s.iter().map(|&n| n.div_ceil(3).max(1)).collect(), vec![1; s.len()]];
        let whole = DArray::<f64>::random_normal(seed, &s, 1.0, 2.0, grids[0].clone()).unwrap().compute().unwrap();
        for g in &grids[1..] {
            let other = DArray::<f64>::random_normal(seed, &s, 1.0, 2.0, g.clone()).unwrap().compute().unwrap();
            assert_bits_eq(&whole, &other);
        }
        let u = DArray::<f32>::random_uniform(seed, &s, -1.0, 3.0, grids[2].clone()).unwrap().compute().unwrap();
        prop_assert!(u.iter().all(|&v| (-1.0..3.0).contains(&v)));
        let u2 = DArray::<f32>::random_uniform(seed, &s, -1.0, 3.0, grids[1].clone()).unwrap().compute().unwrap();
        prop_assert_eq!(u, u2);
    }

    #[test]
    fn ranges_match_numpy(start in -50i32..50, len in 0usize..40, step in 1i32..4, c in 1usize..10) {
        let stop = start + len as i32 * step;
        let x = DArray::<i64>::arange(f64::from(start), f64::from(stop), f64::from(step), [c]).unwrap().compute().unwrap();
        let want: Vec<i64> = (start..stop).step_by(step as usize).map(i64::from).collect();
        prop_assert_eq!(x.into_iter().collect::<Vec<_>>(), want);
        let l = DArray::<f64>::linspace(-1.0, 2.0, len, true, [c]).unwrap().compute().unwrap();
        let want = Array1::linspace(-1.0, 2.0, len).into_dyn();
        assert_close(&l, &want, 1e-15);
    }

    #[test]
    fn eye_matches(n in 0usize..12, m in 0usize..12, k in -5i64..5, c in 1usize..5) {
        let e = DArray::<f64>::eye(n, m, k, [c, c]).unwrap().compute().unwrap();
        let want = Array2::from_shape_fn((n, m), |(i, j)| if j as i64 - i as i64 == k { 1.0 } else { 0.0 }).into_dyn();
        prop_assert_eq!(e, want);
    }
}

#[test]
fn random_moments_are_plausible() {
    let x = DArray::<f64>::random_normal(9, &[200_000], 3.0, 2.0, [30_000]).unwrap();
    let m = x.mean().unwrap().compute_scalar().unwrap();
    let s = x.std(0.0).unwrap().compute_scalar().unwrap();
    // 5 sigma of the sample mean and of the sample std.
    assert!(
        (m - 3.0).abs() < 5.0 * 2.0 / (200_000f64).sqrt(),
        "mean {m}"
    );
    assert!((s - 2.0).abs() < 5.0 * 2.0 / (400_000f64).sqrt(), "std {s}");
    let other = DArray::<f64>::random_normal(10, &[10], 3.0, 2.0, [5])
        .unwrap()
        .compute()
        .unwrap();
    assert_ne!(
        other,
        DArray::<f64>::random_normal(9, &[10], 3.0, 2.0, [5])
            .unwrap()
            .compute()
            .unwrap()
    );
}

#[test]
fn fills_and_literals() {
    let z = DArray::<u16>::zeros(&[3, 4], [2, 3])
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(z, ArrayD::<u16>::zeros(IxDyn(&[3, 4])));
    let o = DArray::<bool>::ones(&[2], [1]).unwrap().compute().unwrap();
    assert!(o.iter().all(|&b| b));
    let f = DArray::<i8>::full(&[5], -3, [2])
        .unwrap()
        .compute()
        .unwrap();
    assert!(f.iter().all(|&v| v == -3));
    let a = Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as u64);
    let x = DArray::from_ndarray(&a.t(), [3, 2]).unwrap();
    assert_eq!(x.compute().unwrap(), a.t().to_owned().into_dyn());
}

#[test]
fn chunk_specs() {
    let x = DArray::<f64>::zeros(&[1000, 1000], "800 KB".parse::<ChunkSpec>().unwrap()).unwrap();
    assert_eq!(x.chunks()[0][0], 316);
    let y = DArray::<f64>::zeros(
        &[1000, 10],
        ChunkSpec::from(vec![AxisChunks::Auto, AxisChunks::Full]),
    )
    .unwrap();
    assert_eq!(y.chunks()[1], vec![10]);
    assert_eq!(y.chunks()[0], vec![1000]);
    assert!(DArray::<f64>::zeros(&[10], [0]).is_err());
    assert!(DArray::<f64>::zeros(&[10], vec![vec![3, 3]]).is_err());
    assert!(DArray::<f64>::zeros(&[10, 3], [3]).is_err());
    assert!(DArray::<f64>::arange(0.0, 1.0, 0.0, [3]).is_err());
    assert!(DArray::<f64>::random_uniform(0, &[3], 1.0, 1.0, [3]).is_err());
}
