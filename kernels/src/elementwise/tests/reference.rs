//! A naive reference: the program interpreted one output element at a time on
//! dynamically typed values, written from the op docs, independent of `ops`.
//! Only sin/cos/exp use the fast kernels (on one element), because their results
//! may differ from std by an ulp and later ops (floor, compare) would amplify that;
//! `math`'s own tests bound them against std.

use crate::elementwise::program::{BinaryOp, CmpOp, ElementwiseProgram, Node, UnaryOp};
use crate::elementwise::vecmath;
use crate::{dispatch_dtype, map_chunk, Chunk, DType, Scalar};
use ndarray::IxDyn;
use num_traits::{Float, FloatConst};

/// One value of any dtype.
#[derive(Clone, Copy, Debug)]
pub(crate) enum V {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
}

macro_rules! from_impls {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for V {
            fn from(x: $t) -> V { V::$v(x) }
        }
    )*};
}
from_impls!(bool => Bool, i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16,
    u32 => U32, u64 => U64, f32 => F32, f64 => F64);

impl PartialEq for V {
    /// Bitwise for floats (so -0 != 0), except that all NaNs are equal.
    fn eq(&self, other: &V) -> bool {
        match (*self, *other) {
            (V::F32(a), V::F32(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (V::F64(a), V::F64(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (V::Bool(a), V::Bool(b)) => a == b,
            (a, b) => a.int().is_some() && a.int() == b.int() && a.dtype() == b.dtype(),
        }
    }
}

impl V {
    pub(crate) fn dtype(self) -> DType {
        match self {
            V::Bool(_) => DType::Bool,
            V::I8(_) => DType::I8,
            V::I16(_) => DType::I16,
            V::I32(_) => DType::I32,
            V::I64(_) => DType::I64,
            V::U8(_) => DType::U8,
            V::U16(_) => DType::U16,
            V::U32(_) => DType::U32,
            V::U64(_) => DType::U64,
            V::F32(_) => DType::F32,
            V::F64(_) => DType::F64,
        }
    }

    /// The value of an integer or bool, exactly.
    fn int(self) -> Option<i128> {
        Some(match self {
            V::Bool(b) => i128::from(b),
            V::I8(x) => x.into(),
            V::I16(x) => x.into(),
            V::I32(x) => x.into(),
            V::I64(x) => x.into(),
            V::U8(x) => x.into(),
            V::U16(x) => x.into(),
            V::U32(x) => x.into(),
            V::U64(x) => x.into(),
            V::F32(_) | V::F64(_) => return None,
        })
    }

    fn float(self) -> Option<f64> {
        match self {
            V::F32(x) => Some(x.into()),
            V::F64(x) => Some(x),
            _ => None,
        }
    }

    fn as_bool(self) -> bool {
        match self {
            V::Bool(b) => b,
            other => panic!("expected a bool, got {other:?}"),
        }
    }

    /// Rust's `as` to `dtype`: integers through i128 (truncating), floats through
    /// f64 (exact for f32), bool as 0/1, anything to bool as `!= 0`.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    pub(crate) fn cast(self, dtype: DType) -> V {
        if dtype == DType::Bool {
            return V::Bool(
                self.float()
                    .map_or_else(|| self.int() != Some(0), |f| f != 0.0),
            );
        }
        match (self.int(), self.float()) {
            (Some(i), _) => match dtype {
                DType::I8 => V::I8(i as i8),
                DType::I16 => V::I16(i as i16),
                DType::I32 => V::I32(i as i32),
                DType::I64 => V::I64(i as i64),
                DType::U8 => V::U8(i as u8),
                DType::U16 => V::U16(i as u16),
                DType::U32 => V::U32(i as u32),
                DType::U64 => V::U64(i as u64),
                DType::F32 => V::F32(i as f32),
                _ => V::F64(i as f64),
            },
            (None, Some(f)) => match dtype {
                DType::I8 => V::I8(f as i8),
                DType::I16 => V::I16(f as i16),
                DType::I32 => V::I32(f as i32),
                DType::I64 => V::I64(f as i64),
                DType::U8 => V::U8(f as u8),
                DType::U16 => V::U16(f as u16),
                DType::U32 => V::U32(f as u32),
                DType::U64 => V::U64(f as u64),
                DType::F32 => V::F32(f as f32),
                _ => V::F64(f),
            },
            _ => unreachable!("every value is an integer or a float"),
        }
    }
}

/// Same-dtype binary integer op on every integer variant.
macro_rules! int_binary {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (V::I8($x), V::I8($y)) => V::from($body),
            (V::I16($x), V::I16($y)) => V::from($body),
            (V::I32($x), V::I32($y)) => V::from($body),
            (V::I64($x), V::I64($y)) => V::from($body),
            (V::U8($x), V::U8($y)) => V::from($body),
            (V::U16($x), V::U16($y)) => V::from($body),
            (V::U32($x), V::U32($y)) => V::from($body),
            (V::U64($x), V::U64($y)) => V::from($body),
            (a, b) => panic!("integer op on {a:?}, {b:?}"),
        }
    };
}

/// A float op written once, run in the operands' own precision.
macro_rules! float_op {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (V::F32($x), V::F32($y)) => V::from($body),
            (V::F64($x), V::F64($y)) => V::from($body),
            (a, b) => panic!("float op on {a:?}, {b:?}"),
        }
    };
}

