//! Linear algebra on chunked arrays, as graphs of local kernels
//! (`darray_kernels::linalg`).
