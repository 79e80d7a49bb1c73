//! Counter-based noise: standard normals that are a pure function of their key.
//!
//! A stream is keyed by (run seed, parameter id, epoch = generation / noise_reuse, pair).
//! Element `j` of a stream is an entry of a fixed, shuffled pool of normal magnitudes (the
//! quantile table's values at evenly spaced tail probabilities), read at a window offset
//! hashed from the key, with a sign from one hash word per 32 elements. Only 32-bit integer
//! operations are used (multiply, xor, shift, add, leading-zero count, table read), so WGSL,
//! cubecl and every CPU thread or MPI rank produce the same bits. Every value is an integer
//! multiple of 2^-16, converted to f32 exactly.

pub mod pool;
pub mod table;

mod hash;
mod sample;

pub use hash::{hash32, KeyPrefix, StreamKey, StreamKeys};
pub use sample::{apply_sign, fill_normals, normal_at, normal_fixed, SignedWindow, WORD};

/// The 2^-16 grid every noise sample lies on.
pub const NOISE_SCALE: f32 = 1.0 / 65536.0;
