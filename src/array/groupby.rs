//! Grouped reductions (xarray's `groupby` with flox): reductions along one
//! axis by an integer label per position, one output entry per group
//! (lowering and strategies in `crate::ops::groupby`, per-block arithmetic in
//! `darray_kernels::groupby`).

use super::{normalize_axis, DArray, DEFAULT_SPLIT_EVERY};
use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use crate::expr::select::rechunk_expr;
use crate::ops::groupby::{
    blockwise_ranges, cohorts, cohorts_pay_off, group_reduce, GroupLabels, GroupPlan,
};
use darray_kernels::groupby::{codes, labels_problem, GroupKind};
use darray_kernels::Element;
use std::sync::Arc;

/// How a grouped reduction is computed (flox's `method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupStrategy {
    /// Blockwise when it applies; else cohorts when they pay off: at least
    /// two cohorts, whose partials are in total at most half as wide as
    /// map-reduce's (`Σ blocks × groups` over the cohorts against
    /// `blocks along the axis × groups`), with at most twice as many partial
    /// tasks; else map-reduce. Lazy labels ([`DArray::groupby_array`]) always
    /// use map-reduce (the other plans read the labels' values).
    #[default]
    Auto,
    /// Each block along the axis makes a partial with one entry per group;
    /// the partials merge in a tree in block order, then finalise. Works for
    /// any labels; a partial is `ngroups` wide.
    MapReduce,
    /// Each block along the axis is reduced alone: needs every group's
    /// positions in one block, and the blocks' groups in increasing order
    /// (e.g. sorted labels whose runs end at block boundaries). The output
    /// axis is cut at the groups' block boundaries.
    Blockwise,
    /// flox's `method="cohorts"`: consecutive group ids whose labels occur in
    /// the same set of blocks form a cohort; each cohort is reduced as a
    /// map-reduce over only its blocks, with partials only as wide as the
    /// cohort, and is one block of the output axis. Suits periodic labels
    /// (day of year, month) over a time axis chunked along their period.
    /// Unlike flox, a cohort is always a range of group ids (so the output is
    /// cut, never reordered): labels that co-occur but are numbered apart form
    /// several cohorts over the same blocks. Works for any host labels.
    Cohorts,
}

/// A grouped reduction being set up: `x.groupby(&labels, axis)?` followed by
/// options and a reduction (`sum`, `mean`, `var`, ...). The output replaces
/// `axis` by one entry per group `0..ngroups`.
///
/// Empty groups (no label equal to them, or all their values NaN for the
/// `nan*` kinds) give sum 0, prod 1, count 0, and NaN for mean, var, std and
/// float min/max; integer min/max give the dtype's identity (the largest
/// value for min, the smallest for max), as integers have no NaN.
///
/// ```
/// use darray::DArray;
/// let x = DArray::from_ndarray(&ndarray::arr1(&[1.0, 2.0, 3.0, 4.0, 5.0]).into_dyn(), [2]).unwrap();
/// let by = x.groupby(&[0, 1, 0, -1, 1], 0).unwrap();
/// assert_eq!(by.sum().unwrap().compute().unwrap().as_slice().unwrap(), &[4.0, 7.0]);
/// assert_eq!(by.count().unwrap().compute().unwrap().as_slice().unwrap(), &[2, 2]);
/// ```
#[must_use = "call a reduction (sum, mean, ...) on it"]
#[derive(Clone, Debug)]
pub struct GroupBy<T: Element> {
    pub(super) array: DArray<T>,
    pub(super) axis: usize,
    labels: GroupLabels,
    pub(super) ngroups: usize,
    strategy: GroupStrategy,
    split_every: usize,
}

