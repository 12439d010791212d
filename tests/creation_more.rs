//! `*_like`, `diag`/`diagonal`, `tril`/`triu`, `meshgrid`, `indices`,
//! `from_function`, random integers, choice and permutations against whole-array
//! oracles, chunk independence of random values and bad input.

mod common;

use common::*;
use darray::{register_block_function, DArray, Error, Indexing};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;
use std::ops::Range;

/// A square-ish 2-d (or 3-d) int array with a grid, zero-length axes included.
fn matrix_and_grid() -> impl Strategy<Value = (ArrayD<i32>, Vec<Vec<usize>>)> {
    (2usize..=3)
        .prop_flat_map(|nd| {
            proptest::collection::vec(prop_oneof![1 => Just(0usize), 8 => 1..=9usize], nd)
        })
        .prop_flat_map(|s| (array_i32(s.clone()), grid(s)))
}

fn vec_and_partition(max: usize) -> impl Strategy<Value = (Vec<i32>, Vec<usize>)> {
    (0..=max).prop_flat_map(|n| (proptest::collection::vec(-50i32..50, n), partition(n)))
}

/// `k` as a signed index shift.
fn shifted(i: usize, k: i64) -> Option<usize> {
    usize::try_from(i as i64 + k).ok()
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn like_functions_keep_shape_and_chunks((a, g) in int_array_and_grid(3, 8)) {
        let x = chunked(&a, &g);
        for (y, v) in [(x.zeros_like(), 0), (x.ones_like(), 1), (x.full_like(7), 7), (x.empty_like(), 0)] {
            prop_assert_eq!(y.chunks(), x.chunks());
            let got = y.compute().unwrap();
            prop_assert_eq!(got.shape(), a.shape());
            prop_assert!(got.iter().all(|&e| e == v));
        }
    }

    #[test]
    fn diag_of_vector_matches_numpy((v, p) in vec_and_partition(12), k in -5i64..=5) {
        let x = DArray::from_ndarray(&ndarray::Array1::from(v.clone()), vec![p]).unwrap();
        let got = x.diag(k).unwrap().compute().unwrap();
        let n = v.len() + k.unsigned_abs() as usize;
        let mut want = ArrayD::<i32>::zeros(IxDyn(&[n, n]));
        for (m, &e) in v.iter().enumerate() {
            let (r, c) = if k >= 0 { (m, m + k as usize) } else { (m + k.unsigned_abs() as usize, m) };
            want[[r, c]] = e;
        }
        prop_assert_eq!(&got, &want);
        // And back: the diagonal of the matrix is the vector.
        let back = x.diag(k).unwrap().diag(k).unwrap().compute().unwrap();
        prop_assert_eq!(back.into_raw_vec_and_offset().0, v);
    }

    #[test]
    fn diagonal_matches_a_loop((a, g) in matrix_and_grid(), off in -6i64..=6, swap in any::<bool>(), pick in 0usize..3) {
        let nd = a.ndim();
        let pairs: Vec<(usize, usize)> = (0..nd).flat_map(|i| (0..nd).filter(move |&j| j != i).map(move |j| (i, j))).collect();
        let (a1, a2) = pairs[(pick + usize::from(swap) * 3) % pairs.len()];
        let got = chunked(&a, &g).diagonal(off, a1 as isize, a2 as isize).unwrap().compute().unwrap();
        let others: Vec<usize> = (0..nd).filter(|&d| d != a1 && d != a2).collect();
        let len = (0..).take_while(|&i| {
            shifted(i, -off.min(0)).is_some_and(|r| r < a.shape()[a1]) && shifted(i, off.max(0)).is_some_and(|c| c < a.shape()[a2])
        }).count();
        let mut shape: Vec<usize> = others.iter().map(|&d| a.shape()[d]).collect();
        shape.push(len);
        let want = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
            let mut at = vec![0; nd];
            for (o, &d) in others.iter().enumerate() {
                at[d] = ix[o];
            }
            let i = ix[shape.len() - 1];
            at[a1] = shifted(i, -off.min(0)).unwrap();
            at[a2] = shifted(i, off.max(0)).unwrap();
            a[IxDyn(&at)]
        });
        prop_assert_eq!(got, want);
    }

    #[test]
    fn tril_triu_match_a_loop((a, g) in matrix_and_grid(), k in -6i64..=6) {
        let x = chunked(&a, &g);
        let nd = a.ndim();
        for lower in [true, false] {
            let got = if lower { x.tril(k) } else { x.triu(k) }.unwrap().compute().unwrap();
            let mut want = a.clone();
            for (ix, v) in want.indexed_iter_mut() {
                let d = ix[nd - 1] as i64 - ix[nd - 2] as i64;
                if (lower && d > k) || (!lower && d < k) {
                    *v = 0;
                }
            }
            prop_assert_eq!(got, want, "lower {}", lower);
        }
    }

    #[test]
    fn meshgrid_matches_broadcasting(inputs in proptest::collection::vec(vec_and_partition(6), 1..=3), xy in any::<bool>()) {
        let xs: Vec<DArray<i32>> = inputs.iter().map(|(v, p)| DArray::from_ndarray(&ndarray::Array1::from(v.clone()), vec![p.clone()]).unwrap()).collect();
        let refs: Vec<&DArray<i32>> = xs.iter().collect();
        let indexing = if xy { Indexing::Xy } else { Indexing::Ij };
        let got = DArray::meshgrid(&refs, indexing).unwrap();
        let m = inputs.len();
        let axis_of = |i: usize| if xy && m > 1 && i < 2 { 1 - i } else { i };
        let mut shape = vec![0; m];
        for (i, (v, _)) in inputs.iter().enumerate() {
            shape[axis_of(i)] = v.len();
        }
        for (i, (v, p)) in inputs.iter().enumerate() {
            let want = ArrayD::from_shape_fn(IxDyn(&shape), |ix| v[ix[axis_of(i)]]);
            prop_assert_eq!(&got[i].chunks()[axis_of(i)], p);
            prop_assert_eq!(got[i].compute().unwrap(), want);
        }
    }

    #[test]
    fn indices_match_numpy(s in shape(3, 6), c in 1usize..4) {
        let got = DArray::<i64>::indices(&s, vec![c; s.len()]).unwrap().compute().unwrap();
        let mut full = vec![s.len()];
        full.extend(&s);
        let want = ArrayD::from_shape_fn(IxDyn(&full), |ix| ix[1 + ix[0]] as i64);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn from_function_sees_global_ranges(s in shape(3, 7), c in 1usize..5) {
        let _ = register_block_function::<i64>("test-coords", coords);
        let got = DArray::<i64>::from_function("test-coords", &s, vec![c; s.len()]).unwrap().compute().unwrap();
        let want = ArrayD::from_shape_fn(IxDyn(&s), |ix| code(&(0..s.len()).map(|d| ix[d]).collect::<Vec<_>>()));
        prop_assert_eq!(got, want);
    }

    #[test]
    fn random_integers_do_not_depend_on_chunking(s in shape(3, 10), seed in any::<u64>(), low in -20i64..20, span in 1i64..40) {
        let grids = [s.clone(), s.iter().map(|&n| n.div_ceil(3).max(1)).collect(), vec![1; s.len()]];
        let whole = DArray::<i64>::random_integers(seed, &s, low, low + span, grids[0].clone()).unwrap().compute().unwrap();
        prop_assert!(whole.iter().all(|&v| v >= low && v < low + span));
        for g in &grids[1..] {
            let other = DArray::<i64>::random_integers(seed, &s, low, low + span, g.clone()).unwrap().compute().unwrap();
            prop_assert_eq!(&whole, &other);
        }
    }

    #[test]
    fn permutation_is_chunk_independent_and_a_permutation(n in 0usize..60, seed in any::<u64>(), c in 1usize..20) {
        let a = DArray::<i64>::permutation(n, seed, [c]).unwrap().compute().unwrap();
        let b = DArray::<i64>::permutation(n, seed, [n.max(1)]).unwrap().compute().unwrap();
        prop_assert_eq!(&a, &b);
        let mut v = a.into_raw_vec_and_offset().0;
        v.sort_unstable();
        prop_assert_eq!(v, (0..n as i64).collect::<Vec<_>>());
    }

    #[test]
    fn array_permutation_moves_rows_as_the_index_permutation((a, g) in array_and_grid(3, 8, true), seed in any::<u64>()) {
        let n = a.shape()[0];
        let perm = DArray::<i64>::permutation(n, seed, [n.max(1)]).unwrap().compute().unwrap();
        let idx: Vec<usize> = perm.iter().map(|&i| i as usize).collect();
        let want = a.select(Axis(0), &idx);
        let y = chunked(&a, &g).random_permutation(seed).unwrap();
        prop_assert_eq!(y.chunks(), &g);
        for exec in executors() {
            assert_bits_eq(&y.compute_with(&exec).unwrap(), &want);
        }
    }

    #[test]
    fn choice_is_chunk_independent(n in 1usize..30, size in 0usize..40, replace in any::<bool>(), weighted in any::<bool>(), seed in any::<u64>(), c in 1usize..10) {
        prop_assume!(replace || size <= n);
        let p: Vec<f64> = (0..n).map(|i| if i % 3 == 1 { 0.0 } else { 1.0 }).collect();
        let total: f64 = p.iter().sum();
        let p: Vec<f64> = p.iter().map(|x| x / total).collect();
        let positive = p.iter().filter(|&&x| x > 0.0).count();
        prop_assume!(!weighted || replace || size <= positive);
        let p = weighted.then_some(p.as_slice());
        let a = DArray::<i64>::choice(n, size, replace, p, seed, [c]).unwrap().compute().unwrap();
        let b = DArray::<i64>::choice(n, size, replace, p, seed, [size.max(1)]).unwrap().compute().unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert!(a.iter().all(|&i| i >= 0 && (i as usize) < n));
        if let Some(p) = p {
            prop_assert!(a.iter().all(|&i| p[i as usize] > 0.0));
        }
        if !replace {
            let mut v: Vec<i64> = a.iter().copied().collect();
            v.sort_unstable();
            v.dedup();
            prop_assert_eq!(v.len(), size);
        }
        // Choosing from an array takes the same indices.
        let pool = ndarray::Array1::from_shape_fn(n, |i| 10.0 * i as f64);
        let from = DArray::from_ndarray(&pool, [3]).unwrap().random_choice(size, replace, p, seed, [c]).unwrap().compute().unwrap();
        prop_assert_eq!(from, a.mapv(|i| 10.0 * i as f64));
    }
}

