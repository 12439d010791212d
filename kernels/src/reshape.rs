//! Reshape of one block: its elements in C order, cut to another shape. The
//! graph only asks for this where the block's C-order elements are exactly the
//! output block's (the reshape plan guarantees it), so no data moves between
//! blocks here.

use crate::chunk::Chunk;
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use crate::layout::not_data;
use ndarray::IxDyn;

/// The block's elements in C order, with shape `shape` (NumPy's `reshape` of one
/// block, `order='C'`). The output is C-contiguous; a C-contiguous input is
/// moved without copying its elements twice.
///
/// # Errors
/// `shape` holds a different number of elements, or a non-data chunk.
pub fn reshape(input: &Chunk, shape: &[usize]) -> Result<Chunk> {
    let n: usize = input.shape().iter().product();
    let m: usize = shape.iter().product();
    if n != m {
        return Err(KernelError::Other(format!(
            "cannot reshape a block of shape {:?} ({n} elements) to {shape:?} ({m} elements)",
            input.shape()
        )));
    }
    crate::map_chunk!(input, a => {
        let std = a.as_standard_layout();
        let v = std
            .into_shape_with_order(IxDyn(shape))
            .map_err(|e| KernelError::Other(format!("reshape to {shape:?}: {e}")))?;
        Ok(Element::into_chunk(v.into_owned()))
    }, _ => Err(not_data(input)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, ArrayD};

    fn iota(shape: &[usize]) -> ArrayD<i32> {
        let n: usize = shape.iter().product();
        Array::from_iter(0..i32::try_from(n).unwrap())
            .into_shape_with_order(IxDyn(shape))
            .unwrap()
    }

    #[test]
    fn keeps_c_order() {
        for (from, to) in [
            (vec![0usize], vec![0usize, 3]),
            (vec![1], vec![1, 1]),
            (vec![6], vec![2, 3]),
            (vec![2, 3, 4], vec![6, 4]),
            (vec![4, 6], vec![24]),
        ] {
            let a = iota(&from);
            let Chunk::I32(got) = reshape(&Chunk::I32(a.clone()), &to).unwrap() else {
                panic!("dtype kept")
            };
            assert_eq!(got.shape(), to.as_slice());
            assert!(got.iter().eq(a.iter()));
        }
    }

    #[test]
    fn non_contiguous_input_is_read_in_logical_order() {
        let a = iota(&[3, 4]).reversed_axes();
        let Chunk::I32(got) = reshape(&Chunk::I32(a.clone()), &[12]).unwrap() else {
            panic!("dtype kept")
        };
        assert!(got.iter().eq(a.iter()));
    }

    #[test]
    fn wrong_size_and_non_data_are_errors() {
        assert!(reshape(&Chunk::I32(iota(&[2, 3])), &[5]).is_err());
        assert!(reshape(&Chunk::Unit, &[1]).is_err());
    }
}
