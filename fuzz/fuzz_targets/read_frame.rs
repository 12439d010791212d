//! `read_frame` on arbitrary bytes: frames are read until an error, and no single
//! allocation exceeds what the input could justify.
#![no_main]

use darray::distributed::wire::{read_frame, Limits};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: darray_fuzz::Counting = darray_fuzz::Counting;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let authenticated = flags & 1 == 1;
    // A chunk cap far above any input, so only the growth policy bounds the buffer.
    let limits = Limits {
        chunk_frame: usize::MAX,
        ..Limits::default()
    };
    let rt = darray_fuzz::runtime();
    // The payload buffer may reach twice what arrived, or what arrived plus 64 KiB.
    let cap = (2 * data.len()).max(data.len() + 64 * 1024);
    darray_fuzz::capped(cap, "read_frame", || {
        rt.block_on(async {
            while let Ok(frame) = read_frame(&mut rest, &limits, authenticated).await {
                assert!(authenticated || frame.payload.len() <= limits.pre_auth_frame);
            }
        });
    });
});
