//! The backward of [`GradModel::forward`]: from a gradient on the logits to the gradients of
//! every trained tensor (the base's when it trains, every LoRA adapter's), block by block in
//! reverse, each projection's `dx = dy·W` and `dW = dyᵀ·x` as GEMMs.

use super::attention::attention_backward;
use super::forward::Tape;
use super::grads::{BaseGrads, Grads, LayerGrads};
use super::linear::{add_into, matmul_nn, matmul_tn};
use super::loss::logp_backward;
use super::model::GradModel;
use super::ops::{rms_norm_backward, rope_backward, swiglu_backward};
use super::projection::{proj_backward, ProjGrads};
use crate::error::{LlmError, Result};
use crate::llama::weights::Proj;
use eggroll_core::transformer::AttentionShape;

impl GradModel {
    /// The gradients of a loss whose gradient on `tape.logits` is `dlogits` (one `vocab`-row
    /// per row with logits).
    pub fn backward(&self, tape: &Tape, dlogits: &[f32]) -> Result<Grads> {
        let cfg = &self.llama.config;
        let w = &self.llama.weights;
        let (n, d, vocab) = (tape.rows(), cfg.d_model, cfg.vocab_size);
        let m = tape.logit_count();
        if dlogits.len() != m * vocab || tape.layers.len() != cfg.n_layers {
            return Err(LlmError::config(
                "backward",
                format!(
                    "{} logit gradients for {m} rows of a {vocab}-token vocabulary (or a tape of another model)",
                    dlogits.len()
                ),
            ));
        }
        let full = self.train_base;
        let head = w.head();
        let dh_rows = matmul_nn(dlogits, m, &head.data, vocab, d);
        let (dh, dhead) = match &tape.logit_rows {
            None => {
                let dhead = full.then(|| matmul_tn(dlogits, &tape.h_final, m, vocab, d));
                (dh_rows, dhead)
            }
            Some(rows) => {
                // Rows without logits get no gradient from the head.
                let mut dh = vec![0.0; n * d];
                let mut h_rows = Vec::with_capacity(if full { m * d } else { 0 });
                for (i, &r) in rows.iter().enumerate() {
                    dh[r * d..][..d].copy_from_slice(&dh_rows[i * d..][..d]);
                    if full {
                        h_rows.extend_from_slice(&tape.h_final[r * d..][..d]);
                    }
                }
                (dh, full.then(|| matmul_tn(dlogits, &h_rows, m, vocab, d)))
            }
        };
        let (mut dx, d_out_norm) =
            rms_norm_backward(&tape.x_final, &w.out_norm, cfg.rms_eps, &dh, d);
        let shape = AttentionShape {
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head_dim: cfg.head_dim,
        };
        let n_adapters = self.lora.as_ref().map_or(0, |l| l.adapters.len());
        let mut lora_grads: Vec<Option<(Vec<f32>, Vec<f32>)>> = vec![None; n_adapters];
        let mut layer_grads = Vec::with_capacity(cfg.n_layers);
        for (l, lw) in w.layers.iter().enumerate().rev() {
            let t = &tape.layers[l];
            let mut dproj: [Vec<f32>; 7] = Default::default();
            // One projection's backward; keeps its weight and adapter gradients.
            let mut back = |p: Proj, x: &[f32], dy: &[f32]| {
                let br = self.branch(l, p, tape.step);
                let u = t.lora_u[p as usize].as_deref();
                let g: ProjGrads = proj_backward(x, n, w.proj(l, p), br.zip(u), dy, full);
                if let (Some(dw), true) = (g.dw, full) {
                    dproj[p as usize] = dw;
                }
                if let (Some(ab), Some(i)) = (g.lora, self.adapter_index(l, p)) {
                    lora_grads[i] = Some(ab);
                }
                g.dx
            };
            // x_out = x_mid + down(silu(gate)·up), gate/up of ffn_norm(x_mid).
            let dact = back(Proj::Down, &t.act, &dx);
            let (dg, du) = swiglu_backward(&t.gate, &t.up, &dact);
            let mut dh2 = back(Proj::Gate, &t.h2, &dg);
            add_into(&mut dh2, &back(Proj::Up, &t.h2, &du));
            let (dxm, d_ffn) = rms_norm_backward(&t.x_mid, &lw.ffn_norm, cfg.rms_eps, &dh2, d);
            add_into(&mut dx, &dxm);
            // x_mid = x_in + o(attention(rope(q), rope(k), v)), q/k/v of attn_norm(x_in).
            let datt = back(Proj::O, &t.att, &dx);
            let (mut dq, mut dk, dv) =
                attention_backward(&t.q, &t.k, &t.v, &datt, &tape.spans, shape);
            rope_backward(&mut dq, cfg.q_dim(), cfg.head_dim, &tape.ropes);
            rope_backward(&mut dk, cfg.kv_dim(), cfg.head_dim, &tape.ropes);
            let mut dh1 = back(Proj::Q, &t.h1, &dq);
            add_into(&mut dh1, &back(Proj::K, &t.h1, &dk));
            add_into(&mut dh1, &back(Proj::V, &t.h1, &dv));
            let (dxi, d_attn) = rms_norm_backward(&t.x_in, &lw.attn_norm, cfg.rms_eps, &dh1, d);
            add_into(&mut dx, &dxi);
            layer_grads.push(LayerGrads {
                attn_norm: d_attn,
                ffn_norm: d_ffn,
                proj: dproj,
            });
        }
        layer_grads.reverse();
        let base = full.then(|| {
            // The embedding's gradient: the rows' gradients added at their tokens, in row
            // order; plus the head's when tied.
            let (mut embed, head) = match (dhead, cfg.tied_embeddings) {
                (Some(h), true) => (h, None),
                (h, _) => (vec![0.0; vocab * d], h),
            };
            for (r, &id) in tape.tokens.iter().enumerate() {
                add_into(&mut embed[id as usize * d..][..d], &dx[r * d..][..d]);
            }
            BaseGrads {
                embed,
                head,
                out_norm: d_out_norm,
                layers: layer_grads,
            }
        });
        let lora = lora_grads
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                g.ok_or_else(|| {
                    LlmError::config("backward", format!("adapter {i} got no gradient"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Grads { base, lora })
    }

    /// The gradients of a loss given per row as `d loss / d logp_r`, where `logp_r` is the
    /// log-probability of `targets[r]` at row `r` (see [`super::loss::token_logp`]): what a
    /// policy-gradient loss (GRPO) supplies for its sampled completions.
    pub fn backward_from_logp(
        &self,
        tape: &Tape,
        targets: &[Option<u32>],
        dlogp: &[f32],
    ) -> Result<Grads> {
        let dlogits = logp_backward(&tape.logits, self.llama.config.vocab_size, targets, dlogp)?;
        self.backward(tape, &dlogits)
    }

    /// The index of the adapter on projection `p` of block `l`, if any.
    fn adapter_index(&self, l: usize, p: Proj) -> Option<usize> {
        self.lora.as_ref()?.index.get(l)?[p as usize]
    }
}
