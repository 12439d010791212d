//! Computing handles of different result types in one graph: shared calls run
//! once however many handles reach them.

use super::{graph_for, registry, AnyDelayed, Delayed};
use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use darray_kernels::Chunk;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The values of [`compute_many`]'s handles, still encoded; each is decoded
/// as the type asked for ([`Results::get`]).
#[derive(Debug)]
pub struct Results {
    chunks: Vec<Arc<Chunk>>,
    labels: Vec<String>,
}

impl Results {
    /// The value of handle `i` as a `T` (the handle's result type).
    ///
    /// # Errors
    /// [`Error::DelayedValue`] for `i` past the handles, or a value that does
    /// not decode as `T`.
    pub fn get<T: DeserializeOwned>(&self, i: usize) -> Result<T> {
        let c = self.chunks.get(i).ok_or_else(|| Error::DelayedValue {
            what: format!("handle {i} of the results"),
            reason: format!("only {} handles were computed", self.chunks.len()),
        })?;
        registry::decode_value(
            c,
            &format!("the result of `{}` (handle {i})", self.labels[i]),
        )
    }

    /// Number of handles computed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether no handle was computed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// Computes handles of any result types in one graph on the default executor
/// (dask's `dask.compute(a, b, c)`): a call reached from several handles runs
/// once. Read each value with [`Results::get`].
///
/// ```
/// use darray::delayed::{self, val};
/// fn len(v: Vec<f64>) -> u64 { v.len() as u64 }
/// fn sum(v: Vec<f64>) -> f64 { v.iter().sum() }
/// delayed::register("doc-many-len", len).unwrap();
/// delayed::register("doc-many-sum", sum).unwrap();
/// let v = delayed::value(&vec![1.0, 2.5])?;
/// let n = darray::delayed!("doc-many-len" => len(&v))?;
/// let s = darray::delayed!("doc-many-sum" => sum(&v))?;
/// let r = delayed::compute_many(&[&n, &s])?;
/// assert_eq!((r.get::<u64>(0)?, r.get::<f64>(1)?), (2, 3.5));
/// assert_eq!(delayed::compute2(&n, &s)?, (2, 3.5));
/// # Ok::<(), darray::Error>(())
/// ```
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute_many(handles: &[&dyn AnyDelayed]) -> Result<Results> {
    compute_many_with(handles, default_executor())
}

/// [`compute_many`] on `exec`.
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute_many_with(handles: &[&dyn AnyDelayed], exec: &dyn Executor) -> Result<Results> {
    let g = graph_for(handles, exec.memory_budget())?;
    let chunks = exec.execute(&g)?;
    let labels = handles
        .iter()
        .map(|h| h.node().label().to_string())
        .collect();
    Ok(Results { chunks, labels })
}

/// Two handles of different types computed in one graph, on the default
/// executor.
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute2<A: DeserializeOwned, B: DeserializeOwned>(
    a: &Delayed<A>,
    b: &Delayed<B>,
) -> Result<(A, B)> {
    compute2_with(a, b, default_executor())
}

/// [`compute2`] on `exec`.
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute2_with<A: DeserializeOwned, B: DeserializeOwned>(
    a: &Delayed<A>,
    b: &Delayed<B>,
    exec: &dyn Executor,
) -> Result<(A, B)> {
    let r = compute_many_with(&[a, b], exec)?;
    Ok((r.get(0)?, r.get(1)?))
}

/// Three handles of different types computed in one graph, on the default
/// executor.
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute3<A: DeserializeOwned, B: DeserializeOwned, C: DeserializeOwned>(
    a: &Delayed<A>,
    b: &Delayed<B>,
    c: &Delayed<C>,
) -> Result<(A, B, C)> {
    compute3_with(a, b, c, default_executor())
}

/// [`compute3`] on `exec`.
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute3_with<A: DeserializeOwned, B: DeserializeOwned, C: DeserializeOwned>(
    a: &Delayed<A>,
    b: &Delayed<B>,
    c: &Delayed<C>,
    exec: &dyn Executor,
) -> Result<(A, B, C)> {
    let r = compute_many_with(&[a, b, c], exec)?;
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}
