//! Arrays and delayed values together: a handle per block of an array
//! ([`DArray::to_delayed`]) and an array whose blocks are handles
//! ([`DArray::from_delayed`]), so custom steps mix with array operations in one
//! graph.

use super::registry::{self, BlockSpec};
use super::{lower, Delayed, Node, NodeArg, NodeKind};
use crate::array::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::{block_indices, numblocks};
use crate::expr::node::{Expr, ExprKind};
use crate::expr::{CustomLower, LowerCtx};
use crate::graph::{stage, ArrayId, CallArg, ChunkKey, Op, TaskId};
use darray_kernels::Element;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// Bytes a value's postcard encoding adds to its array's elements (its shape
/// and lengths), at most.
const VALUE_HEADER_BYTES: u64 = 256;

impl<T: Element> DArray<T> {
    /// One handle per block (dask's `Array.to_delayed`), in an array shaped as
    /// the grid of blocks: handle `[i, j]` computes block `(i, j)` as an owned
    /// `ArrayD<T>`. Each handle lowers to the block's own tasks plus one
    /// conversion task, so delayed functions can take whole blocks.
    ///
    /// ```
    /// use darray::{delayed, DArray};
    /// use ndarray::ArrayD;
    /// fn total(b: ArrayD<f64>) -> f64 { b.sum() }
    /// delayed::register("doc-to-delayed-total", total).unwrap();
    /// let x = DArray::<f64>::ones(&[10], [4]).unwrap();
    /// let blocks = x.to_delayed();
    /// assert_eq!(blocks.shape(), &[3]);
    /// let last = delayed::call1::<_, f64>("doc-to-delayed-total", &blocks[[2]]).unwrap();
    /// assert_eq!(last.compute().unwrap(), 2.0);
    /// ```
    pub fn to_delayed(&self) -> ArrayD<Delayed<ArrayD<T>>> {
        let function = registry::to_value_name::<T>();
        let handles: Vec<Delayed<ArrayD<T>>> = block_indices(&self.expr.grid)
            .into_iter()
            .map(|idx| {
                let bytes = self.expr.block_bytes(&idx) + VALUE_HEADER_BYTES;
                Delayed::from_node(Node {
                    id: ArrayId::fresh(),
                    kind: NodeKind::Call {
                        function: function.clone(),
                        args: vec![NodeArg::Block {
                            expr: self.expr.clone(),
                            idx,
                        }],
                    },
                    mem_bytes: bytes,
                })
            })
            .collect();
        ArrayD::from_shape_vec(IxDyn(&numblocks(&self.expr.grid)), handles)
            .expect("one handle per block of the grid")
    }

    /// An array whose blocks are computed by handles (dask's `from_delayed`,
    /// for a whole grid): `blocks` is shaped as the grid of blocks and
    /// `chunks` gives the block sizes along each axis, so block `[i, j]` must
    /// have shape `[chunks[0][i], chunks[1][j]]`. The shapes are stated, not
    /// computed: each is checked when its block is computed.
    ///
    /// ```
    /// use darray::{delayed, DArray};
    /// use ndarray::{ArrayD, IxDyn};
    /// fn fill(n: usize, v: f64) -> ArrayD<f64> { ArrayD::from_elem(IxDyn(&[n]), v) }
    /// delayed::register("doc-from-delayed-fill", fill).unwrap();
    /// let call = |n: usize, v: f64| {
    ///     delayed::call2::<_, _, ArrayD<f64>>("doc-from-delayed-fill", delayed::val(&n), delayed::val(&v)).unwrap()
    /// };
    /// let blocks = ArrayD::from_shape_vec(IxDyn(&[2]), vec![call(3, 1.0), call(2, 2.0)]).unwrap();
    /// let x = DArray::<f64>::from_delayed(&blocks, vec![vec![3, 2]]).unwrap();
    /// assert_eq!(x.sum().unwrap().compute_scalar().unwrap(), 7.0);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidChunks`] if `chunks` does not have one size per block of
    /// `blocks` along each axis. When computed, a block of another shape than
    /// stated fails with [`Error::BlockShape`] naming the block.
    pub fn from_delayed(
        blocks: &ArrayD<Delayed<ArrayD<T>>>,
        chunks: Vec<Vec<usize>>,
    ) -> Result<DArray<T>> {
        let name = "from_delayed";
        let shape: Vec<usize> = chunks.iter().map(|c| c.iter().sum()).collect();
        let per_axis: Vec<usize> = chunks.iter().map(Vec::len).collect();
        if per_axis != blocks.shape() {
            return Err(Error::InvalidChunks {
                array: name.into(),
                shape,
                reason: format!(
                    "{per_axis:?} blocks per axis in the chunks, {:?} handles",
                    blocks.shape()
                ),
            });
        }
        let node = FromDelayed {
            function: registry::from_value_name::<T>(),
            handles: blocks.iter().map(|h| h.node.clone()).collect(),
            numblocks: per_axis,
        };
        Ok(DArray::wrap(Expr::new(
            name,
            shape,
            chunks,
            T::DTYPE,
            ExprKind::Custom(Arc::new(node)),
        )))
    }
}

/// The lowering of [`DArray::from_delayed`]: block `idx` is the handle's task
/// and a conversion that checks its shape.
#[derive(Debug)]
struct FromDelayed {
    function: String,
    /// One per block, in C order of the grid.
    handles: Vec<Arc<Node>>,
    numblocks: Vec<usize>,
}

impl CustomLower for FromDelayed {
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId> {
        let flat = idx
            .iter()
            .zip(&self.numblocks)
            .fold(0usize, |acc, (&i, &n)| acc * n + i as usize);
        let value = lower::lower_node(l, &self.handles[flat])?;
        let shape = crate::expr::grid::block_shape(&e.grid, idx);
        let spec = registry::to_bytes(&BlockSpec {
            array: e.name.clone(),
            block: idx.to_vec(),
            shape,
        })?;
        let key = ChunkKey {
            array: e.id,
            stage: stage::BLOCK,
            block: idx.to_vec(),
        };
        Ok(l.push_task(
            key,
            Op::Call {
                function: self.function.clone(),
                args: vec![CallArg::Input(0), CallArg::Value(spec)],
            },
            vec![value],
            e.block_bytes(idx),
            0,
        ))
    }
}
