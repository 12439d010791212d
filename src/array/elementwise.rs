//! Elementwise operations: arithmetic (operators), math, comparisons, `where_`,
//! casts. Operands broadcast as in NumPy and their chunk grids are unified: per
//! axis, where one operand's grid is another's shifted by a few elements (shifted
//! slices of one array), the output takes one of them and the others are
//! rechunked to it; otherwise the axis is cut at the union of the operands' block
//! boundaries. Either way every output block reads one block of each (possibly
//! rechunked) operand. Chains fuse at lowering.

use super::DArray;
use crate::error::{Error, Result};
use crate::expr::grid::{self as chunks, Grid};
use crate::expr::node::{EwOp, Expr, ExprKind};
use crate::graph::ArrayId;
use darray_kernels::{BinaryOp, CmpOp, Element, Numeric, Scalar, UnaryOp};
use std::borrow::Borrow;
use std::collections::HashMap;
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
    pub(super) fn expr(&self) -> Arc<Expr> {
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
    let grid = unified_grid(args, &shape);
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

/// How many axes one operand may be rechunked on by alignment: an assembled
/// block reads up to two of the operand's blocks per such axis, so at most four
/// here, held with the block they make (a fused task already holds one block per
/// operand and its output). Further axes are refined instead, which reads one.
const MAX_ALIGNED_AXES: usize = 2;

/// The output grid of an elementwise node: per axis, the operands' common grid
/// where they agree; one operand's grid where the others are that grid shifted by
/// a few elements ([`chunks::common_alignment`]: shifted slices of one array,
/// whose common refinement would cut slivers at every block edge; the others
/// are rechunked to it, each block from at most two of theirs); else the union
/// of their block boundaries ([`chunks::refine`]), which moves no data.
fn unified_grid(args: &[Arc<Expr>], shape: &[usize]) -> Grid {
    let n = shape.len();
    let refined = |cands: &[&[usize]]| -> Vec<usize> {
        cands[1..]
            .iter()
            .fold(cands[0].to_vec(), |g, c| chunks::refine(&g, c))
    };
    let mut grid: Grid = Vec::with_capacity(n);
    let mut aligned = vec![false; n];
    for ax in 0..n {
        let mut cands: Vec<&[usize]> = Vec::new();
        for g in args.iter().filter_map(|a| spanned_grid(a, shape, ax)) {
            if !cands.contains(&g) {
                cands.push(g);
            }
        }
        grid.push(match cands.len() {
            0 => chunks::regular(shape[ax], shape[ax]),
            1 => cands[0].to_vec(),
            _ => match chunks::common_alignment(&cands) {
                Some(i) => {
                    aligned[ax] = true;
                    cands[i].to_vec()
                }
                None => refined(&cands),
            },
        });
    }
    for a in args {
        let moved: Vec<usize> = (0..n)
            .filter(|&ax| aligned[ax] && spanned_grid(a, shape, ax).is_some_and(|g| g != grid[ax]))
            .collect();
        for &ax in moved.iter().skip(MAX_ALIGNED_AXES) {
            let cands: Vec<&[usize]> = args
                .iter()
                .filter_map(|b| spanned_grid(b, shape, ax))
                .collect();
            grid[ax] = refined(&cands);
            aligned[ax] = false;
        }
    }
    grid
}

/// The grid of `a` along axis `ax` of an output of `shape`, if `a` spans that
/// axis (is not broadcast along it).
fn spanned_grid<'a>(a: &'a Expr, shape: &[usize], ax: usize) -> Option<&'a [usize]> {
    let k = a.shape.len();
    let aax = (ax + k).checked_sub(shape.len())?;
    (a.shape[aax] == shape[ax]).then(|| a.grid[aax].as_slice())
}

/// `a` rechunked so that each axis it spans has the output grid's blocks
/// (broadcast axes keep their single block).
fn conform(a: &Arc<Expr>, shape: &[usize], grid: &Grid) -> Arc<Expr> {
    conform_in(a, shape, grid, &mut HashMap::new())
}

/// [`conform`], memoized by node over one call (a chain may share nodes).
fn conform_in(
    a: &Arc<Expr>,
    shape: &[usize],
    grid: &Grid,
    done: &mut HashMap<ArrayId, Arc<Expr>>,
) -> Arc<Expr> {
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
        return a.clone();
    }
    if let Some(c) = done.get(&a.id) {
        return c.clone();
    }
    let node = |kind| Expr::new(a.name.clone(), a.shape.clone(), want.clone(), a.dtype, kind);
    let c = match &a.kind {
        // Cutting an elementwise node's operands instead of its result keeps the
        // chain fused into its consumer: one task per block, instead of a fused
        // task per block of the old grid and an assembly of their outputs.
        ExprKind::Elementwise { op, args } => {
            let args = args
                .iter()
                .map(|x| conform_in(x, &a.shape, &want, done))
                .collect();
            node(ExprKind::Elementwise {
                op: op.clone(),
                args,
            })
        }
        ExprKind::Full { value } => node(ExprKind::Full { value: *value }),
        // Every other node is cut by a rechunk of its result (named, so a new
        // kind of node gets this decision made for it).
        ExprKind::Zarr { .. }
        | ExprKind::Literal { .. }
        | ExprKind::Arange { .. }
        | ExprKind::Eye { .. }
        | ExprKind::Random { .. }
        | ExprKind::Reduce { .. }
        | ExprKind::Slice { .. }
        | ExprKind::Rechunk { .. }
        | ExprKind::Transpose { .. }
        | ExprKind::Concatenate { .. }
        | ExprKind::MapBlocks { .. }
        | ExprKind::Overlap { .. }
        | ExprKind::Trim { .. }
        | ExprKind::Stencil { .. }
        | ExprKind::OIndex { .. }
        | ExprKind::Extract { .. }
        | ExprKind::Sort { .. }
        | ExprKind::IsIn { .. }
        | ExprKind::Reshape { .. }
        | ExprKind::Custom(_) => crate::expr::select::rechunk_expr(a, want.clone()),
    };
    done.insert(a.id, c.clone());
    c
}

