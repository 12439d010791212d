//! Elementwise operations against ndarray on the whole array: broadcasting over
//! random shapes and chunkings, math (within 4 ulp-ish: 1e-14 relative), exact
//! integer and comparison semantics, and fusion (one task per output chunk).

// ndarray's s![1..-1] counts -1 from the end; clippy reads it as an empty range.
#![allow(clippy::reversed_empty_ranges)]

mod common;

use common::*;
use darray::array::chunks::refine;
use darray::{where_, DArray, DType, LocalExecutor};
use darray_kernels::{BinaryOp, UnaryOp};
use ndarray::{s, ArrayD, IxDyn, SliceInfoElem, Zip};
use proptest::prelude::*;

/// Two shapes that broadcast: the second drops leading axes and sets some to 1.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(4, 6)
        .prop_flat_map(|s| {
            let n = s.len();
            (Just(s), 0..=n, proptest::collection::vec(any::<bool>(), n))
        })
        .prop_map(|(s, drop, ones)| {
            let t: Vec<usize> = s[drop..]
                .iter()
                .zip(&ones[drop..])
                .map(|(&d, &one)| if one { 1 } else { d })
                .collect();
            (s, t)
        })
}

fn np_broadcast(a: &ArrayD<f64>, b: &ArrayD<f64>, f: impl Fn(f64, f64) -> f64) -> ArrayD<f64> {
    let n = a.ndim().max(b.ndim());
    let shape: Vec<usize> = (0..n)
        .map(|i| {
            let da = if i + a.ndim() >= n {
                a.shape()[i + a.ndim() - n]
            } else {
                1
            };
            let db = if i + b.ndim() >= n {
                b.shape()[i + b.ndim() - n]
            } else {
                1
            };
            if da == 1 {
                db
            } else {
                da
            }
        })
        .collect();
    let av = a.broadcast(IxDyn(&shape)).unwrap();
    let bv = b.broadcast(IxDyn(&shape)).unwrap();
    Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y))
}

/// A unary op on a float array through its `DArray` method, with its oracle.
enum UnaryCase {
    Float(DArray<f64>, Box<dyn Fn(f64) -> f64>),
    Bool(DArray<bool>, fn(f64) -> bool),
    /// Not defined for floats.
    NotFloat,
}

/// `op` on `x` and the std function it must match. No wildcard arm: a new
/// `UnaryOp` does not compile here until it has a method and an oracle.
fn unary_case(op: UnaryOp, x: &DArray<f64>) -> UnaryCase {
    use UnaryCase::{Bool, Float, NotFloat};
    match op {
        UnaryOp::Neg => Float(-x, Box::new(|v| -v)),
        UnaryOp::Abs => Float(x.abs(), Box::new(f64::abs)),
        UnaryOp::Sqrt => Float(x.sqrt(), Box::new(f64::sqrt)),
        UnaryOp::Exp => Float(x.exp(), Box::new(f64::exp)),
        UnaryOp::Ln => Float(x.ln(), Box::new(f64::ln)),
        UnaryOp::Log10 => Float(x.log10(), Box::new(f64::log10)),
        UnaryOp::Sin => Float(x.sin(), Box::new(f64::sin)),
        UnaryOp::Cos => Float(x.cos(), Box::new(f64::cos)),
        UnaryOp::Tan => Float(x.tan(), Box::new(f64::tan)),
        UnaryOp::Tanh => Float(x.tanh(), Box::new(f64::tanh)),
        UnaryOp::Floor => Float(x.floor(), Box::new(f64::floor)),
        UnaryOp::Ceil => Float(x.ceil(), Box::new(f64::ceil)),
        UnaryOp::Round => Float(x.round(), Box::new(f64::round)),
        UnaryOp::Powi(n) => Float(x.powi(n), Box::new(move |v| v.powi(n))),
        UnaryOp::Not => NotFloat,
        UnaryOp::IsNan => Bool(x.isnan(), f64::is_nan),
        UnaryOp::IsFinite => Bool(x.isfinite(), f64::is_finite),
        UnaryOp::Log2 => Float(x.log2(), Box::new(f64::log2)),
        UnaryOp::Log1p => Float(x.log1p(), Box::new(f64::ln_1p)),
        UnaryOp::Expm1 => Float(x.expm1(), Box::new(f64::exp_m1)),
        UnaryOp::Exp2 => Float(x.exp2(), Box::new(f64::exp2)),
        UnaryOp::Cbrt => Float(x.cbrt(), Box::new(f64::cbrt)),
        UnaryOp::Sinh => Float(x.sinh(), Box::new(f64::sinh)),
        UnaryOp::Cosh => Float(x.cosh(), Box::new(f64::cosh)),
        UnaryOp::Arcsin => Float(x.arcsin(), Box::new(f64::asin)),
        UnaryOp::Arccos => Float(x.arccos(), Box::new(f64::acos)),
        UnaryOp::Arctan => Float(x.arctan(), Box::new(f64::atan)),
        UnaryOp::Arcsinh => Float(x.arcsinh(), Box::new(f64::asinh)),
        UnaryOp::Arccosh => Float(x.arccosh(), Box::new(f64::acosh)),
        UnaryOp::Arctanh => Float(x.arctanh(), Box::new(f64::atanh)),
        UnaryOp::Trunc => Float(x.trunc(), Box::new(f64::trunc)),
        UnaryOp::Rint => Float(x.rint(), Box::new(f64::round_ties_even)),
        UnaryOp::Sign => Float(
            x.sign(),
            Box::new(|v| {
                if v.is_nan() || v == 0.0 {
                    v.abs()
                } else {
                    v.signum()
                }
            }),
        ),
        UnaryOp::Signbit => Bool(x.signbit(), f64::is_sign_negative),
        UnaryOp::IsInf => Bool(x.isinf(), f64::is_infinite),
        UnaryOp::BitNot => NotFloat,
    }
}

