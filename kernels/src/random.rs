//! Counter-based random numbers: the value at a global index depends only on the
//! seed and that index, so an array's values do not depend on its chunking.
//!
//! The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
//! as 1, 2, 3", SC'11; the generator of `Random123`, `cuRAND`, JAX and NumPy `Philox`),
//! keyed by the seed, with the element's global flat C-order index as the counter.
//! Chosen because it passes `TestU01`'s `BigCrush`, one counter yields 128 bits (enough
//! for the two 53-bit uniforms of a Box-Muller normal, so each element still uses
//! exactly one counter), and `Random123` publishes known-answer vectors that pin the
//! implementation down (tested below).

use crate::chunk::Chunk;
use crate::dtype::DType;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// The distribution to draw from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Distribution {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
}

/// Values of `dist` for the block of `shape` starting at `offset` in an array of
/// `global_shape`, as `f32` or `f64`. The value at global flat C-order index `i` is
/// a function of `(seed, i)` only, so the whole array is bit-identical however it
/// is chunked.
///
/// Uniform values take 53 random bits (24 for `f32`) and are clamped into
/// `[low, high)` after rounding. Normal values use Box-Muller (cosine branch) on two
/// uniforms from the same counter, the first in `(0, 1]` so its logarithm is finite.
///
/// # Errors
/// If `dtype` is not a float type, the three shapes differ in length, the block
/// does not lie inside `global_shape`, or the distribution's parameters are not
/// finite (`low < high` in the output dtype, `std >= 0`).
pub fn random_block(
    dist: Distribution,
    seed: u64,
    dtype: DType,
    global_shape: &[usize],
    offset: &[usize],
    shape: &[usize],
) -> Result<Chunk> {
    if !dtype.is_float() {
        return Err(KernelError::DType {
            expected: "float32 or float64".into(),
            got: dtype.numpy_name().into(),
        });
    }
    check_block(global_shape, offset, shape)?;
    let sampler = Sampler::new(dist, dtype)?;
    let key = split(seed);
    let strides = c_strides(global_shape);
    Ok(match dtype {
        DType::F32 => Chunk::F32(fill_rows(offset, shape, &strides, |start, row| {
            philox_run(start, key, row, |w| sampler.f32(w));
        })?),
        _ => Chunk::F64(fill_rows(offset, shape, &strides, |start, row| {
            philox_run(start, key, row, |w| sampler.f64(w));
        })?),
    })
}

/// Counters computed together by [`philox_run`]: lane-wise loops over arrays
/// of this length vectorize (two to four 32 x 32 -> 64-bit products per
/// instruction), where one counter at a time is a chain of scalar multiplies.
const LANES: usize = 8;

/// `out[j] = f(philox4x32_10(counter(start + j), key))`, the counters in
/// groups of [`LANES`]; the same words as one call per counter. The groups
/// are computed in AVX2 registers where the CPU has them (four products per
/// instruction): integer arithmetic, so the words are the same either way.
fn philox_run<T>(start: u64, key: [u32; 2], out: &mut [T], f: impl Fn([u32; 4]) -> T) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above), the only requirement
        // of a `target_feature(enable = "avx2")` function.
        philox_groups(start, key, out, f, |base| unsafe {
            philox_lanes_avx2(base, key)
        });
        return;
    }
    philox_groups(start, key, out, f, |base| philox_lanes(base, key));
}

/// [`philox_run`] with the words of each group of [`LANES`] counters from
/// `lanes(first counter)`, and the rest one counter at a time.
#[inline(always)]
fn philox_groups<T>(
    start: u64,
    key: [u32; 2],
    out: &mut [T],
    f: impl Fn([u32; 4]) -> T,
    lanes: impl Fn(u64) -> [[u32; LANES]; 4],
) {
    let mut groups = out.chunks_exact_mut(LANES);
    let mut at = start;
    for g in &mut groups {
        let w = lanes(at);
        for (l, o) in g.iter_mut().enumerate() {
            *o = f([w[0][l], w[1][l], w[2][l], w[3][l]]);
        }
        at += LANES as u64;
    }
    for o in groups.into_remainder() {
        *o = f(philox4x32_10(counter(at), key));
        at += 1;
    }
}

