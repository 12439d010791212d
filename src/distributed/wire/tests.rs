//! Unit tests for frames, messages and chunk payloads.

use super::*;
use darray_kernels::{Chunk, DType, Partial};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

fn header(kind: u8, len: u64) -> Vec<u8> {
    let mut h = vec![kind];
    h.extend_from_slice(&len.to_le_bytes());
    h
}

async fn read_all(bytes: &[u8], limits: &Limits, auth: bool) -> Result<Frame, WireError> {
    let mut r = bytes;
    read_frame(&mut r, limits, auth).await
}

#[tokio::test]
async fn frames_round_trip() {
    let limits = Limits::default();
    let mut buf = Vec::new();
    let big = vec![7u8; 200_000];
    write_frame(&mut buf, FrameKind::Control, b"hello")
        .await
        .unwrap();
    write_frame(&mut buf, FrameKind::Chunk, &big).await.unwrap();
    write_frame(&mut buf, FrameKind::Control, b"")
        .await
        .unwrap();
    let mut r = &buf[..];
    let f = read_frame(&mut r, &limits, true).await.unwrap();
    assert_eq!(
        (f.kind, &f.payload[..]),
        (FrameKind::Control, &b"hello"[..])
    );
    let f = read_frame(&mut r, &limits, true).await.unwrap();
    assert_eq!(f.kind, FrameKind::Chunk);
    assert_eq!(f.payload, big);
    assert_eq!(
        f.payload.capacity(),
        big.len(),
        "buffer grown to exactly the frame"
    );
    let f = read_frame(&mut r, &limits, true).await.unwrap();
    assert!(f.payload.is_empty());
    assert!(matches!(
        read_frame(&mut r, &limits, true).await,
        Err(WireError::Closed)
    ));
}

#[tokio::test]
async fn frames_round_trip_through_a_small_pipe() {
    // A 64-byte duplex forces many partial reads and writes.
    let (mut a, mut b) = tokio::io::duplex(64);
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    let writer = tokio::spawn(async move {
        write_frame(&mut a, FrameKind::Chunk, &sent).await.unwrap();
        write_frame(&mut a, FrameKind::Control, b"x").await.unwrap();
    });
    let limits = Limits::default();
    let f = read_frame(&mut b, &limits, true).await.unwrap();
    assert_eq!(f.payload, payload);
    let f = read_frame(&mut b, &limits, true).await.unwrap();
    assert_eq!(f.payload, b"x");
    writer.await.unwrap();
    assert!(matches!(
        read_frame(&mut b, &limits, true).await,
        Err(WireError::Closed)
    ));
}

#[tokio::test]
async fn oversized_headers_are_refused_before_and_after_auth() {
    let limits = Limits::default();
    for len in [u64::MAX, 1 << 40, 4097] {
        let e = read_all(&header(0, len), &limits, false).await.unwrap_err();
        assert!(
            matches!(e, WireError::TooLarge { kind: FrameKind::Control, len: l, limit: 4096 } if l == len),
            "{e}"
        );
    }
    for (kind, len, limit) in [
        (0, u64::MAX, limits.control_frame),
        (0, (1 << 20) + 1, limits.control_frame),
        (1, u64::MAX, limits.chunk_frame),
        (1, 1 << 40, limits.chunk_frame),
    ] {
        let e = read_all(&header(kind, len), &limits, true)
            .await
            .unwrap_err();
        assert!(
            matches!(e, WireError::TooLarge { len: l, limit: m, .. } if l == len && m == limit),
            "{e}"
        );
    }
    // At the limit is fine.
    let mut frame = header(0, 4096);
    frame.resize(9 + 4096, 0);
    assert_eq!(
        read_all(&frame, &limits, false)
            .await
            .unwrap()
            .payload
            .len(),
        4096
    );
}