/// A binary op's oracle on two floats.
type Oracle2 = fn(f64, f64) -> f64;

/// `op` on two float arrays through its `DArray` method, with its oracle;
/// `None` for the bool-only ops. No wildcard arm (see [`unary_case`]).
fn binary_case(op: BinaryOp, x: &DArray<f64>, y: &DArray<f64>) -> Option<(DArray<f64>, Oracle2)> {
    let (got, want): (darray::Result<DArray<f64>>, Oracle2) = match op {
        BinaryOp::Add => (x + y, |p, q| p + q),
        BinaryOp::Sub => (x - y, |p, q| p - q),
        BinaryOp::Mul => (x * y, |p, q| p * q),
        BinaryOp::Div => (x / y, |p, q| p / q),
        BinaryOp::Rem => (x % y, |p, q| p % q),
        BinaryOp::Pow => (x.powf(y), f64::powf),
        BinaryOp::Minimum => (x.minimum(y), |p, q| {
            if p.is_nan() || q.is_nan() {
                f64::NAN
            } else {
                p.min(q)
            }
        }),
        BinaryOp::Maximum => (x.maximum(y), |p, q| {
            if p.is_nan() || q.is_nan() {
                f64::NAN
            } else {
                p.max(q)
            }
        }),
        BinaryOp::Arctan2 => (x.arctan2(y), f64::atan2),
        BinaryOp::Hypot => (x.hypot(y), f64::hypot),
        BinaryOp::Copysign => (x.copysign(y), f64::copysign),
        // NumPy's npy_logaddexp.
        BinaryOp::Logaddexp => (x.logaddexp(y), |p, q| {
            if p == q {
                p + std::f64::consts::LN_2
            } else if p.is_nan() || q.is_nan() {
                f64::NAN
            } else {
                p.max(q) + (-(p - q).abs()).exp().ln_1p()
            }
        }),
        // Rust's min/max ignore a NaN operand, as fmin/fmax.
        BinaryOp::Fmin => (x.fmin(y), f64::min),
        BinaryOp::Fmax => (x.fmax(y), f64::max),
        // Python's float `//` (CPython's float_floor_div, which NumPy follows).
        BinaryOp::FloorDivide => (x.floor_divide(y), |p, q| {
            if q == 0.0 {
                return p / q;
            }
            let m = p % q;
            let mut d = (p - m) / q;
            if m != 0.0 && (q < 0.0) != (m < 0.0) {
                d -= 1.0;
            }
            if d == 0.0 {
                return 0.0f64.copysign(p / q);
            }
            let f = d.floor();
            if d - f > 0.5 {
                f + 1.0
            } else {
                f
            }
        }),
        BinaryOp::And
        | BinaryOp::Or
        | BinaryOp::BitAnd
        | BinaryOp::BitOr
        | BinaryOp::BitXor
        | BinaryOp::LeftShift
        | BinaryOp::RightShift => return None,
    };
    Some((got.unwrap(), want))
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn binary_ops_broadcast_like_numpy((a, b, ga, gb) in (broadcast_pair(), any::<bool>()).prop_flat_map(|((sa, sb), swap)| {
        let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
        (array_f64(sa.clone(), true), array_f64(sb.clone(), true), grid(sa), grid(sb))
    })) {
        let (x, y) = (chunked(&a, &ga), chunked(&b, &gb));
        for &op in BinaryOp::ALL {
            match binary_case(op, &x, &y) {
                Some((got, f)) => assert_close(&got.compute().unwrap(), &np_broadcast(&a, &b, f), 0.0),
                None => prop_assert!(!op.domain().contains(DType::F64), "{:?}", op),
            }
        }
        let lt = x.less(&y).unwrap().compute().unwrap();
        prop_assert_eq!(lt.mapv(|v| if v { 1.0 } else { 0.0 }), np_broadcast(&a, &b, |p, q| if p < q { 1.0 } else { 0.0 }));
        let w = where_(&x.greater_equal(&y).unwrap(), &x, &y).unwrap().compute().unwrap();
        assert_close(&w, &np_broadcast(&a, &b, |p, q| if p >= q { p } else { q }), 0.0);
    }

    #[test]
    fn math_matches_std((a, g) in array_and_grid(3, 8, true), s in -3.0f64..3.0) {
        let x = chunked(&a, &g);
        for &op in UnaryOp::ALL.iter().chain(&[UnaryOp::Powi(3), UnaryOp::Powi(-2)]) {
            match unary_case(op, &x) {
                UnaryCase::Float(d, f) => assert_close(&d.compute().unwrap(), &a.mapv(f), 1e-14),
                UnaryCase::Bool(d, f) => prop_assert_eq!(d.compute().unwrap(), a.mapv(f)),
                UnaryCase::NotFloat => prop_assert!(!op.domain().contains(DType::F64), "{:?}", op),
            }
        }
        assert_close(&(&x * s + 1.0).compute().unwrap(), &a.mapv(|v| v * s + 1.0), 0.0);
        assert_close(&(2.0 - &x).compute().unwrap(), &a.mapv(|v| 2.0 - v), 0.0);
        assert_close(&x.abs().powf(s).unwrap().compute().unwrap(), &a.mapv(|v| v.abs().powf(s)), 1e-14);
        assert_close(&x.clip(-1.0, 2.0).compute().unwrap(), &a.mapv(|v| if v.is_nan() { v } else { v.clamp(-1.0, 2.0) }), 0.0);
        prop_assert_eq!(x.isnan().compute().unwrap(), a.mapv(f64::is_nan));
        prop_assert_eq!(x.isfinite().compute().unwrap(), a.mapv(f64::is_finite));
        prop_assert_eq!(x.cast::<i32>().compute().unwrap(), a.mapv(|v| v as i32));
        prop_assert_eq!(x.cast::<u8>().compute().unwrap(), a.mapv(|v| v as u8));
        prop_assert_eq!(x.cast::<bool>().compute().unwrap(), a.mapv(|v| v != 0.0));
    }

    #[test]
    fn integer_semantics_follow_rust((a, g) in int_array_and_grid(3, 7), d in -3i32..3) {
        let x = chunked(&a, &g);
        let div = |p: i32, q: i32| if q == 0 { 0 } else { p.wrapping_div(q) };
        let rem = |p: i32, q: i32| if q == 0 { 0 } else { p.wrapping_rem(q) };
        prop_assert_eq!((&x / d).compute().unwrap(), a.mapv(|p| div(p, d)));
        prop_assert_eq!((&x % d).compute().unwrap(), a.mapv(|p| rem(p, d)));
        prop_assert_eq!((&x * i32::MAX).compute().unwrap(), a.mapv(|p| p.wrapping_mul(i32::MAX)));
        prop_assert_eq!((100 - &x).compute().unwrap(), a.mapv(|p| 100 - p));
        prop_assert_eq!(x.abs().compute().unwrap(), a.mapv(i32::wrapping_abs));
        let xy = (&x * &x).unwrap().maximum(&x).unwrap();
        prop_assert_eq!(xy.compute().unwrap(), a.mapv(|p| (p * p).max(p)));
        let b = x.greater(0).unwrap();
        let nb = !&b;
        let both = (&b & &x.less(5).unwrap()).unwrap();
        prop_assert_eq!(nb.compute().unwrap(), a.mapv(|p| p <= 0));
        prop_assert_eq!(both.compute().unwrap(), a.mapv(|p| p > 0 && p < 5));
        prop_assert_eq!(x.cast::<f32>().compute().unwrap(), a.mapv(|p| p as f32));
    }
}

