//! `unique` with counts: the sorted distinct values of a block and how often
//! each occurs, and the merge of several such results. NaN (any float not
//! equal to itself) collapses into one entry at the end, as NumPy >= 1.21;
//! `-0.0` and `0.0` are one value, reported as `0.0`.
//!
//! A result travels as a [`Partial::Arg`]: its `value` chunk is the 1-d
//! distinct values in the input's dtype and its `index` the 1-d `i64` counts,
//! or, for NumPy's `return_index` ([`unique_first_part`], [`unique_first_merge`]),
//! the flat C-order index of each value's first occurrence.
//! That variant already carries "values of any dtype plus `i64`s" through
//! memory accounting and the wire, so `unique` needs no variant of its own.

use crate::chunk::{Chunk, Partial};
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, IxDyn};
use std::cmp::Ordering;

/// Ascending with NaN last and every NaN equal.
fn order<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    #[allow(clippy::eq_op)]
    match (a != a, b != b) {
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    }
}

fn pack<T: Element>(values: Vec<T>, counts: Vec<i64>) -> Chunk {
    let n = values.len();
    Chunk::Partial(Partial::Arg {
        value: Box::new(T::into_chunk(
            ArrayD::from_shape_vec(IxDyn(&[n]), values).expect("n values"),
        )),
        index: ArrayD::from_shape_vec(IxDyn(&[n]), counts).expect("n counts"),
    })
}

/// The values and counts of a `unique` result.
///
/// # Errors
/// A chunk that is not a `unique` result.
pub fn unpack(c: &Chunk) -> Result<(&Chunk, &ArrayD<i64>)> {
    match c {
        Chunk::Partial(Partial::Arg { value, index })
            if value.shape().len() == 1 && index.ndim() == 1 && value.shape() == index.shape() =>
        {
            Ok((value, index))
        }
        other => Err(KernelError::Other(format!(
            "unique: expected values and counts, got a chunk of shape {:?}",
            other.shape()
        ))),
    }
}

/// `x`, with `-0.0` as `0.0`: the two are one value, reported as `0.0`.
fn canonical<T: Element>(x: T) -> T {
    let zero = T::from_f64(0.0);
    if x == zero {
        zero
    } else {
        x
    }
}

/// Sorted `(value, number)` pairs collapsed to one entry per distinct value
/// (NaN equal to NaN), the numbers of a value combined by `combine`.
fn collapse<T: Element>(
    sorted: impl IntoIterator<Item = (T, i64)>,
    combine: Combine,
) -> (Vec<T>, Vec<i64>) {
    let mut values: Vec<T> = Vec::new();
    let mut numbers: Vec<i64> = Vec::new();
    for (x, k) in sorted {
        match (values.last(), numbers.last_mut()) {
            (Some(last), Some(n)) if order(last, &x) == Ordering::Equal => {
                *n = combine.apply(*n, k);
            }
            _ => {
                values.push(x);
                numbers.push(k);
            }
        }
    }
    (values, numbers)
}

fn part<T: Element>(a: &ArrayD<T>) -> Chunk {
    let mut v: Vec<T> = a.iter().map(|&x| canonical(x)).collect();
    v.sort_unstable_by(order);
    let (values, counts) = collapse(v.into_iter().map(|x| (x, 1)), Combine::Sum);
    pack(values, counts)
}

fn first_part<T: Element>(a: &ArrayD<T>, flat: &ArrayD<i64>) -> Chunk {
    let mut v: Vec<(T, i64)> = a
        .iter()
        .zip(flat)
        .map(|(&x, &i)| (canonical(x), i))
        .collect();
    v.sort_unstable_by(|p, q| order(&p.0, &q.0));
    let (values, first) = collapse(v, Combine::Min);
    pack(values, first)
}

/// The sorted distinct values of `data` (any shape) with the flat index of
/// each one's first occurrence, read from `flat` (an `i64` block of `data`'s
/// shape holding each element's flat index in the whole array).
///
/// # Errors
/// A chunk without data, or `flat` not an `i64` block of `data`'s shape.
pub fn unique_first_part(data: &Chunk, flat: &Chunk) -> Result<Chunk> {
    let flat = match flat {
        Chunk::I64(f) if f.shape() == data.shape() => f,
        Chunk::I64(f) => {
            return Err(KernelError::Shape {
                expected: data.shape().to_vec(),
                got: f.shape().to_vec(),
            })
        }
        other => {
            return Err(KernelError::DType {
                expected: "int64 flat indices".into(),
                got: format!("{:?}", other.dtype()),
            })
        }
    };
    crate::map_chunk!(data, a => Ok(first_part(a, flat)), _ => Err(KernelError::Other("unique: a block without data".into())))
}

