//! The one place an [`Op`] becomes a kernel call. No `_ =>` arm: a new op that is
//! not wired here does not compile.

use super::kernels::lookup;
use crate::error::{Error, Result};
use crate::graph::{viewed, AxisTake, Op};
use crate::store::StoreCache;
use darray_kernels::{create, elementwise, groupby, layout, random, reduce, Chunk};
use std::path::Path;

/// What tasks share while running: opened stores and their counters.
pub(crate) struct RunContext {
    pub store: StoreCache,
}

/// Runs one op on its inputs.
pub(crate) fn run_op(op: &Op, inputs: &[&Chunk], ctx: &RunContext) -> Result<Chunk> {
    Ok(match op {
        Op::ReadZarr {
            path,
            region,
            dtype,
        } => ctx.store.read_region(Path::new(path), region, *dtype)?,
        Op::Literal { data } => (**data).clone(),
        Op::Arange {
            start,
            step,
            offset,
            len,
            dtype,
        } => create::arange(*start, *step, *offset, *len, *dtype),
        Op::Eye {
            k,
            offset,
            shape,
            dtype,
        } => create::eye(*k, *offset, *shape, *dtype),
        Op::Random {
            dist,
            seed,
            dtype,
            global_shape,
            offset,
            shape,
        } => random::random_block(*dist, *seed, *dtype, global_shape, offset, shape)?,
        Op::Fused {
            program,
            shape,
            views,
            parts,
        } => {
            if parts.is_empty() {
                let (chunks, windows) = viewed(inputs, views)?;
                elementwise::eval_windows(program, &chunks, &windows, shape)?
            } else {
                elementwise::eval_parts(program, inputs, parts, shape)?
            }
        }
        Op::PartialReduce {
            kind,
            program,
            views,
            parts,
            shape,
            axes,
            arg,
        } => match program {
            Some(p) if !parts.is_empty() => darray_kernels::fused::partial_parts(
                *kind,
                p,
                inputs,
                parts,
                shape,
                axes,
                arg.as_ref(),
            )?,
            Some(p) => {
                let (chunks, windows) = viewed(inputs, views)?;
                darray_kernels::fused::partial_fused(
                    *kind,
                    p,
                    &chunks,
                    &windows,
                    shape,
                    axes,
                    arg.as_ref(),
                )?
            }
            None => reduce::partial(*kind, one(op, inputs)?, axes, arg.as_ref())?,
        },
        Op::MergeReduce {
            kind,
            axes,
            finalize,
            input,
        } => match (finalize, inputs) {
            (Some(keepdims), [part]) => reduce::finalize_for(*kind, part, axes, *keepdims, *input)?,
            (Some(keepdims), _) => reduce::finalize_for(
                *kind,
                &reduce::merge(*kind, inputs)?,
                axes,
                *keepdims,
                *input,
            )?,
            (None, _) => reduce::merge(*kind, inputs)?,
        },
        Op::Slice { take } => {
            let take: Vec<layout::Take> = take
                .iter()
                .map(|t| match *t {
                    AxisTake::Range { start, step, len } => {
                        layout::Take::Range { start, step, len }
                    }
                    AxisTake::Index(i) => layout::Take::Index(i),
                    AxisTake::NewAxis => layout::Take::NewAxis,
                })
                .collect();
            layout::slice(one(op, inputs)?, &take)?
        }
        Op::Assemble {
            shape,
            dtype,
            pieces,
        } => {
            let pieces: Vec<_> = pieces
                .iter()
                .map(|p| (p.src.clone(), p.dst.clone()))
                .collect();
            layout::assemble(shape, *dtype, inputs, &pieces)?
        }
        Op::Gather {
            shape,
            dtype,
            slots,
            runs,
            fill,
        } => darray_kernels::gather::gather(shape, *dtype, inputs, slots, runs, *fill)?,
        Op::PointGather {
            shape,
            dtype,
            axes,
            slots,
            coords,
        } => darray_kernels::points::point_gather(shape, *dtype, inputs, axes, slots, coords)?,
        Op::Stencil {
            op: stencil,
            halo,
            outside,
            cval,
        } => darray_kernels::stencil::stencil(stencil, one(op, inputs)?, halo, outside, *cval)?,
        Op::Extract {
            what,
            offset,
            global,
        } => darray_kernels::select::extract(*what, inputs, offset, global)?,
        Op::CountBelow { values, right } => {
            darray_kernels::select::count_below(one(op, inputs)?, values, *right)?
        }
        Op::IsIn { values } => darray_kernels::select::isin(one(op, inputs)?, values)?,
        Op::Sort { axis, kind } => darray_kernels::sort::sort(one(op, inputs)?, *axis, *kind)?,
        Op::Transpose { perm } => layout::transpose(one(op, inputs)?, perm)?,
        Op::Reshape { shape } => darray_kernels::reshape::reshape(one(op, inputs)?, shape)?,
        Op::MapBlocks {
            kernel,
            dtype,
            shape,
            call,
        } => {
            let f = lookup(kernel)?;
            let none = crate::graph::BlockInfo::default();
            let (params, info) = call
                .as_deref()
                .map_or((&[][..], &none), |c| (&c.params[..], &c.info));
            let out = f(inputs, params, info).map_err(|message| Error::UserKernel {
                kernel: kernel.clone(),
                message,
            })?;
            if out.dtype() != Some(*dtype) || out.shape() != shape.as_slice() {
                return Err(Error::UserKernel {
                    kernel: kernel.clone(),
                    message: format!(
                        "returned {:?} of shape {:?}, expected {dtype} of shape {shape:?}",
                        out.dtype(),
                        out.shape()
                    ),
                });
            }
            out
        }
        Op::Call { function, args } => super::functions::run_call(function, args, inputs)?,
        Op::Linalg { op } => darray_kernels::linalg::run(op, inputs, &ctx.store)?,
        Op::Scan { kind, step, axis } => darray_kernels::scan::run(*kind, *step, *axis, inputs)?,
        Op::UserScan { name, step, axis } => {
            super::scan_ops::lookup(name)?.run(*step, *axis, inputs)?
        }
        Op::Diff { n, axis, ranges } => darray_kernels::scan::diff(inputs, ranges, *axis, *n)?,
        Op::Histogram { edges, weighted } => match (inputs, weighted) {
            ([data], false) => darray_kernels::histogram::histogram(data, None, edges)?,
            ([data, w], true) => darray_kernels::histogram::histogram(data, Some(w), edges)?,
            _ => {
                return Err(Error::TaskInputs {
                    op: op.name(),
                    expected: 1 + usize::from(*weighted),
                    got: inputs.len(),
                })
            }
        },
        Op::Count { op } => darray_kernels::count::run(op, inputs)?,
        Op::QuantileLanes { axis, spec } => {
            darray_kernels::quantile::quantile_lanes(one(op, inputs)?, *axis, spec)?
        }
        Op::QuantileCounts { pass } => match inputs {
            [block] => darray_kernels::quantile::radix_counts(block, None, *pass)?,
            [state, block] => darray_kernels::quantile::radix_counts(block, Some(state), *pass)?,
            _ => {
                return Err(Error::TaskInputs {
                    op: op.name(),
                    expected: 1 + usize::from(*pass > 0),
                    got: inputs.len(),
                })
            }
        },
        Op::QuantileRefine { pass, dtype, spec } => match inputs {
            [counts] => darray_kernels::quantile::radix_refine(counts, None, *pass, *dtype, spec)?,
            [counts, state] => {
                darray_kernels::quantile::radix_refine(counts, Some(state), *pass, *dtype, spec)?
            }
            _ => {
                return Err(Error::TaskInputs {
                    op: op.name(),
                    expected: 1 + usize::from(*pass > 0),
                    got: inputs.len(),
                })
            }
        },
        Op::QuantileFinish { dtype, spec } => {
            darray_kernels::quantile::radix_finish(one(op, inputs)?, *dtype, spec)?
        }
        Op::Create { op } => darray_kernels::create_more::run(op, inputs)?,
        Op::GroupPartial {
            kind,
            axis,
            labels,
            ngroups,
            finalize,
            groups,
        } => {
            let part = match (groups, inputs) {
                (None, _) => groupby::partial(*kind, one(op, inputs)?, *axis, labels, *ngroups)?,
                (Some(values), [data, by]) => {
                    let codes = groupby::codes(by, values)?;
                    groupby::partial(*kind, data, *axis, &codes, *ngroups)?
                }
                (Some(_), _) => {
                    return Err(Error::TaskInputs {
                        op: op.name(),
                        expected: 2,
                        got: inputs.len(),
                    })
                }
            };
            match finalize {
                Some(dtype) => groupby::finalize(*kind, &part, *dtype)?,
                None => part,
            }
        }
        Op::GroupMerge { kind, finalize } => {
            let part = match inputs {
                [one] => (*one).clone(),
                _ => groupby::merge(*kind, inputs)?,
            };
            match finalize {
                Some(dtype) => groupby::finalize(*kind, &part, *dtype)?,
                None => part,
            }
        }
        Op::WriteZarr { path, chunk } => {
            ctx.store
                .write_chunk(Path::new(path), chunk, one(op, inputs)?)?;
            Chunk::Unit
        }
        Op::WriteZarrRegion {
            path,
            chunk,
            shape,
            overlay,
        } => {
            ctx.store.write_chunk_in(
                Path::new(path),
                shape,
                chunk,
                overlay.as_deref(),
                one(op, inputs)?,
            )?;
            Chunk::Unit
        }
    })
}

fn one<'a>(op: &Op, inputs: &[&'a Chunk]) -> Result<&'a Chunk> {
    match inputs {
        [c] => Ok(c),
        _ => Err(Error::TaskInputs {
            op: op.name(),
            expected: 1,
            got: inputs.len(),
        }),
    }
}
