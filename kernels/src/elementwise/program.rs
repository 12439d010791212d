//! The data form of a fused elementwise chain: a straight-line program of
//! typed instructions over the task's input chunks.

use crate::dtype::DType;
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// A one-operand operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-x` (wrapping for integers).
    Neg,
    /// `|x|` (wrapping for `MIN` of signed integers).
    Abs,
    /// Square root (floats).
    Sqrt,
    /// `e^x` (floats).
    Exp,
    /// Natural logarithm (floats).
    Ln,
    /// Base-10 logarithm (floats).
    Log10,
    /// Sine (floats).
    Sin,
    /// Cosine (floats).
    Cos,
    /// Tangent (floats).
    Tan,
    /// Hyperbolic tangent (floats).
    Tanh,
    /// Round down (floats).
    Floor,
    /// Round up (floats).
    Ceil,
    /// Round half away from zero, as `f64::round` (floats).
    Round,
    /// Logical not (bool).
    Not,
    /// `x` is NaN (floats; false for integers): result bool.
    IsNan,
    /// `x` is neither NaN nor infinite (floats; true for integers): result bool.
    IsFinite,
    /// `x^n` for an integer `n` (floats), as `f64::powi`.
    Powi(i32),
    /// Base-2 logarithm (floats; NumPy's `log2`).
    Log2,
    /// `ln(1 + x)`, accurate near 0 (floats; NumPy's `log1p`).
    Log1p,
    /// `e^x - 1`, accurate near 0 (floats; NumPy's `expm1`).
    Expm1,
    /// `2^x` (floats; NumPy's `exp2`).
    Exp2,
    /// Cube root (floats; NumPy's `cbrt`).
    Cbrt,
    /// Hyperbolic sine (floats).
    Sinh,
    /// Hyperbolic cosine (floats).
    Cosh,
    /// Inverse sine (floats; NumPy's `arcsin`).
    Arcsin,
    /// Inverse cosine (floats; NumPy's `arccos`).
    Arccos,
    /// Inverse tangent (floats; NumPy's `arctan`).
    Arctan,
    /// Inverse hyperbolic sine (floats; NumPy's `arcsinh`).
    Arcsinh,
    /// Inverse hyperbolic cosine (floats; NumPy's `arccosh`).
    Arccosh,
    /// Inverse hyperbolic tangent (floats; NumPy's `arctanh`).
    Arctanh,
    /// Round towards zero (floats; NumPy's `trunc`).
    Trunc,
    /// Round half to even, as NumPy's `rint` (floats; `Round` is half away from zero).
    Rint,
    /// -1, 0 or 1 by the sign of `x`; NaN stays NaN and -0.0 gives 0.0, as
    /// NumPy's `sign` (integers and floats; 0 or 1 for unsigned integers).
    Sign,
    /// The sign bit is set (floats: true for -0.0 and negative NaNs): result bool.
    Signbit,
    /// `x` is +inf or -inf (floats; false for integers and bools): result bool.
    IsInf,
    /// Bitwise not (integers; NumPy's `invert`).
    BitNot,
}

