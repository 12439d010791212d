//! Branch-free scalar kernels of `sin`, `cos` and `exp` that LLVM vectorizes when
//! inlined into a loop over a slice ([`super::vecmath`] has those loops). Each is
//! valid on a fast range (`trig_in_range`, `exp_in_range`); outside it the caller
//! uses `std`. Within the range they are within 2 ulp of `std` (tests below;
//! measured: 1 ulp).
//!
//! The polynomials are the fdlibm kernels (`__kernel_sin`, `__kernel_cos`,
//! `__ieee754_exp`), whose error is below 1 ulp; the reduction modulo pi/2 is
//! fdlibm's three-part Cody-Waite split carried in double-double arithmetic, done
//! unconditionally so that every lane runs the same instructions. `f32` runs the
//! `f64` kernels and rounds once, which is exact enough and keeps one set of
//! constants.
//!
//! Rounding to an integer uses the 1.5 * 2^52 trick rather than `f64::round`,
//! which is a libm call per lane without SSE4.1; the same sum also carries the
//! integer in its low mantissa bits.

// Inlining every kernel into the slice loops is what lets them vectorize.
#![allow(clippy::inline_always)]

use std::f64::consts::{FRAC_2_PI, LOG2_E};

/// Adding then subtracting this rounds to the nearest integer (ties to even) for
/// |v| < 2^51, and leaves that integer in the sum's low mantissa bits.
const TOINT: f64 = 6_755_399_441_055_744.0;

/// The fast path of `sin`/`cos` needs |q| < 2^20 for `q * PIO2_*` to be exact
/// (33-bit constants); 1e6 / (pi/2) is about 2^19.3.
const TRIG_LIMIT: f64 = 1.0e6;

// Constants as exact bit patterns (fdlibm publishes these words), values in comments.
// pi/2 = PIO2_1 + PIO2_2 + PIO2_3 + PIO2_3T to about 150 bits; the first three have
// 33 significant bits so their products with q are exact.
const PIO2_1: f64 = f64::from_bits(0x3FF9_21FB_5440_0000); // 1.57079632673412561e+00
const PIO2_2: f64 = f64::from_bits(0x3DD0_B461_1A60_0000); // 6.07710050630396598e-11
const PIO2_3: f64 = f64::from_bits(0x3BA3_198A_2E00_0000); // 2.02226624871116646e-21
const PIO2_3T: f64 = f64::from_bits(0x397B_839A_2520_49C1); // 8.47842766036889957e-32

// fdlibm __kernel_sin coefficients (minimax on [-pi/4, pi/4]).
const S1: f64 = f64::from_bits(0xBFC5_5555_5555_5549); // -1.66666666666666324e-01
const S2: f64 = f64::from_bits(0x3F81_1111_1110_F8A6); // 8.33333333332248946e-03
const S3: f64 = f64::from_bits(0xBF2A_01A0_19C1_61D5); // -1.98412698298579493e-04
const S4: f64 = f64::from_bits(0x3EC7_1DE3_57B1_FE7D); // 2.75573137070700677e-06
const S5: f64 = f64::from_bits(0xBE5A_E5E6_8A2B_9CEB); // -2.50507602534068634e-08
const S6: f64 = f64::from_bits(0x3DE5_D93A_5ACF_D57C); // 1.58969099521155010e-10

// fdlibm __kernel_cos coefficients.
const C1: f64 = f64::from_bits(0x3FA5_5555_5555_554C); // 4.16666666666666019e-02
const C2: f64 = f64::from_bits(0xBF56_C16C_16C1_5177); // -1.38888888888741096e-03
const C3: f64 = f64::from_bits(0x3EFA_01A0_19CB_1590); // 2.48015872894767294e-05
const C4: f64 = f64::from_bits(0xBE92_7E4F_809C_52AD); // -2.75573143513906633e-07
const C5: f64 = f64::from_bits(0x3E21_EE9E_BDB4_B1C4); // 2.08757232129817483e-09
const C6: f64 = f64::from_bits(0xBDA8_FAE9_BE88_38D4); // -1.13596475577881948e-11

