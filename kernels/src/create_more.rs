//! Creation kernels beyond ranges and identity: diagonals, triangles, random
//! integers, weighted choice and permutations.
//!
//! Every random value is a function of the seed and the element's global index
//! only (Philox4x32-10 as in [`crate::random`], on streams of their own: the
//! counter's top word is a tag per kind, so `integers` and `random_uniform` of
//! one seed are not the same bits), so arrays do not depend on their chunking.
//! The graph building (which blocks need which inputs) is darray's; these
//! kernels see one block.

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use crate::random::{c_strides, check_block, fill, philox4x32_10, split, unit_f64};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

/// Counter tags (Philox counter word 3) of the random streams of this module.
const INTEGERS_STREAM: u32 = 0x696e_7473;
const WEIGHTED_STREAM: u32 = 0x7767_6874;
const PERMUTATION_STREAM: u32 = 0x7065_726d;

/// Feistel rounds of the permutation: Luby-Rackoff needs 4 for a strong
/// pseudorandom permutation; 8 leaves a margin at the cost of 8 Philox calls.
const FEISTEL_ROUNDS: u32 = 8;

/// One block of a creation operation (parameters only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CreateOp {
    /// A block of zeros, no inputs (a triangle's or a diagonal matrix's blocks
    /// that hold nothing else).
    Zeros {
        /// Element type.
        dtype: DType,
        /// Block shape.
        shape: Vec<usize>,
    },
    /// The block at `offset` of `shape` of the matrix with `v` on diagonal `k`
    /// (NumPy's `diag` of a 1-d array). Inputs: consecutive 1-d blocks of `v`,
    /// the first starting at `v[v_start]`, covering the block's diagonal.
    FromDiag {
        /// Diagonal offset (positive: above the main diagonal).
        k: i64,
        /// Index in `v` of the first input's first element.
        v_start: usize,
        /// Global (row, column) of the block's first element.
        offset: [usize; 2],
        /// Block shape.
        shape: [usize; 2],
    },
    /// `len` elements of a diagonal of the one input block, starting at local
    /// position `start` along (`axis1`, `axis2`); the output has the other axes
    /// in order and the diagonal last (NumPy's `diagonal`).
    Diagonal {
        /// The diagonal's first axis.
        axis1: usize,
        /// The diagonal's second axis.
        axis2: usize,
        /// Local start along `axis1` and `axis2`.
        start: [usize; 2],
        /// Number of diagonal elements.
        len: usize,
    },
    /// The one input block with elements off the triangle zeroed, on its last
    /// two axes: `lower` keeps `col - row <= k` (`tril`), otherwise
    /// `col - row >= k` (`triu`).
    Tri {
        /// Lower (`tril`) or upper (`triu`).
        lower: bool,
        /// Diagonal offset.
        k: i64,
        /// Global (row, column) of the block's first element.
        offset: [usize; 2],
    },
    /// Uniform integers on `[low, high)` (NumPy's `Generator.integers`),
    /// unbiased (Lemire's multiply-and-reject).
    Integers {
        /// Lowest value (inclusive).
        low: i64,
        /// Upper bound (exclusive).
        high: i64,
        /// Seed.
        seed: u64,
        /// An integer dtype holding `low..high`.
        dtype: DType,
        /// The whole array's shape.
        global_shape: Vec<usize>,
        /// The block's first element.
        offset: Vec<usize>,
        /// Block shape.
        shape: Vec<usize>,
    },
    /// `len` indices (`i64`) drawn with the cumulative weights `cdf`, for
    /// elements `offset..offset + len` of a 1-d array.
    Weighted {
        /// Cumulative weights, non-decreasing, last positive.
        cdf: Vec<f64>,
        /// Seed.
        seed: u64,
        /// Global index of the block's first element.
        offset: usize,
        /// Block length.
        len: usize,
    },
    /// Elements `offset..offset + len` of a pseudorandom permutation of
    /// `0..n` (`i64`).
    Permutation {
        /// Permutation size.
        n: u64,
        /// Seed.
        seed: u64,
        /// Global index of the block's first element.
        offset: u64,
        /// Block length.
        len: usize,
    },
    /// The destinations (`i64`) of rows `start..start + len` of an array whose
    /// `n` rows move by [`permutation_index`]: row `j` goes to the `i` with
    /// `permutation_index(n, seed, i) == j`.
    PermuteDest {
        /// Rows.
        n: u64,
        /// Seed.
        seed: u64,
        /// First row.
        start: u64,
        /// Rows in the block.
        len: usize,
    },
    /// Of the first input's rows (axis 0), those whose destination (second
    /// input, from `PermuteDest`) is in `out_start..out_end`, in destination
    /// order.
    PermutePiece {
        /// First destination row of the output block.
        out_start: u64,
        /// End of the output block's rows.
        out_end: u64,
    },
    /// Output rows `out_start..out_start + len` of a row permutation, from one
    /// piece per input block (in block order): row `i` is the next row of the
    /// piece of the block holding row `permutation_index(n, seed, i)`.
    PermuteMerge {
        /// Rows.
        n: u64,
        /// Seed.
        seed: u64,
        /// First output row.
        out_start: u64,
        /// Rows in the output block.
        len: usize,
        /// Start row of every input block, and `n` last.
        starts: Vec<u64>,
    },
}