/// [`philox_lanes`] in AVX2 registers: each round two `vpmuludq` (four 32 x
/// 32 -> 64-bit products each) per multiplier.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn philox_lanes_avx2(base: u64, key: [u32; 2]) -> [[u32; LANES]; 4] {
    use std::arch::x86_64::{
        __m256i, _mm256_blend_epi32, _mm256_loadu_si256, _mm256_mul_epu32, _mm256_set1_epi32,
        _mm256_slli_epi64, _mm256_srli_epi64, _mm256_storeu_si256, _mm256_xor_si256,
    };
    /// Low and high halves of `c * m` per 32-bit lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mulhilo(c: __m256i, m: __m256i) -> (__m256i, __m256i) {
        // Even lanes, then odd lanes moved down, each as 64-bit products.
        let even = _mm256_mul_epu32(c, m);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(c), m);
        let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        (lo, hi)
    }
    #[allow(clippy::cast_possible_wrap, clippy::cast_possible_truncation)] // Bit patterns.
    let splat = |v: u64| _mm256_set1_epi32(v as u32 as i32);
    // SAFETY: each array holds eight u32, the 32 bytes loaded.
    let load = |v: &[u32; LANES]| unsafe { _mm256_loadu_si256(v.as_ptr().cast()) };
    let (m0, m1) = (splat(M0), splat(M1));
    let mut lo = [0u32; LANES];
    let mut hi = [0u32; LANES];
    for l in 0..LANES {
        [lo[l], hi[l]] = split(base + l as u64);
    }
    let (mut c0, mut c1) = (load(&lo), load(&hi));
    let (mut c2, mut c3) = (load(&[0; LANES]), load(&[0; LANES]));
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (k0, k1) = (splat(u64::from(k[0])), splat(u64::from(k[1])));
        let (lo0, hi0) = mulhilo(c0, m0);
        let (lo1, hi1) = mulhilo(c2, m1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), k0);
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), k1);
        c1 = lo1;
        c3 = lo0;
    }
    let mut w = [[0u32; LANES]; 4];
    for (dst, v) in w.iter_mut().zip([c0, c1, c2, c3]) {
        // SAFETY: `dst` holds eight u32, the 32 bytes stored.
        unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) };
    }
    w
}

/// [`philox4x32_10`] of the counters `base .. base + LANES`, as four words
/// per lane (struct of arrays).
#[allow(clippy::cast_possible_truncation)] // Taking the low and high halves.
#[inline(always)]
fn philox_lanes(base: u64, key: [u32; 2]) -> [[u32; LANES]; 4] {
    let mut c0 = [0u32; LANES];
    let mut c1 = [0u32; LANES];
    let mut c2 = [0u32; LANES];
    let mut c3 = [0u32; LANES];
    for l in 0..LANES {
        [c0[l], c1[l]] = split(base + l as u64);
    }
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        for l in 0..LANES {
            let p0 = M0 * u64::from(c0[l]);
            let p1 = M1 * u64::from(c2[l]);
            let n0 = (p1 >> 32) as u32 ^ c1[l] ^ k[0];
            let n2 = (p0 >> 32) as u32 ^ c3[l] ^ k[1];
            c1[l] = p1 as u32;
            c3[l] = p0 as u32;
            c0[l] = n0;
            c2[l] = n2;
        }
    }
    [c0, c1, c2, c3]
}

/// Philox4x32's round multipliers (`Random123`'s `PHILOX_M4x32_0/1`).
const M0: u64 = 0xD251_1F53;
const M1: u64 = 0xCD9E_8D57;

