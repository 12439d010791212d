//! [`Future`]: a handle of one submitted call, and what its last drop
//! releases.

use super::as_completed::Queue;
use super::state::{Failure, Status};
#[cfg(doc)]
use super::Futures;
use super::{status_in, FutureStatus, Shared};
use crate::delayed::registry;
use crate::error::{Error, Result};
use darray_kernels::Chunk;
use serde::de::DeserializeOwned;
use std::any::type_name;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One future's identity; the last clone dropped releases it in the runner.
#[doc(hidden)]
pub struct Handle {
    pub(super) id: u64,
    pub(super) key: String,
    pub(super) function: String,
    pub(super) shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.state.lock().drop_handle(self.id);
    }
}

impl Handle {
    pub(super) fn cancel(&self) {
        let f = Failure::Cancelled {
            key: self.key.clone(),
            function: self.function.clone(),
            reason: "cancelled".into(),
        };
        self.shared.state.lock().fail(self.id, Arc::new(f));
        self.shared.done.notify_all();
    }
}

impl Shared {
    /// Tells `queue` when `id` is done (now, if it is).
    pub(super) fn watch(&self, id: u64, queue: &Arc<Queue>) {
        let mut st = self.state.lock();
        let e = st
            .entries
            .get_mut(&id)
            .expect("a future with a live handle has an entry");
        if e.status.is_done() {
            queue.push(id);
        } else {
            e.watchers.push(queue.clone());
        }
    }
}

/// The result of a submitted call, of type `T`, computed in the background:
/// dask's `Future`. Clones share the result; when the last clone is dropped
/// (and no pending submission takes it), the result is released.
#[must_use = "a Future's result is released when its last handle is dropped"]
pub struct Future<T> {
    pub(super) handle: Arc<Handle>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            handle: self.handle.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Future<{}>({})", type_name::<T>(), self.handle.key)
    }
}

impl<T> Future<T> {
    pub(super) fn new(shared: &Arc<Shared>, id: u64, key: String, function: String) -> Self {
        Future {
            handle: Arc::new(Handle {
                id,
                key,
                function,
                shared: shared.clone(),
            }),
            _t: PhantomData,
        }
    }

    /// The task's key (`function-id()`), as errors name it.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.handle.key
    }

    /// The function called (`scatter` for a scattered value).
    #[must_use]
    pub fn function(&self) -> &str {
        &self.handle.function
    }

    /// Where the future is now.
    #[must_use]
    pub fn status(&self) -> FutureStatus {
        let st = self.handle.shared.state.lock();
        match status_in(&st, &self.handle) {
            Status::Waiting | Status::Ready => FutureStatus::Pending,
            Status::Running => FutureStatus::Running,
            Status::Finished(_) => FutureStatus::Finished,
            Status::Failed(f) => match **f {
                Failure::Error { .. } => FutureStatus::Error,
                Failure::Cancelled { .. } => FutureStatus::Cancelled,
            },
        }
    }

    /// Whether it is done (finished, failed or cancelled).
    #[must_use]
    pub fn done(&self) -> bool {
        let st = self.handle.shared.state.lock();
        status_in(&st, &self.handle).is_done()
    }

    /// Cancels this future ([`Futures::cancel`]).
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// The result's encoded chunk, waiting until `deadline` (forever if none).
    fn chunk(&self, deadline: Option<Instant>) -> Result<Option<Arc<Chunk>>> {
        let shared = &self.handle.shared;
        let mut st = shared.state.lock();
        loop {
            match status_in(&st, &self.handle) {
                Status::Finished(c) => return Ok(Some(c.clone())),
                Status::Failed(f) => return Err(f.to_error()),
                Status::Waiting | Status::Ready | Status::Running => {}
            }
            match deadline {
                None => shared.done.wait(&mut st),
                Some(d) => {
                    if shared.done.wait_until(&mut st, d).timed_out()
                        && !status_in(&st, &self.handle).is_done()
                    {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

impl<T: DeserializeOwned> Future<T> {
    /// The value, waiting for it (dask's `future.result()`). The result stays
    /// held for other readers until the future is dropped.
    ///
    /// # Errors
    /// The function's failure ([`Error::Task`] with the failing key around
    /// [`Error::FunctionFailed`] with its name and message; for a dependant of
    /// a failed future, the failing argument's), or [`Error::Cancelled`].
    pub fn result(&self) -> Result<T> {
        let c = self.chunk(None)?.expect("no deadline: waits until done");
        self.decode(&c)
    }

    /// [`Future::result`], waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`Future::result`]; [`Error::WaitTimeout`] if not done in time.
    pub fn result_timeout(&self, timeout: Duration) -> Result<T> {
        match self.chunk(Some(Instant::now() + timeout))? {
            Some(c) => self.decode(&c),
            None => Err(Error::WaitTimeout {
                pending: 1,
                first: self.handle.key.clone(),
                timeout,
            }),
        }
    }

    fn decode(&self, c: &Chunk) -> Result<T> {
        registry::decode_value(c, &format!("the result of {}", self.handle.key))
    }
}

/// A [`Future`]'s result awaited in async code: `future.await` (or
/// `(&future).await`, keeping the handle) gives what [`Future::result`] gives,
/// without blocking a thread: the runner wakes the task when the call is done.
///
/// ```
/// use darray::delayed::{self, Futures};
/// fn add(a: i64, b: i64) -> i64 { a + b }
/// delayed::register("doc-await-add", add).unwrap();
/// let futures = Futures::local(2)?;
/// let x = darray::submit!(futures, "doc-await-add" => add(1, 2))?;
/// let y = darray::submit!(futures, "doc-await-add" => add(&x, 10))?;
/// let (a, b) = futures_executor::block_on(async { ((&x).await, y.await) });
/// assert_eq!((a?, b?), (3, 13));
/// # Ok::<(), darray::Error>(())
/// ```
#[must_use = "an awaited result does nothing unless polled"]
pub struct Awaiting<T> {
    future: Future<T>,
    /// Told by the runner when the call is done (set at the first poll).
    queue: Option<Arc<Queue>>,
}

impl<T> std::fmt::Debug for Awaiting<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Awaiting({:?})", self.future)
    }
}

impl<T: DeserializeOwned> std::future::Future for Awaiting<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        let handle = &this.future.handle;
        let queue = this.queue.get_or_insert_with(|| {
            let q = Arc::new(Queue::default());
            handle.shared.watch(handle.id, &q);
            q
        });
        // The waker is set before the status is read: a call done in between
        // is seen here, one done after wakes the task.
        queue.set_waker(cx.waker());
        if this.future.done() {
            Poll::Ready(this.future.result())
        } else {
            Poll::Pending
        }
    }
}

impl<T: DeserializeOwned> std::future::IntoFuture for Future<T> {
    type Output = Result<T>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        Awaiting {
            future: self,
            queue: None,
        }
    }
}

impl<T: DeserializeOwned> std::future::IntoFuture for &Future<T> {
    type Output = Result<T>;
    type IntoFuture = Awaiting<T>;

    fn into_future(self) -> Awaiting<T> {
        self.clone().into_future()
    }
}

/// Any future, its result type erased: for [`Futures::wait`] and
/// [`Futures::cancel`] over futures of several types.
pub trait AnyFuture {
    /// The future's handle.
    #[doc(hidden)]
    fn handle(&self) -> &Handle;
}

impl<T> AnyFuture for Future<T> {
    fn handle(&self) -> &Handle {
        &self.handle
    }
}
