//! `generate` and `export` for pretrained language models: a GGUF file, a Hugging Face
//! directory, or a finetuned `llama` run (its base model with the run's trained projections).

use anyhow::{bail, Context, Result};
use clap::Args;
use eggroll::models::{load_checkpoint, load_llama};
use eggroll_llm::llama::{
    export_hf, generate_text, load_hf, Llama, LlamaTokenizer, Sampling, TextOptions,
};
use std::path::{Path, PathBuf};

/// Arguments of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A finetuned `llama` run directory or checkpoint, or a GGUF model file.
    pub source: PathBuf,
    /// The Hugging Face directory to write (`config.json`, `model.safetensors`,
    /// `tokenizer.json`, `tokenizer_config.json`).
    #[arg(long)]
    pub out: PathBuf,
}

/// Whether `path` names a pretrained model rather than a run: a `.gguf` file or a directory
/// with `config.json` but no checkpoints.
pub fn is_model_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gguf")
        || (path.is_dir()
            && path.join("config.json").is_file()
            && !path.join("checkpoints").exists())
}

/// Whether `path` is a run (directory or checkpoint) of model kind `llama`.
pub fn is_llama_run(path: &Path) -> bool {
    let ck = super::eval::checkpoint_path(path);
    load_checkpoint(&ck).is_ok_and(|(cfg, _)| cfg.model.kind() == "llama")
}

/// The model and tokenizer of a GGUF file, a Hugging Face directory or a `llama` run.
pub fn load(path: &Path) -> Result<(Llama, LlamaTokenizer)> {
    if path.is_dir() && path.join("config.json").is_file() && !path.join("checkpoints").exists() {
        return Ok(load_hf(path)?);
    }
    if path.extension().is_some_and(|e| e == "gguf") {
        let g = eggroll_llm::llama::gguf::Gguf::open(path)?;
        return Ok((Llama::from_gguf(&g)?, LlamaTokenizer::from_gguf(&g)?));
    }
    let ck = super::eval::checkpoint_path(path);
    let (cfg, c) = load_checkpoint(&ck)?;
    load_llama(&cfg, &c, &ck).with_context(|| format!("loading the model of {}", ck.display()))
}

/// Run `export`.
pub fn export(a: ExportArgs) -> Result<()> {
    let (model, tok) = load(&a.source)?;
    if a.out.exists() && std::fs::read_dir(&a.out)?.next().is_some() {
        bail!(
            "--out {}: exists and is not empty; choose a new directory",
            a.out.display()
        );
    }
    export_hf(&model, &tok, &a.out)?;
    println!(
        "exported {} ({} layers, d {}) to {} (config.json, model.safetensors, tokenizer.json)",
        a.source.display(),
        model.config.n_layers,
        model.config.d_model,
        a.out.display()
    );
    Ok(())
}

/// Options of `generate` for a language model.
pub struct GenerateLlm<'a> {
    /// The model source.
    pub source: &'a Path,
    /// Prompts.
    pub prompts: &'a [String],
    /// Most new tokens.
    pub max_tokens: usize,
    /// Softmax temperature (0: greedy).
    pub temperature: f32,
    /// Nucleus mass.
    pub top_p: f32,
    /// Sampling seed.
    pub seed: u64,
    /// Stop strings.
    pub stop: &'a [String],
    /// Wrap prompts in the chat template.
    pub chat: bool,
    /// Print JSON.
    pub json: bool,
}

/// Run `generate` on a language model.
pub fn generate(g: &GenerateLlm<'_>) -> Result<()> {
    let (model, tok) = load(g.source)?;
    let sampling = if g.temperature == 0.0 {
        Sampling::Greedy
    } else {
        Sampling::top_p(g.temperature, g.top_p)
    };
    let opts = TextOptions {
        max_new_tokens: g.max_tokens,
        sampling,
        seed: g.seed,
        stop_strings: g.stop.to_vec(),
        chat: g.chat,
    };
    let prompts: Vec<&str> = g.prompts.iter().map(String::as_str).collect();
    let out = generate_text(&model, &tok, &prompts, &opts)?;
    if g.json {
        let items: Vec<_> = g
            .prompts
            .iter()
            .zip(&out)
            .map(|(p, o)| {
                serde_json::json!({
                    "prompt": p, "prompt_ids": o.prompt_ids, "ids": o.ids,
                    "text": o.text, "finish": o.finish,
                })
            })
            .collect();
        let v = if items.len() == 1 {
            items[0].clone()
        } else {
            serde_json::Value::Array(items)
        };
        println!("{v}");
    } else {
        for (p, o) in g.prompts.iter().zip(&out) {
            if g.chat {
                println!("{}", o.text);
            } else {
                println!("{p}{}", o.text);
            }
        }
    }
    Ok(())
}