#[test]
fn chains_fuse_into_one_task_per_chunk() {
    let x = DArray::<f64>::random_uniform(1, &[100, 60], 0.0, 1.0, [30, 25]).unwrap();
    let y = (x.sin().powi(2) + &x.cos().powi(2)).unwrap();
    let z = (&(&y * 2.0) - 1.0).exp();
    let g = z.graph().unwrap();
    // 12 random blocks + 12 fused blocks, nothing in between.
    assert_eq!(g.op_counts().get("random"), Some(&12));
    assert_eq!(g.op_counts().get("fused"), Some(&12));
    assert_eq!(g.len(), 24);
    // No key of an intermediate array (sin, powi, add, mul, sub) exists.
    let arrays: std::collections::BTreeSet<u64> = g.tasks.iter().map(|t| t.key.array.0).collect();
    assert_eq!(arrays.len(), 2);
    // The chain ending in a reduction fuses into the partials.
    let m = z.mean().unwrap().graph().unwrap();
    assert_eq!(m.op_counts().get("fused"), None);
    assert_eq!(m.op_counts().get("partial"), Some(&12));
    let want = (2.0f64 * 1.0 - 1.0).exp();
    assert!((z.mean().unwrap().compute_scalar().unwrap() - want).abs() < 1e-12);
}

