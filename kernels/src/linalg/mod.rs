//! Local linear algebra on one or a few blocks: block products, QR, SVD, solves.
//! LAPACK through `lapack-sys` (and ndarray-linalg for small dense SVDs); BLAS
//! single-threaded (parallelism comes from the graph).
//!
//! Multi-output factorizations are packed into one chunk, since a task has one
//! output: a local QR returns its Householder factorization packed with the
//! reflector scalars in an extra row ([`qr`]), and a small SVD returns `U`, `s`
//! and `Vᵀ` stacked ([`svd`]); [`LinalgOp::Take`] slices the parts out.

pub mod lapack;
pub mod matmul;
pub mod qr;
pub mod svd;
pub mod tiled;
pub mod tiled_qr;

pub use lapack::Real;

use crate::chunk::Chunk;
use crate::dtype::{DType, Element};
use crate::error::{KernelError, Result};
use ndarray::{ArrayView2, Ix2};
use serde::{Deserialize, Serialize};

/// A linear-algebra kernel and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LinalgOp {
    /// Sum over pairs `(inputs[2k], inputs[2k+1])` of their tensor contraction over
    /// `axes_a` of the first and `axes_b` of the second, in order. For 2-D blocks
    /// with `axes_a = [1]`, `axes_b = [0]` this is a sum of block products.
    TensordotSum {
        /// Contracted axes of the left blocks.
        axes_a: Vec<usize>,
        /// Contracted axes of the right blocks, paired with `axes_a`.
        axes_b: Vec<usize>,
    },
    /// Elementwise sum of the inputs, in order.
    SumBlocks,
    /// `Σ Aᵢᵀ Aᵢ` over the 2-D inputs (a Gram matrix).
    Gram,
    /// Householder QR of the inputs stacked by rows (their R factors, if
    /// `packed`), packed as [`qr::qr_stack`] describes.
    QrStack {
        /// Inputs are packed factorizations whose R factors are stacked.
        packed: bool,
    },
    /// `Q · C` for the packed factorization `inputs[0]`, with `C` the rows
    /// `offset..offset + k` of `inputs[1]` (or the sign matrix of its R, alone).
    ApplyQ {
        /// First row of `C` in `inputs[1]`.
        offset: usize,
    },
    /// Householder QR of one tall block as a two-level TSQR in sub-blocks of
    /// `block_rows` rows, packed as [`qr::qr_leaf`] describes.
    QrLeaf {
        /// Rows per sub-block (at least the column count).
        block_rows: usize,
    },
    /// [`LinalgOp::ApplyQ`] for a factorization made by [`LinalgOp::QrLeaf`] of
    /// a block of `rows` rows with the same `block_rows`.
    ApplyQLeaf {
        /// First row of `C` in `inputs[1]`.
        offset: usize,
        /// Rows of the factored block.
        rows: usize,
        /// Rows per sub-block.
        block_rows: usize,
    },
    /// The R factor of a packed factorization, rows signed so its diagonal is >= 0.
    RFactor,
    /// Upper Cholesky factor `R` of `G + shift · trace(G) · I` (`G = RᵀR`).
    Cholesky {
        /// Relative diagonal shift (0 for plain Cholesky).
        shift: f64,
        /// `None`: fail if `G` is not positive definite. `Some(c)`: return a NaN
        /// matrix instead, also when `R`'s estimated condition number exceeds `c`
        /// (the automatic method, which then falls back to Householder).
        max_cond: Option<f64>,
    },
    /// `A R⁻¹` for a block `A` and an upper-triangular `R`; with more factors,
    /// `(A R₁⁻¹) R₂⁻¹ …` ([`qr::tri_solve_right`]).
    TriSolveRight,
    /// Thin SVD of a small 2-D block, packed as [`svd::svd_packed`] describes.
    SvdPacked,
    /// Rows `rows` and columns `cols` of one 2-D input.
    Take {
        /// Row range.
        rows: (usize, usize),
        /// Column range.
        cols: (usize, usize),
    },
    /// Minimum-norm least-squares solution from a packed SVD of `R` and `Qᵀb`.
    LstsqSolve {
        /// Singular values below `rcond · s_max` count as zero.
        rcond: f64,
    },
    /// Number of singular values of a packed SVD above `rcond · s_max` (0-d `i64`).
    Rank {
        /// Relative threshold.
        rcond: f64,
    },
    /// `‖G - I‖_F` of a square input (0-d), to measure the orthogonality of a Q
    /// whose Gram matrix is `G`.
    OrthoError,
    /// 0-d flag: 1 if `‖G - I‖_F < tol` for the square input `G` (the fast path
    /// of an automatic QR passed), else 0.
    OrthoCheck {
        /// Tolerance on `‖QᵀQ - I‖_F`.
        tol: f64,
    },
    /// `op` on all inputs but the last, a 0-d flag from [`LinalgOp::OrthoCheck`]:
    /// runs only if the flag is 0 (the fast path failed); otherwise returns an
    /// empty `0 x 0` block at once.
    Fallback {
        /// The guarded kernel.
        op: Box<LinalgOp>,
    },
    /// `inputs[0]` if the 0-d flag `inputs[2]` is 1, else `inputs[1]`.
    Select,
    /// `A R₁⁻¹ R₂⁻¹ …` for the row block `A = inputs[0]` and the R factors
    /// between `inputs[1]` and the last input, a 0-d flag, if the flag is 1;
    /// else `inputs[1]`. CholeskyQR's `Q` made again from the row block by the
    /// same kernels ([`qr::tri_solve_right`], one factor at a time), so the same
    /// bits as the `Q` its check measured, without holding that one until then.
    SelectCholeskyQ,
    /// Lower Cholesky factor of a diagonal tile ([`tiled::potrf_tile`]).
    TilePotrf {
        /// The tile's index on the diagonal, for the error message.
        tile: usize,
    },
    /// Triangular solve with a tile ([`tiled::tile_solve`]); the characters
    /// are BLAS's for the column-major reading of the C-order tiles.
    TileSolve {
        /// `b'L'` or `b'R'`.
        side: u8,
        /// `b'U'` or `b'L'`.
        uplo: u8,
        /// `b'N'` or `b'T'`.
        trans: u8,
        /// `b'N'` or `b'U'` (unit diagonal).
        diag: u8,
    },
    /// `C - A B` or `C - A Bᵀ` for tiles `[C, A, B]` ([`tiled::tile_update`]).
    TileUpdate {
        /// Multiply by `Bᵀ`.
        trans_b: bool,
    },
    /// Zeros shaped like the one input.
    ZerosLike,
    /// One node of a tournament for an LU panel's pivot rows ([`tiled::lu_pivots`]).
    LuPivots {
        /// For a leaf: the global row of the tile's first row.
        leaf_row0: Option<usize>,
        /// The root: return the LU factors of the selected rows.
        root: bool,
        /// The panel (tile column), for the error message.
        panel: usize,
    },
    /// Row interchanges of an LU panel applied to a tile ([`tiled::lu_swap`]).
    LuSwap {
        /// First row of the panel.
        row0: usize,
        /// First global row of each input tile.
        starts: Vec<usize>,
    },
    /// The `L` or `U` factor of an LU panel's diagonal tile ([`tiled::lu_part`]).
    LuPart {
        /// `L` (unit lower), else `U`.
        lower: bool,
    },
    /// Householder QR of a tile, or of a record's R stacked on a tile (by
    /// `?tpqrt`; [`tiled_qr::tqr_factor`]).
    TqrFactor,
    /// `Qᵀ C` or `Q C` for a packed factorization and tiles stacked by rows
    /// ([`tiled_qr::tqr_apply`]).
    TqrApply {
        /// `Qᵀ` (else `Q`).
        trans: bool,
    },
    /// Rows of a tile signed by a record's R diagonal ([`tiled_qr::tqr_signed_rows`]).
    TqrSignedRows {
        /// Row range.
        rows: (usize, usize),
    },
    /// The signs of a record's R diagonal as a `rows x k` tile ([`tiled_qr::sign_eye`]).
    SignEye {
        /// Rows of the tile.
        rows: usize,
    },
    /// The R factor alone of a row block's Householder QR (blocked as
    /// [`LinalgOp::QrLeaf`] with `Some(block_rows)`, else as
    /// [`LinalgOp::QrStack`] of the raw block), packed with no reflectors
    /// ([`qr::qr_r`]): what a TSQR tree's parent needs, without the block-sized
    /// reflectors.
    QrR {
        /// Rows per sub-block of a blocked factorization.
        block_rows: Option<usize>,
    },
    /// [`LinalgOp::ApplyQ`] (or [`LinalgOp::ApplyQLeaf`] with `Some(block_rows)`)
    /// after factoring the raw block `inputs[1]` again, the same way and so to
    /// the same bits as [`LinalgOp::QrR`] did; `C` is taken from `inputs[0]`
    /// ([`qr::refactor_apply_q`]).
    RefactorApplyQ {
        /// First row of `C` in `inputs[0]`.
        offset: usize,
        /// Rows per sub-block of a blocked factorization.
        block_rows: Option<usize>,
    },
}

