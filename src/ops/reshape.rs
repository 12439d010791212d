//! Reshape: the chunk plan (dask's `reshape_rechunk`, `dask/array/reshape.py`)
//! and the blockwise lowering after it.
//!
//! A reshape in C order maps each output block to one input block only when the
//! blocks on both sides cut the same C-order runs of elements. The plan walks
//! both shapes from the last axis, as dask does:
//! - equal lengths keep the input's chunks on both sides;
//! - length-1 axes are one block;
//! - several input axes merged into one output axis: the inner input axes
//!   become whole, the outer one keeps its chunks (split further, dask's
//!   `expand_tuple`, so a block does not grow by the inner axes' block count);
//!   when all inner axes are already chunked by 1, blocks are only renumbered;
//! - one input axis split into several: its chunks are merged to multiples of
//!   the inner output axes' product (dask's `contract_tuple`), which become
//!   whole on the output side.
//!
//! Anything else (e.g. `(6, 5) -> (5, 6)`) is not a merge or split of whole
//! axes: every output block along those axes needs data from every input block
//! along them, an all-to-all exchange, which dask refuses. darray refuses it too
//! unless the caller allows it; then the axes of that group are rechunked so
//! that the input blocks cut the group's flattened elements at multiples of the
//! least common multiple of both sides' inner sizes (contiguous C-order runs
//! that both sides can cut), in runs about as large as the input's largest
//! block, and the reshape is blockwise again.

use super::{bytes, flat_index, Lowerer};
use crate::error::Result;
use crate::expr::grid::{block_shape, numblocks, Grid};
use crate::expr::node::Expr;
use crate::graph::{ChunkKey, Op, TaskId};
use std::ops::RangeInclusive;
use std::sync::Arc;

/// A group of axes whose reshape needs an all-to-all exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// Input axes of the group.
    pub in_axes: RangeInclusive<usize>,
    /// Output axes of the group.
    pub out_axes: RangeInclusive<usize>,
}

/// The planned grids `(input grid, output grid)` of a reshape of an array of
/// `inshape` chunked `inchunks` to `outshape`, for arrays with at least one
/// element and at least two blocks (the caller handles the others). Block `k`
/// in C order of the output grid is block `k` of the input grid, reshaped.
///
/// `allow_exchange`: plan groups that are not a merge or split (see the module
/// docs) instead of returning them as the error.
pub(crate) fn plan(
    inshape: &[usize],
    outshape: &[usize],
    inchunks: &Grid,
    itemsize: usize,
    allow_exchange: bool,
) -> Result<(Grid, Grid), Exchange> {
    let mut ri: Vec<Option<Vec<usize>>> = vec![None; inshape.len()];
    let mut ro: Vec<Option<Vec<usize>>> = vec![None; outshape.len()];
    // Cursors one past the axis being placed, so that 0 means "none left".
    let (mut ii, mut oi) = (inshape.len(), outshape.len());
    let prod = |s: &[usize]| s.iter().product::<usize>();
    while ii > 0 || oi > 0 {
        // Equal products of what is left on each side: with one side done, the
        // other's remaining axes all have length 1.
        if ii == 0 {
            ro[oi - 1] = Some(vec![1]);
            oi -= 1;
            continue;
        }
        if oi == 0 {
            ri[ii - 1] = Some(vec![1]);
            ii -= 1;
            continue;
        }
        let (i, o) = (ii - 1, oi - 1);
        let (din, dout) = (inshape[i], outshape[o]);
        if din == dout {
            ri[i] = Some(inchunks[i].clone());
            ro[o] = Some(inchunks[i].clone());
            ii -= 1;
            oi -= 1;
        } else if din == 1 {
            ri[i] = Some(vec![1]);
            ii -= 1;
        } else if dout == 1 {
            ro[o] = Some(vec![1]);
            oi -= 1;
        } else if din < dout {
            // Merge input axes `left..=i` into output axis `o`.
            let mut left = i;
            while left > 0 && prod(&inshape[left..=i]) < dout {
                left -= 1;
            }
            if prod(&inshape[left..=i]) != dout {
                exchange(
                    inshape,
                    outshape,
                    inchunks,
                    itemsize,
                    allow_exchange,
                    i,
                    o,
                    &mut ri,
                    &mut ro,
                )
                .map(|(l, r)| {
                    ii = l;
                    oi = r;
                })?;
                continue;
            }
            if (0..i).all(|a| inchunks[a].len() == inshape[a]) {
                // Every outer axis chunked by 1: blocks are renumbered only.
                for a in 0..=i {
                    ri[a] = Some(inchunks[a].clone());
                }
                let reps: usize = (left..i).map(|a| inchunks[a].len()).product();
                ro[o] = Some(inchunks[i].repeat(reps));
            } else {
                for a in left + 1..=i {
                    ri[a] = Some(vec![inshape[a]]);
                }
                let reduction: usize = (left + 1..=i).map(|a| inchunks[a].len()).product();
                let lead = expand_tuple(&inchunks[left], reduction);
                let inner = prod(&inshape[left + 1..=i]);
                ro[o] = Some(lead.iter().map(|c| c * inner).collect());
                ri[left] = Some(lead);
            }
            ii = left;
            oi -= 1;
        } else {
            // Split input axis `i` into output axes `left..=o`.
            let mut left = o;
            while left > 0 && prod(&outshape[left..=o]) < din {
                left -= 1;
            }
            if prod(&outshape[left..=o]) != din {
                exchange(
                    inshape,
                    outshape,
                    inchunks,
                    itemsize,
                    allow_exchange,
                    i,
                    o,
                    &mut ri,
                    &mut ro,
                )
                .map(|(l, r)| {
                    ii = l;
                    oi = r;
                })?;
                continue;
            }
            let cs = prod(&outshape[left + 1..=o]);
            let merged = contract_tuple(&inchunks[i], cs);
            for a in left + 1..=o {
                ro[a] = Some(vec![outshape[a]]);
            }
            ro[left] = Some(merged.iter().map(|c| c / cs).collect());
            ri[i] = Some(merged);
            ii -= 1;
            oi = left;
        }
    }
    let done = |v: Vec<Option<Vec<usize>>>| {
        v.into_iter()
            .map(|c| c.expect("the walk places every axis"))
            .collect()
    };
    Ok((done(ri), done(ro)))
}

