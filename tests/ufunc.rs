//! The ufuncs of issue 13 against plain ndarray on the whole array, over random
//! shapes and chunkings: integer semantics (Python's floor division, NumPy's
//! shifts, bit operations, sign) exactly; the composed float ufuncs (`isclose`,
//! `nan_to_num`, `deg2rad`, ...) exactly against the same formula; NumPy's
//! documented values at special points; the typed error for bit ops on floats.
//! The one-argument and two-argument float functions are covered by
//! `tests/elementwise.rs` (which iterates `UnaryOp::ALL`/`BinaryOp::ALL`) and
//! their accuracy by the kernel tests.

mod common;

/// Two arrays of one shape, each with its own grid.
type Pair<T> = (ArrayD<T>, ArrayD<T>, Vec<Vec<usize>>, Vec<Vec<usize>>);

use common::*;
use darray::{DArray, Error};
use ndarray::{arr1, ArrayD, IxDyn, Zip};
use proptest::prelude::*;

/// Python's `//` on integers, on exact i64 values, divisor 0 giving 0.
fn py_floordiv(p: i32, q: i32) -> i32 {
    if q == 0 {
        return 0;
    }
    let (p, q) = (i64::from(p), i64::from(q));
    let f = (p as f64 / q as f64).floor() as i64;
    // Exact check of the float estimate: p = f*q + r with r of q's sign.
    let f = if (p - f * q) != 0 && ((p - f * q) < 0) != (q < 0) {
        f - 1
    } else {
        f
    };
    i32::try_from(f).unwrap_or(i32::MIN)
}

/// NumPy's shifts on i32 as documented: amounts outside 0..32 give 0 (left) or
/// the sign fill (right).
fn np_shl(p: i32, q: i32) -> i32 {
    if (0..32).contains(&q) {
        ((i64::from(p) << q) & 0xFFFF_FFFF) as u32 as i32
    } else {
        0
    }
}
fn np_shr(p: i32, q: i32) -> i32 {
    if (0..32).contains(&q) {
        p >> q
    } else if p < 0 {
        -1
    } else {
        0
    }
}

