//! `blockwise` with index notation (dask.array's `blockwise`): a registered
//! block kernel applied to aligned blocks of several arrays, the alignment
//! given by one letter per axis, `"ij,jk->ik"` (the lowering is in
//! `crate::ops::blockwise`; kernels are registered with
//! [`crate::register_kernel`] or [`crate::register_kernel_with`]).

use super::map_blocks::ArrayArg;
use super::{DArray, DEFAULT_SPLIT_EVERY};
use crate::error::{Error, Result};
use crate::exec::kernels::takes_params;
use crate::expr::grid::{self as chunks, Grid};
use crate::expr::node::Expr;
use crate::expr::select::rechunk_expr;
use crate::ops::blockwise::{blockwise_expr, AxisSource, BlockwisePlan};
use darray_kernels::{DType, Element};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How [`blockwise`] treats a contracted index (one in inputs but not in
/// the output).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Contraction {
    /// The inputs are rechunked to one block along the index, so the kernel
    /// sees all of it at once, once per output block (dask's
    /// `concatenate=True`). One lane band along the index must fit memory.
    #[default]
    Concatenate,
    /// The index keeps its blocks: the kernel is called once per output
    /// block and combination of contracted blocks (in C order), and its
    /// outputs are summed in that order (a kernel of block products gives
    /// a matrix product). Needs a numeric output dtype.
    SumPartials,
}

/// Options of [`blockwise`].
#[derive(Clone, Debug)]
pub struct BlockwiseOptions {
    /// Sizes of output indices that no input has (dask's `new_axes`); each
    /// is one block.
    pub new_axes: BTreeMap<char, usize>,
    /// How contracted indices are handled.
    pub contraction: Contraction,
    /// Whether inputs whose chunks differ along a shared index are rechunked
    /// to the common refinement of their chunks (dask's `align_arrays`,
    /// default); if not, differing chunks are an error.
    pub align: bool,
    /// Largest number of partial outputs one sum task adds
    /// ([`Contraction::SumPartials`]; at least 2).
    pub split_every: usize,
    /// Parameters for a kernel registered with
    /// [`crate::register_kernel_with`] (see [`BlockwiseOptions::params`]).
    pub params: Option<Arc<Vec<u8>>>,
}

impl Default for BlockwiseOptions {
    fn default() -> Self {
        BlockwiseOptions {
            new_axes: BTreeMap::new(),
            contraction: Contraction::Concatenate,
            align: true,
            split_every: DEFAULT_SPLIT_EVERY,
            params: None,
        }
    }
}

impl BlockwiseOptions {
    /// Adds an output index `index` of length `len` that no input has.
    #[must_use]
    pub fn new_axis(mut self, index: char, len: usize) -> Self {
        self.new_axes.insert(index, len);
        self
    }

    /// Sets how contracted indices are handled.
    #[must_use]
    pub fn contraction(mut self, c: Contraction) -> Self {
        self.contraction = c;
        self
    }

    /// Sets whether differing chunks are rechunked (`true`) or refused.
    #[must_use]
    pub fn align(mut self, align: bool) -> Self {
        self.align = align;
        self
    }

    /// Sets the fan-in of the partial sums (at least 2).
    #[must_use]
    pub fn split_every(mut self, n: usize) -> Self {
        self.split_every = n.max(2);
        self
    }

    /// Sets the kernel's parameters (any serde value, sent with each task).
    ///
    /// # Errors
    /// A value that does not serialize.
    pub fn params<P: Serialize>(mut self, params: &P) -> Result<Self> {
        let bytes = postcard::to_stdvec(params).map_err(|e| Error::InvalidArgument {
            array: "blockwise".into(),
            reason: format!("parameters do not serialize: {e}"),
        })?;
        self.params = Some(Arc::new(bytes));
        Ok(self)
    }
}

