//! The registry of user kernels (`map_blocks`), where they are executed: a kernel
//! is registered once by name in every process that runs tasks; the graph names
//! it, and `run` looks it up here.

use crate::error::{Error, Result};
use darray_kernels::Chunk;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A registered kernel: type-erased blocks in, one block out.
pub type KernelFn = Arc<dyn Fn(&[&Chunk]) -> std::result::Result<Chunk, String> + Send + Sync>;

fn registry() -> &'static RwLock<HashMap<String, KernelFn>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, KernelFn>>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Registers `f` under `name`.
///
/// # Errors
/// [`Error::KernelExists`] if the name is taken.
pub(crate) fn insert(name: &str, f: KernelFn) -> Result<()> {
    let mut reg = registry().write();
    if reg.contains_key(name) {
        return Err(Error::KernelExists(name.to_string()));
    }
    reg.insert(name.to_string(), f);
    Ok(())
}

/// The kernel registered under `name`.
pub(crate) fn lookup(name: &str) -> Result<KernelFn> {
    registry()
        .read()
        .get(name)
        .cloned()
        .ok_or_else(|| Error::UnknownKernel(name.to_string()))
}
