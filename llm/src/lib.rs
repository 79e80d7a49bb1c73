//! eggroll-llm: language models trained by EGGROLL, one folder per model family.
//!
//! [`egg`]: EGG, a byte-level GRU language model whose weights are int8 and whose arithmetic is
//! integer only (int32 accumulation, saturating clips, small lookup tables), trained with int8
//! low-rank perturbations and a thresholded ±1 update: no floating point anywhere in the
//! forward pass, the fitness or the update. Its hot integer operation (the perturbed matmul
//! `x·Wᵀ` plus each member's rank-r correction) is the [`IntKernels`] trait of `eggroll-core`
//! ([`eggroll_core::int`], re-exported here); the int8 rescale after it and the update sum of
//! [`egg::update::es_update`] run on the host. [`CpuInt`] is the reference; the WGSL
//! (`eggroll-shaders`) and cubecl (`eggroll-cubecl`) backends regenerate the noise on the device
//! and are bit-identical to it, as core's `int_conformance_suite!` (feature `testing`) checks.
//!
//! [`llama`]: pretrained transformers: GGUF model files, the byte-level BPE tokenizer they
//! carry, and the batched Llama-family forward with per-sequence KV caches and greedy decoding
//! (SmolLM2-135M from `scripts/fetch_smollm2.sh` is the reference model).
//!
//! [`reasoning`]: reasoning tasks with verifiable rewards for finetuning a pretrained LM by ES
//! (TinyZero's Countdown with its and reasoning-gym's rewards, templated arithmetic word
//! problems): pure functions from `(kind, seed, index)` to a prompt, and from a completion to a
//! reward.
//!
//! [`bytelm`]: a small float byte-level transformer (the Llama forward with random seeded
//! weights and the byte vocabulary) trained from scratch on next-byte prediction, by ES or by
//! the gradient baselines.
//!
//! Entry points: [`EggLearner`] (the model as the root package's one training loop drives it,
//! configured by `[model] kind = "egg_gru"` and `[task] name = "text"`, assembled into
//! [`EggConfig`]), [`egg::generate::generate`] and [`egg::bench::bench_egg`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod baselines;
pub mod bytelm;
pub mod egg;
pub mod error;
pub mod finetune;
pub mod grad;
pub mod grpo;
pub mod llama;
pub mod reasoning;

pub use egg::config::{EggConfig, EggModelConfig, TextTaskConfig};
pub use egg::learner::EggLearner;
pub use eggroll_core::int::{CpuInt, DynIntKernels, IntKernels, IntMatmul, NoiseSpec};
pub use error::{LlmError, Result};
