//! Exact order statistics: NumPy's quantile methods (which ranks of the sorted
//! values a quantile reads, and how it interpolates between them), the per-lane
//! selection along one axis of a block, and the steps of a radix selection over
//! many blocks (per-block digit counts, the refinement of the ranks' key
//! prefixes, and the final values). Values are ordered as `f64::total_cmp`
//! orders them (so `-0.0` before `0.0`); NaN is never selected: a lane (or
//! array) holding NaN gives NaN, or its NaN are skipped with `skip_nan`.

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::elementwise::dispatch_arith;
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, Axis, IxDyn};
use num_traits::{Float, NumCast};
use serde::{Deserialize, Serialize};

/// How a quantile between two order statistics is computed: NumPy's `method`
/// names and formulas (NumPy 1.22+; `Linear` is its default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuantileMethod {
    /// Index `(n-1)q`, interpolated linearly (NumPy's default, R type 7).
    #[default]
    Linear,
    /// The element at `floor((n-1)q)`.
    Lower,
    /// The element at `ceil((n-1)q)`.
    Higher,
    /// The element at `(n-1)q` rounded half to even (as NumPy's `around`).
    Nearest,
    /// The mean of `Lower` and `Higher` (the element itself at an exact index).
    Midpoint,
    /// R type 5: `alpha = beta = 1/2`.
    Hazen,
    /// R type 6: `alpha = beta = 0`.
    Weibull,
    /// R type 8: `alpha = beta = 1/3` (approximately median-unbiased).
    MedianUnbiased,
    /// R type 9: `alpha = beta = 3/8` (unbiased for normal data).
    NormalUnbiased,
}

/// Which order statistics (0-based ranks among the `n` sorted values) one
/// quantile reads, and the weight of the upper one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    /// Rank of the lower value.
    pub lo: u64,
    /// Rank of the upper value (`lo` or `lo + 1`).
    pub hi: u64,
    /// Weight of the upper value, in `[0, 1)`.
    pub gamma: f64,
}

impl QuantileMethod {
    /// Every method, in declaration order.
    pub const ALL: [QuantileMethod; 9] = [
        QuantileMethod::Linear,
        QuantileMethod::Lower,
        QuantileMethod::Higher,
        QuantileMethod::Nearest,
        QuantileMethod::Midpoint,
        QuantileMethod::Hazen,
        QuantileMethod::Weibull,
        QuantileMethod::MedianUnbiased,
        QuantileMethod::NormalUnbiased,
    ];

    /// NumPy's name of the method.
    #[must_use]
    pub fn numpy_name(self) -> &'static str {
        match self {
            QuantileMethod::Linear => "linear",
            QuantileMethod::Lower => "lower",
            QuantileMethod::Higher => "higher",
            QuantileMethod::Nearest => "nearest",
            QuantileMethod::Midpoint => "midpoint",
            QuantileMethod::Hazen => "hazen",
            QuantileMethod::Weibull => "weibull",
            QuantileMethod::MedianUnbiased => "median_unbiased",
            QuantileMethod::NormalUnbiased => "normal_unbiased",
        }
    }

    /// The ranks and weight of quantile `q` (in `[0, 1]`) of `n >= 1` values,
    /// with NumPy's formulas: `(n-1)q` for the first five methods,
    /// `nq + alpha + q(1 - alpha - beta) - 1` for the others, clipped to the
    /// ends as NumPy's `_get_indexes`.
    #[must_use]
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    pub fn pick(self, n: u64, q: f64) -> Pick {
        debug_assert!(n >= 1);
        let last = (n - 1) as f64;
        let h = last * q;
        let exact = |i: f64| {
            let i = i.clamp(0.0, last) as u64;
            Pick {
                lo: i,
                hi: i,
                gamma: 0.0,
            }
        };
        let continuous = |v: f64| {
            if v.is_nan() || v < 0.0 {
                return exact(0.0);
            }
            if v >= last {
                return exact(last);
            }
            let lo = v.floor();
            Pick {
                lo: lo as u64,
                hi: lo as u64 + 1,
                gamma: v - lo,
            }
        };
        let alpha_beta = |a: f64, b: f64| continuous(n as f64 * q + (a + q * (1.0 - a - b)) - 1.0);
        match self {
            QuantileMethod::Linear => continuous(h),
            QuantileMethod::Lower => exact(h.floor()),
            QuantileMethod::Higher => exact(h.ceil()),
            QuantileMethod::Nearest => exact(h.round_ties_even()),
            QuantileMethod::Midpoint => {
                let (lo, hi) = (h.floor(), h.ceil());
                if lo == hi {
                    exact(lo)
                } else {
                    Pick {
                        lo: lo as u64,
                        hi: hi as u64,
                        gamma: 0.5,
                    }
                }
            }
            QuantileMethod::Hazen => alpha_beta(0.5, 0.5),
            QuantileMethod::Weibull => alpha_beta(0.0, 0.0),
            QuantileMethod::MedianUnbiased => alpha_beta(1.0 / 3.0, 1.0 / 3.0),
            QuantileMethod::NormalUnbiased => alpha_beta(3.0 / 8.0, 3.0 / 8.0),
        }
    }
}

