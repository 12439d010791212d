//! Halos and stencils against whole-array oracles: the array padded by the
//! boundary's index map (written out here element by element), then the
//! stencil's sum over it, in the same order as the kernel (so the comparison
//! is to 1e-13, in practice exact). Random shapes, chunkings with blocks
//! thinner than the depth, every boundary; results identical on 1, 2 and 4
//! threads.

mod common;

use common::*;
use darray::{Boundary, DArray, Error};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};
use proptest::prelude::*;

/// The source index of virtual index `v` on an axis of `n`; `None`: fill.
fn source(v: i64, n: i64, b: Boundary) -> Option<usize> {
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

fn fill(b: Boundary) -> f64 {
    match b {
        Boundary::Constant(c) => c,
        _ => 0.0,
    }
}

/// `a` padded by `pad[ax] = (before, after)` per axis with boundary `b`.
fn padded(a: &ArrayD<f64>, pad: &[(usize, usize)], b: Boundary) -> ArrayD<f64> {
    let shape: Vec<usize> = a
        .shape()
        .iter()
        .zip(pad)
        .map(|(&n, &(l, h))| n + l + h)
        .collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let nd = a.ndim();
        let mut src = Vec::with_capacity(nd);
        for ax in 0..nd {
            let v = ix[ax] as i64 - pad[ax].0 as i64;
            match source(v, a.shape()[ax] as i64, b) {
                Some(i) => src.push(i),
                None => return fill(b),
            }
        }
        a[IxDyn(&src)]
    })
}

/// SciPy's correlate1d along `ax`: pad along that axis only, then the sum in
/// weight order.
fn correlate_axis(
    a: &ArrayD<f64>,
    w: &[f64],
    center: usize,
    ax: usize,
    b: Boundary,
) -> ArrayD<f64> {
    let mut pad = vec![(0, 0); a.ndim()];
    pad[ax] = (center, w.len() - 1 - center);
    let p = padded(a, &pad, b);
    let n = a.shape()[ax];
    let mut out = ArrayD::<f64>::zeros(a.raw_dim());
    for (j, &wj) in w.iter().enumerate() {
        let s = p.slice_axis(Axis(ax), Slice::from(j..j + n));
        ndarray::Zip::from(&mut out)
            .and(&s)
            .for_each(|o, &v| *o += wj * v);
    }
    out
}

fn laplace_oracle(a: &ArrayD<f64>, b: Boundary) -> ArrayD<f64> {
    let mut out: Option<ArrayD<f64>> = None;
    for ax in 0..a.ndim() {
        let mut pad = vec![(0, 0); a.ndim()];
        pad[ax] = (1, 1);
        let p = padded(a, &pad, b);
        let n = a.shape()[ax];
        let l = p.slice_axis(Axis(ax), Slice::from(0..n));
        let c = p.slice_axis(Axis(ax), Slice::from(1..n + 1));
        let r = p.slice_axis(Axis(ax), Slice::from(2..n + 2));
        let t = ndarray::Zip::from(&l)
            .and(&c)
            .and(&r)
            .map_collect(|&l, &c, &r| l - 2.0 * c + r);
        out = Some(match out {
            None => t,
            Some(o) => o + t,
        });
    }
    out.unwrap()
}

fn gradient_oracle(a: &ArrayD<f64>, ax: usize, h: f64) -> ArrayD<f64> {
    let n = a.shape()[ax];
    let mut out = ArrayD::<f64>::zeros(a.raw_dim());
    for i in 0..n {
        let (hi, lo, d) = if i == 0 {
            (1, 0, h)
        } else if i == n - 1 {
            (n - 1, n - 2, h)
        } else {
            (i + 1, i - 1, 2.0 * h)
        };
        let v = (&a.index_axis(Axis(ax), hi) - &a.index_axis(Axis(ax), lo)) / d;
        out.index_axis_mut(Axis(ax), i).assign(&v);
    }
    out
}

fn boundary() -> impl Strategy<Value = Boundary> {
    prop_oneof![
        Just(Boundary::None),
        (-3.0..3.0f64).prop_map(Boundary::Constant),
        Just(Boundary::Reflect),
        Just(Boundary::Mirror),
        Just(Boundary::Nearest),
        Just(Boundary::Periodic),
    ]
}

fn padding_boundary() -> impl Strategy<Value = Boundary> {
    boundary().prop_filter("a filter needs a boundary", |b| *b != Boundary::None)
}

