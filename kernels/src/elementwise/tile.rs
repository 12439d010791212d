//! Input chunks broadcast (NumPy rules) to the output shape and read one tile at a
//! time, a tile being a range of flat C-order output indices.
//!
//! A [`Source`] describes the broadcast view as element strides over the array's
//! memory, with axes merged where they are contiguous with each other, so a
//! C-ordered input is one axis of stride 1 and a 0-d input one axis of stride 0.
//! A tile that lies within one run of the innermost axis is then read in place
//! (stride 1) or as a splat (stride 0); other tiles are gathered run by run.

use super::lane::{Kind, Lane, TileSlice};
use crate::{dispatch_dtype, Chunk};
use serde::{Deserialize, Serialize};

/// True if `shape` broadcasts to `out` (aligned on the right, size-1 axes stretched,
/// missing leading axes added).
pub(crate) fn broadcasts_to(shape: &[usize], out: &[usize]) -> bool {
    shape.len() <= out.len()
        && shape
            .iter()
            .rev()
            .zip(out.iter().rev())
            .all(|(&s, &o)| s == o || s == 1)
}

/// A standard-layout copy of `c` if its memory is not one contiguous block (a
/// stepped slice): reading it in place would need unsafe pointer arithmetic, and
/// such chunks are rare since kernels and stores produce standard layout.
pub(crate) fn contiguous_copy(c: &Chunk) -> Option<Chunk> {
    let dtype = c.dtype()?;
    dispatch_dtype!(dtype, T => T::memory(c).is_none().then(|| T::standard_copy(c)))
}

/// The region of an input chunk that a fused program reads instead of the
/// whole chunk: `shape` elements from `origin` per axis (same number of axes as
/// the chunk). Shifted slices of one array (a stencil written by hand) read
/// their blocks through windows, with no copy of the slice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First element of the region, per axis.
    pub origin: Vec<usize>,
    /// The region's shape.
    pub shape: Vec<usize>,
}

impl Window {
    /// True if the window lies inside a chunk of shape `chunk`.
    #[must_use]
    pub fn fits(&self, chunk: &[usize]) -> bool {
        self.origin.len() == chunk.len()
            && self.shape.len() == chunk.len()
            && self
                .origin
                .iter()
                .zip(&self.shape)
                .zip(chunk)
                .all(|((&o, &n), &c)| o.checked_add(n).is_some_and(|e| e <= c))
    }
}

/// One input, broadcast to the output shape.
#[derive(Debug)]
pub(crate) struct Source<'c> {
    /// The array's memory, in memory order.
    mem: TileSlice<'c>,
    /// Offset in `mem` of the element at output index 0.
    first: usize,
    /// The output shape with mergeable axes merged; at least one axis.
    shape: Vec<usize>,
    /// Element strides per axis of `shape` (0 on broadcast axes).
    strides: Vec<isize>,
    /// Scratch multi-index, kept to avoid an allocation per tile.
    idx: Vec<usize>,
}