/// A code of a global index, for `from_function`.
fn code(ix: &[usize]) -> i64 {
    ix.iter().fold(0i64, |acc, &i| acc * 100 + i as i64)
}

fn coords(r: &[Range<usize>]) -> ArrayD<i64> {
    let shape: Vec<usize> = r.iter().map(ExactSizeIterator::len).collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        code(&(0..r.len()).map(|d| r[d].start + ix[d]).collect::<Vec<_>>())
    })
}

/// Blocks strictly above the diagonal come back with the wrong shape, so
/// reading one fails the computation.
fn poisoned(r: &[Range<usize>]) -> ArrayD<f64> {
    let above = r[1].start >= r[0].end;
    let shape: Vec<usize> = r.iter().map(|r| r.len() + usize::from(above)).collect();
    ArrayD::from_elem(IxDyn(&shape), 1.0)
}

#[test]
fn tril_does_not_read_blocks_above_the_diagonal() {
    let _ = register_block_function::<f64>("test-poisoned", poisoned);
    let x = DArray::<f64>::from_function("test-poisoned", &[9, 9], [3, 3]).unwrap();
    assert!(x.compute().is_err());
    let t = x.tril(0).unwrap().compute().unwrap();
    assert_eq!(t.sum(), 45.0);
    let t = x.triu(1).unwrap().compute();
    assert!(t.is_err(), "triu keeps the poisoned blocks");
}

