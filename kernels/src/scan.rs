//! Scans along one axis, in the four steps of dask's `cumreduction`: the scan
//! of one block ([`ScanStep::Block`]), the block's total along the axis
//! ([`ScanStep::Total`]), the exclusive carry of the totals of the blocks before
//! it ([`ScanStep::Carry`], one step per block, in block order), and the carry
//! combined into the block's scan ([`ScanStep::Apply`]). Also `diff` over a
//! block extended by its neighbours' first `n` elements.
//!
//! Totals and carries keep the scanned axis at length 1 (length 2 for a fill:
//! the last valid value and its distance to the block's end, in `f64`).

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMut1, Axis, Slice, Zip};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// A built-in scan along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScanKind {
    /// Running sum (`numpy.cumsum`).
    CumSum,
    /// Running product (`numpy.cumprod`).
    CumProd,
    /// Running sum with NaN counted as zero (`numpy.nancumsum`).
    NanCumSum,
    /// Running product with NaN counted as one (`numpy.nancumprod`).
    NanCumProd,
    /// Running maximum, NaN propagating (`numpy.maximum.accumulate`).
    CumMax,
    /// Running minimum, NaN propagating (`numpy.minimum.accumulate`).
    CumMin,
    /// NaN replaced by the last valid value before it (after it when
    /// `backward`), at most `limit` positions away (xarray's `ffill`/`bfill`).
    Fill {
        /// Largest distance filled; `None`: any.
        limit: Option<usize>,
        /// Fill from the next valid value instead of the previous one.
        backward: bool,
    },
}

/// One of the four steps of a scan (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScanStep {
    /// The scan of one block (input: the block).
    Block,
    /// The block's total (input: the block's scan; for a fill, the raw block).
    Total,
    /// The carry into the next block (inputs: the previous carry, a total).
    Carry,
    /// The output block (inputs: the carry, the block's scan).
    Apply,
}

impl ScanKind {
    /// The dtype of the scan of `input`: NumPy's sum dtype (`i64` for signed
    /// integers and bool, `u64` for unsigned) for sums and products, the input
    /// dtype otherwise.
    #[must_use]
    pub fn result_dtype(self, input: DType) -> DType {
        match self {
            ScanKind::CumSum | ScanKind::CumProd | ScanKind::NanCumSum | ScanKind::NanCumProd => {
                input.sum_dtype()
            }
            ScanKind::CumMax | ScanKind::CumMin | ScanKind::Fill { .. } => input,
        }
    }

    /// NumPy's name for the scan.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ScanKind::CumSum => "cumsum",
            ScanKind::CumProd => "cumprod",
            ScanKind::NanCumSum => "nancumsum",
            ScanKind::NanCumProd => "nancumprod",
            ScanKind::CumMax => "cummax",
            ScanKind::CumMin => "cummin",
            ScanKind::Fill {
                backward: false, ..
            } => "ffill",
            ScanKind::Fill { backward: true, .. } => "bfill",
        }
    }
}

/// Element arithmetic the scans need: wrapping for integers (as NumPy), `|`,
/// `&` and `!=` for bool.
pub trait ScanElem: Element {
    /// `a + b`.
    fn add(self, o: Self) -> Self;
    /// `a * b`.
    fn mul(self, o: Self) -> Self;
    /// `a - b` (`a != b` for bool, as `numpy.diff`).
    fn sub(self, o: Self) -> Self;
    /// True for NaN.
    fn is_nan(self) -> bool;
    /// The additive identity.
    fn zero() -> Self;
    /// The multiplicative identity.
    fn one() -> Self;
    /// Exact conversion to the sum type.
    fn to_sum(self) -> Self::Sum;
}

