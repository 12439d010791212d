//! Elementwise operations: arithmetic (operators), math, comparisons, `where_`,
//! casts. Operands broadcast as in NumPy and their chunk grids are unified (each
//! axis cut at the union of the operands' block boundaries), so every output
//! block reads exactly one block of each operand. Chains fuse at lowering.

use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::{self as chunks, Grid};
use crate::expr::node::{EwOp, Expr, ExprKind};
use darray_kernels::{BinaryOp, CmpOp, Element, Numeric, Scalar, UnaryOp};
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Rem, Sub};
use std::sync::Arc;

/// An operand of a binary operation: an array or a scalar of the same type.
#[derive(Debug, Clone)]
pub enum Operand<T: Element> {
    /// An array.
    Array(DArray<T>),
    /// A scalar, broadcast.
    Scalar(T),
}

impl<T: Element> From<&DArray<T>> for Operand<T> {
    fn from(a: &DArray<T>) -> Self {
        Operand::Array(a.clone())
    }
}
impl<T: Element> From<DArray<T>> for Operand<T> {
    fn from(a: DArray<T>) -> Self {
        Operand::Array(a)
    }
}
impl<T: Element> From<T> for Operand<T> {
    fn from(v: T) -> Self {
        Operand::Scalar(v)
    }
}

impl<T: Element> Operand<T> {
    fn expr(&self) -> Arc<Expr> {
        match self {
            Operand::Array(a) => a.expr.clone(),
            Operand::Scalar(v) => scalar_expr(Scalar::of(*v), T::DTYPE),
        }
    }
}

/// A 0-d constant, folded into fused programs as an immediate.
pub(crate) fn scalar_expr(value: Scalar, dtype: darray_kernels::DType) -> Arc<Expr> {
    Expr::new("scalar", vec![], vec![], dtype, ExprKind::Full { value })
}

/// NumPy broadcasting of two shapes.
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Broadcast {
                left: a.to_vec(),
                right: b.to_vec(),
            });
        };
    }
    Ok(out)
}

/// Builds an elementwise node over `args`: broadcast shape, unified grid, and
/// each operand rechunked to the unified grid where its own differs.
pub(crate) fn elementwise(
    name: &str,
    op: EwOp,
    args: &[Arc<Expr>],
    dtype: darray_kernels::DType,
) -> Result<Arc<Expr>> {
    let mut shape: Vec<usize> = vec![];
    for a in args {
        shape = broadcast_shapes(&shape, &a.shape)?;
    }
    let n = shape.len();
    // Union of block boundaries along each output axis, over the operands that
    // span it (not broadcast along it).
    let mut grid: Grid = vec![Vec::new(); n];
    for (ax, g) in grid.iter_mut().enumerate() {
        for a in args {
            let k = a.shape.len();
            if ax + k < n {
                continue;
            }
            let aax = ax + k - n;
            if a.shape[aax] != shape[ax] || (a.shape[aax] == 1 && shape[ax] == 1 && !g.is_empty()) {
                continue;
            }
            *g = if g.is_empty() {
                a.grid[aax].clone()
            } else {
                chunks::refine(g, &a.grid[aax])
            };
        }
        if g.is_empty() {
            *g = chunks::regular(shape[ax], shape[ax]);
        }
    }
    let args = args
        .iter()
        .map(|a| conform(a, &shape, &grid))
        .collect::<Vec<_>>();
    Ok(Expr::new(
        name,
        shape,
        grid,
        dtype,
        ExprKind::Elementwise { op, args },
    ))
}

/// `a` rechunked so that each axis it spans has the output grid's blocks
/// (broadcast axes keep their single block).
fn conform(a: &Arc<Expr>, shape: &[usize], grid: &Grid) -> Arc<Expr> {
    if matches!(a.kind, ExprKind::Full { .. }) && a.shape.iter().product::<usize>() <= 1 {
        return a.clone();
    }
    let n = shape.len();
    let k = a.shape.len();
    let want: Grid = (0..k)
        .map(|aax| {
            let ax = aax + n - k;
            if a.shape[aax] == shape[ax] {
                grid[ax].clone()
            } else {
                a.grid[aax].clone()
            }
        })
        .collect();
    if want == a.grid {
        a.clone()
    } else {
        crate::expr::select::rechunk_expr(a, want)
    }
}

