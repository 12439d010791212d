//! Calls typed by the function item itself: [`delayed!`](crate::delayed!) and
//! [`submit!`](crate::submit!).
//!
//! `delayed!(normalize(raw, &reference))` names the registered function
//! `normalize` and passes the Rust function item along, so its argument types
//! are known where the call is written: each argument (a handle, a future, a
//! [`val`](super::val) or a plain serde value) is checked against its
//! parameter's type by the compiler, and a wrong arity does not compile. The
//! registry is still asked when the call is built, so a function registered
//! under that name with other types is an [`Error::FunctionSignature`].
//!
//! A fallible function (`fn(..) -> Result<T, E>`, registered with
//! [`register_fallible`](super::register_fallible)) gives a `Delayed<T>`: the
//! macro picks the `Ok` type through method resolution (an impl for
//! `&Tag<Result<T, E>>` is found before the one for any `Tag<O>`).
//!
//! [`Error::FunctionSignature`]: crate::Error::FunctionSignature

use super::futures::{FutureArg, Futures};
use super::{check_call, make_call, registry, Arg, Delayed, NodeArg, Val};
use crate::error::Result;
use registry::Function;
use serde::Serialize;
use std::marker::PhantomData;

/// An argument of a [`delayed!`](crate::delayed!) call whose parameter has type
/// `A`: `&Delayed<A>`, `Delayed<A>`, [`Val<A>`](super::Val), `&A` or `A`.
pub trait AsArg<A> {
    /// The argument as the graph holds it.
    #[doc(hidden)]
    fn to_call_arg(self) -> Result<Arg>;
}

impl<A> AsArg<A> for &Delayed<A> {
    fn to_call_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Handle(self.node.clone())))
    }
}

impl<A> AsArg<A> for Delayed<A> {
    fn to_call_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Handle(self.node)))
    }
}

impl<A> AsArg<A> for Val<A> {
    fn to_call_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Value(self.bytes?)))
    }
}

impl<A: Serialize> AsArg<A> for &A {
    fn to_call_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Value(registry::to_bytes(self)?)))
    }
}

impl<A: Serialize> AsArg<A> for A {
    fn to_call_arg(self) -> Result<Arg> {
        Ok(Arg(NodeArg::Value(registry::to_bytes(&self)?)))
    }
}

/// An argument of a [`submit!`](crate::submit!) call whose parameter has type
/// `A`: `&Future<A>`, `Future<A>`, [`Val<A>`](super::Val), `&A` or `A`.
pub trait AsFutureArg<A> {
    /// The argument as the runner holds it.
    #[doc(hidden)]
    fn to_future_arg(self) -> Result<FutureArg>;
}

impl<A> AsFutureArg<A> for &super::Future<A> {
    fn to_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::of_future(self))
    }
}

impl<A> AsFutureArg<A> for super::Future<A> {
    fn to_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::of_future(&self))
    }
}

impl<A> AsFutureArg<A> for Val<A> {
    fn to_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::Value(self.bytes?))
    }
}

impl<A: Serialize> AsFutureArg<A> for &A {
    fn to_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::Value(registry::to_bytes(self)?))
    }
}

impl<A: Serialize> AsFutureArg<A> for A {
    fn to_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::Value(registry::to_bytes(&self)?))
    }
}

/// The tuple of a [`delayed!`](crate::delayed!) call's arguments, checked
/// against the function's parameter tuple `Args` (so the arity and each type
/// are the compiler's).
pub trait CallArgs<Args> {
    /// The arguments of a delayed call.
    #[doc(hidden)]
    fn into_call_args(self) -> Result<Vec<Arg>>;
}

/// The tuple of a [`submit!`](crate::submit!) call's arguments, checked
/// against the function's parameter tuple `Args`.
pub trait SubmitArgs<Args> {
    /// The arguments of a submitted future.
    #[doc(hidden)]
    fn into_future_args(self) -> Result<Vec<FutureArg>>;
}

impl CallArgs<()> for () {
    fn into_call_args(self) -> Result<Vec<Arg>> {
        Ok(Vec::new())
    }
}

impl SubmitArgs<()> for () {
    fn into_future_args(self) -> Result<Vec<FutureArg>> {
        Ok(Vec::new())
    }
}

