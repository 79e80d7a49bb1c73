//! A loaded Llama-family model: configuration, f32 weights, and the one function every
//! projection goes through.

use super::compact::CompactWeights;
use super::config::LlamaConfig;
use super::gguf::Gguf;
use super::weights::{LlamaWeights, MatrixRef, Proj};
use crate::error::Result;
use eggroll_core::cpu::Cpu;
use eggroll_core::params::{ParamShape, ParamSpec};
use eggroll_core::transformer::SeqCache;
use eggroll_core::{Backend, LinearLayer, RowOwners, WeightRows};
use std::path::Path;

/// A Llama-family model ready to run.
///
/// As an `eggroll_core::Model` on the CPU, its parameters are the projections chosen by
/// [`Llama::set_trained`] (none until then): the ES update and the optimiser see only them;
/// the embedding, head and norms stay as loaded.
#[derive(Clone, Debug)]
pub struct Llama {
    /// Its shape.
    pub config: LlamaConfig,
    /// Its weights (f32).
    pub weights: LlamaWeights,
    /// Specs of the trained projections (`weights.proj_data[..specs.len()]`).
    trained: Vec<ParamSpec>,
}

impl Llama {
    /// Read the GGUF at `path`, check it and dequantise its weights.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_gguf(&Gguf::open(path)?)
    }

    /// Build the model from a parsed GGUF.
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let config = LlamaConfig::from_gguf(g)?;
        let mut weights = LlamaWeights::from_gguf(g, &config)?;
        weights.compact = CompactWeights::from_gguf(g, &weights);
        Ok(Self::new(config, weights))
    }

    /// A model of `weights` (checked against `config` by whoever built them), training nothing.
    pub fn new(config: LlamaConfig, weights: LlamaWeights) -> Self {
        Llama {
            config,
            weights,
            trained: Vec::new(),
        }
    }

    /// Train the projections `select(layer, proj)` picks (and no others): they become the
    /// model's ES parameters, named by their GGUF tensor names.
    pub fn set_trained(&mut self, select: impl Fn(usize, Proj) -> bool) {
        let n = self.weights.train_first(select);
        self.trained = self.weights.proj_info[..n]
            .iter()
            .map(|m| ParamSpec {
                name: m.name.clone(),
                id: m.id,
                shape: ParamShape::Matrix {
                    rows: m.rows,
                    cols: m.cols,
                },
            })
            .collect();
    }

    /// Number of scalars in the trained projections.
    pub fn trained_params(&self) -> usize {
        self.trained.iter().map(|s| s.shape.numel()).sum()
    }

    /// An empty KV cache for one sequence.
    pub fn new_cache(&self) -> SeqCache {
        SeqCache::new(self.config.n_layers)
    }
}

impl eggroll_core::Model<Cpu> for Llama {
    fn specs(&self) -> &[ParamSpec] {
        &self.trained
    }

    fn params(&self) -> &[Vec<f32>] {
        &self.weights.proj_data[..self.trained.len()]
    }

    fn params_mut(&mut self) -> &mut [Vec<f32>] {
        &mut self.weights.proj_data[..self.trained.len()]
    }

    /// Not a row-wise model: a language model's forward needs its sequences' caches, so it
    /// is [`Llama::forward`]; this refuses.
    fn forward(
        &self,
        _backend: &Cpu,
        _x: &Vec<f32>,
        _rows: usize,
        _owners: RowOwners<'_>,
    ) -> eggroll_core::Result<Vec<f32>> {
        Err(eggroll_core::CoreError::invalid(
            "Llama forward",
            "a language model runs through Llama::forward with its sequences' KV caches",
        ))
    }
}

/// `x·Wᵀ` for `rows` rows of `x` (`rows × w.cols`), giving `rows × w.rows`, each row perturbed
/// by the member `owners` names for it; `compact`, if given, holds exactly W's values in fewer
/// bytes, and the backend may read it instead ([`super::compact`]).
///
/// Every projection of the forward (Q, K, V, O, gate, up, down, head) comes through here, as
/// one call to the CPU backend's batched linear layer (`Backend::linear` of `Cpu`): with
/// `RowOwners::Tagged` (one member per row) it is the shared GEMM plus each member's rank-r
/// correction, regenerated from the member's key, without copying the weights.
#[allow(clippy::ptr_arg)] // the backend's linear takes its buffers as `Vec`s
pub fn project(
    cpu: &Cpu,
    x: &Vec<f32>,
    rows: usize,
    w: MatrixRef<'_>,
    owners: RowOwners<'_>,
    compact: Option<&dyn WeightRows>,
) -> Result<Vec<f32>> {
    let layer = LinearLayer {
        weight: w.data,
        rows: compact,
        weight_id: w.id,
        out_dim: w.rows,
        in_dim: w.cols,
        bias: None,
    };
    Ok(cpu.linear(x, rows, &layer, owners)?)
}