impl<'c> Source<'c> {
    /// The view of `c` broadcast to `out`. The caller checked the broadcast and
    /// that `c` holds data contiguous in memory ([`contiguous_copy`]).
    pub(crate) fn new(c: &'c Chunk, window: Option<&Window>, out: &[usize]) -> Source<'c> {
        let dtype = c.dtype().expect("the caller checked the chunk's dtype");
        dispatch_dtype!(dtype, T => Self::typed::<T>(c, window, out))
    }

    fn typed<T: Lane>(c: &'c Chunk, window: Option<&Window>, out: &[usize]) -> Source<'c> {
        let (mem, mut first) = T::memory(c).expect("the caller made the chunk contiguous");
        let view = T::view_chunk(c).expect("memory() matched the dtype");
        // A window reads the region from `origin` of the chunk: the same
        // strides, another first element and shape.
        let shape: &[usize] = match window {
            Some(w) => {
                for (&o, &s) in w.origin.iter().zip(view.strides()) {
                    first = first.wrapping_add_signed(step(o, s));
                }
                &w.shape
            }
            None => view.shape(),
        };
        let lead = out.len() - shape.len();
        let strides: Vec<isize> = (0..out.len())
            .map(|ax| match ax.checked_sub(lead) {
                // A size-1 axis always has index 0, so stride 0 stretches it.
                Some(i) if shape[i] != 1 => view.strides()[i],
                _ => 0,
            })
            .collect();
        let (shape, strides) = merge_axes(out, &strides);
        let idx = vec![0; shape.len()];
        Source {
            mem: T::tile(mem),
            first,
            shape,
            strides,
            idx,
        }
    }

    /// True if every tile is borrowed or a splat: the view is one run of stride 1
    /// (a C-contiguous input) or 0 (one element broadcast).
    pub(crate) fn never_gathers(&self) -> bool {
        self.shape.len() == 1 && matches!(self.strides[0], 0 | 1)
    }

    /// The tile of `len` elements from flat output index `start`: borrowed from the
    /// input, a splat in `dest[0]`, or gathered into `dest[..len]`. `dest` may be
    /// shorter than `len` (but not empty) when [`Source::never_gathers`].
    pub(crate) fn fetch<T: Lane>(&mut self, start: usize, len: usize, dest: &mut [T]) -> Kind<'c> {
        let mem: &'c [T] = T::from_tile(self.mem);
        let mut rest = start;
        let mut off = self.first;
        for ax in (0..self.shape.len()).rev() {
            let n = self.shape[ax];
            self.idx[ax] = rest % n;
            rest /= n;
            off = off.wrapping_add_signed(step(self.idx[ax], self.strides[ax]));
        }
        let last = self.shape.len() - 1;
        if len <= self.shape[last] - self.idx[last] {
            match self.strides[last] {
                1 => return Kind::Borrowed(T::tile(&mem[off..off + len])),
                0 => {
                    dest[0] = mem[off];
                    return Kind::Splat;
                }
                _ => {}
            }
        }
        gather(
            mem,
            &self.shape,
            &self.strides,
            &mut self.idx,
            off,
            &mut dest[..len],
        );
        Kind::Full
    }
}

/// `i * stride` as an offset change. Indices are below an axis length, which fits
/// in `isize` since the array exists.
#[allow(clippy::cast_possible_wrap)]
fn step(i: usize, stride: isize) -> isize {
    (i as isize).wrapping_mul(stride)
}

/// Merges each axis into the next inner one when one stride step of the outer
/// axis equals a full pass over the inner one, and drops length-1 axes. The C-order
/// traversal of the result visits the same memory offsets as that of the input.
fn merge_axes(shape: &[usize], strides: &[isize]) -> (Vec<usize>, Vec<isize>) {
    let mut merged: Vec<(usize, isize)> = Vec::with_capacity(shape.len());
    for (&n, &s) in shape.iter().zip(strides).rev() {
        if n == 1 {
            continue;
        }
        match merged.last_mut() {
            Some((inner_n, inner_s)) if step(*inner_n, *inner_s) == s => *inner_n *= n,
            _ => merged.push((n, s)),
        }
    }
    if merged.is_empty() {
        merged.push((1, 0));
    }
    merged.iter().rev().copied().unzip()
}

/// Fills `dest` from the element at multi-index `idx` (memory offset `off`)
/// onwards in C order, one innermost-axis run at a time.
fn gather<T: Copy>(
    mem: &[T],
    shape: &[usize],
    strides: &[isize],
    idx: &mut [usize],
    mut off: usize,
    dest: &mut [T],
) {
    let last = shape.len() - 1;
    let (inner_n, inner_s) = (shape[last], strides[last]);
    let mut pos = 0;
    loop {
        let run = (inner_n - idx[last]).min(dest.len() - pos);
        copy_run(mem, off, inner_s, &mut dest[pos..pos + run]);
        pos += run;
        if pos == dest.len() {
            return;
        }
        // The run reached the end of its row: rewind the inner axis, carry outwards.
        // An outer axis can always be advanced because elements remain.
        off = off.wrapping_add_signed(-step(idx[last], inner_s));
        idx[last] = 0;
        let mut ax = last;
        loop {
            ax -= 1;
            idx[ax] += 1;
            off = off.wrapping_add_signed(strides[ax]);
            if idx[ax] < shape[ax] {
                break;
            }
            off = off.wrapping_add_signed(-step(shape[ax], strides[ax]));
            idx[ax] = 0;
        }
    }
}

/// `out.len()` elements from `mem[off]` with the given stride.
fn copy_run<T: Copy>(mem: &[T], off: usize, stride: isize, out: &mut [T]) {
    match stride {
        0 => out.fill(mem[off]),
        1 => out.copy_from_slice(&mem[off..off + out.len()]),
        s if s > 0 => {
            for (o, &v) in out
                .iter_mut()
                .zip(mem[off..].iter().step_by(s.unsigned_abs()))
            {
                *o = v;
            }
        }
        s => {
            for (o, &v) in out
                .iter_mut()
                .zip(mem[..=off].iter().rev().step_by(s.unsigned_abs()))
            {
                *o = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array, ArrayD, Axis, IxDyn};

    /// Reads the whole broadcast view through `fetch` in tiles of `tile`, expanding
    /// splats and borrowed tiles, and returns the values and how each tile came.
    fn read_all(c: &Chunk, out: &[usize], tile: usize) -> (Vec<i64>, Vec<&'static str>) {
        let copy = contiguous_copy(c);
        let c = copy.as_ref().unwrap_or(c);
        let mut src = Source::new(c, None, out);
        let total: usize = out.iter().product();
        let (mut vals, mut how) = (Vec::new(), Vec::new());
        let mut buf = vec![0i64; tile];
        for start in (0..total).step_by(tile) {
            let len = tile.min(total - start);
            match src.fetch::<i64>(start, len, &mut buf[..len]) {
                Kind::Borrowed(t) => {
                    vals.extend_from_slice(i64::from_tile(t));
                    how.push("borrowed");
                }
                Kind::Splat => {
                    vals.extend(std::iter::repeat_n(buf[0], len));
                    how.push("splat");
                }
                Kind::Full => {
                    vals.extend_from_slice(&buf[..len]);
                    how.push("gathered");
                }
            }
        }
        (vals, how)
    }

    fn expected(a: &ArrayD<i64>, out: &[usize]) -> Vec<i64> {
        a.broadcast(IxDyn(out)).unwrap().iter().copied().collect()
    }

    fn arange(shape: &[usize]) -> ArrayD<i64> {
        let n: usize = shape.iter().product();
        Array::from_iter(0..i64::try_from(n).unwrap())
            .into_shape_with_order(IxDyn(shape))
            .unwrap()
    }

    #[test]
    fn broadcast_rules() {
        assert!(broadcasts_to(&[3, 1], &[2, 3, 4]));
        assert!(broadcasts_to(&[], &[2, 3]));
        assert!(broadcasts_to(&[1], &[0]));
        assert!(!broadcasts_to(&[3], &[4]));
        assert!(!broadcasts_to(&[2, 3], &[3]));
        assert!(!broadcasts_to(&[0], &[2]));
    }

    #[test]
    fn merges_contiguous_and_broadcast_axes() {
        assert_eq!(merge_axes(&[2, 3, 4], &[12, 4, 1]), (vec![24], vec![1]));
        assert_eq!(merge_axes(&[2, 3, 4], &[0, 0, 0]), (vec![24], vec![0]));
        assert_eq!(
            merge_axes(&[2, 3, 4], &[0, 4, 1]),
            (vec![2, 12], vec![0, 1])
        );
        assert_eq!(merge_axes(&[3, 1, 4], &[1, 0, 3]), (vec![3, 4], vec![1, 3]));
        assert_eq!(merge_axes(&[], &[]), (vec![1], vec![0]));
    }

    #[test]
    fn contiguous_input_is_borrowed_and_scalar_is_splat() {
        let a = arange(&[3, 5]);
        let (v, how) = read_all(&Chunk::I64(a.clone()), &[3, 5], 4);
        assert_eq!(v, expected(&a, &[3, 5]));
        assert!(how.iter().all(|h| *h == "borrowed"));
        let z = arange(&[]);
        let (v, how) = read_all(&Chunk::I64(z), &[2, 3], 4);
        assert_eq!(v, vec![0; 6]);
        assert!(how.iter().all(|h| *h == "splat"));
    }

    #[test]
    fn gathers_broadcast_transposed_reversed_and_stepped() {
        let out = [4, 3, 5];
        let mut cases: Vec<ArrayD<i64>> = vec![
            arange(&[5]),
            arange(&[3, 1]),
            arange(&[4, 1, 5]),
            arange(&[1, 3, 1]),
            arange(&[5, 3, 4]).reversed_axes(),
            arange(&[8, 3, 10])
                .slice_move(s![..;2, .., ..;-2])
                .into_dyn(),
        ];
        let mut rev = arange(&[4, 3, 5]);
        rev.invert_axis(Axis(1));
        cases.push(rev);
        for a in cases {
            for tile in [1, 2, 4, 7, 15, 60, 64] {
                let (v, _) = read_all(&Chunk::I64(a.clone()), &out, tile);
                assert_eq!(
                    v,
                    expected(&a, &out),
                    "shape {:?} strides {:?} tile {tile}",
                    a.shape(),
                    a.strides()
                );
            }
        }
    }

    #[test]
    fn row_broadcast_tiles_inside_a_row_are_borrowed() {
        let a = arange(&[8]);
        let (v, how) = read_all(&Chunk::I64(a.clone()), &[3, 8], 4);
        assert_eq!(v, expected(&a, &[3, 8]));
        assert!(how.iter().all(|h| *h == "borrowed"));
        let col = arange(&[3, 1]);
        let (v, how) = read_all(&Chunk::I64(col.clone()), &[3, 8], 8);
        assert_eq!(v, expected(&col, &[3, 8]));
        assert!(how.iter().all(|h| *h == "splat"));
    }

    #[test]
    fn zero_d_output() {
        let mut a = arange(&[]);
        a[IxDyn(&[])] = 7;
        let (v, how) = read_all(&Chunk::I64(a), &[], 4);
        assert_eq!((v, how), (vec![7], vec!["splat"]));
    }
}