macro_rules! impl_call_args {
    ($($a:ident $x:ident $i:tt),*) => {
        impl<$($a, $x: AsArg<$a>),*> CallArgs<($($a,)*)> for ($($x,)*) {
            fn into_call_args(self) -> Result<Vec<Arg>> {
                Ok(vec![$(AsArg::<$a>::to_call_arg(self.$i)?),*])
            }
        }
        impl<$($a, $x: AsFutureArg<$a>),*> SubmitArgs<($($a,)*)> for ($($x,)*) {
            fn into_future_args(self) -> Result<Vec<FutureArg>> {
                Ok(vec![$(AsFutureArg::<$a>::to_future_arg(self.$i)?),*])
            }
        }
    };
}

impl_call_args!(A0 X0 0);
impl_call_args!(A0 X0 0, A1 X1 1);
impl_call_args!(A0 X0 0, A1 X1 1, A2 X2 2);
impl_call_args!(A0 X0 0, A1 X1 1, A2 X2 2, A3 X3 3);

/// The return type `O` of a function, as a value the macros resolve methods on.
#[doc(hidden)]
pub struct Tag<O>(PhantomData<fn() -> O>);

/// The tag of `f`'s return type.
#[doc(hidden)]
pub fn tag_of<Args, F: Function<Args>>(_f: &F) -> Tag<F::Output> {
    Tag(PhantomData)
}

/// The result type `T` of a call: the function's return type, or its `Ok`
/// type for a fallible one.
#[doc(hidden)]
pub struct Out<T>(PhantomData<fn() -> T>);

/// Picked first for a function returning `Result<T, E>`: calls give `T`.
#[doc(hidden)]
pub trait FallibleTag {
    /// The `Ok` type.
    type T;
    /// The result type of a call.
    fn out(&self) -> Out<Self::T>;
}

impl<T, E> FallibleTag for &Tag<std::result::Result<T, E>> {
    type T = T;
    fn out(&self) -> Out<T> {
        Out(PhantomData)
    }
}

/// Picked for any other return type `O`: calls give `O`.
#[doc(hidden)]
pub trait PlainTag {
    /// The return type.
    type T;
    /// The result type of a call.
    fn out(&self) -> Out<Self::T>;
}

impl<O> PlainTag for Tag<O> {
    type T = O;
    fn out(&self) -> Out<O> {
        Out(PhantomData)
    }
}

impl<T> Out<T> {
    /// The delayed call of `name` (typed by `f`) on `args`.
    ///
    /// # Errors
    /// As [`call1`](super::call1).
    #[doc(hidden)]
    pub fn delayed<Args, F, X>(self, name: &str, _f: &F, args: X) -> Result<Delayed<T>>
    where
        F: Function<Args>,
        X: CallArgs<Args>,
    {
        check_call::<T>(name, F::arg_types())?;
        Ok(make_call(name, args.into_call_args()?))
    }

    /// The submitted call of `name` (typed by `f`) on `args`.
    ///
    /// # Errors
    /// As [`Futures::submit`].
    #[doc(hidden)]
    pub fn submit<Args, F, X>(
        self,
        futures: &Futures,
        name: &str,
        _f: &F,
        args: X,
    ) -> Result<super::Future<T>>
    where
        F: Function<Args>,
        X: SubmitArgs<Args>,
    {
        futures.submit_checked::<T>(name, F::arg_types(), args.into_future_args()?)
    }
}

/// The function's name in a path written in a macro (`a::b::f` gives `f`).
#[doc(hidden)]
#[must_use]
pub fn fn_name(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path).trim()
}

