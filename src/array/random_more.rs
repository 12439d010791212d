//! Random integers, choice and permutations (NumPy's `Generator.integers`,
//! `choice`, `permutation`). As for [`DArray::random_uniform`], every value is
//! a function of the seed and the element's global index (see
//! `darray_kernels::create_more`), so results do not depend on the chunking,
//! the executor or the thread count. They are not NumPy's streams: the same
//! seed gives other numbers than NumPy.

use super::creation::resolve;
use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::ChunkSpec;
use crate::expr::node::{Expr, ExprKind};
use crate::ops::create_more::{PermuteNode, RandomNode};
use darray_kernels::create_more::{int_range, run, weighted_index};
use darray_kernels::random::{random_block, Distribution};
use darray_kernels::{Chunk, DType, Element};
use std::sync::Arc;

/// How [`DArray::choice`] draws, decided before anything runs.
enum Plan {
    /// A lazy random node over the output.
    Lazy(RandomNode),
    /// Indices drawn on the client (weighted, without replacement).
    Fixed(Vec<i64>),
}

/// Checks `p` against `n` and returns its cumulative sums.
fn cdf_of(p: &[f64], n: usize) -> Result<Vec<f64>> {
    let bad = |reason: String| Error::InvalidArgument {
        array: "choice".into(),
        reason,
    };
    if p.len() != n {
        return Err(bad(format!("p has {} entries for {n} choices", p.len())));
    }
    if let Some((i, x)) = p
        .iter()
        .enumerate()
        .find(|(_, x)| !(x.is_finite() && **x >= 0.0))
    {
        return Err(bad(format!("p[{i}] = {x} is not a probability")));
    }
    let cdf: Vec<f64> = p
        .iter()
        .scan(0.0, |acc, &x| {
            *acc += x;
            Some(*acc)
        })
        .collect();
    let total = cdf.last().copied().unwrap_or(0.0);
    // NumPy's tolerance: sqrt of the f64 epsilon.
    if (total - 1.0).abs() > f64::EPSILON.sqrt() {
        return Err(bad(format!("probabilities sum to {total}, not 1")));
    }
    Ok(cdf)
}

#[allow(clippy::cast_possible_wrap)] // Indices below 2^63.
fn plan(n: usize, size: usize, replace: bool, p: Option<&[f64]>, seed: u64) -> Result<Plan> {
    let bad = |reason: String| Error::InvalidArgument {
        array: "choice".into(),
        reason,
    };
    if n == 0 && size > 0 {
        return Err(bad(format!("cannot draw {size} from an empty population")));
    }
    if !replace && size > n {
        return Err(bad(format!(
            "cannot draw {size} without replacement from {n}"
        )));
    }
    let n64 = i64::try_from(n).map_err(|_| bad(format!("population {n} is too large")))?;
    Ok(match (p, replace) {
        (None, true) => Plan::Lazy(RandomNode::Integers {
            low: 0,
            high: n64.max(1),
            seed,
        }),
        (None, false) => Plan::Lazy(RandomNode::Permutation { n: n as u64, seed }),
        (Some(p), true) => Plan::Lazy(RandomNode::Weighted {
            cdf: Arc::new(cdf_of(p, n)?),
            seed,
        }),
        (Some(p), false) => {
            cdf_of(p, n)?;
            let positive = p.iter().filter(|&&x| x > 0.0).count();
            if size > positive {
                return Err(bad(format!(
                    "only {positive} entries of p are non-zero, fewer than size {size}"
                )));
            }
            // Efraimidis-Spirakis: the `size` largest keys ln(u_i) / p_i, in
            // decreasing order, are a weighted draw without replacement.
            let u = random_block(
                Distribution::Uniform {
                    low: 0.0,
                    high: 1.0,
                },
                seed,
                DType::F64,
                &[n],
                &[0],
                &[n],
            )?;
            let Chunk::F64(u) = u else {
                unreachable!("an f64 uniform block")
            };
            let mut keys: Vec<(f64, usize)> = (0..n)
                .filter(|&i| p[i] > 0.0)
                .map(|i| ((1.0 - u[[i]]).ln() / p[i], i))
                .collect();
            keys.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            Plan::Fixed(keys[..size].iter().map(|&(_, i)| i as i64).collect())
        }
    })
}

impl DArray<i64> {
    /// NumPy's `Generator.permutation(n)`: the integers `0..n` in a
    /// pseudorandom order. Each element is computed alone (a keyed Feistel
    /// permutation with cycle walking), so any block is made without the
    /// others and memory is one block per task.
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<i64>::permutation(10, 3, [4]).unwrap().compute().unwrap();
    /// let mut v = a.into_raw_vec_and_offset().0;
    /// v.sort();
    /// assert_eq!(v, (0..10).collect::<Vec<i64>>());
    /// ```
    ///
    /// # Errors
    /// `n` over `i64::MAX`, or an invalid chunk spec.
    pub fn permutation(n: usize, seed: u64, chunks: impl Into<ChunkSpec>) -> Result<Self> {
        if i64::try_from(n).is_err() {
            return Err(Error::InvalidArgument {
                array: "permutation".into(),
                reason: format!("permutation of {n} elements is too large"),
            });
        }
        Self::random_node(
            "permutation",
            &[n],
            RandomNode::Permutation { n: n as u64, seed },
            chunks.into(),
        )
    }