/// A two-operand operation; both operands have the result's dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryOp {
    /// `a + b` (wrapping for integers).
    Add,
    /// `a - b` (wrapping for integers).
    Sub,
    /// `a * b` (wrapping for integers).
    Mul,
    /// `a / b`: Rust semantics (integer division truncates, wrapping); an integer
    /// divisor of zero gives 0 instead of panicking.
    Div,
    /// `a % b`: Rust semantics (sign of the dividend); an integer divisor of zero gives 0.
    Rem,
    /// `a^b` (floats), as `f64::powf`.
    Pow,
    /// Smaller of the two; NaN if either is NaN (NumPy's `minimum`).
    Minimum,
    /// Larger of the two; NaN if either is NaN (NumPy's `maximum`).
    Maximum,
    /// Logical and (bool).
    And,
    /// Logical or (bool).
    Or,
    /// `atan(a / b)` in the quadrant of `(b, a)` (floats; NumPy's `arctan2`).
    Arctan2,
    /// `sqrt(a^2 + b^2)` without undue overflow (floats; NumPy's `hypot`).
    Hypot,
    /// `|a|` with the sign bit of `b` (floats; NumPy's `copysign`).
    Copysign,
    /// `ln(e^a + e^b)` without overflow, as NumPy's `logaddexp` (floats).
    Logaddexp,
    /// Smaller of the two, the other one if one is NaN (NumPy's `fmin`).
    Fmin,
    /// Larger of the two, the other one if one is NaN (NumPy's `fmax`).
    Fmax,
    /// `floor(a / b)`, as NumPy's `floor_divide`: Python's rounding towards minus
    /// infinity for integers (an integer divisor of zero gives 0, as `Div`;
    /// `MIN // -1` wraps to `MIN`), and NumPy's `divmod`-based quotient for floats
    /// (`a / b` when `b` is zero).
    FloorDivide,
    /// Bitwise and (integers).
    BitAnd,
    /// Bitwise or (integers).
    BitOr,
    /// Bitwise exclusive or (integers).
    BitXor,
    /// `a << b` (integers); a shift by the bit width or more, or by a negative
    /// amount, gives 0, as NumPy's `left_shift`.
    LeftShift,
    /// `a >> b`, arithmetic for signed integers (integers); a shift by the bit
    /// width or more, or by a negative amount, gives 0, or -1 for a negative `a`,
    /// as NumPy's `right_shift`.
    RightShift,
}

/// A comparison; both operands have the same dtype, the result is bool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

/// The operand dtypes an operation accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Integers and floats, not bool (cast a bool to an integer first).
    Numeric,
    /// Floats only.
    Float,
    /// Bool only.
    Bool,
    /// Integers only (signed and unsigned).
    Integer,
    /// Every dtype.
    Any,
}

impl Domain {
    /// True if an operand of `dtype` is in the domain.
    #[must_use]
    pub fn contains(self, dtype: DType) -> bool {
        match self {
            Domain::Numeric => dtype != DType::Bool,
            Domain::Float => dtype.is_float(),
            Domain::Bool => dtype == DType::Bool,
            Domain::Integer => dtype.is_int(),
            Domain::Any => true,
        }
    }

    /// Why an operand of `dtype` is outside the domain, or `None` if it is inside.
    pub(crate) fn problem(self, op: impl std::fmt::Debug, dtype: DType) -> Option<String> {
        let why = match self {
            Domain::Numeric => "is not defined for bool (cast to an integer first)",
            Domain::Float => "needs float operands",
            Domain::Bool => "needs bool operands",
            Domain::Integer => "needs integer operands",
            Domain::Any => "",
        };
        (!self.contains(dtype)).then(|| format!("{op:?} {why}, got {dtype}"))
    }
}

/// Which typed kernel runs a [`UnaryOp`]: the one place a unary op is sorted into
/// a family, so a new op does not compile until it is given one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryKernel {
    /// Integers and floats, result of the operand's dtype.
    Arith(ArithUnary),
    /// Floats, result of the operand's dtype.
    Float(FloatUnary),
    /// Logical not of a bool.
    Not,
    /// A bool property of any operand.
    Classify(Classify),
    /// Bitwise not of an integer.
    BitNot,
}

/// [`UnaryKernel::Arith`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithUnary {
    Neg,
    Abs,
    Sign,
}

/// [`UnaryKernel::Float`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatUnary {
    Sqrt,
    Exp,
    Ln,
    Log10,
    Sin,
    Cos,
    Tan,
    Tanh,
    Floor,
    Ceil,
    Round,
    Powi(i32),
    Log2,
    Log1p,
    Expm1,
    Exp2,
    Cbrt,
    Sinh,
    Cosh,
    Asin,
    Acos,
    Atan,
    Asinh,
    Acosh,
    Atanh,
    Trunc,
    Rint,
}

/// [`UnaryKernel::Classify`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Classify {
    IsNan,
    IsFinite,
    IsInf,
    Signbit,
}

