//! `blockwise` with index notation against whole-array ndarray oracles, over
//! random shapes (empty axes included) and independent random chunkings of
//! each input (irregular and ragged edge chunks, so shared indices are
//! aligned by rechunking): outer product `i,j->ij`, matrix product
//! `ij,jk->ik` with the contraction in one block or as summed block
//! products, transpose `ij->ji`, elementwise `ij,ij->ij` with a broadcast
//! size-1 axis, and a new output axis. Exact where the kernel does one
//! operation per element; products within 1e-9 relative (sums in another
//! order). Every result bit-identical on 1 and 2 threads.

mod common;

use common::*;
use darray::{
    blockwise, register_kernel, register_kernel_with, BlockInfo, BlockwiseOptions, Contraction,
    DArray, Error, LocalExecutor,
};
use ndarray::{Array2, ArrayD, ArrayViewD, Ix1, Ix2, IxDyn};
use proptest::prelude::*;
use std::sync::Once;

fn outer(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    let (a, b) = (&x[0], &x[1]);
    ArrayD::from_shape_fn(IxDyn(&[a.len(), b.len()]), |i| a[[i[0]]] * b[[i[1]]])
}

fn dot(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    let a = x[0].view().into_dimensionality::<Ix2>().unwrap();
    let b = x[1].view().into_dimensionality::<Ix2>().unwrap();
    a.dot(&b).into_dyn()
}

fn transpose(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    x[0].t().as_standard_layout().into_owned()
}

fn add(x: &[ArrayViewD<f64>]) -> ArrayD<f64> {
    &x[0] + &x[1]
}

/// Repeats a 1-d block along a new axis of `n` (the parameter) columns,
/// plus the block's first row index.
fn repeat(x: &[ArrayViewD<f64>], n: &usize, info: &BlockInfo) -> ArrayD<f64> {
    let a = x[0].view().into_dimensionality::<Ix1>().unwrap();
    let row0 = info.array_location[0].start as f64;
    Array2::from_shape_fn((a.len(), *n), |(i, _)| a[i] + row0).into_dyn()
}

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_kernel::<f64, f64>("bw-outer", outer).unwrap();
        register_kernel::<f64, f64>("bw-dot", dot).unwrap();
        register_kernel::<f64, f64>("bw-transpose", transpose).unwrap();
        register_kernel::<f64, f64>("bw-add", add).unwrap();
        register_kernel_with::<f64, f64, usize>("bw-repeat", repeat).unwrap();
    });
}

/// The result on 1 and 2 threads, checked bit-identical.
fn run(y: &DArray<f64>) -> ArrayD<f64> {
    let one = y
        .compute_with(&LocalExecutor::with_threads(1).unwrap())
        .unwrap();
    let two = y
        .compute_with(&LocalExecutor::with_threads(2).unwrap())
        .unwrap();
    assert_bits_eq(&one, &two);
    one
}

/// A 1-d array of `n` with a random grid.
fn vector(max: usize) -> impl Strategy<Value = (ArrayD<f64>, Vec<usize>)> {
    (0..=max).prop_flat_map(|n| (array_f64(vec![n], false), partition(n)))
}

/// `((A, grid of A), (B, grid of B))` with `A: m x k`, `B: k x n`, the shared
/// `k` chunked independently in each.
fn matmul_case() -> impl Strategy<Value = (Chunked, Chunked)> {
    (0usize..7, 0usize..8, 0usize..6).prop_flat_map(|(m, k, n)| {
        (
            (array_f64(vec![m, k], false), grid(vec![m, k])),
            (array_f64(vec![k, n], false), grid(vec![k, n])),
        )
    })
}

/// An array and its grid.
type Chunked = (ArrayD<f64>, Vec<Vec<usize>>);

