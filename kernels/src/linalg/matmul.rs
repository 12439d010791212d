//! Block products: sums of tensor contractions of block pairs, sums of blocks,
//! and Gram matrices. Products of contiguous 2-D blocks (in either order, so
//! transposed operands are not copied) go to BLAS `?gemm`, others through
//! ndarray's `general_mat_mul` on strided views.

use super::{mat, Real};
use crate::chunk::Chunk;
use crate::error::{KernelError, Result};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayD, ArrayView2, IxDyn, ShapeBuilder};

/// Contracted length from which a tall output (more rows than columns) is
/// accumulated in Fortran order. Measured here (OpenBLAS 0.3.21, one thread,
/// C-order and transposed left operands of 2048 and 8192 rows, 1-128 output
/// columns): from 1024 on, Fortran order was faster in every case, by up to
/// 2x for 20 columns; below 256 it was up to 8x slower, the final copy into
/// C order costing more than the product.
const FORTRAN_MIN_K: usize = 1024;

/// `Σ_k tensordot(inputs[2k], inputs[2k+1], axes_a, axes_b)`, output axes the free
/// axes of the left block then those of the right, in order.
///
/// # Errors
/// An odd number of inputs, dtypes other than `T`, or contracted lengths that differ.
pub fn tensordot_sum<T: Real>(
    inputs: &[&Chunk],
    axes_a: &[usize],
    axes_b: &[usize],
) -> Result<Chunk> {
    if inputs.is_empty() || !inputs.len().is_multiple_of(2) || axes_a.len() != axes_b.len() {
        return Err(KernelError::Other(format!(
            "tensordot: {} inputs for pairs",
            inputs.len()
        )));
    }
    let mut acc: Option<(Array2<T>, Vec<usize>)> = None;
    for pair in inputs.chunks(2) {
        let (a, b) = (view::<T>(pair[0])?, view::<T>(pair[1])?);
        let free_a: Vec<usize> = (0..a.ndim()).filter(|x| !axes_a.contains(x)).collect();
        let free_b: Vec<usize> = (0..b.ndim()).filter(|x| !axes_b.contains(x)).collect();
        let k: usize = axes_a.iter().map(|&x| a.shape()[x]).product();
        let kb: usize = axes_b.iter().map(|&x| b.shape()[x]).product();
        if axes_a
            .iter()
            .zip(axes_b)
            .any(|(&x, &y)| a.shape().get(x) != b.shape().get(y))
            || k != kb
        {
            return Err(KernelError::Shape {
                expected: a.shape().to_vec(),
                got: b.shape().to_vec(),
            });
        }
        let m: usize = free_a.iter().map(|&x| a.shape()[x]).product();
        let n: usize = free_b.iter().map(|&x| b.shape()[x]).product();
        let out_shape: Vec<usize> = free_a
            .iter()
            .map(|&x| a.shape()[x])
            .chain(free_b.iter().map(|&x| b.shape()[x]))
            .collect();
        // A tall output of a long contraction is accumulated in column-major
        // order, so that BLAS packs the big left operand as its `A` (see
        // `gemm_acc`).
        let (acc_m, shape) = acc.get_or_insert_with(|| {
            let zeros = if m > n && k >= FORTRAN_MIN_K {
                Array2::zeros((m, n).f())
            } else {
                Array2::zeros((m, n))
            };
            (zeros, out_shape.clone())
        });
        if *shape != out_shape {
            return Err(KernelError::Shape {
                expected: shape.clone(),
                got: out_shape,
            });
        }
        // Left operand as (free, contracted) and right as (contracted, free); 2-D
        // blocks are permuted views (no copy), others are copied and reshaped.
        let perm_a: Vec<usize> = free_a.iter().chain(axes_a).copied().collect();
        let perm_b: Vec<usize> = axes_b.iter().chain(&free_b).copied().collect();
        let pa = a.permuted_axes(IxDyn(&perm_a));
        let pb = b.permuted_axes(IxDyn(&perm_b));
        let (ca, cb);
        let va: ArrayView2<T> = if pa.ndim() == 2 {
            pa.into_dimensionality().expect("2-D")
        } else {
            ca = pa.as_standard_layout().into_owned();
            ca.view().into_shape_with_order((m, k)).expect("contiguous")
        };
        let vb: ArrayView2<T> = if pb.ndim() == 2 {
            pb.into_dimensionality().expect("2-D")
        } else {
            cb = pb.as_standard_layout().into_owned();
            cb.view().into_shape_with_order((k, n)).expect("contiguous")
        };
        gemm_acc(&va, &vb, acc_m)?;
    }
    let (m, shape) = acc.expect("at least one pair");
    let m = if m.is_standard_layout() {
        m
    } else {
        m.as_standard_layout().into_owned()
    };
    let out =
        ArrayD::from_shape_vec(IxDyn(&shape), m.into_raw_vec_and_offset().0).expect("sizes match");
    Ok(T::into_chunk(out))
}