#[tokio::test]
async fn announced_length_is_not_allocated_up_front() {
    // The cap lets 1 TiB through; the reader must not reserve it before the bytes
    // come (the process would abort), only fail when the stream ends.
    let limits = Limits {
        chunk_frame: usize::MAX,
        ..Limits::default()
    };
    let mut bytes = header(1, 1 << 40);
    bytes.extend_from_slice(&[0u8; 100_000]);
    let e = read_all(&bytes, &limits, true).await.unwrap_err();
    assert!(
        matches!(&e, WireError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof),
        "{e}"
    );
}

#[tokio::test]
async fn chunk_frame_before_auth_is_refused() {
    let mut bytes = header(1, 3);
    bytes.extend_from_slice(b"abc");
    let e = read_all(&bytes, &Limits::default(), false)
        .await
        .unwrap_err();
    assert!(matches!(e, WireError::ChunkBeforeAuth), "{e}");
    let e = read_all(&header(1, u64::MAX), &Limits::default(), false)
        .await
        .unwrap_err();
    assert!(matches!(e, WireError::ChunkBeforeAuth), "{e}");
}

#[tokio::test]
async fn bad_kind_and_truncated_frames_are_errors() {
    let limits = Limits::default();
    let e = read_all(&header(2, 0), &limits, true).await.unwrap_err();
    assert!(matches!(e, WireError::BadKind(2)), "{e}");
    assert!(matches!(
        read_all(b"", &limits, true).await,
        Err(WireError::Closed)
    ));
    let eof = |r: Result<Frame, WireError>| matches!(r, Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof);
    let full = {
        let mut f = header(0, 10);
        f.extend_from_slice(b"0123456789");
        f
    };
    for cut in 1..full.len() {
        assert!(
            eof(read_all(&full[..cut], &limits, true).await),
            "cut at {cut}"
        );
        assert!(
            eof(read_all(&full[..cut], &limits, false).await),
            "cut at {cut}"
        );
    }
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Msg {
    id: u32,
    name: String,
    data: Vec<u64>,
}

#[test]
fn messages_round_trip_and_reject_trailing_bytes() {
    let m = Msg {
        id: 7,
        name: "x".into(),
        data: vec![1, 2, 3],
    };
    let mut bytes = encode(&m).unwrap();
    assert_eq!(decode::<Msg>(&bytes).unwrap(), m);
    bytes.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode::<Msg>(&bytes),
        Err(WireError::TrailingBytes(2))
    ));
    assert!(matches!(
        decode::<Msg>(&bytes[..3]),
        Err(WireError::Decode(_))
    ));
    assert!(matches!(decode::<Msg>(&[]), Err(WireError::Decode(_))));
    // A sequence announcing u64::MAX elements fails on the missing bytes.
    let mut huge = vec![7, 1, b'x'];
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(matches!(decode::<Msg>(&huge), Err(WireError::Decode(_))));
}

// ---- chunks ----

