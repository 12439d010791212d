//! sort, argsort, topk and argtopk against a stable sort of each lane of the
//! whole array (NaN last), over random shapes, chunkings and NaN; identical on
//! 1, 2 and 4 threads.

mod common;

use common::*;
use darray::DArray;
use ndarray::{ArrayD, Axis};
use proptest::prelude::*;
use std::cmp::Ordering;

fn order(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.partial_cmp(&b).unwrap(),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (true, true) => Ordering::Equal,
    }
}

/// Per lane along `ax`: the positions in the order asked for, first `take`.
fn oracle(a: &ArrayD<f64>, ax: usize, largest: bool, take: usize) -> (ArrayD<f64>, ArrayD<i64>) {
    let mut shape = a.shape().to_vec();
    shape[ax] = take;
    let mut vals = ArrayD::<f64>::zeros(shape.clone());
    let mut pos = ArrayD::<i64>::zeros(shape);
    for ((lane, mut v), mut p) in a
        .lanes(Axis(ax))
        .into_iter()
        .zip(vals.lanes_mut(Axis(ax)))
        .zip(pos.lanes_mut(Axis(ax)))
    {
        let mut idx: Vec<usize> = (0..lane.len()).collect();
        if largest {
            idx.sort_by(|&i, &j| order(lane[j], lane[i]));
        } else {
            idx.sort_by(|&i, &j| order(lane[i], lane[j]));
        }
        for (k, &i) in idx[..take].iter().enumerate() {
            v[k] = lane[i];
            p[k] = i as i64;
        }
    }
    (vals, pos)
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn sorts_match_the_lane_sort(
        ((a, grid), ax) in array_and_grid(3, 8, true).prop_flat_map(|(a, g)| {
            let nd = a.ndim();
            (Just((a, g)), 0..nd)
        }),
        kf in 0.0..1.0f64,
        largest in any::<bool>(),
    ) {
        let n = a.shape()[ax];
        let x = chunked(&a, &grid);
        // sort / argsort need the axis in one block.
        let mut one = grid.clone();
        one[ax] = vec![n];
        let y = chunked(&a, &one);
        let (s, p) = oracle(&a, ax, false, n);
        assert_bits_eq(&y.sort(ax as isize).unwrap().compute().unwrap(), &s);
        prop_assert_eq!(y.argsort(ax as isize).unwrap().compute().unwrap(), p);
        if grid[ax].len() > 1 {
            prop_assert!(x.sort(ax as isize).is_err());
        }
        if n > 0 {
            let m = 1 + (kf * (n - 1) as f64) as usize;
            let k = if largest { m as i64 } else { -(m as i64) };
            let (v, p) = oracle(&a, ax, largest, m);
            let got = x.topk(k, ax as isize).unwrap();
            for exec in executors() {
                assert_bits_eq(&got.compute_with(&exec).unwrap(), &v);
            }
            prop_assert_eq!(x.argtopk(k, ax as isize).unwrap().compute().unwrap(), p);
        }
    }
}

#[test]
fn bad_input_is_refused() {
    let x = DArray::<f64>::ones(&[5, 4], [2, 4]).unwrap();
    let e = x.sort(0).unwrap_err().to_string();
    assert!(e.contains("needs that axis in one block, it has 3"), "{e}");
    assert!(x.sort(1).is_ok());
    assert!(x.sort(2).is_err());
    let e = x.topk(0, 0).unwrap_err().to_string();
    assert!(e.contains("k = 0"), "{e}");
    assert!(x.topk(6, 0).is_err());
    assert!(x.argtopk(-6, 0).is_err());
}
