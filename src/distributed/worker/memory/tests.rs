//! The memory manager with an injected probe: spill order, read-back bits,
//! release, pause, and the thresholds' validation.

use super::*;
use darray_kernels::Partial;
use ndarray::{ArrayD, IxDyn};
use std::time::Duration;

/// A probe the test sets.
#[derive(Debug, Default)]
struct FakeProbe(AtomicU64);

impl FakeProbe {
    fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::SeqCst);
    }
}

impl MemoryProbe for FakeProbe {
    fn rss(&self) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

/// A manager of `limit` bytes (default fractions: target 0.6, spill 0.7,
/// pause 0.8) with a probe reading 0 until set.
fn manager(limit: u64) -> (tempfile::TempDir, Arc<FakeProbe>, MemoryManager) {
    let base = tempfile::tempdir().unwrap();
    let probe = Arc::new(FakeProbe::default());
    let m = MemoryManager::new(
        limit,
        MemoryFractions::default(),
        probe.clone(),
        base.path(),
    )
    .unwrap();
    (base, probe, m)
}

/// `n` f64 values (8n bytes) that differ with `seed`.
fn chunk(seed: u64, n: usize) -> Arc<Chunk> {
    Arc::new(Chunk::F64(ArrayD::from_shape_fn(IxDyn(&[n]), |i| {
        (seed * 1000 + i[0] as u64) as f64 * 0.25
    })))
}

fn files(m: &MemoryManager) -> usize {
    std::fs::read_dir(m.dir()).unwrap().count()
}

#[test]
fn spill_order_is_least_recently_used() {
    // 10 chunks of 80 bytes against a target of 600.
    let (_base, _probe, m) = manager(1000);
    for t in 0..10 {
        m.insert((1, t), chunk(u64::from(t), 10));
    }
    assert!(m.over_target());
    // A use (lookup) makes (1, 0) the most recently used.
    assert!(matches!(m.lookup((1, 0)), Lookup::Memory(_)));
    let pass = m.spill_to_target();
    assert_eq!(
        pass,
        SpillPass {
            chunks: 3,
            bytes: 240
        }
    );
    assert_eq!(m.spilled_keys(), vec![(1, 1), (1, 2), (1, 3)]);
    let r = m.report();
    assert_eq!((r.memory, r.spilled, r.spilled_total), (560, 240, 240));
    assert_eq!(files(&m), 3);
    assert!(!m.over_target());
    assert_eq!(m.spill_to_target(), SpillPass::default());

    // Inserting (1, 10) goes over again: the next least recently used goes.
    m.insert((1, 10), chunk(10, 10));
    assert_eq!(m.spill_to_target().chunks, 1);
    assert_eq!(m.spilled_keys(), vec![(1, 1), (1, 2), (1, 3), (1, 4)]);
    assert_eq!(m.report().spilled_total, 320);
}

#[test]
fn chunks_in_use_are_not_spilled() {
    let (_base, _probe, m) = manager(100);
    m.insert((1, 0), chunk(0, 10));
    m.insert((1, 1), chunk(1, 10));
    // A running task holds (1, 0): spilling it would free nothing.
    let Lookup::Memory(in_use) = m.lookup((1, 0)) else {
        panic!("held in memory")
    };
    m.lookup((1, 1));
    let pass = m.spill_to_target();
    assert_eq!(pass.chunks, 1);
    assert_eq!(m.spilled_keys(), vec![(1, 1)]);
    drop(in_use);
    assert_eq!(m.spill_to_target().chunks, 1);
    assert_eq!(m.spilled_keys(), vec![(1, 0), (1, 1)]);
}

/// Chunks of every layout the wire format knows, with awkward bits.
fn awkward_chunks() -> Vec<Chunk> {
    let floats = [
        f64::NAN,
        f64::from_bits(0x7ff0_0000_dead_beef), // a NaN with a payload
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE / 3.0, // subnormal
        1.0 / 3.0,
        -1e308,
    ];
    let f = ArrayD::from_shape_vec(IxDyn(&[2, 4]), floats.to_vec()).unwrap();
    vec![
        Chunk::F64(f.clone()),
        Chunk::F32(f.mapv(|x| x as f32)),
        Chunk::I8(ArrayD::from_shape_vec(IxDyn(&[3]), vec![-128, 0, 127]).unwrap()),
        Chunk::U64(ArrayD::from_shape_vec(IxDyn(&[2]), vec![u64::MAX, 1]).unwrap()),
        Chunk::Bool(
            ArrayD::from_shape_vec(IxDyn(&[2, 1, 2]), vec![true, false, false, true]).unwrap(),
        ),
        Chunk::F64(ArrayD::zeros(IxDyn(&[0, 5]))),
        Chunk::F64(f.t().to_owned()), // not in standard layout
        Chunk::Unit,
        Chunk::Partial(Partial::SumCount {
            sum: f.clone(),
            count: f.mapv(f64::abs),
        }),
        Chunk::Partial(Partial::Moments {
            count: f.clone(),
            mean: f.mapv(|x| -x),
            m2: f.clone(),
        }),
        Chunk::Partial(Partial::Arg {
            value: Box::new(Chunk::I32(
                ArrayD::from_shape_vec(IxDyn(&[2]), vec![i32::MIN, 7]).unwrap(),
            )),
            index: ArrayD::from_shape_vec(IxDyn(&[2]), vec![-1, i64::MAX]).unwrap(),
        }),
    ]
}

#[test]
fn spilled_chunks_read_back_bit_identical() {
    // A limit of 1 byte: everything not in use goes to disk.
    let (_base, _probe, m) = manager(1);
    let originals = awkward_chunks();
    for (t, c) in originals.iter().enumerate() {
        m.insert((7, t as u32), Arc::new(c.clone()));
    }
    m.spill_to_target();
    // Every chunk with bytes is on disk (the unit chunk has none to free).
    let on_disk = m.spilled_keys();
    assert!(on_disk.len() >= originals.len() - 1, "{on_disk:?}");
    assert_eq!(m.report().memory, 0);
    for (t, want) in originals.iter().enumerate() {
        let key = (7, t as u32);
        let was_on_disk = on_disk.contains(&key);
        assert_eq!(matches!(m.lookup(key), Lookup::Disk), was_on_disk);
        let got = m.load_blocking(key).unwrap().expect("held");
        // The wire encoding is the raw bits, so equal bytes are equal bits
        // (NaN payloads and the sign of zero included).
        assert_eq!(
            encode_chunk(&got).unwrap(),
            encode_chunk(want).unwrap(),
            "chunk {t}"
        );
        assert_eq!(got.shape(), want.shape());
        assert!(matches!(m.lookup(key), Lookup::Memory(_)));
    }
    let r = m.report();
    assert_eq!(r.spilled, 0);
    assert_eq!(
        r.memory,
        originals.iter().map(|c| c.nbytes() as u64).sum::<u64>()
    );
    // A chunk read back no longer has a file.
    assert_eq!(files(&m), 0);
}

#[test]
fn release_removes_spill_files_and_drop_removes_the_directory() {
    let (_base, _probe, m) = manager(1);
    for t in 0..4 {
        m.insert((1, t), chunk(u64::from(t), 10));
        m.insert((2, t), chunk(u64::from(t) + 10, 10));
    }
    m.insert((1, 9), chunk(9, 10));
    m.spill_to_target();
    assert_eq!(files(&m), 9);
    assert_eq!(m.report().spilled, 720);

    let removed = m.release([(1, 0), (1, 1)]);
    assert!(removed.has_files());
    removed.delete_files();
    assert_eq!(files(&m), 7);
    assert_eq!(m.report().spilled, 560);
    assert!(matches!(m.lookup((1, 0)), Lookup::Absent));
    assert!(m.load_blocking((1, 0)).unwrap().is_none());

    // One back in memory, then the whole of job 1 released: files and memory go.
    assert!(m.load_blocking((1, 2)).unwrap().is_some());
    let removed = m.release_job(1);
    removed.delete_files();
    assert_eq!(files(&m), 4);
    let r = m.report();
    assert_eq!((r.memory, r.spilled), (0, 320));

    let removed = m.clear();
    removed.delete_files();
    assert_eq!(files(&m), 0);
    assert_eq!(m.report().spilled, 0);

    let dir = m.dir().to_path_buf();
    assert!(dir.is_dir());
    drop(m);
    assert!(!dir.exists());
}

#[test]
fn a_stale_spill_directory_is_emptied_at_start() {
    // What a killed process whose id is reused would leave behind.
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("darray-spill-1-0");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("0.chunk"), b"stale").unwrap();
    let probe: Arc<dyn MemoryProbe> = Arc::new(FakeProbe::default());
    let m = MemoryManager::open(dir.clone(), 1, MemoryFractions::default(), probe).unwrap();
    assert!(dir.is_dir());
    assert_eq!(files(&m), 0);
    // Names differ between managers of one process.
    let (_b1, _p1, m1) = manager(1);
    let (_b2, _p2, m2) = manager(1);
    assert_ne!(m1.dir().file_name().unwrap(), m2.dir().file_name().unwrap());
}

