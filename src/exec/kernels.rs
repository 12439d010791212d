//! The registry of user kernels (`map_blocks`), where they are executed: a kernel
//! is registered once by name in every process that runs tasks; the graph names
//! it, and `run` looks it up here.

use crate::error::{Error, Result};
use crate::graph::BlockInfo;
use darray_kernels::Chunk;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A registered kernel: type-erased blocks in, one block out.
pub type KernelFn = Arc<dyn Fn(&[&Chunk]) -> std::result::Result<Chunk, String> + Send + Sync>;

/// A kernel that also takes serialized parameters and where its block lies.
pub(crate) type FullKernelFn =
    Arc<dyn Fn(&[&Chunk], &[u8], &BlockInfo) -> std::result::Result<Chunk, String> + Send + Sync>;

#[derive(Clone)]
struct Entry {
    call: FullKernelFn,
    takes_params: bool,
    /// A closure registered by `map_blocks_local`: it exists in this process
    /// only, so a graph naming it must not go to a cluster.
    local_only: bool,
}

fn registry() -> &'static RwLock<HashMap<String, Entry>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(HashMap::new()))
}

fn insert_entry(name: &str, entry: Entry) -> Result<()> {
    let mut reg = registry().write();
    if reg.contains_key(name) {
        return Err(Error::KernelExists(name.to_string()));
    }
    reg.insert(name.to_string(), entry);
    Ok(())
}

/// Registers `f` under `name`.
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub(crate) fn insert(name: &str, f: KernelFn) -> Result<()> {
    insert_entry(
        name,
        Entry {
            call: Arc::new(move |inputs, _, _| f(inputs)),
            takes_params: false,
            local_only: false,
        },
    )
}

/// Registers `f`, which takes parameters and block information, under `name`.
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub(crate) fn insert_full(name: &str, f: FullKernelFn) -> Result<()> {
    insert_entry(
        name,
        Entry {
            call: f,
            takes_params: true,
            local_only: false,
        },
    )
}

/// Registers the closure `f` (which takes block information and empty
/// parameters) under a fresh name, marked as existing in this process only,
/// and returns the name. The entry lives as long as the process.
pub(crate) fn insert_local(f: FullKernelFn) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut reg = registry().write();
    loop {
        let name = format!("local-closure-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        if !reg.contains_key(&name) {
            reg.insert(
                name.clone(),
                Entry {
                    call: f,
                    takes_params: true,
                    local_only: true,
                },
            );
            return name;
        }
    }
}

/// The first task of `graph` that calls a closure registered by
/// `map_blocks_local`, as [`Error::LocalOnlyKernel`]: such a graph cannot run
/// in another process.
///
/// # Errors
/// That error, if there is such a task.
pub(crate) fn check_no_local_kernels(graph: &crate::graph::Graph) -> Result<()> {
    let reg = registry().read();
    for t in &graph.tasks {
        if let crate::graph::Op::MapBlocks { kernel, .. } = &t.op {
            if reg.get(kernel).is_some_and(|e| e.local_only) {
                return Err(Error::LocalOnlyKernel(kernel.clone()));
            }
        }
    }
    Ok(())
}

/// The kernel registered under `name`.
pub(crate) fn lookup(name: &str) -> Result<FullKernelFn> {
    Ok(entry(name)?.call)
}

/// Whether the kernel registered under `name` takes parameters.
pub(crate) fn takes_params(name: &str) -> Result<bool> {
    Ok(entry(name)?.takes_params)
}

fn entry(name: &str) -> Result<Entry> {
    registry()
        .read()
        .get(name)
        .cloned()
        .ok_or_else(|| Error::UnknownKernel(name.to_string()))
}
