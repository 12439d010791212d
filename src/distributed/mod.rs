//! Wire format and security for the distributed executor: length-prefixed frames
//! with size caps, chunk payloads as raw little-endian bytes ([`wire`]), and a
//! shared-secret mutual handshake plus connection admission ([`auth`]).

pub mod auth;
pub mod wire;
