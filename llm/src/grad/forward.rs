//! The training forward of [`GradModel`]: whole sequences at once (no KV cache), causal
//! attention within each sequence, every activation the backward needs saved on a [`Tape`].
//!
//! It runs the inference forward's own operations in the same order (the CPU backend's
//! batched linear for every base projection, its RMSNorm, rope, SwiGLU and residual add, and
//! the one-row attention reference), so with no adapters (or adapters whose `B` is zero) its
//! logits equal `Llama::forward`'s on the same tokens bit for bit.

use super::attention::{attention_forward, Span};
use super::model::GradModel;
use super::projection::{proj_forward, Branch};
use crate::error::{LlmError, Result};
use crate::llama::weights::Proj;
use eggroll_core::cpu::Cpu;
use eggroll_core::transformer::{AttentionShape, TransformerOps};

/// The saved activations of one block.
#[derive(Clone, Debug, Default)]
pub struct LayerTape {
    /// Residual stream entering the block.
    pub x_in: Vec<f32>,
    /// Its attention norm (input of Q, K, V).
    pub h1: Vec<f32>,
    /// Rotated queries.
    pub q: Vec<f32>,
    /// Rotated keys.
    pub k: Vec<f32>,
    /// Values.
    pub v: Vec<f32>,
    /// Attention output (input of O).
    pub att: Vec<f32>,
    /// Residual stream after attention.
    pub x_mid: Vec<f32>,
    /// Its feed-forward norm (input of gate and up).
    pub h2: Vec<f32>,
    /// Gate pre-activation.
    pub gate: Vec<f32>,
    /// Up projection.
    pub up: Vec<f32>,
    /// `silu(gate)·up` (input of down).
    pub act: Vec<f32>,
    /// Per projection (in [`Proj`] order), `drop(x)·Aᵀ` of its LoRA branch.
    pub lora_u: [Option<Vec<f32>>; 7],
}

/// What a training forward saved for its backward, and its logits.
#[derive(Clone, Debug)]
pub struct Tape {
    /// The sequences' rows in the stacked batch.
    pub spans: Vec<Span>,
    /// Input tokens, stacked.
    pub tokens: Vec<u32>,
    /// Rotary table of every row.
    pub ropes: Vec<f32>,
    /// The blocks' activations.
    pub layers: Vec<LayerTape>,
    /// Residual stream after the last block.
    pub x_final: Vec<f32>,
    /// Its final norm (input of the head).
    pub h_final: Vec<f32>,
    /// Logits, `rows × vocab`.
    pub logits: Vec<f32>,
    /// The training step keying the dropout masks (`None`: no dropout).
    pub step: Option<u64>,
}

impl Tape {
    /// Rows (tokens) in the batch.
    pub fn rows(&self) -> usize {
        self.tokens.len()
    }
}

impl GradModel {
    /// The LoRA branch of projection `p` of block `l` at training step `step`.
    pub(crate) fn branch(&self, l: usize, p: Proj, step: Option<u64>) -> Option<Branch<'_>> {
        let lora = self.lora.as_ref()?;
        let i = lora.index.get(l)?[p as usize]?;
        Some(Branch {
            adapter: &lora.adapters[i],
            rank: lora.config.rank,
            scale: lora.config.scale(),
            dropout: if step.is_some() {
                lora.config.dropout
            } else {
                0.0
            },
            seed: lora.config.seed,
            stream: Branch::stream_of(step.unwrap_or(0), i),
        })
    }

    /// Run every sequence of `tokens` from position 0, saving the activations. `step` is the
    /// training step (dropout on, keyed by it) or `None` (evaluation: no dropout).
    pub fn forward(&self, cpu: &Cpu, tokens: &[&[u32]], step: Option<u64>) -> Result<Tape> {
        let cfg = &self.llama.config;
        let w = &self.llama.weights;
        let mut spans = Vec::with_capacity(tokens.len());
        let mut positions = Vec::new();
        for (s, t) in tokens.iter().enumerate() {
            if t.is_empty() || t.len() > cfg.context_len {
                return Err(LlmError::config(
                    "batch",
                    format!(
                        "sequence {s} has {} tokens; it needs 1 to the context of {}",
                        t.len(),
                        cfg.context_len
                    ),
                ));
            }
            if let Some(&bad) = t.iter().find(|&&id| id as usize >= cfg.vocab_size) {
                return Err(LlmError::config(
                    "batch",
                    format!(
                        "token id {bad} of sequence {s} is outside the vocabulary of {}",
                        cfg.vocab_size
                    ),
                ));
            }
            spans.push(Span {
                start: positions.len(),
                len: t.len(),
            });
            positions.extend(0..t.len());
        }
        let n = positions.len();
        let (d, hd) = (cfg.d_model, cfg.head_dim);
        let shape = AttentionShape {
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head_dim: hd,
        };
        let flat: Vec<u32> = tokens.iter().flat_map(|t| t.iter().copied()).collect();
        let mut x = Vec::with_capacity(n * d);
        for &id in &flat {
            x.extend_from_slice(&w.embed.data[id as usize * d..][..d]);
        }
        let ropes = cpu.rope_table(&positions, hd, cfg.rope_base)?;
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for (l, lw) in w.layers.iter().enumerate() {
            let mut t = LayerTape {
                x_in: x.clone(),
                ..LayerTape::default()
            };
            let proj = |p: Proj, input: &Vec<f32>, t: &mut LayerTape| {
                let (y, u) = proj_forward(cpu, input, n, w.proj(l, p), self.branch(l, p, step))?;
                t.lora_u[p as usize] = u;
                Ok::<_, LlmError>(y)
            };
            t.h1 = cpu.rms_norm_rows(&x, &lw.attn_norm, d, cfg.rms_eps)?;
            let h1 = std::mem::take(&mut t.h1);
            let mut q = proj(Proj::Q, &h1, &mut t)?;
            let mut k = proj(Proj::K, &h1, &mut t)?;
            t.v = proj(Proj::V, &h1, &mut t)?;
            t.h1 = h1;
            cpu.rope_rows(&mut q, cfg.q_dim(), hd, &ropes)?;
            cpu.rope_rows(&mut k, cfg.kv_dim(), hd, &ropes)?;
            t.att = attention_forward(&q, &k, &t.v, &spans, shape);
            (t.q, t.k) = (q, k);
            let att = std::mem::take(&mut t.att);
            cpu.add_assign(&mut x, &proj(Proj::O, &att, &mut t)?)?;
            t.att = att;
            t.x_mid = x.clone();
            let h2 = cpu.rms_norm_rows(&x, &lw.ffn_norm, d, cfg.rms_eps)?;
            t.gate = proj(Proj::Gate, &h2, &mut t)?;
            t.up = proj(Proj::Up, &h2, &mut t)?;
            t.h2 = h2;
            let mut act = t.gate.clone();
            cpu.swiglu(&mut act, &t.up)?;
            cpu.add_assign(&mut x, &proj(Proj::Down, &act, &mut t)?)?;
            t.act = act;
            layers.push(t);
        }
        let h_final = cpu.rms_norm_rows(&x, &w.out_norm, d, cfg.rms_eps)?;
        let logits = crate::llama::project(
            cpu,
            &h_final,
            n,
            w.head().view(),
            eggroll_core::RowOwners::Plain,
        )?;
        Ok(Tape {
            spans,
            tokens: flat,
            ropes,
            layers,
            x_final: x,
            h_final,
            logits,
            step,
        })
    }
}
