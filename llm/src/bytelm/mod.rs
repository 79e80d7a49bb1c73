//! A small float byte-level language model trained from scratch: a Llama-family transformer
//! built from its config with random (seeded) weights, predicting the next byte of a text
//! (`[model] kind = "byte_llama"` on `[task] name = "text"`).
//!
//! It is the [`Llama`] the pretrained models use, made by [`crate::llama::tiny`]'s writer (the
//! same GGUF names, rotary layout and byte vocabulary: byte `b` is token [`TOKEN_OFFSET`]` + b`),
//! so every path written for `Llama` serves it unchanged: the population forward (one shared
//! GEMM per projection, each member's rank-r correction), the ES update through
//! `eggroll_core::Model`, and the gradient model of [`crate::grad`] (Adam, LoRA, ReLoRA,
//! PeriodicLoRA) for the baselines. What is trained is the seven projections of every block;
//! the embedding (tied to the head) and the norms keep their random initial values, for ES and
//! the gradient methods alike (a fixed random code of the bytes, as for EGG's embedding-free
//! GRU). [`task::ByteLmTask`] scores members by bits/byte on windows of the text.

pub mod task;

pub use task::ByteLmTask;

use crate::error::{LlmError, Result};
use crate::llama::gguf::Gguf;
use crate::llama::tiny::{tiny_gguf, TinySpec, TINY_SPECIALS};
use crate::llama::Llama;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Token id of byte 0 (the byte vocabulary follows the three special tokens).
pub const TOKEN_OFFSET: u32 = TINY_SPECIALS.len() as u32;

/// The longest window (tokens per sequence) the model's rotary context holds.
pub const MAX_CONTEXT: usize = 512;

/// `[model] kind = "byte_llama"`: the shape of the transformer (weights from the run seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByteLlamaConfig {
    /// Transformer blocks.
    #[serde(default = "d_layers")]
    pub n_layers: usize,
    /// Width of the residual stream.
    #[serde(default = "d_model")]
    pub d_model: usize,
    /// Attention heads.
    #[serde(default = "d_heads")]
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`; default: `n_heads`).
    #[serde(default)]
    pub n_kv_heads: Option<usize>,
    /// Hidden width of the SwiGLU feed-forward.
    #[serde(default = "d_ffn")]
    pub ffn_dim: usize,
    /// Half-width of the uniform embedding (tied to the head, never trained): it sets how
    /// confident the head can be (logits are at most ‖embedding row‖·√d_model) and how far
    /// from uniform the random model starts (±1: about 48 bits/byte at d_model 64).
    #[serde(default = "d_embed_scale")]
    pub embed_scale: f32,
}

fn d_layers() -> usize {
    2
}
fn d_model() -> usize {
    64
}
fn d_heads() -> usize {
    4
}
fn d_ffn() -> usize {
    176
}
fn d_embed_scale() -> f32 {
    0.5
}

impl Default for ByteLlamaConfig {
    fn default() -> Self {
        ByteLlamaConfig {
            n_layers: d_layers(),
            d_model: d_model(),
            n_heads: d_heads(),
            n_kv_heads: None,
            ffn_dim: d_ffn(),
            embed_scale: d_embed_scale(),
        }
    }
}

impl ByteLlamaConfig {
    /// Check the shape, naming the key at fault.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("model.n_layers", self.n_layers),
            ("model.d_model", self.d_model),
            ("model.n_heads", self.n_heads),
            ("model.ffn_dim", self.ffn_dim),
        ] {
            if v == 0 {
                return Err(LlmError::config(key, "must be at least 1"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads)
            || !(self.d_model / self.n_heads).is_multiple_of(2)
        {
            return Err(LlmError::config(
                "model.n_heads",
                format!(
                    "{} heads do not split d_model = {} into heads of an even width (rotary pairs)",
                    self.n_heads, self.d_model
                ),
            ));
        }
        if !(self.embed_scale.is_finite() && self.embed_scale > 0.0) {
            return Err(LlmError::config(
                "model.embed_scale",
                format!("{} is not a positive number", self.embed_scale),
            ));
        }
        let kv = self.kv_heads();
        if kv == 0 || !self.n_heads.is_multiple_of(kv) {
            return Err(LlmError::config(
                "model.n_kv_heads",
                format!("{kv} does not divide n_heads = {}", self.n_heads),
            ));
        }
        Ok(())
    }

    /// Key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.n_kv_heads.unwrap_or(self.n_heads)
    }

    /// The model with random weights drawn from `seed`, all projections trained.
    pub fn build(&self, seed: u64) -> Result<Llama> {
        self.validate()?;
        let spec = TinySpec {
            n_layers: self.n_layers,
            d_model: self.d_model,
            n_heads: self.n_heads,
            n_kv_heads: self.kv_heads(),
            ffn_dim: self.ffn_dim,
            rope_base: 10_000.0,
            tied: true,
            seed,
        };
        let bytes = tiny_gguf(&spec).to_bytes()?;
        let g = Gguf::from_bytes(Path::new("<byte_llama>"), bytes)?;
        let mut model = Llama::from_gguf(&g)?;
        // The writer draws the embedding uniform in ±1.
        model
            .weights
            .embed
            .data
            .iter_mut()
            .for_each(|v| *v *= self.embed_scale);
        model.set_trained(|_, _| true);
        Ok(model)
    }
}

/// The tokens of `bytes`.
pub fn tokens(bytes: &[u8]) -> Vec<u32> {
    bytes.iter().map(|&b| TOKEN_OFFSET + u32::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_seeded_model_that_trains_its_projections() {
        let c = ByteLlamaConfig::default();
        let (a, b) = (c.build(1).unwrap(), c.build(1).unwrap());
        assert_eq!(a.weights.proj_data, b.weights.proj_data);
        assert_ne!(a.weights.proj_data, c.build(2).unwrap().weights.proj_data);
        // 2 blocks × (4·64·64 attention + 3·64·176 feed-forward).
        assert_eq!(a.trained_params(), 2 * (4 * 64 * 64 + 3 * 64 * 176));
        assert_eq!(tokens(b"\0a"), vec![3, 3 + 97]);
        let bad = ByteLlamaConfig {
            n_heads: 3,
            ..c.clone()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("model.n_heads"));
    }
}