/// NumPy's `_lerp`: `a + (b - a)t`, or `b - (b - a)(1 - t)` from `t = 1/2` on
/// (so `t` near 1 lands on `b`). At `t = 0` the result is `a` itself, so an
/// infinite neighbour cannot turn an exact order statistic into NaN.
#[must_use]
pub fn lerp<F: Float>(a: F, b: F, t: F) -> F {
    if t == F::zero() {
        return a;
    }
    let d = b - a;
    let half = fl::<F>(0.5);
    if t >= half {
        b - d * (F::one() - t)
    } else {
        a + d * t
    }
}

/// `x` as `F` (every float type holds an `f64`, rounded).
fn fl<F: Float>(x: f64) -> F {
    <F as NumCast>::from(x).expect("a float holds any f64, rounded")
}

/// What to compute: the quantiles `q` (each in `[0, 1]`), the method, whether
/// NaN are skipped (NumPy's `nanquantile`) or make the result NaN, and whether
/// the output has a leading axis of one entry per `q`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantileSpec {
    /// The quantiles, in `[0, 1]`.
    pub q: Vec<f64>,
    /// The method.
    pub method: QuantileMethod,
    /// Skip NaN (`nanquantile`) instead of returning NaN for a lane with NaN.
    pub skip_nan: bool,
    /// Whether the output has a leading axis of `q.len()` (false: one `q`, no axis).
    pub q_axis: bool,
}

impl QuantileSpec {
    /// The quantiles of sorted-value accessor `at` (rank -> value) over `n`
    /// values, as `F`; NaN for each when `n == 0`.
    fn values<F: Float>(&self, n: u64, mut at: impl FnMut(u64) -> F) -> Vec<F> {
        self.q
            .iter()
            .map(|&q| {
                if n == 0 {
                    return F::nan();
                }
                let p = self.method.pick(n, q);
                let a = at(p.lo);
                let b = if p.hi == p.lo { a } else { at(p.hi) };
                lerp(a, b, fl::<F>(p.gamma))
            })
            .collect()
    }
}

/// An element type with a key whose unsigned order is the element's total
/// order (`total_cmp` for floats), in the low [`OrderKey::BITS`] bits.
pub trait OrderKey: Element {
    /// Width of the key.
    const BITS: u32;
    /// The key.
    fn key(self) -> u64;
    /// The element of a key.
    fn from_key(k: u64) -> Self;
    /// True for NaN.
    fn is_nan_value(self) -> bool;
}

macro_rules! key_unsigned {
    ($($t:ty),*) => {$(
        impl OrderKey for $t {
            const BITS: u32 = <$t>::BITS;
            fn key(self) -> u64 { <u64 as From<_>>::from(self) }
            #[allow(clippy::cast_possible_truncation)]
            fn from_key(k: u64) -> Self { k as $t }
            fn is_nan_value(self) -> bool { false }
        }
    )*};
}
key_unsigned!(u8, u16, u32, u64);

macro_rules! key_signed {
    ($($t:ty => $u:ty),*) => {$(
        impl OrderKey for $t {
            const BITS: u32 = <$t>::BITS;
            #[allow(clippy::cast_sign_loss)]
            fn key(self) -> u64 { <u64 as From<_>>::from((self as $u) ^ (1 << (<$t>::BITS - 1))) }
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            fn from_key(k: u64) -> Self { ((k as $u) ^ (1 << (<$t>::BITS - 1))) as $t }
            fn is_nan_value(self) -> bool { false }
        }
    )*};
}
key_signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64);

