//! [`AsCompleted`]: futures in the order they finish, as a blocking iterator
//! and as an async [`Stream`].

use super::Future;
#[cfg(doc)]
use super::Futures;
use futures_util::Stream;
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Ids of futures done, in the order they completed; filled by the runner.
#[derive(Default)]
pub(crate) struct Queue {
    inner: Mutex<QueueInner>,
    cv: Condvar,
}

#[derive(Default)]
struct QueueInner {
    done: VecDeque<u64>,
    waker: Option<Waker>,
}

impl Queue {
    /// Wakes `w` at the next push (replacing a waker set before).
    pub(super) fn set_waker(&self, w: &Waker) {
        self.inner.lock().waker = Some(w.clone());
    }

    pub(super) fn push(&self, id: u64) {
        let mut q = self.inner.lock();
        q.done.push_back(id);
        if let Some(w) = q.waker.take() {
            w.wake();
        }
        drop(q);
        self.cv.notify_all();
    }
}

/// The futures given to [`Futures::as_completed`] (and [`AsCompleted::add`]),
/// each yielded exactly once, as soon as it is done (finished, failed or
/// cancelled), in completion order: dask's `as_completed`. New futures may be
/// added while iterating, which is how a search submits work as results come
/// in. As an [`Iterator`] it blocks; [`AsCompleted::into_stream`] makes it an
/// async [`Stream`].
///
/// ```
/// use darray::delayed::{self, Futures};
/// fn sq(x: u64) -> u64 { x * x }
/// delayed::register("doc-ac-sq", sq).unwrap();
/// let futures = Futures::local(2)?;
/// let fs = futures.map::<u64, _>("doc-ac-sq", (0..5u64).map(|x| (delayed::val(&x),)))?;
/// let mut ac = futures.as_completed(fs);
/// let mut total = 0;
/// while let Some(f) = ac.next() {
///     let v = f.result()?;
///     total += v;
///     if v == 16 {
///         ac.add(darray::submit!(futures, "doc-ac-sq" => sq(10))?); // work found as it runs
///     }
/// }
/// assert_eq!(total, 0 + 1 + 4 + 9 + 16 + 100);
/// # Ok::<(), darray::Error>(())
/// ```
#[must_use = "AsCompleted yields futures as they finish: iterate it"]
pub struct AsCompleted<T> {
    queue: Arc<Queue>,
    pending: HashMap<u64, Future<T>>,
}

impl<T> std::fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<T> AsCompleted<T> {
    /// An empty set; [`Futures::as_completed`] makes one with futures in it.
    pub fn new() -> Self {
        AsCompleted {
            queue: Arc::new(Queue::default()),
            pending: HashMap::new(),
        }
    }

    /// Adds `f` (of any [`Futures`] runner): it is yielded once it is done (at
    /// once if it is already). A future added twice is yielded once.
    pub fn add(&mut self, f: Future<T>) {
        let id = f.handle.id;
        let shared = f.handle.shared.clone();
        if self.pending.insert(id, f).is_some() {
            return;
        }
        shared.watch(id, &self.queue);
    }

    /// Futures added and not yielded yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }

    fn take_done(&mut self, q: &mut QueueInner) -> Option<Future<T>> {
        while let Some(id) = q.done.pop_front() {
            if let Some(f) = self.pending.remove(&id) {
                return Some(f);
            }
        }
        None
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Future<T>;

    /// The next future done, blocking until one is; `None` once every future
    /// added has been yielded.
    fn next(&mut self) -> Option<Future<T>> {
        let queue = self.queue.clone();
        let mut q = queue.inner.lock();
        loop {
            if let Some(f) = self.take_done(&mut q) {
                return Some(f);
            }
            if self.pending.is_empty() {
                return None;
            }
            queue.cv.wait(&mut q);
        }
    }
}

/// [`AsCompleted`] as an async [`Stream`] ([`AsCompleted::into_stream`]):
/// polling it never blocks; the runner wakes the task when a future is done.
#[must_use = "a stream does nothing unless polled"]
#[derive(Debug)]
pub struct AsCompletedStream<T>(AsCompleted<T>);

impl<T> AsCompleted<T> {
    /// The same futures as an async [`Stream`] (yielding each once, in
    /// completion order).
    pub fn into_stream(self) -> AsCompletedStream<T> {
        AsCompletedStream(self)
    }
}

impl<T> AsCompletedStream<T> {
    /// Adds `f` ([`AsCompleted::add`]).
    pub fn add(&mut self, f: Future<T>) {
        self.0.add(f);
    }
}

impl<T> Stream for AsCompletedStream<T> {
    type Item = Future<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Future<T>>> {
        let this = &mut self.get_mut().0;
        let queue = this.queue.clone();
        let mut q = queue.inner.lock();
        if let Some(f) = this.take_done(&mut q) {
            return Poll::Ready(Some(f));
        }
        if this.pending.is_empty() {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Default for AsCompleted<T> {
    fn default() -> Self {
        AsCompleted::new()
    }
}