/// The group ending at input axis `i` and output axis `o` that is neither a
/// merge nor a split: refused, or (allowed) planned as contiguous C-order runs
/// of the group's flattened elements. Returns the cursors past the group.
#[allow(clippy::too_many_arguments)]
fn exchange(
    inshape: &[usize],
    outshape: &[usize],
    inchunks: &Grid,
    itemsize: usize,
    allow: bool,
    i: usize,
    o: usize,
    ri: &mut [Option<Vec<usize>>],
    ro: &mut [Option<Vec<usize>>],
) -> Result<(usize, usize), Exchange> {
    // The smallest group with equal products: what is left on each side has
    // equal products, so the walk ends at or before axis 0 on both sides.
    let (mut il, mut ol) = (i, o);
    let (mut pi, mut po) = (inshape[i], outshape[o]);
    while pi != po {
        if pi < po {
            il -= 1;
            pi *= inshape[il];
        } else {
            ol -= 1;
            po *= outshape[ol];
        }
    }
    if !allow {
        return Err(Exchange {
            in_axes: il..=i,
            out_axes: ol..=o,
        });
    }
    let inner_in: usize = inshape[il + 1..=i].iter().product();
    let inner_out: usize = outshape[ol + 1..=o].iter().product();
    let unit = lcm(inner_in, inner_out);
    // Runs of `k` units, so that a block holds about as many bytes as the
    // input's largest block (the other axes keep their chunks).
    let largest: usize = inchunks
        .iter()
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .product::<usize>()
        * itemsize;
    let others: usize = (0..inshape.len())
        .filter(|a| !(il..=i).contains(a))
        .map(|a| inchunks[a].iter().copied().max().unwrap_or(1))
        .product::<usize>()
        * itemsize;
    let k = (largest / (unit * others).max(1)).max(1);
    let run = (unit * k).min(pi);
    let cut = |n: usize| {
        let mut v = vec![run; n / run];
        if !n.is_multiple_of(run) {
            v.push(n % run);
        }
        v
    };
    let flat = cut(pi);
    ri[il] = Some(flat.iter().map(|c| c / inner_in).collect());
    for a in il + 1..=i {
        ri[a] = Some(vec![inshape[a]]);
    }
    ro[ol] = Some(flat.iter().map(|c| c / inner_out).collect());
    for a in ol + 1..=o {
        ro[a] = Some(vec![outshape[a]]);
    }
    Ok((il, ol))
}

fn lcm(a: usize, b: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b) * b
}

