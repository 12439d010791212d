//! NumPy's slice semantics, for code ported from Python: `x[a:b:c]` with
//! Python's clamping and negative steps.
//!
//! ndarray's `s![]` and NumPy's `x[...]` read the same for positive steps but
//! differ for negative ones: ndarray's `s![a..b;-1]` takes the elements of
//! `a..b` in reverse (`b-1, b-2, ..., a`), while NumPy's `x[b:a:-1]` starts at
//! `b` and stops before `a` (`b, b-1, ..., a+1`). And NumPy clamps bounds
//! beyond the axis (`x[2:100]` is `x[2:]`) where ndarray's `s![]` is an error.
//! [`DArray::slice`] follows ndarray; [`DArray::slice_np`] follows NumPy.

use super::DArray;
use crate::error::{Error, Result};
use darray_kernels::Element;
use ndarray::SliceInfoElem;

/// One entry of a NumPy-style index (see [`DArray::slice_np`]).
///
/// ndarray's `s![]` and NumPy's `x[...]` read the same for positive steps but
/// differ for negative ones: ndarray's `s![a..b;-1]` takes the elements of
/// `a..b` in reverse (`b-1, b-2, ..., a`), while NumPy's `x[b:a:-1]` starts at
/// `b` and stops before `a` (`b, b-1, ..., a+1`). And NumPy clamps bounds
/// beyond the axis (`x[2:100]` is `x[2:]`) where ndarray's `s![]` is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpIndex {
    /// `start:stop:step` with Python's rules: `None` bounds default by the
    /// step's sign, negative bounds count from the end, bounds beyond the
    /// axis are clamped.
    Slice {
        /// First element (`None`: 0, or the last one for a negative step).
        start: Option<isize>,
        /// Stop before this one (`None`: past the end in the step's direction).
        stop: Option<isize>,
        /// Not zero.
        step: isize,
    },
    /// One element (negative counts from the end); removes the axis.
    Index(isize),
    /// `np.newaxis`: a new axis of length 1.
    NewAxis,
}

impl NpIndex {
    /// `start:stop:step`.
    #[must_use]
    pub fn range(start: Option<isize>, stop: Option<isize>, step: isize) -> Self {
        NpIndex::Slice { start, stop, step }
    }

    /// `::-1`: the whole axis reversed.
    #[must_use]
    pub fn reversed() -> Self {
        NpIndex::Slice {
            start: None,
            stop: None,
            step: -1,
        }
    }

    /// `:`: the whole axis.
    #[must_use]
    pub fn all() -> Self {
        NpIndex::Slice {
            start: None,
            stop: None,
            step: 1,
        }
    }
}

/// Python's `slice(start, stop, step).indices(n)` as (first, count).
fn py_range(start: Option<isize>, stop: Option<isize>, step: isize, n: usize) -> (isize, usize) {
    let n = isize::try_from(n).expect("axis length fits isize");
    let clamp = |v: isize, lo: isize, hi: isize| v.clamp(lo, hi);
    let norm = |v: isize| if v < 0 { v + n } else { v };
    let (first, count) = if step > 0 {
        let s = start.map_or(0, |v| clamp(norm(v), 0, n));
        let e = stop.map_or(n, |v| clamp(norm(v), 0, n));
        (s, if e > s { (e - s - 1) / step + 1 } else { 0 })
    } else {
        let s = start.map_or(n - 1, |v| clamp(norm(v), -1, n - 1));
        let e = stop.map_or(-1, |v| clamp(norm(v), -1, n - 1));
        (s, if s > e { (s - e - 1) / (-step) + 1 } else { 0 })
    };
    (
        first,
        usize::try_from(count).expect("count is not negative"),
    )
}

