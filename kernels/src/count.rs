//! Counting kernels beyond the 1-d histogram: the n-d histogram of a block
//! (NumPy's `histogramdd`), `bincount` rows, the value range of an integer
//! block, and `digitize`. [`CountOp`] names them (with `unique`'s steps in
//! [`crate::unique`]) so the task graph needs one op for the family.

use crate::chunk::Chunk;
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use serde::{Deserialize, Serialize};

/// One counting step on the blocks of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CountOp {
    /// The n-d histogram of one block per dimension (same shapes), as a
    /// `[1, cells]` row in C order of the bins: `i64` counts, or with
    /// `weighted` (one more `f64` input) `f64` sums of weights.
    HistogramDd {
        /// Bin edges per dimension (checked when the array was built).
        edges: Vec<Vec<f64>>,
        /// Whether a weights block follows the data blocks.
        weighted: bool,
    },
    /// The occurrences of `0..length` in an integer block as a `[1, length]`
    /// row (`i64`, or `f64` weight sums with `weighted`).
    Bincount {
        /// The row's length (larger than every value).
        length: usize,
        /// Whether a weights block follows.
        weighted: bool,
    },
    /// The minimum and maximum of an integer block as a `[1, 2]` `i64` row
    /// (`[i64::MAX, i64::MIN]` for an empty block).
    Range,
    /// The index of each element's bin (NumPy's `digitize`), an `i64` block.
    Digitize {
        /// Monotonic edges (checked when the array was built).
        bins: Vec<f64>,
        /// Bins closed on the right.
        right: bool,
    },
    /// The sorted distinct values of a block with their counts.
    UniquePart,
    /// The sorted distinct values of several [`CountOp::UniquePart`] results,
    /// counts summed.
    UniqueMerge,
    /// The sorted distinct values of a block with the flat index of each
    /// one's first occurrence; a second `i64` input holds every element's
    /// flat index in the whole array (NumPy's `return_index`).
    UniqueFirstPart,
    /// The sorted distinct values of several [`CountOp::UniqueFirstPart`]
    /// results, keeping the smallest first index.
    UniqueFirstMerge,
    /// The position of each element among `values` (NumPy's
    /// `unique_inverse`), an `i64` block of the input's shape.
    UniqueInverse {
        /// The sorted distinct values (a 1-d chunk of the input's dtype).
        values: Box<Chunk>,
    },
}

impl CountOp {
    /// A short name for descriptions.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            CountOp::HistogramDd { .. } => "histogramdd",
            CountOp::Bincount { .. } => "bincount",
            CountOp::Range => "int_range",
            CountOp::Digitize { .. } => "digitize",
            CountOp::UniquePart => "unique",
            CountOp::UniqueMerge => "unique_merge",
            CountOp::UniqueFirstPart => "unique_first",
            CountOp::UniqueFirstMerge => "unique_first_merge",
            CountOp::UniqueInverse { .. } => "unique_inverse",
        }
    }
}

/// Runs `op` on `inputs`.
///
/// # Errors
/// Inputs of the wrong number, dtype or shape; a negative value in
/// `bincount`'s data.
pub fn run(op: &CountOp, inputs: &[&Chunk]) -> Result<Chunk> {
    let arity = |n: usize| {
        if inputs.len() == n {
            Ok(())
        } else {
            Err(KernelError::Other(format!(
                "{}: {} inputs, expected {n}",
                op.name(),
                inputs.len()
            )))
        }
    };
    match op {
        CountOp::HistogramDd { edges, weighted } => {
            arity(edges.len() + usize::from(*weighted))?;
            let (data, w) = inputs.split_at(edges.len());
            histogramdd(data, w.first().copied(), edges)
        }
        CountOp::Bincount { length, weighted } => {
            arity(1 + usize::from(*weighted))?;
            bincount(inputs[0], inputs.get(1).copied(), *length)
        }
        CountOp::Range => {
            arity(1)?;
            int_range(inputs[0])
        }
        CountOp::Digitize { bins, right } => {
            arity(1)?;
            digitize(inputs[0], bins, *right)
        }
        CountOp::UniquePart => {
            arity(1)?;
            crate::unique::unique_part(inputs[0])
        }
        CountOp::UniqueMerge => crate::unique::unique_merge(inputs),
        CountOp::UniqueFirstPart => {
            arity(2)?;
            crate::unique::unique_first_part(inputs[0], inputs[1])
        }
        CountOp::UniqueFirstMerge => crate::unique::unique_first_merge(inputs),
        CountOp::UniqueInverse { values } => {
            arity(1)?;
            crate::unique::inverse(inputs[0], values)
        }
    }
}