#[test]
fn random_integers_are_uniform_and_thread_independent() {
    let x = DArray::<u8>::random_integers(11, &[60_000], 250, 256, [7_001]).unwrap();
    let runs: Vec<_> = executors()
        .iter()
        .map(|e| x.compute_with(e).unwrap())
        .collect();
    assert!(runs.windows(2).all(|w| w[0] == w[1]));
    let mut counts = [0usize; 6];
    for &v in &runs[0] {
        counts[usize::from(v - 250)] += 1;
    }
    // Each count is Binomial(60000, 1/6): mean 10000, sd 91; allow 5 sd.
    assert!(
        counts.iter().all(|&c| c.abs_diff(10_000) < 460),
        "{counts:?}"
    );
    let full = DArray::<i64>::random_integers(3, &[1000], i64::MIN, i64::MAX, [300])
        .unwrap()
        .compute()
        .unwrap();
    assert!(full.iter().any(|&v| v < 0) && full.iter().any(|&v| v > 0));
}

#[test]
fn weighted_choice_follows_p() {
    let p = [0.1, 0.0, 0.6, 0.3];
    let a = DArray::<i64>::choice(4, 50_000, true, Some(&p), 5, [9_999])
        .unwrap()
        .compute()
        .unwrap();
    for (i, &pi) in p.iter().enumerate() {
        let share = a.iter().filter(|&&v| v == i as i64).count() as f64 / 50_000.0;
        // sd of a share is at most 0.0023; allow 5 sd.
        assert!((share - pi).abs() < 0.012, "{i}: {share} vs {pi}");
    }
    let perm = DArray::<i64>::permutation(1000, 8, [128])
        .unwrap()
        .compute()
        .unwrap();
    // A shuffle, not the identity or a rotation: few fixed points.
    let fixed = perm
        .iter()
        .enumerate()
        .filter(|&(i, &v)| i as i64 == v)
        .count();
    assert!(fixed < 10, "{fixed} fixed points");
}

