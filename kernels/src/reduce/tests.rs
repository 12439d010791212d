//! Edge cases and error paths of the public reduction API. The randomized oracle
//! over chunked arrays is in `oracle.rs`.

use super::*;
use crate::chunk::{Chunk, Partial};
use crate::reduce::kind::{ArgContext, ReduceKind};
use ndarray::{array, ArrayD, IxDyn, ShapeBuilder};

mod oracle;
mod reference;

fn f64s(shape: &[usize], v: Vec<f64>) -> Chunk {
    Chunk::F64(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}

fn ctx(offset: &[usize], global: &[usize]) -> ArgContext {
    ArgContext {
        offset: offset.to_vec(),
        global_shape: global.to_vec(),
    }
}

/// partial -> merge (in the order given) -> finalize, every block with its offset.
fn reduce(
    kind: ReduceKind,
    blocks: &[(Chunk, Vec<usize>)],
    global: &[usize],
    axes: &[usize],
) -> Result<Chunk> {
    let parts = blocks
        .iter()
        .map(|(c, off)| partial(kind, c, axes, Some(&ctx(off, global))))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Chunk> = parts.iter().collect();
    finalize(kind, &merge(kind, &refs)?, axes, false)
}

fn scalar_f64(c: &Chunk) -> f64 {
    match c {
        Chunk::F64(a) => *a.first().unwrap(),
        other => panic!("expected f64, got {other:?}"),
    }
}

const ALL: &[ReduceKind] = ReduceKind::ALL;

#[test]
fn reduce_empty_inputs_give_identities() {
    let empty = f64s(&[0, 3], vec![]);
    let out = |kind| {
        let p = partial(kind, &empty, &[0], Some(&ctx(&[0, 0], &[0, 3]))).unwrap();
        finalize(kind, &p, &[0], false)
    };
    assert_eq!(out(ReduceKind::Sum).unwrap(), f64s(&[3], vec![0.0; 3]));
    assert_eq!(out(ReduceKind::Prod).unwrap(), f64s(&[3], vec![1.0; 3]));
    assert_eq!(
        out(ReduceKind::Min).unwrap(),
        f64s(&[3], vec![f64::INFINITY; 3])
    );
    assert_eq!(
        out(ReduceKind::Max).unwrap(),
        f64s(&[3], vec![f64::NEG_INFINITY; 3])
    );
    assert_eq!(
        out(ReduceKind::Any).unwrap(),
        Chunk::Bool(ArrayD::from_elem(IxDyn(&[3]), false))
    );
    assert_eq!(
        out(ReduceKind::All).unwrap(),
        Chunk::Bool(ArrayD::from_elem(IxDyn(&[3]), true))
    );
    assert_eq!(
        out(ReduceKind::CountNonzero).unwrap(),
        Chunk::I64(ArrayD::zeros(IxDyn(&[3])))
    );
    for kind in [
        ReduceKind::Mean,
        ReduceKind::NanMean,
        ReduceKind::Var { ddof: 0.0 },
        ReduceKind::NanMin,
    ] {
        let Chunk::F64(a) = out(kind).unwrap() else {
            panic!()
        };
        assert!(a.iter().all(|v| v.is_nan()), "{kind:?}");
    }
    assert!(
        out(ReduceKind::ArgMin).is_err(),
        "argmin of an empty sequence"
    );
    // An empty integer sum is a zero i64, and an all-axes reduction of nothing works.
    let ints = Chunk::I16(ArrayD::zeros(IxDyn(&[2, 0])));
    let p = partial(ReduceKind::Sum, &ints, &[0, 1], None).unwrap();
    assert_eq!(
        finalize(ReduceKind::Sum, &p, &[0, 1], false).unwrap(),
        Chunk::I64(ArrayD::zeros(IxDyn(&[])))
    );
    let p = partial(ReduceKind::Min, &ints, &[0, 1], None).unwrap();
    assert_eq!(p, Chunk::I16(ArrayD::from_elem(IxDyn(&[1, 1]), i16::MAX)));
}

#[test]
fn reduce_ties_go_to_the_first_index_across_blocks() {
    // 2x4 array in a 2x2 grid of blocks; the minimum 0 appears at flat 6 (block
    // (1,1)) and flat 2 (block (0,1)), the maximum 9 at flat 4 (block (1,0)) and 1.
    let a = array![[5.0, 9.0, 0.0, 3.0], [9.0, 7.0, 0.0, 1.0]].into_dyn();
    let block = |r: usize, c: usize| {
        let b = a
            .slice(ndarray::s![r..r + 1, 2 * c..2 * c + 2])
            .to_owned()
            .into_dyn();
        (Chunk::F64(b), vec![r, 2 * c])
    };
    // Merge in an order that puts the later flat index first.
    let blocks = [block(1, 1), block(1, 0), block(0, 1), block(0, 0)];
    let argmin = reduce(ReduceKind::ArgMin, &blocks, &[2, 4], &[0, 1]).unwrap();
    assert_eq!(argmin, Chunk::I64(ArrayD::from_elem(IxDyn(&[]), 2)));
    let argmax = reduce(ReduceKind::ArgMax, &blocks, &[2, 4], &[0, 1]).unwrap();
    assert_eq!(argmax, Chunk::I64(ArrayD::from_elem(IxDyn(&[]), 1)));
    // Along axis 0, column 2 ties (0, 0): index 0.
    let cols = [block(0, 1), block(1, 1)];
    let along = reduce(ReduceKind::ArgMin, &cols, &[2, 4], &[0]).unwrap();
    assert_eq!(along, Chunk::I64(array![0, 1].into_dyn()));
}

#[test]
fn reduce_nan_propagates_or_is_skipped() {
    let nan = f64::NAN;
    let x = f64s(&[6], vec![2.0, nan, -1.0, nan, 4.0, -1.0]);
    let blocks = [(x.clone(), vec![0])];
    let run = |kind| scalar_f64(&reduce(kind, &blocks, &[6], &[0]).unwrap());
    assert!(run(ReduceKind::Min).is_nan() && run(ReduceKind::Max).is_nan());
    assert!(run(ReduceKind::Sum).is_nan() && run(ReduceKind::Mean).is_nan());
    assert_eq!(run(ReduceKind::NanMin), -1.0);
    assert_eq!(run(ReduceKind::NanMax), 4.0);
    assert_eq!(run(ReduceKind::NanSum), 4.0);
    assert_eq!(run(ReduceKind::NanMean), 1.0);
    assert_eq!(run(ReduceKind::NanVar { ddof: 0.0 }), 4.5);
    let idx = |kind| reduce(kind, &blocks, &[6], &[0]).unwrap();
    assert_eq!(
        idx(ReduceKind::ArgMin),
        Chunk::I64(ArrayD::from_elem(IxDyn(&[]), 1))
    );
    assert_eq!(
        idx(ReduceKind::ArgMax),
        Chunk::I64(ArrayD::from_elem(IxDyn(&[]), 1))
    );
    // All-NaN: the nan* kinds give NaN, not an identity.
    let all_nan = [
        (f64s(&[2], vec![nan, nan]), vec![0]),
        (f64s(&[1], vec![nan]), vec![2]),
    ];
    for kind in [
        ReduceKind::NanMin,
        ReduceKind::NanMax,
        ReduceKind::NanMean,
        ReduceKind::NanVar { ddof: 0.0 },
    ] {
        assert!(
            scalar_f64(&reduce(kind, &all_nan, &[3], &[0]).unwrap()).is_nan(),
            "{kind:?}"
        );
    }
    assert_eq!(
        scalar_f64(&reduce(ReduceKind::NanSum, &all_nan, &[3], &[0]).unwrap()),
        0.0
    );
}

#[test]
fn reduce_ddof_edges_give_nan_not_infinity() {
    let one = [(f64s(&[1], vec![3.0]), vec![0])];
    assert_eq!(
        scalar_f64(&reduce(ReduceKind::Var { ddof: 0.0 }, &one, &[1], &[0]).unwrap()),
        0.0
    );
    assert!(scalar_f64(&reduce(ReduceKind::Var { ddof: 1.0 }, &one, &[1], &[0]).unwrap()).is_nan());
    assert!(scalar_f64(&reduce(ReduceKind::Std { ddof: 2.0 }, &one, &[1], &[0]).unwrap()).is_nan());
    let xs = [
        (f64s(&[2], vec![1.0, 2.0]), vec![0]),
        (f64s(&[2], vec![3.0, 4.0]), vec![2]),
    ];
    let std1 = scalar_f64(&reduce(ReduceKind::Std { ddof: 1.0 }, &xs, &[4], &[0]).unwrap());
    assert!((std1 - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
    assert!(result_dtype(ReduceKind::Var { ddof: f64::NAN }, DType::F64).is_err());
    let p = partial(ReduceKind::Var { ddof: 0.0 }, &xs[0].0, &[0], None).unwrap();
    assert!(finalize(
        ReduceKind::Var {
            ddof: f64::INFINITY
        },
        &p,
        &[0],
        false
    )
    .is_err());
}

#[test]
fn reduce_result_dtypes_follow_numpy() {
    use DType::{Bool, F32, F64, I64, I8, U16, U64};
    let rd = |k, d| result_dtype(k, d).unwrap();
    assert_eq!(rd(ReduceKind::Sum, Bool), I64);
    assert_eq!(rd(ReduceKind::Prod, U16), U64);
    assert_eq!(rd(ReduceKind::NanSum, F32), F32);
    assert_eq!(rd(ReduceKind::Min, I8), I8);
    assert_eq!(rd(ReduceKind::NanMax, Bool), Bool);
    assert_eq!(rd(ReduceKind::ArgMax, F32), I64);
    assert_eq!(rd(ReduceKind::All, F64), Bool);
    assert_eq!(rd(ReduceKind::Mean, Bool), F64);
    assert_eq!(rd(ReduceKind::NanStd { ddof: 1.0 }, F32), F32);
    assert_eq!(rd(ReduceKind::Var { ddof: 0.0 }, I64), F64);
    // finalize_for gives exactly result_dtype, for every kind and dtype.
    for &kind in ALL {
        for dtype in DType::ALL {
            let input = Chunk::zeros(dtype, &[2, 3]);
            let p = partial(kind, &input, &[1], Some(&ctx(&[0, 0], &[2, 3]))).unwrap();
            assert_eq!(
                p.nbytes(),
                partial_nbytes(kind, dtype, 2),
                "{kind:?} {dtype}"
            );
            let out = finalize_for(kind, &p, &[1], true, dtype).unwrap();
            assert_eq!(out.dtype(), Some(rd(kind, dtype)), "{kind:?} {dtype}");
            assert_eq!(out.shape(), &[2, 1]);
        }
    }
    let f32_mean = partial(
        ReduceKind::Mean,
        &Chunk::F32(array![1.0f32, 2.0].into_dyn()),
        &[0],
        None,
    )
    .unwrap();
    assert_eq!(
        finalize(ReduceKind::Mean, &f32_mean, &[0], false)
            .unwrap()
            .dtype(),
        Some(F64)
    );
    let out = finalize_for(ReduceKind::Mean, &f32_mean, &[0], false, F32).unwrap();
    assert_eq!(out, Chunk::F32(ArrayD::from_elem(IxDyn(&[]), 1.5)));
}

#[test]
fn reduce_integer_sums_wrap_and_bools_count() {
    let big = Chunk::I64(array![i64::MAX, 1, 1].into_dyn());
    let p = partial(ReduceKind::Sum, &big, &[0], None).unwrap();
    assert_eq!(
        finalize(ReduceKind::Sum, &p, &[0], false).unwrap(),
        Chunk::I64(ArrayD::from_elem(IxDyn(&[]), i64::MIN + 1))
    );
    let bools = Chunk::Bool(array![[true, false], [true, true]].into_dyn());
    let p = partial(ReduceKind::Sum, &bools, &[0], None).unwrap();
    assert_eq!(p, Chunk::I64(array![[2, 1]].into_dyn()));
    let p = partial(ReduceKind::Mean, &bools, &[0, 1], None).unwrap();
    assert_eq!(
        scalar_f64(&finalize(ReduceKind::Mean, &p, &[0, 1], false).unwrap()),
        0.75
    );
    let u = Chunk::U8(array![200u8, 100].into_dyn());
    let p = partial(ReduceKind::Sum, &u, &[0], None).unwrap();
    assert_eq!(p, Chunk::U64(array![300u64].into_dyn()));
}

/// Equal, except that sums of squared deviations may round differently when a block
/// is read in another memory order (the values here make every other sum exact).
fn assert_same_up_to_order(got: &Chunk, want: &Chunk, what: &str) {
    match (got, want) {
        (
            Chunk::Partial(Partial::Moments { count, mean, m2 }),
            Chunk::Partial(Partial::Moments {
                count: c,
                mean: m,
                m2: q,
            }),
        ) => {
            assert!(count == c && mean == m, "{what}");
            assert!(
                m2.iter()
                    .zip(q)
                    .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs()),
                "{what}"
            );
        }
        _ => assert_eq!(got, want, "{what}"),
    }
}

#[test]
fn reduce_any_layout_gives_the_same_partial() {
    let c = ArrayD::from_shape_fn(IxDyn(&[3, 4, 5]), |i| {
        (i[0] * 31 + i[1] * 7 + i[2] * 3) as f64 % 11.0 - 5.0
    });
    let fortran =
        ArrayD::from_shape_vec(IxDyn(&[3, 4, 5]).f(), c.t().iter().copied().collect()).unwrap();
    assert_eq!(fortran, c);
    let strided = {
        let wide = ArrayD::from_shape_fn(IxDyn(&[3, 8, 5]), |i| {
            if i[1] % 2 == 0 {
                c[[i[0], i[1] / 2, i[2]]]
            } else {
                f64::NAN
            }
        });
        wide.slice_move(ndarray::s![.., ..;2, ..]).into_dyn()
    };
    assert!(strided.as_slice().is_none() && fortran.as_slice().is_none());
    for &kind in ALL {
        for axes in [&[0usize][..], &[1], &[2], &[0, 2], &[0, 1, 2]] {
            if kind.is_arg() && axes.len() == 2 {
                continue;
            }
            let arg = ctx(&[0, 0, 0], &[3, 4, 5]);
            let want = partial(kind, &Chunk::F64(c.clone()), axes, Some(&arg)).unwrap();
            for other in [&fortran, &strided] {
                let got = partial(kind, &Chunk::F64(other.clone()), axes, Some(&arg)).unwrap();
                assert_same_up_to_order(&got, &want, &format!("{kind:?} over {axes:?}"));
            }
        }
    }
}

#[test]
fn reduce_every_bad_input_is_an_error() {
    let x = f64s(&[2, 3], vec![1.0; 6]);
    let c = ctx(&[0, 0], &[2, 3]);
    let sum = ReduceKind::Sum;
    let p_sum = partial(sum, &x, &[1], None).unwrap();
    let p_mean = partial(ReduceKind::Mean, &x, &[1], None).unwrap();
    // partial
    assert!(partial(sum, &Chunk::Unit, &[0], None).is_err());
    assert!(partial(sum, &p_mean, &[0], None).is_err());
    for axes in [&[1usize, 0][..], &[0, 0], &[2]] {
        assert!(partial(sum, &x, axes, None).is_err(), "{axes:?}");
    }
    assert!(
        partial(ReduceKind::ArgMin, &x, &[0], None).is_err(),
        "no context"
    );
    assert!(
        partial(ReduceKind::ArgMin, &x, &[], Some(&c)).is_err(),
        "no axis of two"
    );
    assert!(
        partial(ReduceKind::ArgMax, &x, &[0], Some(&ctx(&[1, 0], &[2, 3]))).is_err(),
        "outside"
    );
    // merge
    assert!(merge(sum, &[]).is_err());
    let other_shape = partial(sum, &f64s(&[3, 2], vec![1.0; 6]), &[1], None).unwrap();
    assert!(merge(sum, &[&p_sum, &other_shape]).is_err());
    assert!(merge(sum, &[&p_sum, &p_mean]).is_err());
    assert!(merge(ReduceKind::Mean, &[&p_sum]).is_err());
    assert!(merge(ReduceKind::Var { ddof: 0.0 }, &[&p_mean]).is_err());
    assert!(merge(ReduceKind::ArgMin, &[&p_sum]).is_err());
    assert!(merge(ReduceKind::Any, &[&p_sum]).is_err());
    assert!(merge(sum, &[&Chunk::I32(ArrayD::zeros(IxDyn(&[2, 1])))]).is_err());
    let p_i32 = partial(sum, &Chunk::I32(ArrayD::zeros(IxDyn(&[2, 3]))), &[1], None).unwrap();
    assert!(
        merge(sum, &[&p_sum, &p_i32]).is_err(),
        "f64 and i64 partials"
    );
    let torn = Chunk::Partial(Partial::SumCount {
        sum: ArrayD::zeros(IxDyn(&[2, 1])),
        count: ArrayD::zeros(IxDyn(&[3])),
    });
    assert!(merge(ReduceKind::Mean, &[&p_mean, &torn]).is_err());
    // finalize
    assert!(finalize(ReduceKind::Mean, &p_sum, &[1], false).is_err());
    assert!(finalize(sum, &p_mean, &[1], false).is_err());
    assert!(
        finalize(sum, &p_sum, &[0], false).is_err(),
        "axis 0 has length 2"
    );
    assert!(finalize(sum, &p_sum, &[2], false).is_err());
    assert!(finalize(ReduceKind::Any, &p_sum, &[1], false).is_err());
    assert!(finalize(sum, &Chunk::Unit, &[], false).is_err());
    assert!(
        finalize_for(sum, &p_sum, &[1], false, DType::I32).is_err(),
        "i32 sums are i64"
    );
    assert!(finalize(ReduceKind::Mean, &torn, &[1], false).is_err());
}

#[test]
fn reduce_keepdims_false_drops_only_reduced_axes() {
    let x = f64s(&[2, 3, 4], (0..24).map(f64::from).collect());
    let p = partial(ReduceKind::Max, &x, &[0, 2], None).unwrap();
    assert_eq!(p.shape(), &[1, 3, 1]);
    assert_eq!(
        finalize(ReduceKind::Max, &p, &[0, 2], true)
            .unwrap()
            .shape(),
        &[1, 3, 1]
    );
    assert_eq!(
        finalize(ReduceKind::Max, &p, &[0, 2], false).unwrap(),
        f64s(&[3], vec![15.0, 19.0, 23.0])
    );
    let p = partial(ReduceKind::Sum, &x, &[], None).unwrap();
    assert_eq!(
        finalize(ReduceKind::Sum, &p, &[], false).unwrap(),
        x,
        "reducing no axis"
    );
}