/// The same on every executor, bit for bit; returns the result.
fn on_all(x: &DArray<f64>) -> ArrayD<f64> {
    let mut first: Option<ArrayD<f64>> = None;
    for exec in executors() {
        let got = x.compute_with(&exec).unwrap();
        if let Some(f) = &first {
            assert_bits_eq(&got, f);
        } else {
            first = Some(got);
        }
    }
    first.unwrap()
}

/// A 3-point sum along axis 0 of a grown block; the first and last rows
/// (halo, or the array's ends under `Boundary::None`) are 0.
fn sum3(x: &[ArrayViewD<'_, f64>]) -> ArrayD<f64> {
    let x = &x[0];
    let mut out = ArrayD::zeros(x.raw_dim());
    let n = x.len_of(Axis(0));
    for i in 1..n.saturating_sub(1) {
        let s = &(&x.index_axis(Axis(0), i - 1) + &x.index_axis(Axis(0), i))
            + &x.index_axis(Axis(0), i + 1);
        out.index_axis_mut(Axis(0), i).assign(&s);
    }
    out
}

fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| darray::register_kernel::<f64, f64>("overlap-test-sum3", sum3).unwrap());
}

proptest! {
    #![proptest_config(config(48))]

    /// Grown blocks are the padded array's windows; trimming gives the input
    /// back.
    #[test]
    fn overlap_blocks_are_windows_of_the_padded_array(
        (a, grid) in array_and_grid(3, 7, true),
        depth in proptest::collection::vec(0usize..4, 3),
        b in boundary(),
    ) {
        let depth: Vec<usize> = depth[..a.ndim()]
            .iter()
            .zip(a.shape())
            .map(|(&d, &n)| d.min(if b == Boundary::Mirror { n.saturating_sub(1) } else { n }))
            .collect();
        let x = chunked(&a, &grid);
        let o = x.overlap(&depth, b).unwrap();
        let grown = on_all(o.array());
        let pad: Vec<(usize, usize)> = depth.iter().map(|&d| (d, d)).collect();
        let p = padded(&a, &pad, b);
        // Walk the grown blocks and compare each with its window.
        let mut starts = vec![vec![0usize]; a.ndim()];
        let mut gstarts = vec![vec![0usize]; a.ndim()];
        let halos: Vec<Vec<(usize, usize)>> = (0..a.ndim()).map(|ax| o.halos(ax).unwrap()).collect();
        for ax in 0..a.ndim() {
            for (k, &s) in grid[ax].iter().enumerate() {
                let (l, h) = halos[ax][k];
                let next = starts[ax][k] + s;
                starts[ax].push(next);
                let next = gstarts[ax][k] + s + l + h;
                gstarts[ax].push(next);
            }
        }
        let counts: Vec<usize> = grid.iter().map(Vec::len).collect();
        let total: usize = counts.iter().product();
        for flat in 0..total {
            let mut rest = flat;
            let mut idx = vec![0; a.ndim()];
            for ax in (0..a.ndim()).rev() {
                idx[ax] = rest % counts[ax];
                rest /= counts[ax];
            }
            let mut g = grown.view();
            let mut w = p.view();
            for ax in 0..a.ndim() {
                let k = idx[ax];
                let (l, h) = halos[ax][k];
                let len = grid[ax][k] + l + h;
                g.slice_axis_inplace(Axis(ax), Slice::from(gstarts[ax][k]..gstarts[ax][k] + len));
                let from = starts[ax][k] + depth[ax] - l;
                w.slice_axis_inplace(Axis(ax), Slice::from(from..from + len));
            }
            assert_bits_eq(&g.to_owned(), &w.to_owned());
        }
        assert_bits_eq(&on_all(&o.trim()), &a);
    }

    /// map_overlap with a user kernel equals the kernel's sum on the padded
    /// whole array.
    #[test]
    fn map_overlap_matches_the_padded_sum(
        (a, grid) in array_and_grid(3, 7, false),
        b in boundary(),
    ) {
        register();
        prop_assume!(a.shape()[0] >= 1 && b_max(a.shape()[0], b) >= 1);
        let x = chunked(&a, &grid);
        let mut depth = vec![0; a.ndim()];
        depth[0] = 1;
        let got = on_all(&x.map_overlap::<f64>("overlap-test-sum3", &depth, b).unwrap());
        let mut pad = vec![(0, 0); a.ndim()];
        pad[0] = (1, 1);
        let p = padded(&a, &pad, b);
        let n = a.shape()[0];
        let mut want = ArrayD::<f64>::zeros(a.raw_dim());
        for i in 0..n {
            let edge = b == Boundary::None && (i == 0 || i == n - 1);
            if !edge {
                let s = &(&p.index_axis(Axis(0), i) + &p.index_axis(Axis(0), i + 1))
                    + &p.index_axis(Axis(0), i + 2);
                want.index_axis_mut(Axis(0), i).assign(&s);
            }
        }
        assert_close(&got, &want, 1e-13);
    }

    /// correlate1d and convolve1d (odd and even lengths), against SciPy's
    /// definition.
    #[test]
    fn correlate_and_convolve(
        (a, grid) in array_and_grid(3, 8, true),
        w in proptest::collection::vec(-2.0..2.0f64, 1..5),
        ax in 0usize..3,
        b in padding_boundary(),
    ) {
        prop_assume!(ax < a.ndim());
        let n = a.shape()[ax];
        let reach = w.len() / 2;
        prop_assume!(n > 0 && reach <= b_max(n, b) && w.len() - 1 - reach <= b_max(n, b));
        let x = chunked(&a, &grid);
        let got = on_all(&x.correlate1d(&w, ax, b).unwrap());
        assert_close(&got, &correlate_axis(&a, &w, w.len() / 2, ax, b), 1e-13);
        let rev: Vec<f64> = w.iter().rev().copied().collect();
        let c = if w.len().is_multiple_of(2) { w.len() / 2 - 1 } else { w.len() / 2 };
        let got = on_all(&x.convolve1d(&w, ax, b).unwrap());
        assert_close(&got, &correlate_axis(&a, &rev, c, ax, b), 1e-13);
    }

    /// uniform and Gaussian filters along every axis: SciPy's axis-after-axis
    /// definition (a constant boundary pads each pass's result).
    #[test]
    fn separable_filters(
        (a, grid) in array_and_grid(3, 9, false),
        size in 1usize..5,
        sigma in 0.2..1.0f64,
        b in padding_boundary(),
    ) {
        prop_assume!(!a.is_empty());
        let x = chunked(&a, &grid);
        let fits = |h: usize| a.shape().iter().all(|&n| h <= b_max(n, b));
        if fits(size / 2) {
            let w = vec![1.0 / size as f64; size];
            let mut want = a.clone();
            for ax in 0..a.ndim() {
                want = correlate_axis(&want, &w, size / 2, ax, b);
            }
            assert_close(&on_all(&x.uniform_filter(size, b).unwrap()), &want, 1e-13);
        }
        let radius = (4.0 * sigma + 0.5) as usize;
        if fits(radius) {
            let w: Vec<f64> = (0..=2 * radius)
                .map(|i| (-0.5 * ((i as f64 - radius as f64) / sigma).powi(2)).exp())
                .collect();
            let t: f64 = w.iter().sum();
            let w: Vec<f64> = w.iter().map(|v| v / t).collect();
            let mut want = a.clone();
            for ax in 0..a.ndim() {
                want = correlate_axis(&want, &w, radius, ax, b);
            }
            assert_close(&on_all(&x.gaussian_filter(sigma, b).unwrap()), &want, 1e-13);
        }
    }

    #[test]
    fn laplace_and_gradient(
        (a, grid) in array_and_grid(3, 8, true),
        b in padding_boundary(),
        ax in 0usize..3,
        h in prop_oneof![Just(1.0), 0.1..3.0f64],
    ) {
        prop_assume!(!a.is_empty());
        let x = chunked(&a, &grid);
        if a.shape().iter().all(|&n| b_max(n, b) >= 1) {
            assert_close(&on_all(&x.laplace(b).unwrap()), &laplace_oracle(&a, b), 1e-13);
        }
        if ax < a.ndim() && a.shape()[ax] >= 2 {
            assert_close(&on_all(&x.gradient(ax, h).unwrap()), &gradient_oracle(&a, ax, h), 1e-13);
        }
    }
}

