//! Chunk payloads: a format byte, then arrays as (dtype, ndim, shape, raw
//! little-endian bytes), decoded with one copy per array rather than a serde pass
//! per element.
//!
//! ```text
//! chunk  = format:u8 body
//! format 0  dtype:u8 array             a plain data chunk
//! format 1  (nothing)                  Chunk::Unit
//! format 2  array(sum) array(count)    Partial::SumCount (f64 arrays)
//! format 3  array(count) array(mean) array(m2)   Partial::Moments (f64 arrays)
//! format 4  dtype:u8 array(value) array(index)   Partial::Arg
//! array  = ndim:u8 (dim:u64le){ndim} element bytes (product(dims) * size)
//! ```
//!
//! The arrays of one partial must share a shape (the reduced block's), and an arg
//! partial's value must be a data array. Partial reductions get these formats rather
//! than a `postcard` body: their arrays are as large as data chunks, and
//! `Partial::Arg` holds a `Box<Chunk>`, which a recursive decoder would follow as
//! deep as a peer cares to nest it; here nothing nests.

use super::WireError;
use crate::store::StoreCache;
use darray_kernels::{Chunk, DType, Element, Partial};
use ndarray::{ArrayD, IxDyn};
use tokio::io::{AsyncRead, AsyncReadExt};

const FORMAT_ARRAY: u8 = 0;
const FORMAT_UNIT: u8 = 1;
const FORMAT_SUM_COUNT: u8 = 2;
const FORMAT_MOMENTS: u8 = 3;
const FORMAT_ARG: u8 = 4;

/// Most dimensions an array may declare.
const MAX_NDIM: usize = 32;

/// Encodes a chunk as a chunk-frame payload.
///
/// # Errors
/// [`WireError::Decode`] for an array of more than 32 dimensions, a partial whose
/// arrays differ in shape, or a `Partial::Arg` whose value is not a data array.
pub fn encode_chunk(c: &Chunk) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(c.nbytes() + 64);
    put_chunk(&mut out, c)?;
    Ok(out)
}

/// Decodes a chunk-frame payload, requiring that it use every byte.
///
/// Shapes are checked against the bytes present (with overflow checks) before any
/// element buffer is allocated, so decoding allocates at most the payload's size.
///
/// # Errors
/// [`WireError::Decode`] on an unknown format or dtype, more than 32 dimensions, a
/// shape whose size overflows or does not match the bytes, or a bool byte other than
/// 0 or 1; [`WireError::TrailingBytes`] if bytes are left over.
pub fn decode_chunk(bytes: &[u8]) -> Result<Chunk, WireError> {
    let mut r = Reader { bytes };
    let chunk = r.chunk()?;
    if r.bytes.is_empty() {
        Ok(chunk)
    } else {
        Err(WireError::TrailingBytes(r.bytes.len()))
    }
}

/// A chunk-frame payload ready to write: a plain data chunk as its header and a
/// borrow of its element bytes (no copy of the data), anything else encoded.
pub(super) enum Parts<'a> {
    /// Format, dtype and shape bytes, then the array's own memory.
    Borrowed {
        /// Format byte, dtype code, ndim and the shape.
        head: Vec<u8>,
        /// The elements' little-endian bytes.
        body: &'a [u8],
    },
    /// The whole payload, from [`encode_chunk`].
    Encoded(Vec<u8>),
}

/// The payload [`encode_chunk`] would make, borrowing the elements of a plain,
/// contiguous data chunk (numbers, not bools) on a little-endian machine.
///
/// # Errors
/// As [`encode_chunk`].
pub(super) fn encode_chunk_parts(c: &Chunk) -> Result<Parts<'_>, WireError> {
    let borrowed = if cfg!(target_endian = "little") {
        match c {
            Chunk::I8(a) => borrow_array(DType::I8, a),
            Chunk::I16(a) => borrow_array(DType::I16, a),
            Chunk::I32(a) => borrow_array(DType::I32, a),
            Chunk::I64(a) => borrow_array(DType::I64, a),
            Chunk::U8(a) => borrow_array(DType::U8, a),
            Chunk::U16(a) => borrow_array(DType::U16, a),
            Chunk::U32(a) => borrow_array(DType::U32, a),
            Chunk::U64(a) => borrow_array(DType::U64, a),
            Chunk::F32(a) => borrow_array(DType::F32, a),
            Chunk::F64(a) => borrow_array(DType::F64, a),
            _ => None,
        }
    } else {
        None
    };
    match borrowed {
        Some(p) => Ok(p),
        None => Ok(Parts::Encoded(encode_chunk(c)?)),
    }
}

