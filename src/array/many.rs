//! Several arrays computed in one graph, as `dask.compute(a, b)`: inputs they
//! share (a store read, a common sub-expression) run once for all of them.

use super::compute::{assemble, result_bytes};
use super::DArray;
use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use crate::expr::grid as chunks;
use crate::expr::node::{Expr, ExprKind};
use crate::ops;
use darray_kernels::{Chunk, Element};
use ndarray::ArrayD;
use std::sync::Arc;

/// Arrays (or tuples, arrays and slices of them) that [`compute`] and
/// [`persist`] run together. Implemented for [`DArray`], references to what
/// implements it, `[X; N]`, `[X]`, `Vec<X>` and tuples of up to five.
///
/// The methods are the crate's plumbing: call [`compute`] or [`persist`].
pub trait Computable {
    /// What [`compute`] returns: an `ArrayD<T>` per array, in the same shape of
    /// tuple or `Vec`.
    type Output;
    /// What [`persist`] returns: a [`DArray`] per array, held in memory.
    type Persisted;
    #[doc(hidden)]
    fn roots(&self, roots: &mut Roots);
    #[doc(hidden)]
    fn take(&self, blocks: &mut Blocks) -> Result<Self::Output>;
    #[doc(hidden)]
    fn take_persisted(&self, blocks: &mut Blocks) -> Result<Self::Persisted>;
}

/// The expressions to lower, and the result bytes they need (plumbing of
/// [`Computable`]).
#[doc(hidden)]
#[derive(Default)]
pub struct Roots {
    exprs: Vec<Arc<Expr>>,
    /// Bytes held at once if assembled, and if persisted.
    assembled: u64,
    persisted: u64,
    /// The largest array and its bytes: named in the error.
    largest: Option<(String, u64)>,
}

/// Computed blocks, handed out array by array (plumbing of [`Computable`]).
#[doc(hidden)]
pub struct Blocks {
    blocks: std::vec::IntoIter<Arc<Chunk>>,
}

impl Blocks {
    fn next_array(&mut self, e: &Expr) -> Result<Vec<Arc<Chunk>>> {
        let n = chunks::numblocks(&e.grid).iter().product::<usize>();
        let got: Vec<Arc<Chunk>> = self.blocks.by_ref().take(n).collect();
        if got.len() != n {
            return Err(Error::BlockCount {
                array: e.name.clone(),
                expected: n,
                found: got.len(),
            });
        }
        Ok(got)
    }
}

impl<T: Element> Computable for DArray<T> {
    type Output = ArrayD<T>;
    type Persisted = DArray<T>;
    fn roots(&self, roots: &mut Roots) {
        let (bytes, assembled) = result_bytes(&self.expr, T::DTYPE.size());
        roots.assembled = roots.assembled.saturating_add(assembled);
        roots.persisted = roots.persisted.saturating_add(bytes);
        if roots.largest.as_ref().is_none_or(|(_, b)| bytes > *b) {
            roots.largest = Some((self.expr.name.clone(), bytes));
        }
        roots.exprs.push(self.expr.clone());
    }
    fn take(&self, blocks: &mut Blocks) -> Result<ArrayD<T>> {
        assemble(&self.expr, blocks.next_array(&self.expr)?)
    }
    fn take_persisted(&self, blocks: &mut Blocks) -> Result<DArray<T>> {
        let got = blocks.next_array(&self.expr)?;
        Ok(DArray::wrap(Expr::new(
            format!("persist-{}", self.expr.name),
            self.expr.shape.clone(),
            self.expr.grid.clone(),
            T::DTYPE,
            ExprKind::Literal {
                blocks: Arc::new(got),
            },
        )))
    }
}

impl<X: Computable + ?Sized> Computable for &X {
    type Output = X::Output;
    type Persisted = X::Persisted;
    fn roots(&self, roots: &mut Roots) {
        (**self).roots(roots)
    }
    fn take(&self, blocks: &mut Blocks) -> Result<X::Output> {
        (**self).take(blocks)
    }
    fn take_persisted(&self, blocks: &mut Blocks) -> Result<X::Persisted> {
        (**self).take_persisted(blocks)
    }
}

impl<X: Computable> Computable for [X] {
    type Output = Vec<X::Output>;
    type Persisted = Vec<X::Persisted>;
    fn roots(&self, roots: &mut Roots) {
        self.iter().for_each(|x| x.roots(roots))
    }
    fn take(&self, blocks: &mut Blocks) -> Result<Self::Output> {
        self.iter().map(|x| x.take(blocks)).collect()
    }
    fn take_persisted(&self, blocks: &mut Blocks) -> Result<Self::Persisted> {
        self.iter().map(|x| x.take_persisted(blocks)).collect()
    }
}

impl<X: Computable, const N: usize> Computable for [X; N] {
    type Output = Vec<X::Output>;
    type Persisted = Vec<X::Persisted>;
    fn roots(&self, roots: &mut Roots) {
        self.as_slice().roots(roots)
    }
    fn take(&self, blocks: &mut Blocks) -> Result<Self::Output> {
        self.as_slice().take(blocks)
    }
    fn take_persisted(&self, blocks: &mut Blocks) -> Result<Self::Persisted> {
        self.as_slice().take_persisted(blocks)
    }
}

