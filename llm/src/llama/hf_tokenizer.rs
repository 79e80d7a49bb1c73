//! A [`LlamaTokenizer`] as Hugging Face files: `tokenizer.json` (the `tokenizers` crate's
//! own serialisation) and `tokenizer_config.json` (special tokens, BOS rule, chat template),
//! both ways.
//!
//! The tokenizer a GGUF file gives is built only from serialisable `tokenizers` parts: a BPE
//! model, the `Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=false,
//! use_regex=true)]` pre-tokenizer of `smollm` (or `ByteLevel` alone), the `ByteLevel`
//! decoder and the control tokens as special added tokens, so `tokenizer.json` is that
//! tokenizer written out and `transformers`' `PreTrainedTokenizerFast` reads it unchanged.
//! When the model puts BOS first, a `TemplateProcessing` post-processor (`<bos> $A`) is added
//! so `transformers` does too (our [`LlamaTokenizer::encode`] adds BOS itself and encodes
//! without post-processing, so it is never doubled).

use super::tokenizer::LlamaTokenizer;
use crate::error::{LlmError, Result};
use serde_json::{json, Value};
use std::path::Path;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::Tokenizer;

/// The text of `tokenizer.json` for `tok`.
pub fn tokenizer_json(tok: &LlamaTokenizer, path: &Path) -> Result<String> {
    let mut inner = tok.hf_tokenizer().clone();
    if let (true, Some(bos)) = (tok.add_bos(), tok.bos()) {
        let text = token_text(tok, bos, path)?;
        let post = TemplateProcessing::builder()
            .try_single(format!("{text} $A"))
            .and_then(|b| {
                b.special_tokens(vec![(text.clone(), bos)])
                    .build()
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| LlmError::tokenizer(path, format!("no BOS post-processor: {e}")))?;
        inner.with_post_processor(Some(post));
    }
    inner
        .to_string(true)
        .map_err(|e| LlmError::tokenizer(path, format!("cannot be serialised: {e}")))
}

fn token_text(tok: &LlamaTokenizer, id: u32, path: &Path) -> Result<String> {
    tok.hf_tokenizer()
        .id_to_token(id)
        .ok_or_else(|| LlmError::tokenizer(path, format!("token id {id} has no text")))
}

/// The text of `tokenizer_config.json` for `tok`: `tokenizer_class` `PreTrainedTokenizerFast`
/// (`transformers` 5 rebuilds a `GPT2Tokenizer`'s pre-tokenizer as plain `ByteLevel`, dropping
/// the digit split: `"\n 3"` became `\n`, ` `, `3` instead of `\n `, `3`), BOS, EOS (also the padding token), the
/// BOS rule, the chat template, `model_max_length` `context_len`, and no clean-up of spaces
/// on decoding (the text must come back as the BPE wrote it).
pub fn tokenizer_config_json(
    tok: &LlamaTokenizer,
    context_len: usize,
    path: &Path,
) -> Result<String> {
    let text = |id: Option<u32>| -> Result<Value> {
        Ok(match id {
            Some(i) => Value::String(token_text(tok, i, path)?),
            None => Value::Null,
        })
    };
    let v = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "add_bos_token": tok.add_bos(),
        "add_eos_token": false,
        "add_prefix_space": false,
        "bos_token": text(tok.bos())?,
        "eos_token": text(tok.eos())?,
        "pad_token": text(tok.eos())?,
        "unk_token": null,
        "chat_template": tok.chat_template_source(),
        "clean_up_tokenization_spaces": false,
        "model_max_length": context_len,
    });
    serde_json::to_string_pretty(&v)
        .map_err(|e| LlmError::tokenizer(path, format!("cannot be serialised: {e}")))
}

/// Read `tokenizer.json` and, when present, `tokenizer_config.json` (and `chat_template.jinja`,
/// where newer `transformers` keeps the template) from `dir`.
pub fn load_hf_tokenizer(dir: &Path) -> Result<LlamaTokenizer> {
    let path = dir.join("tokenizer.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, e))?;
    let inner: Tokenizer = text
        .parse()
        .map_err(|e| LlmError::tokenizer(&path, format!("is not a tokenizers JSON file: {e}")))?;
    let cfg_path = dir.join("tokenizer_config.json");
    let cfg: Value = match std::fs::read_to_string(&cfg_path) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| LlmError::tokenizer(&cfg_path, format!("is not valid JSON ({e})")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(LlmError::io(&cfg_path, e)),
    };
    let err = |why: String| LlmError::tokenizer(&cfg_path, why);
    let special = |key: &str| -> Result<Option<u32>> {
        let text = match cfg.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.as_str(),
            Some(v) => match v.get("content").and_then(Value::as_str) {
                Some(s) => s,
                None => return Err(err(format!("key `{key}` is {v}, not a token"))),
            },
        };
        inner
            .token_to_id(text)
            .map(Some)
            .ok_or_else(|| err(format!("key `{key}` is {text:?}, not in the vocabulary")))
    };
    let add_bos = match cfg.get("add_bos_token") {
        None | Some(Value::Null) => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| err(format!("key `add_bos_token` is {v}, not true or false")))?,
    };
    let chat = match cfg.get("chat_template") {
        None | Some(Value::Null) => {
            let jinja = dir.join("chat_template.jinja");
            match std::fs::read_to_string(&jinja) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(LlmError::io(&jinja, e)),
            }
        }
        Some(Value::String(s)) => Some(s.clone()),
        // The list form: [{"name": "default", "template": "…"}, …].
        Some(Value::Array(list)) => list
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Value::as_str)
            .map(str::to_string),
        Some(v) => {
            return Err(err(format!(
                "key `chat_template` is {v}, not a string or a list of named templates"
            )))
        }
    };
    let (bos, eos) = (special("bos_token")?, special("eos_token")?);
    Ok(LlamaTokenizer::from_hf_parts(
        inner, &path, bos, eos, add_bos, chat,
    ))
}
