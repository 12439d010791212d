//! The registry of delayed functions: name -> (signature, type-erased call).
//! Every process that runs tasks (the client, each worker of the same binary)
//! registers the same functions by name before it serves; the graph names a
//! function and carries its arguments as postcard bytes, never code.
//!
//! Values travel between tasks as 1-d `u8` chunks holding their postcard
//! encoding, so executors move them like any other chunk.

use crate::error::{Error, Result};
use crate::graph::CallArg;
use darray_kernels::{Chunk, Element};
use ndarray::{ArrayD, IxDyn};
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::type_name;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Arc, OnceLock};

/// One argument as a running call sees it: a result of another task, or a
/// value serialized into the task.
pub(crate) enum CallInput<'a> {
    /// An input task's result (a value's bytes, or an array block for builtins).
    Chunk(&'a Chunk),
    /// Postcard bytes carried in the task itself.
    Bytes(&'a [u8]),
}

type ErasedFn = Arc<dyn Fn(&[CallInput<'_>]) -> Result<Chunk> + Send + Sync>;

/// The registered types of a function, checked when a call is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signature {
    /// Argument type names, in order.
    pub args: Vec<&'static str>,
    /// The result type name (the `Ok` type of a fallible function).
    pub output: &'static str,
}

impl Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fn({}) -> {}", self.args.join(", "), self.output)
    }
}

#[derive(Clone)]
struct Entry {
    sig: Signature,
    call: ErasedFn,
}

fn registry() -> &'static RwLock<HashMap<String, Entry>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(builtins()))
}

/// A Rust function (or closure) that can be registered as a delayed function:
/// implemented for every `Fn(A1, ..., An) -> R` with `n <= 4` whose arguments
/// are owned types that deserialize (`A: DeserializeOwned`). `Args` is the tuple
/// of argument types; it is inferred.
pub trait Function<Args>: Send + Sync + 'static {
    /// What the function returns.
    type Output;
    /// The argument type names.
    fn arg_types() -> Vec<&'static str>;
    /// Decodes the arguments from postcard bytes and calls the function.
    ///
    /// # Errors
    /// Bytes that do not decode as the argument types, or the wrong arity.
    fn invoke(&self, args: &[&[u8]]) -> std::result::Result<Self::Output, String>;
}

fn decode_arg<A: DeserializeOwned>(bytes: &[u8], i: usize) -> std::result::Result<A, String> {
    postcard::from_bytes(bytes).map_err(|e| {
        format!(
            "argument {i} does not decode as `{}`: {e}",
            type_name::<A>()
        )
    })
}

macro_rules! impl_function {
    ($n:literal; $($a:ident $i:tt),*) => {
        impl<F, R, $($a),*> Function<($($a,)*)> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            $($a: DeserializeOwned + 'static,)*
        {
            type Output = R;
            fn arg_types() -> Vec<&'static str> {
                vec![$(type_name::<$a>()),*]
            }
            #[allow(unused_variables)]
            fn invoke(&self, args: &[&[u8]]) -> std::result::Result<R, String> {
                if args.len() != $n {
                    return Err(format!("called with {} arguments, takes {}", args.len(), $n));
                }
                Ok(self($(decode_arg::<$a>(args[$i], $i)?),*))
            }
        }
    };
}

impl_function!(0;);
impl_function!(1; A0 0);
impl_function!(2; A0 0, A1 1);
impl_function!(3; A0 0, A1 1, A2 2);
impl_function!(4; A0 0, A1 1, A2 2, A3 3);

/// Registers `f` under `name` as a delayed function returning a value (see
/// [`register_fallible`] for one returning `Result`). Register every function
/// once per process, before building graphs that call it and, in a cluster's
/// workers, before `serve_if_worker` (workers of the same binary then know it,
/// as they know `map_blocks` kernels).
///
/// The dask equivalent is decorating a function with `@dask.delayed`; here the
/// function is named, because graphs carry names, never code.
///
/// ```
/// use darray::delayed;
/// fn add(a: i64, b: i64) -> i64 { a + b }
/// delayed::register("doc-register-add", add).unwrap();
/// let x = delayed::call2::<_, _, i64>("doc-register-add", delayed::val(&1i64), delayed::val(&2i64)).unwrap();
/// assert_eq!(x.compute().unwrap(), 3);
/// ```
///
/// # Errors
/// [`Error::FunctionExists`] if `name` is taken.
pub fn register<Args, F>(name: &str, f: F) -> Result<()>
where
    F: Function<Args>,
    F::Output: Serialize + 'static,
{
    let fname = name.to_string();
    let call: ErasedFn = Arc::new(move |inputs: &[CallInput<'_>]| {
        let bytes = input_bytes(&fname, inputs)?;
        let out = f.invoke(&bytes).map_err(|message| Error::FunctionFailed {
            function: fname.clone(),
            message,
        })?;
        encode_value(&out)
    });
    insert(
        name,
        Signature {
            args: F::arg_types(),
            output: type_name::<F::Output>(),
        },
        call,
    )
}