#[test]
fn mismatched_grids_are_unified() {
    let a = ArrayD::from_shape_fn(IxDyn(&[10, 7]), |i| (i[0] * 7 + i[1]) as f64);
    let x = DArray::from_ndarray(&a, vec![vec![3, 3, 4], vec![7]]).unwrap();
    let y = DArray::from_ndarray(&a, vec![vec![5, 5], vec![2, 5]]).unwrap();
    let z = (&x + &y).unwrap();
    assert_eq!(z.chunks(), &vec![vec![3, 2, 1, 4], vec![2, 5]]);
    assert_eq!(z.compute().unwrap(), &a * 2.0);
}

#[test]
fn incompatible_shapes_are_errors_when_built() {
    let x = DArray::<f64>::ones(&[3, 4], [2, 2]).unwrap();
    let y = DArray::<f64>::ones(&[3], [2]).unwrap();
    match &x + &y {
        Err(darray::Error::Broadcast { left, right }) => {
            assert_eq!(left, vec![3, 4]);
            assert_eq!(right, vec![3]);
        }
        other => panic!("expected a broadcast error, got {other:?}"),
    }
    assert!(where_(&x.less(1.0).unwrap(), &x, &y).is_err());
}

#[test]
fn zero_size_and_zero_d_arrays() {
    let x = DArray::<f64>::zeros(&[0, 3], [1, 2]).unwrap();
    let y = (&x.sin() + 1.0).compute().unwrap();
    assert_eq!(y.shape(), &[0, 3]);
    let s = DArray::<i64>::full(&[], 7, Vec::<usize>::new()).unwrap();
    assert_eq!((&s * 6).compute_scalar().unwrap(), 42);
}