macro_rules! scan_int {
    ($($t:ty),*) => {$(
        impl ScanElem for $t {
            fn add(self, o: Self) -> Self { self.wrapping_add(o) }
            fn mul(self, o: Self) -> Self { self.wrapping_mul(o) }
            fn sub(self, o: Self) -> Self { self.wrapping_sub(o) }
            fn is_nan(self) -> bool { false }
            fn zero() -> Self { 0 }
            fn one() -> Self { 1 }
            #[allow(clippy::cast_lossless, clippy::cast_sign_loss)]
            fn to_sum(self) -> Self::Sum { self as Self::Sum }
        }
    )*};
}
scan_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! scan_float {
    ($($t:ty),*) => {$(
        impl ScanElem for $t {
            fn add(self, o: Self) -> Self { self + o }
            fn mul(self, o: Self) -> Self { self * o }
            fn sub(self, o: Self) -> Self { self - o }
            fn is_nan(self) -> bool { <$t>::is_nan(self) }
            fn zero() -> Self { 0.0 }
            fn one() -> Self { 1.0 }
            fn to_sum(self) -> Self::Sum { self }
        }
    )*};
}
scan_float!(f32, f64);

impl ScanElem for bool {
    fn add(self, o: Self) -> Self {
        self | o
    }
    fn mul(self, o: Self) -> Self {
        self & o
    }
    fn sub(self, o: Self) -> Self {
        self != o
    }
    fn is_nan(self) -> bool {
        false
    }
    fn zero() -> Self {
        false
    }
    fn one() -> Self {
        true
    }
    fn to_sum(self) -> i64 {
        i64::from(self)
    }
}

/// NumPy's `maximum`: NaN wins.
fn max_nan<T: ScanElem>(a: T, b: T) -> T {
    if a.is_nan() || (!b.is_nan() && a >= b) {
        a
    } else {
        b
    }
}

/// NumPy's `minimum`: NaN wins.
fn min_nan<T: ScanElem>(a: T, b: T) -> T {
    if a.is_nan() || (!b.is_nan() && a <= b) {
        a
    } else {
        b
    }
}

/// A user operator applied by the scan steps: an associative `op(T, T) -> T`.
/// The block scan folds each lane left to right; carries and the final
/// combine apply `op(carry, x)`, carry first.
pub trait ScanOperator: Send + Sync {
    /// The dtype the operator takes and returns.
    fn dtype(&self) -> DType;
    /// Runs one step (see [`ScanStep`]) along `axis`.
    ///
    /// # Errors
    /// Inputs of another dtype or count.
    fn run(&self, step: ScanStep, axis: usize, inputs: &[&Chunk]) -> Result<Chunk>;
}

/// A [`ScanOperator`] from a function pointer over `T`.
#[derive(Clone, Copy, Debug)]
pub struct FnScan<T>(pub fn(T, T) -> T);

impl<T: Element> ScanOperator for FnScan<T> {
    fn dtype(&self) -> DType {
        T::DTYPE
    }

    fn run(&self, step: ScanStep, axis: usize, inputs: &[&Chunk]) -> Result<Chunk> {
        let f = self.0;
        Ok(T::into_chunk(match step {
            ScanStep::Block => scan_owned(view::<T>(inputs, 0)?.to_owned(), axis, f),
            ScanStep::Total => last(&view::<T>(inputs, 0)?, axis),
            ScanStep::Carry | ScanStep::Apply => {
                combine(&view::<T>(inputs, 0)?, &view::<T>(inputs, 1)?, f)?
            }
        }))
    }
}

/// Input `i` as a view of `T`.
fn view<'a, T: Element>(inputs: &[&'a Chunk], i: usize) -> Result<ArrayViewD<'a, T>> {
    let c = inputs
        .get(i)
        .ok_or_else(|| KernelError::Other(format!("scan step needs input {i}")))?;
    T::view_chunk(c).ok_or_else(|| KernelError::DType {
        expected: T::DTYPE.to_string(),
        got: format!("{:?}", c.dtype()),
    })
}

