//! Hugging Face model directories: [`export_hf`] writes a [`Llama`] and its
//! [`LlamaTokenizer`] as `transformers` reads them (`AutoModelForCausalLM.from_pretrained`,
//! `AutoTokenizer.from_pretrained`), and [`load_hf`] reads such a directory back.
//!
//! The directory holds `config.json` ([`super::hf_config`]), `model.safetensors` (f32 under
//! Hugging Face names, Q and K rows in Hugging Face order: [`super::safetensors_io`],
//! [`super::hf_layout`]), `tokenizer.json` and `tokenizer_config.json`
//! ([`super::hf_tokenizer`]), and `generation_config.json` (BOS/EOS ids). Exporting and
//! importing again gives the same weights bit for bit, so the same logits.
//!
//! Reading accepts F32, F16 and BF16 checkpoints with a single `model.safetensors`; sharded
//! checkpoints (`model.safetensors.index.json`) are refused with that reason.

use super::config::LlamaConfig;
use super::hf_config::{from_hf_config, to_hf_config};
use super::hf_layout::hf_name;
use super::hf_tokenizer::{load_hf_tokenizer, tokenizer_config_json, tokenizer_json};
use super::model::Llama;
use super::safetensors_io::{write_safetensors, HfSafetensors};
use super::tokenizer::LlamaTokenizer;
use super::weights::{LlamaWeights, TensorSource};
use crate::error::{LlmError, Result};
use eggroll_core::checkpoint::write_atomic;
use serde_json::json;
use std::path::Path;

/// Write `model` and `tok` to `dir` (created if needed) as a Hugging Face `LlamaForCausalLM`
/// directory in f32. Files already there with the same names are replaced.
pub fn export_hf(model: &Llama, tok: &LlamaTokenizer, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| LlmError::io(dir, e))?;
    let cfg = &model.config;
    let write_json = |name: &str, text: String| -> Result<()> {
        let p = dir.join(name);
        write_atomic(&p, text.as_bytes()).map_err(LlmError::from)
    };
    let pretty = |v: serde_json::Value, name: &str| {
        serde_json::to_string_pretty(&v)
            .map_err(|e| LlmError::model_file(&dir.join(name), format!("cannot be written ({e})")))
    };
    write_safetensors(&model.weights, cfg.head_dim, &dir.join("model.safetensors"))?;
    let config = to_hf_config(cfg, tok.bos(), tok.eos());
    write_json("config.json", pretty(config, "config.json")?)?;
    let generation = json!({ "bos_token_id": tok.bos(), "eos_token_id": tok.eos() });
    write_json(
        "generation_config.json",
        pretty(generation, "generation_config.json")?,
    )?;
    let tj = dir.join("tokenizer.json");
    write_json("tokenizer.json", tokenizer_json(tok, &tj)?)?;
    let tc = dir.join("tokenizer_config.json");
    write_json(
        "tokenizer_config.json",
        tokenizer_config_json(tok, cfg.context_len, &tc)?,
    )?;
    Ok(())
}

/// Read the model and its tokenizer from the Hugging Face directory `dir`.
pub fn load_hf(dir: &Path) -> Result<(Llama, LlamaTokenizer)> {
    Ok((Llama::load_hf(dir)?, load_hf_tokenizer(dir)?))
}

/// Every tensor (GGUF name) a model of shape `cfg` reads, with its row-major shape and the
/// config keys that shape comes from.
fn expected_tensors(cfg: &LlamaConfig) -> Vec<(String, Vec<usize>, &'static str)> {
    let (d, q, kv, f) = (cfg.d_model, cfg.q_dim(), cfg.kv_dim(), cfg.ffn_dim);
    const D: &str = "hidden_size";
    const Q: &str = "num_attention_heads × head_dim, hidden_size";
    const KV: &str = "num_key_value_heads × head_dim, hidden_size";
    const O: &str = "hidden_size, num_attention_heads × head_dim";
    const F: &str = "intermediate_size, hidden_size";
    const DOWN: &str = "hidden_size, intermediate_size";
    const V: &str = "vocab_size, hidden_size";
    let mut out = vec![
        ("token_embd.weight".to_string(), vec![cfg.vocab_size, d], V),
        ("output_norm.weight".to_string(), vec![d], D),
    ];
    if !cfg.tied_embeddings {
        out.push(("output.weight".to_string(), vec![cfg.vocab_size, d], V));
    }
    for l in 0..cfg.n_layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        out.extend([
            (n("attn_norm"), vec![d], D),
            (n("attn_q"), vec![q, d], Q),
            (n("attn_k"), vec![kv, d], KV),
            (n("attn_v"), vec![kv, d], KV),
            (n("attn_output"), vec![d, q], O),
            (n("ffn_norm"), vec![d], D),
            (n("ffn_gate"), vec![f, d], F),
            (n("ffn_up"), vec![f, d], F),
            (n("ffn_down"), vec![d, f], DOWN),
        ]);
    }
    out
}

/// Read `dir/config.json` as a [`LlamaConfig`].
pub fn load_hf_config(dir: &Path) -> Result<LlamaConfig> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, e))?;
    from_hf_config(&path, &text)
}

impl Llama {
    /// Read the model (not the tokenizer) of the Hugging Face directory `dir`:
    /// `config.json` and `model.safetensors`, every weight checked against the config.
    pub fn load_hf(dir: &Path) -> Result<Self> {
        let config = load_hf_config(dir)?;
        let st_path = dir.join("model.safetensors");
        if !st_path.exists() && dir.join("model.safetensors.index.json").exists() {
            return Err(LlmError::model_file(
                &st_path,
                "is missing: sharded checkpoints (model.safetensors.index.json) are not supported",
            ));
        }
        let source = HfSafetensors::open(&st_path, config.head_dim)?;
        let expected = expected_tensors(&config);
        for (name, shape, why) in &expected {
            let hf = hf_name(name).unwrap_or_else(|| name.clone());
            match source.shape(name) {
                None => {
                    let tie = match name.as_str() {
                        "output.weight" => " and config.json has tie_word_embeddings false",
                        _ => "",
                    };
                    return Err(source.error(format!("tensor `{hf}` is missing{tie}")));
                }
                Some(s) if &s != shape => {
                    return Err(source.error(format!(
                        "tensor `{hf}` has shape {s:?} but config.json implies {shape:?} ({why})"
                    )));
                }
                Some(_) => {}
            }
        }
        let mut used: Vec<String> = expected.into_iter().map(|(n, _, _)| n).collect();
        // A tied model's `lm_head.weight`, if the file has one, is ignored as transformers does.
        used.push("output.weight".into());
        source.check_all_used(&used)?;
        let weights = LlamaWeights::from_source(&source, &config)?;
        Ok(Llama::new(config, weights))
    }
}

#[cfg(test)]
#[path = "hf_tests.rs"]
mod tests;