/// Every pairing of owned and borrowed operands compiles (array with array,
/// array with scalar, scalar with array) and computes what the owned form does.
#[test]
fn operators_take_owned_and_borrowed_operands() {
    let a = ArrayD::from_shape_fn(IxDyn(&[5, 4]), |i| (i[0] * 4 + i[1]) as f64 + 1.0);
    let x = DArray::from_ndarray(&a, [2, 3]).unwrap();
    let y = DArray::from_ndarray(&a.mapv(|v| v * 0.5 - 3.25), [3, 2]).unwrap();
    let i = DArray::from_ndarray(&a.mapv(|v| v as i32 - 7), [2, 2]).unwrap();
    macro_rules! check {
        ($op:tt, $f:expr) => {{
            let want = (x.clone() $op y.clone()).unwrap().compute().unwrap();
            let oracle = Zip::from(&a).map_collect(|&v| $f(v, v * 0.5 - 3.25));
            assert_eq!(want, oracle, "{}", stringify!($op));
            for got in [&x $op &y, &x $op y.clone(), x.clone() $op &y] {
                assert_eq!(got.unwrap().compute().unwrap(), want, "{}", stringify!($op));
            }
            let want = (x.clone() $op 2.5).compute().unwrap();
            assert_eq!(want, a.mapv(|v| $f(v, 2.5)));
            assert_eq!((&x $op 2.5).compute().unwrap(), want);
            let want = (2.5 $op x.clone()).compute().unwrap();
            assert_eq!(want, a.mapv(|v| $f(2.5, v)));
            assert_eq!((2.5 $op &x).compute().unwrap(), want);
            let want = (3 $op i.clone()).compute().unwrap();
            assert_eq!((3 $op &i).compute().unwrap(), want);
            assert_eq!((&i $op 3).compute().unwrap(), (i.clone() $op 3).compute().unwrap());
            let want = (i.clone() $op i.clone()).unwrap().compute().unwrap();
            assert_eq!((&i $op i.clone()).unwrap().compute().unwrap(), want);
        }};
    }
    check!(+, |p: f64, q: f64| p + q);
    check!(-, |p: f64, q: f64| p - q);
    check!(*, |p: f64, q: f64| p * q);
    check!(/, |p: f64, q: f64| p / q);
    check!(%, |p: f64, q: f64| p % q);
    // The example: a borrowed array plus an owned temporary.
    let z = (&x + x.cos()).unwrap().compute().unwrap();
    assert_eq!(z, (x.clone() + x.cos()).unwrap().compute().unwrap());
    assert_eq!((-x.clone()).compute().unwrap(), (-&x).compute().unwrap());

    let p = x.less(6.0).unwrap();
    let q = y.greater(-1.0).unwrap();
    let (pa, qa) = (a.mapv(|v| v < 6.0), a.mapv(|v| v * 0.5 - 3.25 > -1.0));
    macro_rules! check_bool {
        ($op:tt) => {{
            let want = (p.clone() $op q.clone()).unwrap().compute().unwrap();
            assert_eq!(want, Zip::from(&pa).and(&qa).map_collect(|&s, &t| s $op t));
            for got in [&p $op &q, &p $op q.clone(), p.clone() $op &q] {
                assert_eq!(got.unwrap().compute().unwrap(), want);
            }
            for s in [false, true] {
                let want = pa.mapv(|v| v $op s);
                assert_eq!((p.clone() $op s).compute().unwrap(), want);
                assert_eq!((&p $op s).compute().unwrap(), want);
                assert_eq!((s $op p.clone()).compute().unwrap(), want);
                assert_eq!((s $op &p).compute().unwrap(), want);
            }
        }};
    }
    check_bool!(&);
    check_bool!(|);
    assert_eq!((!p.clone()).compute().unwrap(), pa.mapv(|v| !v));
    assert_eq!((!&p).compute().unwrap(), pa.mapv(|v| !v));
}

fn shift2(x: &DArray<f64>) -> DArray<f64> {
    (&x.slice(s![1.., ..]).unwrap() + &x.slice(s![..-1, ..]).unwrap()).unwrap()
}

