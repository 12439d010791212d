//! `unique`, `unique_counts`, `unique_index`, `unique_all` and `union1d` against a sort of the whole array
//! (NumPy >= 1.21: NaN collapsed into one entry, last), over random shapes
//! and chunkings (irregular, size-1 and ragged edge chunks, empty axes), on
//! float (with NaN, +-0) and integer arrays; exact, and identical on 1 and 2
//! threads.

mod common;

use common::*;
use darray::{union1d, union1d_with, DArray, LocalExecutor};
use ndarray::ArrayD;
use proptest::prelude::*;

/// Sorted distinct values with counts; NaN last as one entry; -0.0 as 0.0.
fn oracle(values: impl Iterator<Item = f64>) -> (Vec<f64>, Vec<i64>) {
    let mut v: Vec<f64> = values.map(|x| if x == 0.0 { 0.0 } else { x }).collect();
    v.sort_by(f64::total_cmp);
    let mut out: (Vec<f64>, Vec<i64>) = (Vec::new(), Vec::new());
    for x in v {
        match out.0.last() {
            Some(l) if *l == x || (l.is_nan() && x.is_nan()) => *out.1.last_mut().unwrap() += 1,
            _ => {
                out.0.push(x);
                out.1.push(1);
            }
        }
    }
    out
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter()
        .map(|x| {
            if x.is_nan() {
                0x7ff8 << 48
            } else {
                x.to_bits()
            }
        })
        .collect()
}

fn values_counts(x: &DArray<f64>, threads: usize) -> (Vec<f64>, Vec<i64>) {
    let exec = LocalExecutor::with_threads(threads).unwrap();
    let (v, c) = x.unique_counts_with(&exec).unwrap();
    (
        v.compute().unwrap().into_raw_vec_and_offset().0,
        c.compute().unwrap().into_raw_vec_and_offset().0,
    )
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn unique_counts_match_a_sort((a, g) in array_and_grid(3, 7, true)) {
        let x = chunked(&a, &g);
        let (want_v, want_c) = oracle(a.iter().copied());
        let (v1, c1) = values_counts(&x, 1);
        let (v2, c2) = values_counts(&x, 2);
        prop_assert_eq!(bits(&v1), bits(&want_v));
        prop_assert_eq!(&c1, &want_c);
        prop_assert_eq!(bits(&v1), bits(&v2));
        prop_assert_eq!(c1, c2);
        let u = x.unique().unwrap();
        prop_assert_eq!(u.ndim(), 1);
        prop_assert_eq!(bits(&u.compute().unwrap().into_raw_vec_and_offset().0), bits(&want_v));
    }

    #[test]
    fn integer_unique_is_exact((a, g) in int_array_and_grid(3, 8), big in any::<bool>()) {
        // Large i64 values that f64 cannot tell apart.
        let a: ArrayD<i64> = a.mapv(|v| if big { i64::MAX - 20 + i64::from(v) } else { i64::from(v) });
        let (v, c) = chunked(&a, &g).unique_counts().unwrap();
        let mut sorted: Vec<i64> = a.iter().copied().collect();
        sorted.sort_unstable();
        let mut want_v = sorted.clone();
        want_v.dedup();
        let want_c: Vec<i64> = want_v
            .iter()
            .map(|u| sorted.iter().filter(|&&s| s == *u).count() as i64)
            .collect();
        prop_assert_eq!(v.compute().unwrap().into_raw_vec_and_offset().0, want_v);
        prop_assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, want_c);
    }

    #[test]
    fn union1d_matches_a_sort(
        (a, ga) in array_and_grid(2, 6, true),
        (b, gb) in array_and_grid(3, 5, true),
    ) {
        let x = chunked(&a, &ga);
        let y = chunked(&b, &gb);
        let (want, _) = oracle(a.iter().chain(b.iter()).copied());
        let one = union1d_with(&x, &y, &LocalExecutor::with_threads(1).unwrap()).unwrap();
        let two = union1d(&x, &y).unwrap();
        let one = one.compute().unwrap().into_raw_vec_and_offset().0;
        prop_assert_eq!(bits(&one), bits(&want));
        prop_assert_eq!(bits(&two.compute().unwrap().into_raw_vec_and_offset().0), bits(&one));
    }
}

#[test]
fn many_blocks_merge_over_several_levels() {
    // 200 blocks: two merge levels of fan-in 8 and the root.
    let a = ndarray::Array1::from_shape_fn(1000, |i| ((i * 37) % 101) as f64).into_dyn();
    let x = DArray::from_ndarray(&a, [5]).unwrap();
    let (v, c) = x.unique_counts().unwrap();
    let v = v.compute().unwrap();
    let c = c.compute().unwrap();
    assert_eq!(v.len(), 101);
    assert_eq!(v[0], 0.0);
    assert_eq!(v[100], 100.0);
    assert_eq!(c.sum(), 1000);
    // The result is chunked like the input.
    assert_eq!(x.unique().unwrap().chunks()[0][0], 5);
}