macro_rules! key_float {
    ($($t:ty => $u:ty),*) => {$(
        impl OrderKey for $t {
            const BITS: u32 = <$u>::BITS;
            // Negative values have every bit flipped (larger magnitude, smaller
            // key), positive ones only the sign bit: `total_cmp`'s order.
            fn key(self) -> u64 {
                let b = self.to_bits();
                let sign: $u = 1 << (<$u>::BITS - 1);
                <u64 as From<_>>::from(if b & sign != 0 { !b } else { b | sign })
            }
            #[allow(clippy::cast_possible_truncation)]
            fn from_key(k: u64) -> Self {
                let k = k as $u;
                let sign: $u = 1 << (<$u>::BITS - 1);
                <$t>::from_bits(if k & sign != 0 { k ^ sign } else { !k })
            }
            fn is_nan_value(self) -> bool { self.is_nan() }
        }
    )*};
}
key_float!(f32 => u32, f64 => u64);

fn dtype_of(c: &Chunk) -> Result<DType> {
    c.dtype().ok_or_else(|| crate::layout::not_data(c))
}

fn to_float<T: Element, F: Float>(v: T) -> F {
    <F as NumCast>::from(v.to_f64()).expect("a float holds any f64 (inf when out of range)")
}

/// The quantiles of every lane of `input` along `axis`: an array of the
/// block's shape without `axis`, in `T::Float`, after a leading axis of one
/// entry per `q` if `spec.q_axis`. Each lane is copied (without NaN) into a
/// scratch buffer and the needed ranks found by `select_nth_unstable`, the
/// larger ranks in what is right of the smaller.
///
/// # Errors
/// An axis out of range, or a bool or non-data block.
pub fn quantile_lanes(input: &Chunk, axis: usize, spec: &QuantileSpec) -> Result<Chunk> {
    dispatch_arith!(dtype_of(input)?, T => {
        let a = T::view_chunk(input).expect("dtype checked");
        Ok(<T as Element>::Float::into_chunk(lanes::<T, <T as Element>::Float>(&a, axis, spec)?))
    }, bool => Err(KernelError::Other("quantile of a bool block".into())))
}

fn lanes<T: OrderKey, F: Float + Element>(
    a: &ndarray::ArrayViewD<'_, T>,
    axis: usize,
    spec: &QuantileSpec,
) -> Result<ArrayD<F>> {
    if axis >= a.ndim() {
        return Err(KernelError::Other(format!(
            "quantile: axis {axis} of a {}-d block",
            a.ndim()
        )));
    }
    let mut rest = a.shape().to_vec();
    rest.remove(axis);
    let m: usize = rest.iter().product();
    let nq = spec.q.len();
    let mut out = vec![F::nan(); nq * m];
    let mut scratch: Vec<T> = Vec::with_capacity(a.len_of(Axis(axis)));
    for (j, lane) in a.lanes(Axis(axis)).into_iter().enumerate() {
        scratch.clear();
        let mut nan = false;
        for &v in lane {
            if v.is_nan_value() {
                nan = true;
            } else {
                scratch.push(v);
            }
        }
        if nan && !spec.skip_nan {
            continue;
        }
        let n = scratch.len() as u64;
        let sorted = select_ranks(&mut scratch, spec);
        let vals = spec.values(n, |r| to_float::<T, F>(sorted(r)));
        for (qi, v) in vals.into_iter().enumerate() {
            out[qi * m + j] = v;
        }
    }
    let mut shape = if spec.q_axis { vec![nq] } else { vec![] };
    shape.extend(rest);
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("one value per q and lane"))
}

