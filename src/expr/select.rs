//! Selections along an axis cut into blocks, and rechunk nodes: the arithmetic
//! that both the slicing API and its lowering read.

use super::grid::{self, Grid};
use super::node::{Expr, ExprKind};
use std::sync::Arc;

/// `a` with grid `grid` (same shape); `a` itself if the grid is unchanged.
pub(crate) fn rechunk_expr(a: &Arc<Expr>, grid: Grid) -> Arc<Expr> {
    if grid == a.grid {
        return a.clone();
    }
    Expr::new(
        "rechunk",
        a.shape.clone(),
        grid,
        a.dtype,
        ExprKind::Rechunk { input: a.clone() },
    )
}

/// One run of selected elements that lies in one input block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// Input block along the axis.
    pub block: usize,
    /// First selected element, local to that block.
    pub local: usize,
    /// Number of elements.
    pub len: usize,
}

/// Splits the selection `start, start+step, ...` (`len` elements) of an axis cut
/// into blocks `sizes` into runs that each lie in one block.
pub(crate) fn runs(sizes: &[usize], start: usize, step: isize, len: usize) -> Vec<Run> {
    let off = grid::offsets(sizes);
    if len == 0 {
        return vec![Run {
            block: 0,
            local: 0,
            len: 0,
        }];
    }
    let mut out = Vec::new();
    let mut k = 0usize;
    let stride = step.unsigned_abs();
    while k < len {
        let i = if step > 0 {
            start + k * stride
        } else {
            start - k * stride
        };
        // Last block whose start is <= i.
        let b = off.partition_point(|&o| o <= i) - 1;
        let n = if step > 0 {
            (off[b + 1] - 1 - i) / stride + 1
        } else {
            (i - off[b]) / stride + 1
        };
        let n = n.min(len - k);
        out.push(Run {
            block: b,
            local: i - off[b],
            len: n,
        });
        k += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_block_edges() {
        assert_eq!(
            runs(&[4, 4, 2], 1, 3, 3),
            vec![
                Run {
                    block: 0,
                    local: 1,
                    len: 1
                },
                Run {
                    block: 1,
                    local: 0,
                    len: 2
                }
            ]
        );
        assert_eq!(
            runs(&[4, 4, 2], 9, -4, 3),
            vec![
                Run {
                    block: 2,
                    local: 1,
                    len: 1
                },
                Run {
                    block: 1,
                    local: 1,
                    len: 1
                },
                Run {
                    block: 0,
                    local: 1,
                    len: 1
                }
            ]
        );
    }
}