impl UnaryOp {
    /// Every unary op once (`Powi` with exponent 2), so tests cover a new op the
    /// day it exists.
    pub const ALL: &'static [UnaryOp] = &[
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Sqrt,
        UnaryOp::Exp,
        UnaryOp::Ln,
        UnaryOp::Log10,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tan,
        UnaryOp::Tanh,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
        UnaryOp::Not,
        UnaryOp::IsNan,
        UnaryOp::IsFinite,
        UnaryOp::Powi(2),
        UnaryOp::Log2,
        UnaryOp::Log1p,
        UnaryOp::Expm1,
        UnaryOp::Exp2,
        UnaryOp::Cbrt,
        UnaryOp::Sinh,
        UnaryOp::Cosh,
        UnaryOp::Arcsin,
        UnaryOp::Arccos,
        UnaryOp::Arctan,
        UnaryOp::Arcsinh,
        UnaryOp::Arccosh,
        UnaryOp::Arctanh,
        UnaryOp::Trunc,
        UnaryOp::Rint,
        UnaryOp::Sign,
        UnaryOp::Signbit,
        UnaryOp::IsInf,
        UnaryOp::BitNot,
    ];

    /// The kernel family that runs the op.
    pub(crate) fn kernel(self) -> UnaryKernel {
        match self {
            UnaryOp::Neg => UnaryKernel::Arith(ArithUnary::Neg),
            UnaryOp::Abs => UnaryKernel::Arith(ArithUnary::Abs),
            UnaryOp::Sqrt => UnaryKernel::Float(FloatUnary::Sqrt),
            UnaryOp::Exp => UnaryKernel::Float(FloatUnary::Exp),
            UnaryOp::Ln => UnaryKernel::Float(FloatUnary::Ln),
            UnaryOp::Log10 => UnaryKernel::Float(FloatUnary::Log10),
            UnaryOp::Sin => UnaryKernel::Float(FloatUnary::Sin),
            UnaryOp::Cos => UnaryKernel::Float(FloatUnary::Cos),
            UnaryOp::Tan => UnaryKernel::Float(FloatUnary::Tan),
            UnaryOp::Tanh => UnaryKernel::Float(FloatUnary::Tanh),
            UnaryOp::Floor => UnaryKernel::Float(FloatUnary::Floor),
            UnaryOp::Ceil => UnaryKernel::Float(FloatUnary::Ceil),
            UnaryOp::Round => UnaryKernel::Float(FloatUnary::Round),
            UnaryOp::Powi(n) => UnaryKernel::Float(FloatUnary::Powi(n)),
            UnaryOp::Not => UnaryKernel::Not,
            UnaryOp::IsNan => UnaryKernel::Classify(Classify::IsNan),
            UnaryOp::IsFinite => UnaryKernel::Classify(Classify::IsFinite),
            UnaryOp::Log2 => UnaryKernel::Float(FloatUnary::Log2),
            UnaryOp::Log1p => UnaryKernel::Float(FloatUnary::Log1p),
            UnaryOp::Expm1 => UnaryKernel::Float(FloatUnary::Expm1),
            UnaryOp::Exp2 => UnaryKernel::Float(FloatUnary::Exp2),
            UnaryOp::Cbrt => UnaryKernel::Float(FloatUnary::Cbrt),
            UnaryOp::Sinh => UnaryKernel::Float(FloatUnary::Sinh),
            UnaryOp::Cosh => UnaryKernel::Float(FloatUnary::Cosh),
            UnaryOp::Arcsin => UnaryKernel::Float(FloatUnary::Asin),
            UnaryOp::Arccos => UnaryKernel::Float(FloatUnary::Acos),
            UnaryOp::Arctan => UnaryKernel::Float(FloatUnary::Atan),
            UnaryOp::Arcsinh => UnaryKernel::Float(FloatUnary::Asinh),
            UnaryOp::Arccosh => UnaryKernel::Float(FloatUnary::Acosh),
            UnaryOp::Arctanh => UnaryKernel::Float(FloatUnary::Atanh),
            UnaryOp::Trunc => UnaryKernel::Float(FloatUnary::Trunc),
            UnaryOp::Rint => UnaryKernel::Float(FloatUnary::Rint),
            UnaryOp::Sign => UnaryKernel::Arith(ArithUnary::Sign),
            UnaryOp::Signbit => UnaryKernel::Classify(Classify::Signbit),
            UnaryOp::IsInf => UnaryKernel::Classify(Classify::IsInf),
            UnaryOp::BitNot => UnaryKernel::BitNot,
        }
    }

    /// The operand dtypes the op accepts.
    #[must_use]
    pub fn domain(self) -> Domain {
        match self.kernel() {
            UnaryKernel::Arith(_) => Domain::Numeric,
            UnaryKernel::Float(_) => Domain::Float,
            UnaryKernel::Not => Domain::Bool,
            // The sign bit of an integer is not a float's: NumPy casts to float
            // first, which darray leaves to the caller.
            UnaryKernel::Classify(Classify::Signbit) => Domain::Float,
            UnaryKernel::Classify(Classify::IsNan | Classify::IsFinite | Classify::IsInf) => {
                Domain::Any
            }
            UnaryKernel::BitNot => Domain::Integer,
        }
    }

    /// True if the op is defined for floats only.
    #[must_use]
    pub fn is_float_only(self) -> bool {
        self.domain() == Domain::Float
    }

    /// The dtype of the result for an operand of `operand`: bool for the
    /// classifications (`IsNan`, `IsFinite`, `IsInf`, `Signbit`), else the operand's.
    #[must_use]
    pub fn result_dtype(self, operand: DType) -> DType {
        match self.kernel() {
            UnaryKernel::Classify(_) => DType::Bool,
            UnaryKernel::Arith(_)
            | UnaryKernel::Float(_)
            | UnaryKernel::Not
            | UnaryKernel::BitNot => operand,
        }
    }
}