/// Puts every rank `spec` needs of `v` (no NaN) in its sorted place; returns
/// the accessor of those ranks.
fn select_ranks<'v, T: OrderKey>(v: &'v mut [T], spec: &QuantileSpec) -> impl Fn(u64) -> T + 'v {
    let n = v.len() as u64;
    if n > 0 {
        let mut ranks: Vec<usize> = spec
            .q
            .iter()
            .flat_map(|&q| {
                let p = spec.method.pick(n, q);
                [p.lo, p.hi]
            })
            .map(|r| usize::try_from(r).expect("a rank of a lane in memory fits usize"))
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        let mut base = 0;
        for r in ranks {
            // After a selection everything right of rank r is >= it, so the
            // next (larger) rank lies there.
            v[base..].select_nth_unstable_by_key(r - base, |x| x.key());
            base = r + 1;
        }
    }
    let v: &'v [T] = v;
    move |r| v[usize::try_from(r).expect("rank fits usize")]
}

/// Bits of a key each radix pass resolves (2048 bins per pass): 6 passes for
/// 64-bit dtypes, 3 for 32-bit, 2 for 16-bit, 1 for 8-bit.
pub const RADIX_BITS: u32 = 11;

/// Columns of a radix pass's count rows: a bin per digit, then the NaN count.
pub const RADIX_COLUMNS: usize = (1 << RADIX_BITS) + 1;

/// The digits of a radix selection over keys of `bits` bits, most significant
/// first: `(shift, width)` of each pass.
#[must_use]
pub fn radix_digits(bits: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut left = bits;
    while left > 0 {
        let w = left.min(RADIX_BITS);
        left -= w;
        out.push((left, w));
    }
    out
}

/// Passes of a radix selection over `dtype` (its key width over [`RADIX_BITS`]).
#[must_use]
pub fn radix_passes(dtype: DType) -> usize {
    radix_digits(8 * u32::try_from(dtype.size()).expect("small")).len()
}

/// Rows of the count table of pass `pass`: one before the ranks are known,
/// then two per quantile (its lower and upper rank).
#[must_use]
pub fn radix_rows(pass: usize, nq: usize) -> usize {
    if pass == 0 {
        1
    } else {
        2 * nq
    }
}

/// The state between radix passes, a 1-d `u64` chunk: the number of non-NaN
/// values, the NaN count, whether the result is NaN (1) and, per rank, the
/// key prefix found so far and the rank within the values of that prefix.
struct State {
    n: u64,
    nan: u64,
    nan_result: bool,
    /// (prefix, residual rank) per rank.
    ranks: Vec<(u64, u64)>,
}

impl State {
    fn decode(c: &Chunk) -> Result<State> {
        let bad = || KernelError::Other("quantile: a malformed radix state".into());
        let Chunk::U64(a) = c else { return Err(bad()) };
        let v: Vec<u64> = a.iter().copied().collect();
        if v.len() < 3 || !(v.len() - 3).is_multiple_of(2) {
            return Err(bad());
        }
        Ok(State {
            n: v[0],
            nan: v[1],
            nan_result: v[2] != 0,
            ranks: v[3..].chunks(2).map(|p| (p[0], p[1])).collect(),
        })
    }

    fn encode(&self) -> Chunk {
        let mut v = vec![self.n, self.nan, <u64 as From<_>>::from(self.nan_result)];
        for &(p, r) in &self.ranks {
            v.extend([p, r]);
        }
        let n = v.len();
        Chunk::U64(ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("1-d"))
    }
}

/// Elements of the state chunk between passes, for `nq` quantiles.
#[must_use]
pub fn radix_state_len(nq: usize) -> usize {
    3 + 4 * nq
}

/// Pass `pass` of a radix selection over one block: a `[1, rows, RADIX_COLUMNS]`
/// `i64` table. Pass 0 (no state) counts every non-NaN value by its first
/// digit and NaN in the last column; later passes count, per rank of the
/// state, the values whose key has that rank's prefix, by their next digit.
///
/// # Errors
/// A bool or non-data block, a malformed state, a pass beyond the dtype's.
pub fn radix_counts(block: &Chunk, state: Option<&Chunk>, pass: usize) -> Result<Chunk> {
    dispatch_arith!(dtype_of(block)?, T => {
        let a = T::view_chunk(block).expect("dtype checked");
        counts::<T>(&a, state.map(State::decode).transpose()?.as_ref(), pass)
    }, bool => Err(KernelError::Other("quantile of a bool block".into())))
}

