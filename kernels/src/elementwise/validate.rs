//! Static checks of an [`ElementwiseProgram`]: operand order and dtype rules. The
//! evaluator relies on them, so it can pick typed kernels without re-checking.

use super::program::{BinaryOp, ElementwiseProgram, Node, UnaryOp};
use crate::dtype::DType;
use crate::error::{KernelError, Result};

/// Checks a program: operand indices refer to earlier instructions, input indices
/// are below `p.inputs.len()` and each `Input` instruction has its input's dtype,
/// and operand dtypes fit each operation (Binary: both operands and the result
/// share a dtype; Compare: operands share a dtype, result bool; Where: bool
/// condition, branches of the result's dtype; Cast: anything; Clip: operand of
/// the result's dtype). Each op's operand dtypes are its [`UnaryOp::domain`] or
/// [`BinaryOp::domain`]; a unary op's result dtype is [`UnaryOp::result_dtype`].
///
/// # Errors
/// [`KernelError::Other`] naming the first offending instruction and the rule.
pub fn validate(p: &ElementwiseProgram) -> Result<()> {
    if p.instrs.is_empty() {
        return Err(KernelError::Other(
            "elementwise program has no instructions".into(),
        ));
    }
    for (k, instr) in p.instrs.iter().enumerate() {
        let fail = |why: String| {
            Err(KernelError::Other(format!(
                "elementwise program, instruction {k} ({:?}): {why}",
                instr.node
            )))
        };
        if let Some(j) = operands(&instr.node).find(|&j| j >= k) {
            return fail(format!(
                "operand {j} does not refer to an earlier instruction"
            ));
        }
        let ty = |j: usize| p.instrs[j].dtype;
        let dtype = instr.dtype;
        let problem = match instr.node {
            Node::Input(i) => match p.inputs.get(i) {
                None => Some(format!(
                    "input {i} does not exist (the program has {})",
                    p.inputs.len()
                )),
                Some(&d) if d != dtype => {
                    Some(format!("input {i} has dtype {d}, the instruction {dtype}"))
                }
                Some(_) => None,
            },
            // Any scalar converts to any dtype; a cast goes from any dtype to any.
            Node::Scalar(_) | Node::Cast(_) => None,
            Node::Unary(op, a) => check_unary(op, ty(a), dtype),
            Node::Binary(op, a, b) => {
                same(&[ty(a), ty(b)], dtype).or_else(|| check_binary(op, dtype))
            }
            Node::Compare(_, a, b) => {
                if ty(a) == ty(b) {
                    want(dtype, DType::Bool, "a comparison's result")
                } else {
                    Some(format!("compares {} with {}", ty(a), ty(b)))
                }
            }
            Node::Where(c, a, b) => {
                want(ty(c), DType::Bool, "the condition").or_else(|| same(&[ty(a), ty(b)], dtype))
            }
            Node::Clip(a, _, _) => same(&[ty(a)], dtype),
        };
        if let Some(why) = problem {
            return fail(why);
        }
    }
    Ok(())
}

/// The instruction indices a node reads.
pub(crate) fn operands(node: &Node) -> impl Iterator<Item = usize> {
    let (ops, n) = match *node {
        Node::Input(_) | Node::Scalar(_) => ([0; 3], 0),
        Node::Unary(_, a) | Node::Cast(a) | Node::Clip(a, ..) => ([a, 0, 0], 1),
        Node::Binary(_, a, b) | Node::Compare(_, a, b) => ([a, b, 0], 2),
        Node::Where(c, a, b) => ([c, a, b], 3),
    };
    ops.into_iter().take(n)
}

fn want(got: DType, expected: DType, what: &str) -> Option<String> {
    (got != expected).then(|| format!("{what} must be {expected}, is {got}"))
}

fn same(operands: &[DType], dtype: DType) -> Option<String> {
    operands
        .iter()
        .find(|&&d| d != dtype)
        .map(|d| format!("operand of dtype {d} for a result of dtype {dtype}"))
}

fn check_unary(op: UnaryOp, operand: DType, dtype: DType) -> Option<String> {
    let result = op.result_dtype(operand);
    if result != dtype {
        return Some(if result == operand {
            format!("operand of dtype {operand} for a result of dtype {dtype}")
        } else {
            format!("the result of {op:?} must be {result}, is {dtype}")
        });
    }
    op.domain().problem(op, operand)
}