fn chunk_from_bits(dtype: DType, shape: &[usize], bits: &[u64]) -> Chunk {
    darray_kernels::dispatch_dtype!(dtype, T => {
        let v: Vec<T> = bits.iter().map(|&b| from_bits::<T>(b)).collect();
        <T as darray_kernels::Element>::into_chunk(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    })
}

trait FromBits {
    fn from_bits(b: u64) -> Self;
}
fn from_bits<T: FromBits>(b: u64) -> T {
    T::from_bits(b)
}
macro_rules! from_bits_int {
    ($($t:ty),*) => {$(impl FromBits for $t { fn from_bits(b: u64) -> Self { b as $t } })*};
}
from_bits_int!(i8, i16, i32, i64, u8, u16, u32, u64);
impl FromBits for bool {
    fn from_bits(b: u64) -> Self {
        b & 1 == 1
    }
}
impl FromBits for f32 {
    fn from_bits(b: u64) -> Self {
        f32::from_bits(b as u32)
    }
}
impl FromBits for f64 {
    fn from_bits(b: u64) -> Self {
        f64::from_bits(b)
    }
}

/// Checks a round trip bit for bit (floats by bits, so NaN payloads count).
fn assert_round_trip(c: &Chunk) {
    let bytes = encode_chunk(c).unwrap();
    let back = decode_chunk(&bytes).unwrap();
    assert_eq!(back.dtype(), c.dtype());
    assert_eq!(back.shape(), c.shape());
    assert_eq!(encode_chunk(&back).unwrap(), bytes);
    if !matches!(c.dtype(), Some(DType::F32 | DType::F64)) && !matches!(c, Chunk::Partial(_)) {
        assert_eq!(&back, c);
    }
}

fn shape_and_bits() -> impl Strategy<Value = (Vec<usize>, Vec<u64>)> {
    proptest::collection::vec(0usize..5, 0..=4).prop_flat_map(|shape| {
        let n = shape.iter().product::<usize>();
        (Just(shape), proptest::collection::vec(any::<u64>(), n))
    })
}

proptest! {
    #[test]
    fn chunks_round_trip(d in 0usize..11, (shape, bits) in shape_and_bits(), transpose: bool) {
        let c = chunk_from_bits(DType::ALL[d], &shape, &bits);
        assert_round_trip(&c);
        if transpose {
            // Non-contiguous layout: encoded in logical order.
            let t = darray_kernels::map_chunk!(&c, a => darray_kernels::Element::into_chunk(a.clone().reversed_axes()), _ => unreachable!());
            let back = decode_chunk(&encode_chunk(&t).unwrap()).unwrap();
            prop_assert_eq!(encode_chunk(&back).unwrap(), encode_chunk(&t).unwrap());
            prop_assert_eq!(back.shape(), t.shape());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_chunk(&bytes);
        let _ = decode::<Msg>(&bytes);
    }

    #[test]
    fn frames_round_trip_any_payload(control: bool, payload in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let kind = if control { FrameKind::Control } else { FrameKind::Chunk };
        let f = rt.block_on(async {
            let mut buf = Vec::new();
            write_frame(&mut buf, kind, &payload).await.unwrap();
            read_all(&buf, &Limits::default(), true).await
        }).unwrap();
        prop_assert_eq!(f.kind, kind);
        prop_assert_eq!(f.payload, payload);
    }
}

#[test]
fn partial_and_unit_chunks_round_trip() {
    let f = |v: f64| ArrayD::from_elem(IxDyn(&[2, 1, 3]), v);
    assert_round_trip(&Chunk::Unit);
    assert_round_trip(&Chunk::Partial(Partial::SumCount {
        sum: f(1.5),
        count: f(4.0),
    }));
    assert_round_trip(&Chunk::Partial(Partial::Moments {
        count: f(3.0),
        mean: f(f64::NAN),
        m2: f(-0.0),
    }));
    for d in DType::ALL {
        let arg = Chunk::Partial(Partial::Arg {
            value: Box::new(chunk_from_bits(d, &[2, 1], &[1, 0])),
            index: ArrayD::from_elem(IxDyn(&[2, 1]), -5i64),
        });
        assert_round_trip(&arg);
        let back = decode_chunk(&encode_chunk(&arg).unwrap()).unwrap();
        assert_eq!(back, arg);
    }
}

/// A valid f64 chunk's payload with the given shape and `data` element bytes.
fn raw(format: u8, dtype: u8, shape: &[u64], data: usize) -> Vec<u8> {
    let mut b = vec![format, dtype, shape.len() as u8];
    for d in shape {
        b.extend_from_slice(&d.to_le_bytes());
    }
    b.resize(b.len() + data, 0);
    b
}

#[test]
fn corrupt_chunk_headers_are_errors() {
    let is_decode = |r: Result<Chunk, WireError>| matches!(r, Err(WireError::Decode(_)));
    assert!(decode_chunk(&raw(0, 10, &[2, 3], 48)).is_ok());
    // Shape product does not match the bytes.
    assert!(is_decode(decode_chunk(&raw(0, 10, &[2, 3], 47))));
    assert!(matches!(
        decode_chunk(&raw(0, 10, &[2, 3], 49)),
        Err(WireError::TrailingBytes(1))
    ));
    assert!(is_decode(decode_chunk(&raw(0, 10, &[2, 4], 48))));
    // Overflow: of the element count, of the byte count, of isize with a zero axis.
    assert!(is_decode(decode_chunk(&raw(0, 10, &[u64::MAX, 2], 0))));
    assert!(is_decode(decode_chunk(&raw(0, 10, &[1 << 62, 4], 0))));
    assert!(is_decode(decode_chunk(&raw(
        0,
        10,
        &[0, u64::MAX, u64::MAX],
        0
    ))));
    assert!(is_decode(decode_chunk(&raw(0, 0, &[0, 1 << 63], 0))));
    // Dimensions: 32 allowed, 33 not.
    assert!(decode_chunk(&raw(0, 5, &[1; 32], 1)).is_ok());
    assert!(is_decode(decode_chunk(&raw(0, 5, &[1; 33], 1))));
    assert!(is_decode(decode_chunk(&[0, 5, 255])));
    // Unknown dtype and format, truncated headers.
    assert!(is_decode(decode_chunk(&raw(0, 11, &[1], 8))));
    assert!(is_decode(decode_chunk(&raw(0, 255, &[1], 8))));
    assert!(is_decode(decode_chunk(&raw(9, 10, &[1], 8))));
    for cut in 0..(3 + 16) {
        assert!(
            is_decode(decode_chunk(&raw(0, 10, &[2, 3], 48)[..cut])),
            "cut {cut}"
        );
    }
    // bool bytes must be 0 or 1.
    let mut b = raw(0, 0, &[3], 3);
    b[3 + 8 + 1] = 2;
    assert!(is_decode(decode_chunk(&b)));
    // Partials: arrays of differing shapes, an arg value of unknown dtype.
    let f64s = |shape: &[u64]| {
        let n: u64 = shape.iter().product();
        raw(0, 10, shape, 8 * n as usize)[2..].to_vec()
    };
    let sum_count = |a: &[u64], b: &[u64]| [vec![2], f64s(a), f64s(b)].concat();
    assert!(decode_chunk(&sum_count(&[2], &[2])).is_ok());
    assert!(is_decode(decode_chunk(&sum_count(&[2], &[1, 2]))));
    let moments = [vec![3], f64s(&[1]), f64s(&[1]), f64s(&[2])].concat();
    assert!(is_decode(decode_chunk(&moments)));
    let arg = |dtype: u8, a: &[u64], b: &[u64]| [vec![4, dtype], f64s(a), f64s(b)].concat();
    assert!(decode_chunk(&arg(10, &[3], &[3])).is_ok());
    assert!(is_decode(decode_chunk(&arg(10, &[3], &[1, 3]))));
    assert!(is_decode(decode_chunk(&arg(11, &[3], &[3]))));
    // Format bytes nest nothing: a run of arg formats is just a bad dtype.
    assert!(is_decode(decode_chunk(&[4u8; 10_000])));
}

#[test]
fn encode_refuses_what_decode_would() {
    let a = ArrayD::<u8>::zeros(IxDyn(&[1; 33]));
    assert!(matches!(
        encode_chunk(&Chunk::U8(a)),
        Err(WireError::Decode(_))
    ));
    let mut c = Chunk::U8(ArrayD::zeros(IxDyn(&[1])));
    for _ in 0..5 {
        c = Chunk::Partial(Partial::Arg {
            value: Box::new(c),
            index: ArrayD::zeros(IxDyn(&[1])),
        });
    }
    assert!(matches!(encode_chunk(&c), Err(WireError::Decode(_))));
    let unit_arg = Chunk::Partial(Partial::Arg {
        value: Box::new(Chunk::Unit),
        index: ArrayD::zeros(IxDyn(&[])),
    });
    assert!(matches!(encode_chunk(&unit_arg), Err(WireError::Decode(_))));
    let ragged = Chunk::Partial(Partial::SumCount {
        sum: ArrayD::zeros(IxDyn(&[2])),
        count: ArrayD::zeros(IxDyn(&[3])),
    });
    assert!(matches!(encode_chunk(&ragged), Err(WireError::Decode(_))));
}

// ---- chunk frames written from the array, read into it ----

/// `c` as [`write_chunk_frame`] writes it.
fn chunk_frame(c: &Chunk) -> Vec<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut buf = Vec::new();
        write_chunk_frame(&mut buf, c).await.unwrap();
        buf
    })
}