fn as_f64(c: &Chunk) -> Result<ArrayD<f64>> {
    let dtype = c.dtype().ok_or_else(|| crate::layout::not_data(c))?;
    crate::dispatch_dtype!(dtype, T => {
        Element::view_chunk(c)
            .map(|a: ArrayViewD<'_, T>| a.mapv(Element::to_f64))
            .ok_or_else(|| crate::layout::not_data(c))
    })
}

fn f64_weights<'a>(w: &'a Chunk, shape: &[usize]) -> Result<&'a ArrayD<f64>> {
    match w {
        Chunk::F64(w) if w.shape() == shape => Ok(w),
        Chunk::F64(w) => Err(KernelError::Shape {
            expected: shape.to_vec(),
            got: w.shape().to_vec(),
        }),
        other => Err(KernelError::DType {
            expected: "float64 weights".into(),
            got: format!("{:?}", other.dtype()),
        }),
    }
}

/// The bin of `v` along one dimension of `histogramdd` (NumPy's rule there:
/// `searchsorted(edges, v, "right") - 1`, a value on the last edge in the
/// last bin; NaN and values outside are not counted).
fn dd_bin(v: f64, edges: &[f64]) -> Option<usize> {
    let last = *edges.last()?;
    if v.is_nan() || v < edges[0] || v > last {
        return None;
    }
    if v == last {
        return Some(edges.len() - 2);
    }
    Some(edges.partition_point(|&e| e <= v) - 1)
}

fn row<T>(v: Vec<T>) -> ArrayD<T> {
    let n = v.len();
    ArrayD::from_shape_vec(IxDyn(&[1, n]), v).expect("n elements")
}

/// The histogram over `edges[d]` of the points whose coordinate `d` is in
/// `data[d]` (blocks of one shape), as a `[1, cells]` row (C order of the
/// bins): `i64` counts, or `f64` sums of `weights`.
///
/// # Errors
/// Blocks of different shapes, without data, or non-`f64` weights.
pub fn histogramdd(data: &[&Chunk], weights: Option<&Chunk>, edges: &[Vec<f64>]) -> Result<Chunk> {
    let coords: Vec<ArrayD<f64>> = data.iter().map(|c| as_f64(c)).collect::<Result<_>>()?;
    let shape = coords.first().map_or(vec![0], |c| c.shape().to_vec());
    if let Some(c) = coords.iter().find(|c| c.shape() != shape.as_slice()) {
        return Err(KernelError::Shape {
            expected: shape,
            got: c.shape().to_vec(),
        });
    }
    let bins: Vec<usize> = edges.iter().map(|e| e.len().saturating_sub(1)).collect();
    let cells: usize = bins.iter().product();
    // Flat cell of each element, in C order of the elements.
    let n: usize = shape.iter().product();
    let mut flat: Vec<Option<usize>> = vec![Some(0); n];
    for (d, c) in coords.iter().enumerate() {
        for (slot, &v) in flat.iter_mut().zip(c.iter()) {
            *slot = slot.and_then(|f| dd_bin(v, &edges[d]).map(|b| f * bins[d] + b));
        }
    }
    match weights {
        None => {
            let mut out = vec![0i64; cells];
            for f in flat.into_iter().flatten() {
                out[f] += 1;
            }
            Ok(Chunk::I64(row(out)))
        }
        Some(w) => {
            let w = f64_weights(w, &shape)?;
            let mut out = vec![0.0f64; cells];
            for (f, &wt) in flat.iter().zip(w.iter()) {
                if let Some(f) = f {
                    out[*f] += wt;
                }
            }
            Ok(Chunk::F64(row(out)))
        }
    }
}

