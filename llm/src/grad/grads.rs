//! The gradients of a training step, shaped like the tensors they belong to.

use crate::llama::weights::PROJS;

/// Gradients of one block's base tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerGrads {
    /// Of the attention norm's weight.
    pub attn_norm: Vec<f32>,
    /// Of the feed-forward norm's weight.
    pub ffn_norm: Vec<f32>,
    /// Of the projections, in [`crate::llama::Proj`] order.
    pub proj: [Vec<f32>; 7],
}

/// Gradients of every base tensor (full finetuning).
#[derive(Clone, Debug, PartialEq)]
pub struct BaseGrads {
    /// Of the token embedding (with the head's when the head is tied).
    pub embed: Vec<f32>,
    /// Of an untied head.
    pub head: Option<Vec<f32>>,
    /// Of the final norm's weight.
    pub out_norm: Vec<f32>,
    /// Of each block.
    pub layers: Vec<LayerGrads>,
}

/// Every gradient of a step: the base tensors' when they are trained, and `(d A, d B)` of
/// every LoRA adapter in the adapters' order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grads {
    /// Base tensors (full finetuning), or `None`.
    pub base: Option<BaseGrads>,
    /// `(d A, d B)` per adapter.
    pub lora: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Grads {
    /// Every gradient tensor in the order of `GradModel::trainable_mut`: the embedding, the
    /// untied head, the final norm, per block the two norms then the seven projections, then
    /// `A` and `B` of every adapter.
    pub fn tensors(&self) -> Vec<&[f32]> {
        let mut v: Vec<&[f32]> = Vec::new();
        if let Some(b) = &self.base {
            v.push(&b.embed);
            if let Some(h) = &b.head {
                v.push(h);
            }
            v.push(&b.out_norm);
            for l in &b.layers {
                v.push(&l.attn_norm);
                v.push(&l.ffn_norm);
                for p in PROJS {
                    v.push(&l.proj[p as usize]);
                }
            }
        }
        for (a, b) in &self.lora {
            v.push(a);
            v.push(b);
        }
        v
    }

    /// The global L2 norm of every gradient (in f64), for clipping and logging.
    pub fn norm(&self) -> f64 {
        self.tensors()
            .iter()
            .flat_map(|t| t.iter())
            .map(|&g| f64::from(g) * f64::from(g))
            .sum::<f64>()
            .sqrt()
    }
}