impl LinalgOp {
    /// A short name for descriptions.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            LinalgOp::TensordotSum { .. } => "tensordot",
            LinalgOp::SumBlocks => "sum_blocks",
            LinalgOp::Gram => "gram",
            LinalgOp::QrStack { .. } => "qr",
            LinalgOp::ApplyQ { .. } => "apply_q",
            LinalgOp::QrLeaf { .. } => "qr_leaf",
            LinalgOp::ApplyQLeaf { .. } => "apply_q_leaf",
            LinalgOp::RFactor => "r_factor",
            LinalgOp::Cholesky { .. } => "cholesky",
            LinalgOp::TriSolveRight => "trsm",
            LinalgOp::SvdPacked => "svd",
            LinalgOp::Take { .. } => "take",
            LinalgOp::LstsqSolve { .. } => "lstsq",
            LinalgOp::Rank { .. } => "rank",
            LinalgOp::OrthoError => "ortho_error",
            LinalgOp::OrthoCheck { .. } => "ortho_check",
            LinalgOp::Fallback { op } => op.name(),
            LinalgOp::Select => "select",
            LinalgOp::SelectCholeskyQ => "select_cholesky_q",
            LinalgOp::TilePotrf { .. } => "potrf",
            LinalgOp::TileSolve { .. } => "trsm_tile",
            LinalgOp::TileUpdate { .. } => "gemm_tile",
            LinalgOp::ZerosLike => "zeros_like",
            LinalgOp::LuPivots { .. } => "tournament",
            LinalgOp::LuSwap { .. } => "laswp",
            LinalgOp::LuPart { .. } => "lu_part",
            LinalgOp::TqrFactor => "tqr_factor",
            LinalgOp::TqrApply { .. } => "tqr_apply",
            LinalgOp::TqrSignedRows { .. } => "tqr_signed_rows",
            LinalgOp::SignEye { .. } => "sign_eye",
            LinalgOp::QrR { .. } => "qr_r",
            LinalgOp::RefactorApplyQ { .. } => "refactor_apply_q",
        }
    }
}

