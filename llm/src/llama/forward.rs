//! The batched forward pass: any number of sequences, each with its own KV cache and its own
//! number of new tokens (a prompt to prefill, one token to decode, or none), in one pass.
//!
//! The new tokens of all sequences are stacked into one matrix of rows, so each projection
//! is one GEMM over the whole batch ([`super::model::project`]); the row-wise operations
//! (norms, rotary embeddings at each row's own position, SwiGLU) run per row, and attention
//! runs per row over that row's own sequence's cache up to its position. No sequence is
//! padded to another's length and no row attends outside its sequence.
//!
//! Everything but the embedding lookup goes through the backend: its batched linear
//! (`Backend::linear`) and its [`TransformerOps`] (norm, rope, SwiGLU, residual, cache writes,
//! attention). The weights are host `Vec<f32>`s, so today that backend is the CPU.

use super::compact::FreshCompact;
use super::model::{project, Llama};
use super::weights::Proj;
use crate::error::{LlmError, Result};
use eggroll_core::cpu::Cpu;
use eggroll_core::transformer::{AttentionShape, RowPlace, SeqCache, TransformerOps};
use eggroll_core::{Population, RowOwners, WeightRows};

/// Whose weights each sequence of a forward runs with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SeqOwners<'a> {
    /// Every sequence uses the model's own weights.
    Plain,
    /// Sequence `s` uses member `members[s]`'s perturbation of the trained projections.
    Members {
        /// The population.
        pop: &'a Population,
        /// The member of every sequence.
        members: &'a [u32],
    },
}

/// Which rows' logits a forward returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// The last new row of each sequence (what decoding needs).
    Last,
    /// Every new row.
    All,
}

impl Llama {
    /// Run `tokens[s]` through the model after what `caches[s]` already holds, appending their
    /// keys and values to it. Returns per sequence the logits (`vocab` floats per row) of its
    /// last new row ([`Logits::Last`]; empty for a sequence with no new tokens) or of every new
    /// row ([`Logits::All`]). With [`SeqOwners::Members`] every sequence's rows run through its
    /// member's perturbed projections (the trained ones, [`Llama::set_trained`]); the others,
    /// the embedding and the head are shared.
    pub fn forward(
        &self,
        cpu: &Cpu,
        caches: &mut [SeqCache],
        tokens: &[&[u32]],
        which: Logits,
        owners: SeqOwners<'_>,
    ) -> Result<Vec<Vec<f32>>> {
        self.forward_with(cpu, caches, tokens, which, owners, &FreshCompact::default())
    }

