//! `linalg::einsum` against a direct loop over every assignment of the
//! indices, for the common one- and two-operand forms, over random lengths
//! and chunkings (irregular, ragged edges, empty axes). Tolerance: 1e-12
//! relative to the sum of absolute products (the sums' order differs from the
//! loop's); bad subscripts are typed errors before anything runs.

mod common;

use common::*;
use darray::{linalg, DArray, Error};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// `(value, sum of |products|)` per output element, by looping over all index
/// values (implicit output as NumPy when there is no `->`).
fn oracle(subs: &str, ops: &[&ArrayD<f64>]) -> (ArrayD<f64>, ArrayD<f64>) {
    let (lhs, rhs) = subs.split_once("->").unwrap();
    let terms: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    let mut letters: Vec<char> = Vec::new();
    let mut sizes = Vec::new();
    for (t, a) in terms.iter().zip(ops) {
        for (c, &n) in t.iter().zip(a.shape()) {
            if !letters.contains(c) {
                letters.push(*c);
                sizes.push(n);
            }
        }
    }
    let out: Vec<char> = rhs.chars().collect();
    let oshape: Vec<usize> = out
        .iter()
        .map(|c| sizes[letters.iter().position(|l| l == c).unwrap()])
        .collect();
    let mut val = ArrayD::<f64>::zeros(IxDyn(&oshape));
    let mut mag = ArrayD::<f64>::zeros(IxDyn(&oshape));
    let total: usize = sizes.iter().product();
    let mut idx = vec![0usize; letters.len()];
    for _ in 0..total {
        let at = |c: &char| idx[letters.iter().position(|l| l == c).unwrap()];
        let p: f64 = terms
            .iter()
            .zip(ops)
            .map(|(t, a)| a[IxDyn(&t.iter().map(at).collect::<Vec<_>>())])
            .product();
        let o: Vec<usize> = out.iter().map(at).collect();
        val[IxDyn(&o)] += p;
        mag[IxDyn(&o)] += p.abs();
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < sizes[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    (val, mag)
}

fn check(subs: &str, explicit: &str, ops: &[(&ArrayD<f64>, &Vec<Vec<usize>>)]) {
    let arrays: Vec<DArray<f64>> = ops.iter().map(|(a, g)| chunked(a, g)).collect();
    let refs: Vec<&DArray<f64>> = arrays.iter().collect();
    let got = linalg::einsum(subs, &refs).unwrap().compute().unwrap();
    let (want, mag) = oracle(explicit, &ops.iter().map(|(a, _)| *a).collect::<Vec<_>>());
    assert_eq!(got.shape(), want.shape(), "{subs}");
    for ((g, w), m) in got.iter().zip(&want).zip(&mag) {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + m),
            "{subs}: got {g}, want {w}"
        );
    }
}

/// An array of `shape` with a random grid.
fn arr(shape: Vec<usize>) -> impl Strategy<Value = (ArrayD<f64>, Vec<Vec<usize>>)> {
    (array_f64(shape.clone(), false), grid(shape))
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn two_operand_forms_match_loops(
        (i, j, k, b) in (0usize..6, 0usize..6, 0usize..6, 0usize..4),
        seed in any::<u64>(),
    ) {
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            config(1),
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &{
                    let mut s = [0u8; 32];
                    s[..8].copy_from_slice(&seed.to_le_bytes());
                    s
                },
            ),
        );
        let mut draw = |shape: Vec<usize>| arr(shape).new_tree(&mut runner).unwrap().current();
        let (ij, gij) = draw(vec![i, j]);
        let (jk, gjk) = draw(vec![j, k]);
        let (ij2, gij2) = draw(vec![i, j]);
        let (vi, gvi) = draw(vec![i]);
        let (vi2, gvi2) = draw(vec![i]);
        let (vj, gvj) = draw(vec![j]);
        let (bij, gbij) = draw(vec![b, i, j]);
        let (bjk, gbjk) = draw(vec![b, j, k]);
        check("ij,jk->ik", "ij,jk->ik", &[(&ij, &gij), (&jk, &gjk)]);
        check("ij,jk", "ij,jk->ik", &[(&ij, &gij), (&jk, &gjk)]);
        check("ij,jk->ki", "ij,jk->ki", &[(&ij, &gij), (&jk, &gjk)]);
        check("bij,bjk->bik", "bij,bjk->bik", &[(&bij, &gbij), (&bjk, &gbjk)]);
        check("i,i->", "i,i->", &[(&vi, &gvi), (&vi2, &gvi2)]);
        check("i,j->ij", "i,j->ij", &[(&vi, &gvi), (&vj, &gvj)]);
        check("ij,ij->i", "ij,ij->i", &[(&ij, &gij), (&ij2, &gij2)]);
        check("ij,ij->ij", "ij,ij->ij", &[(&ij, &gij), (&ij2, &gij2)]);
        check("ij,j->i", "ij,j->i", &[(&ij, &gij), (&vj, &gvj)]);
        check("ij,jk->", "ij,jk->", &[(&ij, &gij), (&jk, &gjk)]);
        check("bij,jk->bk", "bij,jk->bk", &[(&bij, &gbij), (&jk, &gjk)]);
    }

    #[test]
    fn one_operand_forms_match_loops((a, g) in (0usize..6, 0usize..7).prop_flat_map(|(m, n)| arr(vec![m, n])), n in 0usize..7, seed in 0u64..1000) {
        check("ij->ji", "ij->ji", &[(&a, &g)]);
        check("ji", "ji->ij", &[(&a, &g)]);
        check("ij->", "ij->", &[(&a, &g)]);
        check("ij->i", "ij->i", &[(&a, &g)]);
        check("ij->j", "ij->j", &[(&a, &g)]);
        check("ij->ij", "ij->ij", &[(&a, &g)]);
        let sq = ArrayD::from_shape_vec(IxDyn(&[n, n]), normals(seed, n * n)).unwrap();
        let gs: Vec<Vec<usize>> = if n == 0 { vec![vec![0], vec![0]] } else { vec![vec![n.div_ceil(2), n / 2].into_iter().filter(|&x| x > 0).collect(); 2] };
        check("ii->", "ii->", &[(&sq, &gs)]);
        check("ii->i", "ii->i", &[(&sq, &gs)]);
        check("ii", "ii->", &[(&sq, &gs)]);
    }
}

#[test]
fn bad_subscripts_are_typed_errors() {
    let a = DArray::<f64>::ones(&[3, 4], [2, 2]).unwrap();
    let b = DArray::<f64>::ones(&[5, 2], [2, 2]).unwrap();
    let cases: Vec<(&str, Vec<&DArray<f64>>)> = vec![
        ("...ij->ij", vec![&a]),
        ("ij,jk->ik", vec![&a, &b]),
        ("ijk->i", vec![&a]),
        ("ij->kk", vec![&a]),
        ("ij->ii", vec![&a]),
        ("ij->z", vec![&a]),
        ("i1->i", vec![&a]),
        ("ii,jk->", vec![&a, &b]),
        ("ij,jk,kl->il", vec![&a, &b, &a]),
        ("ij", vec![&a, &b]),
    ];
    for (s, ops) in cases {
        match linalg::einsum(s, &ops) {
            Err(Error::InvalidArgument { array, .. }) => assert!(array.contains(s), "{array}"),
            other => panic!("{s}: {other:?}"),
        }
    }
}