/// The 5-point Laplacian written with shifted slices.
fn laplace5(x: &DArray<f64>) -> DArray<f64> {
    let n = x.slice(s![..-2, 1..-1]).unwrap();
    let so = x.slice(s![2.., 1..-1]).unwrap();
    let w = x.slice(s![1..-1, ..-2]).unwrap();
    let e = x.slice(s![1..-1, 2..]).unwrap();
    let c = x.slice(s![1..-1, 1..-1]).unwrap();
    let sum = (((n + so).unwrap() + w).unwrap() + e).unwrap();
    (sum - c * 4.0).unwrap()
}

fn laplace5_oracle(a: &ndarray::Array2<f64>) -> ndarray::Array2<f64> {
    let c = &a.slice(s![1..-1, 1..-1]) * 4.0;
    a.slice(s![..-2, 1..-1]).to_owned()
        + a.slice(s![2.., 1..-1])
        + a.slice(s![1..-1, ..-2])
        + a.slice(s![1..-1, 2..])
        - c
}

/// Shifted slices of one array keep one operand's grid (the others are read
/// in pieces on it) instead of being cut into slivers of one or two elements at
/// every block edge (5,069 tasks for the Laplacian of 8192 x 8192 in 1024 x 1024
/// chunks before), with no slice or assembly task.
#[test]
fn shifted_slices_keep_the_blocks_instead_of_slivers() {
    let x = DArray::<f64>::random_uniform(3, &[8192, 8192], 0.0, 1.0, [1024, 1024]).unwrap();
    let y = shift2(&x);
    assert_eq!(y.numblocks(), vec![8, 8]);
    // 64 reads and 64 fused blocks: the aligned operand is read through a
    // window of `x`'s block, the shifted one in pieces from two of them.
    let ops = |y: &DArray<f64>| {
        let g = y.graph().unwrap();
        let mut n = std::collections::BTreeMap::<&'static str, usize>::new();
        for t in &g.tasks {
            *n.entry(t.op.name()).or_default() += 1;
        }
        n
    };
    let want = std::collections::BTreeMap::from([("fused", 64), ("random", 64)]);
    assert_eq!(ops(&y), want);
    let l = laplace5(&x);
    assert_eq!(l.numblocks(), vec![8, 8]);
    // The same for the Laplacian: 128 tasks (500 with a slice task per
    // operand block and an assembled block per shifted operand).
    assert_eq!(ops(&l), want);
    let sum = ops(&l.sum().unwrap());
    assert_eq!(sum.get("partial"), Some(&64), "{sum:?}");
    assert_eq!(sum.get("assemble"), None, "{sum:?}");

    // The same block structure, small enough for the oracle.
    let x = DArray::<f64>::random_uniform(3, &[512, 512], 0.0, 1.0, [64, 64]).unwrap();
    let a = x
        .compute()
        .unwrap()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let y = shift2(&x);
    assert_eq!(y.numblocks(), vec![8, 8]);
    let want = &a.slice(s![1.., ..]) + &a.slice(s![..-1, ..]);
    assert_eq!(y.compute().unwrap(), want.into_dyn());
    let l = laplace5(&x);
    assert_eq!(l.numblocks(), vec![8, 8]);
    assert_close(
        &l.compute().unwrap(),
        &laplace5_oracle(&a).into_dyn(),
        1e-15,
    );
}

/// Slices that drop or add an axis (an index, a new axis) feed fused tasks
/// and reductions as their own blocks (they are not windows of the array's).
#[test]
fn indexed_and_new_axis_slices_fuse() {
    let a = ArrayD::from_shape_fn(IxDyn(&[7, 5]), |i| (i[0] * 5 + i[1]) as f64 - 11.0);
    let x = DArray::from_ndarray(&a, vec![vec![3, 4], vec![2, 3]]).unwrap();
    let col = (x.slice(s![.., 1]).unwrap() * 2.0 + 1.0).compute().unwrap();
    assert_eq!(col, a.slice(s![.., 1]).mapv(|v| v * 2.0 + 1.0).into_dyn());
    let row = (x.slice(s![2, 1..]).unwrap() - 0.5).sum().unwrap();
    assert_eq!(
        row.compute_scalar().unwrap(),
        a.slice(s![2, 1..]).sum() - 2.0
    );
    let up = (x.slice(s![1.., ndarray::NewAxis, ..]).unwrap() + 1.0)
        .compute()
        .unwrap();
    assert_eq!(up.shape(), &[6, 1, 5]);
    assert_eq!(
        up,
        a.slice(s![1.., ndarray::NewAxis, ..])
            .mapv(|v| v + 1.0)
            .into_dyn()
    );
}