/// Registers `f`, which returns `Result<T, E>`, under `name`: an `Err` stops the
/// computation with [`Error::FunctionFailed`] (function name and `E`'s message)
/// inside [`Error::Task`] (the failing key). Calls are typed on `T`.
///
/// # Errors
/// [`Error::FunctionExists`] if `name` is taken.
pub fn register_fallible<Args, F, T, E>(name: &str, f: F) -> Result<()>
where
    F: Function<Args, Output = std::result::Result<T, E>>,
    T: Serialize + 'static,
    E: Display,
{
    let fname = name.to_string();
    let call: ErasedFn = Arc::new(move |inputs: &[CallInput<'_>]| {
        let bytes = input_bytes(&fname, inputs)?;
        let failed = |message: String| Error::FunctionFailed {
            function: fname.clone(),
            message,
        };
        let out = f.invoke(&bytes).map_err(failed)?;
        let out = out.map_err(|e| failed(e.to_string()))?;
        encode_value(&out)
    });
    insert(
        name,
        Signature {
            args: F::arg_types(),
            output: type_name::<T>(),
        },
        call,
    )
}

fn insert(name: &str, sig: Signature, call: ErasedFn) -> Result<()> {
    let mut reg = registry().write();
    if reg.contains_key(name) {
        return Err(Error::FunctionExists(name.to_string()));
    }
    reg.insert(name.to_string(), Entry { sig, call });
    Ok(())
}

/// Whether `name` is registered in this process.
#[must_use]
pub fn is_registered(name: &str) -> bool {
    registry().read().contains_key(name)
}

/// The signature registered under `name`.
pub(crate) fn signature(name: &str) -> Result<Signature> {
    registry()
        .read()
        .get(name)
        .map(|e| e.sig.clone())
        .ok_or_else(|| Error::UnknownFunction(name.to_string()))
}

/// Runs the call task of `function` (the arm of `Op::Call` in `exec::run`).
pub(crate) fn run_call(function: &str, args: &[CallArg], inputs: &[&Chunk]) -> Result<Chunk> {
    let call = registry()
        .read()
        .get(function)
        .map(|e| e.call.clone())
        .ok_or_else(|| Error::UnknownFunction(function.to_string()))?;
    let resolved = args
        .iter()
        .map(|a| match a {
            CallArg::Input(i) => inputs
                .get(*i as usize)
                .map(|c| CallInput::Chunk(c))
                .ok_or_else(|| Error::TaskInputs {
                    op: "call",
                    expected: *i as usize + 1,
                    got: inputs.len(),
                }),
            CallArg::Value(b) => Ok(CallInput::Bytes(b)),
        })
        .collect::<Result<Vec<_>>>()?;
    call(&resolved)
}

/// The bytes of every argument: a value chunk's contents or the inline bytes.
fn input_bytes<'a>(function: &str, inputs: &'a [CallInput<'a>]) -> Result<Vec<&'a [u8]>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            CallInput::Bytes(b) => Ok(*b),
            CallInput::Chunk(c) => value_bytes(c).ok_or_else(|| Error::DelayedValue {
                what: format!("argument {i} of `{function}`"),
                reason: format!(
                    "expected a value (1-d u8 chunk), got {:?} of shape {:?}",
                    c.dtype(),
                    c.shape()
                ),
            }),
        })
        .collect()
}

/// A value as the chunk that carries it between tasks.
pub(crate) fn encode_value<T: Serialize + ?Sized>(v: &T) -> Result<Chunk> {
    let bytes = to_bytes(v)?;
    let n = bytes.len();
    Ok(Chunk::U8(
        ArrayD::from_shape_vec(IxDyn(&[n]), bytes).expect("a vector is a 1-d array of its length"),
    ))
}

