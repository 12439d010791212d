//! Linear algebra on chunked arrays, as graphs of local kernels
//! (`darray_kernels::linalg`): block products ([`matmul`], [`tensordot`]), the
//! direct tall-and-skinny QR ([`tsqr`], [`qr`]) with CholeskyQR variants, SVDs
//! ([`svd`], [`svd_compressed`]), least squares ([`lstsq`]), norms ([`norm`]),
//! and tiled factorizations of square matrices chunked along both axes:
//! [`cholesky`], and [`lu`], [`solve`] / [`inv`] through LU with tournament
//! pivoting.
//!
//! Every operation here builds lazy expressions (`ExprKind::Custom` nodes that
//! lower themselves into tasks); nothing runs until `compute`. Operations with
//! several outputs (`Q` and `R`, `U`, `S` and `Vᵀ`) return arrays whose nodes
//! share one plan, so a graph built for several of them shares the work (task
//! keys are memoized per plan). Local math runs in the kernels crate; this
//! module only decides which blocks meet in which task.
//!
//! Options are values: every function that builds a QR has a `_with` form
//! taking [`QrOptions`], which belong to the lazy result they build. Choices
//! that depend on memory ([`TsqrLeaves::Auto`]) are made when the graph is
//! lowered for an executor, against that executor's memory budget.

mod einsum;
mod lstsq;
mod lu;
mod matmul;
mod nodes;
mod qr;
mod stats;
mod svd;
mod tiled;
mod tiled_qr;
mod triangular;

pub use darray_kernels::linalg::Real;
pub use einsum::einsum;
pub use lstsq::{lstsq, lstsq_with, norm, Lstsq, NormOrd};
pub use lu::{inv, lu, solve};
pub use matmul::{matmul, tensordot};
pub use qr::{qr, qr_with, tsqr, tsqr_with, QrMethod, QrOptions, TsqrLeaves};
pub use stats::{corrcoef, cov, cov2, outer};
pub use svd::{svd, svd_compressed, svd_compressed_with, svd_with};
pub use tiled::cholesky;
pub use triangular::{solve_triangular, solve_triangular_with};

/// Blocks (or partial results) combined by one task in the trees of block
/// products and of TSQR's R factors: bounds the memory of any one task.
pub(crate) const FAN_IN: usize = 8;

/// Largest small dense factor (an `n x n` R, a sketch) held in one task.
pub(crate) const MAX_SMALL_BYTES: u64 = 256 << 20;
