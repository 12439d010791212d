//! The naive whole-array reference for every reduction kind, and the comparison
//! with its stated tolerances (see `oracle.rs`).

use super::super::elem::{Acc, Elem};
use super::super::result_dtype;
use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::reduce::kind::ReduceKind;
use crate::scalar::Scalar;
use ndarray::{ArrayD, IxDyn};

/// Values of each output element (keepdims shape, C order), each with the index
/// argmin reports for it.
fn groups<T: Element>(a: &ArrayD<T>, axes: &[usize]) -> (Vec<usize>, Vec<Vec<(T, i64)>>) {
    let nd = a.ndim();
    let out: Vec<usize> = (0..nd)
        .map(|d| if axes.contains(&d) { 1 } else { a.shape()[d] })
        .collect();
    let mut groups = vec![Vec::new(); out.iter().product()];
    for (flat, (idx, &x)) in a.indexed_iter().enumerate() {
        let o = (0..nd).fold(0, |o, d| {
            o * out[d] + if axes.contains(&d) { 0 } else { idx[d] }
        });
        let arg = if axes.len() == 1 { idx[axes[0]] } else { flat };
        groups[o].push((x, i64::try_from(arg).unwrap()));
    }
    (out, groups)
}

fn arr<U>(shape: &[usize], v: Vec<U>) -> ArrayD<U> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn floats(dtype: DType, shape: &[usize], v: Vec<f64>) -> Chunk {
    let a = ArrayD::from_shape_vec(IxDyn(shape), v).unwrap();
    #[allow(clippy::cast_possible_truncation)]
    let out = if dtype == DType::F32 {
        Chunk::F32(a.mapv(|x| x as f32))
    } else {
        Chunk::F64(a)
    };
    out
}

/// The naive result and the per-element scale of its rounding error; `None` where
/// NumPy raises (arg of an empty sequence).
#[allow(clippy::too_many_lines, clippy::cast_precision_loss)]
pub(super) fn reference<T: Elem>(
    kind: ReduceKind,
    a: &ArrayD<T>,
    axes: &[usize],
) -> Option<(Chunk, Vec<f64>)> {
    use ReduceKind as K;
    let (shape, groups) = groups(a, axes);
    let float_in = T::DTYPE.is_float();
    let nan_kind = kind.skips_nan();
    let xs = |g: &Vec<(T, i64)>| -> Vec<T> {
        g.iter()
            .map(|p| p.0)
            .filter(|x| !(nan_kind && x.is_nan()))
            .collect()
    };
    let mut scale = vec![0.0; groups.len()];
    let out = match kind {
        K::Sum | K::NanSum | K::Prod => {
            let prod = kind == K::Prod;
            let v: Vec<T::SumAcc> = groups
                .iter()
                .zip(&mut scale)
                .map(|(g, s)| {
                    let xs = xs(g);
                    if float_in {
                        let f = xs.iter().map(|x| x.to_f64());
                        let v: f64 = if prod { f.product() } else { f.sum() };
                        *s = if prod {
                            v.abs()
                        } else {
                            xs.iter().map(|x| x.to_f64().abs()).sum()
                        };
                        T::SumAcc::from_f64(v)
                    } else if prod {
                        xs.iter().fold(T::SumAcc::ONE, |p, x| p.mul(x.widen()))
                    } else {
                        xs.iter().fold(T::SumAcc::ZERO, |p, x| p.add(x.widen()))
                    }
                })
                .collect();
            T::SumAcc::into_chunk(arr(&shape, v))
        }
        K::Min | K::Max | K::NanMin | K::NanMax => {
            let max = matches!(kind, K::Max | K::NanMax);
            let v: Vec<T> = groups
                .iter()
                .map(|g| {
                    let xs = xs(g);
                    if let Some(&nan) = xs.iter().find(|x| x.is_nan()) {
                        return nan;
                    }
                    let empty = match T::NAN {
                        Some(nan) if nan_kind => nan,
                        _ if max => T::BOTTOM,
                        _ => T::TOP,
                    };
                    xs.into_iter()
                        .reduce(|m, x| {
                            if (max && x > m) || (!max && x < m) {
                                x
                            } else {
                                m
                            }
                        })
                        .unwrap_or(empty)
                })
                .collect();
            T::into_chunk(arr(&shape, v))
        }
        K::ArgMin | K::ArgMax => {
            let mut v = Vec::new();
            for g in &groups {
                let first = *g.first()?;
                let best = g.iter().copied().fold(first, |b, (x, i)| {
                    let better = if kind == K::ArgMax { x > b.0 } else { x < b.0 };
                    if !b.0.is_nan() && (x.is_nan() || better) {
                        (x, i)
                    } else {
                        b
                    }
                });
                v.push(best.1);
            }
            Chunk::I64(arr(&shape, v))
        }
        K::Any => Chunk::Bool(arr(
            &shape,
            groups
                .iter()
                .map(|g| g.iter().any(|p| p.0.is_nonzero()))
                .collect(),
        )),
        K::All => Chunk::Bool(arr(
            &shape,
            groups
                .iter()
                .map(|g| g.iter().all(|p| p.0.is_nonzero()))
                .collect(),
        )),
        K::CountNonzero => Chunk::I64(arr(
            &shape,
            groups
                .iter()
                .map(|g| g.iter().filter(|p| p.0.is_nonzero()).count() as i64)
                .collect(),
        )),
        K::Mean | K::NanMean => {
            let v = groups
                .iter()
                .zip(&mut scale)
                .map(|(g, s)| {
                    let xs = xs(g);
                    let n = xs.len() as f64;
                    *s = xs.iter().map(|x| x.to_f64().abs()).sum::<f64>() / n;
                    xs.iter().map(|x| x.to_f64()).sum::<f64>() / n
                })
                .collect();
            floats(result_dtype(kind, T::DTYPE).unwrap(), &shape, v)
        }
        K::Var { ddof } | K::Std { ddof } | K::NanVar { ddof } | K::NanStd { ddof } => {
            let v = groups
                .iter()
                .zip(&mut scale)
                .map(|(g, s)| {
                    let xs: Vec<f64> = xs(g).iter().map(|x| x.to_f64()).collect();
                    let n = xs.len() as f64;
                    let mean = xs.iter().sum::<f64>() / n;
                    let m2: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
                    *s = xs.iter().map(|x| x * x).sum::<f64>() / (n - ddof).max(1.0);
                    let var = if n - ddof > 0.0 {
                        m2 / (n - ddof)
                    } else {
                        f64::NAN
                    };
                    if kind.is_deviation() {
                        var.sqrt()
                    } else {
                        var
                    }
                })
                .collect();
            floats(result_dtype(kind, T::DTYPE).unwrap(), &shape, v)
        }
    };
    Some((out, scale))
}

