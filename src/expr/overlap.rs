//! Halos: the plan of an overlapped array (each block grown by elements of its
//! neighbours, and beyond the array's ends by a boundary condition) and the
//! gather runs that fetch one grown block from the input's blocks.

use super::grid::Grid;
use darray_kernels::gather::GatherRun;

/// What lies beyond an array's ends when blocks are grown by halos (dask's
/// `boundary=`, SciPy's `mode=`). For an axis `a b c d`:
///
/// | boundary | before the start | dask | scipy.ndimage | numpy.pad |
/// |---|---|---|---|---|
/// | `None` | nothing: edge blocks get no outer halo | `"none"` | | |
/// | `Constant(v)` | `v v v` | a number | `"constant"` | `"constant"` |
/// | `Reflect` | `c b a \| a b c d` | `"reflect"` | `"reflect"` | `"symmetric"` |
/// | `Mirror` | `d c b \| a b c d` | | `"mirror"` | `"reflect"` |
/// | `Nearest` | `a a a \| a b c d` | `"nearest"` | `"nearest"` | `"edge"` |
/// | `Periodic` | `b c d \| a b c d` | `"periodic"` | `"wrap"` | `"wrap"` |
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Boundary {
    /// No halo beyond the array's ends.
    None,
    /// A constant (converted to the array's dtype as Rust's `as` would).
    Constant(f64),
    /// Reflection about the edge, the edge element repeated.
    Reflect,
    /// Reflection about the edge element, which is not repeated.
    Mirror,
    /// The edge element repeated.
    Nearest,
    /// Wrap-around: the other end of the array.
    Periodic,
}

impl Boundary {
    /// The longest halo beyond an end of an axis of `n` elements that this
    /// boundary can make (`None` makes none, so any depth is fine).
    pub(crate) fn max_depth(self, n: usize) -> usize {
        match self {
            Boundary::None => usize::MAX,
            Boundary::Mirror => n.saturating_sub(1),
            Boundary::Constant(_) | Boundary::Reflect | Boundary::Nearest | Boundary::Periodic => n,
        }
    }
}

/// The halo plan of one axis: per block of the input, the halo before and
/// after it, and how much of each lies beyond the array's ends.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AxisHalo {
    pub halo: Vec<(usize, usize)>,
    pub outside: Vec<(usize, usize)>,
}

/// The halos of every block of `grid` grown by `depth` (before, after) per
/// axis; with [`Boundary::None`] the parts beyond the array's ends are dropped.
pub(crate) fn plan(grid: &Grid, depth: &[(usize, usize)], boundary: Boundary) -> Vec<AxisHalo> {
    grid.iter()
        .zip(depth)
        .map(|(sizes, &(lo, hi))| {
            let n: usize = sizes.iter().sum();
            let mut off = 0;
            let mut halo = Vec::with_capacity(sizes.len());
            let mut outside = Vec::with_capacity(sizes.len());
            for &len in sizes {
                let before_in = lo.min(off);
                let after_in = hi.min(n - off - len);
                if boundary == Boundary::None {
                    halo.push((before_in, after_in));
                    outside.push((0, 0));
                } else {
                    halo.push((lo, hi));
                    outside.push((lo - before_in, hi - after_in));
                }
                off += len;
            }
            AxisHalo { halo, outside }
        })
        .collect()
}

/// The grown grid: each block's size plus its halos.
pub(crate) fn grown_grid(grid: &Grid, halos: &[AxisHalo]) -> Grid {
    grid.iter()
        .zip(halos)
        .map(|(sizes, h)| {
            sizes
                .iter()
                .zip(&h.halo)
                .map(|(&s, &(lo, hi))| s + lo + hi)
                .collect()
        })
        .collect()
}

