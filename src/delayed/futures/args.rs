//! The arguments of a submission: futures or serialized values, one tuple per
//! call.

use super::future::{Future, Handle};
#[cfg(doc)]
use super::Futures;
use crate::delayed::Val;
use crate::error::Result;
use std::any::type_name;
use std::sync::Arc;

/// A submission's argument: postcard bytes, or a future of the same runner.
#[doc(hidden)]
pub enum FutureArg {
    /// Bytes carried in the task.
    Value(Vec<u8>),
    /// Another future's result.
    Future(Arc<Handle>),
}

impl FutureArg {
    pub(crate) fn of_future<A>(f: &Future<A>) -> FutureArg {
        FutureArg::Future(f.handle.clone())
    }
}

/// One argument of [`Futures::submit`]: `&Future<A>`, `Future<A>` or a
/// [`val`](crate::delayed::val) of an `A`.
pub trait IntoFutureArg {
    /// The parameter type `A`.
    type Arg;
    /// The argument as the runner holds it.
    #[doc(hidden)]
    fn into_future_arg(self) -> Result<FutureArg>;
}

impl<A> IntoFutureArg for &Future<A> {
    type Arg = A;
    fn into_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::of_future(self))
    }
}

impl<A> IntoFutureArg for Future<A> {
    type Arg = A;
    fn into_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::of_future(&self))
    }
}

impl<A> IntoFutureArg for Val<A> {
    type Arg = A;
    fn into_future_arg(self) -> Result<FutureArg> {
        Ok(FutureArg::Value(self.bytes?))
    }
}

/// The arguments of [`Futures::submit`]: a tuple of up to four
/// [`IntoFutureArg`]s (`()` for none).
pub trait SubmitTuple {
    /// The parameter type names.
    #[doc(hidden)]
    fn types() -> Vec<&'static str>;
    /// The arguments.
    #[doc(hidden)]
    fn into_args(self) -> Result<Vec<FutureArg>>;
}

impl SubmitTuple for () {
    fn types() -> Vec<&'static str> {
        Vec::new()
    }
    fn into_args(self) -> Result<Vec<FutureArg>> {
        Ok(Vec::new())
    }
}

macro_rules! impl_submit_tuple {
    ($($x:ident $i:tt),*) => {
        impl<$($x: IntoFutureArg),*> SubmitTuple for ($($x,)*) {
            fn types() -> Vec<&'static str> {
                vec![$(type_name::<$x::Arg>()),*]
            }
            fn into_args(self) -> Result<Vec<FutureArg>> {
                Ok(vec![$(self.$i.into_future_arg()?),*])
            }
        }
    };
}

impl_submit_tuple!(X0 0);
impl_submit_tuple!(X0 0, X1 1);
impl_submit_tuple!(X0 0, X1 1, X2 2);
impl_submit_tuple!(X0 0, X1 1, X2 2, X3 3);
