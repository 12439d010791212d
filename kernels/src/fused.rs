//! A reduction's first stage with the elementwise chain before it fused in.

use crate::chunk::Chunk;
use crate::elementwise::eval;
use crate::error::Result;
use crate::reduce::{partial, ArgContext, ReduceKind};
use crate::ElementwiseProgram;

/// The partial of `kind` over `axes` of the program's result on `inputs`
/// (broadcast to `shape`), without a graph task for the program's result.
///
/// # Errors
/// As [`eval`] and [`partial`].
pub fn partial_fused(
    kind: ReduceKind,
    program: &ElementwiseProgram,
    inputs: &[&Chunk],
    shape: &[usize],
    axes: &[usize],
    arg: Option<&ArgContext>,
) -> Result<Chunk> {
    let values = eval(program, inputs, shape)?;
    partial(kind, &values, axes, arg)
}
