//! Shape, order and padding functions against the same computation on the
//! whole array in plain ndarray (exact: these only move data; `coarsen` sums
//! within a relative 1e-12).

mod common;

use common::*;
use darray::{DArray, Error, Nested, PadMode, ReshapeOpts};
use darray_kernels::ReduceKind;
use ndarray::{ArrayD, Axis, Dimension, IxDyn};
use proptest::prelude::*;

/// A random shape with the same number of elements as `shape` (1-4 dims),
/// from a seed: the divisors of the size dealt out to the axes.
fn other_shape(shape: &[usize], seed: u64) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut s = seed;
    let mut next = |m: usize| {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(s >> 33).unwrap() % m.max(1)
    };
    let nd = 1 + next(4);
    if n == 0 {
        let mut out = vec![1 + next(3); nd];
        out[next(nd)] = 0;
        return out;
    }
    let mut out = Vec::with_capacity(nd);
    let mut left = n;
    for _ in 1..nd {
        let divs: Vec<usize> = (1..=left).filter(|d| left.is_multiple_of(*d)).collect();
        let d = divs[next(divs.len())];
        out.push(d);
        left /= d;
    }
    out.push(left);
    out
}

fn isize_shape(s: &[usize]) -> Vec<isize> {
    s.iter().map(|&d| d as isize).collect()
}

/// `a` with output index `i` read from input index `map(i)`.
fn gather(a: &ArrayD<f64>, shape: &[usize], map: impl Fn(&[usize]) -> Vec<usize>) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |idx| a[IxDyn(&map(idx.slice()))])
}