/// The integer values of `c` as `i64`, in C order.
///
/// # Errors
/// A block that is not of an integer or bool dtype, or a `u64` above
/// `i64::MAX`.
fn int_values(c: &Chunk) -> Result<Vec<i64>> {
    let big = |v: u64| KernelError::Other(format!("value {v} is too large to count"));
    Ok(match c {
        Chunk::Bool(a) => a.iter().map(|&b| i64::from(b)).collect(),
        Chunk::I8(a) => a.iter().map(|&v| i64::from(v)).collect(),
        Chunk::I16(a) => a.iter().map(|&v| i64::from(v)).collect(),
        Chunk::I32(a) => a.iter().map(|&v| i64::from(v)).collect(),
        Chunk::I64(a) => a.iter().copied().collect(),
        Chunk::U8(a) => a.iter().map(|&v| i64::from(v)).collect(),
        Chunk::U16(a) => a.iter().map(|&v| i64::from(v)).collect(),
        Chunk::U32(a) => a.iter().map(|&v| i64::from(v)).collect(),
        Chunk::U64(a) => a
            .iter()
            .map(|&v| i64::try_from(v).map_err(|_| big(v)))
            .collect::<Result<_>>()?,
        other => {
            return Err(KernelError::DType {
                expected: "integer values".into(),
                got: format!("{:?}", other.dtype()),
            })
        }
    })
}

/// `[min, max]` of an integer block as a `[1, 2]` row; `[i64::MAX, i64::MIN]`
/// when it is empty.
///
/// # Errors
/// As `int_values`.
pub fn int_range(c: &Chunk) -> Result<Chunk> {
    let v = int_values(c)?;
    let lo = v.iter().copied().min().unwrap_or(i64::MAX);
    let hi = v.iter().copied().max().unwrap_or(i64::MIN);
    Ok(Chunk::I64(row(vec![lo, hi])))
}

/// How often each of `0..length` occurs in `data` (NumPy's `bincount` of a
/// block) as a `[1, length]` row: `i64` counts, or `f64` sums of `weights`.
///
/// # Errors
/// A negative value or one of at least `length`; a block that is not
/// integer; weights that are not `f64` of the data's shape.
pub fn bincount(data: &Chunk, weights: Option<&Chunk>, length: usize) -> Result<Chunk> {
    let v = int_values(data)?;
    let slot = |x: i64| {
        usize::try_from(x)
            .ok()
            .filter(|&i| i < length)
            .ok_or_else(|| {
                KernelError::Other(format!(
                    "bincount: value {x} outside 0..{length} (values must be non-negative)"
                ))
            })
    };
    match weights {
        None => {
            let mut out = vec![0i64; length];
            for &x in &v {
                out[slot(x)?] += 1;
            }
            Ok(Chunk::I64(row(out)))
        }
        Some(w) => {
            let w = f64_weights(w, data.shape())?;
            let mut out = vec![0.0f64; length];
            for (&x, &wt) in v.iter().zip(w.iter()) {
                out[slot(x)?] += wt;
            }
            Ok(Chunk::F64(row(out)))
        }
    }
}

/// Whether `bins` are monotonic (NumPy's `digitize` rule): `Ok(true)` for
/// non-decreasing, `Ok(false)` for non-increasing (and not constant),
/// `Err(why)` otherwise or for NaN.
///
/// # Errors
/// NaN or bins that go both up and down.
pub fn bins_increasing(bins: &[f64]) -> std::result::Result<bool, String> {
    if let Some(i) = bins.iter().position(|b| b.is_nan()) {
        return Err(format!("digitize: bin {i} is NaN"));
    }
    if bins.windows(2).all(|w| w[0] <= w[1]) {
        return Ok(true);
    }
    if bins.windows(2).all(|w| w[0] >= w[1]) {
        return Ok(false);
    }
    Err("digitize: bins must be monotonically increasing or decreasing".into())
}

