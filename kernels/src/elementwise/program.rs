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
            Domain::Any => true,
        }
    }

    /// Why an operand of `dtype` is outside the domain, or `None` if it is inside.
    pub(crate) fn problem(self, op: impl std::fmt::Debug, dtype: DType) -> Option<String> {
        let why = match self {
            Domain::Numeric => "is not defined for bool (cast to an integer first)",
            Domain::Float => "needs float operands",
            Domain::Bool => "needs bool operands",
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
}

/// [`UnaryKernel::Arith`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithUnary {
    Neg,
    Abs,
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
}

/// [`UnaryKernel::Classify`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Classify {
    IsNan,
    IsFinite,
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
        }
    }

    /// The operand dtypes the op accepts.
    #[must_use]
    pub fn domain(self) -> Domain {
        match self.kernel() {
            UnaryKernel::Arith(_) => Domain::Numeric,
            UnaryKernel::Float(_) => Domain::Float,
            UnaryKernel::Not => Domain::Bool,
            UnaryKernel::Classify(_) => Domain::Any,
        }
    }

    /// True if the op is defined for floats only.
    #[must_use]
    pub fn is_float_only(self) -> bool {
        self.domain() == Domain::Float
    }

    /// The dtype of the result for an operand of `operand`: bool for the
    /// classifications (`IsNan`, `IsFinite`), else the operand's.
    #[must_use]
    pub fn result_dtype(self, operand: DType) -> DType {
        match self.kernel() {
            UnaryKernel::Classify(_) => DType::Bool,
            UnaryKernel::Arith(_) | UnaryKernel::Float(_) | UnaryKernel::Not => operand,
        }
    }
}

/// Which typed kernel runs a [`BinaryOp`] (see [`UnaryKernel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryKernel {
    /// Integers and floats.
    Arith(ArithBinary),
    /// `powf` of floats.
    Pow,
    /// NumPy's `minimum`/`maximum`, any dtype.
    Extremum(Extremum),
    /// Logical ops of bools.
    Logic(Logic),
}

/// [`BinaryKernel::Arith`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithBinary {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// [`BinaryKernel::Extremum`] ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extremum {
    Minimum,
    Maximum,
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
    ];

    /// The kernel family that runs the op.
    pub(crate) fn kernel(self) -> BinaryKernel {
        match self {
            BinaryOp::Add => BinaryKernel::Arith(ArithBinary::Add),
            BinaryOp::Sub => BinaryKernel::Arith(ArithBinary::Sub),
            BinaryOp::Mul => BinaryKernel::Arith(ArithBinary::Mul),
            BinaryOp::Div => BinaryKernel::Arith(ArithBinary::Div),
            BinaryOp::Rem => BinaryKernel::Arith(ArithBinary::Rem),
            BinaryOp::Pow => BinaryKernel::Pow,
            BinaryOp::Minimum => BinaryKernel::Extremum(Extremum::Minimum),
            BinaryOp::Maximum => BinaryKernel::Extremum(Extremum::Maximum),
            BinaryOp::And => BinaryKernel::Logic(Logic::And),
            BinaryOp::Or => BinaryKernel::Logic(Logic::Or),
        }
    }

    /// The operand dtypes the op accepts (both operands and the result share one).
    #[must_use]
    pub fn domain(self) -> Domain {
        match self.kernel() {
            BinaryKernel::Arith(_) => Domain::Numeric,
            BinaryKernel::Pow => Domain::Float,
            BinaryKernel::Extremum(_) => Domain::Any,
            BinaryKernel::Logic(_) => Domain::Bool,
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
                UnaryOp::Neg | UnaryOp::Abs => (true, true, false),
                UnaryOp::Not => (false, false, true),
                UnaryOp::IsNan | UnaryOp::IsFinite => (true, true, true),
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
                | UnaryOp::Powi(_) => (true, false, false),
            };
            assert_eq!((float, int, bool), want, "{op:?}");
            assert_eq!(op.is_float_only(), want == (true, false, false), "{op:?}");
        }
        for &op in BinaryOp::ALL {
            let d = op.domain();
            let want = match op {
                BinaryOp::Pow => (true, false, false),
                BinaryOp::And | BinaryOp::Or => (false, false, true),
                BinaryOp::Minimum | BinaryOp::Maximum => (true, true, true),
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                    (true, true, false)
                }
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
