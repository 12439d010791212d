//! Stencils on a block grown by halos: each output element is computed from
//! its neighbours along some axes, and the halos are dropped. The halos are
//! there already (gathered with the boundary condition applied), so a kernel
//! here only needs to know how wide they are.

use crate::chunk::Chunk;
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, ArrayViewD, Axis, Slice, Zip};
use num_traits::Float;
use serde::{Deserialize, Serialize};

/// A built-in stencil.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StencilOp {
    /// Correlation with `weights` along each of `axes` in turn (a separable
    /// filter, as `scipy.ndimage.correlate1d` applied axis after axis): output
    /// `i` is `sum_j weights[j] * x[i + j - center]`. The halo along each axis
    /// is `(center, len - 1 - center)`.
    Correlate {
        /// The weights.
        weights: Vec<f64>,
        /// The weight applied to `x[i]` (SciPy's `len / 2 + origin`).
        center: usize,
        /// The axes, in the order they are filtered.
        axes: Vec<usize>,
    },
    /// The sum over every axis of the second difference `x[i-1] - 2 x[i] +
    /// x[i+1]` (`scipy.ndimage.laplace`): halos of one on every axis.
    Laplace,
    /// NumPy's `gradient` along `axis` with sample distance `spacing`: central
    /// differences inside, one-sided at a side whose halo is absent (the array's
    /// end).
    Gradient {
        /// The axis.
        axis: usize,
        /// Distance between samples.
        spacing: f64,
    },
}

impl StencilOp {
    /// The halo `(before, after)` this stencil needs along each of `ndim` axes.
    #[must_use]
    pub fn halo(&self, ndim: usize) -> Vec<(usize, usize)> {
        match self {
            StencilOp::Correlate {
                weights,
                center,
                axes,
            } => {
                let h = (*center, weights.len().saturating_sub(center + 1));
                (0..ndim)
                    .map(|ax| if axes.contains(&ax) { h } else { (0, 0) })
                    .collect()
            }
            StencilOp::Laplace => vec![(1, 1); ndim],
            StencilOp::Gradient { axis, .. } => (0..ndim)
                .map(|ax| if ax == *axis { (1, 1) } else { (0, 0) })
                .collect(),
        }
    }
}

/// Applies `op` to `input`, a block grown by `halo[ax] = (before, after)`
/// elements along each axis, and returns the block without them. `outside`
/// says how many of those halo elements lie outside the array; with
/// `cval: Some(c)` (a constant boundary) they are reset to `c` between the
/// passes of a separable filter, as SciPy pads each pass's input.
///
/// # Errors
/// A non-float input, or halos that do not fit the block or the stencil.
pub fn stencil(
    op: &StencilOp,
    input: &Chunk,
    halo: &[(usize, usize)],
    outside: &[(usize, usize)],
    cval: Option<f64>,
) -> Result<Chunk> {
    match input {
        Chunk::F64(a) => run(op, a.view(), halo, outside, cval).map(f64::into_chunk),
        Chunk::F32(a) => run(op, a.view(), halo, outside, cval).map(f32::into_chunk),
        other => Err(KernelError::DType {
            expected: "f32 or f64".into(),
            got: format!("{:?}", other.dtype()),
        }),
    }
}

fn bad(what: String) -> KernelError {
    KernelError::Other(format!("stencil: {what}"))
}

fn run<T: Element + Float>(
    op: &StencilOp,
    x: ArrayViewD<'_, T>,
    halo: &[(usize, usize)],
    outside: &[(usize, usize)],
    cval: Option<f64>,
) -> Result<ArrayD<T>> {
    let nd = x.ndim();
    if halo.len() != nd || outside.len() != nd {
        return Err(bad(format!("{} halos for a {nd}-d block", halo.len())));
    }
    for ax in 0..nd {
        let (lo, hi) = halo[ax];
        if lo + hi > x.len_of(Axis(ax)) || outside[ax].0 > lo || outside[ax].1 > hi {
            return Err(bad(format!(
                "halo {:?} (outside {:?}) on axis {ax} of length {}",
                halo[ax],
                outside[ax],
                x.len_of(Axis(ax))
            )));
        }
    }
    match op {
        StencilOp::Correlate {
            weights,
            center,
            axes,
        } => correlate(x, weights, *center, axes, halo, outside, cval),
        StencilOp::Laplace => {
            if halo.iter().any(|&h| h != (1, 1)) {
                return Err(bad(format!("laplace needs halos of 1, got {halo:?}")));
            }
            Ok(laplace(x))
        }
        StencilOp::Gradient { axis, spacing } => {
            if *axis >= nd {
                return Err(bad(format!("axis {axis} of a {nd}-d block")));
            }
            Ok(gradient(
                x,
                *axis,
                T::from(*spacing).unwrap_or_else(T::one),
                halo,
            ))
        }
    }
}