/// Inclusive scan of every lane along `axis`, in place.
fn scan_owned<T: Copy>(mut a: ArrayD<T>, axis: usize, f: impl Fn(T, T) -> T) -> ArrayD<T> {
    let n = a.shape()[axis];
    if axis + 1 < a.ndim() && n > 1 && a.is_standard_layout() {
        // Along an outer axis of a C-order block, lanes are strided: combine
        // whole (contiguous) slabs instead, slab i with slab i - 1. Each
        // element sees the same operations in the same order as a lane walk.
        for i in 1..n {
            let (done, mut rest) = a.view_mut().split_at(Axis(axis), i);
            let prev = done.index_axis(Axis(axis), i - 1);
            let mut cur = rest.index_axis_mut(Axis(axis), 0);
            Zip::from(&mut cur)
                .and(&prev)
                .for_each(|c, &p| *c = f(p, *c));
        }
        return a;
    }
    for mut lane in a.lanes_mut(Axis(axis)) {
        let mut it = lane.iter_mut();
        if let Some(first) = it.next() {
            let mut acc = *first;
            for x in it {
                acc = f(acc, *x);
                *x = acc;
            }
        }
    }
    a
}

/// The last element of every lane along `axis` (the axis kept at length 1).
fn last<T: Copy>(a: &ArrayViewD<'_, T>, axis: usize) -> ArrayD<T> {
    let n = a.shape()[axis];
    a.slice_axis(Axis(axis), Slice::from(n.saturating_sub(1)..n))
        .to_owned()
}

/// `f(carry, x)` for every `x` of `block`, `carry` broadcast along its
/// length-1 axes.
fn combine<T: Copy>(
    carry: &ArrayViewD<'_, T>,
    block: &ArrayViewD<'_, T>,
    f: impl Fn(T, T) -> T,
) -> Result<ArrayD<T>> {
    let c = carry
        .broadcast(block.raw_dim())
        .ok_or_else(|| KernelError::Shape {
            expected: block.shape().to_vec(),
            got: carry.shape().to_vec(),
        })?;
    let mut out = block.to_owned();
    Zip::from(&mut out).and(&c).for_each(|o, &c| *o = f(c, *o));
    Ok(out)
}

/// Runs one step of a built-in scan along `axis`.
///
/// # Errors
/// Inputs of the wrong dtype, count or shape; a fill of a non-float array.
pub fn run(kind: ScanKind, step: ScanStep, axis: usize, inputs: &[&Chunk]) -> Result<Chunk> {
    if let ScanKind::Fill { limit, backward } = kind {
        return fill_step(limit, backward, step, axis, inputs);
    }
    let first = inputs
        .first()
        .ok_or_else(|| KernelError::Other("scan step without input".into()))?;
    let dtype = first
        .dtype()
        .ok_or_else(|| crate::layout::not_data(first))?;
    crate::dispatch_dtype!(dtype, T => arith_step::<T>(kind, step, axis, inputs))
}