    /// NumPy's `Generator.choice(n, size, replace, p)`: `size` indices into
    /// `0..n`, uniform or with probabilities `p` (summing to 1 within
    /// `sqrt(eps)`, as NumPy checks), with or without replacement. Without
    /// replacement and without `p` it is the first `size` elements of
    /// [`DArray::permutation`]; without replacement with `p` the indices are
    /// drawn on the client (Efraimidis-Spirakis keys), `n` values in memory,
    /// as `p` already is. With `p`, each task carries the cumulative weights.
    ///
    /// # Errors
    /// `size > n` without replacement, an empty population, a `p` of the wrong
    /// length, negative or not summing to 1, fewer non-zero entries in `p` than
    /// `size` without replacement, or an invalid chunk spec.
    pub fn choice(
        n: usize,
        size: usize,
        replace: bool,
        p: Option<&[f64]>,
        seed: u64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        match plan(n, size, replace, p, seed)? {
            Plan::Lazy(node) => Self::random_node("choice", &[size], node, chunks.into()),
            Plan::Fixed(v) => DArray::from_ndarray(&ndarray::Array1::from(v), chunks),
        }
    }
}

impl<T: Element> DArray<T> {
    /// NumPy's `Generator.integers(low, high, shape)` (high exclusive) for an
    /// integer `T`: uniform and unbiased (Lemire's multiply-and-reject, with a
    /// rejected draw retried on the next counter of the same element).
    ///
    /// ```
    /// use darray::DArray;
    /// let a = DArray::<u8>::random_integers(1, &[100], 1, 7, [30]).unwrap().compute().unwrap();
    /// assert!(a.iter().all(|&x| (1..7).contains(&x)));
    /// ```
    ///
    /// # Errors
    /// A `T` that is not an integer type, `low >= high`, a range `T` does not
    /// hold, or an invalid chunk spec.
    pub fn random_integers(
        seed: u64,
        shape: &[usize],
        low: i64,
        high: i64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Self> {
        let Some((min, max)) = int_range(T::DTYPE) else {
            return Err(Error::InvalidArgument {
                array: "random_integers".into(),
                reason: format!("random integers need an integer dtype, not {}", T::DTYPE),
            });
        };
        if low >= high || i128::from(low) < min || i128::from(high) - 1 > max {
            return Err(Error::InvalidArgument {
                array: "random_integers".into(),
                reason: format!(
                    "need low < high with [low, high) inside {}, got [{low}, {high})",
                    T::DTYPE
                ),
            });
        }
        Self::random_node(
            "integers",
            shape,
            RandomNode::Integers { low, high, seed },
            chunks.into(),
        )
    }

    fn random_node(name: &str, shape: &[usize], node: RandomNode, spec: ChunkSpec) -> Result<Self> {
        let grid = resolve(name, &spec, shape, T::DTYPE.size())?;
        Ok(DArray::wrap(Expr::new(
            name,
            shape.to_vec(),
            grid,
            T::DTYPE,
            ExprKind::Custom(Arc::new(node)),
        )))
    }

    /// NumPy's `Generator.choice(a, size, replace, p)` of this 1-d array:
    /// `a.take(choice(len, size, replace, p, seed))`, the same indices as
    /// [`DArray::choice`] with that seed. The `size` indices are drawn on the
    /// client (8 bytes each, as dask does), and the gather reads, for each
    /// output block, the input blocks its elements come from.
    ///
    /// # Errors
    /// An array that is not 1-d, or as [`DArray::choice`].
    pub fn random_choice(
        &self,
        size: usize,
        replace: bool,
        p: Option<&[f64]>,
        seed: u64,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<DArray<T>> {
        if self.ndim() != 1 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: format!("choice needs a 1-d array, got shape {:?}", self.shape()),
            });
        }
        let n = self.expr.shape[0];
        let idx = match plan(n, size, replace, p, seed)? {
            Plan::Fixed(v) => v,
            Plan::Lazy(RandomNode::Weighted { cdf, seed }) => (0..size as u64)
                .map(|i| i64::try_from(weighted_index(&cdf, seed, i)).expect("index below n"))
                .collect(),
            Plan::Lazy(node) => {
                match run(&node.op(DType::I64, &[size], vec![0], vec![size]), &[])? {
                    Chunk::I64(a) => a.into_raw_vec_and_offset().0,
                    other => unreachable!("integer draws are i64, got {:?}", other.dtype()),
                }
            }
        };
        self.take(&idx, 0)?.rechunk(chunks)
    }

    /// NumPy's `Generator.permutation(a)`: this array with its rows (axis 0)
    /// in the order of [`DArray::permutation`] of the same seed (output row
    /// `i` is input row `permutation[i]`), other axes and chunks kept.
    ///
    /// Memory stays at about two blocks per task however the rows move: a
    /// two-pass scatter. Each input block along axis 0 gets its rows'
    /// destinations (one `i64` per row, computed by inverting the
    /// permutation); each (output block, input block) pair is a piece holding
    /// the rows going from one to the other, in output order; each output
    /// block merges its pieces, walking the permutation to know which piece
    /// gives the next row. Tasks grow with the square of the blocks along
    /// axis 0.
    ///
    /// # Errors
    /// A 0-d array.
    pub fn random_permutation(&self, seed: u64) -> Result<DArray<T>> {
        if self.ndim() == 0 {
            return Err(Error::InvalidArgument {
                array: self.expr.name.clone(),
                reason: "permutation needs at least one axis".into(),
            });
        }
        Ok(DArray::wrap(Expr::new(
            "permutation",
            self.expr.shape.clone(),
            self.expr.grid.clone(),
            T::DTYPE,
            ExprKind::Custom(Arc::new(PermuteNode {
                input: self.expr.clone(),
                seed,
            })),
        )))
    }
}