fn zip2<T: Copy, U>(a: &ArrayD<T>, b: &ArrayD<T>, f: impl Fn(T, T) -> U) -> ArrayD<U> {
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

/// NumPy's `isclose` formula, element by element.
fn np_isclose(x: f64, y: f64, rtol: f64, atol: f64, equal_nan: bool) -> bool {
    let close = ((x - y).abs() <= atol + rtol * y.abs() && y.is_finite()) || x == y;
    close || (equal_nan && x.is_nan() && y.is_nan())
}

fn int_pair() -> impl Strategy<Value = Pair<i32>> {
    shape(3, 7).prop_flat_map(|s| {
        (
            array_i32(s.clone()),
            array_i32(s.clone()).prop_map(|a| a.mapv(|v| v / 2)),
            grid(s.clone()),
            grid(s),
        )
    })
}

fn float_pair() -> impl Strategy<Value = Pair<f64>> {
    shape(3, 7).prop_flat_map(|s| {
        (
            array_f64(s.clone(), true),
            array_f64(s.clone(), true),
            grid(s.clone()),
            grid(s),
        )
    })
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn integer_ufuncs_match_numpy_semantics((a, b, ga, gb) in int_pair()) {
        let (x, y) = (chunked(&a, &ga), chunked(&b, &gb));
        prop_assert_eq!(x.floor_divide(&y).unwrap().compute().unwrap(), zip2(&a, &b, py_floordiv));
        prop_assert_eq!(x.bitwise_and(&y).unwrap().compute().unwrap(), zip2(&a, &b, |p, q| p & q));
        prop_assert_eq!(x.bitwise_or(&y).unwrap().compute().unwrap(), zip2(&a, &b, |p, q| p | q));
        prop_assert_eq!(x.bitwise_xor(&y).unwrap().compute().unwrap(), zip2(&a, &b, |p, q| p ^ q));
        prop_assert_eq!(x.bitwise_not().unwrap().compute().unwrap(), a.mapv(|p| !p));
        // Amounts in -10..10 and 25..45 reach both ends of the valid range.
        let sh = b.mapv(|q| if q >= 0 { q + 25 } else { q });
        let ys = chunked(&sh, &gb);
        prop_assert_eq!(x.left_shift(&y).unwrap().compute().unwrap(), zip2(&a, &b, np_shl));
        prop_assert_eq!(x.left_shift(&ys).unwrap().compute().unwrap(), zip2(&a, &sh, np_shl));
        prop_assert_eq!(x.right_shift(&ys).unwrap().compute().unwrap(), zip2(&a, &sh, np_shr));
        prop_assert_eq!(x.sign().compute().unwrap(), a.mapv(i32::signum));
        prop_assert_eq!(x.square().compute().unwrap(), a.mapv(|p| p.wrapping_mul(p)));
        prop_assert_eq!(x.reciprocal().compute().unwrap(), a.mapv(|p| if p == 0 { 0 } else { 1 / p }));
        prop_assert_eq!(x.fmin(&y).unwrap().compute().unwrap(), zip2(&a, &b, i32::min));
        prop_assert_eq!(x.fmax(&y).unwrap().compute().unwrap(), zip2(&a, &b, i32::max));
        prop_assert_eq!(x.isinf().compute().unwrap(), a.mapv(|_| false));
    }

    #[test]
    fn composed_float_ufuncs_match_their_formulas((a, b, ga, gb) in float_pair(), rtol in 0.0f64..0.5, atol in 0.0f64..2.0) {
        let (x, y) = (chunked(&a, &ga), chunked(&b, &gb));
        // Equal infinities and near neighbours, so the `x == y` and tolerance
        // branches are both taken.
        let b2 = zip2(&a, &b, |p, q| if q > 50.0 { p } else if q < -50.0 { p + 0.5 } else { q });
        let a2 = a.mapv(|p| if p > 90.0 { f64::INFINITY } else { p });
        let b2 = Zip::from(&a2).and(&b2).map_collect(|&p, &q| if p.is_infinite() && q > 0.0 { p } else { q });
        let (x2, y2) = (chunked(&a2, &ga), chunked(&b2, &gb));
        for equal_nan in [false, true] {
            let got = x2.isclose(&y2, rtol, atol, equal_nan).unwrap().compute().unwrap();
            prop_assert_eq!(got, zip2(&a2, &b2, |p, q| np_isclose(p, q, rtol, atol, equal_nan)));
            let all = x2.allclose(&y2, rtol, atol, equal_nan).unwrap().compute_scalar().unwrap();
            prop_assert_eq!(all, zip2(&a2, &b2, |p, q| np_isclose(p, q, rtol, atol, equal_nan)).iter().all(|&c| c));
        }
        let inf = a.mapv(|p| if p > 60.0 { f64::INFINITY } else if p < -60.0 { f64::NEG_INFINITY } else { p });
        let xi = chunked(&inf, &ga);
        let n2n = |p: f64, nan: f64, pos: f64, neg: f64| if p.is_nan() { nan } else if p == f64::INFINITY { pos } else if p == f64::NEG_INFINITY { neg } else { p };
        assert_bits_eq(&xi.nan_to_num().compute().unwrap(), &inf.mapv(|p| n2n(p, 0.0, f64::MAX, f64::MIN)));
        assert_bits_eq(&xi.nan_to_num_with(-1.0, 7.0, -7.0).compute().unwrap(), &inf.mapv(|p| n2n(p, -1.0, 7.0, -7.0)));
        assert_bits_eq(&x.deg2rad().compute().unwrap(), &a.mapv(|p| p * (std::f64::consts::PI / 180.0)));
        assert_bits_eq(&x.rad2deg().compute().unwrap(), &a.mapv(|p| p * (180.0 / std::f64::consts::PI)));
        assert_bits_eq(&x.square().compute().unwrap(), &a.mapv(|p| p * p));
        assert_bits_eq(&x.reciprocal().compute().unwrap(), &a.mapv(|p| 1.0 / p));
        let (pa, pb) = (a.mapv(|p| p > 0.0), b.mapv(|q| q > 0.0));
        let xor = x.greater(0.0).unwrap().logical_xor(y.greater(0.0).unwrap()).unwrap();
        prop_assert_eq!(xor.compute().unwrap(), zip2(&pa, &pb, |p, q| p ^ q));
        // A fused chain of new ops: wind speed and direction from u and v.
        let speed = x.hypot(&y).unwrap().sqrt().rint();
        let dir = x.arctan2(&y).unwrap().rad2deg();
        assert_bits_eq(&speed.compute().unwrap(), &zip2(&a, &b, |p, q| p.hypot(q).sqrt().round_ties_even()));
        assert_bits_eq(&dir.compute().unwrap(), &zip2(&a, &b, |p, q| p.atan2(q) * (180.0 / std::f64::consts::PI)));
    }

    #[test]
    fn f32_ufuncs_are_the_f64_functions_rounded((a, g) in array_and_grid(2, 9, true)) {
        let a32 = a.mapv(|v| v as f32);
        let x = chunked(&a32, &g);
        // The f32 functions run in f64 and round once: bit for bit (NaN
        // matching NaN).
        let check = |got: DArray<f32>, f: fn(f64) -> f64| {
            let got = got.compute().unwrap();
            for (g, w) in got.iter().zip(a32.mapv(|v| f(f64::from(v)) as f32).iter()) {
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{g:e} vs {w:e}"
                );
            }
        };
        check(x.log1p(), f64::ln_1p);
        check(x.expm1(), f64::exp_m1);
        check(x.arcsinh(), f64::asinh);
        check(x.arctanh(), f64::atanh);
        check(x.rint(), f64::round_ties_even);
        check(x.cbrt(), f64::cbrt);
        check(x.fmax(1.5).unwrap(), |v| v.max(1.5));
    }
}