impl<T: Element> DArray<T> {
    /// Groups along `axis` by `labels` (one per position along the axis;
    /// negative labels drop their position, as flox). The number of groups is
    /// the largest label plus one; set it with [`GroupBy::ngroups`].
    ///
    /// # Errors
    /// An axis out of range or labels of another length than the axis, before
    /// anything runs.
    pub fn groupby(&self, labels: &[i64], axis: isize) -> Result<GroupBy<T>> {
        let name = &self.expr.name;
        let axis = normalize_axis(name, axis, self.ndim())?;
        let len = self.expr.shape[axis];
        if labels.len() != len {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!(
                    "groupby labels: {} labels for axis {axis} of length {len}",
                    labels.len()
                ),
            });
        }
        let ngroups = labels
            .iter()
            .filter_map(|&l| usize::try_from(l).ok())
            .max()
            .map_or(0, |m| m + 1);
        Ok(GroupBy {
            array: self.clone(),
            axis,
            labels: GroupLabels::Host(labels.into()),
            ngroups,
            strategy: GroupStrategy::Auto,
            split_every: DEFAULT_SPLIT_EVERY,
        })
    }

    /// Groups along `axis` by a lazy 1-d array of labels (rechunked to the
    /// axis's chunks; its blocks are inputs of the partial tasks, so nothing
    /// runs now), with the groups given up front as flox's
    /// `expected_groups`: output entry `k` is the group of label value
    /// `expected_groups[k]` (any `i64`, in any order); labels not listed
    /// drop their position. Map-reduce only (see [`GroupStrategy::Auto`]);
    /// [`DArray::groupby_array_unique`] finds the groups instead.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![1.0, 2.0, 3.0, 4.0, 5.0], [2]).unwrap();
    /// let by = DArray::<i64>::from_ndarray(&ndarray::array![10, 20, 10, 30, 20], [3]).unwrap();
    /// let g = x.groupby_array(&by, 0, &[20, 10]).unwrap();
    /// assert_eq!(g.sum().unwrap().compute().unwrap().as_slice().unwrap(), &[7.0, 4.0]);
    /// ```
    ///
    /// # Errors
    /// An axis out of range, labels that are not 1-d with the axis's length,
    /// or a value listed twice in `expected_groups`, before anything runs.
    pub fn groupby_array(
        &self,
        labels: &DArray<i64>,
        axis: isize,
        expected_groups: &[i64],
    ) -> Result<GroupBy<T>> {
        let name = &self.expr.name;
        let axis = normalize_axis(name, axis, self.ndim())?;
        let len = self.expr.shape[axis];
        if labels.shape() != [len] {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!(
                    "groupby labels `{}`: shape {:?}, expected [{len}] (axis {axis})",
                    labels.expr.name,
                    labels.shape()
                ),
            });
        }
        let mut sorted = expected_groups.to_vec();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidArgument {
                array: name.clone(),
                reason: format!("groupby expected_groups: {} is listed twice", w[0]),
            });
        }
        let labels = rechunk_expr(&labels.expr, vec![self.expr.grid[axis].clone()]);
        Ok(GroupBy {
            array: self.clone(),
            axis,
            labels: GroupLabels::Lazy {
                labels,
                groups: expected_groups.into(),
            },
            ngroups: expected_groups.len(),
            strategy: GroupStrategy::Auto,
            split_every: DEFAULT_SPLIT_EVERY,
        })
    }

    /// [`DArray::groupby_array`] with the groups found by a `unique` pass
    /// over the labels, run now on the default executor (the output's length
    /// must be known when the graph is built, as for [`DArray::unique`]): the
    /// groups are the distinct non-negative labels, increasing; negative
    /// labels drop their position, as [`DArray::groupby`]. The reduction
    /// itself stays lazy. [`GroupBy::group_labels`] lists the groups.
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::from_ndarray(&ndarray::array![1.0, 2.0, 3.0, 4.0], [3]).unwrap();
    /// let by = DArray::<i64>::from_ndarray(&ndarray::array![7, -1, 3, 7], [2]).unwrap();
    /// let g = x.groupby_array_unique(&by, 0).unwrap();
    /// assert_eq!(g.group_labels(), vec![3, 7]);
    /// assert_eq!(g.max().unwrap().compute().unwrap().as_slice().unwrap(), &[3.0, 4.0]);
    /// ```
    ///
    /// # Errors
    /// As [`DArray::groupby_array`]; a failing `unique` pass.
    pub fn groupby_array_unique(&self, labels: &DArray<i64>, axis: isize) -> Result<GroupBy<T>> {
        self.groupby_array_unique_with(labels, axis, default_executor())
    }

    /// [`DArray::groupby_array_unique`] running the `unique` pass on `exec`.
    ///
    /// # Errors
    /// As [`DArray::groupby_array_unique`].
    pub fn groupby_array_unique_with(
        &self,
        labels: &DArray<i64>,
        axis: isize,
        exec: &dyn Executor,
    ) -> Result<GroupBy<T>> {
        // Checked before the pass runs.
        let _checked = self.groupby_array(labels, axis, &[])?;
        let (values, _) = labels.unique_counts_with(exec)?;
        let groups: Vec<i64> = values
            .compute_with(exec)?
            .iter()
            .copied()
            .filter(|&v| v >= 0)
            .collect();
        self.groupby_array(labels, axis, &groups)
    }
}

