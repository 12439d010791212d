//! The registry of user scan operators, where scans run: an operator is
//! registered once by name in every process that runs tasks (as `map_blocks`
//! kernels are, see `super::kernels`); the graph names it and `run` looks it up.

use crate::error::{Error, Result};
use darray_kernels::scan::ScanOperator;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

type Registry = RwLock<HashMap<String, Arc<dyn ScanOperator>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Registers `op` under `name`.
///
/// # Errors
/// [`Error::ScanOperatorExists`] if the name is taken.
pub(crate) fn insert(name: &str, op: Arc<dyn ScanOperator>) -> Result<()> {
    let mut reg = registry().write();
    if reg.contains_key(name) {
        return Err(Error::ScanOperatorExists(name.to_string()));
    }
    reg.insert(name.to_string(), op);
    Ok(())
}

/// The operator registered under `name`.
///
/// # Errors
/// [`Error::UnknownScanOperator`] if none is.
pub(crate) fn lookup(name: &str) -> Result<Arc<dyn ScanOperator>> {
    registry()
        .read()
        .get(name)
        .cloned()
        .ok_or_else(|| Error::UnknownScanOperator(name.to_string()))
}
