//! The traversal every partial reduction shares. The input is read once, in memory
//! order, as a C-contiguous slice; each kind supplies a [`Reducer`] that says how to
//! fold a run of elements into its accumulator.
//!
//! Axes of length 1 are dropped and neighbouring axes that are both reduced or both
//! kept are fused, so any reduction becomes alternating groups of reduced and kept
//! axes. The innermost group decides the inner loop:
//! - reduced (`sum(axis=-1)`, all axes): each contiguous *lane* folds into one
//!   accumulator, and lanes of the same output element are combined in order;
//! - kept (`sum(axis=0)`): each contiguous *row* is added elementwise into a row
//!   of accumulators, so the input is never strided through column by column.

/// How one reduction folds elements of type `T` into accumulators.
///
/// Positions are flat C-order indices in the input block; the engine presents the
/// elements of each output element in increasing position order.
pub(super) trait Reducer<T> {
    /// Per-output-element state.
    type Acc: Copy;
    /// The state before any element: what an empty reduction yields.
    fn identity(&self) -> Self::Acc;
    /// Folds `xs`, all belonging to output element `out`, the first at `start`.
    fn lane(&self, out: usize, start: usize, xs: &[T]) -> Self::Acc;
    /// Folds `xs[j]` into `acc[j]` (output element `out + j`, position `start + j`).
    fn row(&self, out: usize, start: usize, acc: &mut [Self::Acc], xs: &[T]);
    /// Folds state `b` into `a`; `b` covers positions after `a`'s.
    fn combine(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
}

/// A fused run of axes outside the inner loop.
#[derive(Clone, Copy, Debug)]
struct Group {
    len: usize,
    /// Step in the output for one step in this group; 0 for reduced groups.
    out_stride: usize,
}

/// The loop structure for reducing one block shape over a set of axes.
#[derive(Clone, Debug)]
pub(super) struct Layout {
    outer: Vec<Group>,
    inner_len: usize,
    inner_reduced: bool,
    out_shape: Vec<usize>,
    out_len: usize,
    in_len: usize,
}

impl Layout {
    /// Plans the reduction of a C-contiguous block of `shape` over `axes` (already
    /// validated: sorted, distinct, in range).
    pub(super) fn new(shape: &[usize], axes: &[usize]) -> Layout {
        let mut groups: Vec<(usize, bool)> = Vec::new();
        for (d, &n) in shape.iter().enumerate() {
            if n == 1 {
                continue;
            }
            let reduced = axes.contains(&d);
            match groups.last_mut() {
                Some(g) if g.1 == reduced => g.0 *= n,
                _ => groups.push((n, reduced)),
            }
        }
        let (inner_len, inner_reduced) = groups.pop().unwrap_or((1, true));
        let mut stride = if inner_reduced { 1 } else { inner_len };
        let mut outer: Vec<Group> = groups
            .iter()
            .rev()
            .map(|&(len, reduced)| {
                let out_stride = if reduced { 0 } else { stride };
                if !reduced {
                    stride *= len;
                }
                Group { len, out_stride }
            })
            .collect();
        outer.reverse();
        let out_shape: Vec<usize> = shape
            .iter()
            .enumerate()
            .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
            .collect();
        Layout {
            outer,
            inner_len,
            inner_reduced,
            out_len: out_shape.iter().product(),
            out_shape,
            in_len: shape.iter().product(),
        }
    }

    /// Shape of the partial: the block's shape with reduced axes at length 1.
    pub(super) fn out_shape(&self) -> &[usize] {
        &self.out_shape
    }