/// A float op computed in f64 and rounded once to the operands' type.
macro_rules! wide_op {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            #[allow(clippy::cast_possible_truncation)]
            (V::F32(p), V::F32(q)) => {
                let ($x, $y) = (f64::from(p), f64::from(q));
                V::F32($body as f32)
            }
            (V::F64($x), V::F64($y)) => V::F64($body),
            (a, b) => panic!("float op on {a:?}, {b:?}"),
        }
    };
}

fn minimum(a: V, b: V) -> V {
    match (a, b) {
        (V::Bool(x), V::Bool(y)) => V::Bool(x && y),
        (V::F32(_) | V::F64(_), _) => float_op!(a, b, |x, y| if x.is_nan() || y.is_nan() {
            x + y
        } else if x <= y {
            x
        } else {
            y
        }),
        _ => int_binary!(a, b, |x, y| x.min(y)),
    }
}

fn maximum(a: V, b: V) -> V {
    match (a, b) {
        (V::Bool(x), V::Bool(y)) => V::Bool(x || y),
        (V::F32(_) | V::F64(_), _) => float_op!(a, b, |x, y| if x.is_nan() || y.is_nan() {
            x + y
        } else if x >= y {
            x
        } else {
            y
        }),
        _ => int_binary!(a, b, |x, y| x.max(y)),
    }
}

pub(crate) fn binary(op: BinaryOp, a: V, b: V) -> V {
    let float = a.float().is_some();
    match op {
        BinaryOp::Minimum => minimum(a, b),
        BinaryOp::Maximum => maximum(a, b),
        BinaryOp::And => V::Bool(a.as_bool() && b.as_bool()),
        BinaryOp::Or => V::Bool(a.as_bool() || b.as_bool()),
        BinaryOp::Pow => float_op!(a, b, |x, y| x.powf(y)),
        BinaryOp::Add if float => float_op!(a, b, |x, y| x + y),
        BinaryOp::Sub if float => float_op!(a, b, |x, y| x - y),
        BinaryOp::Mul if float => float_op!(a, b, |x, y| x * y),
        BinaryOp::Div if float => float_op!(a, b, |x, y| x / y),
        BinaryOp::Rem if float => float_op!(a, b, |x, y| x % y),
        BinaryOp::Add => int_binary!(a, b, |x, y| x.wrapping_add(y)),
        BinaryOp::Sub => int_binary!(a, b, |x, y| x.wrapping_sub(y)),
        BinaryOp::Mul => int_binary!(a, b, |x, y| x.wrapping_mul(y)),
        BinaryOp::Div => int_binary!(a, b, |x, y| if y == 0 { 0 } else { x.wrapping_div(y) }),
        BinaryOp::Rem => int_binary!(a, b, |x, y| if y == 0 { 0 } else { x.wrapping_rem(y) }),
        BinaryOp::Arctan2 => wide_op!(a, b, |x, y| x.atan2(y)),
        BinaryOp::Hypot => wide_op!(a, b, |x, y| x.hypot(y)),
        BinaryOp::Copysign => float_op!(a, b, |x, y| x.copysign(y)),
        BinaryOp::Logaddexp => wide_op!(a, b, |x, y| logaddexp(x, y)),
        BinaryOp::Fmin => fminmax(a, b, minimum),
        BinaryOp::Fmax => fminmax(a, b, maximum),
        BinaryOp::FloorDivide if float => float_op!(a, b, |x, y| floor_div(x, y)),
        BinaryOp::FloorDivide => floor_div_int(a, b),
        BinaryOp::BitAnd => int_binary!(a, b, |x, y| x & y),
        BinaryOp::BitOr => int_binary!(a, b, |x, y| x | y),
        BinaryOp::BitXor => int_binary!(a, b, |x, y| x ^ y),
        BinaryOp::LeftShift => shift(a, b, true),
        BinaryOp::RightShift => shift(a, b, false),
    }
}