#[test]
fn special_values_follow_numpy() {
    let v = arr1(&[
        -2.5,
        -1.5,
        -0.5,
        -0.0,
        0.0,
        0.5,
        1.5,
        2.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ]);
    let x = DArray::from_ndarray(&v, [4]).unwrap();
    let got = |d: DArray<f64>| d.compute().unwrap().into_iter().collect::<Vec<_>>();
    // rint is half to even, round half away from zero.
    let r = got(x.rint());
    assert_eq!(r[..8], [-2.0, -2.0, -0.0, -0.0, 0.0, 0.0, 2.0, 2.0]);
    assert!(r[2].is_sign_negative() && r[8].is_nan() && r[9] == f64::INFINITY);
    assert_eq!(
        got(x.round())[..8],
        [-3.0, -2.0, -1.0, -0.0, 0.0, 1.0, 2.0, 3.0]
    );
    // sign: -0.0 and 0.0 give +0.0, NaN stays NaN.
    let s = got(x.sign());
    assert_eq!(s[..8], [-1.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    assert!(s[3].is_sign_positive() && s[8].is_nan() && s[9] == 1.0 && s[10] == -1.0);
    let sb: Vec<bool> = x.signbit().compute().unwrap().into_iter().collect();
    assert_eq!(
        sb,
        [true, true, true, true, false, false, false, false, false, false, true]
    );
    let inf: Vec<bool> = x.isinf().compute().unwrap().into_iter().collect();
    assert_eq!(inf.iter().filter(|&&b| b).count(), 2);
    // fmin/fmax ignore NaN, minimum propagates it.
    let fm = got(x.fmin(f64::NAN).unwrap());
    assert!(fm[0] == -2.5 && fm[8].is_nan());
    assert!(got(x.minimum(f64::NAN).unwrap()).iter().all(|v| v.is_nan()));
    // logaddexp at equal infinities and far apart.
    let l = got(x.logaddexp(&x).unwrap());
    assert_eq!((l[9], l[10]), (f64::INFINITY, f64::NEG_INFINITY));
    assert_eq!(got(x.logaddexp(1000.0).unwrap())[0], 1000.0);
    // Float floor division: Python's 1.0 // 0.1 == 9.0, -1.0 // inf == -1.0.
    let one = DArray::<f64>::full(&[1], 1.0, [1]).unwrap();
    assert_eq!(got(one.floor_divide(0.1).unwrap()), [9.0]);
    assert_eq!(got((-&one).floor_divide(f64::INFINITY).unwrap()), [-1.0]);
    assert_eq!(got(one.floor_divide(0.0).unwrap()), [f64::INFINITY]);
    // Domain edges: arccosh(1) = 0, arctanh(±1) = ±inf, arcsin(2) = NaN.
    let e = DArray::from_ndarray(&arr1(&[1.0, -1.0, 2.0]), [2]).unwrap();
    assert_eq!(got(e.arccosh())[0], 0.0);
    assert_eq!(got(e.arctanh())[..2], [f64::INFINITY, f64::NEG_INFINITY]);
    assert!(got(e.arcsin())[2].is_nan());
    // Integer extremes: MIN // -1 wraps, shifts by the width give 0 or -1.
    let m = DArray::from_ndarray(&arr1(&[i8::MIN, -1, 1]), [2]).unwrap();
    let gi = |d: DArray<i8>| d.compute().unwrap().into_iter().collect::<Vec<_>>();
    assert_eq!(gi(m.floor_divide(-1).unwrap()), [i8::MIN, 1, -1]);
    assert_eq!(gi(m.right_shift(8).unwrap()), [-1, -1, 0]);
    assert_eq!(gi(m.left_shift(-1).unwrap()), [0, 0, 0]);
    assert_eq!(gi(m.sign()), [-1, -1, 1]);
    let u = DArray::from_ndarray(&arr1(&[0u16, 7, u16::MAX]), [2]).unwrap();
    let gu: Vec<u16> = u.sign().compute().unwrap().into_iter().collect();
    assert_eq!(gu, [0, 1, 1]);
}

#[test]
fn bit_operations_on_floats_are_typed_errors_naming_the_array() {
    let x = DArray::<f64>::ones(&[4], [2]).unwrap();
    for r in [
        x.bitwise_and(1.0),
        x.bitwise_or(&x),
        x.bitwise_xor(1.0),
        x.left_shift(1.0),
        x.right_shift(1.0),
        x.bitwise_not(),
    ] {
        match r {
            Err(Error::InvalidArgument { array, reason }) => {
                assert_eq!(array, x.name());
                assert!(
                    reason.contains("integer dtype") && reason.contains("float64"),
                    "{reason}"
                );
            }
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }
}

#[test]
fn new_ufuncs_fuse_and_agree_across_thread_counts() {
    let a = ArrayD::from_shape_fn(IxDyn(&[37, 23]), |i| {
        (i[0] as f64 - 18.0) * 0.37 + i[1] as f64 * 0.011
    });
    let x = DArray::from_ndarray(&a, [10, 7]).unwrap();
    let y = x
        .arcsinh()
        .logaddexp(x.expm1())
        .unwrap()
        .fmax(x.cbrt())
        .unwrap()
        .floor_divide(0.3)
        .unwrap();
    assert_eq!(
        y.num_tasks().unwrap(),
        x.num_tasks().unwrap() * 2,
        "one fused task per block"
    );
    let want = y.compute_with(&executors()[0]).unwrap();
    for exec in executors() {
        assert_bits_eq(&y.compute_with(&exec).unwrap(), &want);
    }
}
