//! Fused elementwise programs and their tile-by-tile evaluation.

pub mod program;