/// Postcard bytes of `v`.
pub(crate) fn to_bytes<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(v).map_err(|e| Error::DelayedValue {
        what: format!("a `{}`", type_name::<T>()),
        reason: format!("does not serialize: {e}"),
    })
}

/// The bytes a value chunk carries.
pub(crate) fn value_bytes(c: &Chunk) -> Option<&[u8]> {
    match c {
        Chunk::U8(a) if a.ndim() == 1 => a.as_slice(),
        _ => None,
    }
}

/// Decodes a value chunk as `T`.
pub(crate) fn decode_value<T: DeserializeOwned>(c: &Chunk, what: &str) -> Result<T> {
    let bytes = value_bytes(c).ok_or_else(|| Error::DelayedValue {
        what: what.to_string(),
        reason: format!("not a value chunk ({:?}, shape {:?})", c.dtype(), c.shape()),
    })?;
    postcard::from_bytes(bytes).map_err(|e| Error::DelayedValue {
        what: what.to_string(),
        reason: format!("does not decode as `{}`: {e}", type_name::<T>()),
    })
}

/// Name of the builtin turning an array block into an `ArrayD<T>` value.
pub(crate) fn to_value_name<T: Element>() -> String {
    format!("darray.block_to_value.{}", T::DTYPE)
}

/// Name of the builtin turning an `ArrayD<T>` value into a checked block.
pub(crate) fn from_value_name<T: Element>() -> String {
    format!("darray.value_to_block.{}", T::DTYPE)
}

/// What the `value_to_block` builtin checks: the block's array, index and shape.
#[derive(Serialize, serde::Deserialize)]
pub(crate) struct BlockSpec {
    pub array: String,
    pub block: Vec<u32>,
    pub shape: Vec<usize>,
}

fn add_array_builtins<T: Element>(map: &mut HashMap<String, Entry>) {
    let to: ErasedFn = Arc::new(|inputs: &[CallInput<'_>]| match inputs {
        [CallInput::Chunk(c)] => {
            let view = T::view_chunk(c).ok_or_else(|| Error::DelayedValue {
                what: "an array block".into(),
                reason: format!("expected {} data, got {:?}", T::DTYPE, c.dtype()),
            })?;
            encode_value(&view.to_owned())
        }
        _ => Err(Error::TaskInputs {
            op: "call",
            expected: 1,
            got: inputs.len(),
        }),
    });
    map.insert(
        to_value_name::<T>(),
        Entry {
            sig: Signature {
                args: vec![type_name::<ArrayD<T>>()],
                output: type_name::<ArrayD<T>>(),
            },
            call: to,
        },
    );
    let from: ErasedFn = Arc::new(|inputs: &[CallInput<'_>]| match inputs {
        [CallInput::Chunk(c), CallInput::Bytes(spec)] => {
            let spec: BlockSpec = postcard::from_bytes(spec).map_err(|e| Error::DelayedValue {
                what: "a block spec".into(),
                reason: e.to_string(),
            })?;
            let a: ArrayD<T> =
                decode_value(c, &format!("block {:?} of `{}`", spec.block, spec.array))?;
            if a.shape() != spec.shape.as_slice() {
                return Err(Error::BlockShape {
                    array: spec.array,
                    block: spec.block,
                    expected: spec.shape,
                    found: a.shape().to_vec(),
                });
            }
            Ok(T::into_chunk(a))
        }
        _ => Err(Error::TaskInputs {
            op: "call",
            expected: 2,
            got: inputs.len(),
        }),
    });
    map.insert(
        from_value_name::<T>(),
        Entry {
            sig: Signature {
                args: vec![type_name::<ArrayD<T>>()],
                output: type_name::<ArrayD<T>>(),
            },
            call: from,
        },
    );
}

/// The functions every process knows: array blocks to values and back, per dtype.
fn builtins() -> HashMap<String, Entry> {
    let mut map = HashMap::new();
    add_array_builtins::<bool>(&mut map);
    add_array_builtins::<i8>(&mut map);
    add_array_builtins::<i16>(&mut map);
    add_array_builtins::<i32>(&mut map);
    add_array_builtins::<i64>(&mut map);
    add_array_builtins::<u8>(&mut map);
    add_array_builtins::<u16>(&mut map);
    add_array_builtins::<u32>(&mut map);
    add_array_builtins::<u64>(&mut map);
    add_array_builtins::<f32>(&mut map);
    add_array_builtins::<f64>(&mut map);
    map
}