/// Chunks split so that there are about `factor` times as many (dask's
/// `expand_tuple`: `(2, 4)` by 2 is `(1, 1, 2, 2)`; `(7, 4)` by 3 is
/// `(2, 2, 3, 1, 1, 2)`).
pub(crate) fn expand_tuple(chunks: &[usize], factor: usize) -> Vec<usize> {
    if factor <= 1 {
        return chunks.to_vec();
    }
    let mut out = Vec::new();
    for &c in chunks {
        // dask computes `max(c / factor, 1)` in floats and truncates each part.
        #[allow(clippy::cast_precision_loss)]
        let part = (c as f64 / factor as f64).max(1.0);
        let mut x = c;
        #[allow(clippy::cast_precision_loss)]
        while x as f64 >= 2.0 * part {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let p = part as usize;
            out.push(p);
            x -= p;
        }
        if x > 0 {
            out.push(x);
        }
    }
    out
}

/// Chunks merged left to right into multiples of `factor` (dask's
/// `contract_tuple`: `(2, 2, 8, 4)` by 4 is `(4, 8, 4)`). The sum must be a
/// multiple of `factor`.
pub(crate) fn contract_tuple(chunks: &[usize], factor: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut residual = 0;
    for &c in chunks {
        let c = c + residual;
        let good = c / factor * factor;
        residual = c % factor;
        if good > 0 {
            out.push(good);
        }
    }
    out
}