impl CreateOp {
    /// The short name shown in graph descriptions.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            CreateOp::Zeros { .. } => "zeros",
            CreateOp::FromDiag { .. } => "from_diag",
            CreateOp::Diagonal { .. } => "diagonal",
            CreateOp::Tri { .. } => "tri",
            CreateOp::Integers { .. } => "integers",
            CreateOp::Weighted { .. } => "weighted_choice",
            CreateOp::Permutation { .. } => "permutation",
            CreateOp::PermuteDest { .. } => "permute_dest",
            CreateOp::PermutePiece { .. } => "permute_piece",
            CreateOp::PermuteMerge { .. } => "permute_merge",
        }
    }
}

/// Runs `op` on its inputs.
///
/// # Errors
/// Inputs of the wrong number, dtype or shape for `op`, or parameters it
/// cannot hold (a block outside its array, `low >= high`, a range outside the
/// dtype, an empty `cdf`).
pub fn run(op: &CreateOp, inputs: &[&Chunk]) -> Result<Chunk> {
    match op {
        CreateOp::Zeros { dtype, shape } => Ok(Chunk::zeros(*dtype, shape)),
        CreateOp::FromDiag {
            k,
            v_start,
            offset,
            shape,
        } => from_diag(inputs, *k, *v_start, *offset, *shape),
        CreateOp::Diagonal {
            axis1,
            axis2,
            start,
            len,
        } => diagonal(one(inputs)?, *axis1, *axis2, *start, *len),
        CreateOp::Tri { lower, k, offset } => tri(one(inputs)?, *lower, *k, *offset),
        CreateOp::Integers {
            low,
            high,
            seed,
            dtype,
            global_shape,
            offset,
            shape,
        } => integers(*low, *high, *seed, *dtype, global_shape, offset, shape),
        CreateOp::Weighted {
            cdf,
            seed,
            offset,
            len,
        } => weighted(cdf, *seed, *offset, *len),
        CreateOp::Permutation {
            n,
            seed,
            offset,
            len,
        } => permutation_block(*n, *seed, *offset, *len),
        CreateOp::PermuteDest {
            n,
            seed,
            start,
            len,
        } => permute_dest(*n, *seed, *start, *len),
        CreateOp::PermutePiece { out_start, out_end } => match inputs {
            [rows, Chunk::I64(dest)] => permute_piece(rows, dest, *out_start, *out_end),
            _ => Err(KernelError::Other(
                "permute_piece takes a block and its i64 destinations".into(),
            )),
        },
        CreateOp::PermuteMerge {
            n,
            seed,
            out_start,
            len,
            starts,
        } => permute_merge(inputs, *n, *seed, *out_start, *len, starts),
    }
}

fn one<'a>(inputs: &[&'a Chunk]) -> Result<&'a Chunk> {
    match inputs {
        [c] => Ok(c),
        _ => Err(KernelError::Other(format!(
            "expected one input block, got {}",
            inputs.len()
        ))),
    }
}