/// The deepest halo a boundary makes on an axis of `n`.
fn b_max(n: usize, b: Boundary) -> usize {
    if b == Boundary::Mirror {
        n.saturating_sub(1)
    } else {
        n
    }
}

/// f32 arrays filter in f32, close to the f64 result.
#[test]
fn f32_filters() {
    let a = ArrayD::from_shape_fn(IxDyn(&[13, 7]), |ix| ((ix[0] * 7 + ix[1]) as f32).sin());
    let x = DArray::from_ndarray(&a, [4, 3]).unwrap();
    let got = x
        .gaussian_filter(1.0, Boundary::Reflect)
        .unwrap()
        .compute()
        .unwrap();
    let a64 = a.mapv(f64::from);
    let want = DArray::from_ndarray(&a64, [5, 7])
        .unwrap()
        .gaussian_filter(1.0, Boundary::Reflect)
        .unwrap()
        .compute()
        .unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
    }
}

/// Bad input: each a typed error before anything runs, naming the array.
#[test]
fn bad_input_is_refused() {
    let x = DArray::<f64>::ones(&[5, 4], [2, 2]).unwrap();
    let msg = |e: Error| e.to_string();
    let e = msg(x.overlap(&[6, 0], Boundary::Reflect).unwrap_err());
    assert!(
        e.contains("depth 6 is larger than the array (5 elements"),
        "{e}"
    );
    let e = msg(x.overlap(&[0, 4], Boundary::Mirror).unwrap_err());
    assert!(e.contains("mirror"), "{e}");
    assert!(x.overlap(&[1], Boundary::Reflect).is_err());
    let e = msg(x.laplace(Boundary::None).unwrap_err());
    assert!(e.contains("boundary other than None"), "{e}");
    assert!(x.correlate1d(&[], 0, Boundary::Reflect).is_err());
    assert!(x.correlate1d(&[f64::NAN], 0, Boundary::Reflect).is_err());
    assert!(x.correlate1d(&[1.0], 2, Boundary::Reflect).is_err());
    assert!(x.gaussian_filter(0.0, Boundary::Reflect).is_err());
    assert!(
        x.gaussian_filter(3.0, Boundary::Reflect).is_err(),
        "radius 12 > 5"
    );
    assert!(x.uniform_filter(0, Boundary::Reflect).is_err());
    assert!(x.gradient(0, 0.0).is_err());
    let one = DArray::<f64>::ones(&[1, 4], [1, 2]).unwrap();
    let e = msg(one.gradient(0, 1.0).unwrap_err());
    assert!(e.contains("at least 2"), "{e}");
    let ints = DArray::<i32>::ones(&[5], [2]).unwrap();
    let e = msg(ints.laplace(Boundary::Reflect).unwrap_err());
    assert!(e.contains("float"), "{e}");
    let e = msg(ints
        .overlap(&[1], Boundary::Constant(f64::NAN))
        .unwrap_err());
    assert!(e.contains("constant boundary"), "{e}");
    assert!(x
        .map_overlap::<f64>("no-such-kernel", &[1, 1], Boundary::Reflect)
        .is_err());
}