/// The sorted distinct values of `data` (any shape) with their counts.
///
/// # Errors
/// A chunk without data.
pub fn unique_part(data: &Chunk) -> Result<Chunk> {
    crate::map_chunk!(data, a => Ok(part(a)), _ => Err(KernelError::Other("unique: a block without data".into())))
}

/// How two entries of one value merge: counts add, first indices take the
/// smaller.
#[derive(Clone, Copy)]
enum Combine {
    Sum,
    Min,
}

impl Combine {
    fn apply(self, a: i64, b: i64) -> i64 {
        match self {
            Combine::Sum => a + b,
            Combine::Min => a.min(b),
        }
    }
}

fn merge_two<T: Element>(
    a: (&[T], &[i64]),
    b: (&[T], &[i64]),
    combine: Combine,
) -> (Vec<T>, Vec<i64>) {
    let (mut i, mut j) = (0, 0);
    let mut values = Vec::with_capacity(a.0.len() + b.0.len());
    let mut counts = Vec::with_capacity(a.0.len() + b.0.len());
    while i < a.0.len() || j < b.0.len() {
        let o = if i == a.0.len() {
            Ordering::Greater
        } else if j == b.0.len() {
            Ordering::Less
        } else {
            order(&a.0[i], &b.0[j])
        };
        match o {
            Ordering::Less => {
                values.push(a.0[i]);
                counts.push(a.1[i]);
                i += 1;
            }
            Ordering::Greater => {
                values.push(b.0[j]);
                counts.push(b.1[j]);
                j += 1;
            }
            Ordering::Equal => {
                values.push(a.0[i]);
                counts.push(combine.apply(a.1[i], b.1[j]));
                i += 1;
                j += 1;
            }
        }
    }
    (values, counts)
}

fn merge_typed<T: Element>(parts: &[(&Chunk, &ArrayD<i64>)], combine: Combine) -> Result<Chunk> {
    let mut acc: (Vec<T>, Vec<i64>) = (Vec::new(), Vec::new());
    for (values, counts) in parts {
        let v = T::view_chunk(values).ok_or_else(|| KernelError::DType {
            expected: format!("{:?}", T::DTYPE),
            got: format!("{:?}", values.dtype()),
        })?;
        let v: Vec<T> = v.iter().copied().collect();
        let c: Vec<i64> = counts.iter().copied().collect();
        acc = merge_two((&acc.0, &acc.1), (&v, &c), combine);
    }
    Ok(pack(acc.0, acc.1))
}

/// The union of several `unique` results (in order; the result does not
/// depend on it), counts of equal values summed.
///
/// # Errors
/// No inputs, inputs that are not `unique` results, or of different dtypes.
pub fn unique_merge(inputs: &[&Chunk]) -> Result<Chunk> {
    merge(inputs, Combine::Sum)
}

/// The union of several [`unique_first_part`] results, keeping each value's
/// smallest first index (the result does not depend on the inputs' order).
///
/// # Errors
/// As [`unique_merge`].
pub fn unique_first_merge(inputs: &[&Chunk]) -> Result<Chunk> {
    merge(inputs, Combine::Min)
}

fn merge(inputs: &[&Chunk], combine: Combine) -> Result<Chunk> {
    let parts: Vec<(&Chunk, &ArrayD<i64>)> =
        inputs.iter().map(|c| unpack(c)).collect::<Result<_>>()?;
    let first = parts
        .first()
        .ok_or_else(|| KernelError::Other("unique_merge: no inputs".into()))?;
    let dtype = first
        .0
        .dtype()
        .ok_or_else(|| KernelError::Other("unique_merge: values without data".into()))?;
    crate::dispatch_dtype!(dtype, T => merge_typed::<T>(&parts, combine))
}

fn inverse_typed<T: Element>(a: &ArrayD<T>, values: &Chunk) -> Result<Chunk> {
    let v = T::view_chunk(values).ok_or_else(|| KernelError::DType {
        expected: format!("{:?} values", T::DTYPE),
        got: format!("{:?}", values.dtype()),
    })?;
    let v: Vec<T> = v.iter().copied().collect();
    let mut out = Vec::with_capacity(a.len());
    for &x in a {
        let x = canonical(x);
        let i = v.binary_search_by(|u| order(u, &x)).map_err(|_| {
            KernelError::Other(format!("unique_inverse: {x:?} is not among the values"))
        })?;
        out.push(i64::try_from(i).expect("a position fits i64"));
    }
    Ok(Chunk::I64(
        ArrayD::from_shape_vec(a.raw_dim(), out).expect("one index per element"),
    ))
}