fn correlate<T: Element + Float>(
    x: ArrayViewD<'_, T>,
    weights: &[f64],
    center: usize,
    axes: &[usize],
    halo: &[(usize, usize)],
    outside: &[(usize, usize)],
    cval: Option<f64>,
) -> Result<ArrayD<T>> {
    let nd = x.ndim();
    let m = weights.len();
    if m == 0 || center >= m {
        return Err(bad(format!("center {center} of {m} weights")));
    }
    let want = (center, m - 1 - center);
    if axes.iter().any(|&ax| ax >= nd) {
        return Err(bad(format!("axes {axes:?} of a {nd}-d block")));
    }
    for (ax, &got) in halo.iter().enumerate() {
        let h = if axes.contains(&ax) { want } else { (0, 0) };
        if got != h {
            return Err(bad(format!(
                "halo {got:?} on axis {ax}, the weights need {h:?}"
            )));
        }
    }
    let w: Vec<T> = weights
        .iter()
        .map(|&v| T::from(v).unwrap_or_else(T::nan))
        .collect();
    // Each pass reads a C-contiguous array and writes a new one, walking
    // contiguous rows so the inner loops vectorize. The input is read in
    // place (no copy); a 2-d filter along both axes makes each output row
    // from one temporary row, never holding the intermediate block (fresh
    // block-sized allocations cost page faults that outweigh the arithmetic).
    let x = x.as_standard_layout();
    let cv = cval.map(|c| T::from(c).unwrap_or_else(T::nan));
    if nd == 2 && axes == [0, 1] {
        return Ok(correlate_rows(&x.view(), &w, outside[1], cv));
    }
    let mut cur: Option<ArrayD<T>> = None;
    for (k, &ax) in axes.iter().enumerate() {
        let mut out = match &cur {
            Some(c) => correlate_pass(&c.view(), ax, &w),
            None => correlate_pass(&x.view(), ax, &w),
        };
        // Constant boundary: the next pass pads *this* result with the
        // constant, so the halo parts outside the array go back to it.
        if let Some(c) = cv {
            for &next in &axes[k + 1..] {
                let len = out.len_of(Axis(next));
                let (lo, hi) = outside[next];
                out.slice_axis_mut(Axis(next), Slice::from(0..lo)).fill(c);
                out.slice_axis_mut(Axis(next), Slice::from(len - hi..len))
                    .fill(c);
            }
        }
        cur = Some(out);
    }
    Ok(cur.unwrap_or_else(|| x.into_owned()))
}

/// A 2-d correlation along axis 0 then axis 1 of a C-contiguous block, row
/// by row: each output row is axis 0's pass into a temporary row (whose
/// `outside` columns go back to the constant `cval`, if any), then axis 1's
/// pass of that row. The same sums, in the same order, as two full passes.
fn correlate_rows<T: Element + Float>(
    x: &ArrayViewD<'_, T>,
    w: &[T],
    outside: (usize, usize),
    cval: Option<T>,
) -> ArrayD<T> {
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let m = w.len();
    let (n0, n1) = (rows + 1 - m, cols + 1 - m);
    let src = x.as_slice().expect("standard layout");
    let mut out = ArrayD::<T>::zeros(vec![n0, n1]);
    let dst = out.as_slice_mut().expect("new array");
    let mut tmp = vec![T::zero(); cols];
    for i in 0..n0 {
        tmp.fill(T::zero());
        for (j, &wj) in w.iter().enumerate() {
            let row = &src[(i + j) * cols..(i + j + 1) * cols];
            for (t, &v) in tmp.iter_mut().zip(row) {
                *t = *t + wj * v;
            }
        }
        if let Some(c) = cval {
            tmp[..outside.0].fill(c);
            tmp[cols - outside.1..].fill(c);
        }
        let d = &mut dst[i * n1..(i + 1) * n1];
        for (j, &wj) in w.iter().enumerate() {
            for (d, &v) in d.iter_mut().zip(&tmp[j..j + n1]) {
                *d = *d + wj * v;
            }
        }
    }
    out
}

