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
