//! Random well-typed programs over random broadcast shapes and memory layouts,
//! checked against the reference interpreter.

use super::{binary_ops, check, program, random_chunk, unary_ops, Rng, LAYOUTS};
use crate::elementwise::eval::TILE;
use crate::elementwise::program::{CmpOp, ElementwiseProgram, Node};
use crate::elementwise::validate;
use crate::{Chunk, DType, Scalar};
use proptest::prelude::*;

fn out_shapes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        6 => prop::collection::vec(0usize..6, 0..=3),
        1 => prop_oneof![Just(vec![TILE + 1]), Just(vec![2, TILE / 2 + 3]), Just(vec![3, 1, 1500])],
    ]
}

/// An input shape that broadcasts to `out`: some leading axes dropped, some axes 1.
fn input_shape(rng: &mut Rng, out: &[usize]) -> Vec<usize> {
    let drop = rng.below(out.len() + 1);
    out[drop..]
        .iter()
        .map(|&n| if rng.below(3) == 0 { 1 } else { n })
        .collect()
}

fn random_scalar(rng: &mut Rng, dtype: DType) -> Scalar {
    match rng.value(dtype) {
        v if dtype.is_float() => match v.cast(DType::F64) {
            super::V::F64(x) => Scalar::Float(x),
            _ => unreachable!(),
        },
        v if dtype == DType::Bool => Scalar::Bool(matches!(v, super::V::Bool(true))),
        v => match v.cast(DType::I64) {
            super::V::I64(x) => Scalar::Int(x),
            _ => unreachable!(),
        },
    }
}

/// An instruction index, biased towards the most recent ones so chains get deep.
fn recent(rng: &mut Rng, p: &ElementwiseProgram) -> usize {
    let n = p.instrs.len();
    if rng.below(2) == 0 {
        n - 1 - rng.below(n.min(3))
    } else {
        rng.below(n)
    }
}

/// An instruction of `dtype`: an existing one, a new scalar, or a new cast.
fn operand_of(rng: &mut Rng, p: &mut ElementwiseProgram, dtype: DType) -> usize {
    let existing: Vec<usize> = (0..p.instrs.len())
        .filter(|&k| p.instrs[k].dtype == dtype)
        .collect();
    if !existing.is_empty() && rng.below(3) != 0 {
        return rng.pick(&existing);
    }
    if rng.below(2) == 0 {
        let s = random_scalar(rng, dtype);
        p.push(Node::Scalar(s), dtype)
    } else {
        let a = recent(rng, p);
        p.push(Node::Cast(a), dtype)
    }
}

fn push_random_op(rng: &mut Rng, p: &mut ElementwiseProgram) {
    let a = recent(rng, p);
    let d = p.instrs[a].dtype;
    match rng.below(7) {
        0 => {
            let op = rng.pick(&unary_ops(d));
            p.push(Node::Unary(op, a), op.result_dtype(d));
        }
        1 | 2 => {
            let op = rng.pick(&binary_ops(d));
            let b = operand_of(rng, p, d);
            p.push(Node::Binary(op, a, b), d);
        }
        3 => {
            let op = rng.pick(CmpOp::ALL);
            let b = operand_of(rng, p, d);
            p.push(Node::Compare(op, a, b), DType::Bool);
        }
        4 => {
            let c = operand_of(rng, p, DType::Bool);
            let b = operand_of(rng, p, d);
            p.push(Node::Where(c, a, b), d);
        }
        5 => {
            p.push(Node::Cast(a), rng.pick(&DType::ALL));
        }
        _ => {
            let (lo, hi) = (random_scalar(rng, d), random_scalar(rng, d));
            p.push(Node::Clip(a, lo, hi), d);
        }
    }
}

fn random_case(rng: &mut Rng, out: &[usize]) -> (ElementwiseProgram, Vec<Chunk>) {
    let dtypes: Vec<DType> = (0..=rng.below(3)).map(|_| rng.pick(&DType::ALL)).collect();
    let inputs: Vec<Chunk> = dtypes
        .iter()
        .map(|&d| {
            let shape = input_shape(rng, out);
            let layout = rng.pick(&LAYOUTS);
            random_chunk(rng, d, &shape, layout)
        })
        .collect();
    let instrs: Vec<(Node, DType)> = dtypes
        .iter()
        .enumerate()
        .map(|(i, &d)| (Node::Input(i), d))
        .collect();
    let mut p = program(&dtypes, &instrs);
    for _ in 0..=rng.below(8) {
        push_random_op(rng, &mut p);
    }
    (p, inputs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_programs_match_the_reference(out in out_shapes(), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let (p, inputs) = random_case(&mut rng, &out);
        prop_assert!(validate(&p).is_ok(), "generated an invalid program: {p:?}");
        let refs: Vec<&Chunk> = inputs.iter().collect();
        check(&p, &refs, &out, &format!("seed {seed} out {out:?} program {p:?}"));
    }
}