fn mat(a: &ArrayD<f64>) -> Array2<f64> {
    a.view().into_dimensionality::<Ix2>().unwrap().to_owned()
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn outer_product_matches_ndarray((a, ga) in vector(7), (b, gb) in vector(6)) {
        setup();
        let (x, y) = (chunked(&a, std::slice::from_ref(&ga)), chunked(&b, std::slice::from_ref(&gb)));
        let z = blockwise::<f64>("i,j->ij", "bw-outer", &[&x, &y], &BlockwiseOptions::default()).unwrap();
        prop_assert_eq!(z.chunks(), &vec![ga, gb]);
        let want = ArrayD::from_shape_fn(IxDyn(&[a.len(), b.len()]), |i| a[[i[0]]] * b[[i[1]]]);
        prop_assert_eq!(run(&z), want);
    }

    #[test]
    fn contraction_is_a_matrix_product(
        ((a, ga), (b, gb)) in matmul_case(),
        summed in any::<bool>(),
        split_every in 2usize..4,
    ) {
        setup();
        let (x, y) = (chunked(&a, &ga), chunked(&b, &gb));
        let c = if summed { Contraction::SumPartials } else { Contraction::Concatenate };
        let opts = BlockwiseOptions::default().contraction(c).split_every(split_every);
        let z = blockwise::<f64>("ij,jk->ik", "bw-dot", &[&x, &y], &opts).unwrap();
        // The output keeps A's rows and B's columns.
        prop_assert_eq!(z.chunks(), &vec![ga[0].clone(), gb[1].clone()]);
        let want = mat(&a).dot(&mat(&b)).into_dyn();
        assert_close(&run(&z), &want, 1e-9);
    }

    #[test]
    fn transpose_and_elementwise_match_ndarray(
        (a, ga) in array_and_grid(2, 7, true),
        gb in proptest::collection::vec(any::<u8>(), 2),
    ) {
        prop_assume!(a.ndim() == 2);
        setup();
        let x = chunked(&a, &ga);
        let t = blockwise::<f64>("ij->ji", "bw-transpose", &[&x], &BlockwiseOptions::default()).unwrap();
        prop_assert_eq!(t.chunks(), &vec![ga[1].clone(), ga[0].clone()]);
        assert_bits_eq(&run(&t), &a.t().to_owned());
        // The same array chunked otherwise: the grids are unified.
        let other: Vec<Vec<usize>> = a
            .shape()
            .iter()
            .zip(&gb)
            .map(|(&n, &s)| {
                let s = usize::from(s % 4) + 1;
                if n == 0 { vec![0] } else { let mut v = vec![s; n / s]; if n % s > 0 { v.push(n % s); } v }
            })
            .collect();
        let y = chunked(&a.mapv(|v| v * 2.0), &other);
        let s = blockwise::<f64>("ij,ij->ij", "bw-add", &[&x, &y], &BlockwiseOptions::default()).unwrap();
        assert_bits_eq(&run(&s), &(&a + &a.mapv(|v| v * 2.0)));
        // A size-1 axis broadcasts: each row's first column added along the row.
        if a.shape()[1] > 0 {
            let col = a.slice(ndarray::s![.., 0..1]).to_owned().into_dyn();
            let c = chunked(&col, &[ga[0].clone(), vec![1]]);
            let s = blockwise::<f64>("ij,ij->ij", "bw-add", &[&x, &c], &BlockwiseOptions::default()).unwrap();
            prop_assert_eq!(s.chunks(), &ga);
            assert_bits_eq(&run(&s), &(&a + &col));
        }
    }

    #[test]
    fn new_axes_have_the_given_size((a, ga) in vector(9), n in 0usize..4) {
        setup();
        let x = chunked(&a, std::slice::from_ref(&ga));
        let opts = BlockwiseOptions::default().new_axis('j', n).params(&n).unwrap();
        let z = blockwise::<f64>("i->ij", "bw-repeat", &[&x], &opts).unwrap();
        prop_assert_eq!(z.chunks(), &vec![ga.clone(), vec![n]]);
        let starts: Vec<usize> = ga.iter().scan(0, |s, &l| { let o = *s; *s += l; Some(vec![o; l]) }).flatten().collect();
        let want = ArrayD::from_shape_fn(IxDyn(&[a.len(), n]), |i| a[[i[0]]] + starts[i[0]] as f64);
        prop_assert_eq!(run(&z), want);
    }
}