/// Grids that really differ (4 blocks against 3) are still refined.
#[test]
fn different_grids_are_refined_not_aligned() {
    let a = ArrayD::from_shape_fn(IxDyn(&[12]), |i| i[0] as f64);
    let x = DArray::from_ndarray(&a, [3]).unwrap();
    let y = DArray::from_ndarray(&a, [4]).unwrap();
    let z = (&x + &y).unwrap();
    assert_eq!(z.chunks(), &vec![vec![3, 1, 2, 2, 1, 3]]);
    assert_eq!(z.compute().unwrap(), &a * 2.0);
}

/// Per axis of `a`: a shift `d` (at most 3 and the length) and where a third
/// operand starts (`0..=d`).
type Shifted = (ArrayD<f64>, Vec<Vec<usize>>, Vec<(usize, usize)>);

fn shifted_slices() -> impl Strategy<Value = Shifted> {
    array_and_grid(3, 12, false).prop_flat_map(|(a, g)| {
        let shifts: Vec<_> = a
            .shape()
            .iter()
            .map(|&n| (0..=n.min(3)).prop_flat_map(|d| (Just(d), 0..=d)))
            .collect();
        (Just(a), Just(g), shifts)
    })
}

proptest! {
    #![proptest_config(config(64))]

    /// Shifted slices of one chunked array combine as the same slices of the
    /// whole array do, whether their grids are aligned or refined.
    #[test]
    fn shifted_slices_match_ndarray((a, g, shifts) in shifted_slices()) {
        let x = chunked(&a, &g);
        let window = |start: &dyn Fn(usize) -> usize| {
            let info: Vec<SliceInfoElem> = shifts
                .iter()
                .zip(a.shape())
                .enumerate()
                .map(|(ax, (&(d, _), &n))| {
                    let s = start(ax);
                    SliceInfoElem::Slice { start: s as isize, end: Some((s + n - d) as isize), step: 1 }
                })
                .collect();
            let view = a.slice_each_axis(|desc| {
                let ax = desc.axis.index();
                let s = start(ax);
                ndarray::Slice::from(s..s + a.shape()[ax] - shifts[ax].0)
            });
            (x.slice(&info).unwrap(), view.to_owned())
        };
        let (p, pa) = window(&|_| 0);
        let (q, qa) = window(&|ax| shifts[ax].0);
        let (r, ra) = window(&|ax| shifts[ax].1);
        let z = ((&p + q.clone()).unwrap() - &r * 2.0).unwrap();
        let want = &pa + &qa - &ra * 2.0;
        assert_close(&z.compute().unwrap(), &want, 0.0);
        // Reductions fuse the same program, reading through the same windows.
        if !want.is_empty() {
            let total = z.sum().unwrap().compute_scalar().unwrap();
            prop_assert!((total - want.sum()).abs() <= 1e-9 * (1.0 + want.mapv(f64::abs).sum()));
            let cols = z.sum_axis(0).unwrap().compute().unwrap();
            assert_close(&cols, &want.sum_axis(ndarray::Axis(0)), 1e-9);
        }
        // Bit-identical on 1 and 2 threads.
        let one = LocalExecutor::with_threads(1).unwrap();
        let two = LocalExecutor::with_threads(2).unwrap();
        prop_assert_eq!(z.compute_with(&one).unwrap(), z.compute_with(&two).unwrap());
        // Never more blocks than the operands' common refinement.
        for (ax, out) in z.chunks().iter().enumerate() {
            let refined = [&q, &r]
                .iter()
                .fold(p.chunks()[ax].clone(), |g, o| refine(&g, &o.chunks()[ax]));
            prop_assert!(out.len() <= refined.len(), "{:?} against {:?}", out, refined);
        }
    }
}
