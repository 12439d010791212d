//! The kernels' error type: what went wrong inside one chunk's computation.

/// An error from a kernel. The executor adds the task key.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum KernelError {
    /// An input chunk had another dtype than the kernel expected.
    #[error("expected a chunk of dtype {expected}, got {got}")]
    DType {
        /// What the kernel expected.
        expected: String,
        /// What it got.
        got: String,
    },
    /// An input chunk had a shape the kernel cannot use.
    #[error("shape mismatch: expected {expected:?}, got {got:?}")]
    Shape {
        /// What the kernel expected.
        expected: Vec<usize>,
        /// What it got.
        got: Vec<usize>,
    },
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

/// Result alias for kernels.
pub type Result<T, E = KernelError> = std::result::Result<T, E>;
