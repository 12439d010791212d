//! `min`/`max` (NaN propagates), `nanmin`/`nanmax` (NaN skipped) and
//! `argmin`/`argmax` (first occurrence; first NaN wins), as in NumPy.

use super::elem::Elem;
use super::layout::{c_strides, Reducer};
use crate::error::{KernelError, Result};
use crate::reduce::kind::ArgContext;

/// Whether `x` is strictly better than `m`: greater for `max`, less for `min`.
#[inline]
fn better<T: Elem, const MAX: bool>(x: T, m: T) -> bool {
    if MAX {
        x > m
    } else {
        x < m
    }
}

/// `min` or `max`; NaN propagates unless `SKIP_NAN`.
///
/// Identities: `+inf`/`-inf` (or the integer type's bounds, `true`/`false` for bool)
/// for `min`/`max`; NaN for float `nanmin`/`nanmax`, so that a block of only NaN (or
/// no elements) loses to any number in a merge and an all-NaN result stays NaN.
pub(super) struct Extreme<const MAX: bool, const SKIP_NAN: bool>;

impl<const MAX: bool, const SKIP_NAN: bool> Extreme<MAX, SKIP_NAN> {
    /// Folds `x` into `m`. Neither operand order nor grouping changes the result, so
    /// partials may be merged in any tree.
    #[inline]
    pub(super) fn step<T: Elem>(m: T, x: T) -> T {
        if SKIP_NAN {
            if m.is_nan() || better::<T, MAX>(x, m) {
                x
            } else {
                m
            }
        } else if m.is_nan() {
            m
        } else if x.is_nan() || better::<T, MAX>(x, m) {
            x
        } else {
            m
        }
    }

    /// The value of an empty reduction (see the type's docs).
    pub(super) fn identity<T: Elem>() -> T {
        match T::NAN {
            Some(nan) if SKIP_NAN => nan,
            _ if MAX => T::BOTTOM,
            _ => T::TOP,
        }
    }
}

impl<T: Elem, const MAX: bool, const SKIP_NAN: bool> Reducer<T> for Extreme<MAX, SKIP_NAN> {
    type Acc = T;
    fn identity(&self) -> T {
        Self::identity()
    }
    fn lane(&self, _out: usize, _start: usize, xs: &[T]) -> T {
        let mut m = Self::identity();
        for &x in xs {
            // Once a NaN is seen the answer is known.
            if !SKIP_NAN && x.is_nan() {
                return x;
            }
            m = Self::step(m, x);
        }
        m
    }
    fn row(&self, _out: usize, _start: usize, acc: &mut [T], xs: &[T]) {
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a = Self::step(*a, x);
        }
    }
    fn combine(&self, a: T, b: T) -> T {
        Self::step(a, b)
    }
}

/// The better of two (value, index) candidates; `None` marks an empty candidate. Ties
/// go to the smaller index and a NaN beats any number, so the result does not depend
/// on which side came first: blocks merged in block order need not be in index order
/// (a later block of a 2-d grid can hold smaller flat indices).
#[inline]
pub(super) fn pick<T: Elem, I: Ord + Copy, const MAX: bool>(
    a: (T, Option<I>),
    b: (T, Option<I>),
) -> (T, Option<I>) {
    let (Some(ia), Some(ib)) = (a.1, b.1) else {
        return if a.1.is_some() { a } else { b };
    };
    let b_wins = match (a.0.is_nan(), b.0.is_nan()) {
        (true, false) => false,
        (false, true) => true,
        (false, false) if better::<T, MAX>(b.0, a.0) => true,
        (false, false) if better::<T, MAX>(a.0, b.0) => false,
        _ => ib < ia,
    };
    if b_wins {
        b
    } else {
        a
    }
}

/// `argmin`/`argmax` within a block, tracking local C-order positions.
pub(super) struct ArgExtreme<const MAX: bool>;