#[test]
fn bad_input_is_an_error_before_running() {
    let m = DArray::<f64>::ones(&[3, 4, 2], [2, 2, 2]).unwrap();
    let v = DArray::<f64>::ones(&[3], [2]).unwrap();
    let inv = |r: Result<_, Error>| matches!(r, Err(Error::InvalidArgument { .. }));
    assert!(inv(m.diag(0).map(|_| ())));
    assert!(inv(v.tril(0).map(|_| ())));
    assert!(matches!(
        m.diagonal(0, 1, -2),
        Err(Error::DuplicateAxis { .. })
    ));
    assert!(matches!(
        m.diagonal(0, 0, 3),
        Err(Error::AxisOutOfRange { .. })
    ));
    assert!(inv(DArray::meshgrid(&[&v, &m], Indexing::Ij).map(|_| ())));
    assert!(matches!(
        DArray::<f64>::from_function("test-no-such-kernel", &[2], [1]),
        Err(Error::UnknownKernel(_))
    ));
    assert!(inv(
        DArray::<i64>::random_integers(1, &[3], 5, 5, [2]).map(|_| ())
    ));
    assert!(inv(
        DArray::<u8>::random_integers(1, &[3], -1, 5, [2]).map(|_| ())
    ));
    assert!(inv(
        DArray::<f64>::random_integers(1, &[3], 0, 5, [2]).map(|_| ())
    ));
    assert!(inv(
        DArray::<i64>::choice(3, 4, false, None, 1, [2]).map(|_| ())
    ));
    assert!(inv(
        DArray::<i64>::choice(0, 1, true, None, 1, [2]).map(|_| ())
    ));
    assert!(inv(DArray::<i64>::choice(
        2,
        1,
        true,
        Some(&[0.5, 0.6]),
        1,
        [2]
    )
    .map(|_| ())));
    assert!(inv(
        DArray::<i64>::choice(2, 1, true, Some(&[1.0]), 1, [2]).map(|_| ())
    ));
    assert!(inv(DArray::<i64>::choice(
        2,
        1,
        true,
        Some(&[1.5, -0.5]),
        1,
        [2]
    )
    .map(|_| ())));
    assert!(inv(DArray::<i64>::choice(
        3,
        2,
        false,
        Some(&[1.0, 0.0, 0.0]),
        1,
        [2]
    )
    .map(|_| ())));
    assert!(inv(m.random_choice(2, true, None, 1, [2]).map(|_| ())));
    let s = DArray::from_ndarray(&ndarray::arr0(1.0).into_dyn(), Vec::<usize>::new()).unwrap();
    assert!(inv(s.random_permutation(1).map(|_| ())));
}

#[test]
fn creation_graphs_round_trip_through_postcard() {
    let _ = register_block_function::<f64>("test-poisoned", poisoned);
    let m = DArray::<f64>::ones(&[5, 4], [2, 3]).unwrap();
    let v = DArray::<f64>::ones(&[5], [2]).unwrap();
    for y in [
        v.diag(-2).unwrap(),
        m.diagonal(1, 1, 0).unwrap(),
        m.tril(1).unwrap(),
        m.triu(-1).unwrap(),
        m.random_permutation(4).unwrap(),
        DArray::<f64>::from_function("test-poisoned", &[4, 4], [2, 2]).unwrap(),
    ] {
        let g = y.graph().unwrap();
        let bytes = postcard::to_allocvec(&g).unwrap();
        let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.describe(), g.describe());
    }
    for y in [
        DArray::<i64>::random_integers(1, &[6], 0, 9, [4]).unwrap(),
        DArray::<i64>::permutation(6, 1, [4]).unwrap(),
        DArray::<i64>::choice(6, 5, true, Some(&[0.5, 0.5, 0.0, 0.0, 0.0, 0.0]), 1, [4]).unwrap(),
    ] {
        let g = y.graph().unwrap();
        let back: darray::graph::Graph =
            postcard::from_bytes(&postcard::to_allocvec(&g).unwrap()).unwrap();
        assert_eq!(back.describe(), g.describe());
    }
}