impl<X: Computable> Computable for Vec<X> {
    type Output = Vec<X::Output>;
    type Persisted = Vec<X::Persisted>;
    fn roots(&self, roots: &mut Roots) {
        self.as_slice().roots(roots)
    }
    fn take(&self, blocks: &mut Blocks) -> Result<Self::Output> {
        self.as_slice().take(blocks)
    }
    fn take_persisted(&self, blocks: &mut Blocks) -> Result<Self::Persisted> {
        self.as_slice().take_persisted(blocks)
    }
}

macro_rules! tuple_computable {
    ($($x:ident . $i:tt),+) => {
        impl<$($x: Computable),+> Computable for ($($x,)+) {
            type Output = ($($x::Output,)+);
            type Persisted = ($($x::Persisted,)+);
            fn roots(&self, roots: &mut Roots) {
                $(self.$i.roots(roots);)+
            }
            fn take(&self, blocks: &mut Blocks) -> Result<Self::Output> {
                Ok(($(self.$i.take(blocks)?,)+))
            }
            fn take_persisted(&self, blocks: &mut Blocks) -> Result<Self::Persisted> {
                Ok(($(self.$i.take_persisted(blocks)?,)+))
            }
        }
    };
}
tuple_computable!(A.0);
tuple_computable!(A.0, B.1);
tuple_computable!(A.0, B.1, C.2);
tuple_computable!(A.0, B.1, C.2, D.3);
tuple_computable!(A.0, B.1, C.2, D.3, E.4);

/// Computes several arrays in one graph on the default executor, as
/// `dask.compute(a, b, ...)`: what they share (a store read, a common
/// sub-expression) is computed once. Pass a tuple for arrays of different
/// element types, a slice, array or `Vec` for arrays of one type.
///
/// ```
/// use darray::DArray;
/// let x = DArray::<f64>::random_uniform(7, &[100, 10], 0.0, 1.0, [30, 10]).unwrap();
/// let total = x.sum().unwrap();
/// let cols = x.mean_axis(0).unwrap();
/// let big = x.greater(0.5).unwrap();
/// // One graph: x's blocks are generated once for all three results.
/// let (t, c, b) = darray::compute(&(&total, &cols, &big)).unwrap();
/// assert_eq!(c.len(), 10);
/// assert_eq!(b.shape(), &[100, 10]);
/// assert!((t.sum() - c.sum() * 100.0).abs() < 1e-9);
/// // Arrays of one type: a slice or array of references, and a Vec back.
/// let parts = darray::compute(&[&cols, &cols]).unwrap();
/// assert_eq!(parts[0], parts[1]);
/// ```
///
/// # Errors
/// As [`DArray::compute`]: the results together must fit the executor's
/// memory budget ([`Error::ResultTooLarge`] names the largest).
pub fn compute<C: Computable + ?Sized>(arrays: &C) -> Result<C::Output> {
    compute_with(arrays, default_executor())
}

/// [`compute`] on `exec`.
///
/// # Errors
/// As [`compute`].
pub fn compute_with<C: Computable + ?Sized>(arrays: &C, exec: &dyn Executor) -> Result<C::Output> {
    let mut blocks = run(arrays, exec, true)?;
    arrays.take(&mut blocks)
}

/// Computes several arrays in one graph and keeps their blocks in memory, as
/// `dask.persist(a, b, ...)`: each returned array reuses its blocks.
///
/// # Errors
/// As [`compute`]; the blocks of all the arrays must fit the budget together.
pub fn persist<C: Computable + ?Sized>(arrays: &C) -> Result<C::Persisted> {
    persist_with(arrays, default_executor())
}

/// [`persist`] on `exec`.
///
/// # Errors
/// As [`persist`].
pub fn persist_with<C: Computable + ?Sized>(
    arrays: &C,
    exec: &dyn Executor,
) -> Result<C::Persisted> {
    let mut blocks = run(arrays, exec, false)?;
    arrays.take_persisted(&mut blocks)
}

fn run<C: Computable + ?Sized>(arrays: &C, exec: &dyn Executor, assembled: bool) -> Result<Blocks> {
    let mut roots = Roots::default();
    arrays.roots(&mut roots);
    let needed = if assembled {
        roots.assembled
    } else {
        roots.persisted
    };
    let budget = exec.memory_budget();
    if needed > budget {
        let (array, bytes) = roots.largest.unwrap_or_default();
        return Err(Error::ResultTooLarge {
            array,
            bytes,
            needed,
            budget,
        });
    }
    let exprs: Vec<&Arc<Expr>> = roots.exprs.iter().collect();
    let graph = ops::lower(&exprs, budget)?;
    Ok(Blocks {
        blocks: exec.execute(&graph)?.into_iter(),
    })
}