impl<T: Element> GroupBy<T> {
    /// Sets the number of groups (groups beyond the largest label are empty).
    ///
    /// # Errors
    /// A label `>= n`, naming its position; lazy labels (whose groups are
    /// given by value).
    pub fn ngroups(mut self, n: usize) -> Result<Self> {
        let bad = |reason: String| Error::InvalidArgument {
            array: self.array.expr.name.clone(),
            reason,
        };
        let GroupLabels::Host(labels) = &self.labels else {
            return Err(bad(
                "groupby ngroups: lazy labels take their groups from expected_groups".into(),
            ));
        };
        if let Some(p) = labels_problem(labels, labels.len(), n) {
            return Err(bad(format!("groupby labels: {p}")));
        }
        self.ngroups = n;
        Ok(self)
    }

    /// Chooses the strategy (default [`GroupStrategy::Auto`]).
    pub fn strategy(mut self, s: GroupStrategy) -> Self {
        self.strategy = s;
        self
    }

    /// Largest number of partials one map-reduce (or cohort) merge combines
    /// (at least 2; default [`DEFAULT_SPLIT_EVERY`]).
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n.max(2);
        self
    }

    /// The number of groups.
    #[must_use]
    pub fn group_count(&self) -> usize {
        self.ngroups
    }

    /// The label value of each output entry: `0..ngroups` for host labels,
    /// the expected (or found) groups for lazy ones.
    #[must_use]
    pub fn group_labels(&self) -> Vec<i64> {
        match &self.labels {
            GroupLabels::Host(_) => (0..self.ngroups)
                .map(|g| i64::try_from(g).unwrap_or(i64::MAX))
                .collect(),
            GroupLabels::Lazy { groups, .. } => groups.to_vec(),
        }
    }

    /// The strategy the reductions use: [`GroupStrategy::Auto`] resolved by
    /// the rule it documents.
    ///
    /// # Errors
    /// [`GroupStrategy::Blockwise`] asked for where it does not apply;
    /// blockwise or cohorts with lazy labels.
    pub fn chosen_strategy(&self) -> Result<GroupStrategy> {
        Ok(match self.plan()? {
            GroupPlan::MapReduce { .. } => GroupStrategy::MapReduce,
            GroupPlan::Blockwise { .. } => GroupStrategy::Blockwise,
            GroupPlan::Cohorts { .. } => GroupStrategy::Cohorts,
        })
    }

    /// The number of output blocks along the axis and, per output block, the
    /// blocks along the axis it reads (one list for map-reduce), as planned.
    ///
    /// # Errors
    /// As [`GroupBy::chosen_strategy`].
    pub fn planned_blocks(&self) -> Result<Vec<Vec<usize>>> {
        let nb = self.array.expr.grid[self.axis].len();
        Ok(match self.plan()? {
            GroupPlan::MapReduce { .. } => vec![(0..nb).collect()],
            GroupPlan::Blockwise { ranges } => ranges.iter().map(|r| vec![r.0]).collect(),
            GroupPlan::Cohorts { cohorts, .. } => cohorts.into_iter().map(|c| c.blocks).collect(),
        })
    }

    fn plan(&self) -> Result<GroupPlan> {
        let bad = |reason: String| Error::InvalidArgument {
            array: self.array.expr.name.clone(),
            reason,
        };
        let map_reduce = GroupPlan::MapReduce {
            split_every: self.split_every,
        };
        let labels = match (&self.labels, self.strategy) {
            (GroupLabels::Host(l), _) => l,
            (GroupLabels::Lazy { .. }, GroupStrategy::Auto | GroupStrategy::MapReduce) => {
                return Ok(map_reduce)
            }
            (GroupLabels::Lazy { .. }, s @ (GroupStrategy::Blockwise | GroupStrategy::Cohorts)) => {
                return Err(bad(format!(
                    "groupby {s:?}: the plan needs the labels' values when the graph is built; pass them as a slice (DArray::groupby) or use map-reduce"
                )))
            }
        };
        let sizes = &self.array.expr.grid[self.axis];
        let blockwise = || blockwise_ranges(labels, sizes, self.ngroups);
        let split_every = self.split_every;
        match self.strategy {
            GroupStrategy::MapReduce => Ok(map_reduce),
            GroupStrategy::Cohorts => Ok(GroupPlan::Cohorts {
                cohorts: cohorts(labels, sizes, self.ngroups),
                split_every,
            }),
            GroupStrategy::Auto => {
                if let Some(ranges) = blockwise() {
                    return Ok(GroupPlan::Blockwise { ranges });
                }
                let c = cohorts(labels, sizes, self.ngroups);
                Ok(if cohorts_pay_off(&c, sizes.len(), self.ngroups) {
                    GroupPlan::Cohorts {
                        cohorts: c,
                        split_every,
                    }
                } else {
                    map_reduce
                })
            }
            GroupStrategy::Blockwise => blockwise()
                .map(|ranges| GroupPlan::Blockwise { ranges })
                .ok_or_else(|| bad(format!(
                        "groupby blockwise: some group spans two blocks along axis {} (or no block holds a group, or the blocks' groups do not increase); use map-reduce or cohorts, or rechunk",
                        self.axis
                    ))),
        }
    }

    /// The grouped reduction `kind`, as an array of `U`.
    ///
    /// # Errors
    /// `U` is not the kind's result dtype; a non-finite `ddof`; a blockwise
    /// strategy that does not apply.
    pub fn reduce<U: Element>(&self, kind: GroupKind) -> Result<DArray<U>> {
        let name = &self.array.expr.name;
        let out = kind.result_dtype(T::DTYPE)?;
        if out != U::DTYPE {
            return Err(Error::DTypeMismatch {
                array: name.clone(),
                expected: U::DTYPE,
                found: out,
            });
        }
        let e = group_reduce(
            &self.array.expr,
            kind,
            self.axis,
            self.labels.clone(),
            self.ngroups,
            self.plan()?,
        )?;
        Ok(DArray::wrap(e))
    }

    /// The group entry of every position along the axis (negative: dropped),
    /// computing lazy labels now on the default executor.
    pub(super) fn host_codes(&self) -> Result<Arc<[i64]>> {
        match &self.labels {
            GroupLabels::Host(l) => Ok(l.clone()),
            GroupLabels::Lazy { labels, groups } => {
                let l = DArray::<i64>::wrap(labels.clone()).compute()?;
                Ok(codes(&darray_kernels::Chunk::I64(l), groups)?.into())
            }
        }
    }
}