/// Philox's key schedule increments (`Random123`'s `PHILOX_W32_0/1`).
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// [`fill`] a row at a time: `row(start, out)` fills `out` with the values of
/// the global flat indices from `start`.
pub(crate) fn fill_rows<T: Clone + Default>(
    offset: &[usize],
    shape: &[usize],
    strides: &[usize],
    row: impl Fn(u64, &mut [T]),
) -> Result<ArrayD<T>> {
    let n: usize = shape.iter().product();
    let mut out = vec![T::default(); n];
    if n > 0 {
        let nd = shape.len();
        let (outer, inner) = match shape.split_last() {
            Some((&last, rest)) => (rest, last),
            None => (shape, 1),
        };
        for (idx, dst) in ndarray::indices(IxDyn(outer))
            .into_iter()
            .zip(out.chunks_exact_mut(inner))
        {
            let base: usize = (0..nd)
                .map(|d| (offset[d] + if d + 1 < nd { idx[d] } else { 0 }) * strides[d])
                .sum();
            row(base as u64, dst);
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).map_err(|e| KernelError::Other(e.to_string()))
}

pub(crate) fn check_block(global_shape: &[usize], offset: &[usize], shape: &[usize]) -> Result<()> {
    let inside = global_shape.len() == offset.len()
        && global_shape.len() == shape.len()
        && (0..shape.len()).all(|d| {
            offset[d]
                .checked_add(shape[d])
                .is_some_and(|end| end <= global_shape[d])
        });
    if !inside {
        return Err(KernelError::Other(format!(
            "block of shape {shape:?} at offset {offset:?} is not inside global shape {global_shape:?}"
        )));
    }
    let total = global_shape
        .iter()
        .try_fold(1usize, |p, &n| p.checked_mul(n));
    if total.is_none() {
        return Err(KernelError::Other(format!(
            "global shape {global_shape:?} has too many elements"
        )));
    }
    Ok(())
}

pub(crate) fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// The block's values in C order; `value(i)` gets the global flat index.
pub(crate) fn fill<T>(
    offset: &[usize],
    shape: &[usize],
    strides: &[usize],
    value: impl Fn(u64) -> T,
) -> Result<ArrayD<T>> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        let nd = shape.len();
        let (outer, inner) = match shape.split_last() {
            Some((&last, rest)) => (rest, last),
            None => (shape, 1),
        };
        // Rows along the last axis are contiguous in the global array too.
        for idx in ndarray::indices(IxDyn(outer)) {
            let base: usize = (0..nd)
                .map(|d| (offset[d] + if d + 1 < nd { idx[d] } else { 0 }) * strides[d])
                .sum();
            out.extend((base..base + inner).map(|i| value(i as u64)));
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).map_err(|e| KernelError::Other(e.to_string()))
}

/// Splits a 64-bit value into Philox's little-endian 32-bit words.
#[allow(clippy::cast_possible_truncation)] // Taking the low and high halves.
pub(crate) fn split(x: u64) -> [u32; 2] {
    [x as u32, (x >> 32) as u32]
}

/// Philox's 128-bit counter for element `i`: the index fills the low 64 bits.
fn counter(i: u64) -> [u32; 4] {
    let [lo, hi] = split(i);
    [lo, hi, 0, 0]
}

/// Philox4x32 with 10 rounds: `philox4x32(ctr, key)` of `Random123`.
pub(crate) fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = M0 * u64::from(c[0]);
        let p1 = M1 * u64::from(c[2]);
        let [lo0, hi0] = split(p0);
        let [lo1, hi1] = split(p1);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// 53 bits from two words, as a float in `[0, 1)`.
#[allow(clippy::cast_precision_loss)] // 53 bits are exact in f64.
pub(crate) fn unit_f64(lo: u32, hi: u32) -> f64 {
    let bits = ((u64::from(hi) << 32) | u64::from(lo)) >> 11;
    bits as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Validated distribution parameters.
enum Sampler {
    Uniform { low: f64, high: f64, span: f64 },
    Normal { mean: f64, std: f64 },
}

impl Sampler {
    #[allow(clippy::cast_possible_truncation)] // Checking the bounds as f32 sees them.
    fn new(dist: Distribution, dtype: DType) -> Result<Sampler> {
        match dist {
            Distribution::Uniform { low, high } => {
                let ordered = if dtype == DType::F32 {
                    (low as f32) < (high as f32)
                } else {
                    low < high
                };
                let span = high - low;
                if !(ordered && low.is_finite() && high.is_finite() && span.is_finite()) {
                    return Err(KernelError::Other(format!(
                        "uniform needs finite low < high (in {dtype}), got [{low}, {high})"
                    )));
                }
                Ok(Sampler::Uniform { low, high, span })
            }
            Distribution::Normal { mean, std } => {
                if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
                    return Err(KernelError::Other(format!(
                        "normal needs a finite mean and a finite std >= 0, got mean {mean}, std {std}"
                    )));
                }
                Ok(Sampler::Normal { mean, std })
            }
        }
    }

    fn f64(&self, w: [u32; 4]) -> f64 {
        match *self {
            Sampler::Uniform { low, high, span } => {
                let v = low + span * unit_f64(w[0], w[1]);
                // Rounding can reach `high` when u is within an ulp of 1.
                if v < high {
                    v
                } else {
                    high.next_down()
                }
            }
            Sampler::Normal { mean, std } => mean + std * standard_normal(w),
        }
    }

    #[allow(clippy::cast_possible_truncation)] // f32 output is rounded on purpose.
    fn f32(&self, w: [u32; 4]) -> f32 {
        match *self {
            Sampler::Uniform { low, high, span } => {
                let u = f64::from(w[0] >> 8) * (1.0 / f64::from(1u32 << 24));
                // Clamp after rounding: the f64 bounds need not be f32 values.
                ((low + span * u) as f32).clamp(low as f32, (high as f32).next_down())
            }
            Sampler::Normal { mean, std } => (mean + std * standard_normal(w)) as f32,
        }
    }
}

