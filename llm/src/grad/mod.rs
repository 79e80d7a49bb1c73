//! Gradient training of Llama-family models beside ES: a training forward over whole
//! sequences that saves its activations and a hand-written backward (llm.c style) on the
//! same weights, operations and GEMM as the inference forward, LoRA adapters, the token
//! losses (cross-entropy, and log-probabilities with a backward from `d loss / d logp` for
//! policy-gradient losses) and AdamW.
//!
//! [`GradModel`] holds a [`crate::llama::Llama`] and optional [`Lora`] adapters;
//! [`GradModel::forward`] gives a [`Tape`] (logits and saved activations),
//! [`GradModel::backward`] turns a logit gradient into [`Grads`], and
//! [`GradModel::loss_and_grads`] does both for the next-token cross-entropy. [`AdamW`] steps
//! the tensors [`GradModel::trainable_mut`] names. Every product is split into fixed blocks
//! (never by thread count), so results are the same for any `RAYON_NUM_THREADS`.

pub mod adamw;
pub mod attention;
pub mod backward;
pub mod batch;
pub mod dropout;
pub mod forward;
pub mod grads;
pub mod linear;
pub mod lora;
pub mod loss;
pub mod lowrank;
pub mod model;
pub mod ops;
pub mod projection;
pub mod simd;

#[cfg(test)]
mod fd_tests;
#[cfg(test)]
mod model_tests;

pub use adamw::AdamW;
pub use batch::Sequence;
pub use forward::{Segment, Tape};
pub use grads::Grads;
pub use lora::{Lora, LoraConfig, LoraTargets};
pub use loss::{cross_entropy, logp_backward, token_logp};
pub use model::{GradModel, ParamCounts};