/// Which typed kernel runs a [`BinaryOp`] (see [`UnaryKernel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryKernel {
    /// Integers and floats.
    Arith(ArithBinary),
    /// Floats only: `powf` and the two-argument math functions.
    Float(FloatBinary),
    /// NumPy's `minimum`/`maximum`/`fmin`/`fmax`, any dtype.
    Extremum(Extremum),
    /// Logical ops of bools.
    Logic(Logic),
    /// Bit operations of integers.
    Bits(Bits),
}

/// [`BinaryKernel::Arith`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithBinary {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    FloorDiv,
}

/// [`BinaryKernel::Float`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatBinary {
    Pow,
    Atan2,
    Hypot,
    Copysign,
    Logaddexp,
}

/// [`BinaryKernel::Extremum`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extremum {
    Minimum,
    Maximum,
    Fmin,
    Fmax,
}

/// [`BinaryKernel::Bits`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bits {
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// [`BinaryKernel::Logic`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Logic {
    And,
    Or,
}

impl BinaryOp {
    /// Every binary op once.
    pub const ALL: &'static [BinaryOp] = &[
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Rem,
        BinaryOp::Pow,
        BinaryOp::Minimum,
        BinaryOp::Maximum,
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Arctan2,
        BinaryOp::Hypot,
        BinaryOp::Copysign,
        BinaryOp::Logaddexp,
        BinaryOp::Fmin,
        BinaryOp::Fmax,
        BinaryOp::FloorDivide,
        BinaryOp::BitAnd,
        BinaryOp::BitOr,
        BinaryOp::BitXor,
        BinaryOp::LeftShift,
        BinaryOp::RightShift,
    ];

    /// The kernel family that runs the op.
    pub(crate) fn kernel(self) -> BinaryKernel {
        match self {
            BinaryOp::Add => BinaryKernel::Arith(ArithBinary::Add),
            BinaryOp::Sub => BinaryKernel::Arith(ArithBinary::Sub),
            BinaryOp::Mul => BinaryKernel::Arith(ArithBinary::Mul),
            BinaryOp::Div => BinaryKernel::Arith(ArithBinary::Div),
            BinaryOp::Rem => BinaryKernel::Arith(ArithBinary::Rem),
            BinaryOp::Pow => BinaryKernel::Float(FloatBinary::Pow),
            BinaryOp::Minimum => BinaryKernel::Extremum(Extremum::Minimum),
            BinaryOp::Maximum => BinaryKernel::Extremum(Extremum::Maximum),
            BinaryOp::And => BinaryKernel::Logic(Logic::And),
            BinaryOp::Or => BinaryKernel::Logic(Logic::Or),
            BinaryOp::Arctan2 => BinaryKernel::Float(FloatBinary::Atan2),
            BinaryOp::Hypot => BinaryKernel::Float(FloatBinary::Hypot),
            BinaryOp::Copysign => BinaryKernel::Float(FloatBinary::Copysign),
            BinaryOp::Logaddexp => BinaryKernel::Float(FloatBinary::Logaddexp),
            BinaryOp::Fmin => BinaryKernel::Extremum(Extremum::Fmin),
            BinaryOp::Fmax => BinaryKernel::Extremum(Extremum::Fmax),
            BinaryOp::FloorDivide => BinaryKernel::Arith(ArithBinary::FloorDiv),
            BinaryOp::BitAnd => BinaryKernel::Bits(Bits::And),
            BinaryOp::BitOr => BinaryKernel::Bits(Bits::Or),
            BinaryOp::BitXor => BinaryKernel::Bits(Bits::Xor),
            BinaryOp::LeftShift => BinaryKernel::Bits(Bits::Shl),
            BinaryOp::RightShift => BinaryKernel::Bits(Bits::Shr),
        }
    }

    /// The operand dtypes the op accepts (both operands and the result share one).
    #[must_use]
    pub fn domain(self) -> Domain {
        match self.kernel() {
            BinaryKernel::Arith(_) => Domain::Numeric,
            BinaryKernel::Float(_) => Domain::Float,
            BinaryKernel::Extremum(_) => Domain::Any,
            BinaryKernel::Logic(_) => Domain::Bool,
            BinaryKernel::Bits(_) => Domain::Integer,
        }
    }
}

