//! Integer-only recurrent language models trained by EGGROLL ("EGG").
//!
//! A byte-level GRU language model whose weights are int8 and whose arithmetic is integer only
//! (int32 accumulation, saturating clips, small lookup tables), trained by evolution strategies
//! with int8 low-rank perturbations and a thresholded ±1 update: no floating point anywhere in
//! the forward pass, the fitness or the update.
//!
//! Device kernels: the two hot integer operations (the perturbed matmul `x·Wᵀ` plus each
//! member's rank-r correction, optionally rescaled to int8, and the update sum
//! `Σ_k f_k·A_k·B_kᵀ`) form the [`IntKernels`] trait of `eggroll-core` ([`eggroll_core::int`],
//! re-exported here). [`CpuInt`] is the reference (the same code the forward pass and
//! [`update::es_update`] run); the WGSL (`eggroll-shaders`) and cubecl (`eggroll-cubecl`)
//! backends regenerate the noise on the device and are bit-identical to it, as core's
//! `int_conformance_suite!` (feature `testing`) checks on every backend.
//!
//! Pretrained transformers live in [`llama`]: GGUF model files, the byte-level BPE tokenizer
//! they carry, and the batched Llama-family forward with per-sequence KV caches and greedy
//! decoding (SmolLM2-135M from `scripts/fetch_smollm2.sh` is the reference model).
//!
//! Entry points: [`learner::EggLearner`] (the model as the root package's one training loop
//! drives it, configured by `[model] kind = "egg_gru"` and `[task] name = "text"`, assembled
//! into [`config::EggConfig`]), [`generate::generate`] and [`bench::bench_egg`].
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod forward;
pub mod generate;
pub mod learner;
pub mod llama;
pub mod noise;
pub mod params;
pub mod tables;
pub mod update;

pub use config::{EggConfig, EggModelConfig, TextTaskConfig};
pub use eggroll_core::int::{
    CpuInt, DynIntKernels, IntKernels, IntMatmul, NoiseSpec, UpdateShape, UpdateSpec,
};
pub use error::{LlmError, Result};
pub use learner::EggLearner;
