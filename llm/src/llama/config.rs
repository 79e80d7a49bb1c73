//! The shape of a Llama-family model, read from GGUF metadata (`llama.*` keys).

use super::gguf::Gguf;
use crate::error::Result;

/// Hyper-parameters of a Llama-family transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    /// Transformer blocks (`llama.block_count`).
    pub n_layers: usize,
    /// Width of the residual stream (`llama.embedding_length`).
    pub d_model: usize,
    /// Query heads (`llama.attention.head_count`).
    pub n_heads: usize,
    /// Key/value heads (`llama.attention.head_count_kv`; grouped-query attention when fewer).
    pub n_kv_heads: usize,
    /// Width of one head (`llama.attention.key_length`, else `d_model / n_heads`).
    pub head_dim: usize,
    /// Hidden width of the SwiGLU feed-forward (`llama.feed_forward_length`).
    pub ffn_dim: usize,
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f32,
    /// Rotary base (`llama.rope.freq_base`, default 10000).
    pub rope_base: f32,
    /// Vocabulary size (`llama.vocab_size`, else the token embedding's rows).
    pub vocab_size: usize,
    /// Longest context the model was trained for (`llama.context_length`).
    pub context_len: usize,
    /// Whether the output head is the token embedding (no `output.weight` tensor).
    pub tied_embeddings: bool,
}

impl LlamaConfig {
    /// Read the configuration of `g`, refusing other architectures and features this forward
    /// does not implement (partial rotary, rope scaling).
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let arch = g.get_str("general.architecture")?;
        if arch != "llama" {
            return Err(g.error(format!(
                "general.architecture is `{arch}`; only `llama` models are supported"
            )));
        }
        let k = |s: &str| format!("llama.{s}");
        let d_model = g.get_usize(&k("embedding_length"))?;
        let n_heads = g.get_usize(&k("attention.head_count"))?;
        let n_kv_heads = match g.get(&k("attention.head_count_kv")) {
            None => n_heads,
            Some(_) => g.get_usize(&k("attention.head_count_kv"))?,
        };
        if n_heads == 0 || n_kv_heads == 0 || n_heads % n_kv_heads != 0 {
            return Err(g.error(format!(
                "llama.attention.head_count {n_heads} is not a positive multiple of llama.attention.head_count_kv {n_kv_heads}"
            )));
        }
        let head_dim = match g.get(&k("attention.key_length")) {
            Some(_) => g.get_usize(&k("attention.key_length"))?,
            None => d_model / n_heads,
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(g.error(format!(
                "the head width {head_dim} (llama.embedding_length / head_count or llama.attention.key_length) must be even and positive"
            )));
        }
        if let Some(v) = g.get(&k("attention.value_length")) {
            if v.as_i128() != Some(head_dim as i128) {
                return Err(g.error(format!(
                    "llama.attention.value_length {v:?} differs from the key length {head_dim}; not supported"
                )));
            }
        }
        if g.get(&k("rope.dimension_count")).is_some() {
            let rot = g.get_usize(&k("rope.dimension_count"))?;
            if rot != head_dim {
                return Err(g.error(format!(
                    "llama.rope.dimension_count {rot} is not the head width {head_dim}: partial rotary embeddings are not supported"
                )));
            }
        }
        if let Some(v) = g.get(&k("rope.scaling.type")) {
            if v.as_str() != Some("none") {
                return Err(g.error(format!(
                    "llama.rope.scaling.type {v:?} is not supported (only unscaled rotary embeddings)"
                )));
            }
        }
        let vocab_size = match g.get(&k("vocab_size")) {
            Some(_) => g.get_usize(&k("vocab_size"))?,
            None => match g.tensor("token_embd.weight") {
                Some(t) if t.dims.len() == 2 => t.dims[1] as usize,
                _ => return Err(g.error("llama.vocab_size is missing and there is no 2-D `token_embd.weight` to read it from")),
            },
        };
        let rope_base = match g.get(&k("rope.freq_base")) {
            Some(_) => g.get_f64(&k("rope.freq_base"))? as f32,
            None => 10_000.0,
        };
        let cfg = LlamaConfig {
            n_layers: g.get_usize(&k("block_count"))?,
            d_model,
            n_heads,
            n_kv_heads,
            head_dim,
            ffn_dim: g.get_usize(&k("feed_forward_length"))?,
            rms_eps: g.get_f64(&k("attention.layer_norm_rms_epsilon"))? as f32,
            rope_base,
            vocab_size,
            context_len: g.get_usize(&k("context_length"))?,
            tied_embeddings: g.tensor("output.weight").is_none(),
        };
        if !(cfg.rms_eps > 0.0 && cfg.rope_base > 1.0) {
            return Err(g.error(format!(
                "llama.attention.layer_norm_rms_epsilon {} must be positive and llama.rope.freq_base {} above 1",
                cfg.rms_eps, cfg.rope_base
            )));
        }
        for (v, key) in [
            (cfg.n_layers, "block_count"),
            (cfg.d_model, "embedding_length"),
            (cfg.ffn_dim, "feed_forward_length"),
            (cfg.vocab_size, "vocab_size"),
            (cfg.context_len, "context_length"),
        ] {
            if v == 0 {
                return Err(g.error(format!("llama.{key} is 0")));
            }
        }
        Ok(cfg)
    }

    /// Width of all query heads together.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of all key (or value) heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }

    /// Parameters in the weight tensors (the head counted once when tied).
    pub fn n_params(&self) -> usize {
        let (d, q, kv, f) = (self.d_model, self.q_dim(), self.kv_dim(), self.ffn_dim);
        let layer = 2 * d + d * q + 2 * d * kv + q * d + 3 * d * f;
        let head = if self.tied_embeddings {
            0
        } else {
            self.vocab_size * d
        };
        self.vocab_size * d + self.n_layers * layer + d + head
    }
}