macro_rules! group_reductions {
    ($($name:ident => $kind:expr, $out:ty, $doc:literal;)*) => {
        impl<T: Element> GroupBy<T> {
            $(
                #[doc = concat!($doc, " per group (see [`GroupBy`] for empty groups).")]
                ///
                /// # Errors
                /// A blockwise strategy that does not apply.
                pub fn $name(&self) -> Result<DArray<$out>> {
                    self.reduce($kind)
                }
            )*
        }
    };
}

group_reductions! {
    sum => GroupKind::Sum, T::Sum, "Sum (NaN propagates; integers in `i64`/`u64`)";
    prod => GroupKind::Prod, T::Sum, "Product";
    count => GroupKind::Count, i64, "Number of non-NaN elements (xarray's `count`)";
    mean => GroupKind::Mean, T::Float, "Mean";
    min => GroupKind::Min, T, "Minimum (NaN if any element is NaN)";
    max => GroupKind::Max, T, "Maximum (NaN if any element is NaN)";
    nansum => GroupKind::NanSum, T::Sum, "Sum ignoring NaN";
    nanmean => GroupKind::NanMean, T::Float, "Mean ignoring NaN";
    nanmin => GroupKind::NanMin, T, "Minimum ignoring NaN";
    nanmax => GroupKind::NanMax, T, "Maximum ignoring NaN";
}

macro_rules! group_moments {
    ($($name:ident => $kind:ident, $doc:literal;)*) => {
        impl<T: Element> GroupBy<T> {
            $(
                #[doc = concat!($doc, " per group with `ddof` delta degrees of freedom (NaN where a group has at most `ddof` elements).")]
                ///
                /// # Errors
                /// A non-finite `ddof`; a blockwise strategy that does not apply.
                pub fn $name(&self, ddof: f64) -> Result<DArray<T::Float>> {
                    self.reduce(GroupKind::$kind { ddof })
                }
            )*
        }
    };
}

group_moments! {
    var => Var, "Variance";
    std => Std, "Standard deviation";
    nanvar => NanVar, "Variance ignoring NaN";
    nanstd => NanStd, "Standard deviation ignoring NaN";
}