/// NumPy's `logaddexp`, from its C source (`npy_logaddexp`), in the operands'
/// precision.
#[allow(clippy::float_cmp)]
fn logaddexp<F: Float + FloatConst>(x: F, y: F) -> F {
    if x == y {
        x + F::LN_2()
    } else if x > y {
        x + (y - x).exp().ln_1p()
    } else if x < y {
        y + (x - y).exp().ln_1p()
    } else {
        x - y
    }
}

/// NumPy's `floor_divide` of floats, from its C source (`npy_divmod`).
#[allow(clippy::float_cmp)]
fn floor_div<F: Float>(a: F, b: F) -> F {
    if b == F::zero() {
        return a / b;
    }
    let m = a % b;
    let mut div = (a - m) / b;
    if m != F::zero() && (b < F::zero()) != (m < F::zero()) {
        div = div - F::one();
    }
    if div == F::zero() {
        return F::zero().copysign(a / b);
    }
    let f = div.floor();
    if div - f > F::from(0.5).expect("0.5 is a float") {
        f + F::one()
    } else {
        f
    }
}

/// Python's `//` on exact integers (division by zero gives 0, as `Div`).
fn floor_div_int(a: V, b: V) -> V {
    let (x, y) = (a.int().expect("an integer"), b.int().expect("an integer"));
    let q = if y == 0 {
        0
    } else {
        x.div_euclid(y) - i128::from(y < 0 && x.rem_euclid(y) != 0)
    };
    wrap_to(a.dtype(), q)
}

/// `q` truncated to the integer `dtype`, as Rust's `as`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn wrap_to(dtype: DType, q: i128) -> V {
    match dtype {
        DType::I8 => V::I8(q as i8),
        DType::I16 => V::I16(q as i16),
        DType::I32 => V::I32(q as i32),
        DType::I64 => V::I64(q as i64),
        DType::U8 => V::U8(q as u8),
        DType::U16 => V::U16(q as u16),
        DType::U32 => V::U32(q as u32),
        DType::U64 => V::U64(q as u64),
        other => panic!("an integer op gave {other}"),
    }
}

/// NumPy's `sign` of a float: NaN stays NaN, both zeros give +0.
#[allow(clippy::float_cmp)]
fn float_sign<F: Float>(x: F) -> F {
    if x.is_nan() {
        x
    } else if x == F::zero() {
        F::zero()
    } else {
        F::one().copysign(x)
    }
}

/// NumPy's `fmin`/`fmax`: NaN only if both are; else `minimum`/`maximum`.
fn fminmax(a: V, b: V, f: fn(V, V) -> V) -> V {
    match (a.float(), b.float()) {
        (Some(x), _) if x.is_nan() => b,
        (_, Some(y)) if y.is_nan() => a,
        _ => f(a, b),
    }
}

/// NumPy's shifts: an amount outside `0..bits` gives 0 (left) or the sign (right).
fn shift(a: V, b: V, left: bool) -> V {
    let bits = 8 * a.dtype().size();
    let (x, s) = (a.int().expect("an integer"), b.int().expect("an integer"));
    let r = match (left, usize::try_from(s).ok().filter(|&s| s < bits)) {
        (true, Some(s)) => x << s,
        (true, None) => 0,
        (false, Some(s)) => x >> s,
        (false, None) => {
            if x < 0 {
                -1
            } else {
                0
            }
        }
    };
    wrap_to(a.dtype(), r)
}

pub(crate) fn compare(op: CmpOp, a: V, b: V) -> V {
    use std::cmp::Ordering::{Equal, Greater, Less};
    assert_eq!(a.dtype(), b.dtype(), "comparison operands");
    let ord = match (a.float(), b.float()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => a.int().partial_cmp(&b.int()),
    };
    V::Bool(match op {
        CmpOp::Eq => ord == Some(Equal),
        CmpOp::Ne => ord != Some(Equal),
        CmpOp::Lt => ord == Some(Less),
        CmpOp::Le => matches!(ord, Some(Less | Equal)),
        CmpOp::Gt => ord == Some(Greater),
        CmpOp::Ge => matches!(ord, Some(Greater | Equal)),
    })
}