impl<T: Element> DArray<T> {
    pub(super) fn unary(&self, name: &str, op: UnaryOp) -> DArray<T> {
        let e = elementwise(
            name,
            EwOp::Unary(op),
            std::slice::from_ref(&self.expr),
            T::DTYPE,
        )
        .expect("one operand always broadcasts");
        DArray::wrap(e)
    }

    pub(super) fn unary_to<U: Element>(&self, name: &str, op: UnaryOp) -> DArray<U> {
        let e = elementwise(
            name,
            EwOp::Unary(op),
            std::slice::from_ref(&self.expr),
            U::DTYPE,
        )
        .expect("one operand always broadcasts");
        DArray::wrap(e)
    }

    pub(super) fn binary(&self, name: &str, op: BinaryOp, other: &Operand<T>) -> Result<DArray<T>> {
        elementwise(
            name,
            EwOp::Binary(op),
            &[self.expr.clone(), other.expr()],
            T::DTYPE,
        )
        .map(DArray::wrap)
    }

    pub(super) fn binary_rev(&self, name: &str, op: BinaryOp, lhs: T) -> DArray<T> {
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

/// Implements an operator for every pairing of owned and borrowed operands:
/// array with array (`Result`, as shapes may not broadcast), array with scalar
/// and scalar with array (the array itself: a scalar always broadcasts). One
/// macro, so `&x + x.cos()` works as well as `&x + &y` and the compiler's own
/// suggestion (borrow the left side) never leads to a moved value.
macro_rules! binary_operator {
    ($Trait:ident, $method:ident, $op:ident, $name:expr, [$($g:tt)*], $T:ty; $($lhs:ty),*) => {
        binary_operator!(@arrays $Trait, $method, $op, $name, [$($g)*], $T, DArray<$T>, DArray<$T>);
        binary_operator!(@arrays $Trait, $method, $op, $name, [$($g)*], $T, DArray<$T>, &DArray<$T>);
        binary_operator!(@arrays $Trait, $method, $op, $name, [$($g)*], $T, &DArray<$T>, DArray<$T>);
        binary_operator!(@arrays $Trait, $method, $op, $name, [$($g)*], $T, &DArray<$T>, &DArray<$T>);
        binary_operator!(@scalar_rhs $Trait, $method, $op, $name, [$($g)*], $T, DArray<$T>);
        binary_operator!(@scalar_rhs $Trait, $method, $op, $name, [$($g)*], $T, &DArray<$T>);
        $(
            binary_operator!(@scalar_lhs $Trait, $method, $op, $name, $lhs, DArray<$lhs>);
            binary_operator!(@scalar_lhs $Trait, $method, $op, $name, $lhs, &DArray<$lhs>);
        )*
    };
    (@arrays $Trait:ident, $method:ident, $op:ident, $name:expr, [$($g:tt)*], $T:ty, $L:ty, $R:ty) => {
        impl<$($g)*> $Trait<$R> for $L {
            type Output = Result<DArray<$T>>;
            fn $method(self, rhs: $R) -> Result<DArray<$T>> {
                let lhs: &DArray<$T> = Borrow::borrow(&self);
                let rhs: &DArray<$T> = Borrow::borrow(&rhs);
                lhs.binary($name, BinaryOp::$op, &Operand::Array(rhs.clone()))
            }
        }
    };
    (@scalar_rhs $Trait:ident, $method:ident, $op:ident, $name:expr, [$($g:tt)*], $T:ty, $L:ty) => {
        impl<$($g)*> $Trait<$T> for $L {
            type Output = DArray<$T>;
            fn $method(self, rhs: $T) -> DArray<$T> {
                let lhs: &DArray<$T> = Borrow::borrow(&self);
                lhs.binary($name, BinaryOp::$op, &Operand::Scalar(rhs))
                    .expect("a scalar always broadcasts")
            }
        }
    };
    (@scalar_lhs $Trait:ident, $method:ident, $op:ident, $name:expr, $T:ty, $R:ty) => {
        impl $Trait<$R> for $T {
            type Output = DArray<$T>;
            fn $method(self, rhs: $R) -> DArray<$T> {
                let rhs: &DArray<$T> = Borrow::borrow(&rhs);
                rhs.binary_rev($name, BinaryOp::$op, self)
            }
        }
    };
}

/// [`binary_operator!`] for an arithmetic operator: every numeric element type.
macro_rules! arithmetic_operator {
    ($Trait:ident, $method:ident, $op:ident) => {
        binary_operator!(
            $Trait, $method, $op, stringify!($method), [T: Numeric], T;
            i8, i16, i32, i64, u8, u16, u32, u64, f32, f64
        );
    };
}

arithmetic_operator!(Add, add, Add);
arithmetic_operator!(Sub, sub, Sub);
arithmetic_operator!(Mul, mul, Mul);
arithmetic_operator!(Div, div, Div);
arithmetic_operator!(Rem, rem, Rem);
binary_operator!(BitAnd, bitand, And, "and", [], bool; bool);
binary_operator!(BitOr, bitor, Or, "or", [], bool; bool);

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
impl Not for DArray<bool> {
    type Output = DArray<bool>;
    fn not(self) -> DArray<bool> {
        !&self
    }
}
