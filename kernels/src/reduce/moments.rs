//! Means and variances: the `SumCount` and `Moments` partials, Chan et al.'s merge,
//! and the final division.
//!
//! Within a block the moments are computed in two passes (the mean, then the sum of
//! squared deviations from it, both summed pairwise in `f64`), which is as accurate
//! as `var` in NumPy. Across blocks, Chan's formula combines them without
//! revisiting the data.

use super::elem::Elem;
use super::layout::{Layout, Reducer};
use super::sum::pairwise;
use crate::chunk::Partial;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, IxDyn, Zip};

/// `n` as `f64`; exact below 2^53 elements, far beyond any chunk.
#[inline]
#[allow(clippy::cast_precision_loss)]
fn count_f64(n: usize) -> f64 {
    n as f64
}

/// Sum (in `f64`) and count of the elements, leaving out NaN when `SKIP_NAN`.
pub(super) struct SumCount<const SKIP_NAN: bool>;

impl<T: Elem, const SKIP_NAN: bool> Reducer<T> for SumCount<SKIP_NAN> {
    type Acc = (f64, f64);
    fn identity(&self) -> (f64, f64) {
        (0.0, 0.0)
    }
    fn lane(&self, _out: usize, _start: usize, xs: &[T]) -> (f64, f64) {
        if SKIP_NAN && T::NAN.is_some() {
            let nans = xs.iter().filter(|x| x.is_nan()).count();
            let sum = pairwise(xs, &|x: T| if x.is_nan() { 0.0 } else { x.to_f64() });
            (sum, count_f64(xs.len() - nans))
        } else {
            (pairwise(xs, &|x: T| x.to_f64()), count_f64(xs.len()))
        }
    }
    fn row(&self, _out: usize, _start: usize, acc: &mut [(f64, f64)], xs: &[T]) {
        for (a, &x) in acc.iter_mut().zip(xs) {
            if !(SKIP_NAN && x.is_nan()) {
                a.0 += x.to_f64();
                a.1 += 1.0;
            }
        }
    }
    fn combine(&self, a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

/// Sum of squared deviations from each output element's mean (second pass).
struct SquaredDeviations<'a, const SKIP_NAN: bool> {
    means: &'a [f64],
}

impl<T: Elem, const SKIP_NAN: bool> Reducer<T> for SquaredDeviations<'_, SKIP_NAN> {
    type Acc = f64;
    fn identity(&self) -> f64 {
        0.0
    }
    fn lane(&self, out: usize, _start: usize, xs: &[T]) -> f64 {
        let m = self.means[out];
        pairwise(xs, &|x: T| {
            if SKIP_NAN && x.is_nan() {
                0.0
            } else {
                let d = x.to_f64() - m;
                d * d
            }
        })
    }
    fn row(&self, out: usize, _start: usize, acc: &mut [f64], xs: &[T]) {
        let means = &self.means[out..out + xs.len()];
        for ((a, &x), &m) in acc.iter_mut().zip(xs).zip(means) {
            if !(SKIP_NAN && x.is_nan()) {
                let d = x.to_f64() - m;
                *a += d * d;
            }
        }
    }
    fn combine(&self, a: f64, b: f64) -> f64 {
        a + b
    }
}

/// Wraps `v` (one value per output element) in an array of `shape`.
pub(super) fn to_array<T>(shape: &[usize], v: Vec<T>) -> Result<ArrayD<T>> {
    let got = v.len();
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|_| KernelError::Shape {
        expected: shape.to_vec(),
        got: vec![got],
    })
}

/// The `SumCount` partial of a block.
pub(super) fn sum_count<T: Elem, const SKIP_NAN: bool>(
    layout: &Layout,
    data: &[T],
) -> Result<Partial> {
    let acc = layout.run(data, &SumCount::<SKIP_NAN>);
    let (sum, count): (Vec<f64>, Vec<f64>) = acc.into_iter().unzip();
    Ok(Partial::SumCount {
        sum: to_array(layout.out_shape(), sum)?,
        count: to_array(layout.out_shape(), count)?,
    })
}

/// The `Moments` partial of a block. An element with no values has count, mean and
/// `m2` all 0, which the merge treats as empty.
pub(super) fn moments<T: Elem, const SKIP_NAN: bool>(
    layout: &Layout,
    data: &[T],
) -> Result<Partial> {
    let acc = layout.run(data, &SumCount::<SKIP_NAN>);
    let means: Vec<f64> = acc
        .iter()
        .map(|&(s, n)| if n > 0.0 { s / n } else { 0.0 })
        .collect();
    let m2 = layout.run(data, &SquaredDeviations::<SKIP_NAN> { means: &means });
    let count = acc.into_iter().map(|(_, n)| n).collect();
    Ok(Partial::Moments {
        count: to_array(layout.out_shape(), count)?,
        mean: to_array(layout.out_shape(), means)?,
        m2: to_array(layout.out_shape(), m2)?,
    })
}

