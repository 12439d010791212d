//! Grouped reductions (flox's groupby): per-block partial accumulators with
//! one entry per group along the reduced axis, merged in the order given and
//! finalised into one value per group.
//!
//! The partials reuse the representations of [`crate::reduce`] (the reduced
//! axis holds `ngroups` entries instead of 1), so the arithmetic (integer
//! widening, NaN rules, Welford/Chan moments) is written once: a group's
//! partial is [`crate::reduce::partial`] of the slices along the axis whose
//! label is that group, in their order in the block. `min`/`max` also carry
//! each group's element count (as [`Partial::Arg`]'s `index`), so an empty
//! group can finalise to NaN rather than the identity `+inf`/`-inf`.

use crate::chunk::{Chunk, Partial};
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use crate::reduce::{self, ReduceKind};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use serde::{Deserialize, Serialize};

/// A reduction per group. Empty groups give: sum 0, prod 1, count 0, mean,
/// var and std NaN; min and max NaN for float data and the identity (the
/// dtype's largest value for min, smallest for max; `true`/`false` for bool)
/// for integers; `nanmin`/`nanmax` NaN for floats.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum GroupKind {
    /// Sum (NaN propagates).
    Sum,
    /// Product (NaN propagates).
    Prod,
    /// Number of non-NaN elements (xarray's `count`), `i64`.
    Count,
    /// Mean.
    Mean,
    /// Variance with `ddof` delta degrees of freedom.
    Var {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation with `ddof` delta degrees of freedom.
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Minimum (NaN if any element is NaN).
    Min,
    /// Maximum (NaN if any element is NaN).
    Max,
    /// Sum ignoring NaN.
    NanSum,
    /// Mean ignoring NaN.
    NanMean,
    /// Variance ignoring NaN.
    NanVar {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation ignoring NaN.
    NanStd {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Minimum ignoring NaN.
    NanMin,
    /// Maximum ignoring NaN.
    NanMax,
}

impl GroupKind {
    /// Every kind once, so tests cover a new kind the day it exists.
    pub const ALL: &'static [GroupKind] = &[
        GroupKind::Sum,
        GroupKind::Prod,
        GroupKind::Count,
        GroupKind::Mean,
        GroupKind::Var { ddof: 0.0 },
        GroupKind::Std { ddof: 1.0 },
        GroupKind::Min,
        GroupKind::Max,
        GroupKind::NanSum,
        GroupKind::NanMean,
        GroupKind::NanVar { ddof: 1.0 },
        GroupKind::NanStd { ddof: 0.0 },
        GroupKind::NanMin,
        GroupKind::NanMax,
    ];

    /// The reduction whose partials this kind accumulates (`Count` keeps the
    /// non-NaN count of `NanMean`'s sum-and-count).
    #[must_use]
    pub fn reduce_kind(self) -> ReduceKind {
        match self {
            GroupKind::Sum => ReduceKind::Sum,
            GroupKind::Prod => ReduceKind::Prod,
            GroupKind::Count | GroupKind::NanMean => ReduceKind::NanMean,
            GroupKind::Mean => ReduceKind::Mean,
            GroupKind::Var { ddof } => ReduceKind::Var { ddof },
            GroupKind::Std { ddof } => ReduceKind::Std { ddof },
            GroupKind::Min => ReduceKind::Min,
            GroupKind::Max => ReduceKind::Max,
            GroupKind::NanSum => ReduceKind::NanSum,
            GroupKind::NanVar { ddof } => ReduceKind::NanVar { ddof },
            GroupKind::NanStd { ddof } => ReduceKind::NanStd { ddof },
            GroupKind::NanMin => ReduceKind::NanMin,
            GroupKind::NanMax => ReduceKind::NanMax,
        }
    }

    /// Whether the partial carries each group's element count (for empty
    /// groups), besides the reduction's own partial.
    fn counts_elements(self) -> bool {
        match self {
            GroupKind::Min | GroupKind::Max => true,
            GroupKind::Sum
            | GroupKind::Prod
            | GroupKind::Count
            | GroupKind::Mean
            | GroupKind::Var { .. }
            | GroupKind::Std { .. }
            | GroupKind::NanSum
            | GroupKind::NanMean
            | GroupKind::NanVar { .. }
            | GroupKind::NanStd { .. }
            | GroupKind::NanMin
            | GroupKind::NanMax => false,
        }
    }

    /// The result dtype for data of dtype `input`: `i64` for `Count`, else as
    /// [`reduce::result_dtype`] of [`GroupKind::reduce_kind`].
    ///
    /// # Errors
    /// A `ddof` that is not finite.
    pub fn result_dtype(self, input: DType) -> Result<DType> {
        match self {
            GroupKind::Count => Ok(DType::I64),
            _other => reduce::result_dtype(self.reduce_kind(), input),
        }
    }

    /// Bytes of a partial holding `n` entries (groups times the other axes).
    #[must_use]
    pub fn partial_nbytes(self, input: DType, n: usize) -> usize {
        let own = reduce::partial_nbytes(self.reduce_kind(), input, n);
        if self.counts_elements() {
            own.saturating_add(n.saturating_mul(8))
        } else {
            own
        }
    }
}

/// Why `labels` are not valid for a block of `len` elements along the axis
/// and `ngroups` groups, if they are not.
#[must_use]
pub fn labels_problem(labels: &[i64], len: usize, ngroups: usize) -> Option<String> {
    if labels.len() != len {
        return Some(format!(
            "{} labels for an axis of length {len}",
            labels.len()
        ));
    }
    let bad = labels
        .iter()
        .position(|&l| usize::try_from(l).is_ok_and(|l| l >= ngroups))?;
    Some(format!(
        "label {} at position {bad} is not below ngroups = {ngroups}",
        labels[bad]
    ))
}

/// The group entry of every label of a 1-d `i64` block of labels, for groups
/// given by value: label `groups[k]` becomes entry `k`; a label not in
/// `groups` becomes `-1` (dropped), as flox with `expected_groups`.
///
/// # Errors
/// A block that is not 1-d `i64`, or repeated values in `groups`.
pub fn codes(labels: &Chunk, groups: &[i64]) -> Result<Vec<i64>> {
    let Chunk::I64(l) = labels else {
        return Err(KernelError::DType {
            expected: "int64 labels".into(),
            got: format!("{:?}", labels.dtype()),
        });
    };
    if l.ndim() != 1 {
        return Err(KernelError::Other(format!(
            "group labels must be 1-d, got shape {:?}",
            l.shape()
        )));
    }
    let mut sorted: Vec<(i64, usize)> = groups.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(KernelError::Other(format!(
            "group {} is listed twice in the expected groups",
            w[0].0
        )));
    }
    Ok(l.iter()
        .map(|v| {
            sorted
                .binary_search_by_key(v, |&(g, _)| g)
                .map_or(-1, |i| i64::try_from(sorted[i].1).unwrap_or(-1))
        })
        .collect())
}

