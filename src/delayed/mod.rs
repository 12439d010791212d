//! Delayed graphs of ordinary Rust functions (dask.delayed for Rust).
//!
//! A function is registered once by name ([`register`], [`register_fallible`]);
//! [`call0`] .. [`call4`] build a lazy [`Delayed`] handle for a call on values
//! ([`val`]) or on other handles, checking the name and the argument and result
//! types against the registered signature when the call is built. Nothing runs
//! until [`Delayed::compute`] (or [`compute_all`]): the handles lower to one task
//! per call (`Op::Call`: the function's name and its inline arguments), shared
//! handles to one task, and any executor runs the graph, the local pool or a
//! cluster's workers, which know the same registry.
//!
//! [`delayed!`](crate::delayed!) writes a call as the call itself
//! (`delayed!(normalize(raw, &reference))`), typed by the Rust function, so a
//! wrong arity or argument type does not compile; [`compute_many`],
//! [`compute2`] and [`compute3`] compute handles of different types in one
//! graph. [`Futures`] runs calls in the background as they are submitted
//! (dask's futures: `submit`, `map`, `gather`, `as_completed`, `cancel`,
//! `wait`, `scatter`), on the local pool or a cluster's client.
//!
//! This module owns the handles and their lowering; the registry of functions
//! is [`registry`]'s, and running a call is `exec::run`'s. Arrays meet delayed
//! values through [`DArray::to_delayed`](crate::DArray::to_delayed) and
//! [`DArray::from_delayed`](crate::DArray::from_delayed) (in `arrays`).
//!
//! ```
//! use darray::delayed::{self, val};
//! fn square(x: f64) -> f64 { x * x }
//! fn add(a: f64, b: f64) -> f64 { a + b }
//! delayed::register("doc-mod-square", square).unwrap();
//! delayed::register("doc-mod-add", add).unwrap();
//! let a = delayed::call1::<_, f64>("doc-mod-square", val(&3.0)).unwrap();
//! let b = delayed::call2::<_, _, f64>("doc-mod-add", &a, &a).unwrap();
//! assert_eq!(b.num_tasks().unwrap(), 2); // `a` is one task, used twice
//! assert_eq!(b.compute().unwrap(), 18.0);
//! ```

mod arrays;
pub mod futures;
mod lower;
#[doc(hidden)]
pub mod macros;
mod many;
pub use crate::exec::functions as registry;

pub use futures::{
    AnyFuture, AsCompleted, AsCompletedStream, Awaiting, Future, FutureStatus, Futures, Held,
    IntoFutureArg, SubmitTuple,
};
pub use many::{
    compute2, compute2_with, compute3, compute3_with, compute_many, compute_many_with, Results,
};
pub use registry::{is_registered, register, register_fallible, Function};

use crate::error::{Error, Result};
use crate::exec::{default_executor, Executor};
use crate::expr::node::Expr;
use crate::graph::{ArrayId, Graph};
use darray_kernels::Chunk;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::type_name;
use std::marker::PhantomData;
use std::sync::Arc;

/// Projected memory of a call that states none: its output and working memory
/// are assumed small (a value of a few KiB), so calls count as small tasks.
pub const DEFAULT_CALL_BYTES: u64 = 4 << 10;

/// One node of a delayed graph: a call, or a value held in the graph (opaque;
/// reached through a [`Delayed`] handle).
#[derive(Debug)]
pub struct Node {
    pub(crate) id: ArrayId,
    pub(crate) kind: NodeKind,
    /// Stated bytes of the call's output and working memory.
    pub(crate) mem_bytes: u64,
}

#[derive(Debug)]
pub(crate) enum NodeKind {
    /// A registered function applied to arguments.
    Call {
        function: String,
        args: Vec<NodeArg>,
    },
    /// A value computed before (persisted) or given ([`value`]).
    Literal(Arc<Chunk>),
}