/// Where a kernel may take the buffer of a large output instead of allocating
/// fresh memory (whose pages the OS faults in and zeroes on first touch): the
/// executor's pool of chunks whose last consumer has run.
pub trait Buffers: Sync {
    /// A chunk of exactly `n` elements of `dtype`, whose values the kernel
    /// overwrites, or `None`.
    fn take(&self, dtype: DType, n: usize) -> Option<Chunk>;
}

/// No buffers to reuse: every output is freshly allocated.
#[derive(Debug, Clone, Copy)]
pub struct NoBuffers;

impl Buffers for NoBuffers {
    fn take(&self, _: DType, _: usize) -> Option<Chunk> {
        None
    }
}

/// A buffer of exactly `n` elements of `T` from `buffers` (stale values, for
/// the caller to overwrite), if it has one: exact, so a chunk never holds more
/// memory than its size says.
pub fn take_vec<T: Element>(buffers: &dyn Buffers, n: usize) -> Option<Vec<T>> {
    let (v, offset) = T::from_chunk(buffers.take(T::DTYPE, n)?)?.into_raw_vec_and_offset();
    (v.len() == n && v.capacity() == n && offset.unwrap_or(0) == 0).then_some(v)
}

/// A vector of `n` elements for an output the caller overwrites whole: a
/// buffer from `buffers` (stale values) if it has one, else zeros.
pub(crate) fn out_vec<T: Real>(buffers: &dyn Buffers, n: usize) -> Vec<T> {
    take_vec(buffers, n).unwrap_or_else(|| vec![T::zero(); n])
}

