//! The task graph: plain-data tasks ([`Task`]) in an arena ([`Graph`]), referring
//! to their inputs by [`TaskId`]. Built by lowering (`crate::ops`), run by an
//! executor (`crate::exec`); printable ([`Graph::describe`], [`Graph::to_dot`]) and
//! serializable with postcard, so the same graph can go to a remote worker.

mod dot;
mod key;
mod op;

pub use darray_kernels::elementwise::{InputView, Part, Window};
pub use key::{stage, ArrayId, ChunkKey};
pub(crate) use op::viewed;
pub use op::{AxisTake, BlockInfo, CallArg, KernelCall, Op, Piece};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Index of a task in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId(pub u32);

/// One task: what to compute, from which inputs, under which key, and how much
/// memory it projects to need while it runs (inputs, output and temporaries).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The name of the output.
    pub key: ChunkKey,
    /// What to compute.
    pub op: Op,
    /// Inputs, in the order the op expects them.
    pub inputs: Vec<TaskId>,
    /// Projected peak bytes while running.
    pub mem_bytes: u64,
    /// Projected bytes of the output.
    pub out_bytes: u64,
}

/// A task graph: tasks in an order where every input precedes its users, and the
/// outputs asked for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The tasks; a task's inputs have smaller ids.
    pub tasks: Vec<Task>,
    /// The tasks whose results are wanted, in the caller's order.
    pub outputs: Vec<TaskId>,
    /// Array names, for messages.
    pub names: BTreeMap<u64, String>,
}

impl Graph {
    /// Number of tasks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True if there are no tasks.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The task with id `id`.
    #[must_use]
    pub fn task(&self, id: TaskId) -> &Task {
        &self.tasks[id.0 as usize]
    }

    /// Appends a task; its inputs must already be in the graph.
    pub(crate) fn push(&mut self, task: Task) -> TaskId {
        debug_assert!(task
            .inputs
            .iter()
            .all(|i| (i.0 as usize) < self.tasks.len()));
        let id = TaskId(u32::try_from(self.tasks.len()).expect("fewer than 2^32 tasks"));
        self.tasks.push(task);
        id
    }

    /// A key with its array's name, for messages: `sin-3(0,1)`, `sum-7.s2(0)`.
    #[must_use]
    pub fn key_name(&self, key: &ChunkKey) -> String {
        named_key(&self.names, key)
    }

    /// Number of tasks per op name, sorted by name.
    #[must_use]
    pub fn op_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for t in &self.tasks {
            *counts.entry(t.op.name()).or_insert(0) += 1;
        }
        counts
    }

    /// One line per task: `id key op <- inputs`, for tests and debugging.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let _ = write!(s, "{i} {} {}", self.key_name(&t.key), t.op.name());
            if !t.inputs.is_empty() {
                s.push_str(" <-");
                for inp in &t.inputs {
                    let _ = write!(s, " {}", inp.0);
                }
            }
            s.push('\n');
        }
        s
    }

    /// The largest projected task memory, with its task.
    #[must_use]
    pub fn max_task_mem(&self) -> Option<(TaskId, u64)> {
        self.tasks
            .iter()
            .enumerate()
            .max_by_key(|(_, t)| t.mem_bytes)
            .map(|(i, t)| {
                (
                    TaskId(u32::try_from(i).expect("fewer than 2^32 tasks")),
                    t.mem_bytes,
                )
            })
    }

    /// Serializes with postcard (the wire format of the distributed executor).
    ///
    /// # Errors
    /// If serialization fails (it does not for graphs built by darray).
    pub fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    /// Deserializes a graph written by [`Graph::to_bytes`], rejecting trailing bytes.
    ///
    /// # Errors
    /// On malformed or trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Graph, postcard::Error> {
        let (g, rest) = postcard::take_from_bytes::<Graph>(bytes)?;
        if rest.is_empty() {
            Ok(g)
        } else {
            Err(postcard::Error::DeserializeBadEncoding)
        }
    }
}

/// `key` with its array's name from `names` (`{name}-{id}(block)`; `array` for an
/// unnamed one): what errors and progress show. Shared by [`Graph::key_name`] and
/// the scheduler, which keeps a job's names without its graph.
pub(crate) fn named_key(names: &BTreeMap<u64, String>, key: &ChunkKey) -> String {
    let name = names.get(&key.array.0).map_or("array", String::as_str);
    let full = key.to_string();
    // `full` starts with `a{id}`; replace that prefix by `{name}-{id}`.
    let rest = full.trim_start_matches(|c: char| c == 'a' || c.is_ascii_digit());
    format!("{name}-{}{rest}", key.array.0)
}

/// Tasks projected to need at most this many bytes are small: an executor may
/// queue more of them than it has threads (the local pool, a worker's slots) and
/// a worker runs them inline rather than on its thread pool.
pub const SMALL_TASK_BYTES: u64 = 64 << 10;
