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
pub mod elementwise;
pub mod random;
pub mod reduce;

pub use elementwise::program::{BinaryOp, CmpOp, ElementwiseProgram, Instr, Node, UnaryOp};
pub use random::Distribution;
pub use reduce::kind::{ArgContext, ReduceKind};
pub mod create;
pub mod fused;
pub mod layout;
pub mod linalg;