fn views<'a, T: Element>(inputs: &[&'a Chunk]) -> Result<Vec<ArrayViewD<'a, T>>> {
    inputs
        .iter()
        .map(|&c| {
            T::view_chunk(c).ok_or_else(|| KernelError::DType {
                expected: T::DTYPE.numpy_name().into(),
                got: c.dtype().map_or("no data", DType::numpy_name).into(),
            })
        })
        .collect()
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)] // Indices below 2^63.
fn from_diag(
    inputs: &[&Chunk],
    k: i64,
    v_start: usize,
    offset: [usize; 2],
    shape: [usize; 2],
) -> Result<Chunk> {
    let first = inputs
        .first()
        .ok_or_else(|| KernelError::Other("from_diag needs at least one input".into()))?;
    let dtype = first
        .dtype()
        .ok_or_else(|| KernelError::Other("from_diag input is not data".into()))?;
    crate::dispatch_dtype!(dtype, T => {
        let v: Vec<T> = views::<T>(inputs)?.iter().flat_map(|a| a.iter().copied()).collect();
        let mut out = ArrayD::<T>::default(IxDyn(&shape));
        for i in 0..shape[0] {
            let r = (offset[0] + i) as i64;
            let c = r + k;
            if c < offset[1] as i64 || c >= (offset[1] + shape[1]) as i64 {
                continue;
            }
            // v[m] sits at (m, m + k) for k >= 0 and at (m - k, m) below.
            let m = if k >= 0 { r } else { c } as usize;
            let at = m.checked_sub(v_start).filter(|&x| x < v.len()).ok_or_else(|| {
                KernelError::Other(format!(
                    "from_diag: v[{m}] is not in the inputs (v[{v_start}..{}])",
                    v_start + v.len()
                ))
            })?;
            out[[i, (c - offset[1] as i64) as usize]] = v[at];
        }
        Ok(T::into_chunk(out))
    })
}

fn diagonal(
    input: &Chunk,
    axis1: usize,
    axis2: usize,
    start: [usize; 2],
    len: usize,
) -> Result<Chunk> {
    let nd = input.shape().len();
    let fits = axis1 != axis2
        && axis1.max(axis2) < nd
        && (len == 0
            || (start[0] + len <= input.shape()[axis1] && start[1] + len <= input.shape()[axis2]));
    if !fits {
        return Err(KernelError::Other(format!(
            "diagonal of {len} at {start:?} on axes ({axis1}, {axis2}) does not fit a block of shape {:?}",
            input.shape()
        )));
    }
    crate::map_chunk!(input, a => {
        let mut shape: Vec<usize> = (0..nd)
            .filter(|&d| d != axis1 && d != axis2)
            .map(|d| a.shape()[d])
            .collect();
        shape.push(len);
        let mut out = ArrayD::default(IxDyn(&shape));
        // Remove the later axis first so the earlier one keeps its number.
        let ((hi, hs), (lo, ls)) = if axis1 > axis2 {
            ((axis1, start[0]), (axis2, start[1]))
        } else {
            ((axis2, start[1]), (axis1, start[0]))
        };
        for j in 0..len {
            let lane = a.index_axis(Axis(hi), hs + j);
            let lane = lane.index_axis(Axis(lo), ls + j);
            out.index_axis_mut(Axis(shape.len() - 1), j).assign(&lane);
        }
        Ok(Element::into_chunk(out))
    }, _ => Err(KernelError::Other("diagonal input is not data".into())))
}

#[allow(clippy::cast_possible_wrap)] // Indices below 2^63.
fn tri(input: &Chunk, lower: bool, k: i64, offset: [usize; 2]) -> Result<Chunk> {
    let nd = input.shape().len();
    if nd < 2 {
        return Err(KernelError::Other(format!(
            "tril/triu need at least 2 axes, got shape {:?}",
            input.shape()
        )));
    }
    crate::map_chunk!(input, a => {
        let mut out = a.to_owned();
        for (ix, v) in out.indexed_iter_mut() {
            let d = (offset[1] + ix[nd - 1]) as i64 - (offset[0] + ix[nd - 2]) as i64;
            if (lower && d > k) || (!lower && d < k) {
                *v = Default::default();
            }
        }
        Ok(Element::into_chunk(out))
    }, _ => Err(KernelError::Other("tril/triu input is not data".into())))
}

