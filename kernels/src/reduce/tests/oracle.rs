//! Oracle: partial + merge + finalize over a random split of an array into blocks
//! (irregular, size-1 and zero-length pieces, some blocks in Fortran order), merged
//! in random fan-in trees in block order, equals a naive whole-array reference.
//!
//! Tolerances are relative to the size of the terms, so cancellation cannot fail
//! them: `|got - want| <= tol * scale` with scale `sum |x|` for sums, `sum |x| / n`
//! for means, `sum x^2 / max(n - ddof, 1)` for variances (deviations compare their
//! squares), `|want|` for products. `tol` is 1e-12 for f64 and integer inputs,
//! 1e-6 for f32 means/variances (computed in f64, rounded to f32), 1e-5 for f32 sums
//! and 1e-4 for f32 products (accumulated in f32). Integer results, min/max and
//! arg indices must be exact.

use super::super::elem::Elem;
use super::super::{finalize, finalize_for, merge, partial};
use super::reference::{assert_close, bits, reference, tolerance};
use crate::chunk::Chunk;
use crate::dtype::Element;
use crate::reduce::kind::{ArgContext, ReduceKind};
use ndarray::{ArrayD, IxDyn, ShapeBuilder, Slice};
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Case<T> {
    a: ArrayD<T>,
    splits: Vec<Vec<usize>>,
    axes_mask: u32,
    fanin: Vec<usize>,
    fortran: Vec<bool>,
    ddof: f64,
}

/// [`ReduceKind::ALL`] with the case's `ddof`.
fn kinds(ddof: f64) -> impl Iterator<Item = ReduceKind> {
    ReduceKind::ALL.iter().map(move |k| k.with_ddof(ddof))
}

/// Piece lengths summing to `n`, from random sizes (zero-length pieces included).
fn split(n: usize, sizes: &[usize]) -> Vec<usize> {
    let mut pieces = Vec::new();
    let mut left = n;
    for &s in sizes {
        if left == 0 && s != 0 && !pieces.is_empty() {
            break;
        }
        pieces.push(s.min(left));
        left -= s.min(left);
    }
    if left > 0 {
        pieces.push(left);
    }
    pieces
}

fn case<T: Element>(elem: impl Strategy<Value = T> + Clone) -> impl Strategy<Value = Case<T>> {
    vec(0usize..=5, 1..=4)
        .prop_flat_map(move |shape| {
            let n: usize = shape.iter().product();
            let nd = shape.len();
            let ddof = prop_oneof![Just(0.0), Just(1.0), Just(2.0)];
            let sizes = vec(vec(0usize..=3, 1..4), nd);
            let layout = (
                0u32..16,
                vec(1usize..=4, 1..5),
                vec(any::<bool>(), 1..4),
                ddof,
            );
            (Just(shape), vec(elem.clone(), n), sizes, layout)
        })
        .prop_map(
            |(shape, v, sizes, (axes_mask, fanin, fortran, ddof))| Case {
                splits: shape
                    .iter()
                    .zip(&sizes)
                    .map(|(&n, s)| split(n, s))
                    .collect(),
                a: ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap(),
                axes_mask,
                fanin,
                fortran,
                ddof,
            },
        )
}

fn merge_tree(kind: ReduceKind, mut parts: Vec<Chunk>, fanin: &[usize]) -> Chunk {
    let mut k = 0;
    if parts.len() == 1 && fanin[0] == 1 {
        parts = vec![merge(kind, &[&parts[0]]).unwrap()];
    }
    while parts.len() > 1 {
        let mut next = Vec::new();
        let mut rest = &parts[..];
        while !rest.is_empty() {
            let n = fanin[k % fanin.len()].min(rest.len());
            k += 1;
            let (group, tail) = rest.split_at(n);
            next.push(merge(kind, &group.iter().collect::<Vec<_>>()).unwrap());
            rest = tail;
        }
        if next.len() == parts.len() {
            next = vec![merge(kind, &next.iter().collect::<Vec<_>>()).unwrap()];
        }
        parts = next;
    }
    parts.pop().unwrap()
}