fn borrow_array<T: bytemuck::Pod>(dtype: DType, a: &ArrayD<T>) -> Option<Parts<'_>> {
    let body = a.as_slice()?;
    if a.ndim() > MAX_NDIM {
        return None;
    }
    let mut head = Vec::with_capacity(3 + 8 * a.ndim());
    head.push(FORMAT_ARRAY);
    head.push(dtype_code(dtype));
    head.push(u8::try_from(a.ndim()).ok()?);
    for &d in a.shape() {
        head.extend_from_slice(&(d as u64).to_le_bytes());
    }
    Some(Parts::Borrowed {
        head,
        body: bytemuck::cast_slice(body),
    })
}

/// Reads a chunk-frame payload of `len` bytes (the frame header already read and
/// checked) and decodes it. A plain numeric data chunk is read straight into its
/// array's buffer, which grows as bytes arrive (as [`super::read_frame`]'s do);
/// anything else, or a payload whose shape does not match its length, is read
/// whole and goes through [`decode_chunk`], with the same errors.
///
/// # Errors
/// As [`decode_chunk`], and [`WireError::Io`] if the stream fails or ends early.
pub(crate) async fn read_chunk_payload<R: AsyncRead + Unpin>(
    r: &mut R,
    len: usize,
    pool: Option<&StoreCache>,
) -> Result<Chunk, WireError> {
    let mut head = Vec::new();
    super::append_payload(r, &mut head, len.min(3)).await?;
    if let Some((dtype, ndim)) = plain_array_head(&head) {
        if len >= 3 + 8 * ndim {
            super::append_payload(r, &mut head, 8 * ndim).await?;
            if let Some(shape) = shape_of(&head[3..], dtype, len - head.len()) {
                let n = shape.iter().product::<usize>();
                return match dtype {
                    DType::I8 => wrap_elems::<i8, _>(r, n, shape, pool).await,
                    DType::I16 => wrap_elems::<i16, _>(r, n, shape, pool).await,
                    DType::I32 => wrap_elems::<i32, _>(r, n, shape, pool).await,
                    DType::I64 => wrap_elems::<i64, _>(r, n, shape, pool).await,
                    DType::U8 => wrap_elems::<u8, _>(r, n, shape, pool).await,
                    DType::U16 => wrap_elems::<u16, _>(r, n, shape, pool).await,
                    DType::U32 => wrap_elems::<u32, _>(r, n, shape, pool).await,
                    DType::U64 => wrap_elems::<u64, _>(r, n, shape, pool).await,
                    DType::F32 => wrap_elems::<f32, _>(r, n, shape, pool).await,
                    DType::F64 => wrap_elems::<f64, _>(r, n, shape, pool).await,
                    DType::Bool => unreachable!("plain_array_head refuses bools"),
                };
            }
        }
    }
    let rest = len - head.len();
    super::append_payload(r, &mut head, rest).await?;
    decode_chunk(&head)
}

/// The dtype and ndim of a plain numeric array payload's first three bytes, on a
/// little-endian machine; `None` for anything the fast path leaves to [`decode_chunk`].
fn plain_array_head(head: &[u8]) -> Option<(DType, usize)> {
    if !cfg!(target_endian = "little") || head.len() < 3 || head[0] != FORMAT_ARRAY {
        return None;
    }
    let dtype = dtype_from_code(head[1]).filter(|&d| d != DType::Bool)?;
    let ndim = usize::from(head[2]);
    (ndim <= MAX_NDIM).then_some((dtype, ndim))
}

