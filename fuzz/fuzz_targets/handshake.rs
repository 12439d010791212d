//! The acceptor's handshake state machine fed arbitrary bytes then end of stream:
//! it never authenticates the peer, never panics, and allocates no more than a
//! pre-authentication frame (plus small fixed buffers).
#![no_main]

use darray::distributed::auth::{handshake_acceptor, Secret};
use darray::distributed::wire::Limits;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[global_allocator]
static ALLOC: darray_fuzz::Counting = darray_fuzz::Counting;

fn secret() -> &'static Secret {
    static S: OnceLock<Secret> = OnceLock::new();
    S.get_or_init(|| Secret::from_bytes(&[0x5a; 32]).expect("32 bytes"))
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        handshake_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let rt = darray_fuzz::runtime();
    rt.block_on(async {
        let (mut peer, mut ours) = tokio::io::duplex(data.len().max(1) + 4096);
        peer.write_all(data).await.expect("fits in the pipe");
        peer.shutdown().await.expect("duplex shutdown");
        let r = darray_fuzz::capped(limits.pre_auth_frame + 16 * 1024, "handshake", || {
            futures_lite_poll(handshake_acceptor(&mut ours, secret(), &limits))
        });
        match r {
            Some(r) => assert!(r.is_err(), "authenticated a peer without the secret"),
            // Pending only on a write to a full pipe, which the buffer rules out.
            None => panic!("handshake did not finish on a closed input"),
        }
    });
});

/// Polls a future once under the current runtime context: with the whole input
/// already in the pipe and the pipe closed, the acceptor finishes in one poll.
fn futures_lite_poll<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(r) => Some(r),
        std::task::Poll::Pending => None,
    }
}
