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

/// Finds the bin of a value: by arithmetic for equal-width edges (a guess
/// from `(v - lo) * scale`, then corrected against the edges themselves, so
/// the answer is exactly the binary search's), else by binary search.
struct Binner<'a> {
    edges: &'a [f64],
    lo: f64,
    last: f64,
    scale: f64,
    uniform: bool,
    /// The bin of `v == last` (the last bin is closed; empty bins of repeated
    /// last edges are skipped).
    last_bin: usize,
}

impl<'a> Binner<'a> {
    /// `edges`: valid (see [`edges_problem`]).
    fn new(edges: &'a [f64]) -> Self {
        let bins = edges.len() - 1;
        let (lo, last) = (edges[0], edges[bins]);
        #[allow(clippy::cast_precision_loss)]
        let width = (last - lo) / bins as f64;
        #[allow(clippy::cast_precision_loss)]
        let uniform = width > 0.0
            && edges.windows(2).all(|w| w[1] > w[0])
            && edges
                .iter()
                .enumerate()
                .all(|(i, &e)| (e - (lo + width * i as f64)).abs() <= width * 1e-6);
        Binner {
            edges,
            lo,
            last,
            #[allow(clippy::cast_precision_loss)]
            scale: bins as f64 / (last - lo),
            uniform,
            last_bin: edges.partition_point(|&e| e < last).max(1) - 1,
        }
    }

    /// The bin of `v`, if it is counted.
    #[inline]
    fn bin(&self, v: f64) -> Option<usize> {
        // Also false for NaN.
        if !(v >= self.lo && v <= self.last) {
            return None;
        }
        if v == self.last {
            return Some(self.last_bin);
        }
        if !self.uniform {
            return Some(self.edges.partition_point(|&e| e <= v) - 1);
        }
        // Here lo <= v < last, and the edges strictly increase: the answer is
        // the one i with edges[i] <= v < edges[i + 1].
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mut b = (((v - self.lo) * self.scale) as usize).min(self.edges.len() - 2);
        while v < self.edges[b] {
            b -= 1;
        }
        while v >= self.edges[b + 1] {
            b += 1;
        }
        Some(b)
    }
}

/// The bin of `v`, if it is counted (the reference the fast path is tested
/// against).
#[cfg(test)]
fn bin_of(v: f64, edges: &[f64]) -> Option<usize> {
    let last = *edges.last()?;
    if v.is_nan() || v < edges[0] || v > last {
        return None;
    }
    if v == last {
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
    let binner = Binner::new(edges);
    let dtype = data.dtype().ok_or_else(|| crate::layout::not_data(data))?;
    let Some(weights) = weights else {
        // Counts do not depend on the order: walk memory, no f64 copy.
        let mut out = vec![0i64; bins];
        crate::dispatch_dtype!(dtype, T => {
            let a: ndarray::ArrayViewD<'_, T> = crate::dtype::Element::view_chunk(data)
                .ok_or_else(|| crate::layout::not_data(data))?;
            let mut count = |x: T| {
                if let Some(b) = binner.bin(crate::dtype::Element::to_f64(x)) {
                    out[b] += 1;
                }
            };
            match a.as_slice_memory_order() {
                Some(s) => s.iter().copied().for_each(&mut count),
                None => a.iter().copied().for_each(&mut count),
            }
        });
        return Ok(Chunk::I64(
            ArrayD::from_shape_vec(IxDyn(&[1, bins]), out).expect("bins elements"),
        ));
    };
    let values: ArrayD<f64> = crate::dispatch_dtype!(dtype, T => {
        crate::dtype::Element::view_chunk(data)
            .map(|a: ndarray::ArrayViewD<'_, T>| a.mapv(crate::dtype::Element::to_f64))
            .ok_or_else(|| crate::layout::not_data(data))?
    });
    match weights {
        Chunk::F64(w) => {
            if w.shape() != values.shape() {
                return Err(KernelError::Shape {
                    expected: values.shape().to_vec(),
                    got: w.shape().to_vec(),
                });
            }
            let mut out = vec![0.0f64; bins];
            // Standard (C) order on both sides, so sums are in element order.
            Zip::from(&values).and(w).for_each(|&v, &wt| {
                if let Some(b) = binner.bin(v) {
                    out[b] += wt;
                }
            });
            Ok(Chunk::F64(
                ArrayD::from_shape_vec(IxDyn(&[1, bins]), out).expect("bins elements"),
            ))
        }
        other => Err(KernelError::DType {
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

    /// The arithmetic bin finder gives the binary search's answer for
    /// equal-width edges made as NumPy makes them (`linspace`), over awkward
    /// ranges, at and next to every edge, and for non-uniform edges.
    #[test]
    fn fast_bins_equal_the_binary_search() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 11) as f64 / (1u64 << 53) as f64
        };
        let ranges = [
            (-5.0, 5.0),
            (0.1, 0.7),
            (-1e-300, 3e-300),
            (1e15, 1e15 + 7.0),
            (-3.0, 1e9),
        ];
        for &(lo, hi) in &ranges {
            for bins in [1usize, 2, 3, 7, 10, 100, 1000] {
                let step = (hi - lo) / bins as f64;
                let mut edges: Vec<f64> = (0..=bins).map(|i| lo + step * i as f64).collect();
                edges[bins] = hi;
                let mut probes: Vec<f64> = edges
                    .iter()
                    .flat_map(|&e| [e, e.next_down(), e.next_up()])
                    .collect();
                probes.extend((0..2000).map(|_| lo - step + (hi - lo + 2.0 * step) * next()));
                probes.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
                for skew in [false, true] {
                    let mut e = edges.clone();
                    if skew && bins > 2 {
                        e[1] = e[0] + (e[2] - e[0]) * 0.01;
                    }
                    let binner = Binner::new(&e);
                    if (lo, hi) == (-5.0, 5.0) {
                        assert_eq!(binner.uniform, !(skew && bins > 2), "{bins} bins");
                    }
                    for &v in &probes {
                        assert_eq!(
                            binner.bin(v),
                            bin_of(v, &e),
                            "v {v} edges {lo}..{hi} / {bins}"
                        );
                    }
                }
            }
        }
        // Repeated edges fall back to the binary search.
        let e = [0.0, 1.0, 1.0, 2.0, 2.0];
        let binner = Binner::new(&e);
        assert!(!binner.uniform);
        for v in [0.0, 0.5, 1.0, 1.5, 2.0] {
            assert_eq!(binner.bin(v), bin_of(v, &e));
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