/// A chunk payload read the streaming way (frame header, then the payload).
fn stream_read(frame: &[u8], pool: Option<&crate::store::StoreCache>) -> Result<Chunk, WireError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = frame;
        let (kind, len) = read_frame_header(&mut r, &Limits::default(), true).await?;
        assert_eq!(kind, FrameKind::Chunk);
        let c = read_chunk_payload(&mut r, len, pool).await?;
        assert!(r.is_empty(), "{} bytes left unread", r.len());
        Ok(c)
    })
}

/// A chunk payload behind a chunk frame header.
fn framed(payload: &[u8]) -> Vec<u8> {
    [header(1, payload.len() as u64), payload.to_vec()].concat()
}

proptest! {
    #[test]
    fn chunk_frames_are_the_encoded_bytes_and_read_back_bit_for_bit(
        d in 0usize..11,
        (shape, bits) in shape_and_bits(),
        transpose: bool,
    ) {
        let mut c = chunk_from_bits(DType::ALL[d], &shape, &bits);
        if transpose {
            c = darray_kernels::map_chunk!(&c, a => darray_kernels::Element::into_chunk(a.clone().reversed_axes()), _ => unreachable!());
        }
        let frame = chunk_frame(&c);
        let encoded = encode_chunk(&c).unwrap();
        prop_assert_eq!(&frame, &framed(&encoded));
        let back = stream_read(&frame, None).unwrap();
        prop_assert_eq!(back.shape(), c.shape());
        prop_assert_eq!(encode_chunk(&back).unwrap(), encoded);
    }

    #[test]
    fn streamed_and_whole_payload_decoding_agree_on_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let whole = decode_chunk(&bytes);
        let streamed = stream_read(&framed(&bytes), None);
        match (whole, streamed) {
            (Ok(a), Ok(b)) => prop_assert_eq!(encode_chunk(&a).unwrap(), encode_chunk(&b).unwrap()),
            (Err(a), Err(b)) => prop_assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b)),
            (a, b) => prop_assert!(false, "whole {:?}, streamed {:?}", a.map(|_| ()), b.map(|_| ())),
        }
    }
}