/// The position of each element of `data` among `values` (a `unique` result's
/// sorted values, of `data`'s dtype): NumPy's `unique_inverse`, block by block.
///
/// # Errors
/// Values of another dtype, or an element that is not among them.
pub fn inverse(data: &Chunk, values: &Chunk) -> Result<Chunk> {
    crate::map_chunk!(data, a => inverse_typed(a, values), _ => Err(KernelError::Other("unique_inverse: a block without data".into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn f(c: &Chunk) -> (Vec<f64>, Vec<i64>) {
        let (v, n) = unpack(c).unwrap();
        match v {
            Chunk::F64(a) => (a.iter().copied().collect(), n.iter().copied().collect()),
            _ => panic!("{v:?}"),
        }
    }

    #[test]
    fn part_sorts_counts_and_collapses_nan() {
        let x = arr1(&[3.0, f64::NAN, -0.0, 1.0, 3.0, f64::NAN, 0.0]).into_dyn();
        let (v, n) = f(&unique_part(&Chunk::F64(x)).unwrap());
        assert_eq!(v.len(), 4);
        assert_eq!(&v[..3], &[0.0, 1.0, 3.0]);
        assert!(v[0].is_sign_positive());
        assert!(v[3].is_nan());
        assert_eq!(n, vec![2, 1, 2, 2]);
        let (v, n) = f(&unique_part(&Chunk::F64(arr1(&[] as &[f64]).into_dyn())).unwrap());
        assert!(v.is_empty() && n.is_empty());
    }

    #[test]
    fn merge_sums_counts_in_any_grouping() {
        let a = unique_part(&Chunk::F64(arr1(&[2.0, f64::NAN, 1.0]).into_dyn())).unwrap();
        let b = unique_part(&Chunk::F64(arr1(&[f64::NAN, 5.0, 1.0, 1.0]).into_dyn())).unwrap();
        let e = unique_part(&Chunk::F64(arr1(&[] as &[f64]).into_dyn())).unwrap();
        let m = unique_merge(&[&a, &e, &b]).unwrap();
        let (v, n) = f(&m);
        assert_eq!(&v[..3], &[1.0, 2.0, 5.0]);
        assert!(v[3].is_nan());
        assert_eq!(n, vec![3, 1, 1, 2]);
        let m2 = unique_merge(&[&b, &a]).unwrap();
        assert_eq!(format!("{m:?}"), format!("{m2:?}"));
        let i = unique_part(&Chunk::I64(
            arr1(&[i64::MAX, i64::MAX - 1, i64::MAX]).into_dyn(),
        ))
        .unwrap();
        let (v, n) = unpack(&i).unwrap();
        assert_eq!(v, &Chunk::I64(arr1(&[i64::MAX - 1, i64::MAX]).into_dyn()));
        assert_eq!(n, &arr1(&[1, 2]).into_dyn());
        assert!(unique_merge(&[&a, &i]).is_err());
    }

    #[test]
    fn first_index_is_the_smallest_position_in_any_grouping() {
        let flat = |v: &[i64]| Chunk::I64(arr1(v).into_dyn());
        let a = unique_first_part(
            &Chunk::F64(arr1(&[2.0, f64::NAN, 1.0, 2.0]).into_dyn()),
            &flat(&[9, 4, 7, 3]),
        )
        .unwrap();
        let b = unique_first_part(
            &Chunk::F64(arr1(&[f64::NAN, -0.0, 1.0]).into_dyn()),
            &flat(&[5, 1, 8]),
        )
        .unwrap();
        let (v, i) = f(&unique_first_merge(&[&a, &b]).unwrap());
        assert_eq!(&v[..3], &[0.0, 1.0, 2.0]);
        assert!(v[3].is_nan());
        assert_eq!(i, vec![1, 7, 3, 4]);
        let m2 = unique_first_merge(&[&b, &a]).unwrap();
        assert_eq!(format!("{:?}", f(&m2)), format!("{:?}", (v, i)));
        assert!(unique_first_part(&Chunk::F64(arr1(&[1.0]).into_dyn()), &flat(&[1, 2])).is_err());
    }

    #[test]
    fn inverse_finds_each_element() {
        let x = Chunk::F64(ndarray::arr2(&[[3.0, f64::NAN], [-0.0, 3.0]]).into_dyn());
        let (v, _) = unpack(&unique_part(&x).unwrap())
            .map(|(v, c)| (v.clone(), c.clone()))
            .unwrap();
        let inv = inverse(&x, &v).unwrap();
        assert_eq!(inv, Chunk::I64(ndarray::arr2(&[[1, 2], [0, 1]]).into_dyn()));
        let missing = Chunk::F64(arr1(&[7.0]).into_dyn());
        assert!(inverse(&missing, &v).is_err());
    }
}
