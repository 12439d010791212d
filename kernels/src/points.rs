//! Point-wise ("vectorised") indexing of a block: output element `p` along the
//! leading points axis is the input at one coordinate per indexed axis, taken
//! from one of several input blocks, with the other axes whole. This is what
//! NumPy's `x[i, j]` with paired integer arrays and dask's `vindex` do.

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use ndarray::{ArrayD, Axis, IxDyn};

/// The block of `shape` whose first `shape.len() - rest` axes hold the points
/// (C order) and whose last axes are the input's non-indexed axes, in order.
///
/// Point `p` is `inputs[slots[p]]` at local coordinate `coords[p * k + j]` on
/// input axis `axes[j]` (`k = axes.len()`, ascending).
///
/// # Errors
/// Inputs of another dtype, a slot or coordinate outside its block, or a
/// point count that does not fill `shape`.
pub fn point_gather(
    shape: &[usize],
    dtype: DType,
    inputs: &[&Chunk],
    axes: &[usize],
    slots: &[u32],
    coords: &[u32],
) -> Result<Chunk> {
    let k = axes.len();
    if coords.len() != slots.len() * k {
        return Err(KernelError::Other(format!(
            "point_gather: {} coordinates for {} points on {k} axes",
            coords.len(),
            slots.len()
        )));
    }
    crate::dispatch_dtype!(dtype, T => {
        let views = inputs
            .iter()
            .map(|c| {
                T::view_chunk(c).ok_or_else(|| KernelError::DType {
                    expected: dtype.to_string(),
                    got: format!("{:?}", c.dtype()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let npoints = slots.len();
        let Some(first) = views.first() else {
            if npoints == 0 {
                return Ok(T::into_chunk(ArrayD::<T>::default(IxDyn(shape))));
            }
            return Err(KernelError::Other("point_gather: points but no input".into()));
        };
        let nd = first.ndim();
        let rest: Vec<usize> = (0..nd).filter(|a| !axes.contains(a)).collect();
        let rest_shape: Vec<usize> = rest.iter().map(|&a| first.shape()[a]).collect();
        let lead = shape.len().saturating_sub(rest.len());
        if shape[lead..] != rest_shape[..] || shape[..lead].iter().product::<usize>() != npoints {
            return Err(KernelError::Shape {
                expected: shape.to_vec(),
                got: [vec![npoints], rest_shape].concat(),
            });
        }
        let mut flat_shape = vec![npoints];
        flat_shape.extend_from_slice(&rest_shape);
        let mut out = ArrayD::<T>::default(IxDyn(&flat_shape));
        for (p, mut row) in out.axis_iter_mut(Axis(0)).enumerate() {
            let slot = slots[p] as usize;
            let v = views.get(slot).ok_or_else(|| {
                KernelError::Other(format!("point_gather: slot {slot} of {} inputs", views.len()))
            })?;
            let mut from = v.view();
            // Highest axis first, so the lower axes keep their numbers.
            for j in (0..k).rev() {
                let (ax, c) = (axes[j], coords[p * k + j] as usize);
                if ax >= from.ndim() || c >= from.shape()[ax] {
                    return Err(KernelError::Other(format!(
                        "point_gather: coordinate {c} on axis {ax} outside a block of {:?}",
                        v.shape()
                    )));
                }
                from.index_axis_inplace(Axis(ax), c);
            }
            if from.shape() != row.shape() {
                return Err(KernelError::Shape {
                    expected: row.shape().to_vec(),
                    got: from.shape().to_vec(),
                });
            }
            row.assign(&from);
        }
        let out = out
            .into_shape_with_order(IxDyn(shape))
            .map_err(|e| KernelError::Other(format!("point_gather: {e}")))?;
        Ok(T::into_chunk(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Points from two blocks of a 2-d array indexed on axis 0, axis 1 whole.
    #[test]
    fn points_from_two_blocks() {
        let a = Array2::from_shape_fn((2, 3), |(i, j)| (10 * i + j) as f64).into_dyn();
        let b = Array2::from_shape_fn((2, 3), |(i, j)| (100 + 10 * i + j) as f64).into_dyn();
        let (ca, cb) = (f64::into_chunk(a), f64::into_chunk(b));
        let got = point_gather(
            &[3, 3],
            DType::F64,
            &[&ca, &cb],
            &[0],
            &[1, 0, 1],
            &[0, 1, 1],
        )
        .unwrap();
        let got = f64::view_chunk(&got).unwrap().to_owned();
        let want = ndarray::array![
            [100.0, 101.0, 102.0],
            [10.0, 11.0, 12.0],
            [110.0, 111.0, 112.0]
        ]
        .into_dyn();
        assert_eq!(got, want);
        // No points: an empty block.
        let got = point_gather(&[0, 3], DType::F64, &[&ca], &[0], &[], &[]).unwrap();
        assert_eq!(f64::view_chunk(&got).unwrap().shape(), &[0, 3]);
        // A coordinate outside its block is an error, not a panic.
        assert!(point_gather(&[1, 3], DType::F64, &[&ca], &[0], &[0], &[5]).is_err());
    }
}