/// A step of a sum, product, max or min. `Block` takes the input dtype `T`
/// (cast to the sum dtype for sums and products); the other steps take the
/// result dtype, which is `T` itself for them.
fn arith_step<T: ScanElem>(
    kind: ScanKind,
    step: ScanStep,
    axis: usize,
    inputs: &[&Chunk],
) -> Result<Chunk>
where
    T::Sum: ScanElem,
{
    fn sum_input<T: ScanElem>(inputs: &[&Chunk], nan: T::Sum) -> Result<ArrayD<T::Sum>>
    where
        T::Sum: ScanElem,
    {
        Ok(view::<T>(inputs, 0)?.mapv(|x| {
            let s = x.to_sum();
            if s.is_nan() {
                nan
            } else {
                s
            }
        }))
    }
    type S<T> = <T as Element>::Sum;
    match (kind, step) {
        (ScanKind::CumSum | ScanKind::NanCumSum, ScanStep::Block) => {
            // NaN stays NaN for cumsum: the replacement is the value itself.
            let a = if kind == ScanKind::NanCumSum {
                sum_input::<T>(inputs, S::<T>::zero())?
            } else {
                view::<T>(inputs, 0)?.mapv(ScanElem::to_sum)
            };
            Ok(S::<T>::into_chunk(scan_owned(a, axis, ScanElem::add)))
        }
        (ScanKind::CumProd | ScanKind::NanCumProd, ScanStep::Block) => {
            let a = if kind == ScanKind::NanCumProd {
                sum_input::<T>(inputs, S::<T>::one())?
            } else {
                view::<T>(inputs, 0)?.mapv(ScanElem::to_sum)
            };
            Ok(S::<T>::into_chunk(scan_owned(a, axis, ScanElem::mul)))
        }
        (ScanKind::CumMax, ScanStep::Block) => Ok(T::into_chunk(scan_owned(
            view::<T>(inputs, 0)?.to_owned(),
            axis,
            max_nan,
        ))),
        (ScanKind::CumMin, ScanStep::Block) => Ok(T::into_chunk(scan_owned(
            view::<T>(inputs, 0)?.to_owned(),
            axis,
            min_nan,
        ))),
        (ScanKind::Fill { .. }, ScanStep::Block) => {
            Err(KernelError::Other("fills are handled by fill_step".into()))
        }
        (_, ScanStep::Total) => Ok(T::into_chunk(last(&view::<T>(inputs, 0)?, axis))),
        (_, ScanStep::Carry | ScanStep::Apply) => {
            // The block steps already turned NaN into the identity for the
            // nan-variants, so carries combine with the plain operator.
            let f: fn(T, T) -> T = match kind {
                ScanKind::CumSum | ScanKind::NanCumSum => ScanElem::add,
                ScanKind::CumProd | ScanKind::NanCumProd => ScanElem::mul,
                ScanKind::CumMax => max_nan,
                ScanKind::CumMin => min_nan,
                ScanKind::Fill { .. } => unreachable!("fills are handled by fill_step"),
            };
            let (c, b) = (view::<T>(inputs, 0)?, view::<T>(inputs, 1)?);
            Ok(T::into_chunk(combine(&c, &b, f)?))
        }
    }
}

/// A step of a forward or backward fill (floats only: other dtypes hold no NaN).
fn fill_step(
    limit: Option<usize>,
    backward: bool,
    step: ScanStep,
    axis: usize,
    inputs: &[&Chunk],
) -> Result<Chunk> {
    match step {
        // Totals and carries are f64 whatever the data's dtype.
        ScanStep::Carry => {
            let (p, t) = (view::<f64>(inputs, 0)?, view::<f64>(inputs, 1)?);
            let mut out = t.to_owned();
            for (mut o, p) in out
                .lanes_mut(Axis(axis))
                .into_iter()
                .zip(p.lanes(Axis(axis)))
            {
                if o[0].is_nan() {
                    o[0] = p[0];
                    o[1] += p[1];
                }
            }
            Ok(Chunk::F64(out))
        }
        ScanStep::Block | ScanStep::Total | ScanStep::Apply => match inputs.last().copied() {
            Some(Chunk::F32(_)) => fill_float::<f32>(limit, backward, step, axis, inputs),
            Some(Chunk::F64(_)) => fill_float::<f64>(limit, backward, step, axis, inputs),
            other => Err(KernelError::DType {
                expected: "a float dtype".into(),
                got: format!("{:?}", other.and_then(|c| c.dtype())),
            }),
        },
    }
}

