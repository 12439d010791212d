//! Reductions in three stages: partial (per input block), merge (of partials, in
//! block order), finalize (partial to result).

pub mod kind;