/// The shape in `dims` if its elements of `dtype` take exactly `body` bytes
/// (no overflow, and within `isize` as `ndarray` requires).
fn shape_of(dims: &[u8], dtype: DType, body: usize) -> Option<Vec<usize>> {
    let mut shape = Vec::with_capacity(dims.len() / 8);
    let mut len: usize = 1;
    let mut nonzero: usize = 1;
    for d in dims.chunks_exact(8) {
        let d = usize::try_from(u64::from_le_bytes(d.try_into().ok()?)).ok()?;
        len = len.checked_mul(d)?;
        nonzero = nonzero.checked_mul(d.max(1))?;
        shape.push(d);
    }
    let nbytes = len.checked_mul(dtype.size())?;
    (nbytes == body && isize::try_from(nonzero).is_ok()).then_some(shape)
}

/// Fills `buf`; a stream that ends first is the same `UnexpectedEof` error as
/// inside any other frame.
async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<(), WireError> {
    match r.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads `n` elements, into a pooled buffer of that size if `pool` has one (no
/// fresh pages to fault in), else into a buffer grown as bytes arrive, and wraps
/// them.
async fn wrap_elems<T, R>(
    r: &mut R,
    n: usize,
    shape: Vec<usize>,
    pool: Option<&StoreCache>,
) -> Result<Chunk, WireError>
where
    T: bytemuck::Pod + WireElem + Element,
    R: AsyncRead + Unpin,
{
    let size = std::mem::size_of::<T>();
    let mut v: Vec<T> = Vec::new();
    if let Some(mut buf) = pool.and_then(|p| p.take_buffer::<T>(n)) {
        read_exact(r, bytemuck::cast_slice_mut(&mut buf)).await?;
        v = buf;
    }
    while v.len() < n {
        let step = (n - v.len()).min(v.len().max(super::INITIAL_RESERVE / size).max(1));
        let start = v.len();
        v.reserve_exact(step);
        v.resize(start + step, T::zeroed());
        read_exact(r, bytemuck::cast_slice_mut(&mut v[start..])).await?;
    }
    let a = ArrayD::from_shape_vec(IxDyn(&shape), v)
        .map_err(|e| WireError::Decode(format!("chunk: shape {shape:?}: {e}")))?;
    Ok(T::wrap(a))
}

fn put_chunk(out: &mut Vec<u8>, c: &Chunk) -> Result<(), WireError> {
    match c {
        Chunk::Bool(a) => put_format_array(out, DType::Bool, a)?,
        Chunk::I8(a) => put_format_array(out, DType::I8, a)?,
        Chunk::I16(a) => put_format_array(out, DType::I16, a)?,
        Chunk::I32(a) => put_format_array(out, DType::I32, a)?,
        Chunk::I64(a) => put_format_array(out, DType::I64, a)?,
        Chunk::U8(a) => put_format_array(out, DType::U8, a)?,
        Chunk::U16(a) => put_format_array(out, DType::U16, a)?,
        Chunk::U32(a) => put_format_array(out, DType::U32, a)?,
        Chunk::U64(a) => put_format_array(out, DType::U64, a)?,
        Chunk::F32(a) => put_format_array(out, DType::F32, a)?,
        Chunk::F64(a) => put_format_array(out, DType::F64, a)?,
        Chunk::Unit => out.push(FORMAT_UNIT),
        Chunk::Partial(Partial::SumCount { sum, count }) => {
            same_shape(&[sum.shape(), count.shape()])?;
            out.push(FORMAT_SUM_COUNT);
            put_array(out, sum)?;
            put_array(out, count)?;
        }
        Chunk::Partial(Partial::Moments { count, mean, m2 }) => {
            same_shape(&[count.shape(), mean.shape(), m2.shape()])?;
            out.push(FORMAT_MOMENTS);
            put_array(out, count)?;
            put_array(out, mean)?;
            put_array(out, m2)?;
        }
        Chunk::Partial(Partial::Arg { value, index }) => {
            let Some(dtype) = value.dtype() else {
                return Err(WireError::Decode(
                    "encode: Partial::Arg whose value is not a data array".into(),
                ));
            };
            same_shape(&[value.shape(), index.shape()])?;
            out.push(FORMAT_ARG);
            out.push(dtype_code(dtype));
            darray_kernels::map_chunk!(&**value, a => put_array(out, a)?, _ => unreachable!("dtype() is Some"));
            put_array(out, index)?;
        }
    }
    Ok(())
}

fn put_format_array<T: WireElem>(
    out: &mut Vec<u8>,
    dtype: DType,
    a: &ArrayD<T>,
) -> Result<(), WireError> {
    out.push(FORMAT_ARRAY);
    out.push(dtype_code(dtype));
    put_array(out, a)
}

fn put_array<T: WireElem>(out: &mut Vec<u8>, a: &ArrayD<T>) -> Result<(), WireError> {
    if a.ndim() > MAX_NDIM {
        return Err(WireError::Decode(format!(
            "encode: {} dimensions, at most {MAX_NDIM} allowed",
            a.ndim()
        )));
    }
    out.push(u8::try_from(a.ndim()).expect("ndim <= MAX_NDIM fits in a byte"));
    for &d in a.shape() {
        out.extend_from_slice(&(d as u64).to_le_bytes());
    }
    match a.as_slice() {
        Some(s) => T::encode_le(out, s),
        None => {
            out.reserve(a.len() * std::mem::size_of::<T>());
            for x in a {
                T::encode_le(out, std::slice::from_ref(x));
            }
        }
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WireError> {
        if n > self.bytes.len() {
            return Err(WireError::Decode(format!(
                "chunk: {what} needs {n} bytes, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    fn chunk(&mut self) -> Result<Chunk, WireError> {
        match self.u8("format byte")? {
            FORMAT_ARRAY => {
                let dtype = self.dtype()?;
                darray_kernels::dispatch_dtype!(dtype, T => Ok(T::wrap(self.array::<T>()?)))
            }
            FORMAT_UNIT => Ok(Chunk::Unit),
            FORMAT_SUM_COUNT => {
                let sum = self.array::<f64>()?;
                let count = self.array::<f64>()?;
                same_shape(&[sum.shape(), count.shape()])?;
                Ok(Chunk::Partial(Partial::SumCount { sum, count }))
            }
            FORMAT_MOMENTS => {
                let count = self.array::<f64>()?;
                let mean = self.array::<f64>()?;
                let m2 = self.array::<f64>()?;
                same_shape(&[count.shape(), mean.shape(), m2.shape()])?;
                Ok(Chunk::Partial(Partial::Moments { count, mean, m2 }))
            }
            FORMAT_ARG => {
                let dtype = self.dtype()?;
                let value: Chunk =
                    darray_kernels::dispatch_dtype!(dtype, T => T::wrap(self.array::<T>()?));
                let index = self.array::<i64>()?;
                same_shape(&[value.shape(), index.shape()])?;
                let value = Box::new(value);
                Ok(Chunk::Partial(Partial::Arg { value, index }))
            }
            other => Err(WireError::Decode(format!(
                "chunk: unknown format byte {other}"
            ))),
        }
    }

    fn dtype(&mut self) -> Result<DType, WireError> {
        let code = self.u8("dtype code")?;
        dtype_from_code(code)
            .ok_or_else(|| WireError::Decode(format!("chunk: unknown dtype code {code}")))
    }

    /// An array after its dtype code: ndim, shape, then exactly the element bytes
    /// the shape implies.
    fn array<T: WireElem>(&mut self) -> Result<ArrayD<T>, WireError> {
        let ndim = usize::from(self.u8("ndim")?);
        if ndim > MAX_NDIM {
            return Err(WireError::Decode(format!(
                "chunk: {ndim} dimensions, at most {MAX_NDIM} allowed"
            )));
        }
        let dims = self.take(8 * ndim, "shape")?;
        let mut shape = Vec::with_capacity(ndim);
        let mut len: usize = 1;
        for d in dims.chunks_exact(8) {
            let d = u64::from_le_bytes(d.try_into().expect("chunks_exact(8)"));
            let d = usize::try_from(d)
                .map_err(|_| WireError::Decode(format!("chunk: axis length {d} overflows")))?;
            len = len.checked_mul(d).ok_or_else(|| overflow(&shape, d))?;
            shape.push(d);
        }
        let nbytes = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or_else(|| overflow(&shape, 1))?;
        let data = self.take(nbytes, "element data")?;
        let elems = T::decode_le(data)?;
        // Also refuses shapes whose non-zero axis lengths overflow isize, which the
        // product above allows when another axis is 0.
        ArrayD::from_shape_vec(IxDyn(&shape), elems)
            .map_err(|e| WireError::Decode(format!("chunk: shape {shape:?}: {e}")))
    }
}

/// Refuses a partial whose arrays differ in shape.
fn same_shape(shapes: &[&[usize]]) -> Result<(), WireError> {
    if shapes.windows(2).all(|w| w[0] == w[1]) {
        Ok(())
    } else {
        Err(WireError::Decode(format!(
            "chunk: partial reduction arrays of differing shapes {shapes:?}"
        )))
    }
}

fn overflow(shape: &[usize], next: usize) -> WireError {
    WireError::Decode(format!(
        "chunk: shape {shape:?} then {next}: element count overflows"
    ))
}

/// Wire code of a dtype; fixed here rather than taken from the enum's declaration
/// order, so reordering `DType` cannot change the format.
fn dtype_code(d: DType) -> u8 {
    match d {
        DType::Bool => 0,
        DType::I8 => 1,
        DType::I16 => 2,
        DType::I32 => 3,
        DType::I64 => 4,
        DType::U8 => 5,
        DType::U16 => 6,
        DType::U32 => 7,
        DType::U64 => 8,
        DType::F32 => 9,
        DType::F64 => 10,
    }
}

fn dtype_from_code(code: u8) -> Option<DType> {
    Some(match code {
        0 => DType::Bool,
        1 => DType::I8,
        2 => DType::I16,
        3 => DType::I32,
        4 => DType::I64,
        5 => DType::U8,
        6 => DType::U16,
        7 => DType::U32,
        8 => DType::U64,
        9 => DType::F32,
        10 => DType::F64,
        _ => return None,
    })
}

/// An element type with a fixed little-endian byte layout.
trait WireElem: Sized {
    /// Appends the elements' little-endian bytes.
    fn encode_le(out: &mut Vec<u8>, xs: &[Self]);
    /// Elements from exactly `len * size_of::<Self>()` bytes.
    fn decode_le(bytes: &[u8]) -> Result<Vec<Self>, WireError>;
    /// The chunk variant holding an array of this type.
    fn wrap(a: ArrayD<Self>) -> Chunk;
}

impl WireElem for bool {
    fn encode_le(out: &mut Vec<u8>, xs: &[bool]) {
        out.extend(xs.iter().map(|&b| u8::from(b)));
    }

    fn decode_le(bytes: &[u8]) -> Result<Vec<bool>, WireError> {
        bytes
            .iter()
            .map(|&b| match b {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(WireError::Decode(format!("chunk: bool byte {other}"))),
            })
            .collect()
    }

    fn wrap(a: ArrayD<bool>) -> Chunk {
        Chunk::Bool(a)
    }
}

macro_rules! impl_wire_pod {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl WireElem for $t {
            fn encode_le(out: &mut Vec<u8>, xs: &[$t]) {
                if cfg!(target_endian = "little") {
                    out.extend_from_slice(bytemuck::cast_slice(xs));
                } else {
                    for x in xs {
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                }
            }

            fn decode_le(bytes: &[u8]) -> Result<Vec<$t>, WireError> {
                const SIZE: usize = std::mem::size_of::<$t>();
                // Zeroed allocation (calloc) then one copy: the Vec<$t> is aligned
                // for $t, which the payload bytes are not. The caller sized `bytes`
                // as a whole number of elements, so the lengths match.
                let mut v: Vec<$t> = vec![<$t>::default(); bytes.len() / SIZE];
                bytemuck::cast_slice_mut::<$t, u8>(&mut v).copy_from_slice(bytes);
                if cfg!(target_endian = "big") {
                    for x in &mut v {
                        *x = <$t>::from_le_bytes(x.to_ne_bytes());
                    }
                }
                Ok(v)
            }

            fn wrap(a: ArrayD<$t>) -> Chunk {
                Chunk::$variant(a)
            }
        }
    )*};
}

impl_wire_pod!(
    i8 => I8, i16 => I16, i32 => I32, i64 => I64,
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    f32 => F32, f64 => F64,
);