#[test]
fn streamed_chunks_refuse_what_whole_payloads_refuse() {
    let same = |payload: &[u8]| {
        let whole = decode_chunk(payload).map(|_| ());
        let streamed = stream_read(&framed(payload), None).map(|_| ());
        assert_eq!(
            whole.as_ref().map_err(std::mem::discriminant),
            streamed.as_ref().map_err(std::mem::discriminant),
            "{whole:?} vs {streamed:?}"
        );
        streamed
    };
    assert!(same(&raw(0, 10, &[2, 3], 48)).is_ok());
    assert!(same(&raw(0, 10, &[2, 3], 47)).is_err());
    assert!(matches!(
        same(&raw(0, 10, &[2, 3], 49)),
        Err(WireError::TrailingBytes(1))
    ));
    assert!(same(&raw(0, 10, &[2, 4], 48)).is_err());
    assert!(same(&raw(0, 10, &[u64::MAX, 2], 0)).is_err());
    assert!(same(&raw(0, 10, &[1 << 62, 4], 0)).is_err());
    assert!(same(&raw(0, 10, &[0, u64::MAX, u64::MAX], 0)).is_err());
    assert!(same(&raw(0, 5, &[1; 32], 1)).is_ok());
    assert!(same(&raw(0, 5, &[1; 33], 1)).is_err());
    assert!(same(&raw(0, 11, &[1], 8)).is_err());
    for cut in 0..(3 + 16) {
        assert!(same(&raw(0, 10, &[2, 3], 48)[..cut]).is_err(), "cut {cut}");
    }
    let mut b = raw(0, 0, &[3], 3);
    b[3 + 8 + 1] = 2;
    assert!(same(&b).is_err());
}

