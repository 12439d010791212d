//! Pure per-chunk compute for darray: elementwise programs evaluated tile by tile,
//! partial reductions and their merges, counter-based random numbers, and local
//! linear algebra. No task graph, no I/O, no threads: every function takes chunks
//! (ndarray arrays) and returns chunks, and its output depends only on its inputs.

#![warn(missing_docs)]

pub mod chunk;
pub mod dtype;
pub mod error;
pub mod scalar;

pub use chunk::{Chunk, Partial};
pub use dtype::{DType, Element, Numeric};
pub use error::KernelError;
pub use scalar::Scalar;
pub mod count;
pub mod elementwise;
pub mod histogram;
pub mod random;
pub mod reduce;
pub mod scan;

pub use elementwise::program::{BinaryOp, CmpOp, Domain, ElementwiseProgram, Instr, Node, UnaryOp};
pub use random::Distribution;
pub use reduce::kind::{ArgContext, ReduceKind};
pub mod create;
pub mod create_more;
pub mod fused;
pub mod gather;
pub mod groupby;
pub mod layout;
pub mod linalg;
pub mod points;
pub mod quantile;
pub mod reshape;
pub mod select;
pub mod sort;
pub mod stencil;
pub mod unique;

/// Asserts that `$all` lists every variant of its enum once, in the order of the
/// patterns. The patterns form an exhaustive `match` (no wildcard), so a new
/// variant does not compile until it has a pattern here, and then the assertion
/// fails until `$all` has it: the op lists that tests build from `ALL` cover a new
/// op the day it exists.
#[cfg(test)]
macro_rules! assert_lists_every_variant {
    ($all:expr, $($pat:pat),+ $(,)?) => {{
        let all = $all;
        let mut patterns = 0usize;
        $(
            let _ = stringify!($pat);
            patterns += 1;
        )+
        assert_eq!(all.len(), patterns, "one entry per variant");
        for (i, v) in all.iter().enumerate() {
            match *v {
                $($pat)|+ => {}
            }
            let mut k = 0usize;
            let mut at = None;
            $(
                if at.is_none() && matches!(*v, $pat) {
                    at = Some(k);
                }
                k += 1;
            )+
            let _ = k;
            assert_eq!(at, Some(i), "{v:?} at its pattern's position");
        }
    }};
}
#[cfg(test)]
pub(crate) use assert_lists_every_variant;