/// NumPy's `pad` index for padded position `i` (relative to the original
/// start) of an axis of length `n`, built as NumPy builds it: reflect and
/// symmetric by mirroring the padded index list again and again.
fn pad_index(n: usize, before: usize, after: usize, mode: &str) -> Vec<usize> {
    if n == 0 {
        // Only reached with no padding: an empty axis cannot be extended by
        // any mode but constant (the caller checks that refusal).
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..n).collect();
    if mode == "edge" || (n == 1 && mode != "wrap") {
        return std::iter::repeat_n(0, before)
            .chain(idx)
            .chain(std::iter::repeat_n(n - 1, after))
            .collect();
    }
    if mode == "wrap" {
        let ni = n as isize;
        return (-(before as isize)..(n + after) as isize)
            .map(|i| i.rem_euclid(ni) as usize)
            .collect();
    }
    let skip = usize::from(mode == "reflect");
    let chunk = n - skip;
    let (mut l, mut r) = (before, after);
    while l > 0 || r > 0 {
        let k = l.min(chunk);
        let left: Vec<usize> = idx[skip..skip + k].iter().rev().copied().collect();
        let kr = r.min(chunk);
        let len = idx.len();
        let right: Vec<usize> = idx[len - skip - kr..len - skip]
            .iter()
            .rev()
            .copied()
            .collect();
        idx = left.into_iter().chain(idx).chain(right).collect();
        l -= k;
        r -= kr;
    }
    idx
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn reshape_matches_ndarray(((a, g), seed, allow) in (array_and_grid(4, 6, false), any::<u64>(), any::<bool>())) {
        let to = other_shape(a.shape(), seed);
        let x = chunked(&a, &g);
        let opts = ReshapeOpts::default().allow_exchange(allow);
        let want = a.as_standard_layout().into_owned().into_shape_with_order(IxDyn(&to)).unwrap();
        match x.reshape_with(&isize_shape(&to), &opts) {
            Ok(y) => {
                prop_assert_eq!(y.shape(), to.as_slice());
                let g = y.graph().unwrap();
                prop_assert!(darray::graph::Graph::from_bytes(&g.to_bytes().unwrap()).is_ok());
                prop_assert_eq!(y.compute().unwrap(), want);
            }
            Err(Error::ReshapeExchange { array, .. }) => {
                prop_assert!(!allow, "refused although allowed");
                prop_assert_eq!(array, "array");
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn ravel_and_back((a, g) in array_and_grid(4, 6, false)) {
        let x = chunked(&a, &g);
        let flat = x.ravel().unwrap();
        prop_assert_eq!(flat.compute().unwrap().into_iter().collect::<Vec<_>>(), a.iter().copied().collect::<Vec<_>>());
        let back = flat.reshape(&isize_shape(a.shape())).unwrap();
        prop_assert_eq!(back.compute().unwrap(), a);
    }

    #[test]
    fn squeeze_expand_and_atleast((a, g) in array_and_grid(3, 3, false), at in 0usize..4) {
        let x = chunked(&a, &g);
        let kept: Vec<usize> = a.shape().iter().copied().filter(|&d| d != 1).collect();
        let want = a.clone().into_shape_with_order(IxDyn(&kept)).unwrap();
        prop_assert_eq!(x.squeeze().compute().unwrap(), want);
        let at = at.min(a.ndim());
        let e = x.expand_dims(&[at as isize]).unwrap();
        prop_assert_eq!(e.compute().unwrap(), a.clone().insert_axis(Axis(at)));
        prop_assert_eq!(e.squeeze_axes(&[at as isize]).unwrap().compute().unwrap(), a.clone());
        prop_assert!(x.atleast_1d().ndim() >= 1);
        let a3 = x.atleast_3d();
        prop_assert_eq!(a3.compute().unwrap().into_iter().collect::<Vec<_>>(), a.iter().copied().collect::<Vec<_>>());
        prop_assert!(a3.ndim() >= 3);
    }

    #[test]
    fn broadcast_to_matches_ndarray((a, g) in array_and_grid(3, 4, false), lead in 0usize..3, mask in any::<u8>()) {
        let mut shape: Vec<usize> = vec![2; lead];
        // Some length-1 axes stretched: the array is first sliced to length 1 there.
        let mut x = chunked(&a, &g);
        let mut base = a.clone();
        for (ax, &n) in a.shape().iter().enumerate() {
            if mask >> ax & 1 == 1 && n > 0 {
                x = x.slice(ndarray_axis_prefix(ax, ndarray::SliceInfoElem::Slice { start: 0, end: Some(1), step: 1 })).unwrap();
                base = base.slice_axis(Axis(ax), ndarray::Slice::from(0..1)).to_owned();
                shape.push(3);
            } else {
                shape.push(n);
            }
        }
        let want = base.broadcast(IxDyn(&shape)).unwrap().to_owned();
        let y = x.broadcast_to(&shape).unwrap();
        prop_assert_eq!(y.compute().unwrap(), want.clone());
        let other = DArray::<f64>::zeros(&shape, shape.iter().map(|&d| d.max(1)).collect::<Vec<_>>()).unwrap();
        let both = DArray::broadcast_arrays(&[&x, &other]).unwrap();
        prop_assert_eq!(both[0].compute().unwrap(), want);
    }

    #[test]
    fn moveaxis_and_swapaxes((a, g) in array_and_grid(4, 4, false), src in 0usize..4, dst in 0usize..4) {
        let nd = a.ndim();
        let (src, dst) = (src % nd, dst % nd);
        let x = chunked(&a, &g);
        let mut perm: Vec<usize> = (0..nd).filter(|&d| d != src).collect();
        perm.insert(dst, src);
        let want = a.clone().permuted_axes(IxDyn(&perm)).as_standard_layout().into_owned();
        prop_assert_eq!(x.moveaxis(&[src as isize], &[dst as isize]).unwrap().compute().unwrap(), want);
        let mut sw = a.clone();
        sw.swap_axes(src, dst);
        prop_assert_eq!(x.swapaxes(src as isize, dst as isize).unwrap().compute().unwrap(), sw.as_standard_layout().into_owned());
    }

    #[test]
    fn tile_matches_ndarray((a, g) in array_and_grid(3, 4, false), reps in proptest::collection::vec(0usize..3, 0..4)) {
        let x = chunked(&a, &g);
        let nd = a.ndim().max(reps.len());
        let mut ash = vec![1; nd - a.ndim()];
        ash.extend_from_slice(a.shape());
        let a2 = a.clone().into_shape_with_order(IxDyn(&ash)).unwrap();
        let mut r = vec![1; nd - reps.len()];
        r.extend_from_slice(&reps);
        let shape: Vec<usize> = ash.iter().zip(&r).map(|(n, k)| n * k).collect();
        let want = gather(&a2, &shape, |i| i.iter().zip(&ash).map(|(&i, &n)| i % n).collect());
        prop_assert_eq!(x.tile(&reps).unwrap().compute().unwrap(), want);
    }

    #[test]
    fn repeat_matches_ndarray((a, g) in array_and_grid(3, 5, false), r in 0isize..4, ax in 0usize..3, flat in any::<bool>()) {
        let x = chunked(&a, &g);
        let ru = r as usize;
        if flat {
            let v: Vec<f64> = a.iter().flat_map(|&e| std::iter::repeat_n(e, ru)).collect();
            prop_assert_eq!(x.repeat(r, None).unwrap().compute().unwrap().into_iter().collect::<Vec<_>>(), v);
        } else {
            let ax = ax % a.ndim();
            let mut shape = a.shape().to_vec();
            shape[ax] *= ru;
            let want = gather(&a, &shape, |i| { let mut j = i.to_vec(); j[ax] /= ru; j });
            let y = x.repeat(r, Some(ax as isize)).unwrap();
            prop_assert_eq!(y.compute().unwrap(), want);
        }
    }

    #[test]
    fn coarsen_matches_ndarray((a, g) in array_and_grid(3, 7, false), fs in proptest::collection::vec(1usize..4, 3), kind in 0usize..3) {
        let x = chunked(&a, &g);
        let fs: Vec<usize> = fs[..a.ndim()].to_vec();
        let shape: Vec<usize> = a.shape().iter().zip(&fs).map(|(n, f)| n / f).collect();
        let window = |i: &[usize]| {
            let mut v = Vec::new();
            let cnt: usize = fs.iter().product();
            for k in 0..cnt {
                let mut rem = k;
                let mut idx = vec![0; fs.len()];
                for ax in (0..fs.len()).rev() {
                    idx[ax] = i[ax] * fs[ax] + rem % fs[ax];
                    rem /= fs[ax];
                }
                v.push(a[IxDyn(&idx)]);
            }
            v
        };
        let (rk, want) = match kind {
            0 => (ReduceKind::Sum, ArrayD::from_shape_fn(IxDyn(&shape), |i| window(i.slice()).iter().sum::<f64>())),
            1 => (ReduceKind::Mean, ArrayD::from_shape_fn(IxDyn(&shape), |i| { let w = window(i.slice()); w.iter().sum::<f64>() / w.len() as f64 })),
            _ => (ReduceKind::Max, ArrayD::from_shape_fn(IxDyn(&shape), |i| window(i.slice()).into_iter().fold(f64::NEG_INFINITY, f64::max))),
        };
        let divides = a.shape().iter().zip(&fs).all(|(n, f)| n.is_multiple_of(*f));
        let empty = shape.contains(&0) || a.is_empty();
        match x.coarsen::<f64>(rk, &fs, false) {
            Ok(y) => { prop_assert!(divides); assert_close(&y.compute().unwrap(), &want, 1e-12); }
            Err(Error::InvalidArgument { reason, .. }) => prop_assert!(!divides, "{}", reason),
            Err(e) => prop_assert!(empty && matches!(e, Error::EmptyReduction { .. }), "{e}"),
        }
        if let Ok(y) = x.coarsen::<f64>(rk, &fs, true) {
            assert_close(&y.compute().unwrap(), &want, 1e-12);
        }
    }

    #[test]
    fn flip_matches_ndarray((a, g) in array_and_grid(4, 5, false), mask in any::<u8>()) {
        let x = chunked(&a, &g);
        let axes: Vec<isize> = (0..a.ndim()).filter(|ax| mask >> ax & 1 == 1).map(|ax| ax as isize).collect();
        let mut want = a.clone();
        for &ax in &axes {
            want.invert_axis(Axis(ax as usize));
        }
        let y = x.flip(Some(&axes)).unwrap();
        prop_assert_eq!(y.numblocks(), x.numblocks());
        prop_assert_eq!(y.compute().unwrap(), want.as_standard_layout().into_owned());
        let mut all = a.clone();
        for ax in 0..a.ndim() { all.invert_axis(Axis(ax)); }
        prop_assert_eq!(x.flip(None).unwrap().compute().unwrap(), all.as_standard_layout().into_owned());
    }

    #[test]
    fn roll_matches_ndarray((a, g) in array_and_grid(3, 6, false), shifts in proptest::collection::vec(-9isize..9, 1..3), ax in 0usize..3) {
        let x = chunked(&a, &g);
        let ax = ax % a.ndim();
        let s = shifts[0];
        let n = a.shape()[ax] as isize;
        let want = gather(&a, a.shape(), |i| { let mut j = i.to_vec(); j[ax] = (i[ax] as isize - s).rem_euclid(n.max(1)) as usize; j });
        let y = x.roll(s, Some(ax as isize)).unwrap();
        prop_assert!(y.numblocks()[ax] <= x.numblocks()[ax] + 1);
        prop_assert_eq!(y.compute().unwrap(), want);
        // Several shifts of one axis add up; no axis rolls the flattened array.
        let axes = vec![ax as isize; shifts.len()];
        let total: isize = shifts.iter().sum();
        let want = gather(&a, a.shape(), |i| { let mut j = i.to_vec(); j[ax] = (i[ax] as isize - total).rem_euclid(n.max(1)) as usize; j });
        prop_assert_eq!(x.roll_axes(&shifts, &axes).unwrap().compute().unwrap(), want);
        let flat: Vec<f64> = a.iter().copied().collect();
        let len = flat.len() as isize;
        let rolled: Vec<f64> = (0..flat.len()).map(|i| flat[(i as isize - s).rem_euclid(len.max(1)) as usize]).collect();
        prop_assert_eq!(x.roll(s, None).unwrap().compute().unwrap().into_iter().collect::<Vec<_>>(), rolled);
    }

    #[test]
    fn rot90_matches_ndarray((a, g) in array_and_grid(3, 5, false), k in -5isize..6, a0 in 0usize..3, a1 in 0usize..3) {
        prop_assume!(a.ndim() >= 2);
        let (a0, a1) = (a0 % a.ndim(), a1 % a.ndim());
        prop_assume!(a0 != a1);
        let x = chunked(&a, &g);
        let (n0, n1) = (a.shape()[a0], a.shape()[a1]);
        let mut shape = a.shape().to_vec();
        if k.rem_euclid(2) == 1 { shape.swap(a0, a1); }
        let want = gather(&a, &shape, |i| {
            let mut j = i.to_vec();
            let (i0, i1) = (i[a0], i[a1]);
            match k.rem_euclid(4) {
                0 => {}
                1 => { j[a0] = i1; j[a1] = n1 - 1 - i0; }
                2 => { j[a0] = n0 - 1 - i0; j[a1] = n1 - 1 - i1; }
                _ => { j[a0] = n0 - 1 - i1; j[a1] = i0; }
            }
            j
        });
        prop_assert_eq!(x.rot90(k, [a0 as isize, a1 as isize]).unwrap().compute().unwrap(), want);
    }

    #[test]
    fn pad_matches_numpy_rules((a, g) in array_and_grid(3, 4, false), w in proptest::collection::vec((0usize..9, 0usize..9), 3), mode in 0usize..5) {
        let x = chunked(&a, &g);
        let w: Vec<(usize, usize)> = w[..a.ndim()].to_vec();
        let names = ["constant", "edge", "reflect", "symmetric", "wrap"];
        let m = match mode {
            0 => PadMode::Constant(-7.5),
            1 => PadMode::Edge,
            2 => PadMode::Reflect,
            3 => PadMode::Symmetric,
            _ => PadMode::Wrap,
        };
        let shape: Vec<usize> = a.shape().iter().zip(&w).map(|(n, (b, e))| n + b + e).collect();
        let extends_empty = a.shape().iter().zip(&w).any(|(&n, &(b, e))| n == 0 && b + e > 0);
        let got = x.pad(&w, m);
        if mode != 0 && extends_empty {
            let refused = matches!(got, Err(Error::InvalidArgument { .. }));
            prop_assert!(refused);
            return Ok(());
        }
        let y = got.unwrap();
        prop_assert_eq!(y.shape(), shape.as_slice());
        let want = if mode == 0 {
            ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                let j: Option<Vec<usize>> = i.slice().iter().zip(&w).zip(a.shape()).map(|((&i, &(b, _)), &n)| (i >= b && i < b + n).then(|| i - b)).collect();
                j.map_or(-7.5, |j| a[IxDyn(&j)])
            })
        } else {
            let maps: Vec<Vec<usize>> = a.shape().iter().zip(&w).map(|(&n, &(b, e))| pad_index(n, b, e, names[mode])).collect();
            gather(&a, &shape, |i| i.iter().zip(&maps).map(|(&i, m)| m[i]).collect())
        };
        prop_assert_eq!(y.compute().unwrap(), want);
        // Pad regions are cut like the input, not into one block per mirrored run.
        for (ax, &(b, e)) in w.iter().enumerate() {
            let c = g[ax].iter().copied().max().unwrap_or(1).max(1);
            prop_assert!(y.numblocks()[ax] <= x.numblocks()[ax] + 2 * (b.max(e).div_ceil(c) + 2));
        }
    }

    #[test]
    fn block_reassembles_quadrants((a, g) in array_and_grid(2, 6, false), r in 0usize..7, c in 0usize..7) {
        prop_assume!(a.ndim() == 2);
        let (r, c) = (r.min(a.shape()[0]), c.min(a.shape()[1]));
        let q = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| {
            let part = a.slice(ndarray::s![rows, cols]).to_owned().into_dyn();
            let grid: Vec<Vec<usize>> = part.shape().iter().zip(&g).map(|(&n, gg)| {
                let m = gg.iter().copied().max().unwrap_or(1).max(1);
                if n == 0 { vec![0] } else { let mut v = vec![m; n / m]; if !n.is_multiple_of(m) { v.push(n % m); } v }
            }).collect();
            chunked(&part, &grid)
        };
        let (n0, n1) = (a.shape()[0], a.shape()[1]);
        let (tl, tr, bl, br) = (q(0..r, 0..c), q(0..r, c..n1), q(r..n0, 0..c), q(r..n0, c..n1));
        let m = DArray::block(&[vec![&tl, &tr], vec![&bl, &br]]).unwrap();
        prop_assert_eq!(m.compute().unwrap(), a.clone());
        let nested = Nested::List(vec![Nested::List(vec![Nested::Array(&tl), Nested::Array(&tr)]), Nested::List(vec![Nested::Array(&bl), Nested::Array(&br)])]);
        prop_assert_eq!(DArray::block_nested(&nested).unwrap().compute().unwrap(), a);
    }
}

/// A slice selecting `e` on axis `ax` and everything on the axes before.
fn ndarray_axis_prefix(ax: usize, e: ndarray::SliceInfoElem) -> Vec<ndarray::SliceInfoElem> {
    let mut v = vec![
        ndarray::SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1
        };
        ax
    ];
    v.push(e);
    v
}