#[derive(Debug)]
pub(crate) enum NodeArg {
    /// Postcard bytes, carried in the task.
    Value(Vec<u8>),
    /// Another call's result.
    Handle(Arc<Node>),
    /// A block of an array (for the builtin that turns it into a value).
    Block { expr: Arc<Expr>, idx: Vec<u32> },
}

/// A lazy call of a registered function, whose result has type `T`: the
/// counterpart of a `dask.delayed` object. Cloning is cheap and keeps the same
/// call: a handle used several times is one task.
#[must_use = "Delayed is lazy: call compute()"]
pub struct Delayed<T> {
    pub(crate) node: Arc<Node>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed {
            node: self.node.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Delayed<{}>({})", type_name::<T>(), self.label())
    }
}

/// Any handle, its result type erased: for graphs of several handles
/// ([`graph`], [`to_dot`]).
pub trait AnyDelayed {
    /// The node behind the handle.
    #[doc(hidden)]
    fn node(&self) -> &Arc<Node>;
}

impl<T> AnyDelayed for Delayed<T> {
    fn node(&self) -> &Arc<Node> {
        &self.node
    }
}

/// An argument of a call: a handle (`&Delayed<A>` or `Delayed<A>`) or a value
/// ([`val`]).
pub trait IntoArg<A> {
    /// The argument as the graph holds it.
    #[doc(hidden)]
    fn into_arg(self) -> Result<Arg>;
}

/// An argument, as [`IntoArg`] makes it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Arg(pub(crate) NodeArg);

impl<A> IntoArg<A> for &Delayed<A> {
    fn into_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Handle(self.node.clone())))
    }
}

impl<A> IntoArg<A> for Delayed<A> {
    fn into_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Handle(self.node)))
    }
}

/// A plain value as an argument, serialized into the task that uses it.
#[derive(Debug)]
pub struct Val<A> {
    bytes: Result<Vec<u8>>,
    _a: PhantomData<fn() -> A>,
}

/// `x` as an argument of a call: serialized (postcard) into the calling task,
/// so it adds no task of its own. For a large value used by many calls, make it
/// one task with [`value`] instead.
pub fn val<A: Serialize>(x: &A) -> Val<A> {
    Val {
        bytes: registry::to_bytes(x),
        _a: PhantomData,
    }
}

impl<A> IntoArg<A> for Val<A> {
    fn into_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Value(self.bytes?)))
    }
}

/// `x` as a handle: a task holding the value (`dask.delayed(x)` on a value), so
/// calls that use it share one copy.
///
/// # Errors
/// [`Error::DelayedValue`] if `x` does not serialize.
pub fn value<T: Serialize>(x: &T) -> Result<Delayed<T>> {
    Ok(Delayed::from_node(Node {
        id: ArrayId::fresh(),
        kind: NodeKind::Literal(Arc::new(registry::encode_value(x)?)),
        mem_bytes: DEFAULT_CALL_BYTES,
    }))
}

fn check_call<R>(function: &str, got: Vec<&'static str>) -> Result<()> {
    let sig = registry::signature(function)?;
    let called = registry::Signature {
        args: got,
        output: type_name::<R>(),
    };
    if sig != called {
        return Err(Error::FunctionSignature {
            function: function.to_string(),
            registered: sig.to_string(),
            called: called.to_string(),
        });
    }
    Ok(())
}

fn make_call<R>(function: &str, args: Vec<Arg>) -> Delayed<R> {
    Delayed::from_node(Node {
        id: ArrayId::fresh(),
        kind: NodeKind::Call {
            function: function.to_string(),
            args: args.into_iter().map(|a| a.0).collect(),
        },
        mem_bytes: DEFAULT_CALL_BYTES,
    })
}

