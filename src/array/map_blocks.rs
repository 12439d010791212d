//! `map_blocks`: user kernels over the blocks of one or several arrays (the
//! registry itself lives in `crate::exec::kernels`, where kernels run). A kernel
//! is registered once by name (a function pointer plus its name); the graph refers
//! to it by name, so it stays plain data and any process with the same
//! registrations can run it.

use super::DArray;
use crate::error::{Error, Result};
pub use crate::exec::kernels::KernelFn;
use crate::exec::kernels::{insert, lookup};
use crate::expr::grid::{self as chunks, ChunkSpec};
use crate::expr::node::{Expr, ExprKind};
use darray_kernels::{Chunk, Element};
use ndarray::{ArrayD, ArrayViewD};
use std::sync::Arc;

/// Registers a kernel over type-erased chunks.
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_kernel_raw(
    name: &str,
    f: fn(&[&Chunk]) -> std::result::Result<Chunk, String>,
) -> Result<()> {
    insert(name, Arc::new(f))
}

/// Registers a kernel from blocks of `T` to a block of `U`, by name. Register
/// every kernel once at start-up, in every process that runs tasks.
///
/// ```
/// use darray::{register_kernel, DArray};
/// use ndarray::{ArrayD, ArrayViewD};
/// fn double(x: &[ArrayViewD<f64>]) -> ArrayD<f64> { &x[0] * 2.0 }
/// register_kernel::<f64, f64>("doc-double", double).unwrap();
/// assert!(register_kernel::<f64, f64>("doc-double", double).is_err());
/// let x = DArray::<f64>::ones(&[5], [2]).unwrap();
/// let y = x.map_blocks::<f64>("doc-double").unwrap().compute().unwrap();
/// assert_eq!(y.sum(), 10.0);
/// ```
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub fn register_kernel<T: Element, U: Element>(
    name: &str,
    f: fn(&[ArrayViewD<'_, T>]) -> ArrayD<U>,
) -> Result<()> {
    let wrapped = move |inputs: &[&Chunk]| -> std::result::Result<Chunk, String> {
        let views = inputs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                T::view_chunk(c).ok_or_else(|| {
                    format!("input {i}: expected {} data, got {:?}", T::DTYPE, c.dtype())
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(U::into_chunk(f(&views)))
    };
    insert(name, Arc::new(wrapped))
}

/// An array of any element type, as an input of [`map_blocks`].
#[derive(Clone, Debug)]
pub struct AnyArray(pub(crate) Arc<Expr>);

/// Any `DArray`, as an input of [`map_blocks`].
pub trait ArrayArg {
    /// The array with its element type erased.
    fn as_any(&self) -> AnyArray;
}

impl<T: Element> ArrayArg for DArray<T> {
    fn as_any(&self) -> AnyArray {
        AnyArray(self.expr.clone())
    }
}

/// Applies the kernel `name` to every block: block `i` of the output is the
/// kernel applied to block `i` of each input. Inputs must have the same shape
/// (their grids are unified). The output has the inputs' grid unless `chunks`
/// states another one with the same number of blocks per axis.
///
/// # Errors
/// An unregistered kernel, inputs of different shapes, or output chunks with a
/// different number of blocks.
pub fn map_blocks<U: Element>(
    name: &str,
    inputs: &[&dyn ArrayArg],
    chunks: Option<ChunkSpec>,
) -> Result<DArray<U>> {
    lookup(name)?;
    if inputs.is_empty() {
        return Err(Error::InvalidArgument {
            array: name.to_string(),
            reason: "map_blocks needs at least one input".into(),
        });
    }
    let exprs: Vec<Arc<Expr>> = inputs.iter().map(|a| a.as_any().0).collect();
    let shape = exprs[0].shape.clone();
    let mut grid = exprs[0].grid.clone();
    for e in &exprs[1..] {
        if e.shape != shape {
            return Err(Error::Broadcast {
                left: shape.clone(),
                right: e.shape.clone(),
            });
        }
        for (g, other) in grid.iter_mut().zip(&e.grid) {
            *g = chunks::refine(g, other);
        }
    }
    let args: Vec<Arc<Expr>> = exprs
        .iter()
        .map(|e| crate::expr::select::rechunk_expr(e, grid.clone()))
        .collect();
    let (out_shape, out_grid) = match chunks {
        None => (shape, grid),
        Some(spec) => {
            let ChunkSpec::PerAxis(axes, _) = &spec else {
                return Err(Error::InvalidArgument {
                    array: name.to_string(),
                    reason: "map_blocks output chunks must be explicit sizes per axis".into(),
                });
            };
            let g: chunks::Grid = axes
                .iter()
                .zip(&grid)
                .map(|(a, ing)| match a {
                    chunks::AxisChunks::Explicit(v) => v.clone(),
                    chunks::AxisChunks::Size(s) => vec![*s; ing.len()],
                    _ => ing.clone(),
                })
                .collect();
            if g.len() != grid.len() || g.iter().zip(&grid).any(|(a, b)| a.len() != b.len()) {
                return Err(Error::InvalidChunks {
                    array: name.to_string(),
                    shape,
                    reason: format!("output chunks {g:?} must have as many blocks per axis as the inputs' {grid:?}"),
                });
            }
            (g.iter().map(|v| v.iter().sum()).collect(), g)
        }
    };
    Ok(DArray::wrap(Expr::new(
        name,
        out_shape,
        out_grid,
        U::DTYPE,
        ExprKind::MapBlocks {
            kernel: name.to_string(),
            inputs: args,
        },
    )))
}

impl<T: Element> DArray<T> {
    /// Applies the registered kernel `name` to every block of this array, keeping
    /// the grid. See [`map_blocks`] for several inputs or other output chunks.
    ///
    /// # Errors
    /// An unregistered kernel.
    pub fn map_blocks<U: Element>(&self, name: &str) -> Result<DArray<U>> {
        map_blocks::<U>(name, &[self], None)
    }
}