/// A grown block is gathered in one task from the blocks it touches: one
/// gather per block plus one stencil per block, never a task per neighbour.
#[test]
fn tasks_per_block() {
    let x = DArray::<f64>::random_uniform(1, &[64, 64], 0.0, 1.0, [16, 16]).unwrap();
    let lap = x.laplace(Boundary::Reflect).unwrap();
    // 16 random blocks, 16 gathers, 16 stencils.
    assert_eq!(lap.num_tasks().unwrap(), 48);
    let described = lap.graph().unwrap().describe();
    assert!(described.contains("gather"), "{described}");
}

/// Stencils on a 2-worker cluster give the local executor's bits.
#[test]
fn cluster_gives_the_same_bits() {
    let cluster = darray_cluster(2, 1);
    let client = cluster.client().unwrap();
    let x = DArray::<f64>::random_normal(3, &[40, 30], 0.0, 1.0, [7, 11]).unwrap();
    let lap = x.laplace(Boundary::Periodic).unwrap();
    let blur = x.gaussian_filter(1.5, Boundary::Constant(0.5)).unwrap();
    let grad = x.gradient(1, 0.5).unwrap();
    for y in [&lap, &blur, &grad] {
        assert_bits_eq(&y.compute_with(&client).unwrap(), &y.compute().unwrap());
    }
    let grown = x.overlap(&[9, 2], Boundary::Mirror).unwrap();
    assert_bits_eq(
        &grown.array().compute_with(&client).unwrap(),
        &grown.array().compute().unwrap(),
    );
}