macro_rules! def_call {
    ($(#[$doc:meta])* $name:ident; $($a:ident $x:ident),*) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// [`Error::UnknownFunction`] for a name not registered in this process;
        /// [`Error::FunctionSignature`] if the argument or result types differ
        /// from the registered ones; [`Error::DelayedValue`] for a value that
        /// does not serialize.
        pub fn $name<$($a,)* R>(function: &str, $($x: impl IntoArg<$a>),*) -> Result<Delayed<R>> {
            check_call::<R>(function, vec![$(type_name::<$a>()),*])?;
            let args = vec![$($x.into_arg()?),*];
            Ok(make_call(function, args))
        }
    };
}

def_call!(
    /// A call of the registered function `function` without arguments.
    call0;
);
def_call!(
    /// A call of the registered function `function` on one argument (a handle
    /// or a [`val`]).
    call1; A a
);
def_call!(
    /// A call of the registered function `function` on two arguments. The
    /// types are those the function was registered with; write the result
    /// type (`call2::<_, _, R>`), the argument types are inferred.
    ///
    /// ```
    /// use darray::delayed::{self, val};
    /// fn scale(v: Vec<f64>, k: f64) -> Vec<f64> { v.iter().map(|x| x * k).collect() }
    /// delayed::register("doc-call2-scale", scale).unwrap();
    /// let v = delayed::value(&vec![1.0, 2.0]).unwrap();
    /// let w = delayed::call2::<_, _, Vec<f64>>("doc-call2-scale", &v, val(&3.0)).unwrap();
    /// assert_eq!(w.compute().unwrap(), vec![3.0, 6.0]);
    /// // Wrong types are refused when the call is built:
    /// assert!(delayed::call2::<_, _, f64>("doc-call2-scale", &v, val(&3.0)).is_err());
    /// ```
    call2; A a, B b
);
def_call!(
    /// A call of the registered function `function` on three arguments.
    call3; A a, B b, C c
);
def_call!(
    /// A call of the registered function `function` on four arguments.
    call4; A a, B b, C c, D d
);

impl<T> Delayed<T> {
    pub(crate) fn from_node(node: Node) -> Self {
        Delayed {
            node: Arc::new(node),
            _t: PhantomData,
        }
    }

    /// The same call, stating `bytes` of output and working memory (default
    /// [`DEFAULT_CALL_BYTES`]): the executor counts it against its budget and
    /// refuses a graph with a call over it. A new handle: uses of the old one
    /// stay a separate task.
    pub fn mem_bytes(self, bytes: u64) -> Self {
        let kind = match &self.node.kind {
            NodeKind::Call { function, args } => NodeKind::Call {
                function: function.clone(),
                args: args
                    .iter()
                    .map(|a| match a {
                        NodeArg::Value(b) => NodeArg::Value(b.clone()),
                        NodeArg::Handle(h) => NodeArg::Handle(h.clone()),
                        NodeArg::Block { expr, idx } => NodeArg::Block {
                            expr: expr.clone(),
                            idx: idx.clone(),
                        },
                    })
                    .collect(),
            },
            NodeKind::Literal(c) => NodeKind::Literal(c.clone()),
        };
        Delayed::from_node(Node {
            id: ArrayId::fresh(),
            kind,
            mem_bytes: bytes,
        })
    }

    /// The function this handle calls (`value` for a held value).
    #[must_use]
    pub fn label(&self) -> &str {
        self.node.label()
    }

    /// The task graph computing this handle.
    ///
    /// # Errors
    /// A graph over the task limit.
    pub fn graph(&self) -> Result<Graph> {
        graph(&[self])
    }

    /// Number of tasks in [`Delayed::graph`] (each distinct call once).
    ///
    /// # Errors
    /// As [`Delayed::graph`].
    pub fn num_tasks(&self) -> Result<usize> {
        Ok(self.graph()?.len())
    }

    /// The graph in Graphviz DOT (dask's `visualize`), nodes named by function.
    ///
    /// # Errors
    /// As [`Delayed::graph`].
    pub fn to_dot(&self) -> Result<String> {
        Ok(self.graph()?.to_dot())
    }
}

impl Node {
    pub(crate) fn label(&self) -> &str {
        match &self.kind {
            NodeKind::Call { function, .. } => function,
            NodeKind::Literal(_) => "value",
        }
    }
}

impl<T: DeserializeOwned> Delayed<T> {
    /// Computes the value on the default executor.
    ///
    /// # Errors
    /// A task over the memory budget; a failing function ([`Error::Task`] with
    /// the call's key around [`Error::FunctionFailed`]); a function not
    /// registered where the task runs.
    pub fn compute(&self) -> Result<T> {
        self.compute_with(default_executor())
    }

    /// Computes the value on `exec` (the local pool, a cluster's client).
    ///
    /// # Errors
    /// As [`Delayed::compute`].
    pub fn compute_with(&self, exec: &dyn Executor) -> Result<T> {
        let mut v = compute_all_with(std::slice::from_ref(self), exec)?;
        Ok(v.pop().expect("one result per handle"))
    }

    /// Computes the value and returns a handle holding it, so later graphs
    /// reuse it instead of calling again (dask's `persist`).
    ///
    /// # Errors
    /// As [`Delayed::compute`].
    pub fn persist_with(&self, exec: &dyn Executor) -> Result<Delayed<T>> {
        let mut v = persist_all_with(std::slice::from_ref(self), exec)?;
        Ok(v.pop().expect("one result per handle"))
    }

    /// [`Delayed::persist_with`] on the default executor.
    ///
    /// # Errors
    /// As [`Delayed::compute`].
    pub fn persist(&self) -> Result<Delayed<T>> {
        self.persist_with(default_executor())
    }
}

/// The task graph computing every handle in `handles`, each call once; its
/// outputs are the handles, in order. Calls are keyed and named by function
/// (`normalize-12()`).
///
/// # Errors
/// A graph over the task limit.
pub fn graph(handles: &[&dyn AnyDelayed]) -> Result<Graph> {
    graph_for(handles, default_executor().memory_budget())
}

pub(crate) fn graph_for(handles: &[&dyn AnyDelayed], budget: u64) -> Result<Graph> {
    let mut l = crate::ops::Lowerer::new(budget);
    let mut outputs = Vec::with_capacity(handles.len());
    for h in handles {
        outputs.push(lower::lower_node(&mut l, h.node())?);
    }
    l.graph.outputs = outputs;
    Ok(l.graph)
}

/// The graph of several handles in Graphviz DOT.
///
/// # Errors
/// As [`graph`].
pub fn to_dot(handles: &[&dyn AnyDelayed]) -> Result<String> {
    Ok(graph(handles)?.to_dot())
}

fn run_all<T>(handles: &[Delayed<T>], exec: &dyn Executor) -> Result<Vec<Arc<Chunk>>> {
    let refs: Vec<&dyn AnyDelayed> = handles.iter().map(|h| h as &dyn AnyDelayed).collect();
    let g = graph_for(&refs, exec.memory_budget())?;
    exec.execute(&g)
}

/// Computes several handles of one type in one graph (shared calls run once).
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute_all<T: DeserializeOwned>(handles: &[Delayed<T>]) -> Result<Vec<T>> {
    compute_all_with(handles, default_executor())
}

/// [`compute_all`] on `exec`.
///
/// # Errors
/// As [`Delayed::compute`].
pub fn compute_all_with<T: DeserializeOwned>(
    handles: &[Delayed<T>],
    exec: &dyn Executor,
) -> Result<Vec<T>> {
    run_all(handles, exec)?
        .iter()
        .zip(handles)
        .map(|(c, h)| registry::decode_value(c, &format!("the result of `{}`", h.label())))
        .collect()
}

/// Computes several handles in one graph and returns handles holding their
/// values (dask's `persist` of many).
///
/// # Errors
/// As [`Delayed::compute`].
pub fn persist_all_with<T: DeserializeOwned>(
    handles: &[Delayed<T>],
    exec: &dyn Executor,
) -> Result<Vec<Delayed<T>>> {
    Ok(run_all(handles, exec)?
        .into_iter()
        .map(|c| {
            Delayed::from_node(Node {
                id: ArrayId::fresh(),
                mem_bytes: c.nbytes() as u64,
                kind: NodeKind::Literal(c),
            })
        })
        .collect())
}