pub(super) fn tolerance(kind: ReduceKind, dtype: DType) -> f64 {
    match (dtype, kind) {
        (DType::F32, ReduceKind::Sum | ReduceKind::NanSum) => 1e-5,
        (DType::F32, ReduceKind::Prod) => 1e-4,
        (DType::F32, _) => 1e-6,
        _ => 1e-12,
    }
}

/// Every element as bits, so float results can be compared exactly (NaN included).
pub(super) fn bits(c: &Chunk) -> Vec<u64> {
    let of = |s: Scalar| match s {
        Scalar::Bool(b) => u64::from(b),
        Scalar::Int(i) => i.cast_unsigned(),
        Scalar::UInt(u) => u,
        Scalar::Float(f) => f.to_bits(),
    };
    crate::map_chunk!(c, a => a.iter().map(|&x| of(Scalar::of(x))).collect(), _ => panic!("not data: {c:?}"))
}

pub(super) fn assert_close(kind: ReduceKind, got: &Chunk, want: &Chunk, scale: &[f64], tol: f64) {
    assert_eq!(got.dtype(), want.dtype(), "{kind:?}");
    assert_eq!(got.shape(), want.shape(), "{kind:?}");
    let as_f64 = |c: &Chunk| -> Option<Vec<f64>> {
        match c {
            Chunk::F64(a) => Some(a.iter().copied().collect()),
            Chunk::F32(a) => Some(a.iter().map(|&x| f64::from(x)).collect()),
            _ => None,
        }
    };
    let (Some(g), Some(w)) = (as_f64(got), as_f64(want)) else {
        assert_eq!(got, want, "{kind:?}");
        return;
    };
    let squared = kind.is_deviation();
    for ((&g, &w), &s) in g.iter().zip(&w).zip(scale) {
        let (g, w) = if squared { (g * g, w * w) } else { (g, w) };
        let ok = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * s;
        assert!(ok, "{kind:?}: got {g}, want {w} (scale {s}, tol {tol})");
    }
}