impl<T: Element> DArray<T> {
    fn unary(&self, name: &str, op: UnaryOp) -> DArray<T> {
        let e = elementwise(
            name,
            EwOp::Unary(op),
            std::slice::from_ref(&self.expr),
            T::DTYPE,
        )
        .expect("one operand always broadcasts");
        DArray::wrap(e)
    }

    fn unary_to<U: Element>(&self, name: &str, op: UnaryOp) -> DArray<U> {
        let e = elementwise(
            name,
            EwOp::Unary(op),
            std::slice::from_ref(&self.expr),
            U::DTYPE,
        )
        .expect("one operand always broadcasts");
        DArray::wrap(e)
    }

    fn binary(&self, name: &str, op: BinaryOp, other: &Operand<T>) -> Result<DArray<T>> {
        elementwise(
            name,
            EwOp::Binary(op),
            &[self.expr.clone(), other.expr()],
            T::DTYPE,
        )
        .map(DArray::wrap)
    }

    fn binary_rev(&self, name: &str, op: BinaryOp, lhs: T) -> DArray<T> {
        let e = elementwise(
            name,
            EwOp::Binary(op),
            &[scalar_expr(Scalar::of(lhs), T::DTYPE), self.expr.clone()],
            T::DTYPE,
        )
        .expect("a scalar always broadcasts");
        DArray::wrap(e)
    }

    fn compare(&self, name: &str, op: CmpOp, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        let other = other.into();
        elementwise(
            name,
            EwOp::Compare(op),
            &[self.expr.clone(), other.expr()],
            darray_kernels::DType::Bool,
        )
        .map(DArray::wrap)
    }

    /// `self == other` elementwise.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn equal(&self, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        self.compare("equal", CmpOp::Eq, other)
    }
    /// `self != other` elementwise.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn not_equal(&self, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        self.compare("not_equal", CmpOp::Ne, other)
    }
    /// `self < other` elementwise.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn less(&self, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        self.compare("less", CmpOp::Lt, other)
    }
    /// `self <= other` elementwise.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn less_equal(&self, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        self.compare("less_equal", CmpOp::Le, other)
    }
    /// `self > other` elementwise.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn greater(&self, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        self.compare("greater", CmpOp::Gt, other)
    }
    /// `self >= other` elementwise.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn greater_equal(&self, other: impl Into<Operand<T>>) -> Result<DArray<bool>> {
        self.compare("greater_equal", CmpOp::Ge, other)
    }

    /// Values clamped to `[lo, hi]` (NaN stays NaN).
    pub fn clip(&self, lo: T, hi: T) -> DArray<T> {
        let e = elementwise(
            "clip",
            EwOp::Clip(Scalar::of(lo), Scalar::of(hi)),
            std::slice::from_ref(&self.expr),
            T::DTYPE,
        )
        .expect("one operand always broadcasts");
        DArray::wrap(e)
    }

    /// Elementwise conversion to `U`, as Rust's `as` (to bool: `!= 0`).
    ///
    /// ```
    /// use darray::DArray;
    /// let x = DArray::<f64>::arange(0.0, 3.0, 1.0, [2]).unwrap();
    /// let y: Vec<i32> = x.cast::<i32>().compute().unwrap().into_iter().collect();
    /// assert_eq!(y, vec![0, 1, 2]);
    /// ```
    pub fn cast<U: Element>(&self) -> DArray<U> {
        if U::DTYPE == T::DTYPE {
            return DArray::wrap(self.expr.clone());
        }
        let e = elementwise(
            "cast",
            EwOp::Cast,
            std::slice::from_ref(&self.expr),
            U::DTYPE,
        )
        .expect("one operand always broadcasts");
        DArray::wrap(e)
    }

    /// True where the value is NaN.
    pub fn isnan(&self) -> DArray<bool> {
        self.unary_to("isnan", UnaryOp::IsNan)
    }

    /// True where the value is neither NaN nor infinite.
    pub fn isfinite(&self) -> DArray<bool> {
        self.unary_to("isfinite", UnaryOp::IsFinite)
    }
}