impl<T: Elem, const MAX: bool> Reducer<T> for ArgExtreme<MAX> {
    type Acc = (T, Option<usize>);
    fn identity(&self) -> Self::Acc {
        (T::default(), None)
    }
    fn lane(&self, _out: usize, start: usize, xs: &[T]) -> Self::Acc {
        let mut best = self.identity();
        for (j, &x) in xs.iter().enumerate() {
            // The first NaN is the answer: nothing later can beat it.
            if x.is_nan() {
                return (x, Some(start + j));
            }
            if best.1.is_none() || better::<T, MAX>(x, best.0) {
                best = (x, Some(start + j));
            }
        }
        best
    }
    fn row(&self, _out: usize, start: usize, acc: &mut [Self::Acc], xs: &[T]) {
        // Rows arrive in position order, so a tie keeps the earlier candidate.
        for (j, (a, &x)) in acc.iter_mut().zip(xs).enumerate() {
            let wins = match a.1 {
                None => true,
                Some(_) => !a.0.is_nan() && (x.is_nan() || better::<T, MAX>(x, a.0)),
            };
            if wins {
                *a = (x, Some(start + j));
            }
        }
    }
    fn combine(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        pick::<T, usize, MAX>(a, b)
    }
}

/// Turns a local C-order position in a block into the index an arg partial reports.
pub(super) enum ArgIndex {
    /// Index along one axis: `offset + (pos / stride) % len`.
    Axis {
        /// Block offset along the axis.
        offset: usize,
        /// Local C stride of the axis.
        stride: usize,
        /// Block length along the axis.
        len: usize,
    },
    /// Flat C-order index in the whole array.
    Flat {
        /// Block offset per axis.
        offset: Vec<usize>,
        /// Local C strides of the block.
        local: Vec<usize>,
        /// C strides of the whole array.
        global: Vec<usize>,
    },
}

impl ArgIndex {
    /// Checks `ctx` against a block of `shape` reduced over `axes` (validated).
    ///
    /// # Errors
    /// If `axes` is neither one axis nor every axis, or `ctx` does not place the
    /// block inside an array whose flat indices fit in `i64`.
    pub(super) fn new(shape: &[usize], axes: &[usize], ctx: &ArgContext) -> Result<ArgIndex> {
        let nd = shape.len();
        if ctx.offset.len() != nd || ctx.global_shape.len() != nd {
            return Err(KernelError::Other(format!(
                "arg reduction of a {nd}-d block: context has offset {:?} and global shape {:?}",
                ctx.offset, ctx.global_shape
            )));
        }
        for d in 0..nd {
            let end = ctx.offset[d].checked_add(shape[d]);
            if end.is_none_or(|end| end > ctx.global_shape[d]) {
                return Err(KernelError::Other(format!(
                    "block of shape {shape:?} at offset {:?} lies outside global shape {:?}",
                    ctx.offset, ctx.global_shape
                )));
            }
        }
        let total = ctx
            .global_shape
            .iter()
            .try_fold(1usize, |p, &n| p.checked_mul(n));
        if total.is_none_or(|t| i64::try_from(t).is_err()) {
            return Err(KernelError::Other(format!(
                "global shape {:?} has more elements than an i64 index can address",
                ctx.global_shape
            )));
        }
        let local = c_strides(shape);
        if axes.len() == nd {
            Ok(ArgIndex::Flat {
                offset: ctx.offset.clone(),
                local,
                global: c_strides(&ctx.global_shape),
            })
        } else if let [axis] = *axes {
            Ok(ArgIndex::Axis {
                offset: ctx.offset[axis],
                stride: local[axis],
                len: shape[axis],
            })
        } else {
            Err(KernelError::Other(format!(
                "argmin/argmax reduce one axis or all axes of a {nd}-d block, not {axes:?}"
            )))
        }
    }