/// One correlation pass along `ax` of a C-contiguous array: output `i` is
/// `0 + w[0] x[i] + w[1] x[i + 1] + ...` (in that order) along the axis.
fn correlate_pass<T: Element + Float>(x: &ArrayViewD<'_, T>, ax: usize, w: &[T]) -> ArrayD<T> {
    let shape = x.shape();
    let len = shape[ax];
    let n = len + 1 - w.len();
    let outer: usize = shape[..ax].iter().product();
    let inner: usize = shape[ax + 1..].iter().product();
    let mut out_shape = shape.to_vec();
    out_shape[ax] = n;
    let mut out = ArrayD::<T>::zeros(out_shape);
    let src = x.as_slice().expect("standard layout");
    let dst = out.as_slice_mut().expect("new array");
    for o in 0..outer {
        let s = &src[o * len * inner..(o + 1) * len * inner];
        let d = &mut dst[o * n * inner..(o + 1) * n * inner];
        if inner == 1 {
            // Along the last axis: shifted rows.
            for (j, &wj) in w.iter().enumerate() {
                for (d, &v) in d.iter_mut().zip(&s[j..j + n]) {
                    *d = *d + wj * v;
                }
            }
        } else {
            for i in 0..n {
                let d = &mut d[i * inner..(i + 1) * inner];
                for (j, &wj) in w.iter().enumerate() {
                    let row = &s[(i + j) * inner..(i + j + 1) * inner];
                    for (d, &v) in d.iter_mut().zip(row) {
                        *d = *d + wj * v;
                    }
                }
            }
        }
    }
    out
}