/// Runs the chunked reduction and checks each output block against the reference.
fn check<T: Elem>(c: &Case<T>, kind: ReduceKind, axes: &[usize]) {
    let nd = c.a.ndim();
    let grid: Vec<usize> = c.splits.iter().map(Vec::len).collect();
    let starts: Vec<Vec<usize>> = c
        .splits
        .iter()
        .map(|s| {
            s.iter()
                .scan(0, |acc, &n| Some(std::mem::replace(acc, *acc + n)))
                .collect()
        })
        .collect();
    let mut by_output: BTreeMap<Vec<usize>, Vec<Chunk>> = BTreeMap::new();
    let mut failed = None;
    for (b, coords) in ndarray::indices(IxDyn(&grid)).into_iter().enumerate() {
        let offset: Vec<usize> = (0..nd).map(|d| starts[d][coords[d]]).collect();
        let block = c.a.slice_each_axis(|ax| {
            let d = ax.axis.index();
            Slice::from(offset[d]..offset[d] + c.splits[d][coords[d]])
        });
        let block = if c.fortran[b % c.fortran.len()] {
            ArrayD::from_shape_vec(
                IxDyn(block.shape()).f(),
                block.t().iter().copied().collect(),
            )
            .unwrap()
        } else {
            block.to_owned()
        };
        let ctx = ArgContext {
            offset,
            global_shape: c.a.shape().to_vec(),
        };
        match partial(kind, &T::into_chunk(block), axes, Some(&ctx)) {
            Ok(p) => {
                let key = (0..nd)
                    .map(|d| if axes.contains(&d) { 0 } else { coords[d] })
                    .collect();
                by_output.entry(key).or_default().push(p);
            }
            Err(e) => failed = Some(e),
        }
    }
    assert!(
        failed.is_none(),
        "{kind:?} {axes:?}: partial failed: {failed:?}"
    );
    let want = reference(kind, &c.a, axes);
    for (key, parts) in by_output {
        let merged = merge_tree(kind, parts, &c.fanin);
        let got = finalize_for(kind, &merged, axes, true, T::DTYPE);
        let range = |d: usize| {
            if axes.contains(&d) {
                0..1
            } else {
                starts[d][key[d]]..starts[d][key[d]] + c.splits[d][key[d]]
            }
        };
        let Some((want, scale)) = &want else {
            // Every output element reduces the same (empty) set: only a block with
            // no output elements has nothing to complain about.
            let len: usize = (0..nd).map(|d| range(d).len()).product();
            assert_eq!(
                got.is_err(),
                len > 0,
                "{kind:?}: arg of an empty sequence must fail"
            );
            continue;
        };
        let got = got.unwrap();
        let want_block =
            crate::map_chunk!(want, a => slice_to_chunk(a, &range), _ => unreachable!());
        let scale = ArrayD::from_shape_vec(IxDyn(want.shape()), scale.clone()).unwrap();
        let scale: Vec<f64> = scale
            .slice_each_axis(|ax| Slice::from(range(ax.axis.index())))
            .iter()
            .copied()
            .collect();
        assert_close(kind, &got, &want_block, &scale, tolerance(kind, T::DTYPE));
        // Dropping the reduced axes keeps the values, bit for bit.
        let dropped = finalize(kind, &merged, axes, false).unwrap();
        let kept: Vec<usize> = (0..nd)
            .filter(|d| !axes.contains(d))
            .map(|d| got.shape()[d])
            .collect();
        assert_eq!(dropped.shape(), &kept[..]);
        // (`finalize` without the input dtype gives f64 means of f32 data.)
        if dropped.dtype() == got.dtype() {
            assert_eq!(bits(&dropped), bits(&got), "{kind:?}");
        }
    }
}

fn slice_to_chunk<U: Element>(
    a: &ArrayD<U>,
    range: &dyn Fn(usize) -> std::ops::Range<usize>,
) -> Chunk {
    U::into_chunk(
        a.slice_each_axis(|ax| Slice::from(range(ax.axis.index())))
            .to_owned(),
    )
}

/// Every kind over the axes the case picks (arg kinds: one axis, and all axes).
fn check_all<T: Elem>(c: &Case<T>) {
    let nd = c.a.ndim();
    let picked: Vec<usize> = (0..nd).filter(|d| c.axes_mask >> d & 1 == 1).collect();
    for kind in kinds(c.ddof) {
        if kind.is_arg() {
            check(c, kind, &[picked.first().copied().unwrap_or(nd - 1)]);
            check(c, kind, &(0..nd).collect::<Vec<_>>());
        } else {
            check(c, kind, &picked);
        }
    }
}

/// Continuous values, a few repeated ones (ties), and with `special` NaN and +-inf.
fn f64_values(special: bool) -> BoxedStrategy<f64> {
    let ties = proptest::sample::select(vec![-1.0, 0.0, 0.5, 2.0]);
    if special {
        prop_oneof![20 => -3.0..3.0, 6 => ties, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY), 1 => Just(f64::NEG_INFINITY)].boxed()
    } else {
        prop_oneof![3 => -3.0..3.0, 1 => ties].boxed()
    }
}

/// Magnitudes near 1, so f32 products neither overflow nor underflow in any order.
fn f32_values(special: bool) -> BoxedStrategy<f32> {
    let near_one = (0.5f32..2.0, any::<bool>()).prop_map(|(x, neg)| if neg { -x } else { x });
    let ties = proptest::sample::select(vec![-1.0f32, 0.0, 1.0, 0.5]);
    if special {
        prop_oneof![20 => near_one, 6 => ties, 1 => Just(f32::NAN), 1 => Just(f32::INFINITY)]
            .boxed()
    } else {
        prop_oneof![3 => near_one, 1 => ties].boxed()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reduce_oracle_f64(c in case(f64_values(false))) { check_all(&c); }

    #[test]
    fn reduce_oracle_f64_nan_inf(c in case(f64_values(true))) { check_all(&c); }

    #[test]
    fn reduce_oracle_f32(c in case(f32_values(false))) { check_all(&c); }

    #[test]
    fn reduce_oracle_f32_nan_inf(c in case(f32_values(true))) { check_all(&c); }

    #[test]
    fn reduce_oracle_i64_wrapping(c in case(any::<i64>())) { check_all(&c); }

    #[test]
    fn reduce_oracle_i32_ties(c in case(-3i32..=3)) { check_all(&c); }

    #[test]
    fn reduce_oracle_i8(c in case(any::<i8>())) { check_all(&c); }

    #[test]
    fn reduce_oracle_u8(c in case(any::<u8>())) { check_all(&c); }

    #[test]
    fn reduce_oracle_u64(c in case(any::<u64>())) { check_all(&c); }

    #[test]
    fn reduce_oracle_bool(c in case(any::<bool>())) { check_all(&c); }
}