/// The bin index of each element of `data` (NumPy's `digitize`): with
/// increasing `bins`, `i` such that `bins[i-1] <= x < bins[i]` (with `right`,
/// `bins[i-1] < x <= bins[i]`); with decreasing bins the mirror image. NaN
/// goes past the largest bin.
///
/// # Errors
/// Bins that are not monotonic or hold NaN; a block without data.
pub fn digitize(data: &Chunk, bins: &[f64], right: bool) -> Result<Chunk> {
    let inc = bins_increasing(bins).map_err(KernelError::Other)?;
    let x = as_f64(data)?;
    let n = bins.len() as i64;
    // NumPy: searchsorted(bins, x, side) for increasing bins, and
    // len - searchsorted(reversed bins, x, side) for decreasing; side is
    // "left" with `right`. NaN sorts after every bin.
    let out = if inc {
        let pos = |v: f64| {
            if v.is_nan() {
                n
            } else {
                bins.partition_point(|&b| if right { b < v } else { b <= v }) as i64
            }
        };
        x.mapv(pos)
    } else {
        let rev: Vec<f64> = bins.iter().rev().copied().collect();
        let pos = |v: f64| {
            if v.is_nan() {
                0
            } else {
                n - rev.partition_point(|&b| if right { b < v } else { b <= v }) as i64
            }
        };
        x.mapv(pos)
    };
    Ok(Chunk::I64(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    fn i64s(c: &Chunk) -> Vec<i64> {
        match c {
            Chunk::I64(a) => a.iter().copied().collect(),
            _ => panic!("{c:?}"),
        }
    }

    #[test]
    fn histogramdd_counts_cells_in_c_order() {
        let x = Chunk::F64(arr1(&[0.5, 1.5, 1.5, 2.0, f64::NAN, 3.0]).into_dyn());
        let y = Chunk::F64(arr1(&[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]).into_dyn());
        let e = vec![vec![0.0, 1.0, 2.0], vec![0.0, 0.5, 1.0]];
        let h = histogramdd(&[&x, &y], None, &e).unwrap();
        // (0.5,0)->(0,0); (1.5,0)->(1,0); (1.5,1)->(1,1); (2,1) on both last edges -> (1,1).
        assert_eq!(i64s(&h), vec![1, 0, 1, 2]);
        let w = Chunk::F64(arr1(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).into_dyn());
        let hw = histogramdd(&[&x, &y], Some(&w), &e).unwrap();
        assert_eq!(
            hw,
            Chunk::F64(ndarray::arr2(&[[1.0, 0.0, 2.0, 7.0]]).into_dyn())
        );
        let empty = Chunk::F64(arr1(&[] as &[f64]).into_dyn());
        assert_eq!(
            i64s(&histogramdd(&[&empty, &empty], None, &e).unwrap()),
            vec![0; 4]
        );
    }

    #[test]
    fn bincount_counts_and_refuses_negatives() {
        let v = Chunk::I32(arr1(&[0, 3, 3, 1]).into_dyn());
        assert_eq!(i64s(&bincount(&v, None, 5).unwrap()), vec![1, 1, 0, 2, 0]);
        let w = Chunk::F64(arr1(&[0.5, 1.0, 2.0, 4.0]).into_dyn());
        assert_eq!(
            bincount(&v, Some(&w), 4).unwrap(),
            Chunk::F64(ndarray::arr2(&[[0.5, 4.0, 0.0, 3.0]]).into_dyn())
        );
        let neg = Chunk::I64(arr1(&[1, -2]).into_dyn());
        assert!(bincount(&neg, None, 3).is_err());
        assert_eq!(i64s(&int_range(&neg).unwrap()), vec![-2, 1]);
        let empty = Chunk::U8(arr1(&[] as &[u8]).into_dyn());
        assert_eq!(i64s(&int_range(&empty).unwrap()), vec![i64::MAX, i64::MIN]);
        assert!(int_range(&Chunk::F64(arr1(&[1.0]).into_dyn())).is_err());
    }

    #[test]
    fn digitize_follows_numpy_both_directions() {
        let x = Chunk::F64(arr1(&[-1.0, 0.0, 0.5, 1.0, 2.0, 9.0, f64::NAN]).into_dyn());
        let inc = [0.0, 1.0, 2.0];
        assert_eq!(
            i64s(&digitize(&x, &inc, false).unwrap()),
            vec![0, 1, 1, 2, 3, 3, 3]
        );
        assert_eq!(
            i64s(&digitize(&x, &inc, true).unwrap()),
            vec![0, 0, 1, 1, 2, 3, 3]
        );
        let dec = [2.0, 1.0, 0.0];
        // NumPy: len - searchsorted(bins[::-1], x, side).
        assert_eq!(
            i64s(&digitize(&x, &dec, false).unwrap()),
            vec![3, 2, 2, 1, 0, 0, 0]
        );
        assert_eq!(
            i64s(&digitize(&x, &dec, true).unwrap()),
            vec![3, 3, 2, 2, 1, 0, 0]
        );
        assert!(bins_increasing(&[0.0, 2.0, 1.0]).is_err());
        assert!(bins_increasing(&[1.0, 1.0]).unwrap());
        assert!(bins_increasing(&[]).unwrap());
        assert!(digitize(&x, &[0.0, f64::NAN], false).is_err());
    }
}