/// A 2-D view as BLAS reads it: its memory, leading dimension and whether
/// BLAS must transpose it to get the view (a C-order matrix is column-major
/// transposed), if its memory is contiguous in either order.
fn blas_operand<'a, T>(v: &ArrayView2<'a, T>) -> Option<(&'a [T], usize, u8)> {
    let (r, c) = v.dim();
    if v.is_standard_layout() {
        Some((v.to_slice()?, c.max(1), b'T'))
    } else if v.t().is_standard_layout() {
        Some((v.to_slice_memory_order()?, r.max(1), b'N'))
    } else {
        None
    }
}

/// `acc += a b` (`acc` in C or Fortran order): BLAS `?gemm` (single-threaded,
/// so as deterministic as the executor needs) when both operands are
/// contiguous, else ndarray's own product.
///
/// OpenBLAS packs the operand it calls `B` (the `N` side) with a slower copy
/// than its `A`: a 2048 x 2048 block (or its transpose) times a 2048 x 20 one
/// takes up to half the time when the block is BLAS's `A` (measured here,
/// OpenBLAS 0.3.21). A C-order `acc` makes `b` BLAS's `A`; a Fortran-order
/// one is column-major as is, so `a` goes in as `A` (see [`FORTRAN_MIN_K`]).
fn gemm_acc<T: Real>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    acc: &mut Array2<T>,
) -> Result<()> {
    let ((m, k), n) = (a.dim(), b.ncols());
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    let (Some((sa, lda, ta)), Some((sb, ldb, tb))) = (blas_operand(a), blas_operand(b)) else {
        general_mat_mul(T::one(), a, b, T::one(), acc);
        return Ok(());
    };
    if let Some(c) = acc.as_slice_mut() {
        // C-order acc (m x n) is column-major accᵀ = bᵀ aᵀ (n x m). A
        // C-order operand is its column-major transpose, so `'T'` above
        // gives the view itself and, here, its transpose needs `'N'`.
        let flip = |t: u8| if t == b'T' { b'N' } else { b'T' };
        return T::gemm(
            flip(tb),
            flip(ta),
            n,
            m,
            k,
            T::one(),
            sb,
            ldb,
            sa,
            lda,
            T::one(),
            c,
            n,
        );
    }
    if acc.t().is_standard_layout() {
        let c = acc
            .as_slice_memory_order_mut()
            .expect("a Fortran-order array is contiguous");
        return T::gemm(ta, tb, m, n, k, T::one(), sa, lda, sb, ldb, T::one(), c, m);
    }
    general_mat_mul(T::one(), a, b, T::one(), acc);
    Ok(())
}

fn view<T: Real>(c: &Chunk) -> Result<ndarray::ArrayViewD<'_, T>> {
    T::view_chunk(c).ok_or_else(|| KernelError::DType {
        expected: T::DTYPE.to_string(),
        got: format!("{:?}", c.dtype()),
    })
}

/// Elementwise sum of the inputs, in order.
///
/// # Errors
/// No inputs, dtypes other than `T`, or shapes that differ.
pub fn sum_blocks<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    let mut it = inputs.iter();
    let first = it
        .next()
        .ok_or_else(|| KernelError::Other("sum_blocks: no inputs".into()))?;
    let mut acc = T::view_chunk(first)
        .ok_or_else(|| KernelError::Other("sum_blocks: dtype".into()))?
        .as_standard_layout()
        .into_owned();
    for c in it {
        let v = T::view_chunk(c).ok_or_else(|| KernelError::Other("sum_blocks: dtype".into()))?;
        if v.shape() != acc.shape() {
            return Err(KernelError::Shape {
                expected: acc.shape().to_vec(),
                got: v.shape().to_vec(),
            });
        }
        acc += &v;
    }
    Ok(T::into_chunk(acc))
}