/// Chan et al.'s combination of (count, mean, m2) of two disjoint sets.
#[inline]
pub(super) fn chan(a: (f64, f64, f64), b: (f64, f64, f64)) -> (f64, f64, f64) {
    let ((na, ma, m2a), (nb, mb, m2b)) = (a, b);
    if nb == 0.0 {
        return a;
    }
    if na == 0.0 {
        return b;
    }
    let n = na + nb;
    let delta = mb - ma;
    (
        n,
        ma + delta * (nb / n),
        m2a + m2b + delta * delta * (na * nb / n),
    )
}

/// Merges `Moments` partials in the order given, into the first.
pub(super) fn merge_moments(parts: &[(&ArrayD<f64>, &ArrayD<f64>, &ArrayD<f64>)]) -> Partial {
    let (c0, m0, s0) = parts[0];
    let (mut count, mut mean, mut m2) = (c0.clone(), m0.clone(), s0.clone());
    for &(c, m, s) in &parts[1..] {
        Zip::from(&mut count)
            .and(&mut mean)
            .and(&mut m2)
            .and(c)
            .and(m)
            .and(s)
            .for_each(|n, mu, q, &nb, &mb, &qb| {
                (*n, *mu, *q) = chan((*n, *mu, *q), (nb, mb, qb));
            });
    }
    Partial::Moments { count, mean, m2 }
}

/// `m2 / (count - ddof)`, or NaN where `count - ddof <= 0` (NumPy warns and gives NaN
/// or inf there; NaN is the one answer that cannot be mistaken for data).
pub(super) fn variance(count: f64, m2: f64, ddof: f64) -> f64 {
    let denominator = count - ddof;
    if denominator > 0.0 {
        m2 / denominator
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass(xs: &[f64]) -> (f64, f64, f64) {
        let n = count_f64(xs.len());
        let mean = xs.iter().sum::<f64>() / n;
        (n, mean, xs.iter().map(|x| (x - mean).powi(2)).sum())
    }

    #[test]
    fn reduce_chan_merge_equals_whole_and_handles_empty_sides() {
        let xs = [1.5, -2.0, 7.25, 3.0, 3.0, 10.0, -4.5];
        let whole = two_pass(&xs);
        for cut in 1..xs.len() {
            let (n, mean, m2) = chan(two_pass(&xs[..cut]), two_pass(&xs[cut..]));
            assert_eq!(n, whole.0);
            assert!((mean - whole.1).abs() < 1e-14 && (m2 - whole.2).abs() < 1e-12);
        }
        let empty = (0.0, 0.0, 0.0);
        assert_eq!(chan(empty, whole), whole);
        assert_eq!(chan(whole, empty), whole);
        assert_eq!(chan(empty, empty), empty);
    }

    #[test]
    fn reduce_variance_ddof_edges() {
        assert_eq!(variance(4.0, 8.0, 0.0), 2.0);
        assert_eq!(variance(4.0, 8.0, 1.0), 8.0 / 3.0);
        assert!(variance(1.0, 0.0, 1.0).is_nan(), "n == ddof");
        assert!(variance(2.0, 3.0, 5.0).is_nan(), "n < ddof");
        assert!(variance(0.0, 0.0, 0.0).is_nan(), "empty");
        assert_eq!(variance(0.0, 0.0, -1.0), 0.0, "NumPy: 0 / max(0 - -1, 0)");
    }

    #[test]
    fn reduce_moments_two_pass_in_lanes_and_rows() {
        // Rows of a 3x4 block: reducing axis 1 uses lanes, axis 0 uses rows.
        let data: Vec<f64> = vec![1., 2., 3., 4., 10., 20., 30., 40., -1., 0., f64::NAN, 5.];
        let lanes = moments::<f64, true>(&Layout::new(&[3, 4], &[1]), &data).unwrap();
        let Partial::Moments { count, mean, m2 } = lanes else {
            unreachable!()
        };
        assert_eq!(count.as_slice().unwrap(), &[4.0, 4.0, 3.0]);
        assert_eq!(mean.as_slice().unwrap(), &[2.5, 25.0, 4.0 / 3.0]);
        assert!((m2[[2, 0]] - two_pass(&[-1., 0., 5.]).2).abs() < 1e-12);
        let rows = moments::<f64, false>(&Layout::new(&[3, 4], &[0]), &data).unwrap();
        let Partial::Moments { count, mean, m2 } = rows else {
            unreachable!()
        };
        assert_eq!(count.as_slice().unwrap(), &[3.0; 4]);
        assert_eq!(mean[[0, 1]], 22.0 / 3.0);
        assert!((m2[[0, 3]] - two_pass(&[4., 40., 5.]).2).abs() < 1e-12);
        assert!(m2[[0, 2]].is_nan() && mean[[0, 2]].is_nan());
    }
}
