//! Chunk payloads and control messages decoded from arbitrary bytes: never a panic,
//! allocations bounded by the input, and a decoded chunk re-encodes to the same bytes
//! (the format has one encoding per chunk).
#![no_main]

use darray::distributed::wire::{decode, decode_chunk, encode_chunk};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: darray_fuzz::Counting = darray_fuzz::Counting;

/// A control-message-like type: integers, strings, nested sequences, an option.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Msg {
    id: u64,
    name: String,
    blocks: Vec<Vec<u32>>,
    shape: Option<Vec<u64>>,
}

fuzz_target!(|data: &[u8]| {
    let chunk = darray_fuzz::capped(data.len() + 4096, "decode_chunk", || decode_chunk(data));
    if let Ok(chunk) = chunk {
        let again = encode_chunk(&chunk).expect("a decoded chunk encodes");
        assert_eq!(again, data, "decode then encode is the identity");
    }
    // serde preallocates at most 1 MiB per sequence from an announced length.
    darray_fuzz::capped(data.len() + (1 << 20) + 4096, "decode", || {
        let _ = decode::<Msg>(data);
    });
});
