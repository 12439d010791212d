//! The whole-array oracle of the grouped reductions, shared by
//! `tests/groupby.rs` and `tests/groupby_cohorts.rs`: each group's values
//! reduced by a plain loop, and a runner that checks 1 and 2 threads agree.
#![allow(dead_code)]

use super::assert_bits_eq;
use darray::{GroupKind, LocalExecutor};
use ndarray::{ArrayD, Axis};

/// `kind` of the values of one group, by a loop (empty groups as documented).
pub fn naive(kind: GroupKind, v: &[f64]) -> f64 {
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
        if v.is_empty() || v.iter().any(|x| x.is_nan()) {
            return f64::NAN;
        }
        let start = if max {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        v.iter()
            .fold(start, |a, &b| if max { a.max(b) } else { a.min(b) })
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

/// The grouped reduction of the whole array by a loop over groups.
pub fn oracle(
    a: &ArrayD<f64>,
    axis: usize,
    labels: &[i64],
    ngroups: usize,
    kind: GroupKind,
) -> ArrayD<f64> {
    let mut shape = a.shape().to_vec();
    shape[axis] = ngroups;
    let mut out = ArrayD::<f64>::zeros(shape);
    for g in 0..ngroups {
        let idx: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] == g as i64)
            .collect();
        let sub = a.select(Axis(axis), &idx);
        let r = sub.map_axis(Axis(axis), |lane| naive(kind, &lane.to_vec()));
        out.index_axis_mut(Axis(axis), g).assign(&r);
    }
    out
}

/// The result as f64, checked equal on 1 and 2 threads.
pub fn on_threads(by: &darray::GroupBy<f64>, kind: GroupKind) -> ArrayD<f64> {
    let run = |threads| {
        let exec = LocalExecutor::with_threads(threads).unwrap();
        match kind {
            GroupKind::Count => by
                .count()
                .unwrap()
                .compute_with(&exec)
                .unwrap()
                .mapv(|c| c as f64),
            _ => by.reduce::<f64>(kind).unwrap().compute_with(&exec).unwrap(),
        }
    };
    let (one, two) = (run(1), run(2));
    assert_bits_eq(&one, &two);
    one
}
