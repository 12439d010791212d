//! Reducers whose state is a single number per output element: sums (pairwise for
//! floats), products, `any`, `all`, and counts.

use super::elem::Acc;
use super::layout::Reducer;

/// Below this many elements a lane is summed with 8 interleaved accumulators;
/// above it the lane is halved. This is `PW_BLOCKSIZE` of NumPy, so float sums round
/// as in NumPy along a contiguous axis.
const BLOCK: usize = 128;

/// Sum of `f(x)` over `xs` by the pairwise scheme of NumPy: error grows with `log n`
/// instead of `n`, and the order of additions depends only on `xs.len()`.
#[inline]
pub(super) fn pairwise<T: Copy, A: Acc>(xs: &[T], f: &impl Fn(T) -> A) -> A {
    let n = xs.len();
    if n < 8 {
        xs.iter().fold(A::ZERO, |s, &x| s.add(f(x)))
    } else if n <= BLOCK {
        let mut r = [A::ZERO; 8];
        for (r, &x) in r.iter_mut().zip(xs) {
            *r = f(x);
        }
        let mut blocks = xs[8..].chunks_exact(8);
        for block in &mut blocks {
            for (r, &x) in r.iter_mut().zip(block) {
                *r = r.add(f(x));
            }
        }
        let head = (r[0].add(r[1]).add(r[2].add(r[3]))).add(r[4].add(r[5]).add(r[6].add(r[7])));
        blocks.remainder().iter().fold(head, |s, &x| s.add(f(x)))
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise(&xs[..half], f).add(pairwise(&xs[half..], f))
    }
}

/// Sum of `f(x)`: pairwise along lanes, in order across rows and lanes.
pub(super) struct SumOf<F>(pub(super) F);

impl<T: Copy, A: Acc, F: Fn(T) -> A> Reducer<T> for SumOf<F> {
    type Acc = A;
    fn identity(&self) -> A {
        A::ZERO
    }
    fn lane(&self, _out: usize, _start: usize, xs: &[T]) -> A {
        pairwise(xs, &self.0)
    }
    fn row(&self, _out: usize, _start: usize, acc: &mut [A], xs: &[T]) {
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a = a.add((self.0)(x));
        }
    }
    fn combine(&self, a: A, b: A) -> A {
        a.add(b)
    }
}

/// Product of `f(x)`, in element order (as NumPy multiplies).
pub(super) struct ProdOf<F>(pub(super) F);

impl<T: Copy, A: Acc, F: Fn(T) -> A> Reducer<T> for ProdOf<F> {
    type Acc = A;
    fn identity(&self) -> A {
        A::ONE
    }
    fn lane(&self, _out: usize, _start: usize, xs: &[T]) -> A {
        xs.iter().fold(A::ONE, |p, &x| p.mul((self.0)(x)))
    }
    fn row(&self, _out: usize, _start: usize, acc: &mut [A], xs: &[T]) {
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a = a.mul((self.0)(x));
        }
    }
    fn combine(&self, a: A, b: A) -> A {
        a.mul(b)
    }
}

/// `any(pred)` (when `ALL` is false) or `all(pred)` (when true).
pub(super) struct Logical<F, const ALL: bool>(pub(super) F);

impl<T: Copy, F: Fn(T) -> bool, const ALL: bool> Reducer<T> for Logical<F, ALL> {
    type Acc = bool;
    fn identity(&self) -> bool {
        ALL
    }
    fn lane(&self, _out: usize, _start: usize, xs: &[T]) -> bool {
        if ALL {
            xs.iter().all(|&x| (self.0)(x))
        } else {
            xs.iter().any(|&x| (self.0)(x))
        }
    }
    fn row(&self, _out: usize, _start: usize, acc: &mut [bool], xs: &[T]) {
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a = if ALL {
                *a & (self.0)(x)
            } else {
                *a | (self.0)(x)
            };
        }
    }
    fn combine(&self, a: bool, b: bool) -> bool {
        if ALL {
            a && b
        } else {
            a || b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_pairwise_matches_exact_sums_at_block_edges() {
        for n in [0usize, 1, 7, 8, 9, 127, 128, 129, 255, 256, 1000, 4099] {
            let xs: Vec<i64> = (0..n as i64).collect();
            let want = xs.iter().sum::<i64>();
            assert_eq!(pairwise(&xs, &|x| x), want, "n = {n}");
            // Integers are exact in f64, so any summation order must agree.
            #[allow(clippy::cast_precision_loss)]
            let got = pairwise(&xs, &|x| x as f64);
            #[allow(clippy::cast_precision_loss)]
            let want = want as f64;
            assert_eq!(got, want, "n = {n}");
        }
    }

    #[test]
    fn reduce_pairwise_is_more_accurate_than_naive() {
        // 1e6 copies of 0.1 in f32: the naive sum drifts by ~1%, pairwise stays close.
        let xs = vec![0.1f32; 1_000_000];
        let naive: f32 = xs.iter().sum();
        let pw = pairwise(&xs, &|x| x);
        assert!((f64::from(pw) - 1e5).abs() < 1.0, "pairwise {pw}");
        assert!((f64::from(naive) - 1e5).abs() > 100.0, "naive {naive}");
    }

    #[test]
    fn reduce_logical_and_product_reducers() {
        let any = Logical::<_, false>(|x: i32| x != 0);
        let all = Logical::<_, true>(|x: i32| x != 0);
        assert!(any.lane(0, 0, &[0, 0, 3]) && !any.lane(0, 0, &[0, 0]) && !any.identity());
        assert!(!all.lane(0, 0, &[1, 0, 3]) && all.lane(0, 0, &[1, 2]) && all.identity());
        let mut acc = [false, true];
        all.row(0, 0, &mut acc, &[5, 0]);
        assert_eq!(acc, [false, false]);
        let prod = ProdOf(|x: i64| x);
        assert_eq!(prod.lane(0, 0, &[2, 3, 4]), 24);
        assert_eq!(prod.combine(prod.identity(), i64::MAX), i64::MAX);
        assert_eq!(prod.lane(0, 0, &[i64::MAX, 2]), -2, "wraps like NumPy");
    }
}
