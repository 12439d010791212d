//! The lowering IR: the lazy expression behind every `DArray` ([`node`]), the
//! chunk-grid arithmetic it is cut by ([`grid`]), and the selections that slicing
//! reads ([`select`]).
//!
//! This folder sits below the user API and above the task graph:
//! `array` (user API) -> `expr` / `ops` / `linalg` (build) -> `graph` (data) <-
//! `exec`, `distributed` (run). It imports only `graph` and `error`; the lowering
//! itself lives in `crate::ops`, which reads these types. Nodes that lower
//! themselves (the linear algebra) implement [`CustomLower`] against the
//! [`LowerCtx`] trait, so this folder never names the lowerer's concrete type.

pub mod grid;
pub(crate) mod node;
pub(crate) mod overlap;
pub(crate) mod rechunk_plan;
pub(crate) mod select;
pub(crate) mod take;

use crate::error::Result;
use crate::graph::{ChunkKey, Op, TaskId};
use node::Expr;
use std::sync::Arc;

/// What a self-lowering node may do while lowering: ask for other arrays' blocks,
/// memoize shared intermediates and append tasks. Implemented by `crate::ops`'s
/// lowerer.
pub(crate) trait LowerCtx {
    /// The task computing block `idx` of `e`.
    fn block(&mut self, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId>;
    /// The task memoized under `key`, if any.
    fn memoized(&self, key: &ChunkKey) -> Option<TaskId>;
    /// Memoizes `t` under `key`.
    fn memoize(&mut self, key: ChunkKey, t: TaskId);
    /// Appends a task whose memory is its inputs plus its output plus `scratch`.
    fn push_task(
        &mut self,
        key: ChunkKey,
        op: Op,
        inputs: Vec<TaskId>,
        out_bytes: u64,
        scratch: u64,
    ) -> TaskId;
    /// The output bytes of task `t`.
    fn out_bytes(&self, t: TaskId) -> u64;
    /// The memory budget (bytes) of the executor the graph is lowered for: a
    /// node that trades memory for work (TSQR's held or recomputed leaves)
    /// decides here, not when it was built.
    fn memory_budget(&self) -> u64;
    /// Names array (or call) `id` in the graph's messages, if not named yet.
    fn set_name(&mut self, id: crate::graph::ArrayId, name: &str);
    /// The block starts of `e`'s grid, computed once per array (not a prefix
    /// sum per block).
    fn grid_offsets(&mut self, e: &Expr) -> Arc<grid::GridOffsets>;
}

impl dyn LowerCtx + '_ {
    /// The task memoized under `key`, or the one `make` builds (then memoized).
    pub(crate) fn cached(
        &mut self,
        key: ChunkKey,
        make: impl FnOnce(&mut dyn LowerCtx) -> Result<TaskId>,
    ) -> Result<TaskId> {
        if let Some(t) = self.memoized(&key) {
            return Ok(t);
        }
        let t = make(self)?;
        self.memoize(key, t);
        Ok(t)
    }
}

/// An expression node that knows how to lower its own blocks (used by the linear
/// algebra, whose graphs are not blockwise). It may create any tasks through the
/// [`LowerCtx`], memoizing shared intermediates with `cached`.
pub(crate) trait CustomLower: std::fmt::Debug + Send + Sync {
    /// The task computing block `idx` of `e` (whose kind is this node).
    fn block(&self, l: &mut dyn LowerCtx, e: &Arc<Expr>, idx: &[u32]) -> Result<TaskId>;
}
