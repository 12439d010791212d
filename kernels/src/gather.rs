//! Gathering a block from several input blocks by per-axis index runs: the
//! block's index along each axis is a list of runs, each taking a stretch of one
//! input block forwards, backwards or repeating one element (or a fill value).
//! This is what halos with boundary conditions (reflect, mirror, nearest,
//! periodic, constant) and outer-product indexing need: any per-axis index map
//! whose runs are few.

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use crate::scalar::Scalar;
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use serde::{Deserialize, Serialize};

/// One stretch of an output axis: `len` elements from `dst` on, taken from the
/// input block at position `slot` of this axis's input list, starting at local
/// index `start` and moving by `step` (1 forwards, -1 backwards, 0 repeating
/// `start`); `slot: None` fills them with the fill value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatherRun {
    /// Which of this axis's input blocks; `None`: the fill value.
    pub slot: Option<u32>,
    /// First local index in that block.
    pub start: usize,
    /// -1, 0 or 1.
    pub step: i8,
    /// Number of output elements.
    pub len: usize,
    /// First output index.
    pub dst: usize,
}

/// The block of `shape` and `dtype` whose axis `k` is made of `runs[k]`.
///
/// `inputs` are the input blocks for every combination of slots, in C order
/// over the per-axis slot counts `slots` (axis 0 slowest). Elements covered by
/// no run, or by a run with `slot: None`, are `fill` (zero if `None`).
///
/// # Errors
/// Inputs of another dtype or count, or runs outside their block or the output.
pub fn gather(
    shape: &[usize],
    dtype: DType,
    inputs: &[&Chunk],
    slots: &[usize],
    runs: &[Vec<GatherRun>],
    fill: Option<Scalar>,
) -> Result<Chunk> {
    let nd = shape.len();
    if runs.len() != nd || slots.len() != nd {
        return Err(KernelError::Other(format!(
            "gather: {} run lists and {} slot counts for a {nd}-d block",
            runs.len(),
            slots.len()
        )));
    }
    let combos: usize = slots.iter().product();
    if inputs.len() != combos {
        return Err(KernelError::Other(format!(
            "gather: {} inputs for {combos} slot combinations",
            inputs.len()
        )));
    }
    crate::dispatch_dtype!(dtype, T => {
        let fill_value: T = match fill {
            Some(s) => s.to::<T>(),
            None => T::default(),
        };
        let mut out = ArrayD::<T>::from_elem(IxDyn(shape), fill_value);
        let views = inputs
            .iter()
            .map(|c| {
                T::view_chunk(c).ok_or_else(|| KernelError::DType {
                    expected: dtype.to_string(),
                    got: format!("{:?}", c.dtype()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for v in &views {
            if v.ndim() != nd {
                return Err(KernelError::Shape { expected: shape.to_vec(), got: v.shape().to_vec() });
            }
        }
        // Every combination of one run per axis, skipping fill runs.
        let data_runs: Vec<Vec<&GatherRun>> = runs
            .iter()
            .map(|r| r.iter().filter(|r| r.slot.is_some() && r.len > 0).collect())
            .collect();
        if data_runs.iter().any(Vec::is_empty) {
            return Ok(T::into_chunk(out));
        }
        // Many runs along the last axis (a take of scattered columns): copy
        // row by row, every run of a row from the rows of its inputs, instead
        // of one strided column copy per run.
        if nd >= 2 && data_runs[nd - 1].len() > ROW_WISE_RUNS {
            gather_rows(&mut out, &views, slots, &data_runs)?;
            return Ok(T::into_chunk(out));
        }
        let mut pick = vec![0usize; nd];
        loop {
            let input = input_of(&data_runs, &pick, slots)?;
            let mut from = views[input].view();
            let mut to = out.view_mut();
            for ax in 0..nd {
                let r = data_runs[ax][pick[ax]];
                let (lo, hi, step) = run_bounds(r, from.shape()[ax], shape[ax])?;
                from.slice_axis_inplace(Axis(ax), Slice::new(lo as isize, Some(hi as isize), step));
                to.slice_axis_inplace(Axis(ax), Slice::from(r.dst..r.dst + r.len));
            }
            // A repeated element (step 0) broadcasts along its axis.
            let from = from.broadcast(to.raw_dim()).ok_or_else(|| KernelError::Shape {
                expected: to.shape().to_vec(),
                got: from.shape().to_vec(),
            })?;
            to.assign(&from);
            if !advance(&mut pick, &data_runs) {
                return Ok(T::into_chunk(out));
            }
        }
    })
}

/// The input for one run per axis (`pick[ax]` of `runs[ax]`): C order over
/// the per-axis slot counts, each slot checked.
fn input_of(runs: &[Vec<&GatherRun>], pick: &[usize], slots: &[usize]) -> Result<usize> {
    let mut input = 0usize;
    for (ax, (&k, &n)) in pick.iter().zip(slots).enumerate() {
        let slot = runs[ax][k].slot.expect("data run") as usize;
        if slot >= n {
            return Err(KernelError::Other(format!(
                "gather: slot {slot} of {n} on axis {ax}"
            )));
        }
        input = input * n + slot;
    }
    Ok(input)
}

/// The next combination of one run per axis of `pick` (its length), the last
/// fastest; `false` once every combination was visited.
fn advance(pick: &mut [usize], runs: &[Vec<&GatherRun>]) -> bool {
    for ax in (0..pick.len()).rev() {
        pick[ax] += 1;
        if pick[ax] < runs[ax].len() {
            return true;
        }
        pick[ax] = 0;
    }
    false
}

/// Runs along the last axis from which [`gather`] copies row by row.
const ROW_WISE_RUNS: usize = 8;

/// The bounds `(lo, hi, step)` a run reads in an input of `n` along its axis,
/// checked against that and the output's `len`.
fn run_bounds(r: &GatherRun, n: usize, len: usize) -> Result<(usize, usize, isize)> {
    let (lo, hi, step) = match r.step {
        1 => (r.start, r.start + r.len, 1),
        -1 => (r.start + 1 - r.len.min(r.start + 1), r.start + 1, -1),
        0 => (r.start, r.start + 1, 1),
        s => return Err(KernelError::Other(format!("gather: step {s}"))),
    };
    if hi > n || (r.step == -1 && r.len > r.start + 1) || r.dst + r.len > len {
        return Err(KernelError::Other(format!(
            "gather: run {r:?} outside a block of {n} or an output of {len}"
        )));
    }
    Ok((lo, hi, step))
}

/// [`gather`]'s copy with the last axis done row by row: per combination of
/// one run on each other axis, every output row is filled from its inputs'
/// rows, run by run along the last axis.
fn gather_rows<T: Copy>(
    out: &mut ArrayD<T>,
    views: &[ndarray::ArrayViewD<'_, T>],
    slots: &[usize],
    data_runs: &[Vec<&GatherRun>],
) -> Result<()> {
    let nd = slots.len();
    let last = nd - 1;
    let shape = out.shape().to_vec();
    for k in 0..data_runs[last].len() {
        input_of(&data_runs[last..], &[k], &slots[last..])?;
    }
    let mut pick = vec![0usize; last];
    loop {
        let base = input_of(&data_runs[..last], &pick, &slots[..last])?;
        let mut to = out.view_mut();
        let mut outer = Vec::with_capacity(last);
        for ax in 0..last {
            let r = data_runs[ax][pick[ax]];
            to.slice_axis_inplace(Axis(ax), Slice::from(r.dst..r.dst + r.len));
            outer.push(r);
        }
        // Each last-axis slot's input, cut to this combination's outer runs
        // and broadcast along repeated ones.
        let mut cut = Vec::with_capacity(slots[last]);
        for s in 0..slots[last] {
            let mut from = views[base * slots[last] + s].view();
            for (ax, r) in outer.iter().enumerate() {
                let (lo, hi, step) = run_bounds(r, from.shape()[ax], shape[ax])?;
                from.slice_axis_inplace(Axis(ax), Slice::new(lo as isize, Some(hi as isize), step));
            }
            cut.push(from);
        }
        let mut froms = Vec::with_capacity(cut.len());
        for from in &cut {
            let mut dim = to.shape().to_vec();
            dim[last] = from.shape()[last];
            froms.push(
                from.broadcast(IxDyn(&dim))
                    .ok_or_else(|| KernelError::Shape {
                        expected: dim.clone(),
                        got: from.shape().to_vec(),
                    })?,
            );
        }
        for r in &data_runs[last] {
            let s = r.slot.expect("data run") as usize;
            run_bounds(r, froms[s].shape()[last], shape[last])?;
        }
        let mut rows: Vec<_> = froms
            .iter()
            .map(|f| f.lanes(Axis(last)).into_iter())
            .collect();
        for mut dst in to.lanes_mut(Axis(last)) {
            let src: Vec<_> = rows
                .iter_mut()
                .map(|it| it.next().expect("same outer shape"))
                .collect();
            for r in &data_runs[last] {
                let row = &src[r.slot.expect("data run") as usize];
                match r.step {
                    1 if r.len > 1 => match (row.as_slice(), dst.as_slice_mut()) {
                        (Some(from), Some(to)) => to[r.dst..r.dst + r.len]
                            .copy_from_slice(&from[r.start..r.start + r.len]),
                        _ => {
                            for k in 0..r.len {
                                dst[r.dst + k] = row[r.start + k];
                            }
                        }
                    },
                    1 => {
                        for k in 0..r.len {
                            dst[r.dst + k] = row[r.start + k];
                        }
                    }
                    -1 => {
                        for k in 0..r.len {
                            dst[r.dst + k] = row[r.start - k];
                        }
                    }
                    _ => {
                        let v = row[r.start];
                        for k in 0..r.len {
                            dst[r.dst + k] = v;
                        }
                    }
                }
            }
        }
        if !advance(&mut pick, &data_runs[..last]) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ArrayD};

    fn chunk(a: ArrayD<f64>) -> Chunk {
        f64::into_chunk(a)
    }

    /// A 1-d gather with every kind of run: reflect, forwards across two
    /// blocks, repeat and fill, against the index list it stands for.
    #[test]
    fn runs_of_every_kind() {
        let a = chunk(array![0.0, 1.0, 2.0].into_dyn());
        let b = chunk(array![3.0, 4.0].into_dyn());
        let runs = vec![vec![
            GatherRun {
                slot: Some(0),
                start: 1,
                step: -1,
                len: 2,
                dst: 0,
            },
            GatherRun {
                slot: Some(0),
                start: 0,
                step: 1,
                len: 3,
                dst: 2,
            },
            GatherRun {
                slot: Some(1),
                start: 0,
                step: 1,
                len: 2,
                dst: 5,
            },
            GatherRun {
                slot: Some(1),
                start: 1,
                step: 0,
                len: 2,
                dst: 7,
            },
            GatherRun {
                slot: None,
                start: 0,
                step: 0,
                len: 1,
                dst: 9,
            },
        ]];
        let got = gather(
            &[10],
            DType::F64,
            &[&a, &b],
            &[2],
            &runs,
            Some(Scalar::Float(-1.0)),
        )
        .unwrap();
        let got = f64::from_chunk(got).unwrap();
        assert_eq!(
            got.into_raw_vec_and_offset().0,
            vec![1.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0, -1.0]
        );
    }

    /// Two axes: the input for a pair of slots is found in C order.
    #[test]
    fn two_axes_pick_inputs_in_c_order() {
        let blocks: Vec<Chunk> = (0..4)
            .map(|i| chunk(ArrayD::from_elem(IxDyn(&[1, 1]), f64::from(i))))
            .collect();
        let refs: Vec<&Chunk> = blocks.iter().collect();
        let axis = |n: u32| {
            (0..n)
                .map(|s| GatherRun {
                    slot: Some(s),
                    start: 0,
                    step: 1,
                    len: 1,
                    dst: s as usize,
                })
                .collect::<Vec<_>>()
        };
        let got = gather(
            &[2, 2],
            DType::F64,
            &refs,
            &[2, 2],
            &[axis(2), axis(2)],
            None,
        )
        .unwrap();
        let got = f64::from_chunk(got).unwrap();
        assert_eq!(got, array![[0.0, 1.0], [2.0, 3.0]].into_dyn());
    }

    /// Random runs of every kind on 2-d and 3-d blocks, few and many along
    /// the last axis (the generic copy and the row-wise one), against an
    /// element-by-element walk of the runs.
    #[test]
    fn random_runs_match_an_element_walk() {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..120 {
            let nd = 2 + case % 2;
            // Per axis: slot count, input length per slot, and runs.
            let slots: Vec<usize> = (0..nd).map(|_| 1 + next(3)).collect();
            let lens: Vec<Vec<usize>> = slots
                .iter()
                .map(|&k| (0..k).map(|_| 1 + next(6)).collect())
                .collect();
            let many = case % 4 < 2;
            let mut runs: Vec<Vec<GatherRun>> = Vec::new();
            let mut shape = Vec::new();
            for ax in 0..nd {
                let count = if ax == nd - 1 && many {
                    9 + next(12)
                } else {
                    1 + next(3)
                };
                let mut dst = 0;
                let mut v = Vec::new();
                for _ in 0..count {
                    let slot = next(slots[ax]);
                    let n = lens[ax][slot];
                    let (step, start, len) = match next(4) {
                        0 => (-1i8, next(n), 0),
                        1 => (0, next(n), 1 + next(3)),
                        _ => (1, next(n), 0),
                    };
                    let len = match step {
                        -1 => 1 + next(start + 1),
                        1 => 1 + next(n - start),
                        _ => len,
                    };
                    let fill = next(8) == 0;
                    v.push(GatherRun {
                        slot: (!fill).then_some(slot as u32),
                        start,
                        step,
                        len,
                        dst,
                    });
                    dst += len;
                }
                shape.push(dst);
                runs.push(v);
            }
            // Inputs in C order of slot combinations, each of its slots' lengths,
            // values naming (input, flat index).
            let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
            for &k in &slots {
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        (0..k).map(move |s| {
                            let mut c = c.clone();
                            c.push(s);
                            c
                        })
                    })
                    .collect();
            }
            let blocks: Vec<Chunk> = combos
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let dims: Vec<usize> =
                        c.iter().enumerate().map(|(ax, &s)| lens[ax][s]).collect();
                    let total: usize = dims.iter().product();
                    chunk(
                        ArrayD::from_shape_vec(
                            IxDyn(&dims),
                            (0..total).map(|k| (i * 1000 + k) as f64).collect(),
                        )
                        .unwrap(),
                    )
                })
                .collect();
            let refs: Vec<&Chunk> = blocks.iter().collect();
            let got = f64::from_chunk(
                gather(
                    &shape,
                    DType::F64,
                    &refs,
                    &slots,
                    &runs,
                    Some(Scalar::Float(-1.0)),
                )
                .unwrap(),
            )
            .unwrap();
            // The walk: per output index, the run covering it on each axis.
            let want = ArrayD::from_shape_fn(IxDyn(&shape), |idx| {
                let mut input = 0;
                let mut at = Vec::new();
                for ax in 0..nd {
                    let i = idx[ax];
                    let r = runs[ax]
                        .iter()
                        .find(|r| r.dst <= i && i < r.dst + r.len)
                        .unwrap();
                    let Some(slot) = r.slot else { return -1.0 };
                    input = input * slots[ax] + slot as usize;
                    let k = i - r.dst;
                    at.push(match r.step {
                        1 => r.start + k,
                        -1 => r.start - k,
                        _ => r.start,
                    });
                }
                let b = f64::from_chunk(blocks[input].clone()).unwrap();
                b[IxDyn(&at)]
            });
            assert_eq!(got, want, "case {case}: {runs:?}");
        }
    }

    /// Runs outside their input block or the output are errors, not panics.
    #[test]
    fn bad_runs_are_errors() {
        let a = chunk(array![0.0, 1.0].into_dyn());
        let bad = [
            GatherRun {
                slot: Some(0),
                start: 1,
                step: 1,
                len: 2,
                dst: 0,
            },
            GatherRun {
                slot: Some(0),
                start: 0,
                step: -1,
                len: 2,
                dst: 0,
            },
            GatherRun {
                slot: Some(0),
                start: 0,
                step: 1,
                len: 2,
                dst: 1,
            },
            GatherRun {
                slot: Some(1),
                start: 0,
                step: 1,
                len: 1,
                dst: 0,
            },
        ];
        for r in bad {
            assert!(
                gather(&[2], DType::F64, &[&a], &[1], &[vec![r]], None).is_err(),
                "{r:?}"
            );
        }
        assert!(gather(&[0], DType::F64, &[&a], &[1], &[vec![]], None).is_ok());
    }
}