fn counts<T: OrderKey>(
    a: &ndarray::ArrayViewD<'_, T>,
    state: Option<&State>,
    pass: usize,
) -> Result<Chunk> {
    let digits = radix_digits(T::BITS);
    let Some(&(shift, width)) = digits.get(pass) else {
        return Err(KernelError::Other(format!(
            "quantile: radix pass {pass} of {}",
            digits.len()
        )));
    };
    let mask = (1u64 << width) - 1;
    let rows = match (pass, state) {
        (0, None) => {
            let mut row = vec![0i64; RADIX_COLUMNS];
            for &v in a {
                if v.is_nan_value() {
                    row[RADIX_COLUMNS - 1] += 1;
                } else {
                    row[usize::try_from((v.key() >> shift) & mask).expect("digit")] += 1;
                }
            }
            vec![row]
        }
        (p, Some(s)) if p > 0 => {
            // The prefix of a rank is the key above the previous digit.
            let above = digits[p - 1].0;
            let mut prefixes: Vec<u64> = s.ranks.iter().map(|r| r.0).collect();
            prefixes.sort_unstable();
            prefixes.dedup();
            let mut hist = vec![vec![0i64; RADIX_COLUMNS]; prefixes.len()];
            for &v in a {
                if v.is_nan_value() {
                    continue;
                }
                let k = v.key();
                if let Ok(g) = prefixes.binary_search(&(k >> above)) {
                    hist[g][usize::try_from((k >> shift) & mask).expect("digit")] += 1;
                }
            }
            s.ranks
                .iter()
                .map(|r| hist[prefixes.binary_search(&r.0).expect("listed")].clone())
                .collect()
        }
        _ => {
            return Err(KernelError::Other(format!(
                "quantile: radix pass {pass} needs a state exactly when it is not the first"
            )))
        }
    };
    let r = rows.len();
    let flat: Vec<i64> = rows.into_iter().flatten().collect();
    Ok(Chunk::I64(
        ArrayD::from_shape_vec(IxDyn(&[1, r, RADIX_COLUMNS]), flat).expect("rows"),
    ))
}

/// The state after pass `pass`, from the summed count table (`[rows,
/// RADIX_COLUMNS]`) and the state before it (none for pass 0): each rank's
/// next digit is the bin holding it.
///
/// # Errors
/// A malformed table or state.
pub fn radix_refine(
    counts: &Chunk,
    state: Option<&Chunk>,
    pass: usize,
    dtype: DType,
    spec: &QuantileSpec,
) -> Result<Chunk> {
    let bad = |what: &str| KernelError::Other(format!("quantile: radix refine: {what}"));
    let Chunk::I64(c) = counts else {
        return Err(bad("counts are not i64"));
    };
    if c.ndim() != 2 || c.shape()[1] != RADIX_COLUMNS {
        return Err(bad("counts of the wrong shape"));
    }
    let digits = radix_digits(8 * u32::try_from(dtype.size()).expect("small"));
    let &(_, width) = digits
        .get(pass)
        .ok_or_else(|| bad("pass beyond the dtype's"))?;
    let mut s = match state {
        None => {
            let n = c
                .index_axis(Axis(0), 0)
                .iter()
                .take(RADIX_COLUMNS - 1)
                .map(|&x| x.unsigned_abs())
                .sum();
            let nan = c[[0, RADIX_COLUMNS - 1]].unsigned_abs();
            let nan_result = n == 0 || (nan > 0 && !spec.skip_nan);
            let ranks = spec
                .q
                .iter()
                .flat_map(|&q| {
                    if nan_result {
                        return [(0, 0), (0, 0)];
                    }
                    let p = spec.method.pick(n, q);
                    [(0, p.lo), (0, p.hi)]
                })
                .collect();
            State {
                n,
                nan,
                nan_result,
                ranks,
            }
        }
        Some(st) => State::decode(st)?,
    };
    if c.shape()[0] != radix_rows(pass, s.ranks.len() / 2) {
        return Err(bad("a row count that does not match the ranks"));
    }
    if !s.nan_result {
        for (j, r) in s.ranks.iter_mut().enumerate() {
            let row = c.index_axis(Axis(0), if pass == 0 { 0 } else { j });
            let mut below = 0u64;
            let mut found = None;
            for (d, &k) in row.iter().take(1 << width).enumerate() {
                let k = k.unsigned_abs();
                if r.1 < below + k {
                    found = Some(d as u64);
                    break;
                }
                below += k;
            }
            let d = found.ok_or_else(|| bad("a rank beyond the counted values"))?;
            *r = ((r.0 << width) | d, r.1 - below);
        }
    }
    Ok(s.encode())
}

