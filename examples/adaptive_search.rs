//! An adaptive parameter search with futures: evaluate a coarse grid, and as
//! each evaluation finishes (`as_completed`), refine around every point that
//! improved on its parent by submitting its four neighbours at half the step.
//! The work is discovered as it runs; evaluations stand for work by sleeping
//! a seeded fraction of 2 ms. The terrain's coefficients are scattered once.
//!
//! Which points get evaluated depends only on each point and its parent, never
//! on the order results arrive, so the output is the same on every run and
//! thread count.
//!
//! `cargo run --example adaptive_search`

use darray::delayed::{self, Futures};
use darray::submit;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A candidate: where, at which refinement step and depth, and the score of
/// the point it was refined from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Point {
    x: f64,
    y: f64,
    step: f64,
    depth: u32,
    parent: f64,
}

/// A bumpy bowl: a quadratic around `(c[0], c[1])` plus ripples.
fn evaluate(terrain: Vec<f64>, p: Point) -> (Point, f64) {
    let seed = (p.x.to_bits() ^ p.y.to_bits().rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    std::thread::sleep(Duration::from_micros(seed >> 53)); // 0..2 ms of "work"
    let (dx, dy) = (p.x - terrain[0], p.y - terrain[1]);
    let score = dx * dx + terrain[2] * dy * dy + terrain[3] * (5.0 * p.x).sin() * (5.0 * p.y).sin();
    (p, score)
}

const MAX_DEPTH: u32 = 6;

fn main() -> anyhow::Result<()> {
    delayed::register("evaluate", evaluate)?;
    let futures = Futures::local(2)?;
    let terrain = futures.scatter(&vec![1.3, -0.7, 2.0, 0.3])?;

    let grid = (0..4).flat_map(|i| (0..4).map(move |j| (i, j)));
    let mut ac = futures.as_completed(Vec::new());
    for (i, j) in grid {
        let p = Point {
            x: -3.0 + 2.0 * f64::from(i),
            y: -3.0 + 2.0 * f64::from(j),
            step: 2.0,
            depth: 0,
            parent: f64::INFINITY,
        };
        ac.add(submit!(futures, evaluate(&terrain, p))?);
    }

    let mut evaluated: Vec<(f64, f64, f64, u32)> = Vec::new();
    while let Some(done) = ac.next() {
        let (p, score) = done.result()?;
        evaluated.push((score, p.x, p.y, p.depth));
        if score < p.parent && p.depth < MAX_DEPTH {
            let h = p.step / 2.0;
            for (dx, dy) in [(h, 0.0), (-h, 0.0), (0.0, h), (0.0, -h)] {
                let child = Point {
                    x: p.x + dx,
                    y: p.y + dy,
                    step: h,
                    depth: p.depth + 1,
                    parent: score,
                };
                ac.add(submit!(futures, evaluate(&terrain, child))?);
            }
        }
    }

    // Order-independent summary: sort by (score, x, y).
    evaluated.sort_by(|a, b| a.partial_cmp(b).expect("scores are finite"));
    let (score, x, y, depth) = evaluated[0];
    let per_depth: Vec<usize> = (0..=MAX_DEPTH)
        .map(|d| evaluated.iter().filter(|e| e.3 == d).count())
        .collect();
    println!("evaluations: {} (per depth {per_depth:?})", evaluated.len());
    println!("best: f({x:.4}, {y:.4}) = {score:.6} at depth {depth}");
    drop(terrain);
    println!("results held after the search: {}", futures.held().results);
    Ok(())
}