    /// The reported index of local position `pos`.
    pub(super) fn index(&self, pos: usize) -> i64 {
        let i = match self {
            ArgIndex::Axis {
                offset,
                stride,
                len,
            } => offset + (pos / stride) % len,
            ArgIndex::Flat {
                offset,
                local,
                global,
            } => {
                let mut rest = pos;
                let mut flat = 0;
                for ((&o, &l), &g) in offset.iter().zip(local).zip(global) {
                    flat += (o + rest / l) * g;
                    rest %= l;
                }
                flat
            }
        };
        // `new` checked that every flat index of the global array fits in i64.
        i64::try_from(i).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_extreme_nan_rules() {
        let nan = f64::NAN;
        let lane = |xs: &[f64]| Reducer::<f64>::lane(&Extreme::<false, false>, 0, 0, xs);
        assert!(lane(&[1.0, nan, -5.0]).is_nan());
        assert_eq!(lane(&[3.0, -1.0, 2.0]), -1.0);
        assert_eq!(lane(&[]), f64::INFINITY);
        let nanmax = |xs: &[f64]| Reducer::<f64>::lane(&Extreme::<true, true>, 0, 0, xs);
        assert_eq!(nanmax(&[nan, 1.0, nan, 4.0, 2.0]), 4.0);
        assert!(nanmax(&[nan, nan]).is_nan() && nanmax(&[]).is_nan());
        assert_eq!(nanmax(&[nan, f64::NEG_INFINITY]), f64::NEG_INFINITY);
        // Combining is insensitive to order for both variants.
        for (a, b) in [(nan, 1.0), (1.0, nan), (2.0, 1.0)] {
            assert_eq!(
                Extreme::<false, false>::step(a, b).to_bits(),
                Extreme::<false, false>::step(b, a).to_bits()
            );
            assert_eq!(
                Extreme::<true, true>::step(a, b),
                Extreme::<true, true>::step(b, a)
            );
        }
        assert_eq!(Extreme::<false, true>::identity::<i8>(), i8::MAX);
        assert!(!Extreme::<true, false>::identity::<bool>());
    }

    #[test]
    fn reduce_arg_pick_prefers_first_and_nan() {
        let p = pick::<f64, i64, false>;
        assert_eq!(p((1.0, Some(5)), (1.0, Some(2))), (1.0, Some(2)));
        assert_eq!(p((1.0, Some(2)), (1.0, Some(5))), (1.0, Some(2)));
        assert_eq!(p((1.0, Some(2)), (0.5, Some(9))), (0.5, Some(9)));
        assert_eq!(p((1.0, Some(2)), (0.0, None)), (1.0, Some(2)));
        assert_eq!(p((0.0, None), (3.0, Some(7))), (3.0, Some(7)));
        let (v, i) = p((f64::NAN, Some(8)), (f64::NAN, Some(3)));
        assert!(v.is_nan() && i == Some(3));
        assert_eq!(p((f64::NAN, Some(8)), (-1.0, Some(3))).1, Some(8));
        let lane = Reducer::<i32>::lane(&ArgExtreme::<true>, 0, 10, &[1, 4, 2, 4]);
        assert_eq!(lane, (4, Some(11)));
        let lane = Reducer::<f32>::lane(&ArgExtreme::<true>, 0, 0, &[1.0, f32::NAN, 9.0]);
        assert_eq!(lane.1, Some(1));
    }

    #[test]
    fn reduce_arg_index_maps_local_positions() {
        let ctx = ArgContext {
            offset: vec![2, 3],
            global_shape: vec![10, 7],
        };
        let flat = ArgIndex::new(&[4, 2], &[0, 1], &ctx).unwrap();
        // Local (1, 1) is global (3, 4).
        assert_eq!(flat.index(3), 3 * 7 + 4);
        let along0 = ArgIndex::new(&[4, 2], &[0], &ctx).unwrap();
        assert_eq!(along0.index(5), 2 + 2);
        let along1 = ArgIndex::new(&[4, 2], &[1], &ctx).unwrap();
        assert_eq!(along1.index(5), 3 + 1);
        assert!(ArgIndex::new(
            &[4, 2, 3],
            &[0, 1],
            &ArgContext {
                offset: vec![0; 3],
                global_shape: vec![4, 2, 3]
            }
        )
        .is_err());
        assert!(
            ArgIndex::new(&[9, 2], &[0], &ctx).is_err(),
            "block past the end"
        );
        assert!(
            ArgIndex::new(&[4], &[0], &ctx).is_err(),
            "context of another ndim"
        );
        let huge = ArgContext {
            offset: vec![0, 0],
            global_shape: vec![usize::MAX, 2],
        };
        assert!(ArgIndex::new(&[1, 1], &[0, 1], &huge).is_err());
    }
}