/// The quantiles from the state after the last pass (whose prefixes are whole
/// keys): `[q]` (or a 0-d array) in the dtype's float type.
///
/// # Errors
/// A malformed state, or a bool dtype.
pub fn radix_finish(state: &Chunk, dtype: DType, spec: &QuantileSpec) -> Result<Chunk> {
    let s = State::decode(state)?;
    dispatch_arith!(dtype, T => {
        type F = <T as Element>::Float;
        let vals: Vec<F> = spec
            .q
            .iter()
            .enumerate()
            .map(|(i, &q)| {
                if s.nan_result {
                    return F::nan();
                }
                let p = spec.method.pick(s.n, q);
                let a = to_float::<T, F>(T::from_key(s.ranks[2 * i].0));
                let b = to_float::<T, F>(T::from_key(s.ranks[2 * i + 1].0));
                lerp(a, b, fl::<F>(p.gamma))
            })
            .collect();
        let shape: Vec<usize> = if spec.q_axis { vec![spec.q.len()] } else { vec![] };
        Ok(F::into_chunk(ArrayD::from_shape_vec(IxDyn(&shape), vals).expect("one per q")))
    }, bool => Err(KernelError::Other("quantile of a bool block".into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// NumPy's quantile by a full sort (total order, NaN handled as `spec` says).
    fn naive(v: &[f64], spec: &QuantileSpec) -> Vec<f64> {
        if v.iter().any(|x| x.is_nan()) && !spec.skip_nan {
            return vec![f64::NAN; spec.q.len()];
        }
        let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        s.sort_by(f64::total_cmp);
        spec.values(s.len() as u64, |r| s[r as usize])
    }

    fn spec(q: &[f64], method: QuantileMethod, skip_nan: bool) -> QuantileSpec {
        QuantileSpec {
            q: q.to_vec(),
            method,
            skip_nan,
            q_axis: true,
        }
    }

    fn f(c: Chunk) -> Vec<f64> {
        f64::from_chunk(c).unwrap().into_raw_vec_and_offset().0
    }

    #[test]
    fn numpy_values() {
        // np.quantile([1, 2, 3, 4], [0.4, 0.5], method=m)
        let x = Chunk::F64(array![4.0, 1.0, 3.0, 2.0].into_dyn());
        let want = [
            (QuantileMethod::Linear, [2.2, 2.5]),
            (QuantileMethod::Lower, [2.0, 2.0]),
            (QuantileMethod::Higher, [3.0, 3.0]),
            (QuantileMethod::Nearest, [2.0, 3.0]),
            (QuantileMethod::Midpoint, [2.5, 2.5]),
            (QuantileMethod::Hazen, [2.1, 2.5]),
            (QuantileMethod::Weibull, [2.0, 2.5]),
        ];
        for (m, w) in want {
            let got = f(quantile_lanes(&x, 0, &spec(&[0.4, 0.5], m, false)).unwrap());
            for (g, w) in got.iter().zip(w) {
                assert!((g - w).abs() < 1e-12, "{m:?}: {got:?} vs {w:?}");
            }
        }
        // Nearest rounds half to even: index 1.5 -> 2, 0.5 -> 0 (q = 1/2 above: 3.0).
        let y = Chunk::F64(array![10.0, 20.0, 30.0, 40.0].into_dyn());
        let s = spec(&[0.5, 1.0 / 6.0], QuantileMethod::Nearest, false);
        assert_eq!(f(quantile_lanes(&y, 0, &s).unwrap()), vec![30.0, 10.0]);
    }

    #[test]
    fn lanes_match_a_sort_with_nan_and_sizes() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            seed >> 33
        };
        for n in [0usize, 1, 2, 3, 7, 64, 65] {
            let v: Vec<f64> = (0..n)
                .map(|_| match next() % 10 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    k => (k as f64 - 5.0) * 1.5 + (next() % 3) as f64,
                })
                .collect();
            let x = Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[n]), v.clone()).unwrap());
            for m in QuantileMethod::ALL {
                for skip in [false, true] {
                    let s = spec(&[0.0, 0.13, 0.5, 0.77, 1.0], m, skip);
                    let got = f(quantile_lanes(&x, 0, &s).unwrap());
                    let want = naive(&v, &s);
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                            "{n} {m:?} {skip}: {got:?} {want:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn lanes_along_an_axis_of_ints_give_f64() {
        let x = Chunk::I32(array![[3, 1, 2], [0, 5, 4]].into_dyn());
        let mut s = spec(&[0.5], QuantileMethod::Linear, false);
        s.q_axis = false;
        let got = quantile_lanes(&x, 1, &s).unwrap();
        assert_eq!(got, Chunk::F64(array![2.0, 4.0].into_dyn()));
        let got = quantile_lanes(&x, 0, &s).unwrap();
        assert_eq!(got, Chunk::F64(array![1.5, 3.0, 3.0].into_dyn()));
        assert!(quantile_lanes(&x, 2, &s).is_err());
        assert!(quantile_lanes(&Chunk::Bool(array![true].into_dyn()), 0, &s).is_err());
    }

    #[test]
    fn keys_order_as_total_cmp() {
        let v = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-310,
            3.0,
            f64::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(w[0].key() < w[1].key());
        }
        for x in v {
            assert_eq!(f64::from_key(x.key()).to_bits(), x.to_bits());
        }
        assert!((-1i8).key() < 0i8.key() && i8::from_key((-128i8).key()) == -128);
        assert!((-1.5f32).key() < 1.0f32.key() && f32::from_key(2.5f32.key()) == 2.5);
        assert_eq!(radix_digits(64).len(), 6);
        assert_eq!(radix_digits(8), vec![(0, 8)]);
        assert_eq!(radix_digits(16), vec![(5, 11), (0, 5)]);
    }

    /// The radix passes over several blocks, summing their tables as the graph does.
    fn radix<T: OrderKey>(blocks: &[Chunk], s: &QuantileSpec) -> Chunk {
        let mut state: Option<Chunk> = None;
        for pass in 0..radix_digits(T::BITS).len() {
            let mut sum: Option<ArrayD<i64>> = None;
            for b in blocks {
                let Chunk::I64(c) = radix_counts(b, state.as_ref(), pass).unwrap() else {
                    panic!()
                };
                let c = c.index_axis(Axis(0), 0).to_owned();
                sum = Some(match sum {
                    None => c,
                    Some(t) => t + c,
                });
            }
            state = Some(
                radix_refine(&Chunk::I64(sum.unwrap()), state.as_ref(), pass, T::DTYPE, s).unwrap(),
            );
        }
        radix_finish(&state.unwrap(), T::DTYPE, s).unwrap()
    }

    #[test]
    fn radix_selection_matches_a_sort() {
        let v = [
            3.5,
            -1.0,
            f64::NAN,
            2.0,
            -0.0,
            0.0,
            1e300,
            -7.25,
            2.0,
            9.0,
            0.5,
        ];
        let blocks: Vec<Chunk> = v
            .chunks(3)
            .map(|c| Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[c.len()]), c.to_vec()).unwrap()))
            .collect();
        for m in QuantileMethod::ALL {
            for skip in [false, true] {
                let s = spec(&[0.0, 0.1, 0.5, 0.9, 1.0], m, skip);
                let got = f(radix::<f64>(&blocks, &s));
                let want = naive(&v, &s);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{m:?} {skip}: {got:?} {want:?}"
                    );
                }
            }
        }
        let ints = [
            Chunk::I16(array![5, -3, 300].into_dyn()),
            Chunk::I16(array![-32768, 7].into_dyn()),
        ];
        let s = spec(&[0.25, 0.5], QuantileMethod::Linear, false);
        assert_eq!(f(radix::<i16>(&ints, &s)), vec![-3.0, 5.0]);
        // All NaN (skipped) or empty: NaN.
        let nan = [Chunk::F32(array![f32::NAN].into_dyn())];
        let got = radix::<f32>(&nan, &spec(&[0.5], QuantileMethod::Linear, true));
        assert!(f32::from_chunk(got).unwrap().iter().all(|x| x.is_nan()));
    }
}
