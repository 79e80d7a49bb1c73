//! Pretrained Llama-family language models: GGUF model files ([`gguf`]), the byte-level BPE
//! tokenizer they carry ([`tokenizer`]), the model configuration ([`config`]) and weights
//! ([`weights`]), and the batched forward pass with a per-sequence KV cache ([`forward`],
//! the KV cache and transformer ops of `eggroll_core::transformer`) with greedy decoding ([`generate`]), seeded sampling ([`sampling`])
//! and stop strings ([`stop`]), and Hugging Face directories both ways ([`hf`]: `config.json`,
//! `model.safetensors`, `tokenizer.json`). [`tiny`] builds small random
//! models for tests and benchmarks.
//!
//! Every quantised type is dequantised to f32 when the model loads (SmolLM2-135M: 98 MB of
//! Q4_1/Q8_0 become 538 MB of f32): the ES population forward is one shared f32 GEMM per
//! projection plus low-rank corrections, and its updates change the weights, so an f32 copy
//! is needed anyway. The Q4_0/Q4_1/Q8_0 blocks are kept too ([`compact`]): a decode step
//! reads them instead of the f32 values while those still equal them (the same logits).

pub mod chat;
pub mod compact;
mod compact_rows;
mod first_max;
pub mod gguf;
pub mod tiny;
pub mod tokenizer;

#[cfg(test)]
pub(crate) mod test_model;

pub use chat::{ChatMessage, ChatTemplate};
pub use tokenizer::LlamaTokenizer;
pub mod config;
pub mod forward;
pub mod generate;
pub mod hf;
pub mod hf_config;
pub mod hf_layout;
pub mod hf_tokenizer;
pub mod model;
pub mod prefill;
pub mod safetensors_io;
pub mod sampling;
pub mod stop;
pub mod text;
pub mod weights;

pub use config::LlamaConfig;
pub use eggroll_core::transformer::SeqCache;
pub use forward::{Logits, SeqOwners};
pub use generate::{decode, generate_greedy, Finish, Generation, GreedyOptions};
pub use hf::{export_hf, load_hf, load_hf_config};
pub use hf_tokenizer::load_hf_tokenizer;
pub use model::{project, Llama};
pub use sampling::Sampling;
pub use stop::{find_stop, StopScanner};
pub use text::{generate_text, TextFinish, TextGeneration, TextOptions};
pub use weights::{LlamaWeights, Matrix, MatrixRef, Proj, PROJS};