/// The partial of `kind` over `axis` of `data` per group: entry `g` along
/// `axis` accumulates the slices whose label is `g` (negative labels are
/// dropped), in block order.
///
/// # Errors
/// Non-data input, `axis` out of range, labels of the wrong length or a label
/// `>= ngroups`.
pub fn partial(
    kind: GroupKind,
    data: &Chunk,
    axis: usize,
    labels: &[i64],
    ngroups: usize,
) -> Result<Chunk> {
    let dtype = data.dtype().ok_or_else(|| crate::layout::not_data(data))?;
    let shape = data.shape();
    if axis >= shape.len() {
        return Err(KernelError::Other(format!(
            "groupby axis {axis} out of range for a {}-d block",
            shape.len()
        )));
    }
    if let Some(p) = labels_problem(labels, shape[axis], ngroups) {
        return Err(KernelError::Other(p));
    }
    // Positions along the axis per group, in block order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ngroups];
    for (i, &l) in labels.iter().enumerate() {
        if let Ok(g) = usize::try_from(l) {
            members[g].push(i);
        }
    }
    let rk = kind.reduce_kind();
    let (pieces, empty): (Vec<Chunk>, Chunk) = crate::dispatch_dtype!(dtype, T => {
        let view = T::view_chunk(data).ok_or_else(|| crate::layout::not_data(data))?;
        // Absent groups share one identity partial.
        let empty = reduce::partial(rk, &T::into_chunk(view.select(Axis(axis), &[])), &[axis], None)?;
        let pieces = members
            .iter()
            .map(|idx| {
                if idx.is_empty() {
                    Ok(empty.clone())
                } else {
                    reduce::partial(rk, &T::into_chunk(view.select(Axis(axis), idx)), &[axis], None)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        (pieces, empty)
    });
    let value = concat(&pieces, &empty, axis, shape)?;
    if !kind.counts_elements() {
        return Ok(value);
    }
    let mut counts_shape = value.shape().to_vec();
    counts_shape[axis] = 1;
    let per_group: Vec<ArrayD<i64>> = members
        .iter()
        .map(|m| {
            ArrayD::from_elem(
                IxDyn(&counts_shape),
                i64::try_from(m.len()).unwrap_or(i64::MAX),
            )
        })
        .collect();
    let index = cat(
        &per_group.iter().map(|a| a.view()).collect::<Vec<_>>(),
        axis,
        shape,
    )?;
    Ok(Chunk::Partial(Partial::Arg {
        value: Box::new(value),
        index,
    }))
}

/// Concatenates arrays along `axis`; `shape` is the block's (for an empty list).
fn cat<T: Clone + Default>(
    parts: &[ArrayViewD<'_, T>],
    axis: usize,
    shape: &[usize],
) -> Result<ArrayD<T>> {
    if parts.is_empty() {
        let mut s = shape.to_vec();
        s[axis] = 0;
        return Ok(ArrayD::default(IxDyn(&s)));
    }
    ndarray::concatenate(Axis(axis), parts)
        .map_err(|e| KernelError::Other(format!("group partials: {e}")))
}

/// Concatenates per-group partials (all the same variant) along `axis`.
fn concat(pieces: &[Chunk], template: &Chunk, axis: usize, shape: &[usize]) -> Result<Chunk> {
    fn fields<'a>(
        pieces: &'a [Chunk],
        get: impl Fn(&'a Partial) -> Option<&'a ArrayD<f64>>,
    ) -> Result<Vec<ArrayViewD<'a, f64>>> {
        pieces
            .iter()
            .map(|p| match p {
                Chunk::Partial(part) => get(part).map(|a| a.view()),
                _ => None,
            })
            .map(|v| v.ok_or_else(|| KernelError::Other("mixed group partials".into())))
            .collect()
    }
    // The identity partial names the variant, also when there are no groups.
    Ok(match template {
        Chunk::Partial(Partial::SumCount { .. }) => Chunk::Partial(Partial::SumCount {
            sum: cat(
                &fields(pieces, |p| match p {
                    Partial::SumCount { sum, .. } => Some(sum),
                    _ => None,
                })?,
                axis,
                shape,
            )?,
            count: cat(
                &fields(pieces, |p| match p {
                    Partial::SumCount { count, .. } => Some(count),
                    _ => None,
                })?,
                axis,
                shape,
            )?,
        }),
        Chunk::Partial(Partial::Moments { .. }) => Chunk::Partial(Partial::Moments {
            count: cat(
                &fields(pieces, |p| match p {
                    Partial::Moments { count, .. } => Some(count),
                    _ => None,
                })?,
                axis,
                shape,
            )?,
            mean: cat(
                &fields(pieces, |p| match p {
                    Partial::Moments { mean, .. } => Some(mean),
                    _ => None,
                })?,
                axis,
                shape,
            )?,
            m2: cat(
                &fields(pieces, |p| match p {
                    Partial::Moments { m2, .. } => Some(m2),
                    _ => None,
                })?,
                axis,
                shape,
            )?,
        }),
        Chunk::Partial(Partial::Arg { .. }) | Chunk::Unit => {
            return Err(KernelError::Other(
                "group partials of an arg reduction".into(),
            ))
        }
        data => {
            let dtype = data.dtype().ok_or_else(|| crate::layout::not_data(data))?;
            crate::dispatch_dtype!(dtype, T => {
                let views = pieces
                    .iter()
                    .map(|p| T::view_chunk(p).ok_or_else(|| crate::layout::not_data(p)))
                    .collect::<Result<Vec<_>>>()?;
                T::into_chunk(cat(&views, axis, shape)?)
            })
        }
    })
}

/// Merges group partials of neighbouring blocks (same shape), folding them in
/// the order given.
///
/// # Errors
/// No parts, parts of different shapes, or parts that are not `kind`'s.
pub fn merge(kind: GroupKind, parts: &[&Chunk]) -> Result<Chunk> {
    if !kind.counts_elements() {
        return reduce::merge(kind.reduce_kind(), parts);
    }
    let mut values = Vec::with_capacity(parts.len());
    let mut counts: Option<ArrayD<i64>> = None;
    for p in parts {
        let Chunk::Partial(Partial::Arg { value, index }) = p else {
            return Err(KernelError::Other(format!(
                "{kind:?}: expected a group partial with counts"
            )));
        };
        values.push(&**value);
        counts = Some(match counts {
            None => index.clone(),
            Some(c) if c.shape() == index.shape() => c + index,
            Some(c) => {
                return Err(KernelError::Shape {
                    expected: c.shape().to_vec(),
                    got: index.shape().to_vec(),
                })
            }
        });
    }
    let index =
        counts.ok_or_else(|| KernelError::Other(format!("{kind:?}: merge of no partials")))?;
    Ok(Chunk::Partial(Partial::Arg {
        value: Box::new(reduce::merge(kind.reduce_kind(), &values)?),
        index,
    }))
}

/// The result per group of a (merged) partial of data of dtype `input`, of
/// dtype [`GroupKind::result_dtype`]; empty groups as documented on
/// [`GroupKind`].
///
/// # Errors
/// A part that is not `kind`'s partial for `input`.
pub fn finalize(kind: GroupKind, part: &Chunk, input: DType) -> Result<Chunk> {
    let rk = kind.reduce_kind();
    match (kind, part) {
        (GroupKind::Count, Chunk::Partial(Partial::SumCount { count, .. })) => {
            #[allow(clippy::cast_possible_truncation)] // counts are exact integers in f64
            Ok(Chunk::I64(count.mapv(|c| c as i64)))
        }
        (GroupKind::Min | GroupKind::Max, Chunk::Partial(Partial::Arg { value, index })) => {
            let out = reduce::finalize_for(rk, value, &[], true, input)?;
            Ok(match out {
                Chunk::F32(mut a) => {
                    ndarray::Zip::from(&mut a).and(index).for_each(|v, &n| {
                        if n == 0 {
                            *v = f32::NAN
                        }
                    });
                    Chunk::F32(a)
                }
                Chunk::F64(mut a) => {
                    ndarray::Zip::from(&mut a).and(index).for_each(|v, &n| {
                        if n == 0 {
                            *v = f64::NAN
                        }
                    });
                    Chunk::F64(a)
                }
                other => other,
            })
        }
        (GroupKind::Count | GroupKind::Min | GroupKind::Max, _) => {
            Err(KernelError::Other(format!("{kind:?}: not a group partial")))
        }
        (
            GroupKind::Sum
            | GroupKind::Prod
            | GroupKind::Mean
            | GroupKind::Var { .. }
            | GroupKind::Std { .. }
            | GroupKind::NanSum
            | GroupKind::NanMean
            | GroupKind::NanVar { .. }
            | GroupKind::NanStd { .. }
            | GroupKind::NanMin
            | GroupKind::NanMax,
            _,
        ) => reduce::finalize_for(rk, part, &[], true, input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_values_to_entries() {
        let l = Chunk::I64(ndarray::arr1(&[5, -3, 7, 5, 9]).into_dyn());
        assert_eq!(codes(&l, &[7, 5, -3]).unwrap(), vec![1, 2, 0, 1, -1]);
        assert_eq!(codes(&l, &[]).unwrap(), vec![-1; 5]);
        assert!(codes(&l, &[1, 1]).is_err());
        assert!(codes(&Chunk::F64(ndarray::arr1(&[1.0]).into_dyn()), &[1]).is_err());
    }
    use ndarray::{arr1, arr2, Array2};

    /// Per group, the values of a 1-d array with that label.
    fn members(x: &[f64], labels: &[i64], g: usize) -> Vec<f64> {
        x.iter()
            .zip(labels)
            .filter(|&(_, &l)| l == g as i64)
            .map(|(&v, _)| v)
            .collect()
    }

    fn naive(kind: GroupKind, v: &[f64]) -> f64 {
        let nn: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let var = |v: &[f64], ddof: f64| {
            let m = mean(v);
            let q: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
            let d = v.len() as f64 - ddof;
            if d > 0.0 {
                q / d
            } else {
                f64::NAN
            }
        };
        let ext = |v: &[f64], max: bool| {
            if v.is_empty() {
                return f64::NAN;
            }
            if v.iter().any(|x| x.is_nan()) {
                return f64::NAN;
            }
            v.iter().copied().fold(
                if max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
                |a, b| if max { a.max(b) } else { a.min(b) },
            )
        };
        match kind {
            GroupKind::Sum => v.iter().sum(),
            GroupKind::Prod => v.iter().product(),
            GroupKind::Count => nn.len() as f64,
            GroupKind::Mean => mean(v),
            GroupKind::Var { ddof } => var(v, ddof),
            GroupKind::Std { ddof } => var(v, ddof).sqrt(),
            GroupKind::Min => ext(v, false),
            GroupKind::Max => ext(v, true),
            GroupKind::NanSum => nn.iter().sum(),
            GroupKind::NanMean => mean(&nn),
            GroupKind::NanVar { ddof } => var(&nn, ddof),
            GroupKind::NanStd { ddof } => var(&nn, ddof).sqrt(),
            GroupKind::NanMin => ext(&nn, false),
            GroupKind::NanMax => ext(&nn, true),
        }
    }

    fn as_f64(c: &Chunk) -> Vec<f64> {
        match c {
            Chunk::F64(a) => a.iter().copied().collect(),
            Chunk::I64(a) => a.iter().map(|&v| v as f64).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * (1.0 + b.abs())
    }

    #[test]
    fn every_kind_matches_naive_split_in_two_blocks() {
        let x = [1.0, f64::NAN, 3.0, -2.0, 5.0, 0.5, 7.0, 2.0];
        let labels = [0, 2, 0, -1, 2, 0, 3, 2];
        let ngroups = 5; // group 1 and 4 are empty
        for &kind in GroupKind::ALL {
            let whole =
                partial(kind, &Chunk::F64(arr1(&x).into_dyn()), 0, &labels, ngroups).unwrap();
            let a = partial(
                kind,
                &Chunk::F64(arr1(&x[..3]).into_dyn()),
                0,
                &labels[..3],
                ngroups,
            )
            .unwrap();
            let b = partial(
                kind,
                &Chunk::F64(arr1(&x[3..]).into_dyn()),
                0,
                &labels[3..],
                ngroups,
            )
            .unwrap();
            let merged = merge(kind, &[&a, &b]).unwrap();
            for p in [&whole, &merged] {
                let got = as_f64(&finalize(kind, p, DType::F64).unwrap());
                for (g, &v) in got.iter().enumerate() {
                    let want = naive(kind, &members(&x, &labels, g));
                    assert!(close(v, want), "{kind:?} group {g}: {v} vs {want}");
                }
            }
        }
    }

    #[test]
    fn sizes_zero_and_one_and_2d() {
        let e = partial(
            GroupKind::Sum,
            &Chunk::F64(arr1(&[] as &[f64]).into_dyn()),
            0,
            &[],
            3,
        )
        .unwrap();
        assert_eq!(
            as_f64(&finalize(GroupKind::Sum, &e, DType::F64).unwrap()),
            vec![0.0; 3]
        );
        let one = partial(
            GroupKind::Max,
            &Chunk::I32(arr1(&[4]).into_dyn()),
            0,
            &[1],
            2,
        )
        .unwrap();
        let m = finalize(GroupKind::Max, &one, DType::I32).unwrap();
        assert_eq!(m, Chunk::I32(arr1(&[i32::MIN, 4]).into_dyn()));
        // Along axis 1 of a 2-d block; integer sums widen to i64.
        let x: Array2<i32> = arr2(&[[1, 2, 3], [4, 5, 6]]);
        let p = partial(GroupKind::Sum, &Chunk::I32(x.into_dyn()), 1, &[1, 0, 1], 2).unwrap();
        assert_eq!(
            finalize(GroupKind::Sum, &p, DType::I32).unwrap(),
            Chunk::I64(arr2(&[[2, 4], [5, 10]]).into_dyn())
        );
        let none = partial(
            GroupKind::Mean,
            &Chunk::F64(arr2(&[[1.0], [2.0]]).into_dyn()),
            1,
            &[-1],
            0,
        )
        .unwrap();
        assert_eq!(
            finalize(GroupKind::Mean, &none, DType::F64)
                .unwrap()
                .shape(),
            &[2, 0]
        );
    }

    #[test]
    fn bad_labels_are_named() {
        assert!(labels_problem(&[0, 1], 3, 2).unwrap().contains("2 labels"));
        assert!(labels_problem(&[0, 5, -1], 3, 2)
            .unwrap()
            .contains("position 1"));
        assert!(labels_problem(&[0, -7, 1], 3, 2).is_none());
        let err = partial(
            GroupKind::Sum,
            &Chunk::F64(arr1(&[1.0]).into_dyn()),
            0,
            &[3],
            2,
        );
        assert!(err.is_err());
    }
}
