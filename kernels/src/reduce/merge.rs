//! Second stage: partials of neighbouring blocks folded into one, in the order given.

use super::elem::{Acc, Elem};
use super::extreme::{pick, Extreme};
use super::moments::merge_moments;
use super::{describe, view};
use crate::chunk::{Chunk, Partial};
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use crate::reduce::kind::ReduceKind;
use ndarray::{ArrayD, Zip};

/// Merges partials of neighbouring blocks (all of the same shape), folding them in
/// the order given. Merges are exact for integer kinds, and min/max/arg merges do not
/// depend on the order (ties go to the smaller index; only the sign of a zero minimum
/// can); float sums and moments round in the order given, which the graph fixes, so
/// results are reproducible.
///
/// # Errors
/// If `parts` is empty, the parts differ in shape or variant, or a part is not the
/// partial `kind` produces.
pub fn merge(kind: ReduceKind, parts: &[&Chunk]) -> Result<Chunk> {
    let Some((&first, rest)) = parts.split_first() else {
        return Err(KernelError::Other(format!(
            "{kind:?}: merge of no partials"
        )));
    };
    for p in rest {
        if p.shape() != first.shape() {
            return Err(KernelError::Shape {
                expected: first.shape().to_vec(),
                got: p.shape().to_vec(),
            });
        }
        if std::mem::discriminant(*p) != std::mem::discriminant(first) {
            return Err(KernelError::DType {
                expected: describe(first),
                got: describe(p),
            });
        }
    }
    match kind {
        ReduceKind::Sum | ReduceKind::NanSum => sum_family(parts, false),
        ReduceKind::Prod => sum_family(parts, true),
        ReduceKind::CountNonzero => fold::<i64>(parts, i64::wrapping_add),
        ReduceKind::Any => fold::<bool>(parts, |a, b| a || b),
        ReduceKind::All => fold::<bool>(parts, |a, b| a && b),
        ReduceKind::Min => extreme::<false, false>(parts),
        ReduceKind::Max => extreme::<true, false>(parts),
        ReduceKind::NanMin => extreme::<false, true>(parts),
        ReduceKind::NanMax => extreme::<true, true>(parts),
        ReduceKind::Mean | ReduceKind::NanMean => sum_counts(parts),
        ReduceKind::Var { .. }
        | ReduceKind::Std { .. }
        | ReduceKind::NanVar { .. }
        | ReduceKind::NanStd { .. } => {
            let moments = parts
                .iter()
                .map(|p| match p {
                    Chunk::Partial(Partial::Moments { count, mean, m2 }) => Ok((count, mean, m2)),
                    other => Err(expected("a Moments partial", other)),
                })
                .collect::<Result<Vec<_>>>()?;
            check_same_shapes(
                moments
                    .iter()
                    .flat_map(|&(c, m, s)| [c.shape(), m.shape(), s.shape()]),
            )?;
            Ok(Chunk::Partial(merge_moments(&moments)))
        }
        ReduceKind::ArgMin => arg::<false>(parts),
        ReduceKind::ArgMax => arg::<true>(parts),
    }
}

fn expected(what: &str, got: &Chunk) -> KernelError {
    KernelError::DType {
        expected: what.into(),
        got: describe(got),
    }
}

/// Checks that every array inside the partials has the same shape (the chunk-level
/// check only sees the first array of each partial).
fn check_same_shapes<'a>(mut shapes: impl Iterator<Item = &'a [usize]>) -> Result<()> {
    let Some(first) = shapes.next() else {
        return Ok(());
    };
    match shapes.find(|s| *s != first) {
        Some(s) => Err(KernelError::Shape {
            expected: first.to_vec(),
            got: s.to_vec(),
        }),
        None => Ok(()),
    }
}