#[test]
fn probe_above_the_spill_threshold_spills_the_process_excess() {
    // Limit 1000: target 600, spill 700, pause 800; 400 bytes managed.
    let (_base, probe, m) = manager(1000);
    for t in 0..5 {
        m.insert((1, t), chunk(u64::from(t), 10));
    }
    probe.set(650); // between target and spill: nothing to do
    assert!(!m.check());
    assert_eq!(m.spill_to_target(), SpillPass::default());
    probe.set(750); // 150 over target: two chunks of 80
    assert!(m.check());
    assert_eq!(
        m.spill_to_target(),
        SpillPass {
            chunks: 2,
            bytes: 160
        }
    );
    assert_eq!(m.spilled_keys(), vec![(1, 0), (1, 1)]);
    assert!(!m.is_paused());
}

#[test]
fn pause_follows_the_probe_and_resumes_when_memory_drops() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (_base, probe, m) = manager(1000);
    m.insert((1, 0), chunk(0, 10));
    probe.set(850); // above pause (800)
    assert!(m.check(), "a spill is due too");
    assert!(m.is_paused());
    assert!(m.report().paused);
    // Still paused: `unpaused` does not resolve.
    let wait = |d| rt.block_on(async { tokio::time::timeout(d, m.unpaused()).await });
    assert!(wait(Duration::from_millis(50)).is_err());
    probe.set(790);
    m.check();
    assert!(!m.is_paused());
    wait(Duration::from_secs(30)).expect("resumed");

    // Above pause with nothing held and nothing running, waiting cannot help:
    // the worker does not pause (and resumes if it was).
    let removed = m.clear();
    removed.delete_files();
    probe.set(900);
    m.check();
    assert!(!m.is_paused());
    // With a task running, it pauses: the task's end can bring memory down.
    let running = m.running();
    m.check();
    assert!(m.is_paused());
    drop(running);
    m.check();
    assert!(!m.is_paused());
}

