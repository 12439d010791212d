//! A messy pipeline of ordinary functions as a delayed graph: load 100 inputs
//! and a reference, normalise each input against it, compare every three
//! neighbours, score a seeded sample of 200 pairs and reduce to the best.
//! Tasks stand for work by sleeping a seeded fraction of 20 ms. Prints the
//! graph's size and the wall time against the sum of task times, and writes
//! the DOT graph and the HTML performance report to a temporary folder.
//!
//! `cargo run --release --example custom_etl`

use darray::delayed::{self, call1, call2, call3, val, Delayed};
use darray::LocalExecutor;
use std::time::{Duration, Instant};

/// splitmix64: a seeded stream, so the sleeps and the sample are reproducible.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn work(seed: u64) {
    std::thread::sleep(Duration::from_micros(mix(seed) % 20_000));
}

fn load(i: u64) -> Vec<f64> {
    work(i);
    (0..64)
        .map(|k| (mix(i * 64 + k) >> 11) as f64 / (1u64 << 53) as f64)
        .collect()
}

fn normalize(raw: Vec<f64>, reference: Vec<f64>) -> Vec<f64> {
    work(raw.len() as u64 ^ raw[0].to_bits());
    raw.iter()
        .zip(&reference)
        .map(|(r, m)| (r - m) / (1.0 + m))
        .collect()
}

fn compare(a: Vec<f64>, b: Vec<f64>, c: Vec<f64>) -> Vec<f64> {
    work(a[1].to_bits());
    a.iter()
        .zip(&b)
        .zip(&c)
        .map(|((x, y), z)| x + y - 2.0 * z)
        .collect()
}

fn score(a: Vec<f64>, b: Vec<f64>) -> (f64, u64) {
    work(b[2].to_bits());
    let s: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    (s, a[0].to_bits() ^ b[0].to_bits())
}

fn best(a: (f64, u64), b: (f64, u64)) -> (f64, u64) {
    if b.0 > a.0 {
        b
    } else {
        a
    }
}

fn main() -> anyhow::Result<()> {
    delayed::register("load", load)?;
    delayed::register("normalize", normalize)?;
    delayed::register("compare", compare)?;
    delayed::register("score", score)?;
    delayed::register("best", best)?;

    let t = Instant::now();
    let reference = call1::<_, Vec<f64>>("load", val(&1_000_000u64))?;
    let mut clean = Vec::new();
    for i in 0..100u64 {
        let raw = call1::<_, Vec<f64>>("load", val(&i))?;
        clean.push(call2::<_, _, Vec<f64>>("normalize", raw, &reference)?);
    }
    let rolling = (0..clean.len() - 2)
        .map(|w| call3::<_, _, _, Vec<f64>>("compare", &clean[w], &clean[w + 1], &clean[w + 2]))
        .collect::<darray::Result<Vec<_>>>()?;
    let mut scores: Vec<Delayed<(f64, u64)>> = (0..200u64)
        .map(|k| {
            // Two distinct rolling results.
            let n = rolling.len();
            let i = mix(k) as usize % n;
            let j = (i + 1 + mix(k + 7919) as usize % (n - 1)) % n;
            call2::<_, _, (f64, u64)>("score", &rolling[i], &rolling[j])
        })
        .collect::<darray::Result<_>>()?;
    while scores.len() > 1 {
        let next = scores.chunks(2).map(|p| match p {
            [a, b] => call2::<_, _, (f64, u64)>("best", a, b),
            [a] => Ok(a.clone()),
            _ => unreachable!("chunks(2) yields one or two"),
        });
        scores = next.collect::<darray::Result<_>>()?;
    }
    let top = scores.pop().expect("200 scores reduce to one");
    let graph = top.graph()?;
    println!("graph: {} tasks, built in {:.2?}", graph.len(), t.elapsed());

    let exec = LocalExecutor::new()?.record(true);
    let t = Instant::now();
    let (value, tag) = top.compute_with(&exec)?;
    let wall = t.elapsed();
    let report = exec.last_report().expect("recording is on");
    let task_time = Duration::from_nanos(report.task_time_ns());
    println!("best score {value:.4} (tag {tag:x})");
    println!(
        "wall {wall:.2?} on {} threads; sum of task times {task_time:.2?} (ideal wall {:.2?})",
        exec.threads(),
        task_time / u32::try_from(exec.threads())?
    );
    let dir = std::env::temp_dir().join("darray-custom-etl");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("etl.dot"), graph.to_dot())?;
    report.write_html(dir.join("report.html"))?;
    report.write_chrome_trace(dir.join("trace.json"))?;
    println!(
        "wrote etl.dot, report.html and trace.json to {}",
        dir.display()
    );
    Ok(())
}