#[tokio::test]
async fn a_chunk_announcing_more_than_it_sends_is_not_allocated_up_front() {
    // A 1 TiB f64 array header whose bytes never come: the reader must not
    // reserve the array before they arrive (the process would abort), only fail
    // when the stream ends.
    let limits = Limits {
        chunk_frame: usize::MAX,
        ..Limits::default()
    };
    let n: u64 = 1 << 37;
    let mut bytes = header(1, 3 + 8 + 8 * n);
    bytes.extend_from_slice(&[0, 10, 1]);
    bytes.extend_from_slice(&n.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 100_000]);
    let mut r = &bytes[..];
    let (kind, len) = read_frame_header(&mut r, &limits, true).await.unwrap();
    assert_eq!(kind, FrameKind::Chunk);
    let e = read_chunk_payload(&mut r, len, None).await.unwrap_err();
    assert!(
        matches!(&e, WireError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof),
        "{e}"
    );
}

#[tokio::test]
async fn chunk_frames_cross_a_small_pipe_intact() {
    // A 64-byte duplex: the vectored writes and the reads are all partial.
    let (mut a, mut b) = tokio::io::duplex(64);
    let c = Chunk::F64(ArrayD::from_shape_fn(IxDyn(&[300, 7]), |i| {
        (i[0] * 7 + i[1]) as f64 * 0.25 - 3.0
    }));
    let sent = c.clone();
    let writer = tokio::spawn(async move {
        write_chunk_frame(&mut a, &sent).await.unwrap();
        write_frame(&mut a, FrameKind::Control, b"x").await.unwrap();
    });
    let limits = Limits::default();
    let (kind, len) = read_frame_header(&mut b, &limits, true).await.unwrap();
    assert_eq!(kind, FrameKind::Chunk);
    assert_eq!(read_chunk_payload(&mut b, len, None).await.unwrap(), c);
    let f = read_frame(&mut b, &limits, true).await.unwrap();
    assert_eq!(f.payload, b"x");
    writer.await.unwrap();
}

#[test]
fn a_pooled_buffer_of_the_right_size_is_read_into() {
    // 1 MiB: over the pool's minimum size.
    let c = Chunk::F64(ArrayD::from_shape_fn(IxDyn(&[256, 512]), |i| {
        (i[0] * 512 + i[1]) as f64 + 0.5
    }));
    let frame = chunk_frame(&c);
    let pool = crate::store::StoreCache::with_buffer_pool(2);
    // Wrong dtype, then the right size and dtype with other values in it.
    pool.recycle(Chunk::I64(ArrayD::zeros(IxDyn(&[256, 512]))));
    pool.recycle(Chunk::F64(ArrayD::from_elem(IxDyn(&[512, 256]), -1.0)));
    assert_eq!(pool.pooled(), 2);
    assert_eq!(stream_read(&frame, Some(&pool)).unwrap(), c);
    // The f64 buffer was taken; the i64 one is left.
    assert_eq!(pool.pooled(), 1);
    assert_eq!(stream_read(&frame, Some(&pool)).unwrap(), c);
    assert_eq!(pool.pooled(), 1);
}
