//! Sorting along one axis of a block: full sorts, argsorts and the k largest
//! (or smallest) per lane. NaN sorts last, as NumPy's; sorts are stable, so
//! equal values keep their order and every run gives the same bits.

use crate::chunk::Chunk;
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, Axis};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// What [`sort`] makes of each lane along the axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKind {
    /// The lane sorted ascending.
    Sort,
    /// The positions (i64) that sort the lane.
    ArgSort,
    /// `k > 0`: the `k` largest, descending; `k < 0`: the `-k` smallest,
    /// ascending (dask's `topk`). `|k|` is at most the lane's length.
    TopK(i64),
    /// The positions (i64, plus `offset`) of [`SortKind::TopK`]'s values.
    ArgTopK(i64, u64),
}

/// Ascending order with NaN (any float that is not equal to itself) last.
fn order<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    #[allow(clippy::eq_op)]
    match (a != a, b != b) {
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    }
}

/// Applies `kind` to every lane of `input` along `axis`.
///
/// # Errors
/// An axis out of range, a `k` of zero or longer than the lane, or a block
/// without data.
pub fn sort(input: &Chunk, axis: usize, kind: SortKind) -> Result<Chunk> {
    crate::map_chunk!(input, a => lanes(a, axis, kind), _ => Err(KernelError::Other("sort: a block without data".into())))
}

fn lanes<T: Element>(a: &ArrayD<T>, axis: usize, kind: SortKind) -> Result<Chunk> {
    if axis >= a.ndim() {
        return Err(KernelError::Other(format!(
            "sort: axis {axis} of a {}-d block",
            a.ndim()
        )));
    }
    let n = a.len_of(Axis(axis));
    let take = match kind {
        SortKind::Sort | SortKind::ArgSort => n,
        SortKind::TopK(k) | SortKind::ArgTopK(k, _) => {
            let m = usize::try_from(k.unsigned_abs()).unwrap_or(usize::MAX);
            if m == 0 || m > n {
                return Err(KernelError::Other(format!(
                    "topk: k = {k} for lanes of {n}"
                )));
            }
            m
        }
    };
    let mut shape = a.shape().to_vec();
    shape[axis] = take;
    let mut idx: Vec<usize> = Vec::with_capacity(n);
    // Positions of one lane in the order `kind` wants, the first `take` of them.
    let mut arrange = |lane: &ndarray::ArrayView1<'_, T>| -> Vec<usize> {
        idx.clear();
        idx.extend(0..n);
        match kind {
            SortKind::TopK(k) | SortKind::ArgTopK(k, _) if k > 0 => {
                // Largest first; NaN counts as the largest, as in NumPy's
                // sort (dask's topk keeps NaN too).
                idx.sort_by(|&i, &j| order(&lane[j], &lane[i]));
            }
            _ => idx.sort_by(|&i, &j| order(&lane[i], &lane[j])),
        }
        idx[..take].to_vec()
    };
    match kind {
        SortKind::Sort | SortKind::TopK(_) => {
            let mut out = ArrayD::<T>::default(shape);
            for (lane, mut o) in a
                .lanes(Axis(axis))
                .into_iter()
                .zip(out.lanes_mut(Axis(axis)))
            {
                for (dst, i) in o.iter_mut().zip(arrange(&lane)) {
                    *dst = lane[i];
                }
            }
            Ok(T::into_chunk(out))
        }
        SortKind::ArgSort | SortKind::ArgTopK(..) => {
            let offset = match kind {
                SortKind::ArgTopK(_, off) => off,
                SortKind::Sort | SortKind::TopK(_) | SortKind::ArgSort => 0,
            };
            let mut out = ArrayD::<i64>::zeros(shape);
            for (lane, mut o) in a
                .lanes(Axis(axis))
                .into_iter()
                .zip(out.lanes_mut(Axis(axis)))
            {
                for (dst, i) in o.iter_mut().zip(arrange(&lane)) {
                    *dst = i64::try_from(i as u64 + offset).unwrap_or(i64::MAX);
                }
            }
            Ok(i64::into_chunk(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn f(c: Chunk) -> Vec<f64> {
        f64::from_chunk(c).unwrap().into_raw_vec_and_offset().0
    }
    fn i(c: Chunk) -> Vec<i64> {
        i64::from_chunk(c).unwrap().into_raw_vec_and_offset().0
    }

    #[test]
    fn sorts_with_nan_last_and_stable_ties() {
        let x = f64::into_chunk(array![3.0, f64::NAN, 1.0, 3.0, -0.5].into_dyn());
        let s = f(sort(&x, 0, SortKind::Sort).unwrap());
        assert_eq!(&s[..4], &[-0.5, 1.0, 3.0, 3.0]);
        assert!(s[4].is_nan());
        assert_eq!(
            i(sort(&x, 0, SortKind::ArgSort).unwrap()),
            vec![4, 2, 0, 3, 1]
        );
        assert_eq!(f(sort(&x, 0, SortKind::TopK(-2)).unwrap()), vec![-0.5, 1.0]);
        let top = f(sort(&x, 0, SortKind::TopK(2)).unwrap());
        assert!(top[0].is_nan());
        assert_eq!(top[1], 3.0);
        assert_eq!(
            i(sort(&x, 0, SortKind::ArgTopK(-3, 10)).unwrap()),
            vec![14, 12, 10]
        );
    }

    #[test]
    fn along_an_axis_and_bad_k() {
        let x = i32::into_chunk(array![[3, 1, 2], [0, 5, 4]].into_dyn());
        let s = sort(&x, 1, SortKind::Sort).unwrap();
        assert_eq!(
            i32::from_chunk(s).unwrap(),
            array![[1, 2, 3], [0, 4, 5]].into_dyn()
        );
        let s = sort(&x, 0, SortKind::TopK(1)).unwrap();
        assert_eq!(i32::from_chunk(s).unwrap(), array![[3, 5, 4]].into_dyn());
        assert!(sort(&x, 2, SortKind::Sort).is_err());
        assert!(sort(&x, 1, SortKind::TopK(0)).is_err());
        assert!(sort(&x, 1, SortKind::TopK(4)).is_err());
    }
}