impl CmpOp {
    /// Every comparison once.
    pub const ALL: &'static [CmpOp] = &[
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];
}

/// One instruction; operands are indices of earlier instructions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Node {
    /// The task's `i`-th input chunk, broadcast to the output shape.
    Input(usize),
    /// A constant, converted to the instruction's dtype.
    Scalar(Scalar),
    /// A unary operation.
    Unary(UnaryOp, usize),
    /// A binary operation.
    Binary(BinaryOp, usize, usize),
    /// A comparison.
    Compare(CmpOp, usize, usize),
    /// `if cond { a } else { b }` elementwise: (cond, a, b).
    Where(usize, usize, usize),
    /// Conversion to the instruction's dtype, as Rust's `as` (to bool: `!= 0`).
    Cast(usize),
    /// Clamp to `[lo, hi]` (NaN stays NaN).
    Clip(usize, Scalar, Scalar),
}

/// An instruction and the dtype it produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instr {
    /// What to compute.
    pub node: Node,
    /// The dtype of the result.
    pub dtype: DType,
}

/// A fused elementwise chain. Instructions are in topological order (operands
/// before users); the last one is the result. Input `i` of the task has dtype
/// `inputs[i]` and a shape that broadcasts to the output shape (NumPy rules:
/// aligned on the right, size-1 axes stretched, missing leading axes added).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct ElementwiseProgram {
    /// Dtypes of the task's input chunks.
    pub inputs: Vec<DType>,
    /// The instructions.
    pub instrs: Vec<Instr>,
}

impl ElementwiseProgram {
    /// The dtype of the program's result.
    ///
    /// # Panics
    /// If the program is empty (a lowering bug: every program has a result).
    #[must_use]
    pub fn out_dtype(&self) -> DType {
        self.instrs
            .last()
            .expect("a program has at least one instruction")
            .dtype
    }