/// Folds data partials of type `T` elementwise with `f`, first to last.
fn fold<T: Element>(parts: &[&Chunk], f: impl Fn(T, T) -> T) -> Result<Chunk> {
    let mut acc: ArrayD<T> = view::<T>(parts[0])?.to_owned();
    for &p in &parts[1..] {
        // Shapes were checked equal, so the zip cannot panic.
        acc.zip_mut_with(&view::<T>(p)?, |a, &b| *a = f(*a, b));
    }
    Ok(T::into_chunk(acc))
}

/// Sums or products: the partial holds an accumulator dtype.
fn sum_family(parts: &[&Chunk], product: bool) -> Result<Chunk> {
    fn go<A: Acc>(parts: &[&Chunk], product: bool) -> Result<Chunk> {
        if product {
            fold::<A>(parts, A::mul)
        } else {
            fold::<A>(parts, A::add)
        }
    }
    match parts[0].dtype() {
        Some(DType::I64) => go::<i64>(parts, product),
        Some(DType::U64) => go::<u64>(parts, product),
        Some(DType::F32) => go::<f32>(parts, product),
        Some(DType::F64) => go::<f64>(parts, product),
        _ => Err(expected(
            "an int64, uint64, float32 or float64 partial",
            parts[0],
        )),
    }
}

fn extreme<const MAX: bool, const SKIP_NAN: bool>(parts: &[&Chunk]) -> Result<Chunk> {
    let dtype = parts[0]
        .dtype()
        .ok_or_else(|| expected("a data partial", parts[0]))?;
    crate::dispatch_dtype!(dtype, T => fold::<T>(parts, Extreme::<MAX, SKIP_NAN>::step::<T>))
}

fn sum_counts(parts: &[&Chunk]) -> Result<Chunk> {
    let mut pairs = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Chunk::Partial(Partial::SumCount { sum, count }) => pairs.push((sum, count)),
            other => return Err(expected("a SumCount partial", other)),
        }
    }
    check_same_shapes(pairs.iter().flat_map(|&(s, c)| [s.shape(), c.shape()]))?;
    let (mut sum, mut count) = (pairs[0].0.clone(), pairs[0].1.clone());
    for &(s, c) in &pairs[1..] {
        sum += s;
        count += c;
    }
    Ok(Chunk::Partial(Partial::SumCount { sum, count }))
}

fn arg<const MAX: bool>(parts: &[&Chunk]) -> Result<Chunk> {
    let mut args = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Chunk::Partial(Partial::Arg { value, index }) => args.push((&**value, index)),
            other => return Err(expected("an Arg partial", other)),
        }
    }
    let dtype = args[0]
        .0
        .dtype()
        .ok_or_else(|| expected("an Arg partial with data values", args[0].0))?;
    for &(v, i) in &args {
        if v.dtype() != Some(dtype) {
            return Err(KernelError::DType {
                expected: dtype.numpy_name().into(),
                got: describe(v),
            });
        }
        if v.shape() != i.shape() {
            return Err(KernelError::Shape {
                expected: i.shape().to_vec(),
                got: v.shape().to_vec(),
            });
        }
    }
    check_same_shapes(args.iter().map(|(_, i)| i.shape()))?;
    crate::dispatch_dtype!(dtype, T => arg_typed::<T, MAX>(&args))
}

fn arg_typed<T: Elem, const MAX: bool>(args: &[(&Chunk, &ArrayD<i64>)]) -> Result<Chunk> {
    let mut value = view::<T>(args[0].0)?.to_owned();
    let mut index = args[0].1.clone();
    for &(v, i) in &args[1..] {
        let v = view::<T>(v)?;
        Zip::from(&mut value)
            .and(&mut index)
            .and(&v)
            .and(i)
            .for_each(|va, ia, &vb, &ib| {
                // A negative index marks an empty block (see `partial`).
                let a = (*va, (*ia >= 0).then_some(*ia));
                let b = (vb, (ib >= 0).then_some(ib));
                let (v, i) = pick::<T, i64, MAX>(a, b);
                (*va, *ia) = (v, i.unwrap_or(-1));
            });
    }
    Ok(Chunk::Partial(Partial::Arg {
        value: Box::new(T::into_chunk(value)),
        index,
    }))
}
