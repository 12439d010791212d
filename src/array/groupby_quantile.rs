//! Quantiles per group (`GroupBy::quantile`, `median`, and their NaN-skipping
//! variants): each group's positions are gathered and selected exactly by
//! `DArray::quantile` (the grouping itself is in `super::groupby`).

use super::groupby::GroupBy;
use super::quantile::{QuantileMethod, Quantiles};
use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::ChunkSpec;
use darray_kernels::{Element, Numeric};

impl<T: Numeric> GroupBy<T> {
    /// Quantiles per group (NumPy's `quantile` of each group's positions along
    /// the axis; xarray's `groupby(...).quantile`): the group axis has one entry
    /// per group and, for several `q`, a leading axis of the quantiles as
    /// [`DArray::quantile`]. Each group's positions are gathered (`take`) and
    /// selected exactly, so no group needs to fit in one block; an empty group
    /// gives NaN. Lazy labels are computed when this is called (the gathers
    /// need the positions).
    ///
    /// ```
    /// use darray::{DArray, QuantileMethod};
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![1.0, 9.0, 2.0, 8.0, 3.0, 7.0], [4]).unwrap();
    /// let g = x.groupby(&[0, 1, 0, 1, 0, 1], 0).unwrap();
    /// let m = g.quantile(0.5, QuantileMethod::Linear).unwrap().compute().unwrap();
    /// assert_eq!(m.into_raw_vec_and_offset().0, vec![2.0, 8.0]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::quantile`]; no groups at all.
    pub fn quantile(
        &self,
        q: impl Into<Quantiles>,
        method: QuantileMethod,
    ) -> Result<DArray<T::Float>> {
        self.group_quantiles(q.into(), method, false)
    }

    /// [`GroupBy::quantile`] skipping NaN (NumPy's `nanquantile` per group).
    ///
    /// # Errors
    /// As [`GroupBy::quantile`].
    pub fn nanquantile(
        &self,
        q: impl Into<Quantiles>,
        method: QuantileMethod,
    ) -> Result<DArray<T::Float>> {
        self.group_quantiles(q.into(), method, true)
    }

    /// The median of each group ([`GroupBy::quantile`] at 0.5, linear).
    ///
    /// # Errors
    /// As [`GroupBy::quantile`].
    pub fn median(&self) -> Result<DArray<T::Float>> {
        self.quantile(0.5, QuantileMethod::Linear)
    }

    /// The median of each group skipping NaN.
    ///
    /// # Errors
    /// As [`GroupBy::quantile`].
    pub fn nanmedian(&self) -> Result<DArray<T::Float>> {
        self.nanquantile(0.5, QuantileMethod::Linear)
    }

    fn group_quantiles(
        &self,
        q: Quantiles,
        method: QuantileMethod,
        skip_nan: bool,
    ) -> Result<DArray<T::Float>> {
        let axis = self.axis;
        let many = match &q {
            Quantiles::One(_) => None,
            Quantiles::Many(v) => Some(v.len()),
        };
        if self.ngroups == 0 {
            return Err(Error::InvalidArgument {
                array: self.array.expr.name.clone(),
                reason: "groupby quantile: no groups (every label is negative)".into(),
            });
        }
        let mut members: Vec<Vec<i64>> = vec![Vec::new(); self.ngroups];
        for (i, &l) in self.host_codes()?.iter().enumerate() {
            if let Some(m) = usize::try_from(l).ok().and_then(|g| members.get_mut(g)) {
                m.push(i64::try_from(i).expect("positions fit i64"));
            }
        }
        // A group's result: the quantile axis (if several), then the other axes.
        let mut grid: Vec<Vec<usize>> = self.array.expr.grid.clone();
        grid.remove(axis);
        if let Some(n) = many {
            grid.insert(0, vec![n]);
        }
        let shape: Vec<usize> = grid.iter().map(|g| g.iter().sum()).collect();
        let parts = members
            .iter()
            .map(|m| {
                if m.is_empty() {
                    return DArray::<T::Float>::full(
                        &shape,
                        <T::Float as Element>::from_f64(f64::NAN),
                        ChunkSpec::from(grid.clone()),
                    );
                }
                let x = self.array.take(m, axis as isize)?;
                let ax = Some(axis as isize);
                if skip_nan {
                    x.nanquantile(q.clone(), ax, method)
                } else {
                    x.quantile(q.clone(), ax, method)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let at = axis + usize::from(many.is_some());
        DArray::stack(&parts.iter().collect::<Vec<_>>(), at as isize)
    }
}