#[test]
fn summed_partials_are_one_task_per_block_pair() {
    setup();
    let a = DArray::<f64>::ones(&[4, 9], [2, 3]).unwrap();
    let b = DArray::<f64>::ones(&[9, 2], [3, 2]).unwrap();
    let opts = BlockwiseOptions::default()
        .contraction(Contraction::SumPartials)
        .split_every(2);
    let z = blockwise::<f64>("ij,jk->ik", "bw-dot", &[&a, &b], &opts).unwrap();
    let g = z.graph().unwrap();
    let d = g.describe();
    // 2 output blocks x 3 contracted blocks, summed in a tree of pairs.
    assert_eq!(d.matches("map_blocks").count(), 6, "{d}");
    assert!(d.contains("fused"), "{d}");
    let bytes = postcard::to_allocvec(&g).unwrap();
    let back: darray::graph::Graph = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back.describe(), d);
    assert!(z.compute().unwrap().iter().all(|&v| v == 9.0));
    // Concatenated: one call per output block.
    let z = blockwise::<f64>(
        "ij,jk->ik",
        "bw-dot",
        &[&a, &b],
        &BlockwiseOptions::default(),
    )
    .unwrap();
    assert_eq!(
        z.graph().unwrap().describe().matches("map_blocks").count(),
        2
    );
}

#[test]
fn bad_input_is_refused_before_running() {
    setup();
    let a = DArray::<f64>::ones(&[4, 6], [2, 3]).unwrap();
    let b = DArray::<f64>::ones(&[5, 2], [5, 2]).unwrap();
    let c = DArray::<f64>::ones(&[6, 2], [2, 2]).unwrap();
    let d = BlockwiseOptions::default();
    let msg = |r: darray::Result<DArray<f64>>| r.unwrap_err().to_string();
    assert!(msg(blockwise("ij,jk", "bw-dot", &[&a, &c], &d)).contains("->"));
    assert!(msg(blockwise("ij->ij", "bw-dot", &[&a, &c], &d)).contains("1 input terms"));
    assert!(msg(blockwise("ii,jk->ik", "bw-dot", &[&a, &c], &d)).contains("repeated"));
    assert!(msg(blockwise("i1,jk->ik", "bw-dot", &[&a, &c], &d)).contains("`1`"));
    assert!(msg(blockwise("ijk,jk->ik", "bw-dot", &[&a, &c], &d)).contains("names 3 axes"));
    let e = msg(blockwise("ij,jk->ik", "bw-dot", &[&a, &b], &d));
    assert!(
        e.contains("index `j` has length 6") && e.contains("5"),
        "{e}"
    );
    assert!(msg(blockwise("ij,jk->iz", "bw-dot", &[&a, &c], &d)).contains("`z`"));
    let nj = d.clone().new_axis('j', 3);
    assert!(msg(blockwise("ij,jk->ik", "bw-dot", &[&a, &c], &nj)).contains("new_axes"));
    // Differing chunks along `j` without alignment.
    assert!(matches!(
        blockwise::<f64>("ij,jk->ik", "bw-dot", &[&a, &c], &d.clone().align(false)),
        Err(Error::InvalidChunks { .. })
    ));
    assert!(matches!(
        blockwise::<f64>("ij,jk->ik", "bw-nope", &[&a, &c], &d),
        Err(Error::UnknownKernel(_))
    ));
    assert!(msg(blockwise("i->ij", "bw-repeat", &[&a], &d)).contains("parameters"));
    let p = d.clone().params(&1usize).unwrap();
    assert!(msg(blockwise("ij,jk->ik", "bw-dot", &[&a, &c], &p)).contains("parameters"));
    assert!(matches!(
        blockwise::<bool>(
            "ij,jk->ik",
            "bw-dot",
            &[&a, &c],
            &d.clone().contraction(Contraction::SumPartials)
        ),
        Err(Error::InvalidArgument { .. })
    ));
    // A kernel returning another shape fails when it runs, naming it.
    let wrong = blockwise::<f64>("ij->ij", "bw-transpose", &[&a], &d).unwrap();
    let err = wrong.compute().unwrap_err().to_string();
    assert!(err.contains("bw-transpose"), "{err}");
}