/// Runs a linear-algebra kernel on `f32` or `f64` chunks, taking the outputs
/// of the Q applications (as large as a row block) from `buffers` where it can
/// ([`NoBuffers`]: always allocate).
///
/// # Errors
/// Inputs of the wrong number, dtype or shape; a failing factorization.
pub fn run(op: &LinalgOp, inputs: &[&Chunk], buffers: &dyn Buffers) -> Result<Chunk> {
    lapack::single_threaded_blas();
    let first = inputs
        .first()
        .ok_or_else(|| KernelError::Other(format!("{}: no inputs", op.name())))?;
    match first.dtype() {
        Some(DType::F64) => run_typed::<f64>(op, inputs, buffers),
        Some(DType::F32) => run_typed::<f32>(op, inputs, buffers),
        other => Err(KernelError::DType {
            expected: "float32 or float64".into(),
            got: format!("{other:?}"),
        }),
    }
}

fn run_typed<T: Real>(op: &LinalgOp, inputs: &[&Chunk], buffers: &dyn Buffers) -> Result<Chunk> {
    match op {
        LinalgOp::TensordotSum { axes_a, axes_b } => {
            matmul::tensordot_sum::<T>(inputs, axes_a, axes_b)
        }
        LinalgOp::SumBlocks => matmul::sum_blocks::<T>(inputs),
        LinalgOp::Gram => matmul::gram::<T>(inputs),
        LinalgOp::QrStack { packed } => qr::qr_stack::<T>(inputs, *packed),
        LinalgOp::ApplyQ { offset } => qr::apply_q::<T>(inputs, *offset, buffers),
        LinalgOp::QrLeaf { block_rows } => qr::qr_leaf::<T>(inputs, *block_rows),
        LinalgOp::ApplyQLeaf {
            offset,
            rows,
            block_rows,
        } => qr::apply_q_leaf::<T>(inputs, *offset, *rows, *block_rows, buffers),
        LinalgOp::RFactor => qr::r_factor::<T>(inputs),
        LinalgOp::Cholesky { shift, max_cond } => qr::cholesky::<T>(inputs, *shift, *max_cond),
        LinalgOp::TriSolveRight => qr::tri_solve_right::<T>(inputs, buffers),
        LinalgOp::SvdPacked => svd::svd_packed::<T>(inputs),
        LinalgOp::Take { rows, cols } => svd::take::<T>(inputs, *rows, *cols),
        LinalgOp::LstsqSolve { rcond } => svd::lstsq_solve::<T>(inputs, *rcond),
        LinalgOp::Rank { rcond } => svd::rank::<T>(inputs, *rcond),
        LinalgOp::OrthoError => svd::ortho_error::<T>(inputs),
        LinalgOp::OrthoCheck { tol } => {
            let e = svd::ortho_error::<T>(inputs)?;
            let ok = T::view_chunk(&e)
                .and_then(|v| v.first().copied())
                .is_some_and(|v| v < T::real(*tol));
            Ok(T::into_chunk(ndarray::ArrayD::from_elem(
                ndarray::IxDyn(&[]),
                if ok { T::one() } else { T::zero() },
            )))
        }
        LinalgOp::Fallback { op } => {
            let (flag, rest) = inputs
                .split_last()
                .ok_or_else(|| KernelError::Other("fallback: no flag".into()))?;
            if flag_set::<T>(flag)? {
                Ok(T::into_chunk(ndarray::ArrayD::zeros(ndarray::IxDyn(&[
                    0, 0,
                ]))))
            } else {
                run_typed::<T>(op, rest, buffers)
            }
        }
        LinalgOp::TilePotrf { tile } => tiled::potrf_tile::<T>(inputs, *tile),
        LinalgOp::TileSolve {
            side,
            uplo,
            trans,
            diag,
        } => tiled::tile_solve::<T>(inputs, *side, *uplo, *trans, *diag),
        LinalgOp::TileUpdate { trans_b } => tiled::tile_update::<T>(inputs, *trans_b),
        LinalgOp::ZerosLike => tiled::zeros_like::<T>(inputs),
        LinalgOp::LuPivots {
            leaf_row0,
            root,
            panel,
        } => tiled::lu_pivots::<T>(inputs, *leaf_row0, *root, *panel),
        LinalgOp::LuSwap { row0, starts } => tiled::lu_swap::<T>(inputs, *row0, starts),
        LinalgOp::LuPart { lower } => tiled::lu_part::<T>(inputs, *lower),
        LinalgOp::TqrFactor => tiled_qr::tqr_factor::<T>(inputs),
        LinalgOp::TqrApply { trans } => tiled_qr::tqr_apply::<T>(inputs, *trans),
        LinalgOp::TqrSignedRows { rows } => tiled_qr::tqr_signed_rows::<T>(inputs, *rows),
        LinalgOp::SignEye { rows } => tiled_qr::sign_eye::<T>(inputs, *rows),
        LinalgOp::QrR { block_rows } => qr::qr_r::<T>(inputs, *block_rows),
        LinalgOp::RefactorApplyQ { offset, block_rows } => {
            qr::refactor_apply_q::<T>(inputs, *offset, *block_rows, buffers)
        }
        LinalgOp::SelectCholeskyQ => {
            let (flag, rest) = inputs
                .split_last()
                .filter(|(_, rest)| rest.len() >= 3)
                .ok_or_else(|| {
                    KernelError::Other(format!(
                        "select_cholesky_q: {} inputs, at least 4 expected",
                        inputs.len()
                    ))
                })?;
            if !flag_set::<T>(flag)? {
                return copy_pooled::<T>(rest[1], buffers);
            }
            let chain: Vec<&Chunk> = std::iter::once(rest[0])
                .chain(rest[2..].iter().copied())
                .collect();
            qr::tri_solve_right::<T>(&chain, buffers)
        }
        LinalgOp::Select => {
            let ins = arity("select", inputs, 3)?;
            let pick = if flag_set::<T>(ins[2])? {
                ins[0]
            } else {
                ins[1]
            };
            copy_pooled::<T>(pick, buffers)
        }
    }
}

