//! The CPU's per-sequence KV cache: each sequence keeps its own keys and values per layer, so
//! a batch mixes sequences of any lengths without padding.
//!
//! f32, `positions × n_kv_heads·head_dim` per layer for keys and for values (SmolLM2-135M:
//! 30 × 2 × 192 floats = 46 KB per token). Keys are stored after the rotary embedding.

/// One sequence's cache on the host (the CPU backend's [`super::TransformerOps::KvCache`]).
#[derive(Clone, Debug, Default)]
pub struct SeqCache {
    len: usize,
    /// Per layer: (keys, values).
    layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl SeqCache {
    /// An empty cache for `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        SeqCache {
            len: 0,
            layers: vec![(Vec::new(), Vec::new()); n_layers],
        }
    }

    /// Positions already cached (the next token's position).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of layers this cache was made for.
    pub fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Append rows of keys and values to `layer` (a forward does this for every layer, then
    /// calls [`SeqCache::advance`]).
    pub fn append(&mut self, layer: usize, keys: &[f32], values: &[f32]) {
        let (k, v) = &mut self.layers[layer];
        k.extend_from_slice(keys);
        v.extend_from_slice(values);
    }

    /// Keys and values of `layer`, including rows appended in the current step.
    pub fn layer(&self, layer: usize) -> (&[f32], &[f32]) {
        let (k, v) = &self.layers[layer];
        (k, v)
    }

    /// Count `n` new positions once every layer has them.
    pub fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// Forget everything (reuse the allocation for a new sequence).
    pub fn clear(&mut self) {
        self.len = 0;
        for (k, v) in &mut self.layers {
            k.clear();
            v.clear();
        }
    }

    /// Bytes held by the cache's values.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|(k, v)| (k.len() + v.len()) * std::mem::size_of::<f32>())
            .sum()
    }
}