fn check_binary(op: BinaryOp, dtype: DType) -> Option<String> {
    op.domain().problem(op, dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elementwise::program::CmpOp;
    use crate::Scalar;

    fn prog(inputs: &[DType], instrs: &[(Node, DType)]) -> ElementwiseProgram {
        let mut p = ElementwiseProgram {
            inputs: inputs.to_vec(),
            instrs: Vec::new(),
        };
        for (n, d) in instrs {
            p.push(n.clone(), *d);
        }
        p
    }

    fn err(p: &ElementwiseProgram) -> String {
        match validate(p) {
            Err(KernelError::Other(m)) => m,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_well_typed_programs() {
        use DType::{Bool, F32, F64, I32};
        let p = prog(
            &[F64, I32],
            &[
                (Node::Input(0), F64),
                (Node::Input(1), I32),
                (Node::Cast(1), F64),
                (Node::Binary(BinaryOp::Pow, 0, 2), F64),
                (Node::Unary(UnaryOp::Sin, 3), F64),
                (Node::Compare(CmpOp::Lt, 0, 4), Bool),
                (Node::Unary(UnaryOp::Not, 5), Bool),
                (Node::Unary(UnaryOp::IsNan, 1), Bool),
                (Node::Binary(BinaryOp::Or, 6, 7), Bool),
                (Node::Binary(BinaryOp::Maximum, 8, 8), Bool),
                (Node::Where(9, 4, 0), F64),
                (Node::Clip(10, Scalar::Int(0), Scalar::Float(1.5)), F64),
                (Node::Scalar(Scalar::Float(2.0)), F32),
                (Node::Binary(BinaryOp::Rem, 1, 1), I32),
                (Node::Unary(UnaryOp::Abs, 13), I32),
                (Node::Cast(11), Bool),
            ],
        );
        validate(&p).unwrap();
    }

    #[test]
    fn rejects_each_rule() {
        use DType::{Bool, F64, I32, U8};
        let cases: Vec<(ElementwiseProgram, &str)> = vec![
            (prog(&[], &[]), "no instructions"),
            (
                prog(&[F64], &[(Node::Input(1), F64)]),
                "input 1 does not exist",
            ),
            (
                prog(&[F64], &[(Node::Input(0), I32)]),
                "input 0 has dtype float64",
            ),
            (
                prog(&[F64], &[(Node::Unary(UnaryOp::Neg, 0), F64)]),
                "earlier instruction",
            ),
            (
                prog(
                    &[F64],
                    &[
                        (Node::Input(0), F64),
                        (Node::Binary(BinaryOp::Add, 0, 5), F64),
                    ],
                ),
                "operand 5",
            ),
            (
                prog(
                    &[I32],
                    &[(Node::Input(0), I32), (Node::Unary(UnaryOp::Sqrt, 0), I32)],
                ),
                "needs float",
            ),
            (
                prog(
                    &[I32],
                    &[
                        (Node::Input(0), I32),
                        (Node::Unary(UnaryOp::Powi(2), 0), I32),
                    ],
                ),
                "needs float",
            ),
            (
                prog(
                    &[I32],
                    &[(Node::Input(0), I32), (Node::Unary(UnaryOp::Neg, 0), F64)],
                ),
                "operand of dtype int32",
            ),
            (
                prog(
                    &[I32],
                    &[(Node::Input(0), I32), (Node::Unary(UnaryOp::Not, 0), I32)],
                ),
                "needs bool",
            ),
            (
                prog(
                    &[Bool],
                    &[(Node::Input(0), Bool), (Node::Unary(UnaryOp::Neg, 0), Bool)],
                ),
                "not defined for bool",
            ),
            (
                prog(
                    &[F64],
                    &[(Node::Input(0), F64), (Node::Unary(UnaryOp::IsNan, 0), F64)],
                ),
                "must be bool",
            ),
            (
                prog(
                    &[F64, I32],
                    &[
                        (Node::Input(0), F64),
                        (Node::Input(1), I32),
                        (Node::Binary(BinaryOp::Add, 0, 1), F64),
                    ],
                ),
                "operand of dtype int32",
            ),
            (
                prog(
                    &[Bool],
                    &[
                        (Node::Input(0), Bool),
                        (Node::Binary(BinaryOp::Mul, 0, 0), Bool),
                    ],
                ),
                "not defined for bool",
            ),
            (
                prog(
                    &[U8],
                    &[
                        (Node::Input(0), U8),
                        (Node::Binary(BinaryOp::Pow, 0, 0), U8),
                    ],
                ),
                "Pow needs float",
            ),
            (
                prog(
                    &[U8],
                    &[
                        (Node::Input(0), U8),
                        (Node::Binary(BinaryOp::And, 0, 0), U8),
                    ],
                ),
                "needs bool",
            ),
            (
                prog(
                    &[U8, I32],
                    &[
                        (Node::Input(0), U8),
                        (Node::Input(1), I32),
                        (Node::Compare(CmpOp::Eq, 0, 1), Bool),
                    ],
                ),
                "compares uint8 with int32",
            ),
            (
                prog(
                    &[U8],
                    &[(Node::Input(0), U8), (Node::Compare(CmpOp::Eq, 0, 0), U8)],
                ),
                "result must be bool",
            ),
            (
                prog(&[U8], &[(Node::Input(0), U8), (Node::Where(0, 0, 0), U8)]),
                "condition must be bool",
            ),
            (
                prog(
                    &[Bool, U8],
                    &[
                        (Node::Input(0), Bool),
                        (Node::Input(1), U8),
                        (Node::Where(0, 1, 0), U8),
                    ],
                ),
                "operand of dtype bool",
            ),
            (
                prog(
                    &[U8],
                    &[
                        (Node::Input(0), U8),
                        (Node::Clip(0, Scalar::Int(0), Scalar::Int(1)), I32),
                    ],
                ),
                "operand of dtype uint8",
            ),
        ];
        for (p, needle) in cases {
            let m = err(&p);
            assert!(m.contains(needle), "{m:?} should mention {needle:?}");
        }
    }
}