/// A copy of `pick` (the input stays with the executor), into a pooled buffer
/// where there is one: a block of Q is as large as a row block.
fn copy_pooled<T: Real>(pick: &Chunk, buffers: &dyn Buffers) -> Result<Chunk> {
    let v = T::view_chunk(pick).ok_or_else(|| KernelError::DType {
        expected: T::DTYPE.to_string(),
        got: format!("{:?}", pick.dtype()),
    })?;
    match take_vec::<T>(buffers, v.len()) {
        Some(mut out) => {
            for (o, &x) in out.iter_mut().zip(v.iter()) {
                *o = x;
            }
            let a = ndarray::ArrayD::from_shape_vec(v.raw_dim(), out)
                .map_err(|e| KernelError::Other(format!("select: {e}")))?;
            Ok(T::into_chunk(a))
        }
        None => Ok(pick.clone()),
    }
}

fn flag_set<T: Real>(c: &Chunk) -> Result<bool> {
    let v = T::view_chunk(c).and_then(|v| v.first().copied());
    v.map(|v| v == T::one())
        .ok_or_else(|| KernelError::Other("expected a 0-d flag".into()))
}

/// The 2-D array of type `T` inside a chunk.
pub(crate) fn mat<T: Real>(c: &Chunk) -> Result<ArrayView2<'_, T>> {
    let v = T::view_chunk(c).ok_or_else(|| KernelError::DType {
        expected: T::DTYPE.to_string(),
        got: format!("{:?}", c.dtype()),
    })?;
    let shape = v.shape().to_vec();
    v.into_dimensionality::<Ix2>()
        .map_err(|_| KernelError::Other(format!("expected a 2-D block, got shape {shape:?}")))
}

/// Exactly `n` inputs, or an error naming the kernel.
pub(crate) fn arity<'a, 'b>(
    name: &str,
    inputs: &'a [&'b Chunk],
    n: usize,
) -> Result<&'a [&'b Chunk]> {
    if inputs.len() == n {
        Ok(inputs)
    } else {
        Err(KernelError::Other(format!(
            "{name}: expected {n} inputs, got {}",
            inputs.len()
        )))
    }
}
