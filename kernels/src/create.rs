//! Creation kernels: ranges and identity blocks. (Constant fills are
//! elementwise programs of one scalar, so they fuse into their consumers.)

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use ndarray::{ArrayD, IxDyn};

/// `start + i * step` for `i` in `offset..offset + len`, computed in `f64` and
/// converted to `dtype` as Rust's `as`.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn arange(start: f64, step: f64, offset: usize, len: usize, dtype: DType) -> Chunk {
    crate::dispatch_dtype!(dtype, T => T::into_chunk(
        ArrayD::from_shape_fn(IxDyn(&[len]), |i| T::from_f64(start + (offset + i[0]) as f64 * step))
    ))
}

/// The block at `offset` of shape `shape` of a matrix with ones on diagonal `k`.
#[must_use]
#[allow(clippy::cast_possible_wrap)]
pub fn eye(k: i64, offset: [usize; 2], shape: [usize; 2], dtype: DType) -> Chunk {
    crate::dispatch_dtype!(dtype, T => T::into_chunk(ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        let (r, c) = ((offset[0] + i[0]) as i64, (offset[1] + i[1]) as i64);
        T::from_f64(if c - r == k { 1.0 } else { 0.0 })
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_values() {
        let Chunk::I64(a) = arange(1.0, 2.0, 3, 2, DType::I64) else {
            unreachable!()
        };
        assert_eq!(a.into_raw_vec_and_offset().0, vec![7, 9]);
        let Chunk::U8(e) = eye(1, [0, 0], [3, 3], DType::U8) else {
            unreachable!()
        };
        assert_eq!(e.sum(), 2);
        assert_eq!(e[[0, 1]], 1);
        let Chunk::Bool(e) = eye(0, [2, 1], [2, 2], DType::Bool) else {
            unreachable!()
        };
        assert!(e[[0, 1]] && !e[[0, 0]]);
    }
}