    /// [`Llama::forward`] reading the matrices in `compact` from the model file's blocks, which
    /// still hold their values ([`super::compact::CompactWeights::fresh`]): the same logits
    /// from fewer bytes. A decode finds them once per call.
    pub fn forward_with(
        &self,
        cpu: &Cpu,
        caches: &mut [SeqCache],
        tokens: &[&[u32]],
        which: Logits,
        owners: SeqOwners<'_>,
        compact: &FreshCompact,
    ) -> Result<Vec<Vec<f32>>> {
        let cfg = &self.config;
        if caches.len() != tokens.len() {
            return Err(LlmError::config(
                "forward",
                format!("{} caches for {} sequences", caches.len(), tokens.len()),
            ));
        }
        if let SeqOwners::Members { members, .. } = owners {
            if members.len() != tokens.len() {
                return Err(LlmError::config(
                    "forward",
                    format!("{} members for {} sequences", members.len(), tokens.len()),
                ));
            }
        }
        // (sequence, position) of every new row, sequence by sequence.
        let mut rows = Vec::new();
        for (s, (c, t)) in caches.iter().zip(tokens).enumerate() {
            if c.n_layers() != cfg.n_layers {
                return Err(LlmError::config(
                    "forward",
                    format!(
                        "the cache of sequence {s} has {} layers, the model {}",
                        c.n_layers(),
                        cfg.n_layers
                    ),
                ));
            }
            if let Some(&bad) = t.iter().find(|&&id| id as usize >= cfg.vocab_size) {
                return Err(LlmError::config(
                    "forward",
                    format!(
                        "token id {bad} of sequence {s} is outside the vocabulary of {}",
                        cfg.vocab_size
                    ),
                ));
            }
            if c.len() + t.len() > cfg.context_len {
                return Err(LlmError::config(
                    "forward",
                    format!(
                        "sequence {s} would reach {} positions, beyond the model's context of {}",
                        c.len() + t.len(),
                        cfg.context_len
                    ),
                ));
            }
            rows.extend((0..t.len()).map(|j| (s, c.len() + j)));
        }
        let n = rows.len();
        let row_members: Vec<u32> = match owners {
            SeqOwners::Plain => Vec::new(),
            SeqOwners::Members { members, .. } => rows.iter().map(|&(s, _)| members[s]).collect(),
        };
        let n_trained = eggroll_core::Model::specs(self).len();
        // The owners of projection `slot`'s rows: the members' for a trained matrix.
        let owners_of = |slot: usize| match owners {
            SeqOwners::Members { pop, .. } if slot < n_trained => RowOwners::Tagged {
                pop,
                members: &row_members,
            },
            _ => RowOwners::Plain,
        };
        let proj = |l: usize, p: Proj, x: &Vec<f32>| {
            let slot = self.weights.layers[l].slots[p as usize];
            let w = self.weights.proj(l, p);
            let rows = compact.get(w.id).map(|c| c as &dyn WeightRows);
            project(cpu, x, n, w, owners_of(slot), rows)
        };
        let (d, hd) = (cfg.d_model, cfg.head_dim);
        let (q_dim, kv_dim) = (cfg.q_dim(), cfg.kv_dim());
        let w = &self.weights;
        let shape = AttentionShape {
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head_dim: hd,
        };
        let counts: Vec<usize> = tokens.iter().map(|t| t.len()).collect();
        let places: Vec<RowPlace> = rows
            .iter()
            .map(|&(seq, pos)| RowPlace { seq, pos })
            .collect();

        let mut x = Vec::with_capacity(n * d);
        for &id in tokens.iter().flat_map(|t| t.iter()) {
            let id = id as usize;
            x.extend_from_slice(&w.embed.data[id * d..(id + 1) * d]);
        }
        let positions: Vec<usize> = rows.iter().map(|&(_, p)| p).collect();
        let ropes = cpu.rope_table(&positions, hd, cfg.rope_base)?;
        for (l, lw) in w.layers.iter().enumerate() {
            let h = cpu.rms_norm_rows(&x, &lw.attn_norm, d, cfg.rms_eps)?;
            let mut q = proj(l, Proj::Q, &h)?;
            let mut k = proj(l, Proj::K, &h)?;
            let v = proj(l, Proj::V, &h)?;
            cpu.rope_rows(&mut q, q_dim, hd, &ropes)?;
            cpu.rope_rows(&mut k, kv_dim, hd, &ropes)?;
            cpu.kv_write(caches, l, &k, &v, &counts)?;
            let att = cpu.attention(&q, caches, l, &places, shape)?;
            cpu.add_assign(&mut x, &proj(l, Proj::O, &att)?)?;
            let h = cpu.rms_norm_rows(&x, &lw.ffn_norm, d, cfg.rms_eps)?;
            let mut gate = proj(l, Proj::Gate, &h)?;
            let up = proj(l, Proj::Up, &h)?;
            cpu.swiglu(&mut gate, &up)?;
            cpu.add_assign(&mut x, &proj(l, Proj::Down, &gate)?)?;
        }
        cpu.kv_advance(caches, &counts)?;

        // Rows whose logits are wanted, and which sequence each belongs to.
        let picked: Vec<usize> = match which {
            Logits::All => (0..n).collect(),
            Logits::Last => {
                let mut v = Vec::new();
                let mut r = 0;
                for t in tokens {
                    r += t.len();
                    if !t.is_empty() {
                        v.push(r - 1);
                    }
                }
                v
            }
        };
        let mut last = Vec::with_capacity(picked.len() * d);
        for &r in &picked {
            last.extend_from_slice(&x[r * d..(r + 1) * d]);
        }
        let hp = cpu.rms_norm_rows(&last, &w.out_norm, d, cfg.rms_eps)?;
        let head = w.head();
        let rows = compact.get(head.id).map(|c| c as &dyn WeightRows);
        let logits = project(cpu, &hp, picked.len(), head.view(), RowOwners::Plain, rows)?;
        let vocab = cfg.vocab_size;
        let mut out = Vec::with_capacity(tokens.len());
        let mut next = 0;
        for t in tokens {
            let take = match which {
                Logits::All => t.len(),
                Logits::Last => usize::from(!t.is_empty()),
            };
            out.push(logits[next * vocab..(next + take) * vocab].to_vec());
            next += take;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "population_tests.rs"]
mod population_tests;