impl Lowerer {
    /// Block `idx` of a reshape: the input block at the same C-order position
    /// of its grid, reshaped.
    pub(crate) fn reshape_block(
        &mut self,
        e: &Arc<Expr>,
        input: &Arc<Expr>,
        idx: &[u32],
        key: ChunkKey,
    ) -> Result<TaskId> {
        let mut flat = flat_index(&numblocks(&e.grid), idx);
        let in_nb = numblocks(&input.grid);
        let mut in_idx = vec![0u32; in_nb.len()];
        for (ax, &n) in in_nb.iter().enumerate().rev() {
            in_idx[ax] = u32::try_from(flat % n).expect("block index fits u32");
            flat /= n;
        }
        let src = self.block(input, &in_idx)?;
        let shape = block_shape(&e.grid, idx);
        Ok(self.push_leafish(key, Op::Reshape { shape }, vec![src], bytes(e, idx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: &[&[usize]]) -> Grid {
        v.iter().map(|c| c.to_vec()).collect()
    }

    #[test]
    fn tuples_match_dask_doctests() {
        assert_eq!(expand_tuple(&[2, 4], 2), vec![1, 1, 2, 2]);
        assert_eq!(expand_tuple(&[2, 4], 3), vec![1, 1, 1, 1, 2]);
        assert_eq!(expand_tuple(&[3, 4], 2), vec![1, 2, 2, 2]);
        assert_eq!(expand_tuple(&[7, 4], 3), vec![2, 2, 3, 1, 1, 2]);
        assert_eq!(contract_tuple(&[2, 2, 8, 4], 4), vec![4, 8, 4]);
    }

    // Every case of dask's `test_reshape_rechunk` (dask/array/tests/test_reshape.py,
    // `inshape, outshape, prechunks, inchunks, outchunks`), then the benchmark's pair.
    #[test]
    fn plans_match_dask() {
        type Case = (Vec<usize>, Vec<usize>, Grid, Grid, Grid);
        let cases: Vec<Case> = vec![
            (
                vec![4],
                vec![4],
                g(&[&[2, 2]]),
                g(&[&[2, 2]]),
                g(&[&[2, 2]]),
            ),
            (
                vec![4],
                vec![2, 2],
                g(&[&[2, 2]]),
                g(&[&[2, 2]]),
                g(&[&[1, 1], &[2]]),
            ),
            (
                vec![4],
                vec![4, 1],
                g(&[&[2, 2]]),
                g(&[&[2, 2]]),
                g(&[&[2, 2], &[1]]),
            ),
            (
                vec![4],
                vec![1, 4],
                g(&[&[2, 2]]),
                g(&[&[2, 2]]),
                g(&[&[1], &[2, 2]]),
            ),
            (
                vec![1, 4],
                vec![4],
                g(&[&[1], &[2, 2]]),
                g(&[&[1], &[2, 2]]),
                g(&[&[2, 2]]),
            ),
            (
                vec![4, 1],
                vec![4],
                g(&[&[2, 2], &[1]]),
                g(&[&[2, 2], &[1]]),
                g(&[&[2, 2]]),
            ),
            (
                vec![4, 1, 4],
                vec![4, 4],
                g(&[&[2, 2], &[1], &[2, 2]]),
                g(&[&[2, 2], &[1], &[2, 2]]),
                g(&[&[2, 2], &[2, 2]]),
            ),
            (
                vec![4, 4],
                vec![4, 1, 4],
                g(&[&[2, 2], &[2, 2]]),
                g(&[&[2, 2], &[2, 2]]),
                g(&[&[2, 2], &[1], &[2, 2]]),
            ),
            (
                vec![2, 2],
                vec![4],
                g(&[&[2], &[2]]),
                g(&[&[2], &[2]]),
                g(&[&[4]]),
            ),
            (
                vec![2, 2],
                vec![4],
                g(&[&[1, 1], &[2]]),
                g(&[&[1, 1], &[2]]),
                g(&[&[2, 2]]),
            ),
            (
                vec![2, 2],
                vec![4],
                g(&[&[2], &[1, 1]]),
                g(&[&[1, 1], &[2]]),
                g(&[&[2, 2]]),
            ),
            (
                vec![64],
                vec![4, 4, 4],
                g(&[&[8, 8, 8, 8, 8, 8, 8, 8]]),
                g(&[&[16, 16, 16, 16]]),
                g(&[&[1, 1, 1, 1], &[4], &[4]]),
            ),
            (
                vec![64],
                vec![4, 4, 4],
                g(&[&[32, 32]]),
                g(&[&[32, 32]]),
                g(&[&[2, 2], &[4], &[4]]),
            ),
            (
                vec![64],
                vec![4, 4, 4],
                g(&[&[16, 48]]),
                g(&[&[16, 48]]),
                g(&[&[1, 3], &[4], &[4]]),
            ),
            (
                vec![64],
                vec![4, 4, 4],
                g(&[&[20, 44]]),
                g(&[&[16, 48]]),
                g(&[&[1, 3], &[4], &[4]]),
            ),
            (
                vec![64, 4],
                vec![8, 8, 4],
                g(&[&[16, 16, 16, 16], &[2, 2]]),
                g(&[&[16, 16, 16, 16], &[2, 2]]),
                g(&[&[2, 2, 2, 2], &[8], &[2, 2]]),
            ),
            (
                vec![16384, 8192],
                vec![128, 128, 8192],
                g(&[
                    &[2048, 2048, 2048, 2048, 2048, 2048, 2048, 2048],
                    &[2048, 2048, 2048, 2048],
                ]),
                g(&[
                    &[2048, 2048, 2048, 2048, 2048, 2048, 2048, 2048],
                    &[2048, 2048, 2048, 2048],
                ]),
                g(&[
                    &[16, 16, 16, 16, 16, 16, 16, 16],
                    &[128],
                    &[2048, 2048, 2048, 2048],
                ]),
            ),
            (
                vec![128, 128, 8192],
                vec![16384, 8192],
                g(&[
                    &[16, 16, 16, 16, 16, 16, 16, 16],
                    &[128],
                    &[2048, 2048, 2048, 2048],
                ]),
                g(&[
                    &[16, 16, 16, 16, 16, 16, 16, 16],
                    &[128],
                    &[2048, 2048, 2048, 2048],
                ]),
                g(&[
                    &[2048, 2048, 2048, 2048, 2048, 2048, 2048, 2048],
                    &[2048, 2048, 2048, 2048],
                ]),
            ),
        ];
        for (inshape, outshape, inchunks, want_in, want_out) in cases {
            let (gi, go) = plan(&inshape, &outshape, &inchunks, 8, false).unwrap();
            assert_eq!(
                (&gi, &go),
                (&want_in, &want_out),
                "{inshape:?} -> {outshape:?}"
            );
        }
    }

    #[test]
    fn non_merge_split_is_an_exchange() {
        let err = plan(&[6, 5], &[5, 6], &g(&[&[3, 3], &[5]]), 8, false).unwrap_err();
        assert_eq!(
            err,
            Exchange {
                in_axes: 0..=1,
                out_axes: 0..=1
            }
        );
        let err = plan(
            &[3, 2, 3, 4],
            &[3, 4, 6],
            &g(&[&[3], &[1, 1], &[3], &[4]]),
            8,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            Exchange {
                in_axes: 1..=3,
                out_axes: 1..=2
            }
        );
        // Allowed: the group is cut at multiples of lcm(inner sizes).
        let (gi, go) = plan(&[8, 6], &[6, 8], &g(&[&[1; 8], &[6]]), 8, true).unwrap();
        assert_eq!(gi, g(&[&[4, 4], &[6]]));
        assert_eq!(go, g(&[&[3, 3], &[8]]));
    }
}