/// Parses `"ij,jk->ik"` into the inputs' indices and the output's.
fn parse(spec: &str, bad: &dyn Fn(String) -> Error) -> Result<(Vec<Vec<char>>, Vec<char>)> {
    let compact: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    let (ins, out) = compact.split_once("->").ok_or_else(|| {
        bad(format!(
            "index spec `{spec}`: expected `inputs->output`, e.g. `ij,jk->ik`"
        ))
    })?;
    let term = |t: &str| -> Result<Vec<char>> {
        let v: Vec<char> = t.chars().collect();
        if let Some(c) = v.iter().find(|c| !c.is_ascii_alphabetic()) {
            return Err(bad(format!(
                "index spec `{spec}`: `{c}` is not an index letter"
            )));
        }
        if let Some((i, c)) = v.iter().enumerate().find(|(i, c)| v[..*i].contains(c)) {
            return Err(bad(format!(
                "index spec `{spec}`: index `{c}` repeated in term `{t}` (position {i})"
            )));
        }
        Ok(v)
    };
    let inputs = if ins.is_empty() {
        Vec::new()
    } else {
        ins.split(',').map(term).collect::<Result<Vec<_>>>()?
    };
    Ok((inputs, term(out)?))
}

/// One index: its length and its common grid.
struct Index {
    len: usize,
    grid: Vec<usize>,
}