impl<T: Element> DArray<T> {
    /// A basic slice with NumPy's semantics (see [`NpIndex`]): `x[b:a:-1]`
    /// starts at `b`, bounds beyond the axis are clamped, and axes not named
    /// are taken whole. [`DArray::slice`] takes ndarray's `s![]`, whose
    /// negative steps walk a range from its end instead: [`NpIndex`] says
    /// how the two differ.
    ///
    /// ```
    /// use darray::{DArray, NpIndex};
    /// let x = DArray::<f64>::arange(0.0, 10.0, 1.0, [4]).unwrap();
    /// // NumPy: x[7:2:-2] == [7, 5, 3]
    /// let y = x.slice_np(&[NpIndex::range(Some(7), Some(2), -2)]).unwrap();
    /// assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, vec![7.0, 5.0, 3.0]);
    /// // NumPy: x[::-1][:3] == [9, 8, 7]; x[5:100] == [5, ..., 9]
    /// let r = x.slice_np(&[NpIndex::reversed()]).unwrap();
    /// assert_eq!(r.slice_np(&[NpIndex::range(None, Some(3), 1)]).unwrap().compute().unwrap().len(), 3);
    /// assert_eq!(x.slice_np(&[NpIndex::range(Some(5), Some(100), 1)]).unwrap().shape(), &[5]);
    /// ```
    ///
    /// # Errors
    /// More indices than axes, a step of 0, an index out of bounds.
    pub fn slice_np(&self, index: &[NpIndex]) -> Result<DArray<T>> {
        let consumed = index
            .iter()
            .filter(|e| !matches!(e, NpIndex::NewAxis))
            .count();
        if consumed > self.ndim() {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("{consumed} indices for a {}-d array", self.ndim()),
            });
        }
        let mut elems = Vec::with_capacity(index.len());
        let mut ax = 0;
        for e in index {
            elems.push(match *e {
                NpIndex::NewAxis => SliceInfoElem::NewAxis,
                NpIndex::Index(i) => {
                    ax += 1;
                    SliceInfoElem::Index(i)
                }
                NpIndex::Slice { start, stop, step } => {
                    if step == 0 {
                        return Err(Error::InvalidArgument {
                            array: self.expr.name.clone(),
                            reason: format!("axis {ax}: slice step 0"),
                        });
                    }
                    let (first, count) = py_range(start, stop, step, self.expr.shape[ax]);
                    ax += 1;
                    let count = isize::try_from(count).expect("count fits isize");
                    if count == 0 {
                        SliceInfoElem::Slice {
                            start: 0,
                            end: Some(0),
                            step: 1,
                        }
                    } else if step > 0 {
                        SliceInfoElem::Slice {
                            start: first,
                            end: Some(first + (count - 1) * step + 1),
                            step,
                        }
                    } else {
                        // ndarray walks `lo..first + 1` from its end by |step|.
                        let lo = first + (count - 1) * step;
                        SliceInfoElem::Slice {
                            start: lo,
                            end: Some(first + 1),
                            step,
                        }
                    }
                }
            });
        }
        self.slice(elems)
    }
}

#[cfg(test)]
mod tests {
    use super::py_range;

    /// Against Python's `range(*slice(a, b, c).indices(n))`, written out.
    #[test]
    fn python_slice_indices() {
        type Case<'a> = (Option<isize>, Option<isize>, isize, usize, &'a [isize]);
        let cases: &[Case] = &[
            (None, None, 1, 5, &[0, 1, 2, 3, 4]),
            (None, None, -1, 5, &[4, 3, 2, 1, 0]),
            (Some(7), Some(2), -2, 10, &[7, 5, 3]),
            (Some(-1), None, -3, 10, &[9, 6, 3, 0]),
            (Some(2), Some(100), 3, 10, &[2, 5, 8]),
            (Some(100), Some(-100), -4, 10, &[9, 5, 1]),
            (Some(3), Some(3), 1, 10, &[]),
            (Some(-100), Some(2), 1, 10, &[0, 1]),
            (None, None, 2, 0, &[]),
            (None, None, -2, 0, &[]),
        ];
        for &(a, b, c, n, want) in cases {
            let (first, count) = py_range(a, b, c, n);
            let got: Vec<isize> = (0..count as isize).map(|k| first + k * c).collect();
            assert_eq!(got, want, "slice({a:?}, {b:?}, {c}) of {n}");
        }
    }
}