#[test]
fn fractions_are_validated() {
    for (t, p) in [(0.6, 0.8), (1.0, 1.0), (0.01, 0.5), (0.5, 0.5)] {
        let f = MemoryFractions::new(t, p).unwrap();
        assert_eq!((f.target(), f.pause()), (t, p));
        assert!(f.target() <= f.spill() && f.spill() <= f.pause());
    }
    for (t, p) in [
        (0.0, 0.8),
        (-0.1, 0.8),
        (0.9, 0.8),
        (0.6, 1.5),
        (f64::NAN, 0.8),
        (0.6, f64::NAN),
        (0.6, f64::INFINITY),
    ] {
        let e = MemoryFractions::new(t, p).unwrap_err();
        assert!(e.to_string().contains("0 < target <= pause <= 1"), "{e}");
    }
    let d = MemoryFractions::default();
    assert_eq!((d.target(), d.spill(), d.pause()), (0.6, 0.7, 0.8));
}

#[test]
fn status_fields_parse_in_bytes() {
    let status = "Name:\tdarray\nVmHWM:\t  20480 kB\nVmRSS:\t   1234 kB\nVmRSSx:\t1 kB\n";
    assert_eq!(status_bytes(status, "VmRSS"), Some(1234 * 1024));
    assert_eq!(status_bytes(status, "VmHWM"), Some(20480 * 1024));
    assert_eq!(status_bytes(status, "VmSwap"), None);
    assert_eq!(status_bytes("VmRSS:\t12 MB\n", "VmRSS"), None);
    if cfg!(target_os = "linux") {
        let rss = ProcessProbe.rss().expect("readable on Linux");
        assert!(rss > 1 << 20, "{rss}");
    }
}
