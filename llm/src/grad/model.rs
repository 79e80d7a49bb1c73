//! [`GradModel`]: a Llama's base weights plus optional LoRA adapters, which of them train,
//! the loss-and-gradients step over a batch of sequences, and the trainable tensors by name
//! for an optimiser.

use super::batch::Sequence;
use super::grads::Grads;
use super::lora::Lora;
use super::loss::cross_entropy;
use crate::error::Result;
use crate::llama::weights::PROJS;
use crate::llama::Llama;
use eggroll_core::cpu::Cpu;

/// A model to train by gradients: the base [`Llama`] (the same weights struct the inference
/// forward uses, so it reads and writes the same GGUF/safetensors names), its LoRA adapters
/// if any, and whether the base tensors train too (full finetuning).
#[derive(Clone, Debug)]
pub struct GradModel {
    /// The base model.
    pub llama: Llama,
    /// LoRA adapters on its projections.
    pub lora: Option<Lora>,
    /// Whether every base tensor (embedding, head, norms, projections) is trained.
    pub train_base: bool,
}

/// Trainable and frozen scalar counts, printed at the start of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamCounts {
    /// Scalars the optimiser updates.
    pub trainable: usize,
    /// Base scalars held fixed.
    pub frozen: usize,
}

impl std::fmt::Display for ParamCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = (self.trainable + self.frozen).max(1);
        write!(
            f,
            "trainable {} / frozen {} ({:.3}% trainable)",
            self.trainable,
            self.frozen,
            100.0 * self.trainable as f64 / all as f64
        )
    }
}

impl GradModel {
    /// `f` on the model as inference sees it: the adapters (if any) folded into the base
    /// weights for the call and taken out again afterwards (within rounding, see
    /// [`Lora::unmerge`]), whatever `f` returns.
    pub fn with_adapters_merged<T>(&mut self, f: impl FnOnce(&Llama) -> T) -> Result<T> {
        match self.lora.take() {
            Some(lora) => {
                lora.merge(&mut self.llama.weights)?;
                let out = f(&self.llama);
                let undone = lora.unmerge(&mut self.llama.weights);
                self.lora = Some(lora);
                undone?;
                Ok(out)
            }
            None => Ok(f(&self.llama)),
        }
    }

    /// A model training its adapters (`lora`), its base (`train_base`), or both.
    pub fn new(llama: Llama, lora: Option<Lora>, train_base: bool) -> Self {
        GradModel {
            llama,
            lora,
            train_base,
        }
    }

    /// Trainable and frozen scalars.
    pub fn counts(&self) -> ParamCounts {
        let base = self.llama.config.n_params();
        let lora = self.lora.as_ref().map_or(0, Lora::n_params);
        match self.train_base {
            true => ParamCounts {
                trainable: base + lora,
                frozen: 0,
            },
            false => ParamCounts {
                trainable: lora,
                frozen: base,
            },
        }
    }

    /// The mean next-token cross-entropy of `batch` and its gradients. `step` keys the LoRA
    /// dropout masks (so a step can be replayed exactly).
    pub fn loss_and_grads(&self, cpu: &Cpu, batch: &[Sequence], step: u64) -> Result<(f32, Grads)> {
        for (i, s) in batch.iter().enumerate() {
            s.check(i)?;
        }
        let tokens: Vec<&[u32]> = batch.iter().map(|s| s.tokens.as_slice()).collect();
        let targets: Vec<Option<u32>> = batch.iter().flat_map(|s| s.targets.clone()).collect();
        let tape = self.forward(cpu, &tokens, Some(step))?;
        let (loss, dlogits) = cross_entropy(&tape.logits, self.llama.config.vocab_size, &targets)?;
        Ok((loss, self.backward(&tape, &dlogits)?))
    }

    /// Every trainable tensor with its name, in the order of [`Grads::tensors`]: base tensors
    /// by their GGUF names when the base trains, then `blk.N.attn_q.lora_a` / `…lora_b`.
    pub fn trainable_mut(&mut self) -> Vec<(String, &mut Vec<f32>)> {
        let mut v = Vec::new();
        if self.train_base {
            let w = &mut self.llama.weights;
            v.push((w.embed.name.clone(), &mut w.embed.data));
            if let Some(h) = w.head.as_mut() {
                v.push((h.name.clone(), &mut h.data));
            }
            v.push(("output_norm.weight".to_string(), &mut w.out_norm));
            // Projections by slot, handed out in (layer, Proj) order.
            let mut slots: Vec<Option<&mut Vec<f32>>> = w.proj_data.iter_mut().map(Some).collect();
            for (l, lw) in w.layers.iter_mut().enumerate() {
                v.push((format!("blk.{l}.attn_norm.weight"), &mut lw.attn_norm));
                v.push((format!("blk.{l}.ffn_norm.weight"), &mut lw.ffn_norm));
                for p in PROJS {
                    let s = lw.slots[p as usize];
                    if let Some(t) = slots[s].take() {
                        v.push((w.proj_info[s].name.clone(), t));
                    }
                }
            }
        }
        if let Some(lora) = self.lora.as_mut() {
            for ad in &mut lora.adapters {
                let stem = ad.base_name.trim_end_matches(".weight").to_string();
                v.push((format!("{stem}.lora_a"), &mut ad.a));
                v.push((format!("{stem}.lora_b"), &mut ad.b));
            }
        }
        v
    }
}
