//! Boolean selection: the elements (or their coordinates) of a block where a
//! mask block is true, in C order.

use crate::chunk::Chunk;
use crate::dtype::Element;
use crate::error::{KernelError, Result};
use ndarray::{Array1, ArrayViewD};
use serde::{Deserialize, Serialize};

/// What [`extract`] returns for each true element of the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Extract {
    /// The value of the second input there.
    Values,
    /// Its coordinate along this axis of the whole array (i64).
    Coord(usize),
    /// Its C-order position in the whole array (i64).
    Flat,
}

/// The selection of a block at `offset` in an array of `global` shape where
/// the mask (`inputs[0]`, bool) is true, as a 1-d block: values of
/// `inputs[1]` or coordinates.
///
/// # Errors
/// A non-bool mask, a values block of another shape, or offsets that do not fit.
pub fn extract(
    what: Extract,
    inputs: &[&Chunk],
    offset: &[usize],
    global: &[usize],
) -> Result<Chunk> {
    let mask: ArrayViewD<'_, bool> = match inputs.first() {
        Some(Chunk::Bool(m)) => m.view(),
        other => {
            return Err(KernelError::DType {
                expected: "bool mask".into(),
                got: format!("{:?}", other.map(|c| c.dtype())),
            })
        }
    };
    let nd = mask.ndim();
    if offset.len() != nd || global.len() != nd {
        return Err(KernelError::Other(format!(
            "extract: offset {offset:?} and shape {global:?} for a {nd}-d block"
        )));
    }
    match what {
        Extract::Values => {
            let values = inputs
                .get(1)
                .ok_or_else(|| KernelError::Other("extract: no values block".into()))?;
            if values.shape() != mask.shape() {
                return Err(KernelError::Shape {
                    expected: mask.shape().to_vec(),
                    got: values.shape().to_vec(),
                });
            }
            crate::map_chunk!(values, a => {
                let picked: Vec<_> = a.iter().zip(mask.iter()).filter(|p| *p.1).map(|p| *p.0).collect();
                Ok(Element::into_chunk(Array1::from(picked).into_dyn()))
            }, _ => Err(KernelError::Other("extract: values block holds no data".into())))
        }
        Extract::Coord(ax) => {
            if ax >= nd {
                return Err(KernelError::Other(format!(
                    "extract: axis {ax} of a {nd}-d block"
                )));
            }
            let picked: Vec<i64> = mask
                .indexed_iter()
                .filter(|p| *p.1)
                .map(|(ix, _)| (offset[ax] + ix[ax]) as i64)
                .collect();
            Ok(i64::into_chunk(Array1::from(picked).into_dyn()))
        }
        Extract::Flat => {
            let mut stride = vec![1usize; nd];
            for a in (0..nd.saturating_sub(1)).rev() {
                stride[a] = stride[a + 1] * global[a + 1];
            }
            let picked: Vec<i64> = mask
                .indexed_iter()
                .filter(|p| *p.1)
                .map(|(ix, _)| {
                    (0..nd)
                        .map(|a| (offset[a] + ix[a]) * stride[a])
                        .sum::<usize>() as i64
                })
                .collect();
            Ok(i64::into_chunk(Array1::from(picked).into_dyn()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn values_and_coordinates_in_c_order() {
        let m = bool::into_chunk(array![[true, false, true], [false, true, false]].into_dyn());
        let v = f64::into_chunk(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn());
        let got = extract(Extract::Values, &[&m, &v], &[0, 0], &[2, 3]).unwrap();
        assert_eq!(
            f64::from_chunk(got).unwrap().into_raw_vec_and_offset().0,
            vec![1.0, 3.0, 5.0]
        );
        let rows = extract(Extract::Coord(0), &[&m], &[10, 20], &[12, 23]).unwrap();
        assert_eq!(
            i64::from_chunk(rows).unwrap().into_raw_vec_and_offset().0,
            vec![10, 10, 11]
        );
        let cols = extract(Extract::Coord(1), &[&m], &[10, 20], &[12, 23]).unwrap();
        assert_eq!(
            i64::from_chunk(cols).unwrap().into_raw_vec_and_offset().0,
            vec![20, 22, 21]
        );
        let flat = extract(Extract::Flat, &[&m], &[10, 20], &[12, 23]).unwrap();
        assert_eq!(
            i64::from_chunk(flat).unwrap().into_raw_vec_and_offset().0,
            vec![250, 252, 274]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let m = bool::into_chunk(array![true, false].into_dyn());
        let v = f64::into_chunk(array![1.0, 2.0, 3.0].into_dyn());
        assert!(extract(Extract::Values, &[&m, &v], &[0], &[2]).is_err());
        assert!(extract(Extract::Values, &[&v, &v], &[0], &[3]).is_err());
        assert!(extract(Extract::Coord(1), &[&m], &[0], &[2]).is_err());
        assert!(extract(Extract::Flat, &[&m], &[0, 0], &[2]).is_err());
    }
}

/// Whether each element of `input` is one of `values` (NumPy's `isin`): a
/// binary search of the sorted values per element. Values are converted to the
/// block's dtype first (as Rust's `as`), and NaN is in no set, as in NumPy.
///
/// # Errors
/// A block without data.
pub fn isin(input: &Chunk, values: &[crate::Scalar]) -> Result<Chunk> {
    crate::map_chunk!(input, a => Ok(isin_of(a, values)), _ => Err(KernelError::Other("isin: a block without data".into())))
}

fn isin_of<T: Element>(a: &ndarray::ArrayD<T>, values: &[crate::Scalar]) -> Chunk {
    use std::cmp::Ordering;
    let mut set: Vec<T> = values.iter().map(|s| s.to::<T>()).collect();
    #[allow(clippy::eq_op)]
    set.retain(|v| v == v);
    set.sort_by(|x, y| x.partial_cmp(y).unwrap_or(Ordering::Equal));
    set.dedup();
    let out = a.mapv(|v| {
        set.binary_search_by(|p| p.partial_cmp(&v).unwrap_or(Ordering::Less))
            .is_ok()
    });
    bool::into_chunk(out)
}

#[cfg(test)]
mod isin_tests {
    use super::*;
    use crate::Scalar;
    use ndarray::array;

    #[test]
    fn members_of_the_set() {
        let x = f64::into_chunk(array![1.0, f64::NAN, 2.5, -0.0, 7.0].into_dyn());
        let set = [
            Scalar::Float(7.0),
            Scalar::Float(0.0),
            Scalar::Float(f64::NAN),
            Scalar::Float(1.0),
        ];
        let got = bool::from_chunk(isin(&x, &set).unwrap()).unwrap();
        assert_eq!(
            got.into_raw_vec_and_offset().0,
            vec![true, false, false, true, true]
        );
        let i = i32::into_chunk(array![3, 4, 5].into_dyn());
        let got = bool::from_chunk(isin(&i, &[Scalar::Int(5), Scalar::Int(3)]).unwrap()).unwrap();
        assert_eq!(got.into_raw_vec_and_offset().0, vec![true, false, true]);
        assert!(bool::from_chunk(isin(&i, &[]).unwrap())
            .unwrap()
            .iter()
            .all(|b| !b));
    }
}

/// For each of `values`, how many elements of `input` are below it (`right`:
/// at or below it), as a `[1, values.len()]` i64 row: a block's share of
/// NumPy's `searchsorted` on a sorted array. The block need not be sorted
/// (each count is a scan); NaN in the block counts as above every value, as
/// NumPy sorts it last.
///
/// # Errors
/// A block without data.
pub fn count_below(input: &Chunk, values: &[crate::Scalar], right: bool) -> Result<Chunk> {
    crate::map_chunk!(input, a => Ok(count_below_of(a, values, right)), _ => Err(KernelError::Other("searchsorted: a block without data".into())))
}

fn count_below_of<T: Element>(
    a: &ndarray::ArrayD<T>,
    values: &[crate::Scalar],
    right: bool,
) -> Chunk {
    use std::cmp::Ordering;
    // Sorted block values (NaN last), then a binary search per value.
    let mut sorted: Vec<T> = a.iter().copied().collect();
    #[allow(clippy::eq_op)]
    let nan_last = |x: &T, y: &T| match (x != x, y != y) {
        (false, false) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    };
    sorted.sort_by(nan_last);
    let counts: Vec<i64> = values
        .iter()
        .map(|s| {
            let v = s.to::<T>();
            let n = if right {
                sorted.partition_point(|x| nan_last(x, &v) != Ordering::Greater)
            } else {
                sorted.partition_point(|x| nan_last(x, &v) == Ordering::Less)
            };
            i64::try_from(n).unwrap_or(i64::MAX)
        })
        .collect();
    let k = counts.len();
    i64::into_chunk(
        ndarray::Array2::from_shape_vec((1, k), counts)
            .expect("one row")
            .into_dyn(),
    )
}

#[cfg(test)]
mod count_tests {
    use super::*;
    use crate::Scalar;
    use ndarray::array;

    #[test]
    fn counts_left_and_right() {
        let x = f64::into_chunk(array![1.0, 2.0, 2.0, f64::NAN, 5.0].into_dyn());
        let v = [
            Scalar::Float(2.0),
            Scalar::Float(0.0),
            Scalar::Float(9.0),
            Scalar::Float(f64::NAN),
        ];
        let l = i64::from_chunk(count_below(&x, &v, false).unwrap()).unwrap();
        assert_eq!(l.into_raw_vec_and_offset().0, vec![1, 0, 4, 4]);
        let r = i64::from_chunk(count_below(&x, &v, true).unwrap()).unwrap();
        assert_eq!(r.into_raw_vec_and_offset().0, vec![3, 0, 4, 5]);
    }
}
