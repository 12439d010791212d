//! [`einsum`] for one and two operands, lowered to what darray already has:
//! axis sums, transposes, the matrix diagonal, [`tensordot`] for contractions,
//! and a broadcast product summed over the contracted axes where an index is
//! shared and kept (batch indices, which `tensordot` cannot express).

use super::{tensordot, Real};
use crate::array::{DArray, ReduceOpts};
use crate::error::{Error, Result};
use ndarray::SliceInfoElem;

/// A parsed subscript: one term per operand and the output term.
struct Spec {
    inputs: Vec<Vec<char>>,
    output: Vec<char>,
}

fn bad(subscripts: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        array: format!("einsum(\"{subscripts}\")"),
        reason: reason.into(),
    }
}

/// Parses `subscripts` against the operands' dimensions; NumPy's implicit
/// output (each index that occurs once, in alphabetical order) without `->`.
fn parse(subscripts: &str, ndims: &[usize]) -> Result<Spec> {
    let text: String = subscripts.chars().filter(|c| !c.is_whitespace()).collect();
    if text.contains('.') {
        return Err(bad(
            subscripts,
            "ellipsis (`...`) is not supported: name every axis",
        ));
    }
    let (lhs, rhs) = match text.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (text.as_str(), None),
    };
    let inputs: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    if inputs.len() != ndims.len() {
        return Err(bad(
            subscripts,
            format!("{} terms for {} operands", inputs.len(), ndims.len()),
        ));
    }
    let letters = |t: &[char]| t.iter().all(char::is_ascii_alphabetic);
    for (i, (t, &nd)) in inputs.iter().zip(ndims).enumerate() {
        if !letters(t) {
            return Err(bad(
                subscripts,
                format!("term {i}: indices must be letters a-z, A-Z"),
            ));
        }
        if t.len() != nd {
            return Err(bad(
                subscripts,
                format!("term {i} has {} indices for a {nd}-d operand", t.len()),
            ));
        }
    }
    let count = |c: char| inputs.iter().flatten().filter(|&&x| x == c).count();
    let output: Vec<char> = match rhs {
        Some(r) => {
            let out: Vec<char> = r.chars().collect();
            if !letters(&out) {
                return Err(bad(subscripts, "output indices must be letters a-z, A-Z"));
            }
            for (i, c) in out.iter().enumerate() {
                if out[..i].contains(c) {
                    return Err(bad(subscripts, format!("output index `{c}` repeated")));
                }
                if count(*c) == 0 {
                    return Err(bad(
                        subscripts,
                        format!("output index `{c}` is in no input"),
                    ));
                }
            }
            out
        }
        None => {
            let mut out: Vec<char> = inputs
                .iter()
                .flatten()
                .copied()
                .filter(|&c| count(c) == 1)
                .collect();
            out.sort_unstable();
            out
        }
    };
    Ok(Spec { inputs, output })
}

/// Sums `x` (indexed by `term`) over the indices that `keep` lacks; returns
/// the array and its remaining indices.
fn sum_out<T: Real>(x: &DArray<T>, term: &[char], keep: &[char]) -> Result<(DArray<T>, Vec<char>)> {
    let gone: Vec<isize> = (0..term.len())
        .filter(|&i| !keep.contains(&term[i]))
        .map(|i| isize::try_from(i).expect("an axis fits isize"))
        .collect();
    let rest: Vec<char> = term.iter().copied().filter(|c| keep.contains(c)).collect();
    if gone.is_empty() {
        return Ok((x.clone(), rest));
    }
    Ok((x.sum_with(&ReduceOpts::axes(gone))?, rest))
}

/// `x` (indexed by `term`) with its axes in the order of `order` (which holds
/// every index of `term`), and a new length-1 axis for each index it lacks.
fn align<T: Real>(x: &DArray<T>, term: &[char], order: &[char]) -> Result<DArray<T>> {
    let perm: Vec<usize> = order
        .iter()
        .filter_map(|c| term.iter().position(|t| t == c))
        .collect();
    let moved = if perm.iter().enumerate().all(|(i, &p)| i == p) {
        x.clone()
    } else {
        x.permute_axes(&perm)?
    };
    if order.len() == term.len() {
        return Ok(moved);
    }
    let sel: Vec<SliceInfoElem> = order
        .iter()
        .map(|c| {
            if term.contains(c) {
                SliceInfoElem::Slice {
                    start: 0,
                    end: None,
                    step: 1,
                }
            } else {
                SliceInfoElem::NewAxis
            }
        })
        .collect();
    moved.slice(sel)
}