fn one_f64(f: fn(&[f64], &mut [f64]), x: f64) -> f64 {
    let mut o = [0.0];
    f(&[x], &mut o);
    o[0]
}

fn one_f32(f: fn(&[f32], &mut [f32]), x: f32) -> f32 {
    let mut o = [0.0];
    f(&[x], &mut o);
    o[0]
}

pub(crate) fn unary(op: UnaryOp, a: V) -> V {
    // The kernels' own sin/cos/exp on one element (a vectorized polynomial,
    // not libm).
    let vec = |f64_kernel: fn(&[f64], &mut [f64]), f32_kernel: fn(&[f32], &mut [f32])| match a {
        V::F64(x) => V::F64(one_f64(f64_kernel, x)),
        V::F32(x) => V::F32(one_f32(f32_kernel, x)),
        other => panic!("{op:?} on {other:?}"),
    };
    match op {
        UnaryOp::Not => V::Bool(!a.as_bool()),
        UnaryOp::IsNan => V::Bool(a.float().is_some_and(f64::is_nan)),
        UnaryOp::IsFinite => V::Bool(a.float().is_none_or(f64::is_finite)),
        UnaryOp::Neg => match a {
            V::F32(x) => V::F32(-x),
            V::F64(x) => V::F64(-x),
            a => int_binary!(a, a, |x, _y| x.wrapping_neg()),
        },
        UnaryOp::Abs => match a {
            V::F32(x) => V::F32(x.abs()),
            V::F64(x) => V::F64(x.abs()),
            V::I8(x) => V::I8(x.wrapping_abs()),
            V::I16(x) => V::I16(x.wrapping_abs()),
            V::I32(x) => V::I32(x.wrapping_abs()),
            V::I64(x) => V::I64(x.wrapping_abs()),
            a => a,
        },
        UnaryOp::Sin => vec(vecmath::sin_f64, vecmath::sin_f32),
        UnaryOp::Cos => vec(vecmath::cos_f64, vecmath::cos_f32),
        UnaryOp::Exp => vec(vecmath::exp_f64, vecmath::exp_f32),
        UnaryOp::Sqrt => float_op!(a, a, |x, _y| x.sqrt()),
        UnaryOp::Ln => float_op!(a, a, |x, _y| x.ln()),
        UnaryOp::Log10 => float_op!(a, a, |x, _y| x.log10()),
        UnaryOp::Tan => float_op!(a, a, |x, _y| x.tan()),
        UnaryOp::Tanh => float_op!(a, a, |x, _y| x.tanh()),
        UnaryOp::Floor => float_op!(a, a, |x, _y| x.floor()),
        UnaryOp::Ceil => float_op!(a, a, |x, _y| x.ceil()),
        UnaryOp::Round => float_op!(a, a, |x, _y| x.round()),
        UnaryOp::Powi(n) => float_op!(a, a, |x, _y| x.powi(n)),
        UnaryOp::Log2 => wide_op!(a, a, |x, _y| x.log2()),
        UnaryOp::Log1p => wide_op!(a, a, |x, _y| x.ln_1p()),
        UnaryOp::Expm1 => wide_op!(a, a, |x, _y| x.exp_m1()),
        UnaryOp::Exp2 => wide_op!(a, a, |x, _y| x.exp2()),
        UnaryOp::Cbrt => wide_op!(a, a, |x, _y| x.cbrt()),
        UnaryOp::Sinh => wide_op!(a, a, |x, _y| x.sinh()),
        UnaryOp::Cosh => wide_op!(a, a, |x, _y| x.cosh()),
        UnaryOp::Arcsin => wide_op!(a, a, |x, _y| x.asin()),
        UnaryOp::Arccos => wide_op!(a, a, |x, _y| x.acos()),
        UnaryOp::Arctan => wide_op!(a, a, |x, _y| x.atan()),
        UnaryOp::Arcsinh => wide_op!(a, a, |x, _y| x.asinh()),
        UnaryOp::Arccosh => wide_op!(a, a, |x, _y| x.acosh()),
        UnaryOp::Arctanh => wide_op!(a, a, |x, _y| x.atanh()),
        UnaryOp::Trunc => float_op!(a, a, |x, _y| x.trunc()),
        UnaryOp::Rint => float_op!(a, a, |x, _y| x.round_ties_even()),
        UnaryOp::Sign => match a {
            V::F32(x) => V::F32(float_sign(x)),
            V::F64(x) => V::F64(float_sign(x)),
            a => wrap_to(a.dtype(), a.int().expect("an integer").signum()),
        },
        UnaryOp::Signbit => V::Bool(match a {
            V::F32(x) => x.to_bits() >> 31 == 1,
            V::F64(x) => x.to_bits() >> 63 == 1,
            other => panic!("signbit of {other:?}"),
        }),
        UnaryOp::IsInf => V::Bool(a.float().is_some_and(|x| x.abs() == f64::INFINITY)),
        UnaryOp::BitNot => wrap_to(a.dtype(), !a.int().expect("an integer")),
    }
}

