//! Slice versions of `sin`, `cos`, `sin`+`cos` and `exp` for f64 and f32: the
//! [`super::math`] kernels over the whole slice in one vectorized loop, then `std`
//! for the few elements outside the kernels' range (NaN, infinities, huge
//! arguments, overflow and underflow). Each is built for the baseline target and
//! for AVX2, chosen at run time.

use super::math::{
    cos_fast, cos_fast_f32, exp_fast, exp_fast_f32, exp_in_range, exp_in_range_f32, sin_fast,
    sin_fast_f32, sincos_fast, sincos_fast_f32, trig_in_range, trig_in_range_f32,
};

/// Writes `$fast` of every element of `$xs` into `$out`, then redoes with `$slow`
/// those for which `$ok` fails. The first loop is the vectorized one; the check is
/// a vectorized reduction, so the usual all-in-range slice skips the second pass.
/// A macro rather than a function taking closures: every call in the loop is then
/// a direct call to an `#[inline(always)]` fn, which is guaranteed to inline
/// (closures go through `Fn::call` shims that the inliner may keep, leaving a
/// scalar loop with a call per element).
macro_rules! apply {
    ($xs:expr, $out:expr, $fast:expr, $ok:expr, $slow:expr) => {{
        let (xs, out) = ($xs, $out);
        debug_assert_eq!(xs.len(), out.len());
        let mut all_in = true;
        for (o, &x) in out.iter_mut().zip(xs) {
            *o = $fast(x);
            all_in &= $ok(x);
        }
        if !all_in {
            for (o, &x) in out.iter_mut().zip(xs) {
                if !$ok(x) {
                    *o = $slow(x);
                }
            }
        }
    }};
}

/// [`apply!`] for sin and cos at once.
macro_rules! apply_sincos {
    ($xs:expr, $sin:expr, $cos:expr, $fast:expr, $ok:expr, $slow:expr) => {{
        let (xs, sin, cos) = ($xs, $sin, $cos);
        debug_assert!(xs.len() == sin.len() && xs.len() == cos.len());
        let mut all_in = true;
        for ((s, c), &x) in sin.iter_mut().zip(cos.iter_mut()).zip(xs) {
            (*s, *c) = $fast(x);
            all_in &= $ok(x);
        }
        if !all_in {
            for ((s, c), &x) in sin.iter_mut().zip(cos.iter_mut()).zip(xs) {
                if !$ok(x) {
                    (*s, *c) = $slow(x);
                }
            }
        }
    }};
}

/// Defines `pub(crate) fn $name(args)` running `$body`, compiled twice: for the
/// baseline target and with AVX2, picked at run time. The AVX2 build has twice the
/// lanes; it enables no FMA, so LLVM cannot fuse multiply-adds and both builds give
/// bit-identical results.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    generic($($arg),*);
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, as checked on the line above.
                    unsafe { avx2($($arg),*) };
                    return;
                }
            }
            generic($($arg),*);
        }
    };
}

multiversion! {
    /// Sine of each element of `xs` into `out` (same length).
    fn sin_f64(xs: &[f64], out: &mut [f64]) { apply!(xs, out, sin_fast, trig_in_range, f64::sin) }
}
multiversion! {
    /// Cosine of each element of `xs` into `out` (same length).
    fn cos_f64(xs: &[f64], out: &mut [f64]) { apply!(xs, out, cos_fast, trig_in_range, f64::cos) }
}
multiversion! {
    /// Sine and cosine of each element of `xs` in one pass (one reduction).
    fn sincos_f64(xs: &[f64], sin: &mut [f64], cos: &mut [f64]) {
        apply_sincos!(xs, sin, cos, sincos_fast, trig_in_range, f64::sin_cos);
    }
}
multiversion! {
    /// `e^x` of each element of `xs` into `out` (same length).
    fn exp_f64(xs: &[f64], out: &mut [f64]) { apply!(xs, out, exp_fast, exp_in_range, f64::exp) }
}