impl<T: Numeric> DArray<T> {
    /// `self + other`, broadcasting.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn add(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("add", BinaryOp::Add, &other.into())
    }
    /// `self - other`, broadcasting.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn sub(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("sub", BinaryOp::Sub, &other.into())
    }
    /// `self * other`, broadcasting.
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn mul(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("mul", BinaryOp::Mul, &other.into())
    }
    /// `self / other`, broadcasting (integer division truncates; by zero gives 0).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn div(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("div", BinaryOp::Div, &other.into())
    }
    /// `self % other`, broadcasting (Rust's remainder; integer by zero gives 0).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn rem(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("rem", BinaryOp::Rem, &other.into())
    }
    /// Elementwise minimum (NaN if either is NaN, as NumPy's `minimum`).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn minimum(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("minimum", BinaryOp::Minimum, &other.into())
    }
    /// Elementwise maximum (NaN if either is NaN, as NumPy's `maximum`).
    ///
    /// # Errors
    /// Shapes that do not broadcast.
    pub fn maximum(&self, other: impl Into<Operand<T>>) -> Result<DArray<T>> {
        self.binary("maximum", BinaryOp::Maximum, &other.into())
    }

    /// Absolute value (wrapping for the minimum of signed integers).
    pub fn abs(&self) -> DArray<T> {
        self.unary("abs", UnaryOp::Abs)
    }
}

macro_rules! float_unary {
    ($($name:ident => $op:ident, $doc:literal;)*) => {
        impl<T: Numeric + num_traits::Float> DArray<T> {
            $(
                #[doc = $doc]
                pub fn $name(&self) -> DArray<T> {
                    self.unary(stringify!($name), UnaryOp::$op)
                }
            )*

            /// `x^n` for an integer `n`.
            pub fn powi(&self, n: i32) -> DArray<T> {
                self.unary("powi", UnaryOp::Powi(n))
            }

            /// `x^p`, broadcasting.
            ///
            /// # Errors
            /// Shapes that do not broadcast.
            pub fn powf(&self, p: impl Into<Operand<T>>) -> Result<DArray<T>> {
                self.binary("powf", BinaryOp::Pow, &p.into())
            }
        }
    };
}

float_unary! {
    sqrt => Sqrt, "Square root.";
    exp => Exp, "`e^x`.";
    ln => Ln, "Natural logarithm.";
    log10 => Log10, "Base-10 logarithm.";
    sin => Sin, "Sine.";
    cos => Cos, "Cosine.";
    tan => Tan, "Tangent.";
    tanh => Tanh, "Hyperbolic tangent.";
    floor => Floor, "Round down.";
    ceil => Ceil, "Round up.";
    round => Round, "Round half away from zero.";
}

/// `cond ? a : b` elementwise, broadcasting all three (NumPy's `where`).
///
/// ```
/// use darray::{where_, DArray};
/// let x = DArray::<i32>::arange(0.0, 6.0, 1.0, [4]).unwrap();
/// let y = where_(&x.less(3).unwrap(), &x, 0).unwrap().compute().unwrap();
/// assert_eq!(y.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 0, 0, 0]);
/// ```
///
/// # Errors
/// Shapes that do not broadcast.
pub fn where_<T: Element>(
    cond: &DArray<bool>,
    a: impl Into<Operand<T>>,
    b: impl Into<Operand<T>>,
) -> Result<DArray<T>> {
    let (a, b) = (a.into(), b.into());
    elementwise(
        "where",
        EwOp::Where,
        &[cond.expr.clone(), a.expr(), b.expr()],
        T::DTYPE,
    )
    .map(DArray::wrap)
}