    /// Folds `data` (the block in C order) into one accumulator per output element.
    pub(super) fn run<T: Copy, R: Reducer<T>>(&self, data: &[T], r: &R) -> Vec<R::Acc> {
        debug_assert_eq!(data.len(), self.in_len);
        let mut acc = vec![r.identity(); self.out_len];
        if self.in_len == 0 {
            return acc;
        }
        let len = self.inner_len;
        let mut odometer = vec![0usize; self.outer.len()];
        let mut out = 0usize;
        for (o, xs) in data.chunks_exact(len).enumerate() {
            let start = o * len;
            if self.inner_reduced {
                let v = r.lane(out, start, xs);
                acc[out] = r.combine(acc[out], v);
            } else {
                r.row(out, start, &mut acc[out..out + len], xs);
            }
            for (g, i) in self.outer.iter().zip(odometer.iter_mut()).rev() {
                *i += 1;
                out += g.out_stride;
                if *i < g.len {
                    break;
                }
                *i = 0;
                out -= g.len * g.out_stride;
            }
        }
        acc
    }
}

/// Local C-order strides of a block of `shape`.
pub(super) fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, Dimension, IxDyn};

    /// Records, per output element, the positions it saw, to check the mapping and
    /// the promised increasing order against index arithmetic.
    struct Trace;
    /// (count, sum of positions, first, last, seen in increasing order)
    type Seen = (usize, usize, usize, usize, bool);
    fn one(x: usize, pos: usize) -> Seen {
        (1, x, pos, pos, x == pos)
    }
    impl Reducer<usize> for Trace {
        type Acc = Seen;
        fn identity(&self) -> Seen {
            (0, 0, 0, 0, true)
        }
        fn lane(&self, _out: usize, start: usize, xs: &[usize]) -> Seen {
            let mut a = self.identity();
            for (j, &x) in xs.iter().enumerate() {
                a = self.combine(a, one(x, start + j));
            }
            a
        }
        fn row(&self, _out: usize, start: usize, acc: &mut [Seen], xs: &[usize]) {
            for (j, (a, &x)) in acc.iter_mut().zip(xs).enumerate() {
                *a = self.combine(*a, one(x, start + j));
            }
        }
        fn combine(&self, a: Seen, b: Seen) -> Seen {
            if a.0 == 0 {
                return b;
            }
            if b.0 == 0 {
                return a;
            }
            (a.0 + b.0, a.1 + b.1, a.2, b.3, a.4 && b.4 && a.3 < b.2)
        }
    }

    fn check(shape: &[usize], axes: &[usize]) {
        let layout = Layout::new(shape, axes);
        let n: usize = shape.iter().product();
        let data: Vec<usize> = (0..n).collect();
        let got = layout.run(&data, &Trace);
        let out_shape = layout.out_shape().to_vec();
        let mut want = ArrayD::<(usize, usize)>::default(IxDyn(&out_shape));
        let input = ArrayD::from_shape_vec(IxDyn(shape), data).unwrap();
        for (idx, &x) in input.indexed_iter() {
            let mut o = idx.slice().to_vec();
            for &a in axes {
                o[a] = 0;
            }
            let w = &mut want[IxDyn(&o)];
            w.0 += 1;
            w.1 += x;
        }
        let want: Vec<(usize, usize)> = want.iter().copied().collect();
        let got_pairs: Vec<(usize, usize)> = got.iter().map(|a| (a.0, a.1)).collect();
        assert_eq!(got_pairs, want, "shape {shape:?} axes {axes:?}");
        assert!(got.iter().all(|a| a.4), "out of order: {shape:?} {axes:?}");
        assert_eq!(got.len(), layout.out_shape().iter().product::<usize>());
    }

    #[test]
    fn reduce_layout_maps_every_position_to_its_output_in_order() {
        let shapes: &[&[usize]] = &[
            &[],
            &[5],
            &[0],
            &[3, 4],
            &[1, 4],
            &[3, 1],
            &[2, 3, 4],
            &[2, 1, 3, 2],
            &[3, 0, 2],
            &[2, 3, 2, 3],
        ];
        for shape in shapes {
            let nd = shape.len();
            // Every subset of axes.
            for mask in 0u32..(1 << nd) {
                let axes: Vec<usize> = (0..nd).filter(|d| mask & (1 << d) != 0).collect();
                check(shape, &axes);
            }
        }
    }

    #[test]
    fn reduce_layout_c_strides() {
        assert_eq!(c_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(c_strides(&[]), Vec::<usize>::new());
        assert_eq!(c_strides(&[0, 5]), vec![5, 1]);
    }
}