/// A delayed call of a registered function, written as the call itself:
/// `delayed!(f(a, b))` calls the function registered as `"f"`, typed by the
/// Rust function `f`; `delayed!("name" => f(a, b))` calls the one registered
/// as `"name"`. Each argument is a handle (`&Delayed<A>` or `Delayed<A>`), a
/// plain value (`&A` or `A`, serialized into the task) or a [`val`](crate::delayed::val).
/// A wrong arity or argument type does not compile; the result is a
/// `Result<Delayed<T>>` where `T` is `f`'s return type (its `Ok` type for a
/// function returning `Result`).
///
/// ```
/// use darray::delayed;
/// fn load(seed: u64) -> Vec<f64> { (0..4).map(|i| (seed + i) as f64).collect() }
/// fn normalize(raw: Vec<f64>, reference: Vec<f64>) -> Vec<f64> {
///     raw.iter().zip(&reference).map(|(r, m)| r - m).collect()
/// }
/// fn total(v: Vec<f64>) -> Result<f64, String> {
///     if v.is_empty() { Err("empty".into()) } else { Ok(v.iter().sum()) }
/// }
/// delayed::register("load", load).unwrap();
/// delayed::register("normalize", normalize).unwrap();
/// delayed::register_fallible("doc-total", total).unwrap();
///
/// let reference = vec![1.0; 4];
/// let raw = darray::delayed!(load(10))?;
/// let clean = darray::delayed!(normalize(raw, &reference))?;
/// let t = darray::delayed!("doc-total" => total(&clean))?; // a Delayed<f64>
/// assert_eq!(t.compute()?, 9.0 + 10.0 + 11.0 + 12.0);
/// # Ok::<(), darray::Error>(())
/// ```
///
/// A wrong arity or argument type is a compile error, not a runtime one:
///
/// ```compile_fail
/// fn scale(v: Vec<f64>, k: f64) -> Vec<f64> { v.iter().map(|x| x * k).collect() }
/// let v = darray::delayed::value(&vec![1.0]).unwrap();
/// let w = darray::delayed!(scale(&v)); // missing `k`
/// ```
///
/// ```compile_fail
/// fn scale(v: Vec<f64>, k: f64) -> Vec<f64> { v.iter().map(|x| x * k).collect() }
/// let n = darray::delayed::value(&3u64).unwrap();
/// let w = darray::delayed!(scale(&n, 2.0)); // a Delayed<u64> where Vec<f64> is taken
/// ```
///
/// # Errors
/// The expression is a `Result`: [`Error::UnknownFunction`](crate::Error::UnknownFunction)
/// for a name not registered, [`Error::FunctionSignature`](crate::Error::FunctionSignature)
/// if it is registered with other types, [`Error::DelayedValue`](crate::Error::DelayedValue)
/// for a value that does not serialize.
#[macro_export]
macro_rules! delayed {
    ($($f:ident)::+ ( $($arg:expr),* $(,)? )) => {
        $crate::delayed!(
            $crate::delayed::macros::fn_name(stringify!($($f)::+)) => $($f)::+ ($($arg),*)
        )
    };
    ($name:expr => $($f:ident)::+ ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_imports)]
        use $crate::delayed::macros::{FallibleTag as _, PlainTag as _};
        let f = &$($f)::+;
        (&&$crate::delayed::macros::tag_of(f)).out().delayed($name, f, ($($arg,)*))
    }};
}

/// A submitted call of a registered function on a [`Futures`] runner, written
/// as the call itself: `submit!(futures, f(a, b))` (or
/// `submit!(futures, "name" => f(a, b))`). Arguments are futures
/// (`&Future<A>` or `Future<A>`), plain values (`&A` or `A`) or
/// [`val`](crate::delayed::val)s, checked by the compiler against `f`'s
/// parameters, as in [`delayed!`](crate::delayed!). The result is a
/// `Result<Future<T>>`.
///
/// ```
/// use darray::delayed::{self, Futures};
/// fn inc(x: u64) -> u64 { x + 1 }
/// delayed::register("inc", inc).unwrap();
/// let futures = Futures::local(2)?;
/// let a = darray::submit!(futures, inc(1))?;
/// let b = darray::submit!(futures, inc(&a))?; // depends on `a`
/// assert_eq!(b.result()?, 3);
/// # Ok::<(), darray::Error>(())
/// ```
///
/// # Errors
/// As [`delayed!`](crate::delayed!), and [`Futures::submit`]'s.
#[macro_export]
macro_rules! submit {
    ($futures:expr, $($f:ident)::+ ( $($arg:expr),* $(,)? )) => {
        $crate::submit!(
            $futures,
            $crate::delayed::macros::fn_name(stringify!($($f)::+)) => $($f)::+ ($($arg),*)
        )
    };
    ($futures:expr, $name:expr => $($f:ident)::+ ( $($arg:expr),* $(,)? )) => {{
        #[allow(unused_imports)]
        use $crate::delayed::macros::{FallibleTag as _, PlainTag as _};
        let f = &$($f)::+;
        (&&$crate::delayed::macros::tag_of(f)).out().submit(&$futures, $name, f, ($($arg,)*))
    }};
}
