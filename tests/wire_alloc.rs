//! A peer cannot make the wire layer allocate more than it has sent: the largest
//! single allocation is measured with a counting global allocator while hostile
//! inputs are read. One test only, so no other test's allocations are counted.

use darray::distributed::auth::{handshake_acceptor, Secret};
use darray::distributed::wire::{decode, decode_chunk, read_frame, Limits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns the largest single allocation made meanwhile.
fn largest_during(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::SeqCst);
    f();
    LARGEST.load(Ordering::SeqCst)
}

fn header(kind: u8, len: u64) -> Vec<u8> {
    let mut h = vec![kind];
    h.extend_from_slice(&len.to_le_bytes());
    h
}

#[test]
fn hostile_lengths_do_not_allocate() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let limits = Limits::default();
    const KIB: usize = 1024;

    // Announced lengths over the cap, before and after authentication.
    for (kind, len, auth) in [
        (0, u64::MAX, false),
        (0, 1 << 40, false),
        (0, 1 << 40, true),
        (1, 1 << 40, true),
        (1, u64::MAX, true),
    ] {
        let bytes = header(kind, len);
        let n = largest_during(|| {
            let r = rt.block_on(read_frame(&mut &bytes[..], &limits, auth));
            assert!(r.is_err());
        });
        assert!(n < 16 * KIB, "kind {kind} len {len}: allocated {n}");
    }

    // Under a cap that admits 1 TiB, a peer that sends 1 MiB costs about 2 MiB.
    let uncapped = Limits {
        chunk_frame: usize::MAX,
        ..Limits::default()
    };
    let mut bytes = header(1, 1 << 40);
    bytes.resize(bytes.len() + 1024 * KIB, 0);
    let n = largest_during(|| {
        assert!(rt
            .block_on(read_frame(&mut &bytes[..], &uncapped, true))
            .is_err());
    });
    assert!(n <= 2 * 1024 * KIB + 64 * KIB, "allocated {n}");

    // Chunk headers claiming huge shapes over a few bytes.
    let mut chunk = vec![0u8, 10, 2];
    chunk.extend_from_slice(&(1u64 << 30).to_le_bytes());
    chunk.extend_from_slice(&(1u64 << 30).to_le_bytes());
    chunk.extend_from_slice(&[0; 64]);
    let n = largest_during(|| assert!(decode_chunk(&chunk).is_err()));
    assert!(n < 16 * KIB, "allocated {n}");

    // A postcard sequence announcing 2^62 elements.
    let seq = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 1, 2, 3,
    ];
    let n = largest_during(|| assert!(decode::<Vec<u64>>(&seq).is_err()));
    assert!(n <= 1024 * KIB + KIB, "allocated {n}");

    // The acceptor fed a maximal pre-auth frame of junk.
    let secret = Secret::from_bytes(&[1; 32]).unwrap();
    let quick = Limits {
        handshake_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let mut junk = header(0, 4096);
    junk.resize(junk.len() + 4096, 0xAB);
    let n = largest_during(|| {
        rt.block_on(async {
            let (mut a, mut b) = tokio::io::duplex(16 * KIB);
            a.write_all(&junk).await.unwrap();
            a.shutdown().await.unwrap();
            assert!(handshake_acceptor(&mut b, &secret, &quick).await.is_err());
        });
    });
    assert!(n < 32 * KIB, "allocated {n}");
}