// fdlibm exp: ln 2 split so that k * LN2_HI is exact for |k| < 2^32, and the
// coefficients of its rational approximation on [-ln2/2, ln2/2].
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000); // 6.93147180369123816e-01
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76); // 1.90821492927058770e-10
const P1: f64 = f64::from_bits(0x3FC5_5555_5555_553E); // 1.66666666666666019e-01
const P2: f64 = f64::from_bits(0xBF66_C16C_16BE_BD93); // -2.77777777770155934e-03
const P3: f64 = f64::from_bits(0x3F11_566A_AF25_DE2C); // 6.61375632143793436e-05
const P4: f64 = f64::from_bits(0xBEBB_BD41_C5D2_6BF1); // -1.65339022054652515e-06
const P5: f64 = f64::from_bits(0x3E66_3769_72BE_A4D0); // 4.13813679705723846e-08

/// Bounds of the fast `exp`: 2^k stays a normal double and the result neither
/// overflows nor goes subnormal (exp(-708) ~ 3.3e-308 > `f64::MIN_POSITIVE`).
const EXP_LO: f64 = -708.0;
const EXP_HI: f64 = 709.0;

/// Below this, sin(x) rounds to x; returning x also keeps the sign of -0.
const SIN_TINY: f64 = f64::from_bits(0x3E40_0000_0000_0000); // 2^-27

/// `a + b` as an unevaluated sum `(s, e)`, exactly (Knuth's two-sum: no magnitude
/// precondition, which matters because the reduced argument can cancel to ~0).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bv = s - a;
    let av = s - bv;
    (s, (a - av) + (b - bv))
}

/// x = q * pi/2 + (hi + lo) with |hi + lo| <~ pi/4; also returns q's bits (q mod 4
/// in the low two). Valid for |x| < `TRIG_LIMIT`.
#[inline(always)]
fn reduce_pio2(x: f64) -> (f64, f64, u64) {
    let t = x * FRAC_2_PI + TOINT;
    let q = t - TOINT;
    // Exact: q * PIO2_1 has at most 53 bits and is within a factor 2 of x (Sterbenz).
    let a = x - q * PIO2_1;
    let (h, l) = two_sum(a, -(q * PIO2_2));
    let (h, e) = two_sum(h, -(q * PIO2_3));
    let l = l + e - q * PIO2_3T;
    let hi = h + l;
    (hi, l - (hi - h), t.to_bits())
}

/// sin(x + y) for |x + y| <= ~pi/4, y a tail much smaller than x.
#[inline(always)]
fn kernel_sin(x: f64, y: f64) -> f64 {
    let z = x * x;
    let w = z * z;
    let r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    let v = z * x;
    x - ((z * (0.5 * y - v * r) - y) - v * S1)
}

/// cos(x + y) for |x + y| <= ~pi/4.
#[inline(always)]
fn kernel_cos(x: f64, y: f64) -> f64 {
    let z = x * x;
    let w = z * z;
    let r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    // (1 - w) - hz recovers the rounding error of w, which keeps this under 1 ulp.
    w + (((1.0 - w) - hz) + (z * r - x * y))
}

/// sin of the reduced argument in quadrant `q` (mod 4): the sin kernel, the cos
/// kernel, or their negations, picked with bit masks so the loop stays branch-free.
#[inline(always)]
fn by_quadrant(ks: f64, kc: f64, q: u64) -> f64 {
    let odd = (q & 1).wrapping_neg();
    let bits = (ks.to_bits() & !odd) | (kc.to_bits() & odd);
    f64::from_bits(bits ^ ((q & 2) << 62))
}

/// (sin x, cos x); sin and cos alone use this too (LLVM drops the unused half),
/// so fused and separate evaluations give the same bits.
#[inline(always)]
pub(super) fn sincos_fast(x: f64) -> (f64, f64) {
    let (hi, lo, q) = reduce_pio2(x);
    let (ks, kc) = (kernel_sin(hi, lo), kernel_cos(hi, lo));
    let s = by_quadrant(ks, kc, q);
    // cos(x) = sin(x + pi/2): the quadrant shifts by one.
    let c = by_quadrant(ks, kc, q.wrapping_add(1));
    (if x.abs() < SIN_TINY { x } else { s }, c)
}

