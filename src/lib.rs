//! darray (store branch): only the store module, merged into the main crate later.
pub mod store;