macro_rules! impl_binop {
    ($Trait:ident, $method:ident, $op:ident) => {
        impl<T: Numeric> $Trait<&DArray<T>> for &DArray<T> {
            type Output = Result<DArray<T>>;
            fn $method(self, rhs: &DArray<T>) -> Result<DArray<T>> {
                self.binary(
                    stringify!($method),
                    BinaryOp::$op,
                    &Operand::Array(rhs.clone()),
                )
            }
        }
        impl<T: Numeric> $Trait<DArray<T>> for DArray<T> {
            type Output = Result<DArray<T>>;
            fn $method(self, rhs: DArray<T>) -> Result<DArray<T>> {
                self.binary(stringify!($method), BinaryOp::$op, &Operand::Array(rhs))
            }
        }
        impl<T: Numeric> $Trait<&DArray<T>> for DArray<T> {
            type Output = Result<DArray<T>>;
            fn $method(self, rhs: &DArray<T>) -> Result<DArray<T>> {
                self.binary(
                    stringify!($method),
                    BinaryOp::$op,
                    &Operand::Array(rhs.clone()),
                )
            }
        }
        impl<T: Numeric> $Trait<T> for &DArray<T> {
            type Output = DArray<T>;
            fn $method(self, rhs: T) -> DArray<T> {
                self.binary(stringify!($method), BinaryOp::$op, &Operand::Scalar(rhs))
                    .expect("a scalar always broadcasts")
            }
        }
        impl<T: Numeric> $Trait<T> for DArray<T> {
            type Output = DArray<T>;
            fn $method(self, rhs: T) -> DArray<T> {
                $Trait::$method(&self, rhs)
            }
        }
    };
}

impl_binop!(Add, add, Add);
impl_binop!(Sub, sub, Sub);
impl_binop!(Mul, mul, Mul);
impl_binop!(Div, div, Div);
impl_binop!(Rem, rem, Rem);

macro_rules! impl_scalar_lhs {
    ($($t:ty),*) => {$(
        impl Add<&DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn add(self, rhs: &DArray<$t>) -> DArray<$t> { rhs.binary_rev("add", BinaryOp::Add, self) }
        }
        impl Sub<&DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn sub(self, rhs: &DArray<$t>) -> DArray<$t> { rhs.binary_rev("sub", BinaryOp::Sub, self) }
        }
        impl Mul<&DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn mul(self, rhs: &DArray<$t>) -> DArray<$t> { rhs.binary_rev("mul", BinaryOp::Mul, self) }
        }
        impl Div<&DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn div(self, rhs: &DArray<$t>) -> DArray<$t> { rhs.binary_rev("div", BinaryOp::Div, self) }
        }
        impl Rem<&DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn rem(self, rhs: &DArray<$t>) -> DArray<$t> { rhs.binary_rev("rem", BinaryOp::Rem, self) }
        }
    )*};
}

impl_scalar_lhs!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl<T: Numeric> Neg for &DArray<T> {
    type Output = DArray<T>;
    fn neg(self) -> DArray<T> {
        self.unary("neg", UnaryOp::Neg)
    }
}
impl<T: Numeric> Neg for DArray<T> {
    type Output = DArray<T>;
    fn neg(self) -> DArray<T> {
        -&self
    }
}

impl Not for &DArray<bool> {
    type Output = DArray<bool>;
    fn not(self) -> DArray<bool> {
        self.unary("not", UnaryOp::Not)
    }
}
impl BitAnd for &DArray<bool> {
    type Output = Result<DArray<bool>>;
    fn bitand(self, rhs: &DArray<bool>) -> Result<DArray<bool>> {
        self.binary("and", BinaryOp::And, &Operand::Array(rhs.clone()))
    }
}
impl BitOr for &DArray<bool> {
    type Output = Result<DArray<bool>>;
    fn bitor(self, rhs: &DArray<bool>) -> Result<DArray<bool>> {
        self.binary("or", BinaryOp::Or, &Operand::Array(rhs.clone()))
    }
}