#[inline(always)]
pub(super) fn sin_fast(x: f64) -> f64 {
    sincos_fast(x).0
}

#[inline(always)]
pub(super) fn cos_fast(x: f64) -> f64 {
    sincos_fast(x).1
}

#[inline(always)]
pub(super) fn exp_fast(x: f64) -> f64 {
    let t = x * LOG2_E + TOINT;
    let k = t - TOINT;
    let hi = x - k * LN2_HI;
    let lo = k * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // t's mantissa holds 2^51 + k; k + 1023 in the exponent field is 2^k.
    let biased = t.to_bits().wrapping_sub(TOINT.to_bits()).wrapping_add(1023);
    y * f64::from_bits(biased << 52)
}

#[inline(always)]
pub(super) fn trig_in_range(x: f64) -> bool {
    x.abs() <= TRIG_LIMIT
}

#[inline(always)]
pub(super) fn exp_in_range(x: f64) -> bool {
    (EXP_LO..=EXP_HI).contains(&x)
}

// The f32 versions run the f64 kernels and round once to f32 (conversions vectorize).
// Overflow to inf and underflow to subnormals or 0 happen in that rounding, so every
// f32 in the f64 fast range of exp takes the fast path.

#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
pub(super) fn sin_fast_f32(x: f32) -> f32 {
    sin_fast(x.into()) as f32
}

#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
pub(super) fn cos_fast_f32(x: f32) -> f32 {
    cos_fast(x.into()) as f32
}

#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
pub(super) fn sincos_fast_f32(x: f32) -> (f32, f32) {
    let (s, c) = sincos_fast(x.into());
    (s as f32, c as f32)
}

#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
pub(super) fn exp_fast_f32(x: f32) -> f32 {
    exp_fast(x.into()) as f32
}

#[inline(always)]
pub(super) fn trig_in_range_f32(x: f32) -> bool {
    trig_in_range(x.into())
}