/// The values an integer dtype holds, or `None` for bool and floats.
#[must_use]
pub fn int_range(dtype: DType) -> Option<(i128, i128)> {
    Some(match dtype {
        DType::I8 => (i8::MIN.into(), i8::MAX.into()),
        DType::I16 => (i16::MIN.into(), i16::MAX.into()),
        DType::I32 => (i32::MIN.into(), i32::MAX.into()),
        DType::I64 => (i64::MIN.into(), i64::MAX.into()),
        DType::U8 => (0, u8::MAX.into()),
        DType::U16 => (0, u16::MAX.into()),
        DType::U32 => (0, u32::MAX.into()),
        DType::U64 => (0, u64::MAX.into()),
        DType::Bool | DType::F32 | DType::F64 => return None,
    })
}

fn join(lo: u32, hi: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// A uniform value in `0..s` (`s > 0`) for element `i`: Lemire's
/// multiply-and-reject ("Fast random integer generation in an interval",
/// 2019), exactly unbiased. Each Philox output gives two 64-bit candidates; a
/// rejected pair moves to the next counter (word 2 counts attempts), so the
/// value still depends only on `(seed, i)`.
#[allow(clippy::cast_possible_truncation)] // Taking the low and high halves.
fn bounded(key: [u32; 2], i: u64, s: u64) -> u64 {
    let threshold = s.wrapping_neg() % s;
    let [lo, hi] = split(i);
    let mut attempt = 0u32;
    loop {
        let w = philox4x32_10([lo, hi, attempt, INTEGERS_STREAM], key);
        for x in [join(w[0], w[1]), join(w[2], w[3])] {
            let m = u128::from(x) * u128::from(s);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
        attempt = attempt.wrapping_add(1);
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)] // Values are checked to lie in the dtype before the casts.
fn integers(
    low: i64,
    high: i64,
    seed: u64,
    dtype: DType,
    global_shape: &[usize],
    offset: &[usize],
    shape: &[usize],
) -> Result<Chunk> {
    let range = int_range(dtype);
    let inside = range.is_some_and(|(min, max)| {
        i128::from(low) >= min && i128::from(high) - 1 <= max && low < high
    });
    if !inside {
        return Err(KernelError::Other(format!(
            "integers needs low < high with [low, high) inside {dtype}, got [{low}, {high})"
        )));
    }
    check_block(global_shape, offset, shape)?;
    let key = split(seed);
    let span = (i128::from(high) - i128::from(low)) as u64;
    let strides = c_strides(global_shape);
    let v: ArrayD<i64> = fill(offset, shape, &strides, |i| {
        (i128::from(low) + i128::from(bounded(key, i, span))) as i64
    })?;
    Ok(match dtype {
        DType::I8 => Chunk::I8(v.mapv(|x| x as i8)),
        DType::I16 => Chunk::I16(v.mapv(|x| x as i16)),
        DType::I32 => Chunk::I32(v.mapv(|x| x as i32)),
        DType::I64 => Chunk::I64(v),
        DType::U8 => Chunk::U8(v.mapv(|x| x as u8)),
        DType::U16 => Chunk::U16(v.mapv(|x| x as u16)),
        DType::U32 => Chunk::U32(v.mapv(|x| x as u32)),
        DType::U64 => Chunk::U64(v.mapv(|x| x as u64)),
        DType::Bool | DType::F32 | DType::F64 => unreachable!("int_range accepted only integers"),
    })
}

/// The index drawn for element `i` from the cumulative weights `cdf`: the
/// first entry above `u * total`, never an entry of weight zero.
#[must_use]
pub fn weighted_index(cdf: &[f64], seed: u64, i: u64) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    let [lo, hi] = split(i);
    let w = philox4x32_10([lo, hi, 0, WEIGHTED_STREAM], split(seed));
    let u = unit_f64(w[0], w[1]) * total;
    let at = cdf.partition_point(|&c| c <= u);
    // Rounding can put u at `total`: take the last entry of positive weight.
    if at < cdf.len() {
        at
    } else {
        (0..cdf.len())
            .rev()
            .find(|&j| j == 0 || cdf[j] > cdf[j - 1])
            .unwrap_or(0)
    }
}

#[allow(clippy::cast_possible_wrap)] // Indices below 2^63.
fn weighted(cdf: &[f64], seed: u64, offset: usize, len: usize) -> Result<Chunk> {
    let ok = cdf.last().is_some_and(|&t| t > 0.0 && t.is_finite())
        && cdf.windows(2).all(|w| w[0] <= w[1]);
    if !ok {
        return Err(KernelError::Other(
            "weighted choice needs non-decreasing cumulative weights with a positive finite total"
                .into(),
        ));
    }
    let v: Vec<i64> = (offset..offset + len)
        .map(|i| weighted_index(cdf, seed, i as u64) as i64)
        .collect();
    Ok(Chunk::I64(
        ArrayD::from_shape_vec(IxDyn(&[len]), v).map_err(|e| KernelError::Other(e.to_string()))?,
    ))
}

/// Element `i` (`i < n`) of the pseudorandom permutation of `0..n` keyed by
/// `seed`: a balanced Feistel network on the smallest even number of bits
/// covering `n`, walked until it lands below `n` (cycle walking, as in
/// format-preserving encryption). A bijection of `0..n` for every `n`, so each
/// element is computed alone, in any block, with no memory beyond itself. The
/// domain is under `4n`, so a walk takes under 4 steps on average.
#[must_use]
pub fn permutation_index(n: u64, seed: u64, i: u64) -> u64 {
    let bits = (64 - n.saturating_sub(1).leading_zeros())
        .div_ceil(2)
        .max(1);
    let key = split(seed);
    let mut x = i;
    loop {
        x = feistel(x, bits, key);
        if x < n {
            return x;
        }
    }
}

fn feistel(x: u64, half: u32, key: [u32; 2]) -> u64 {
    let mask = if half >= 64 {
        u64::MAX
    } else {
        (1u64 << half) - 1
    };
    let (mut l, mut r) = (x >> half, x & mask);
    for round in 0..FEISTEL_ROUNDS {
        let [lo, hi] = split(r);
        let f = philox4x32_10([lo, hi, round, PERMUTATION_STREAM], key);
        let next = l ^ (join(f[0], f[1]) & mask);
        l = r;
        r = next;
    }
    (l << half) | r
}

/// The `i` with `permutation_index(n, seed, i) == j` (`j < n`): the walk of
/// [`permutation_index`] run backwards.
#[must_use]
pub fn permutation_inverse(n: u64, seed: u64, j: u64) -> u64 {
    let bits = (64 - n.saturating_sub(1).leading_zeros())
        .div_ceil(2)
        .max(1);
    let key = split(seed);
    let mut x = j;
    loop {
        x = feistel_inverse(x, bits, key);
        if x < n {
            return x;
        }
    }
}

fn feistel_inverse(x: u64, half: u32, key: [u32; 2]) -> u64 {
    let mask = if half >= 64 {
        u64::MAX
    } else {
        (1u64 << half) - 1
    };
    let (mut l, mut r) = (x >> half, x & mask);
    for round in (0..FEISTEL_ROUNDS).rev() {
        let [lo, hi] = split(l);
        let f = philox4x32_10([lo, hi, round, PERMUTATION_STREAM], key);
        let prev = r ^ (join(f[0], f[1]) & mask);
        r = l;
        l = prev;
    }
    (l << half) | r
}

#[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)] // n <= 2^63.
fn permute_dest(n: u64, seed: u64, start: u64, len: usize) -> Result<Chunk> {
    if start.checked_add(len as u64).is_none_or(|end| end > n) || n > i64::MAX as u64 {
        return Err(KernelError::Other(format!(
            "permutation rows {start}+{len} are not inside 0..{n}"
        )));
    }
    let v: Vec<i64> = (start..start + len as u64)
        .map(|j| permutation_inverse(n, seed, j) as i64)
        .collect();
    Ok(Chunk::I64(
        ArrayD::from_shape_vec(IxDyn(&[len]), v).map_err(|e| KernelError::Other(e.to_string()))?,
    ))
}

#[allow(clippy::cast_sign_loss)] // Destinations are non-negative.
fn permute_piece(rows: &Chunk, dest: &ArrayD<i64>, out_start: u64, out_end: u64) -> Result<Chunk> {
    let n = rows.shape().first().copied().unwrap_or(0);
    if dest.len() != n {
        return Err(KernelError::Shape {
            expected: vec![n],
            got: dest.shape().to_vec(),
        });
    }
    let mut picked: Vec<(u64, usize)> = dest
        .iter()
        .enumerate()
        .map(|(j, &d)| (d as u64, j))
        .filter(|&(d, _)| d >= out_start && d < out_end)
        .collect();
    picked.sort_unstable();
    let take: Vec<usize> = picked.into_iter().map(|(_, j)| j).collect();
    crate::map_chunk!(rows, a => Ok(Element::into_chunk(a.select(Axis(0), &take))),
        _ => Err(KernelError::Other("permute_piece input is not data".into())))
}

#[allow(clippy::cast_possible_truncation)] // Row indices fit usize.
fn permute_merge(
    pieces: &[&Chunk],
    n: u64,
    seed: u64,
    out_start: u64,
    len: usize,
    starts: &[u64],
) -> Result<Chunk> {
    let first = pieces
        .first()
        .filter(|_| pieces.len() + 1 == starts.len())
        .ok_or_else(|| {
            KernelError::Other(format!(
                "permute_merge: {} pieces for {} input blocks",
                pieces.len(),
                starts.len().saturating_sub(1)
            ))
        })?;
    let dtype = first
        .dtype()
        .ok_or_else(|| KernelError::Other("permute_merge input is not data".into()))?;
    crate::dispatch_dtype!(dtype, T => {
        let views = views::<T>(pieces)?;
        let mut cursor = vec![0usize; views.len()];
        let mut rows = Vec::with_capacity(len);
        for i in out_start..out_start + len as u64 {
            let j = permutation_index(n, seed, i);
            let b = starts.partition_point(|&s| s <= j) - 1;
            let piece = views.get(b).filter(|v| cursor[b] < v.shape()[0]).ok_or_else(|| {
                KernelError::Other(format!("permute_merge: piece {b} ran out at output row {i}"))
            })?;
            rows.push(piece.index_axis(Axis(0), cursor[b]));
            cursor[b] += 1;
        }
        let out = if rows.is_empty() {
            let mut shape = first.shape().to_vec();
            shape[0] = 0;
            ArrayD::<T>::default(IxDyn(&shape))
        } else {
            ndarray::stack(Axis(0), &rows).map_err(|e| KernelError::Other(e.to_string()))?
        };
        Ok(T::into_chunk(out))
    })
}

#[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)] // n <= 2^63.
fn permutation_block(n: u64, seed: u64, offset: u64, len: usize) -> Result<Chunk> {
    if offset.checked_add(len as u64).is_none_or(|end| end > n) || n > i64::MAX as u64 {
        return Err(KernelError::Other(format!(
            "permutation block {offset}+{len} is not inside 0..{n}"
        )));
    }
    let v: Vec<i64> = (offset..offset + len as u64)
        .map(|i| permutation_index(n, seed, i) as i64)
        .collect();
    Ok(Chunk::I64(
        ArrayD::from_shape_vec(IxDyn(&[len]), v).map_err(|e| KernelError::Other(e.to_string()))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i64s(c: &Chunk) -> Vec<i64> {
        match c {
            Chunk::I64(a) => a.iter().copied().collect(),
            other => panic!("not i64: {other:?}"),
        }
    }

    #[test]
    fn create_more_permutation_is_a_bijection() {
        for n in [0u64, 1, 2, 3, 4, 5, 15, 16, 17, 255, 1000] {
            let mut seen: Vec<u64> = (0..n).map(|i| permutation_index(n, 7, i)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
        let a: Vec<u64> = (0..100).map(|i| permutation_index(100, 1, i)).collect();
        let b: Vec<u64> = (0..100).map(|i| permutation_index(100, 2, i)).collect();
        assert_ne!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        // Large n: the halves are 32 bits.
        let n = u64::MAX >> 1;
        assert!(permutation_index(n, 3, n - 1) < n);
        for n in [1u64, 7, 64, 1000, n] {
            for i in [0, n / 3, n - 1] {
                assert_eq!(permutation_inverse(n, 9, permutation_index(n, 9, i)), i);
            }
        }
    }

    #[test]
    fn create_more_integers_stay_in_range_and_cover_it() {
        for (low, high) in [(0, 1), (-3, 4), (i64::MIN, i64::MAX), (250, 256)] {
            let c = integers(low, high, 5, DType::I64, &[4000], &[0], &[4000]).unwrap();
            let v = i64s(&c);
            assert!(v.iter().all(|&x| x >= low && x < high));
            if i128::from(high) - i128::from(low) <= 8 {
                for want in low..high {
                    assert!(v.contains(&want), "{want} in [{low}, {high})");
                }
            }
        }
        let Chunk::U8(u) = integers(250, 256, 1, DType::U8, &[10], &[2], &[3]).unwrap() else {
            unreachable!()
        };
        assert_eq!(u.len(), 3);
        assert!(integers(0, 257, 1, DType::U8, &[1], &[0], &[1]).is_err());
        assert!(integers(3, 3, 1, DType::I32, &[1], &[0], &[1]).is_err());
        assert!(integers(0, 3, 1, DType::F64, &[1], &[0], &[1]).is_err());
    }

    #[test]
    fn create_more_weighted_never_draws_zero_weight() {
        let cdf = [0.0, 0.5, 0.5, 1.0, 1.0];
        let v = i64s(&weighted(&cdf, 3, 0, 2000).unwrap());
        assert!(v.iter().all(|&x| x == 1 || x == 3));
        let ones = v.iter().filter(|&&x| x == 1).count();
        assert!((900..1100).contains(&ones), "{ones}");
        assert!(weighted(&[], 3, 0, 1).is_err());
        assert!(weighted(&[0.0], 3, 0, 1).is_err());
    }

    #[test]
    fn create_more_diag_tri_diagonal_blocks() {
        let v = Chunk::I32(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, 2, 3]).unwrap());
        // Rows 1..4, columns 0..4 of diag(v) with k = -1: (r, r - 1) holds v[r - 1].
        let Chunk::I32(m) = from_diag(&[&v], -1, 0, [1, 0], [3, 4]).unwrap() else {
            unreachable!()
        };
        assert_eq!(
            m.into_raw_vec_and_offset().0,
            vec![1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0]
        );
        // The same block with v starting at v[1]: v[0] is missing.
        assert!(from_diag(&[&v], -1, 1, [1, 0], [3, 4]).is_err());
        let a = Chunk::I32(ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| {
            (i[0] * 100 + i[1] * 10 + i[2]) as i32
        }));
        let Chunk::I32(d) = diagonal(&a, 2, 1, [1, 0], 2).unwrap() else {
            unreachable!()
        };
        assert_eq!(d.shape(), &[2, 2]);
        assert_eq!(d.into_raw_vec_and_offset().0, vec![1, 12, 101, 112]);
        assert!(diagonal(&a, 1, 1, [0, 0], 1).is_err());
        assert!(diagonal(&a, 0, 1, [0, 0], 3).is_err());
        let Chunk::I32(t) = tri(&a, true, 0, [0, 1]).unwrap() else {
            unreachable!()
        };
        // Global column = local + 1: kept where local col + 1 <= row.
        assert_eq!(t[[0, 2, 1]], 21);
        assert_eq!(t[[0, 1, 1]], 0);
        let Chunk::I32(u) = tri(&a, false, 1, [0, 0]).unwrap() else {
            unreachable!()
        };
        assert_eq!((u[[1, 0, 1]], u[[1, 0, 0]], u[[1, 1, 1]]), (101, 0, 0));
    }
}