/// The lane oriented in the fill's direction.
fn oriented<T>(mut lane: ArrayViewMut1<'_, T>, backward: bool) -> ArrayViewMut1<'_, T> {
    if backward {
        lane.invert_axis(Axis(0));
    }
    lane
}

fn within(limit: Option<usize>, dist: usize) -> bool {
    limit.is_none_or(|l| dist <= l)
}

#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn fill_float<F: Element + num_traits::Float>(
    limit: Option<usize>,
    backward: bool,
    step: ScanStep,
    axis: usize,
    inputs: &[&Chunk],
) -> Result<Chunk> {
    match step {
        ScanStep::Block => {
            let mut a = view::<F>(inputs, 0)?.to_owned();
            for lane in a.lanes_mut(Axis(axis)) {
                let mut lane = oriented(lane, backward);
                let mut last: Option<(F, usize)> = None;
                for (j, x) in lane.iter_mut().enumerate() {
                    if !x.is_nan() {
                        last = Some((*x, j));
                    } else if let Some((v, p)) = last {
                        if within(limit, j - p) {
                            *x = v;
                        }
                    }
                }
            }
            Ok(F::into_chunk(a))
        }
        ScanStep::Total => {
            let a = view::<F>(inputs, 0)?;
            let mut shape = a.shape().to_vec();
            shape[axis] = 2;
            let mut out = ArrayD::<f64>::zeros(shape);
            for (mut o, lane) in out
                .lanes_mut(Axis(axis))
                .into_iter()
                .zip(a.lanes(Axis(axis)))
            {
                let n = lane.len();
                // The last valid value in fill order and the positions after it.
                let found = if backward {
                    lane.iter().position(|x| !x.is_nan()).map(|j| (j, j))
                } else {
                    lane.iter()
                        .rposition(|x| !x.is_nan())
                        .map(|j| (j, n - 1 - j))
                };
                let (v, dist) = found.map_or((f64::NAN, n), |(j, d)| (lane[j].to_f64(), d));
                o[0] = v;
                o[1] = dist as f64;
            }
            Ok(Chunk::F64(out))
        }
        ScanStep::Apply => {
            let c = view::<f64>(inputs, 0)?;
            let mut a = view::<F>(inputs, 1)?.to_owned();
            for (lane, c) in a.lanes_mut(Axis(axis)).into_iter().zip(c.lanes(Axis(axis))) {
                let (v, dist) = (c[0], c[1] as usize);
                if v.is_nan() {
                    continue;
                }
                let v = F::from_f64(v);
                // Only the leading NaNs: the block step filled every later one
                // it could.
                for (j, x) in oriented(lane, backward).iter_mut().enumerate() {
                    if !x.is_nan() || !within(limit, dist + j + 1) {
                        break;
                    }
                    *x = v;
                }
            }
            Ok(F::into_chunk(a))
        }
        ScanStep::Carry => unreachable!("fill carries are handled by fill_step"),
    }
}

/// `numpy.diff(x, n, axis)` of the concatenation along `axis` of `ranges[i]`
/// of `inputs[i]` (a block extended by the first `n` elements after it).
///
/// # Errors
/// Inputs of different dtypes, non-data inputs, ranges outside their inputs.
pub fn diff(inputs: &[&Chunk], ranges: &[Range<usize>], axis: usize, n: usize) -> Result<Chunk> {
    let first = inputs
        .first()
        .ok_or_else(|| KernelError::Other("diff without input".into()))?;
    let dtype = first
        .dtype()
        .ok_or_else(|| crate::layout::not_data(first))?;
    crate::dispatch_dtype!(dtype, T => {
        let mut parts = Vec::with_capacity(inputs.len());
        for (i, r) in ranges.iter().enumerate() {
            let mut v = view::<T>(inputs, i)?;
            if r.end > v.shape()[axis] || r.start > r.end {
                return Err(KernelError::Shape { expected: vec![r.end], got: v.shape().to_vec() });
            }
            v.slice_axis_inplace(Axis(axis), Slice::from(r.clone()));
            parts.push(v);
        }
        let mut a = ndarray::concatenate(Axis(axis), &parts)
            .map_err(|e| KernelError::Other(format!("diff: {e}")))?;
        for _ in 0..n {
            a = diff_once(&a.view(), axis);
        }
        Ok(T::into_chunk(a))
    })
}