#[test]
fn empty_and_all_nan() {
    let e = DArray::<f64>::zeros(&[3, 0], [2, 1]).unwrap();
    let (v, c) = e.unique_counts().unwrap();
    assert_eq!(v.shape(), &[0]);
    assert_eq!(c.compute().unwrap().len(), 0);
    let n =
        DArray::<f64>::from_ndarray(&ndarray::array![f64::NAN, f64::NAN, f64::NAN], [2]).unwrap();
    let (v, c) = n.unique_counts().unwrap();
    let v = v.compute().unwrap();
    assert_eq!(v.len(), 1);
    assert!(v[0].is_nan());
    assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![3]);
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn unique_inverse_rebuilds_the_array((a, g) in array_and_grid(3, 6, true)) {
        let x = chunked(&a, &g);
        let (v, inv) = x.unique_inverse().unwrap();
        let v = v.compute().unwrap();
        prop_assert_eq!(inv.chunks(), x.chunks());
        let inv = inv.compute().unwrap();
        prop_assert_eq!(inv.shape(), a.shape());
        // values[inverse] == a (NaN to NaN, -0.0 to 0.0).
        for (&i, &want) in inv.iter().zip(a.iter()) {
            let got = v[i as usize];
            prop_assert!(got == want || (got.is_nan() && want.is_nan()), "{} vs {}", got, want);
        }
    }
}

/// Sorted distinct values with the flat index of each one's first occurrence
/// (NumPy's `return_index`), by a walk over the array in C order.
fn first_oracle(a: &ArrayD<f64>) -> (Vec<f64>, Vec<i64>) {
    let (values, _) = oracle(a.iter().copied());
    let first = values
        .iter()
        .map(|&v| {
            a.iter()
                .position(|&x| x == v || (x.is_nan() && v.is_nan()))
                .unwrap() as i64
        })
        .collect();
    (values, first)
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn unique_index_is_the_first_occurrence((a, g) in array_and_grid(3, 6, true)) {
        let x = chunked(&a, &g);
        let (want_v, want_i) = first_oracle(&a);
        for threads in [1, 2] {
            let exec = LocalExecutor::with_threads(threads).unwrap();
            let (v, i) = x.unique_index_with(&exec).unwrap();
            prop_assert_eq!(bits(&v.compute().unwrap().into_raw_vec_and_offset().0), bits(&want_v));
            prop_assert_eq!(&i.compute().unwrap().into_raw_vec_and_offset().0, &want_i);
        }
        let u = x.unique_all_with(&LocalExecutor::with_threads(2).unwrap()).unwrap();
        let (want_v2, want_c) = oracle(a.iter().copied());
        prop_assert_eq!(bits(&u.values.compute().unwrap().into_raw_vec_and_offset().0), bits(&want_v2));
        prop_assert_eq!(u.counts.compute().unwrap().into_raw_vec_and_offset().0, want_c);
        prop_assert_eq!(u.indices.compute().unwrap().into_raw_vec_and_offset().0, want_i);
        prop_assert_eq!(u.inverse.shape(), a.shape());
    }
}

#[test]
fn unique_index_of_zero_dim_and_empty_arrays() {
    let z = DArray::<i64>::from_ndarray(&ndarray::arr0(4).into_dyn(), Vec::<usize>::new()).unwrap();
    let (v, i) = z.unique_index().unwrap();
    assert_eq!(v.compute().unwrap().into_raw_vec_and_offset().0, vec![4]);
    assert_eq!(i.compute().unwrap().into_raw_vec_and_offset().0, vec![0]);
    let e = DArray::<f64>::zeros(&[3, 0], [2, 1]).unwrap();
    let (v, i) = e.unique_index().unwrap();
    assert_eq!(v.shape(), &[0]);
    assert_eq!(i.compute().unwrap().len(), 0);
    // Many blocks, several merge levels: the first occurrence wins over later
    // blocks' smaller local positions.
    let a = ndarray::Array1::from_shape_fn(1000, |i| ((i * 37) % 101) as i64).into_dyn();
    let (v, i) = DArray::from_ndarray(&a, [5])
        .unwrap()
        .unique_index()
        .unwrap();
    let v = v.compute().unwrap();
    let i = i.compute().unwrap();
    for (k, &val) in v.iter().enumerate() {
        assert_eq!(a.iter().position(|&x| x == val).unwrap() as i64, i[k]);
    }
}

#[test]
fn two_worker_cluster_gives_the_local_results() {
    let cluster = darray_cluster(2, 1);
    let client = cluster.client().unwrap();
    let a = ndarray::Array2::from_shape_fn((30, 7), |(i, j)| ((i * 7 + j) % 23) as f64 - 0.5)
        .into_dyn();
    let x = DArray::from_ndarray(&a, vec![vec![4, 11, 15], vec![3, 4]]).unwrap();
    let local = LocalExecutor::with_threads(2).unwrap();
    let (lv, lc) = x.unique_counts_with(&local).unwrap();
    let (cv, cc) = x.unique_counts_with(&client).unwrap();
    assert_bits_eq(&lv.compute().unwrap(), &cv.compute().unwrap());
    assert_eq!(lc.compute().unwrap(), cc.compute().unwrap());
    let b = darray::Bins::Count {
        count: 5,
        range: (0.0, 20.0),
    };
    let (h, _) = darray::histogram2d(&x, &x.rechunk([5, 7]).unwrap(), &[b.clone(), b]).unwrap();
    assert_bits_eq(
        &h.compute_with(&local).unwrap(),
        &h.compute_with(&client).unwrap(),
    );
    let (_, li) = x.unique_index_with(&local).unwrap();
    let (_, ci) = x.unique_index_with(&client).unwrap();
    assert_eq!(li.compute().unwrap(), ci.compute().unwrap());
    let d = x.digitize(&[0.0, 5.0, 10.0], false).unwrap();
    assert_eq!(
        d.compute_with(&local).unwrap(),
        d.compute_with(&client).unwrap()
    );
}