/// `Σ Aᵢᵀ Aᵢ` over 2-D inputs with equal column counts.
///
/// # Errors
/// Dtypes other than `T`, non-2-D inputs or column counts that differ.
pub fn gram<T: Real>(inputs: &[&Chunk]) -> Result<Chunk> {
    let n = mat::<T>(inputs[0])?.ncols();
    let mut g = Array2::<T>::zeros((n, n));
    for c in inputs {
        let a = mat::<T>(c)?;
        if a.ncols() != n {
            return Err(KernelError::Shape {
                expected: vec![a.nrows(), n],
                got: a.shape().to_vec(),
            });
        }
        gemm_acc(&a.t(), &a, &mut g)?;
    }
    Ok(T::into_chunk(g.into_dyn()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    #[test]
    fn matmul_sum_matches_dot() {
        let a = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let b = array![[1.0, -1.0, 2.0], [0.5, 3.0, 1.0]];
        let ca = Chunk::F64(a.clone().into_dyn());
        let cb = Chunk::F64(b.clone().into_dyn());
        let got = tensordot_sum::<f64>(&[&ca, &cb, &ca, &cb], &[1], &[0]).unwrap();
        let want = a.dot(&b) * 2.0;
        assert_eq!(got, Chunk::F64(want.into_dyn()));
        let g = gram::<f64>(&[&ca]).unwrap();
        assert_eq!(g, Chunk::F64(a.t().dot(&a).into_dyn()));
    }

    /// Tall outputs (of long contractions accumulated in Fortran order), wide
    /// and square ones, with C-order and transposed operands and several
    /// pairs, against a naive sum (to 1e-13 relative).
    #[test]
    fn tall_and_wide_products_match_naive() {
        let f = |seed: usize, r: usize, c: usize| {
            Array2::from_shape_fn((r, c), |(i, j)| {
                (((i * 31 + j * 17 + seed * 7) as f64) * 0.618).sin()
            })
        };
        for (m, k, n) in [
            (70, FORTRAN_MIN_K + 3, 5),
            (70, 33, 5),
            (5, FORTRAN_MIN_K, 70),
            (9, 9, 9),
            (40, 1, 3),
            (17, FORTRAN_MIN_K, 1),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let (mut chunks, mut want) = (Vec::new(), Array2::<f64>::zeros((m, n)));
                for p in 0..3 {
                    let (x, y) = (f(p, m, k), f(p + 10, k, n));
                    want += &x.dot(&y);
                    // A transposed operand is a Fortran-order block contracted on axis 0.
                    let cx = if ta { x.t().to_owned() } else { x };
                    let cy = if tb { y.t().to_owned() } else { y };
                    chunks.push(Chunk::F64(cx.into_dyn()));
                    chunks.push(Chunk::F64(cy.into_dyn()));
                }
                let refs: Vec<&Chunk> = chunks.iter().collect();
                let (xa, xb) = (usize::from(!ta), usize::from(tb));
                let got = tensordot_sum::<f64>(&refs, &[xa], &[xb]).unwrap();
                let Chunk::F64(got) = got else { panic!("f64") };
                assert!(got.is_standard_layout());
                assert_eq!(got.shape(), &[m, n]);
                let max = want.iter().fold(1.0f64, |e, v| e.max(v.abs()));
                let err = (&got - &want.view().into_dyn())
                    .iter()
                    .fold(0.0f64, |e, v| e.max(v.abs()));
                assert!(err < 1e-13 * max, "{m}x{k}x{n} {ta} {tb}: {err:e}");
            }
        }
    }

    #[test]
    fn tensordot_3d() {
        let a = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f64);
        let b = Array3::from_shape_fn((4, 3, 5), |(i, j, k)| (i as f64) - (j * k) as f64);
        let got = tensordot_sum::<f64>(
            &[
                &Chunk::F64(a.clone().into_dyn()),
                &Chunk::F64(b.clone().into_dyn()),
            ],
            &[1, 2],
            &[1, 0],
        )
        .unwrap();
        let mut want = ndarray::Array2::<f64>::zeros((2, 5));
        for i in 0..2 {
            for l in 0..5 {
                for j in 0..3 {
                    for k in 0..4 {
                        want[[i, l]] += a[[i, j, k]] * b[[k, j, l]];
                    }
                }
            }
        }
        assert_eq!(got, Chunk::F64(want.into_dyn()));
    }
}