/// Where the grown range `[start - lo, start + len + hi)` of an axis of `n`
/// elements comes from: the input blocks it touches (ascending) and the runs
/// that copy them, with block starts `offsets` (`offsets[b]..offsets[b+1]` is
/// block `b`). Elements beyond the ends follow `boundary`; the caller has
/// checked that `lo` and `hi` are within [`Boundary::max_depth`].
pub(crate) fn axis_runs(
    offsets: &[usize],
    n: usize,
    start: i64,
    end: i64,
    boundary: Boundary,
) -> (Vec<u32>, Vec<GatherRun>) {
    // Global source stretches (first index, step, count), in output order;
    // `None` is the fill value.
    let mut stretches: Vec<(Option<usize>, i8, usize)> = Vec::new();
    let ni = n as i64;
    let count = |a: i64, b: i64| usize::try_from(b - a).unwrap_or(0);
    if start < 0 {
        let k = count(start, 0.min(end));
        let s = match boundary {
            Boundary::None => None,
            Boundary::Constant(_) => Some((None, 0, k)),
            Boundary::Reflect => Some((Some((-start - 1) as usize), -1, k)),
            Boundary::Mirror => Some((Some((-start) as usize), -1, k)),
            Boundary::Nearest => Some((Some(0), 0, k)),
            Boundary::Periodic => Some((Some((start + ni) as usize), 1, k)),
        };
        stretches.extend(s);
    }
    let (a, b) = (start.max(0), end.min(ni));
    if a < b {
        stretches.push((Some(a as usize), 1, count(a, b)));
    }
    if end > ni {
        let k = count(start.max(ni), end);
        let s = match boundary {
            Boundary::None => None,
            Boundary::Constant(_) => Some((None, 0, k)),
            Boundary::Reflect => Some((Some((2 * ni - 1 - start.max(ni)) as usize), -1, k)),
            Boundary::Mirror => Some((Some((2 * ni - 2 - start.max(ni)) as usize), -1, k)),
            Boundary::Nearest => Some((Some(n - 1), 0, k)),
            Boundary::Periodic => Some((Some((start.max(ni) - ni) as usize), 1, k)),
        };
        stretches.extend(s);
    }
    let block_of = |i: usize| offsets.partition_point(|&o| o <= i) - 1;
    // Split each stretch at block boundaries.
    let mut pieces: Vec<(Option<usize>, usize, i8, usize, usize)> = Vec::new(); // block, local, step, len, dst
    let mut dst = 0;
    for (first, step, len) in stretches {
        let Some(mut i) = first else {
            pieces.push((None, 0, 0, len, dst));
            dst += len;
            continue;
        };
        let mut left = len;
        while left > 0 {
            let b = block_of(i);
            let (lo, hi) = (offsets[b], offsets[b + 1]);
            let take = match step {
                1 => left.min(hi - i),
                -1 => left.min(i - lo + 1),
                _ => left,
            };
            pieces.push((Some(b), i - lo, step, take, dst));
            dst += take;
            left -= take;
            match step {
                1 => i += take,
                -1 if left > 0 => i -= take,
                _ => {}
            }
        }
    }
    let mut blocks: Vec<u32> = pieces
        .iter()
        .filter_map(|p| p.0)
        .map(|b| u32::try_from(b).expect("block index fits u32"))
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    let runs = pieces
        .into_iter()
        .map(|(b, local, step, len, dst)| GatherRun {
            slot: b.map(|b| {
                let b = u32::try_from(b).expect("block index fits u32");
                u32::try_from(blocks.binary_search(&b).expect("listed")).expect("slot fits u32")
            }),
            start: local,
            step,
            len,
            dst,
        })
        .collect();
    (blocks, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs of a grown range, expanded to the global indices they copy
    /// (`None`: fill), against the boundary's index map element by element.
    fn expand(offsets: &[usize], blocks: &[u32], runs: &[GatherRun]) -> Vec<Option<usize>> {
        let mut out = Vec::new();
        for r in runs {
            for k in 0..r.len {
                out.push(r.slot.map(|s| {
                    let base = offsets[blocks[s as usize] as usize] + r.start;
                    match r.step {
                        1 => base + k,
                        -1 => base - k,
                        _ => base,
                    }
                }));
            }
        }
        out
    }

    fn want(v: i64, n: i64, b: Boundary) -> Option<usize> {
        let i = if v < 0 {
            match b {
                Boundary::None | Boundary::Constant(_) => return None,
                Boundary::Reflect => -v - 1,
                Boundary::Mirror => -v,
                Boundary::Nearest => 0,
                Boundary::Periodic => v + n,
            }
        } else if v >= n {
            match b {
                Boundary::None | Boundary::Constant(_) => return None,
                Boundary::Reflect => 2 * n - 1 - v,
                Boundary::Mirror => 2 * n - 2 - v,
                Boundary::Nearest => n - 1,
                Boundary::Periodic => v - n,
            }
        } else {
            v
        };
        Some(i as usize)
    }

    #[test]
    fn runs_match_the_index_map() {
        let sizes = [3usize, 1, 4, 2];
        let mut offsets = vec![0];
        for s in sizes {
            offsets.push(offsets.last().unwrap() + s);
        }
        let n = 10i64;
        for b in [
            Boundary::Constant(1.0),
            Boundary::Reflect,
            Boundary::Mirror,
            Boundary::Nearest,
            Boundary::Periodic,
        ] {
            let max = b.max_depth(10) as i64;
            for start in -max..=n {
                for end in start..=n + max {
                    let (blocks, runs) = axis_runs(&offsets, 10, start, end, b);
                    let got = expand(&offsets, &blocks, &runs);
                    let w: Vec<_> = (start..end).map(|v| want(v, n, b)).collect();
                    assert_eq!(got, w, "{b:?} {start}..{end}");
                    let mut dst = 0;
                    for r in &runs {
                        assert_eq!(r.dst, dst);
                        dst += r.len;
                    }
                }
            }
        }
    }

    #[test]
    fn none_drops_what_is_beyond_the_ends() {
        let grid: Grid = vec![vec![2, 1, 5]];
        let h = plan(&grid, &[(2, 3)], Boundary::None);
        assert_eq!(h[0].halo, vec![(0, 3), (2, 3), (2, 0)]);
        let h = plan(&grid, &[(2, 3)], Boundary::Reflect);
        assert_eq!(h[0].halo, vec![(2, 3); 3]);
        assert_eq!(h[0].outside, vec![(2, 0), (0, 0), (0, 3)]);
        assert_eq!(grown_grid(&grid, &h), vec![vec![7, 6, 10]]);
    }
}