fn iota(shape: &[usize], chunks: Vec<Vec<usize>>) -> (ArrayD<f64>, DArray<f64>) {
    let n: usize = shape.iter().product();
    let a = ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|v| v as f64).collect()).unwrap();
    let x = DArray::from_ndarray(&a, chunks).unwrap();
    (a, x)
}

#[test]
fn refused_reshape_names_the_array_axes_and_the_way_out() {
    let (_, x) = iota(&[6, 5], vec![vec![3, 3], vec![5]]);
    let err = x.reshape(&[5, 6]).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::ReshapeExchange { in_axes, out_axes, .. } if *in_axes == (0..2) && *out_axes == (0..2)),
        "{msg}"
    );
    assert!(msg.contains("array `array`"), "{msg}");
    assert!(msg.contains("all-to-all exchange"), "{msg}");
    assert!(msg.contains("allow_exchange(true)"), "{msg}");
    // A single block needs no exchange: no error.
    let (a, one) = iota(&[6, 5], vec![vec![6], vec![5]]);
    let want = a.into_shape_with_order(IxDyn(&[5, 6])).unwrap();
    assert_eq!(one.reshape(&[5, 6]).unwrap().compute().unwrap(), want);
    let allowed = x
        .reshape_with(&[5, 6], &ReshapeOpts::default().allow_exchange(true))
        .unwrap();
    assert_eq!(allowed.compute().unwrap(), want);
}