/// Einstein summation over one or two operands (NumPy's `einsum`): explicit
/// (`"ij,jk->ik"`) or implicit (`"ij,jk"`: the indices that occur once, in
/// alphabetical order) output. Lowered to axis sums and transposes for one
/// operand (`"ij->ji"`, `"ij->i"`, `"ij->"`; a repeated index only as the
/// matrix diagonal, `"ii->"` and `"ii->i"`), and for two to sums of indices
/// that only one operand has, then [`tensordot`] over the shared indices
/// (matrix, inner, outer and tensor products); where a shared index is also
/// kept (`"bij,bjk->bik"`, `"ij,ij->i"`) the operands are broadcast against
/// each other, multiplied and summed over the contracted indices, fused into
/// the reduction's block tasks. The sums run in the reductions' fixed trees and
/// tensordot's block order, so the results are bit-identical on any executor
/// (but not to NumPy's, which may sum in another order).
///
/// ```
/// use darray::{linalg, DArray};
/// let a = DArray::<f64>::ones(&[3, 4], [2, 3]).unwrap();
/// let b = DArray::<f64>::ones(&[4, 5], [3, 2]).unwrap();
/// let c = linalg::einsum("ij,jk->ik", &[&a, &b]).unwrap();
/// assert_eq!(c.shape(), &[3, 5]);
/// assert!(c.compute().unwrap().iter().all(|&v| v == 4.0));
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] naming the subscripts for: more than two
/// operands, an ellipsis, a term whose length is not its operand's `ndim`, a
/// non-letter index, an output index repeated or absent from the inputs, an
/// index of different lengths in different places, and a repeated index
/// within one term other than a one-operand matrix diagonal.
pub fn einsum<T: Real>(subscripts: &str, operands: &[&DArray<T>]) -> Result<DArray<T>> {
    if !(1..=2).contains(&operands.len()) {
        return Err(bad(
            subscripts,
            format!("{} operands: one or two are supported", operands.len()),
        ));
    }
    let ndims: Vec<usize> = operands.iter().map(|x| x.ndim()).collect();
    let spec = parse(subscripts, &ndims)?;
    let mut sizes: Vec<(char, usize)> = Vec::new();
    for (t, x) in spec.inputs.iter().zip(operands) {
        for (c, &len) in t.iter().zip(x.shape()) {
            match sizes.iter().find(|(d, _)| d == c) {
                Some(&(_, l)) if l != len => {
                    return Err(bad(
                        subscripts,
                        format!("index `{c}` has lengths {l} and {len}"),
                    ))
                }
                Some(_) => {}
                None => sizes.push((*c, len)),
            }
        }
    }
    let out = &spec.output;
    let repeated = |t: &[char]| (0..t.len()).any(|i| t[..i].contains(&t[i]));
    // Each operand alone: its diagonal, then the sums of indices no one else
    // needs.
    let mut parts: Vec<(DArray<T>, Vec<char>)> = Vec::new();
    for (k, (t, x)) in spec.inputs.iter().zip(operands).enumerate() {
        let (x, t) = if repeated(t) {
            if operands.len() != 1 || t.len() != 2 {
                return Err(bad(
                    subscripts,
                    format!(
                        "repeated index in term {k} (`{}`): supported only as the diagonal of one matrix operand (`ii`)",
                        t.iter().collect::<String>()
                    ),
                ));
            }
            ((*x).diagonal(0, 0, 1)?, vec![t[0]])
        } else {
            ((*x).clone(), t.clone())
        };
        let mut keep = out.clone();
        for (j, other) in spec.inputs.iter().enumerate() {
            if j != k {
                keep.extend(other.iter().copied());
            }
        }
        parts.push(sum_out(&x, &t, &keep)?);
    }
    let (x, t) = if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        let (b, tb) = parts.pop().expect("two parts");
        let (a, ta) = parts.pop().expect("two parts");
        let shared: Vec<char> = ta.iter().copied().filter(|c| tb.contains(c)).collect();
        let batch: Vec<char> = shared.iter().copied().filter(|c| out.contains(c)).collect();
        let contracted: Vec<char> = shared
            .iter()
            .copied()
            .filter(|c| !out.contains(c))
            .collect();
        if batch.is_empty() {
            let pos = |t: &[char]| -> Vec<isize> {
                contracted
                    .iter()
                    .map(|c| {
                        let p = t.iter().position(|x| x == c).expect("a shared index");
                        isize::try_from(p).expect("an axis fits isize")
                    })
                    .collect()
            };
            let prod = tensordot(&a, &b, &pos(&ta), &pos(&tb))?;
            let letters: Vec<char> = ta
                .iter()
                .chain(&tb)
                .copied()
                .filter(|c| !contracted.contains(c))
                .collect();
            (prod, letters)
        } else {
            // Broadcast product over the output's indices then the contracted
            // ones, summed over the latter.
            let order: Vec<char> = out.iter().chain(&contracted).copied().collect();
            let prod = align(&a, &ta, &order)?.mul(&align(&b, &tb, &order)?)?;
            sum_out(&prod, &order, out)?
        }
    };
    align(&x, &t, out)
}