fn diff_once<T: ScanElem>(a: &ArrayViewD<'_, T>, axis: usize) -> ArrayD<T> {
    let len = a.shape()[axis];
    if len == 0 {
        return a.to_owned();
    }
    let hi = a.slice_axis(Axis(axis), Slice::from(1..));
    let lo = a.slice_axis(Axis(axis), Slice::from(..len - 1));
    Zip::from(&hi).and(&lo).map_collect(|&h, &l| h.sub(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, ArrayD, IxDyn};

    fn f64s(v: &[f64]) -> Chunk {
        Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap())
    }

    fn get(c: &Chunk) -> Vec<f64> {
        match c {
            Chunk::F64(a) => a.iter().copied().collect(),
            Chunk::I64(a) => a.iter().map(|&x| x as f64).collect(),
            _ => panic!("unexpected {c:?}"),
        }
    }

    /// Sequential reference: the scan of the whole lane.
    fn naive(kind: ScanKind, v: &[f64]) -> Vec<f64> {
        let mut out = Vec::new();
        let mut acc: Option<f64> = None;
        for &x in v {
            let x2 = match kind {
                ScanKind::NanCumSum if x.is_nan() => 0.0,
                ScanKind::NanCumProd if x.is_nan() => 1.0,
                _ => x,
            };
            acc = Some(match acc {
                None => x2,
                Some(a) => match kind {
                    ScanKind::CumSum | ScanKind::NanCumSum => a + x2,
                    ScanKind::CumProd | ScanKind::NanCumProd => a * x2,
                    ScanKind::CumMax => max_nan(a, x2),
                    ScanKind::CumMin => min_nan(a, x2),
                    ScanKind::Fill { .. } => unreachable!(),
                },
            });
            out.push(acc.unwrap());
        }
        out
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    }

    /// The four steps over `v` cut in two at `cut`.
    fn two_blocks(kind: ScanKind, v: &[f64], cut: usize) -> Vec<f64> {
        let (a, b) = (f64s(&v[..cut]), f64s(&v[cut..]));
        let sa = run(kind, ScanStep::Block, 0, &[&a]).unwrap();
        let sb = run(kind, ScanStep::Block, 0, &[&b]).unwrap();
        let total_src = if matches!(kind, ScanKind::Fill { .. }) {
            &a
        } else {
            &sa
        };
        let t = run(kind, ScanStep::Total, 0, &[total_src]).unwrap();
        let ob = run(kind, ScanStep::Apply, 0, &[&t, &sb]).unwrap();
        let mut out = get(&sa);
        out.extend(get(&ob));
        out
    }

    #[test]
    fn arithmetic_scans_match_naive() {
        let v = [1.0, f64::NAN, 3.0, -2.0, 5.0, 0.5];
        for kind in [
            ScanKind::CumSum,
            ScanKind::CumProd,
            ScanKind::NanCumSum,
            ScanKind::NanCumProd,
            ScanKind::CumMax,
            ScanKind::CumMin,
        ] {
            for cut in 1..v.len() {
                assert!(
                    same(&two_blocks(kind, &v, cut), &naive(kind, &v)),
                    "{kind:?} {cut}"
                );
            }
            // Sizes 0 and 1.
            assert!(get(&run(kind, ScanStep::Block, 0, &[&f64s(&[])]).unwrap()).is_empty());
            assert!(same(
                &get(&run(kind, ScanStep::Block, 0, &[&f64s(&[2.0])]).unwrap()),
                &[2.0]
            ));
        }
    }

    #[test]
    fn integer_sums_widen_and_wrap() {
        let a = Chunk::I8(arr1(&[100i8, 100, -128]).into_dyn());
        let s = run(ScanKind::CumSum, ScanStep::Block, 0, &[&a]).unwrap();
        assert_eq!(s, Chunk::I64(arr1(&[100i64, 200, 72]).into_dyn()));
        let b = Chunk::Bool(arr1(&[true, false, true]).into_dyn());
        let s = run(ScanKind::CumSum, ScanStep::Block, 0, &[&b]).unwrap();
        assert_eq!(s, Chunk::I64(arr1(&[1i64, 1, 2]).into_dyn()));
        let u = Chunk::U64(arr1(&[u64::MAX, 2]).into_dyn());
        let s = run(ScanKind::CumSum, ScanStep::Block, 0, &[&u]).unwrap();
        assert_eq!(s, Chunk::U64(arr1(&[u64::MAX, 1]).into_dyn()));
    }

    fn naive_fill(v: &[f64], limit: Option<usize>, backward: bool) -> Vec<f64> {
        let mut w: Vec<f64> = v.to_vec();
        if backward {
            w.reverse();
        }
        let mut last: Option<(f64, usize)> = None;
        for (j, x) in w.iter_mut().enumerate() {
            if !x.is_nan() {
                last = Some((*x, j));
            } else if let Some((val, p)) = last {
                if limit.is_none_or(|l| j - p <= l) {
                    *x = val;
                }
            }
        }
        if backward {
            w.reverse();
        }
        w
    }

    #[test]
    fn fills_match_naive_over_three_blocks() {
        let n = f64::NAN;
        let v = [n, 1.0, n, n, n, n, 2.0, n, n, n];
        for limit in [None, Some(0), Some(1), Some(2), Some(4)] {
            for backward in [false, true] {
                let kind = ScanKind::Fill { limit, backward };
                for c1 in 1..v.len() - 1 {
                    for c2 in c1 + 1..v.len() {
                        let mut blocks = [&v[..c1], &v[c1..c2], &v[c2..]];
                        if backward {
                            blocks.reverse();
                        }
                        let chunks: Vec<Chunk> = blocks.iter().map(|b| f64s(b)).collect();
                        let mut carry: Option<Chunk> = None;
                        let mut outs = Vec::new();
                        for c in &chunks {
                            let s = run(kind, ScanStep::Block, 0, &[c]).unwrap();
                            let t = run(kind, ScanStep::Total, 0, &[c]).unwrap();
                            let o = match &carry {
                                None => s,
                                Some(k) => run(kind, ScanStep::Apply, 0, &[k, &s]).unwrap(),
                            };
                            carry = Some(match carry {
                                None => t,
                                Some(k) => run(kind, ScanStep::Carry, 0, &[&k, &t]).unwrap(),
                            });
                            outs.push(get(&o));
                        }
                        if backward {
                            outs.reverse();
                        }
                        let got: Vec<f64> = outs.concat();
                        let want = naive_fill(&v, limit, backward);
                        assert!(
                            same(&got, &want),
                            "{limit:?} {backward} {c1} {c2}: {got:?} {want:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fill_of_integers_is_refused() {
        let a = Chunk::I32(arr1(&[1]).into_dyn());
        let kind = ScanKind::Fill {
            limit: None,
            backward: false,
        };
        assert!(run(kind, ScanStep::Block, 0, &[&a]).is_err());
    }

    #[test]
    fn user_operator_runs_every_step() {
        let op = FnScan::<f64>(|a, b| a.max(b) + 1.0);
        let a = f64s(&[1.0, 0.0, 5.0]);
        let s = op.run(ScanStep::Block, 0, &[&a]).unwrap();
        assert_eq!(get(&s), vec![1.0, 2.0, 6.0]);
        let t = op.run(ScanStep::Total, 0, &[&s]).unwrap();
        assert_eq!(get(&t), vec![6.0]);
        let o = op.run(ScanStep::Apply, 0, &[&t, &s]).unwrap();
        assert_eq!(get(&o), vec![7.0, 7.0, 7.0]);
        assert!(op
            .run(ScanStep::Block, 0, &[&Chunk::I32(arr1(&[1]).into_dyn())])
            .is_err());
    }

    // One range per input block: arrays of one range are what `diff` takes.
    #[allow(clippy::single_range_in_vec_init)]
    #[test]
    fn diff_matches_numpy() {
        let a = f64s(&[1.0, 4.0, 9.0]);
        let b = f64s(&[16.0, 25.0]);
        let d = diff(&[&a, &b], &[0..3, 0..2], 0, 2).unwrap();
        assert_eq!(get(&d), vec![2.0, 2.0, 2.0]);
        // n at least the length: empty.
        assert!(get(&diff(&[&a], &[0..3], 0, 3).unwrap()).is_empty());
        assert!(get(&diff(&[&a], &[0..1], 0, 5).unwrap()).is_empty());
        assert!(get(&diff(&[&a], &[0..0], 0, 1).unwrap()).is_empty());
        let bits = Chunk::Bool(arr1(&[true, true, false]).into_dyn());
        assert_eq!(
            diff(&[&bits], &[0..3], 0, 1).unwrap(),
            Chunk::Bool(arr1(&[false, true]).into_dyn())
        );
        let u = Chunk::U8(arr1(&[1u8, 0]).into_dyn());
        assert_eq!(
            diff(&[&u], &[0..2], 0, 1).unwrap(),
            Chunk::U8(arr1(&[255u8]).into_dyn())
        );
    }
}