    /// Appends an instruction, returning its index.
    pub fn push(&mut self, node: Node, dtype: DType) -> usize {
        self.instrs.push(Instr { node, dtype });
        self.instrs.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_op() {
        crate::assert_lists_every_variant!(
            UnaryOp::ALL,
            UnaryOp::Neg,
            UnaryOp::Abs,
            UnaryOp::Sqrt,
            UnaryOp::Exp,
            UnaryOp::Ln,
            UnaryOp::Log10,
            UnaryOp::Sin,
            UnaryOp::Cos,
            UnaryOp::Tan,
            UnaryOp::Tanh,
            UnaryOp::Floor,
            UnaryOp::Ceil,
            UnaryOp::Round,
            UnaryOp::Not,
            UnaryOp::IsNan,
            UnaryOp::IsFinite,
            UnaryOp::Powi(_),
            UnaryOp::Log2,
            UnaryOp::Log1p,
            UnaryOp::Expm1,
            UnaryOp::Exp2,
            UnaryOp::Cbrt,
            UnaryOp::Sinh,
            UnaryOp::Cosh,
            UnaryOp::Arcsin,
            UnaryOp::Arccos,
            UnaryOp::Arctan,
            UnaryOp::Arcsinh,
            UnaryOp::Arccosh,
            UnaryOp::Arctanh,
            UnaryOp::Trunc,
            UnaryOp::Rint,
            UnaryOp::Sign,
            UnaryOp::Signbit,
            UnaryOp::IsInf,
            UnaryOp::BitNot,
        );
        crate::assert_lists_every_variant!(
            BinaryOp::ALL,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Rem,
            BinaryOp::Pow,
            BinaryOp::Minimum,
            BinaryOp::Maximum,
            BinaryOp::And,
            BinaryOp::Or,
            BinaryOp::Arctan2,
            BinaryOp::Hypot,
            BinaryOp::Copysign,
            BinaryOp::Logaddexp,
            BinaryOp::Fmin,
            BinaryOp::Fmax,
            BinaryOp::FloorDivide,
            BinaryOp::BitAnd,
            BinaryOp::BitOr,
            BinaryOp::BitXor,
            BinaryOp::LeftShift,
            BinaryOp::RightShift,
        );
        crate::assert_lists_every_variant!(
            CmpOp::ALL,
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        );
    }

    /// Every dtype is in some op's domain and out of others', as documented on
    /// each variant: floats take everything but `Not`/`And`/`Or`, integers the
    /// arithmetic, comparisons and classifications, bools the logic ops.
    #[test]
    fn domains_follow_the_docs() {
        for &op in UnaryOp::ALL {
            let float = op.domain().contains(DType::F32);
            let int = op.domain().contains(DType::I8);
            let bool = op.domain().contains(DType::Bool);
            let want = match op {
                UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign => (true, true, false),
                UnaryOp::Not => (false, false, true),
                UnaryOp::BitNot => (false, true, false),
                UnaryOp::IsNan | UnaryOp::IsFinite | UnaryOp::IsInf => (true, true, true),
                UnaryOp::Sqrt
                | UnaryOp::Exp
                | UnaryOp::Ln
                | UnaryOp::Log10
                | UnaryOp::Sin
                | UnaryOp::Cos
                | UnaryOp::Tan
                | UnaryOp::Tanh
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round
                | UnaryOp::Powi(_)
                | UnaryOp::Log2
                | UnaryOp::Log1p
                | UnaryOp::Expm1
                | UnaryOp::Exp2
                | UnaryOp::Cbrt
                | UnaryOp::Sinh
                | UnaryOp::Cosh
                | UnaryOp::Arcsin
                | UnaryOp::Arccos
                | UnaryOp::Arctan
                | UnaryOp::Arcsinh
                | UnaryOp::Arccosh
                | UnaryOp::Arctanh
                | UnaryOp::Trunc
                | UnaryOp::Rint
                | UnaryOp::Signbit => (true, false, false),
            };
            assert_eq!((float, int, bool), want, "{op:?}");
            assert_eq!(op.is_float_only(), want == (true, false, false), "{op:?}");
        }
        for &op in BinaryOp::ALL {
            let d = op.domain();
            let want = match op {
                BinaryOp::Pow
                | BinaryOp::Arctan2
                | BinaryOp::Hypot
                | BinaryOp::Copysign
                | BinaryOp::Logaddexp => (true, false, false),
                BinaryOp::And | BinaryOp::Or => (false, false, true),
                BinaryOp::Minimum | BinaryOp::Maximum | BinaryOp::Fmin | BinaryOp::Fmax => {
                    (true, true, true)
                }
                BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Rem
                | BinaryOp::FloorDivide => (true, true, false),
                BinaryOp::BitAnd
                | BinaryOp::BitOr
                | BinaryOp::BitXor
                | BinaryOp::LeftShift
                | BinaryOp::RightShift => (false, true, false),
            };
            assert_eq!(
                (
                    d.contains(DType::F64),
                    d.contains(DType::U64),
                    d.contains(DType::Bool)
                ),
                want,
                "{op:?}"
            );
        }
    }
}