multiversion! {
    /// Sine of each element of `xs` into `out` (same length).
    fn sin_f32(xs: &[f32], out: &mut [f32]) { apply!(xs, out, sin_fast_f32, trig_in_range_f32, f32::sin) }
}
multiversion! {
    /// Cosine of each element of `xs` into `out` (same length).
    fn cos_f32(xs: &[f32], out: &mut [f32]) { apply!(xs, out, cos_fast_f32, trig_in_range_f32, f32::cos) }
}
multiversion! {
    /// Sine and cosine of each element of `xs` in one pass.
    fn sincos_f32(xs: &[f32], sin: &mut [f32], cos: &mut [f32]) {
        apply_sincos!(xs, sin, cos, sincos_fast_f32, trig_in_range_f32, f32::sin_cos);
    }
}
multiversion! {
    /// `e^x` of each element of `xs` into `out` (same length).
    fn exp_f32(xs: &[f32], out: &mut [f32]) { apply!(xs, out, exp_fast_f32, exp_in_range_f32, f32::exp) }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact results are the point
mod tests {
    use super::super::math::tests::{exp_args, trig_args, ulps32, ulps64};
    use super::*;

    fn check64(name: &str, xs: &[f64], f: fn(&[f64], &mut [f64]), reference: fn(f64) -> f64) {
        let mut out = vec![0.0; xs.len()];
        f(xs, &mut out);
        let mut worst = (0, 0.0);
        for (&x, &y) in xs.iter().zip(&out) {
            let d = ulps64(y, reference(x));
            if d > worst.0 {
                worst = (d, x);
            }
        }
        assert!(worst.0 <= 2, "{name}: {} ulp at x = {:e}", worst.0, worst.1);
    }
    fn check32(name: &str, xs: &[f64], f: fn(&[f32], &mut [f32]), reference: fn(f32) -> f32) {
        #[allow(clippy::cast_possible_truncation)]
        let xs: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let mut out = vec![0.0; xs.len()];
        f(&xs, &mut out);
        for (&x, &y) in xs.iter().zip(&out) {
            let d = ulps32(y, reference(x));
            assert!(d <= 2, "{name}: {d} ulp at x = {x:e}");
        }
    }

    /// The slice functions, fallback included, on every test argument.
    #[test]
    fn slices_within_2_ulp_of_std() {
        let xs = trig_args();
        check64("sin", &xs, sin_f64, f64::sin);
        check64("cos", &xs, cos_f64, f64::cos);
        check32("sinf", &xs, sin_f32, f32::sin);
        check32("cosf", &xs, cos_f32, f32::cos);
        let xs = exp_args();
        check64("exp", &xs, exp_f64, f64::exp);
        check32("expf", &xs, exp_f32, f32::exp);
    }

    #[test]
    fn signed_zeros_and_specials() {
        let xs = [-0.0, 0.0, f64::NAN, f64::INFINITY, -f64::INFINITY];
        let mut out = [0.0; 5];
        sin_f64(&xs, &mut out);
        assert_eq!(out[0].to_bits(), (-0.0f64).to_bits());
        assert_eq!(out[1].to_bits(), 0);
        assert!(out[2..].iter().all(|v| v.is_nan()));
        cos_f64(&xs, &mut out);
        assert_eq!(&out[..2], &[1.0, 1.0]);
        assert!(out[2..].iter().all(|v| v.is_nan()));
        exp_f64(&xs, &mut out);
        assert_eq!(&out[..2], &[1.0, 1.0]);
        assert!(out[2].is_nan());
        assert_eq!(&out[3..], &[f64::INFINITY, 0.0]);
        let mut o32 = [0.0f32; 3];
        sin_f32(&[-0.0, f32::NAN, 1e30], &mut o32);
        assert_eq!(o32[0].to_bits(), (-0.0f32).to_bits());
        assert!(o32[1].is_nan());
        assert_eq!(o32[2], 1e30f32.sin());
        exp_f32(&[100.0, -200.0, f32::NEG_INFINITY], &mut o32);
        assert_eq!(o32, [f32::INFINITY, 0.0, 0.0]);
    }
    /// The AVX2 build (taken on this machine if it has AVX2) must give the same
    /// bits as the baseline build, which `apply` called from here is.
    #[test]
    fn dispatched_and_baseline_builds_agree_bitwise() {
        let xs = trig_args();
        let mut fast = vec![0.0; xs.len()];
        let mut base = vec![0.0; xs.len()];
        let same = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
        };
        sin_f64(&xs, &mut fast);
        apply!(&xs, &mut base, sin_fast, trig_in_range, f64::sin);
        assert!(same(&fast, &base), "sin");
        cos_f64(&xs, &mut fast);
        apply!(&xs, &mut base, cos_fast, trig_in_range, f64::cos);
        assert!(same(&fast, &base), "cos");
        let xs = exp_args();
        let (mut fast, mut base) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        exp_f64(&xs, &mut fast);
        apply!(&xs, &mut base, exp_fast, exp_in_range, f64::exp);
        assert!(same(&fast, &base), "exp");
    }
    #[test]
    fn sincos_matches_sin_and_cos_bitwise() {
        let xs = trig_args();
        let (mut s, mut c) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        let (mut s1, mut c1) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        sincos_f64(&xs, &mut s, &mut c);
        sin_f64(&xs, &mut s1);
        cos_f64(&xs, &mut c1);
        let bits = |v: &[f64]| {
            v.iter()
                .map(|x| if x.is_nan() { 0 } else { x.to_bits() })
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&s), bits(&s1));
        assert_eq!(bits(&c), bits(&c1));
        #[allow(clippy::cast_possible_truncation)]
        let xs: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let (mut s, mut c) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        let (mut s1, mut c1) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        sincos_f32(&xs, &mut s, &mut c);
        sin_f32(&xs, &mut s1);
        cos_f32(&xs, &mut c1);
        let bits = |v: &[f32]| {
            v.iter()
                .map(|x| if x.is_nan() { 0 } else { x.to_bits() })
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&s), bits(&s1));
        assert_eq!(bits(&c), bits(&c1));
    }
    #[test]
    fn empty_slices_are_fine() {
        sin_f64(&[], &mut []);
        exp_f32(&[], &mut []);
    }
}
