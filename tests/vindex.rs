//! Point-wise indexing (`vindex`) against a direct loop over the whole array:
//! random shapes and chunkings (irregular, size-1 and ragged blocks), random
//! indexed axes, 1-d and 2-d coordinate arrays with broadcasting, negative and
//! repeated coordinates, empty point lists; identical bits on 1, 2 and 4
//! threads.

mod common;

use common::*;
use darray::{DArray, Error};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// The oracle: output shape `bshape` then the axes not in `axes`.
fn oracle(a: &ArrayD<f64>, axes: &[usize], bshape: &[usize], pts: &[Vec<usize>]) -> ArrayD<f64> {
    let nd = a.ndim();
    let rest: Vec<usize> = (0..nd).filter(|x| !axes.contains(x)).collect();
    let mut shape = bshape.to_vec();
    shape.extend(rest.iter().map(|&x| a.shape()[x]));
    let rest_shape: Vec<usize> = rest.iter().map(|&x| a.shape()[x]).collect();
    let nrest: usize = rest_shape.iter().product();
    let mut out = Vec::new();
    for p in pts {
        for r in 0..nrest {
            // Unravel r over rest_shape.
            let mut idx = vec![0usize; nd];
            let mut rem = r;
            for (q, &ax) in rest.iter().enumerate().rev() {
                idx[ax] = rem % rest_shape[q];
                rem /= rest_shape[q];
            }
            for (j, &ax) in axes.iter().enumerate() {
                idx[ax] = p[j];
            }
            out.push(a[IxDyn(&idx)]);
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape), out).unwrap()
}

fn on_all(x: &DArray<f64>) -> ArrayD<f64> {
    let mut first: Option<ArrayD<f64>> = None;
    for exec in executors() {
        let got = x.compute_with(&exec).unwrap();
        match &first {
            Some(f) => assert_bits_eq(&got, f),
            None => first = Some(got),
        }
    }
    first.unwrap()
}

/// An array with no empty axis, a grid, a nonempty subset of axes, a point
/// shape (1-d or 2-d) and per point one coordinate per indexed axis.
#[allow(clippy::type_complexity)]
fn case() -> impl Strategy<
    Value = (
        ArrayD<f64>,
        Vec<Vec<usize>>,
        Vec<usize>,
        Vec<usize>,
        Vec<Vec<usize>>,
    ),
> {
    array_and_grid(3, 9, true)
        .prop_filter("no empty axis", |(a, _)| a.ndim() > 0 && !a.is_empty())
        .prop_flat_map(|(a, g)| {
            let nd = a.ndim();
            (
                Just((a, g)),
                proptest::sample::subsequence((0..nd).collect::<Vec<_>>(), 1..=nd),
                prop_oneof![
                    (0usize..14).prop_map(|n| vec![n]),
                    (0usize..4, 1usize..4).prop_map(|(m, n)| vec![m, n])
                ],
            )
        })
        .prop_flat_map(|((a, g), axes, bshape)| {
            let np: usize = bshape.iter().product();
            let lens: Vec<usize> = axes.iter().map(|&x| a.shape()[x]).collect();
            let point = lens.iter().map(|&n| 0..n).collect::<Vec<_>>();
            (
                Just(a),
                Just(g),
                Just(axes),
                Just(bshape),
                proptest::collection::vec(point, np),
            )
        })
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn vindex_matches_a_loop((a, grid, axes, bshape, pts) in case(), neg in any::<bool>()) {
        let x = chunked(&a, &grid);
        // Coordinate arrays of shape bshape, negative on request.
        let coords: Vec<ArrayD<i64>> = (0..axes.len())
            .map(|j| {
                let n = a.shape()[axes[j]] as i64;
                let v = pts.iter().map(|p| if neg { p[j] as i64 - n } else { p[j] as i64 }).collect();
                ArrayD::from_shape_vec(IxDyn(&bshape), v).unwrap()
            })
            .collect();
        let mut index = vec![None; a.ndim()];
        for (j, &ax) in axes.iter().enumerate() {
            index[ax] = Some(coords[j].view());
        }
        let got = on_all(&x.vindex(&index).unwrap());
        assert_bits_eq(&got, &oracle(&a, &axes, &bshape, &pts));
    }
}

/// A row vector and a column vector of coordinates broadcast to a grid of
/// points, as NumPy's `x[i[:, None], j[None, :]]`.
#[test]
fn coordinates_broadcast() {
    let a = ArrayD::from_shape_fn(IxDyn(&[7, 6]), |i| (10 * i[0] + i[1]) as f64);
    let x = DArray::from_ndarray(&a, [3, 4]).unwrap();
    let i = ndarray::array![[6], [0], [3]].into_dyn();
    let j = ndarray::array![[5, 1]].into_dyn();
    let got = x.vindex(&[Some(i.view()), Some(j.view())]).unwrap();
    assert_eq!(got.shape(), &[3, 2]);
    let want = ndarray::array![[65.0, 61.0], [5.0, 1.0], [35.0, 31.0]].into_dyn();
    assert_eq!(got.compute().unwrap(), want);
}

/// Points spread over every block: each output block reads at most 8 input
/// blocks, so tasks stay small; the values are still right.
#[test]
fn spread_points_read_few_blocks_per_task() {
    let a = ArrayD::from_shape_fn(IxDyn(&[40, 40]), |i| (100 * i[0] + i[1]) as f64);
    let x = DArray::from_ndarray(&a, [4, 4]).unwrap();
    let n = 200usize;
    let ii: Vec<i64> = (0..n).map(|p| ((p * 37) % 40) as i64).collect();
    let jj: Vec<i64> = (0..n).map(|p| ((p * 11 + 3) % 40) as i64).collect();
    let y = x.vindex_points(&[&ii, &jj]).unwrap();
    let graph = y.graph().unwrap();
    let max_inputs = graph
        .tasks
        .iter()
        .filter(|t| t.op.name() == "point_gather")
        .map(|t| t.inputs.len())
        .max()
        .unwrap();
    assert!(max_inputs <= 8, "a task reads {max_inputs} blocks");
    let want: Vec<f64> = (0..n).map(|p| (100 * ii[p] + jj[p]) as f64).collect();
    assert_eq!(y.compute().unwrap().into_raw_vec_and_offset().0, want);
}

#[test]
fn bad_coordinates_are_errors() {
    let x = DArray::<f64>::zeros(&[5, 4], [2, 2]).unwrap();
    let err = x.vindex_points(&[&[0, 5]]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(
        err.to_string().contains("axis 0") && err.to_string().contains("5"),
        "{err}"
    );
    let err = x.vindex_points(&[&[0, 1], &[0, 1, 2]]).unwrap_err();
    assert!(err.to_string().contains("broadcast"), "{err}");
    assert!(x.vindex(&[None, None]).is_err());
    assert!(x.vindex(&[None]).is_err());
    assert!(x.vindex_points(&[&[0], &[0], &[0]]).is_err());
}