fn laplace<T: Element + Float>(x: ArrayViewD<'_, T>) -> ArrayD<T> {
    if x.ndim() == 0 {
        return x.to_owned();
    }
    let x = x.as_standard_layout();
    let ext = x.shape().to_vec();
    let nd = ext.len();
    let src = x.as_slice().expect("standard layout");
    let interior: Vec<usize> = ext.iter().map(|&n| n - 2).collect();
    let mut out = ArrayD::<T>::zeros(interior.clone());
    // Element strides of the grown block.
    let mut stride = vec![1usize; nd];
    for a in (0..nd.saturating_sub(1)).rev() {
        stride[a] = stride[a + 1] * ext[a + 1];
    }
    let row = interior[nd - 1];
    let two = T::one() + T::one();
    let dst = out.as_slice_mut().expect("new array");
    let rows = dst.len().checked_div(row).unwrap_or(0);
    let mut idx = vec![0usize; nd.saturating_sub(1)];
    for r in 0..rows {
        // The grown block's offset of this interior row's first element.
        let base: usize = idx
            .iter()
            .zip(&stride)
            .map(|(&i, &s)| (i + 1) * s)
            .sum::<usize>()
            + 1;
        let d = &mut dst[r * row..(r + 1) * row];
        // Terms in axis order: ((t0 + t1) + t2) ...
        for (a, &sa) in stride.iter().enumerate() {
            let (l, c, rr) = (
                &src[base - sa..base - sa + row],
                &src[base..base + row],
                &src[base + sa..base + sa + row],
            );
            if a == 0 {
                for (((d, &l), &c), &rr) in d.iter_mut().zip(l).zip(c).zip(rr) {
                    *d = l - two * c + rr;
                }
            } else {
                for (((d, &l), &c), &rr) in d.iter_mut().zip(l).zip(c).zip(rr) {
                    *d = *d + (l - two * c + rr);
                }
            }
        }
        // Next interior row, last of the leading axes fastest.
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < interior[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

fn gradient<T: Element + Float>(
    x: ArrayViewD<'_, T>,
    axis: usize,
    h: T,
    halo: &[(usize, usize)],
) -> ArrayD<T> {
    let (lo, hi) = halo[axis];
    let len = x.len_of(Axis(axis));
    let n = len - lo - hi;
    let mut shape = x.shape().to_vec();
    shape[axis] = n;
    let mut out = ArrayD::<T>::zeros(shape);
    let two_h = (T::one() + T::one()) * h;
    let at = |p: usize| x.index_axis(Axis(axis), p);
    for i in 0..n {
        let p = i + lo;
        let mut o = out.index_axis_mut(Axis(axis), i);
        if p >= 1 && p + 1 < len {
            Zip::from(&mut o)
                .and(&at(p + 1))
                .and(&at(p - 1))
                .for_each(|o, &a, &b| *o = (a - b) / two_h);
        } else if p == 0 && len >= 2 {
            Zip::from(&mut o)
                .and(&at(1))
                .and(&at(0))
                .for_each(|o, &a, &b| *o = (a - b) / h);
        } else if p >= 1 {
            Zip::from(&mut o)
                .and(&at(p))
                .and(&at(p - 1))
                .for_each(|o, &a, &b| *o = (a - b) / h);
        } else {
            o.fill(T::nan());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    fn f64s(c: Chunk) -> ArrayD<f64> {
        f64::from_chunk(c).unwrap()
    }

    /// A 3-tap correlation of a block with halos of one, against the sum
    /// written out.
    #[test]
    fn correlate_1d_against_the_sum() {
        let x = Array1::from_iter((0..8).map(|v| f64::from(v * v))).into_dyn();
        let w = vec![0.25, 0.5, -1.0];
        let op = StencilOp::Correlate {
            weights: w.clone(),
            center: 1,
            axes: vec![0],
        };
        assert_eq!(op.halo(1), vec![(1, 1)]);
        let got =
            f64s(stencil(&op, &f64::into_chunk(x.clone()), &[(1, 1)], &[(0, 0)], None).unwrap());
        let want: Vec<f64> = (1..7)
            .map(|i| 0.0 + w[0] * x[i - 1] + w[1] * x[i] + w[2] * x[i + 1])
            .collect();
        assert_eq!(got.into_raw_vec_and_offset().0, want);
    }

    /// Even-length weights centre at len / 2: halos (2, 1) for four taps.
    #[test]
    fn even_weights_halo() {
        let op = StencilOp::Correlate {
            weights: vec![1.0; 4],
            center: 2,
            axes: vec![1],
        };
        assert_eq!(op.halo(2), vec![(0, 0), (2, 1)]);
        let x = ArrayD::from_elem(ndarray::IxDyn(&[2, 5]), 1.0);
        let got = f64s(
            stencil(
                &op,
                &f64::into_chunk(x),
                &[(0, 0), (2, 1)],
                &[(0, 0), (0, 0)],
                None,
            )
            .unwrap(),
        );
        assert_eq!(got, ArrayD::from_elem(ndarray::IxDyn(&[2, 2]), 4.0));
    }

    /// Laplace of x^2 + y^2 is 4 everywhere inside.
    #[test]
    fn laplace_of_a_paraboloid() {
        let x = ArrayD::from_shape_fn(ndarray::IxDyn(&[5, 6]), |i| {
            (i[0] * i[0] + i[1] * i[1]) as f64
        });
        let got = f64s(
            stencil(
                &StencilOp::Laplace,
                &f64::into_chunk(x),
                &[(1, 1), (1, 1)],
                &[(0, 0); 2],
                None,
            )
            .unwrap(),
        );
        assert_eq!(got, ArrayD::from_elem(ndarray::IxDyn(&[3, 4]), 4.0));
    }

    /// Gradient: central inside, one-sided where a halo is absent.
    #[test]
    fn gradient_edges_one_sided() {
        let x = array![1.0, 2.0, 4.0, 7.0, 11.0].into_dyn();
        let op = StencilOp::Gradient {
            axis: 0,
            spacing: 1.0,
        };
        let whole =
            f64s(stencil(&op, &f64::into_chunk(x.clone()), &[(0, 0)], &[(0, 0)], None).unwrap());
        assert_eq!(
            whole.into_raw_vec_and_offset().0,
            vec![1.0, 1.5, 2.5, 3.5, 4.0]
        );
        let inner = f64s(stencil(&op, &f64::into_chunk(x), &[(1, 1)], &[(0, 0)], None).unwrap());
        assert_eq!(inner.into_raw_vec_and_offset().0, vec![1.5, 2.5, 3.5]);
    }

    /// Bad halos and non-float blocks are errors.
    #[test]
    fn bad_input_is_an_error() {
        let x = f64::into_chunk(array![1.0, 2.0].into_dyn());
        assert!(stencil(&StencilOp::Laplace, &x, &[(2, 1)], &[(0, 0)], None).is_err());
        assert!(stencil(&StencilOp::Laplace, &x, &[(0, 0)], &[(0, 0)], None).is_err());
        let i = i32::into_chunk(array![1, 2, 3].into_dyn());
        assert!(stencil(&StencilOp::Laplace, &i, &[(1, 1)], &[(0, 0)], None).is_err());
    }
}
