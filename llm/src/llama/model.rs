//! A loaded Llama-family model: configuration, f32 weights, and the one function every
//! projection goes through.

use super::config::LlamaConfig;
use super::gguf::Gguf;
use super::kv_cache::SeqCache;
use super::weights::{LlamaWeights, Matrix};
use crate::error::Result;
use eggroll_core::cpu::Cpu;
use eggroll_core::{Backend, LinearLayer, RowOwners};
use std::path::Path;

/// A Llama-family model ready to run.
#[derive(Clone, Debug)]
pub struct Llama {
    /// Its shape.
    pub config: LlamaConfig,
    /// Its weights (f32).
    pub weights: LlamaWeights,
}

impl Llama {
    /// Read the GGUF at `path`, check it and dequantise its weights.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_gguf(&Gguf::open(path)?)
    }

    /// Build the model from a parsed GGUF.
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let config = LlamaConfig::from_gguf(g)?;
        let weights = LlamaWeights::from_gguf(g, &config)?;
        Ok(Llama { config, weights })
    }

    /// An empty KV cache for one sequence.
    pub fn new_cache(&self) -> SeqCache {
        SeqCache::new(self.config.n_layers)
    }
}

/// `x·Wᵀ` for `rows` rows of `x` (`rows × w.cols`), giving `rows × w.rows`.
///
/// Every projection of the forward (Q, K, V, O, gate, up, down, head) comes through here, as
/// one call to the CPU backend's batched linear layer (`Backend::linear` of `Cpu`) with
/// `RowOwners::Plain`: the population forward will pass its population and the rows' members
/// (`RowOwners::Tagged`) and get the shared GEMM plus each member's rank-r correction,
/// without copying the weights.
pub fn project(x: &[f32], rows: usize, w: &Matrix) -> Result<Vec<f32>> {
    let layer = LinearLayer {
        weight: &w.data,
        weight_id: w.id,
        out_dim: w.rows,
        in_dim: w.cols,
        bias: None,
    };
    Ok(Cpu::new().linear(&x.to_vec(), rows, &layer, RowOwners::Plain)?)
}
