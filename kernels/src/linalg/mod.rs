//! Local linear algebra on one or a few blocks: block products, QR, SVD, solves.
//! LAPACK through ndarray-linalg; BLAS single-threaded (parallelism comes from
//! the graph).

use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use serde::{Deserialize, Serialize};

/// A linear-algebra kernel and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LinalgOp {
    /// Sum of the products `inputs[2k] @ inputs[2k+1]` of 2-D blocks, in order.
    MatmulSum,
}

impl LinalgOp {
    /// A short name for descriptions.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            LinalgOp::MatmulSum => "matmul",
        }
    }
}

/// Runs a linear-algebra kernel.
///
/// # Errors
/// Inputs of the wrong number, dtype or shape.
pub fn run(op: &LinalgOp, inputs: &[&Chunk]) -> Result<Chunk> {
    match op {
        LinalgOp::MatmulSum => {
            let _ = inputs;
            Err(KernelError::Other("matmul is not wired yet".into()))
        }
    }
}