#[inline(always)]
pub(super) fn exp_in_range_f32(x: f32) -> bool {
    exp_in_range(x.into())
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact results are the point
pub(super) mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    /// `SplitMix64`: enough randomness for sampling test arguments, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in [lo, hi).
        fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            #[allow(clippy::cast_precision_loss)]
            let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
            lo + (hi - lo) * u
        }
    }

    /// Distance in units in the last place; 0 for equal values and for two NaNs.
    pub(in crate::elementwise) fn ulps64(a: f64, b: f64) -> u64 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let key = |v: f64| {
            let i = v.to_bits().cast_signed();
            if i < 0 {
                i64::MIN - i
            } else {
                i
            }
        };
        key(a).abs_diff(key(b))
    }
    pub(in crate::elementwise) fn ulps32(a: f32, b: f32) -> u32 {
        if a == b || (a.is_nan() && b.is_nan()) {
            return 0;
        }
        let key = |v: f32| {
            let i = v.to_bits().cast_signed();
            if i < 0 {
                i32::MIN - i
            } else {
                i
            }
        };
        key(a).abs_diff(key(b))
    }
    /// Arguments for sin/cos: several magnitudes, both signs, and doubles next to
    /// multiples of pi/2 (where the reduction cancels most bits).
    pub(in crate::elementwise) fn trig_args() -> Vec<f64> {
        let mut rng = Rng(42);
        let mut xs = vec![
            0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.2e-308, 1e-20, -1e-9, 1.0,
        ];
        for &r in &[1.0, 10.0, 1e3, 1e5, 1e6] {
            xs.extend((0..20_000).map(|_| rng.uniform(-r, r)));
        }
        for _ in 0..20_000 {
            #[allow(clippy::cast_precision_loss)]
            let k = (rng.next() % 63_662) as f64;
            let x = k * FRAC_PI_2;
            xs.extend([x, x.next_up(), x.next_down(), -x]);
        }
        xs.extend([
            1e6 + 1.0,
            1e10,
            1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]);
        xs
    }
    pub(in crate::elementwise) fn exp_args() -> Vec<f64> {
        let mut rng = Rng(7);
        let mut xs = vec![
            0.0, -0.0, 5e-324, 1e-300, -1e-17, 1.0, -1.0, 708.0, 709.0, -708.0,
        ];
        xs.extend([709.5, 709.78, 709.8, -708.5, -745.0, -745.2, -800.0, 1000.0]);
        xs.extend([f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
        for &r in &[0.35, 1.0, 50.0, 750.0] {
            xs.extend((0..30_000).map(|_| rng.uniform(-r, r)));
        }
        xs
    }

    /// The fast kernels alone, on the arguments they accept, so a fallback taken by
    /// mistake cannot hide their error; also counts how many are not bit-exact.
    fn check_fast(
        name: &str,
        xs: &[f64],
        fast: fn(f64) -> f64,
        ok: fn(f64) -> bool,
        reference: fn(f64) -> f64,
    ) {
        let (mut n, mut inexact, mut worst) = (0, 0, 0);
        for &x in xs.iter().filter(|&&x| ok(x)) {
            let d = ulps64(fast(x), reference(x));
            n += 1;
            inexact += usize::from(d > 0);
            worst = worst.max(d);
        }
        println!("{name}: {n} args, {inexact} not bit-exact with std, worst {worst} ulp");
        assert!(n > 50_000 && worst <= 2, "{name}: worst {worst} ulp");
    }

    #[test]
    fn fast_kernels_within_2_ulp_of_std() {
        let xs = trig_args();
        check_fast("sin_fast", &xs, sin_fast, trig_in_range, f64::sin);
        check_fast("cos_fast", &xs, cos_fast, trig_in_range, f64::cos);
        check_fast(
            "sincos_fast.0",
            &xs,
            |x| sincos_fast(x).0,
            trig_in_range,
            f64::sin,
        );
        check_fast(
            "sincos_fast.1",
            &xs,
            |x| sincos_fast(x).1,
            trig_in_range,
            f64::cos,
        );
        check_fast("exp_fast", &exp_args(), exp_fast, exp_in_range, f64::exp);
    }

    #[test]
    fn fast_f32_kernels_within_2_ulp_of_std() {
        #[allow(clippy::cast_possible_truncation)]
        let narrow = |xs: Vec<f64>| xs.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        type Kernel = (
            &'static str,
            fn(f32) -> f32,
            fn(f32) -> bool,
            fn(f32) -> f32,
        );
        let kernels: [(Kernel, Vec<f32>); 3] = [
            (
                ("sinf", sin_fast_f32, trig_in_range_f32, f32::sin),
                narrow(trig_args()),
            ),
            (
                ("cosf", cos_fast_f32, trig_in_range_f32, f32::cos),
                narrow(trig_args()),
            ),
            (
                ("expf", exp_fast_f32, exp_in_range_f32, f32::exp),
                narrow(exp_args()),
            ),
        ];
        for ((name, fast, ok, reference), xs) in kernels {
            let worst = xs
                .iter()
                .filter(|&&x| ok(x))
                .map(|&x| ulps32(fast(x), reference(x)))
                .max()
                .unwrap();
            assert!(worst <= 2, "{name}: worst {worst} ulp");
        }
        let (s, c) = sincos_fast_f32(0.5);
        assert_eq!((s, c), (sin_fast_f32(0.5), cos_fast_f32(0.5)));
    }

    #[test]
    fn range_checks_reject_nan_and_infinities() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2e6, -1e300] {
            assert!(!trig_in_range(x), "{x}");
        }
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 709.5, -708.5] {
            assert!(!exp_in_range(x), "{x}");
        }
        assert!(trig_in_range(-1e6) && exp_in_range(-708.0) && exp_in_range(709.0));
    }
}
