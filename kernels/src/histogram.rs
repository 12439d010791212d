//! Counting kernels: the histogram of one block over given bin edges (NumPy's
//! rule: bins are half-open `[e[i], e[i+1])` except the last, which is closed;
//! NaN and values outside the edges are not counted).

use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, IxDyn, Zip};

/// Why `edges` are not valid bin edges, if they are not: at least two, finite,
/// and non-decreasing (NumPy's "monotonically increasing").
#[must_use]
pub fn edges_problem(edges: &[f64]) -> Option<String> {
    if edges.len() < 2 {
        return Some(format!(
            "bin edges need at least 2 values (one bin), got {}",
            edges.len()
        ));
    }
    if let Some(e) = edges.iter().find(|e| !e.is_finite()) {
        return Some(format!("bin edges must be finite, got {e}"));
    }
    if let Some(i) = edges.windows(2).position(|w| w[1] < w[0]) {
        return Some(format!(
            "bin edges must increase: edge {} ({}) is below edge {i} ({})",
            i + 1,
            edges[i + 1],
            edges[i]
        ));
    }
    None
}

/// The bin of `v`, if it is counted.
fn bin_of(v: f64, edges: &[f64]) -> Option<usize> {
    let last = *edges.last()?;
    if v.is_nan() || v < edges[0] || v > last {
        return None;
    }
    if v == last {
        // The last bin is closed; skip empty bins of repeated last edges.
        return Some(edges.partition_point(|&e| e < last).max(1) - 1);
    }
    Some(edges.partition_point(|&e| e <= v) - 1)
}

/// The histogram of every element of `data` over `edges`, as a `[1, bins]`
/// row: counts in `i64`, or sums of `weights` (same shape as `data`) in `f64`.
///
/// # Errors
/// Invalid edges, non-data chunks, weights that are not `f64` or of another
/// shape.
pub fn histogram(data: &Chunk, weights: Option<&Chunk>, edges: &[f64]) -> Result<Chunk> {
    if let Some(p) = edges_problem(edges) {
        return Err(KernelError::Other(p));
    }
    let bins = edges.len() - 1;
    let dtype = data.dtype().ok_or_else(|| crate::layout::not_data(data))?;
    let values: ArrayD<f64> = crate::dispatch_dtype!(dtype, T => {
        crate::dtype::Element::view_chunk(data)
            .map(|a: ndarray::ArrayViewD<'_, T>| a.mapv(crate::dtype::Element::to_f64))
            .ok_or_else(|| crate::layout::not_data(data))?
    });
    match weights {
        None => {
            let mut out = vec![0i64; bins];
            for &v in &values {
                if let Some(b) = bin_of(v, edges) {
                    out[b] += 1;
                }
            }
            Ok(Chunk::I64(
                ArrayD::from_shape_vec(IxDyn(&[1, bins]), out).expect("bins elements"),
            ))
        }
        Some(Chunk::F64(w)) => {
            if w.shape() != values.shape() {
                return Err(KernelError::Shape {
                    expected: values.shape().to_vec(),
                    got: w.shape().to_vec(),
                });
            }
            let mut out = vec![0.0f64; bins];
            // Standard (C) order on both sides, so sums are in element order.
            Zip::from(&values).and(w).for_each(|&v, &wt| {
                if let Some(b) = bin_of(v, edges) {
                    out[b] += wt;
                }
            });
            Ok(Chunk::F64(
                ArrayD::from_shape_vec(IxDyn(&[1, bins]), out).expect("bins elements"),
            ))
        }
        Some(other) => Err(KernelError::DType {
            expected: "float64 weights".into(),
            got: format!("{:?}", other.dtype()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn naive(v: &[f64], edges: &[f64]) -> Vec<i64> {
        let n = edges.len() - 1;
        let mut out = vec![0; n];
        for &x in v {
            for i in 0..n {
                let hit = if i + 1 == n {
                    x >= edges[i] && x <= edges[i + 1]
                } else {
                    x >= edges[i] && x < edges[i + 1]
                };
                if hit {
                    out[i] += 1;
                    break;
                }
            }
        }
        out
    }

    fn counts(c: &Chunk) -> Vec<i64> {
        match c {
            Chunk::I64(a) => a.iter().copied().collect(),
            _ => panic!("{c:?}"),
        }
    }

    #[test]
    fn counts_match_naive_with_closed_last_bin() {
        let edges = [0.0, 1.0, 2.5, 4.0];
        let v = [0.0, 0.5, 1.0, 2.5, 3.9, 4.0, 4.1, -0.1, f64::NAN];
        let c = histogram(&Chunk::F64(arr1(&v).into_dyn()), None, &edges).unwrap();
        assert_eq!(counts(&c), naive(&v, &edges));
        assert_eq!(counts(&c), vec![2, 1, 3]);
        // Sizes 0 and 1.
        let e = histogram(&Chunk::F64(arr1(&[] as &[f64]).into_dyn()), None, &edges).unwrap();
        assert_eq!(counts(&e), vec![0, 0, 0]);
        let one = histogram(&Chunk::I32(arr1(&[2]).into_dyn()), None, &edges).unwrap();
        assert_eq!(counts(&one), vec![0, 1, 0]);
    }

    #[test]
    fn weights_sum_per_bin() {
        let v = Chunk::F64(arr1(&[0.5, 1.5, 1.7, 9.0]).into_dyn());
        let w = Chunk::F64(arr1(&[1.0, 2.0, 0.5, 7.0]).into_dyn());
        let h = histogram(&v, Some(&w), &[0.0, 1.0, 2.0]).unwrap();
        assert_eq!(h, Chunk::F64(ndarray::arr2(&[[1.0, 2.5]]).into_dyn()));
    }

    #[test]
    fn bad_edges_are_named() {
        assert!(edges_problem(&[1.0]).is_some());
        assert!(edges_problem(&[0.0, f64::NAN]).is_some());
        assert!(edges_problem(&[0.0, 2.0, 1.0]).unwrap().contains("edge 2"));
        assert!(edges_problem(&[0.0, 0.0, 1.0]).is_none());
    }
}
