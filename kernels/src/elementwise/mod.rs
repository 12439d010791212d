//! Fused elementwise programs ([`ElementwiseProgram`]) and their evaluation tile by
//! tile. This module owns the program's semantics and its evaluation on in-memory
//! chunks; building programs from expressions (fusion) is the graph's job, and
//! reducing the results is [`crate::reduce`]'s.
//!
//! Files: `program` (the data form), `validate` (static checks), `eval` (the tile
//! loop), `tile` (broadcast inputs), `ops` (typed per-tile kernels), `arith`
//! (per-element arithmetic), `cast` (conversions), `math` (branch-free sin/cos/exp
//! kernels), `vecmath` (their vectorized slice loops), `lane` (dtype-erased tile
//! storage).

mod arith;
mod cast;
mod eval;
mod lane;
mod math;
mod ops;
mod parts;
pub mod program;
mod tile;
mod validate;
mod vecmath;

pub(crate) use eval::TILE;
pub use eval::{
    eval, eval_windows, for_each_tile, for_each_tile_len, for_each_tile_windows, scratch_bytes,
};
pub(crate) use lane::dispatch_arith;
pub use lane::TileSlice;
pub(crate) use parts::check_grid;
pub use parts::{eval_parts, view_inputs, InputView, Part};
pub use program::{BinaryOp, CmpOp, Domain, ElementwiseProgram, Instr, Node, UnaryOp};
pub use tile::Window;
pub use validate::validate;

#[cfg(test)]
mod tests;