/// Box-Muller, cosine branch, on two uniforms from one Philox output: `u1` in
/// `(0, 1]` so `ln(u1)` is finite, `u2` in `[0, 1)`.
fn standard_normal(w: [u32; 4]) -> f64 {
    let u1 = 1.0 - unit_f64(w[0], w[1]);
    let u2 = unit_f64(w[2], w[3]);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Slice;

    const UNIFORM: Distribution = Distribution::Uniform {
        low: -2.0,
        high: 3.0,
    };
    const NORMAL: Distribution = Distribution::Normal {
        mean: 1.5,
        std: 2.0,
    };

    fn values(c: &Chunk) -> Vec<f64> {
        match c {
            Chunk::F64(a) => a.iter().copied().collect(),
            Chunk::F32(a) => a.iter().map(|&x| f64::from(x)).collect(),
            other => panic!("not a float chunk: {other:?}"),
        }
    }

    /// The first `n` values of a 1-d array.
    fn draw(dist: Distribution, seed: u64, dtype: DType, n: usize) -> Vec<f64> {
        values(&random_block(dist, seed, dtype, &[n], &[0], &[n]).unwrap())
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Counters in lanes give the words of one call per counter, across the
    /// carry into the counter's high word and for every remainder length.
    #[test]
    fn philox_lanes_equal_one_counter_at_a_time() {
        let key = [0x1234_5678, 0x9abc_def0];
        for start in [0u64, 5, (1 << 32) - 3, u64::MAX - 40] {
            for len in 0..(3 * LANES + 2) {
                let mut got = vec![[0u32; 4]; len];
                philox_run(start, key, &mut got, |w| w);
                let want: Vec<[u32; 4]> = (0..len as u64)
                    .map(|j| philox4x32_10(counter(start + j), key))
                    .collect();
                assert_eq!(got, want, "start {start}, len {len}");
                // The portable lanes too, whatever the CPU.
                let mut portable = vec![[0u32; 4]; len];
                philox_groups(start, key, &mut portable, |w| w, |b| philox_lanes(b, key));
                assert_eq!(portable, want, "portable: start {start}, len {len}");
            }
        }
    }

    #[test]
    fn random_philox_matches_random123_known_answers() {
        let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            (
                [0; 4],
                [0; 2],
                [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
            ),
            (
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0],
                [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
            ),
        ];
        for (ctr, key, want) in kat {
            assert_eq!(philox4x32_10(ctr, key), want);
        }
    }

    #[test]
    fn random_blocks_equal_the_whole_array_for_any_chunking() {
        let global = [7, 5, 3];
        let chunkings: [[&[usize]; 3]; 4] = [
            [&[7], &[5], &[3]],
            [&[1, 6], &[2, 0, 3], &[3]],
            [&[3, 3, 1], &[1, 1, 1, 1, 1], &[1, 2]],
            [&[0, 7], &[5, 0], &[1, 1, 1]],
        ];
        for (dist, dtype) in [
            (UNIFORM, DType::F32),
            (UNIFORM, DType::F64),
            (NORMAL, DType::F32),
            (NORMAL, DType::F64),
        ] {
            let whole = random_block(dist, 42, dtype, &global, &[0; 3], &global).unwrap();
            let whole = ArrayD::from_shape_vec(IxDyn(&global), values(&whole)).unwrap();
            for pieces in &chunkings {
                let starts = pieces.map(|p| {
                    p.iter()
                        .scan(0, |a, &n| Some(std::mem::replace(a, *a + n)))
                        .collect::<Vec<_>>()
                });
                for b in ndarray::indices(IxDyn(&pieces.map(<[usize]>::len))) {
                    let offset: Vec<usize> = (0..3).map(|d| starts[d][b[d]]).collect();
                    let shape: Vec<usize> = (0..3).map(|d| pieces[d][b[d]]).collect();
                    let got = random_block(dist, 42, dtype, &global, &offset, &shape).unwrap();
                    let ax = |d: usize| Slice::from(offset[d]..offset[d] + shape[d]);
                    let want: Vec<f64> = whole
                        .slice_each_axis(|a| ax(a.axis.index()))
                        .iter()
                        .copied()
                        .collect();
                    assert_eq!(got.shape(), &shape[..]);
                    assert_eq!(
                        bits(&values(&got)),
                        bits(&want),
                        "{dist:?} {dtype} {offset:?}+{shape:?}"
                    );
                }
            }
        }
        // A 0-d array is the one element at index 0.
        let scalar = random_block(NORMAL, 9, DType::F64, &[], &[], &[]).unwrap();
        assert_eq!(
            bits(&values(&scalar)),
            bits(&draw(NORMAL, 9, DType::F64, 1))
        );
    }

    #[test]
    fn random_seeds_and_indices_give_different_values() {
        let n = 10_000;
        let a = draw(UNIFORM, 0, DType::F64, n);
        for seed in [1, 1 << 32, u64::MAX] {
            let b = draw(UNIFORM, seed, DType::F64, n);
            assert_eq!(
                a.iter().zip(&b).filter(|(x, y)| x == y).count(),
                0,
                "seed {seed}"
            );
        }
        let mut sorted = a.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            n,
            "53-bit uniforms should not repeat in 10k draws"
        );
        // The same flat index in an array of another shape gets the same value.
        let row = random_block(UNIFORM, 0, DType::F64, &[100, 100], &[0, 0], &[1, 100]).unwrap();
        assert_eq!(values(&row), a[..100]);
    }

    #[allow(clippy::cast_precision_loss)]
    fn mean_var(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
    }

    #[test]
    fn random_moments_within_five_sigma() {
        let n = 200_000;
        let nf = 200_000.0f64;
        for dtype in [DType::F32, DType::F64] {
            // Uniform on [-2, 3): variance w^2/12, fourth central moment w^4/80.
            let (mean, var) = mean_var(&draw(UNIFORM, 7, dtype, n));
            let (w, v) = (5.0f64, 25.0 / 12.0);
            assert!(
                (mean - 0.5).abs() < 5.0 * (v / nf).sqrt(),
                "{dtype} uniform mean {mean}"
            );
            let sd_var = ((w.powi(4) / 80.0 - v * v) / nf).sqrt();
            assert!((var - v).abs() < 5.0 * sd_var, "{dtype} uniform var {var}");
            // Normal(1.5, 2): the sample variance has sd sigma^2 sqrt(2/n).
            let (mean, var) = mean_var(&draw(NORMAL, 7, dtype, n));
            assert!(
                (mean - 1.5).abs() < 5.0 * (4.0 / nf).sqrt(),
                "{dtype} normal mean {mean}"
            );
            assert!(
                (var - 4.0).abs() < 5.0 * 4.0 * (2.0 / nf).sqrt(),
                "{dtype} normal var {var}"
            );
        }
    }

    #[test]
    #[allow(clippy::cast_possible_truncation)]
    fn random_uniform_stays_in_half_open_range() {
        let n = 50_000;
        let next = 1.0f64.next_up();
        for (low, high) in [
            (-2.0, 3.0),
            (0.1, 0.2),
            (1e-300, 2e-300),
            (1.0, next),
            (-1e300, 1e300),
        ] {
            let v = draw(Distribution::Uniform { low, high }, 3, DType::F64, n);
            assert!(v.iter().all(|&x| low <= x && x < high), "[{low}, {high})");
        }
        // In f32 the bounds are rounded first; [1, 1 + 1e-7) holds only 1.0.
        for (low, high) in [(-2.0, 3.0), (0.1, 0.2), (1.0, 1.0 + 1e-7)] {
            let v = draw(Distribution::Uniform { low, high }, 3, DType::F32, n);
            let (l, h) = (f64::from(low as f32), f64::from(high as f32));
            assert!(v.iter().all(|&x| l <= x && x < h), "f32 [{low}, {high})");
        }
    }

    #[test]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    fn random_uniform_passes_chi_square() {
        let (n, bins) = (200_000, 100);
        let mut counts = vec![0usize; bins];
        for x in draw(UNIFORM, 11, DType::F64, n) {
            counts[((x + 2.0) / 5.0 * bins as f64) as usize] += 1;
        }
        let expected = (n / bins) as f64;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // 99 degrees of freedom: mean 99, sd sqrt(198); reject beyond 5 sd either way.
        assert!((chi2 - 99.0).abs() < 5.0 * 198f64.sqrt(), "chi2 = {chi2}");
    }

    /// Standard normal CDF via Abramowitz & Stegun 7.1.26 (error < 1.5e-7).
    fn phi(x: f64) -> f64 {
        let z = x.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.327_591_1 * z);
        let a = [
            0.254_829_592,
            -0.284_496_736,
            1.421_413_741,
            -1.453_152_027,
            1.061_405_429,
        ];
        let poly = t * a.iter().rev().fold(0.0, |acc, &c| acc * t + c);
        let erf = 1.0 - poly * (-z * z).exp();
        0.5 * (1.0 + erf.copysign(x))
    }

    #[test]
    #[allow(clippy::cast_precision_loss)]
    fn random_normal_passes_kolmogorov_smirnov() {
        let n = 200_000;
        let mut v = draw(
            Distribution::Normal {
                mean: 0.0,
                std: 1.0,
            },
            5,
            DType::F64,
            n,
        );
        v.sort_by(f64::total_cmp);
        let nf = n as f64;
        let d = v.iter().enumerate().fold(0.0f64, |d, (i, &x)| {
            let f = phi(x);
            d.max((f - i as f64 / nf).abs())
                .max(((i + 1) as f64 / nf - f).abs())
        });
        // sqrt(n) D beyond 1.95 has probability about 0.001 under the null.
        assert!(nf.sqrt() * d < 1.95, "KS statistic {}", nf.sqrt() * d);
    }

    #[test]
    fn random_box_muller_guards_log_zero_and_zero_std_is_constant() {
        let max = u32::MAX;
        for w in [[0; 4], [max; 4], [0, 0, max, max], [max, max, 0, 0]] {
            assert!(standard_normal(w).is_finite(), "{w:?}");
        }
        let v = draw(
            Distribution::Normal {
                mean: 3.0,
                std: 0.0,
            },
            1,
            DType::F32,
            100,
        );
        assert!(v.iter().all(|&x| (x - 3.0).abs() == 0.0));
    }

    #[test]
    fn random_rejects_bad_requests() {
        assert!(random_block(UNIFORM, 0, DType::F64, &[4, 4], &[2, 0], &[2, 4]).is_ok());
        type Request = (
            &'static [usize],
            &'static [usize],
            &'static [usize],
            &'static str,
        );
        let shapes: [Request; 5] = [
            (&[4, 4], &[0], &[4, 4], "offset of another ndim"),
            (&[4, 4], &[0, 0], &[4], "shape of another ndim"),
            (&[4, 4], &[3, 0], &[2, 4], "past the end"),
            (&[4], &[usize::MAX], &[2], "offset overflow"),
            (&[usize::MAX, 4], &[0, 0], &[1, 1], "too many elements"),
        ];
        for (global, offset, shape, why) in shapes {
            assert!(
                random_block(UNIFORM, 0, DType::F64, global, offset, shape).is_err(),
                "{why}"
            );
        }
        for dtype in [DType::I32, DType::Bool, DType::U64] {
            assert!(
                random_block(UNIFORM, 0, dtype, &[1], &[0], &[1]).is_err(),
                "{dtype}"
            );
        }
        let uniform = |low, high| Distribution::Uniform { low, high };
        let normal = |mean, std| Distribution::Normal { mean, std };
        let params = [
            (uniform(1.0, 1.0), DType::F64),
            (uniform(2.0, 1.0), DType::F64),
            (uniform(f64::NAN, 1.0), DType::F64),
            (uniform(0.0, f64::INFINITY), DType::F64),
            (uniform(-1e308, 1e308), DType::F64), // the span overflows
            (uniform(1.0, 1.0 + 1e-9), DType::F32), // empty in f32
            (normal(0.0, -1.0), DType::F64),
            (normal(0.0, f64::NAN), DType::F64),
            (normal(f64::INFINITY, 1.0), DType::F32),
        ];
        for (dist, dtype) in params {
            assert!(
                random_block(dist, 0, dtype, &[1], &[0], &[1]).is_err(),
                "{dist:?} {dtype}"
            );
        }
    }
}
