//! The training forward of [`GradModel`]: whole sequences at once (no KV cache), causal
//! attention within each sequence (and the shared prefix it continues, if any), every activation the backward needs saved on a [`Tape`].
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
    /// Logits, `logit_rows × vocab` (every row's when `logit_rows` is `None`).
    pub logits: Vec<f32>,
    /// The rows the logits are of, ascending (`None`: every row).
    pub logit_rows: Option<Vec<usize>>,
    /// The training step keying the dropout masks (`None`: no dropout).
    pub step: Option<u64>,
}

impl Tape {
    /// Rows (tokens) in the batch.
    pub fn rows(&self) -> usize {
        self.tokens.len()
    }

    /// Rows that have logits.
    pub fn logit_count(&self) -> usize {
        self.logit_rows.as_ref().map_or(self.rows(), Vec::len)
    }
}

/// One sequence of a training batch: its tokens and, optionally, the earlier sequence of the
/// batch it continues (a shared prompt, held once however many sequences continue it).
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Its tokens (after the prefix's).
    pub tokens: &'a [u32],
    /// Index of the sequence it continues; that one must come earlier and start at 0.
    pub prefix: Option<usize>,
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

    /// Run every sequence of `tokens` from position 0, saving the activations, with the
    /// logits of every row. `step` is the training step (dropout on, keyed by it) or `None`
    /// (evaluation: no dropout).
    pub fn forward(&self, cpu: &Cpu, tokens: &[&[u32]], step: Option<u64>) -> Result<Tape> {
        let segs: Vec<Segment> = tokens
            .iter()
            .map(|t| Segment {
                tokens: t,
                prefix: None,
            })
            .collect();
        self.forward_segments(cpu, &segs, None, step)
    }

    /// [`Self::forward`] on sequences that may continue shared prefixes, with the logits of
    /// the rows `logit_rows` only (ascending; `None`: every row): the head is the largest
    /// projection, and a prompt's rows predict nothing.
    pub fn forward_segments(
        &self,
        cpu: &Cpu,
        segs: &[Segment<'_>],
        logit_rows: Option<Vec<usize>>,
        step: Option<u64>,
    ) -> Result<Tape> {
        let cfg = &self.llama.config;
        let w = &self.llama.weights;
        let mut spans: Vec<Span> = Vec::with_capacity(segs.len());
        let mut positions = Vec::new();
        for (s, seg) in segs.iter().enumerate() {
            let t = seg.tokens;
            let (prefix_start, prefix_len) = match seg.prefix {
                None => (0, 0),
                Some(p) if p < s && spans[p].prefix_len == 0 => (spans[p].start, spans[p].len),
                Some(p) => {
                    return Err(LlmError::config(
                        "batch",
                        format!(
                            "sequence {s} continues sequence {p}, which is not an earlier \
                             sequence starting at position 0"
                        ),
                    ))
                }
            };
            if t.is_empty() || prefix_len + t.len() > cfg.context_len {
                return Err(LlmError::config(
                    "batch",
                    format!(
                        "sequence {s} has {} tokens after a prefix of {prefix_len}; it needs 1 \
                         to the context of {}",
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
                prefix_start,
                prefix_len,
            });
            positions.extend(prefix_len..prefix_len + t.len());
        }
        if let Some(rows) = &logit_rows {
            if rows.windows(2).any(|w| w[0] >= w[1]) || rows.last() >= Some(&positions.len()) {
                return Err(LlmError::config(
                    "batch",
                    format!(
                        "logit rows must ascend within the {} rows of the batch",
                        positions.len()
                    ),
                ));
            }
        }
        let n = positions.len();
        let (d, hd) = (cfg.d_model, cfg.head_dim);
        let shape = AttentionShape {
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head_dim: hd,
        };
        let flat: Vec<u32> = segs.iter().flat_map(|t| t.tokens.iter().copied()).collect();
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
        let picked;
        let (head_in, m) = match &logit_rows {
            None => (&h_final, n),
            Some(rows) => {
                picked = rows
                    .iter()
                    .flat_map(|&r| h_final[r * d..][..d].iter().copied())
                    .collect::<Vec<f32>>();
                (&picked, rows.len())
            }
        };
        let logits = crate::llama::project(
            cpu,
            head_in,
            m,
            w.head().view(),
            eggroll_core::RowOwners::Plain,
            None,
        )?;
        Ok(Tape {
            spans,
            tokens: flat,
            ropes,
            layers,
            x_final: x,
            h_final,
            logits,
            logit_rows,
            step,
        })
    }
}