#[test]
fn benchmark_reshape_moves_no_data_between_blocks() {
    let x = DArray::<f32>::zeros(&[16384, 8192], [2048, 2048]).unwrap();
    let y = x.reshape(&[128, 128, 8192]).unwrap();
    assert_eq!(y.chunks()[0], vec![16; 8]);
    assert_eq!(y.chunks()[1], vec![128]);
    let back = y.reshape(&[16384, 8192]).unwrap();
    assert_eq!(back.chunks(), x.chunks());
    let g = back.graph().unwrap();
    assert!(g.tasks.iter().all(|t| t.op.name() != "assemble"));
    // One task per block and reshape: fill, reshape, reshape.
    assert_eq!(g.tasks.len(), 3 * 32);
}

#[test]
fn bad_input_is_a_typed_error_naming_the_array() {
    let (_, x) = iota(&[4, 3], vec![vec![2, 2], vec![3]]);
    let named = |e: Error| match e {
        Error::InvalidArgument { array, .. }
        | Error::AxisOutOfRange { array, .. }
        | Error::DuplicateAxis { array, .. } => array,
        other => panic!("untyped: {other}"),
    };
    assert_eq!(named(x.reshape(&[5, 2]).unwrap_err()), "array");
    assert_eq!(named(x.reshape(&[-1, -1]).unwrap_err()), "array");
    assert_eq!(named(x.reshape(&[-2, 6]).unwrap_err()), "array");
    assert_eq!(named(x.squeeze_axes(&[0]).unwrap_err()), "array");
    assert_eq!(named(x.squeeze_axes(&[2]).unwrap_err()), "array");
    assert_eq!(named(x.expand_dims(&[0, 0]).unwrap_err()), "array");
    assert_eq!(named(x.broadcast_to(&[4, 4]).unwrap_err()), "array");
    assert_eq!(named(x.moveaxis(&[0], &[3]).unwrap_err()), "array");
    assert_eq!(named(x.swapaxes(0, -3).unwrap_err()), "array");
    assert_eq!(named(x.repeat(-1, Some(0)).unwrap_err()), "array");
    assert_eq!(named(x.repeat(2, Some(2)).unwrap_err()), "array");
    assert_eq!(
        named(
            x.coarsen::<f64>(ReduceKind::Sum, &[3, 1], false)
                .unwrap_err()
        ),
        "array"
    );
    assert_eq!(
        named(
            x.coarsen::<f64>(ReduceKind::Sum, &[0, 1], true)
                .unwrap_err()
        ),
        "array"
    );
    assert_eq!(
        named(x.coarsen::<f64>(ReduceKind::Sum, &[2], false).unwrap_err()),
        "array"
    );
    assert_eq!(named(x.flip(Some(&[0, 0])).unwrap_err()), "array");
    assert_eq!(named(x.roll(1, Some(5)).unwrap_err()), "array");
    assert_eq!(named(x.rot90(1, [0, 0]).unwrap_err()), "array");
    assert_eq!(
        named(x.pad(&[(1, 1); 3], PadMode::Edge).unwrap_err()),
        "array"
    );
    let empty = DArray::<f64>::zeros(&[0, 3], [1, 3]).unwrap();
    assert_eq!(
        named(empty.pad(&[(1, 0), (0, 0)], PadMode::Reflect).unwrap_err()),
        "full"
    );
    assert!(matches!(
        DArray::<f64>::block(&[vec![]]),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn results_are_bit_identical_across_thread_counts() {
    let (_, x) = iota(&[7, 6], vec![vec![3, 3, 1], vec![4, 2]]);
    let y = x
        .pad(&[(5, 2)], PadMode::Symmetric)
        .unwrap()
        .roll(3, None)
        .unwrap()
        .coarsen::<f64>(ReduceKind::Mean, &[2, 3], true)
        .unwrap();
    let first = y.compute_with(&executors()[0]).unwrap();
    for e in &executors()[1..] {
        assert_bits_eq(&y.compute_with(e).unwrap(), &first);
    }
}