pub(crate) fn scalar(s: Scalar, dtype: DType) -> V {
    dispatch_dtype!(dtype, T => V::from(s.to::<T>()))
}

/// The element of `c`, broadcast to `out`, at output multi-index `idx`.
pub(crate) fn read(c: &Chunk, idx: &[usize]) -> V {
    let shape = c.shape();
    let lead = idx.len() - shape.len();
    let at: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &n)| if n == 1 { 0 } else { idx[lead + i] })
        .collect();
    map_chunk!(c, a => V::from(a[IxDyn(&at)]), _ => panic!("not a data chunk"))
}

/// The program's result at every output element, in C order.
pub(crate) fn reference(p: &ElementwiseProgram, inputs: &[&Chunk], out: &[usize]) -> Vec<V> {
    let total: usize = out.iter().product();
    let mut idx = vec![0; out.len()];
    let mut result = Vec::with_capacity(total);
    for flat in 0..total {
        let mut rest = flat;
        for ax in (0..out.len()).rev() {
            idx[ax] = rest % out[ax];
            rest /= out[ax];
        }
        let mut vals: Vec<V> = Vec::with_capacity(p.instrs.len());
        for instr in &p.instrs {
            let v = match instr.node {
                Node::Input(i) => read(inputs[i], &idx),
                Node::Scalar(s) => scalar(s, instr.dtype),
                Node::Unary(op, a) => unary(op, vals[a]),
                Node::Binary(op, a, b) => binary(op, vals[a], vals[b]),
                Node::Compare(op, a, b) => compare(op, vals[a], vals[b]),
                Node::Where(c, a, b) => {
                    if vals[c].as_bool() {
                        vals[a]
                    } else {
                        vals[b]
                    }
                }
                Node::Cast(a) => vals[a].cast(instr.dtype),
                Node::Clip(a, lo, hi) => minimum(
                    maximum(vals[a], scalar(lo, instr.dtype)),
                    scalar(hi, instr.dtype),
                ),
            };
            assert_eq!(
                v.dtype(),
                instr.dtype,
                "reference typing of {:?}",
                instr.node
            );
            vals.push(v);
        }
        result.push(*vals.last().expect("programs are non-empty"));
    }
    result
}

/// The chunk's elements in logical C order.
pub(crate) fn values(c: &Chunk) -> Vec<V> {
    map_chunk!(c, a => a.iter().map(|&x| V::from(x)).collect(), _ => panic!("not a data chunk"))
}

/// A tile's elements.
pub(crate) fn tile_values(t: crate::elementwise::TileSlice<'_>) -> Vec<V> {
    use crate::elementwise::TileSlice as T;
    fn conv<X: Copy + Into<V>>(s: &[X]) -> Vec<V> {
        s.iter().map(|&x| x.into()).collect()
    }
    match t {
        T::Bool(s) => conv(s),
        T::I8(s) => conv(s),
        T::I16(s) => conv(s),
        T::I32(s) => conv(s),
        T::I64(s) => conv(s),
        T::U8(s) => conv(s),
        T::U16(s) => conv(s),
        T::U32(s) => conv(s),
        T::U64(s) => conv(s),
        T::F32(s) => conv(s),
        T::F64(s) => conv(s),
    }
}

/// Asserts `got` equals `want` elementwise, reporting the first difference.
pub(crate) fn assert_values(got: &[V], want: &[V], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{what}: element {i}: got {:?}, want {:?}", got[i], want[i]);
    }
}