/// Applies the registered kernel `kernel` blockwise, with the inputs' axes
/// named by `spec` (dask.array's `blockwise(func, out_ind, *args_and_inds)`):
/// `"ij,jk->ik"` names the axes of two 2-d inputs and of the 2-d output.
/// Output block `idx` is the kernel applied to, for each input, the block
/// whose coordinate along each index is the output's along it. Indices in
/// inputs but not in the output are contracted (see [`Contraction`]: one
/// block holding the whole index, the default, or per-block calls summed).
/// Inputs sharing an index must have the same length along it, or length 1
/// (broadcast: that input's single block is given to every call, and the
/// kernel broadcasts it); their chunks along it are unified (see
/// [`BlockwiseOptions::align`]). An output index no input has takes its size
/// from [`BlockwiseOptions::new_axes`] and is one block. The kernel must
/// return exactly the output block's shape and dtype `U` (checked when it
/// runs, naming the kernel).
///
/// ```
/// use darray::{blockwise, register_kernel, BlockwiseOptions, DArray};
/// use ndarray::{ArrayD, ArrayViewD, Ix2};
/// // A block product: with the contraction in one block, a matrix product.
/// fn dot(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
///     let a = x[0].view().into_dimensionality::<Ix2>().unwrap();
///     let b = x[1].view().into_dimensionality::<Ix2>().unwrap();
///     a.dot(&b).into_dyn()
/// }
/// register_kernel::<f64, f64>("doc-bw-dot", dot).unwrap();
/// let a = DArray::<f64>::ones(&[4, 6], [2, 4]).unwrap();
/// let b = DArray::<f64>::ones(&[6, 3], [3, 2]).unwrap();
/// let c = blockwise::<f64>("ij,jk->ik", "doc-bw-dot", &[&a, &b], &BlockwiseOptions::default()).unwrap();
/// assert_eq!(c.shape(), &[4, 3]);
/// assert!(c.compute().unwrap().iter().all(|&v| v == 6.0));
/// ```
///
/// # Errors
/// A malformed spec (no `->`, a non-letter, an index repeated in one term,
/// as many terms as inputs), a term with another length than its input's
/// number of axes, lengths along one index that differ (and are not 1), an
/// output index no input has and no `new_axes` size, a `new_axes` index an
/// input has, differing chunks with `align = false`, an unregistered kernel
/// or parameters that do not match its registration, and
/// [`Contraction::SumPartials`] with a bool output.
pub fn blockwise<U: Element>(
    spec: &str,
    kernel: &str,
    inputs: &[&dyn ArrayArg],
    opts: &BlockwiseOptions,
) -> Result<DArray<U>> {
    let bad = |reason: String| Error::InvalidArgument {
        array: format!("blockwise `{kernel}`"),
        reason,
    };
    let full = takes_params(kernel)?;
    if full != opts.params.is_some() {
        return Err(bad(if full {
            "the kernel takes parameters (register_kernel_with): set BlockwiseOptions::params"
                .into()
        } else {
            "parameters given for a kernel registered without them".into()
        }));
    }
    let (terms, out) = parse(spec, &bad)?;
    if terms.len() != inputs.len() || inputs.is_empty() {
        return Err(bad(format!(
            "index spec `{spec}` has {} input terms for {} inputs (at least one)",
            terms.len(),
            inputs.len()
        )));
    }
    let exprs: Vec<Arc<Expr>> = inputs.iter().map(|a| a.as_any().0).collect();
    // Every index's length and common grid, over the inputs that are not
    // broadcast along it.
    let mut index: BTreeMap<char, Index> = BTreeMap::new();
    for (n, (t, e)) in terms.iter().zip(&exprs).enumerate() {
        if t.len() != e.shape.len() {
            return Err(bad(format!(
                "term `{}` names {} axes of input {n} (`{}`), which has {}",
                t.iter().collect::<String>(),
                t.len(),
                e.name,
                e.shape.len()
            )));
        }
        for (a, &c) in t.iter().enumerate() {
            let (len, grid) = (e.shape[a], &e.grid[a]);
            match index.get_mut(&c) {
                None => {
                    index.insert(
                        c,
                        Index {
                            len,
                            grid: grid.clone(),
                        },
                    );
                }
                Some(ix) if ix.len == len => {
                    if ix.grid != *grid {
                        if !opts.align {
                            return Err(Error::InvalidChunks {
                                array: e.name.clone(),
                                shape: e.shape.clone(),
                                reason: format!(
                                    "blockwise `{kernel}`: chunks {grid:?} along index `{c}` differ from another input's {:?} (align is off)",
                                    ix.grid
                                ),
                            });
                        }
                        ix.grid = chunks::refine(&ix.grid, grid);
                    }
                }
                Some(_) if len == 1 => {}
                Some(ix) if ix.len == 1 => {
                    *ix = Index {
                        len,
                        grid: grid.clone(),
                    };
                }
                Some(ix) => {
                    return Err(bad(format!(
                        "index `{c}` has length {} in one input and {len} in input {n} (`{}`)",
                        ix.len, e.name
                    )));
                }
            }
        }
    }
    for (&c, &len) in &opts.new_axes {
        if index.contains_key(&c) {
            return Err(bad(format!("new_axes index `{c}` is an input's index")));
        }
        if !out.contains(&c) {
            return Err(bad(format!(
                "new_axes index `{c}` is not in the output `{}`",
                out.iter().collect::<String>()
            )));
        }
        index.insert(
            c,
            Index {
                len,
                grid: vec![len],
            },
        );
    }
    if let Some(c) = out.iter().find(|c| !index.contains_key(c)) {
        return Err(bad(format!(
            "output index `{c}` is in no input and has no new_axes size"
        )));
    }
    // Contracted indices, in order of first appearance.
    let mut contracted: Vec<char> = Vec::new();
    for &c in terms.iter().flatten() {
        if !out.contains(&c) && !contracted.contains(&c) {
            contracted.push(c);
        }
    }
    let sum = opts.contraction == Contraction::SumPartials && !contracted.is_empty();
    if sum && U::DTYPE == DType::Bool {
        return Err(bad(
            "summed partials need a numeric output dtype, not bool".into()
        ));
    }
    if !sum {
        for c in &contracted {
            let ix = index.get_mut(c).expect("every input index is listed");
            ix.grid = vec![ix.len];
        }
    }
    // The inputs on the common grid, and where their block coordinates come from.
    let mut args = Vec::with_capacity(exprs.len());
    let mut sources = Vec::with_capacity(exprs.len());
    for (t, e) in terms.iter().zip(&exprs) {
        let mut grid: Grid = Vec::with_capacity(t.len());
        let mut src = Vec::with_capacity(t.len());
        for (a, c) in t.iter().enumerate() {
            let ix = &index[c];
            if e.shape[a] != ix.len {
                // Broadcast along `c`: one block of length 1.
                grid.push(e.grid[a].clone());
                src.push(AxisSource::Zero);
            } else {
                grid.push(ix.grid.clone());
                src.push(match out.iter().position(|o| o == c) {
                    Some(o) => AxisSource::Out(o),
                    None if sum => AxisSource::Contracted(
                        contracted
                            .iter()
                            .position(|k| k == c)
                            .expect("listed above"),
                    ),
                    None => AxisSource::Zero,
                });
            }
        }
        args.push(rechunk_expr(e, grid));
        sources.push(src);
    }
    let grid: Grid = out.iter().map(|c| index[c].grid.clone()).collect();
    let shape: Vec<usize> = out.iter().map(|c| index[c].len).collect();
    let plan = BlockwisePlan {
        kernel: kernel.to_string(),
        inputs: args,
        sources,
        contracted: if sum {
            contracted.iter().map(|c| index[c].grid.len()).collect()
        } else {
            Vec::new()
        },
        params: opts.params.clone(),
        split_every: opts.split_every.max(2),
    };
    Ok(DArray::wrap(blockwise_expr(
        &format!("blockwise-{kernel}"),
        shape,
        grid,
        U::DTYPE,
        plan,
    )))
}
