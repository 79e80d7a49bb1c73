//! The transformer operations a Llama-family forward needs beside the float [`Backend`]'s
//! batched perturbed linear: RMSNorm, rotary embeddings, SwiGLU, residual adds, KV-cache
//! writes and causal grouped-query attention over each sequence's own cache.
//!
//! [`TransformerOps`] is the extension trait a backend implements to run that forward; the CPU
//! backend implements it ([`cpu`]) from the one-row references in [`reference`], and a device
//! backend is checked against those by [`transformer_conformance_suite!`](crate::transformer_conformance_suite)
//! (feature `testing`). Buffers hold rows one after another (`rows × width`, row-major), like
//! every buffer of [`Backend`].

#[cfg(target_arch = "x86_64")]
mod attend_group;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod cpu;
pub mod kv_cache;
pub mod reference;
pub mod softmax;

pub use kv_cache::SeqCache;

use crate::backend::Backend;
use crate::error::Result;

/// The heads of an attention layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (query head `h` reads `h / (n_heads / n_kv_heads)`).
    pub n_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl AttentionShape {
    /// Width of a query row (`n_heads · head_dim`).
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of a key or value row (`n_kv_heads · head_dim`).
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}

/// Where each row of a batch sits: its sequence (an index into the caches) and its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPlace {
    /// The row's sequence.
    pub seq: usize,
    /// The row's position in its sequence.
    pub pos: usize,
}

/// The transformer operations of a backend (see the module doc).
///
/// A step of a forward appends every row's keys and values to its sequence's cache for each
/// layer ([`TransformerOps::kv_write`]), attends, and once every layer has them counts the
/// new positions ([`TransformerOps::kv_advance`]). Rows of one sequence come one after another
/// in the batch, in position order.
pub trait TransformerOps: Backend {
    /// One sequence's keys and values for every layer, on this backend.
    type KvCache: Send + Sync;

    /// An empty cache for `n_layers` layers.
    fn new_kv_cache(&self, n_layers: usize) -> Self::KvCache;

    /// Positions `cache` holds.
    fn kv_len(&self, cache: &Self::KvCache) -> usize;

    /// RMSNorm of every `width`-row of `x`: `x / √(mean(x²) + eps) · weight`.
    fn rms_norm_rows(
        &self,
        x: &Self::Buffer,
        weight: &Self::Buffer,
        width: usize,
        eps: f32,
    ) -> Result<Self::Buffer>;

    /// The rotary table of `positions` (per position `head_dim / 2` pairs of cosine and sine of
    /// `pos · base^(−2i/head_dim)`), for [`TransformerOps::rope_rows`].
    fn rope_table(&self, positions: &[usize], head_dim: usize, base: f32) -> Result<Self::Buffer>;

    /// Rotate every head of every `width`-row of `x` in place by its row's angles in `table`
    /// (one table row per row of `x`): elements `(2i, 2i+1)` of a head turn by angle `i`.
    fn rope_rows(
        &self,
        x: &mut Self::Buffer,
        width: usize,
        head_dim: usize,
        table: &Self::Buffer,
    ) -> Result<()>;

    /// SwiGLU's gate in place: `gate ← silu(gate) · up`.
    fn swiglu(&self, gate: &mut Self::Buffer, up: &Self::Buffer) -> Result<()>;

    /// The residual add `x += y`.
    fn add_assign(&self, x: &mut Self::Buffer, y: &Self::Buffer) -> Result<()>;

    /// Append the rows of `keys` and `values` (`kv_dim` wide) of layer `layer` to their
    /// sequences' caches: the first `counts[0]` rows to `caches[0]`, the next `counts[1]` to
    /// `caches[1]`, and so on.
    fn kv_write(
        &self,
        caches: &mut [Self::KvCache],
        layer: usize,
        keys: &Self::Buffer,
        values: &Self::Buffer,
        counts: &[usize],
    ) -> Result<()>;

    /// Count `counts[s]` new positions in `caches[s]` once every layer has them.
    fn kv_advance(&self, caches: &mut [Self::KvCache], counts: &[usize]) -> Result<()>;

    /// Causal attention of every query row (`shape.q_dim()` wide) over its sequence's keys and
    /// values of `layer` up to its position (`places[row]`, cached already).
    fn attention(
        &self,
        q: &Self::Buffer,
        caches: &[Self::KvCache],
        layer: usize,
        places: &[RowPlace],
        shape: AttentionShape,
    ) -> Result<Self::Buffer>;
}
