//! Slicing, rechunking, transposition and concatenation against ndarray
//! (exact: these only move data).

mod common;

use common::*;
use darray::DArray;
use ndarray::{concatenate, stack, ArrayD, Axis, IxDyn, SliceInfoElem};
use proptest::prelude::*;

/// A random valid selection for one axis of length `n`.
fn axis_sel(n: usize) -> BoxedStrategy<SliceInfoElem> {
    let n_i = n as isize;
    let range = (
        0..=n_i,
        0..=n_i,
        prop_oneof![1isize..4, -3isize..=-1],
        any::<bool>(),
    )
        .prop_map(move |(a, b, step, neg)| {
            let (lo, hi) = (a.min(b), a.max(b));
            // Sometimes use negative indices counted from the end.
            let start = if neg && lo < n_i { lo - n_i } else { lo };
            SliceInfoElem::Slice {
                start,
                end: Some(hi),
                step,
            }
        });
    if n == 0 {
        range.boxed()
    } else {
        prop_oneof![3 => range, 1 => (-n_i..n_i).prop_map(SliceInfoElem::Index)].boxed()
    }
}

fn selection(shape: Vec<usize>) -> impl Strategy<Value = Vec<SliceInfoElem>> {
    let per_axis: Vec<_> = shape.iter().map(|&n| axis_sel(n)).collect();
    (per_axis, any::<bool>(), 0..=shape.len()).prop_map(|(mut v, new_axis, at)| {
        if new_axis {
            v.insert(at, SliceInfoElem::NewAxis);
        }
        v
    })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn slices_match_ndarray(((a, g), sel) in array_and_grid(4, 8, false).prop_flat_map(|(a, g)| {
        let s = a.shape().to_vec();
        (Just((a, g)), selection(s))
    })) {
        let x = chunked(&a, &g);
        let want = a.slice(sel.as_slice()).to_owned();
        let y = x.slice(&sel).unwrap();
        prop_assert_eq!(y.shape(), want.shape());
        prop_assert_eq!(y.compute().unwrap(), want);
    }

    #[test]
    fn rechunk_preserves_values(((a, g), g2) in array_and_grid(4, 8, false).prop_flat_map(|(a, g)| {
        let s = a.shape().to_vec();
        (Just((a, g)), grid(s))
    })) {
        let x = chunked(&a, &g);
        let y = x.rechunk(g2.clone()).unwrap();
        prop_assert_eq!(y.chunks(), &g2);
        prop_assert_eq!(y.compute().unwrap(), a);
    }

    #[test]
    fn transpose_and_concatenate((a, g) in array_and_grid(3, 6, false), (b, gb) in array_and_grid(3, 6, false)) {
        let x = chunked(&a, &g);
        prop_assert_eq!(x.t().compute().unwrap(), a.t().to_owned());
        // Concatenate a with itself along each axis, and with b where shapes fit.
        for ax in 0..a.ndim() {
            let c = DArray::concatenate(&[&x, &x.rechunk(gb.clone()).unwrap_or(x.clone())], ax as isize).unwrap();
            prop_assert_eq!(c.compute().unwrap(), concatenate(Axis(ax), &[a.view(), a.view()]).unwrap());
        }
        let s = DArray::stack(&[&x, &x], 0).unwrap();
        prop_assert_eq!(s.compute().unwrap(), stack(Axis(0), &[a.view(), a.view()]).unwrap());
        if b.ndim() == a.ndim() && b.shape()[1..] == a.shape()[1..] {
            let y = chunked(&b, &gb);
            let c = DArray::concatenate(&[&x, &y], 0).unwrap();
            prop_assert_eq!(c.compute().unwrap(), concatenate(Axis(0), &[a.view(), b.view()]).unwrap());
        }
    }
}

#[test]
fn slice_reads_only_the_chunks_it_needs() {
    let a = ArrayD::from_shape_fn(IxDyn(&[100, 40]), |i| (i[0] * 40 + i[1]) as f64);
    let x = DArray::from_ndarray(&a, [10, 10]).unwrap();
    let y = x.slice(ndarray::s![0..10, ..]).unwrap().sum().unwrap();
    let g = y.graph().unwrap();
    // 4 literal blocks of the first block-row, taken whole (no copies), 4
    // partials, 1 merge.
    assert_eq!(g.op_counts()["literal"], 4);
    assert!(!g.op_counts().contains_key("slice"));
    assert_eq!(
        y.compute_scalar().unwrap(),
        a.slice(ndarray::s![0..10, ..]).sum()
    );
    // Part of a block, a stride, a reversal or an index still copy.
    for (sel, copies) in [
        (ndarray::s![0..5, ..].as_ref().to_vec(), 4),
        (ndarray::s![0..10;2, ..].as_ref().to_vec(), 4),
        (ndarray::s![10..20;-1, 0..20].as_ref().to_vec(), 2),
        (ndarray::s![3, 10..20].as_ref().to_vec(), 1),
        (ndarray::s![20..40, 15..35].as_ref().to_vec(), 2 * 3 - 2),
    ] {
        let y = x.slice(sel.as_slice()).unwrap();
        let n = y
            .graph()
            .unwrap()
            .op_counts()
            .get("slice")
            .copied()
            .unwrap_or(0);
        assert_eq!(n, copies, "{sel:?}");
        assert_eq!(y.compute().unwrap(), a.slice(sel.as_slice()));
    }
}

#[test]
fn bad_slices_are_errors() {
    let x = DArray::<f64>::ones(&[5, 4], [2, 2]).unwrap();
    assert!(x.slice(ndarray::s![5, ..]).is_err());
    assert!(x.slice(ndarray::s![0..6, ..]).is_err());
    assert!(x.slice(ndarray::s![.., .., 0]).is_err());
    assert!(x.slice(ndarray::s![-6.., ..]).is_err());
    assert!(x.permute_axes(&[0, 0]).is_err());
    assert!(DArray::concatenate(&[&x, &x.t()], 0).is_err());
    assert!(DArray::<f64>::concatenate(&[], 0).is_err());
}
