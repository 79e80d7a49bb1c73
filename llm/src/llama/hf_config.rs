//! [`LlamaConfig`] as a Hugging Face `config.json` (`LlamaForCausalLM`), both ways.
//!
//! Reading follows `transformers`' `LlamaConfig` defaults for keys a file leaves out
//! (`num_key_value_heads` = `num_attention_heads`, `head_dim` = `hidden_size /
//! num_attention_heads`, `rms_norm_eps` 1e-6, `rope_theta` 10000, `vocab_size` 32000,
//! `max_position_embeddings` 2048, `tie_word_embeddings` false, `hidden_act` silu), and refuses
//! what this forward does not implement (rope scaling, attention or MLP biases, another
//! activation) with the key at fault.

use super::config::LlamaConfig;
use crate::error::{LlmError, Result};
use serde_json::{json, Map, Value};
use std::path::Path;

/// The `config.json` of a model of shape `cfg`, with the tokenizer's BOS and EOS ids.
pub fn to_hf_config(cfg: &LlamaConfig, bos: Option<u32>, eos: Option<u32>) -> Value {
    json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn_dim,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "num_hidden_layers": cfg.n_layers,
        "rms_norm_eps": shortest(cfg.rms_eps),
        "rope_theta": shortest(cfg.rope_base),
        "rope_scaling": null,
        "vocab_size": cfg.vocab_size,
        "max_position_embeddings": cfg.context_len,
        "tie_word_embeddings": cfg.tied_embeddings,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "hidden_act": "silu",
        "attention_bias": false,
        "attention_dropout": 0.0,
        "mlp_bias": false,
        "pretraining_tp": 1,
        "use_cache": true,
        "torch_dtype": "float32",
    })
}

/// The f64 whose shortest decimal is that of `x` (1e-5f32 → 1e-5, not 9.99999974e-6), so
/// the JSON reads as the value the model was given and parses back to the same f32.
fn shortest(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// Reads keys of one `config.json`, naming the file and key in errors.
struct Keys<'a> {
    path: &'a Path,
    map: &'a Map<String, Value>,
}

impl Keys<'_> {
    fn err(&self, why: String) -> LlmError {
        LlmError::model_file(self.path, why)
    }

    /// The value of `key` unless it is absent or null.
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn usize(&self, key: &str, default: Option<usize>) -> Result<usize> {
        match (self.get(key), default) {
            (None, Some(d)) => Ok(d),
            (None, None) => Err(self.err(format!("key `{key}` is missing"))),
            (Some(v), _) => v
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| self.err(format!("key `{key}` is {v}, not a non-negative integer"))),
        }
    }

    fn f64(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.err(format!("key `{key}` is {v}, not a number"))),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(format!("key `{key}` is {v}, not true or false"))),
        }
    }

    fn str(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.err(format!("key `{key}` is {v}, not a string"))),
        }
    }
}

/// Read the text of a Hugging Face `config.json` (`path` labels errors) as a [`LlamaConfig`].
pub fn from_hf_config(path: &Path, text: &str) -> Result<LlamaConfig> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| LlmError::model_file(path, format!("is not valid JSON ({e})")))?;
    let map = value
        .as_object()
        .ok_or_else(|| LlmError::model_file(path, "is not a JSON object"))?;
    let k = Keys { path, map };
    match k.str("model_type")? {
        Some("llama") => {}
        Some(other) => {
            return Err(k.err(format!(
                "key `model_type` is `{other}`; only `llama` models are supported"
            )))
        }
        None => return Err(k.err("key `model_type` is missing".into())),
    }
    if let Some(act) = k.str("hidden_act")? {
        if act != "silu" {
            return Err(k.err(format!(
                "key `hidden_act` is `{act}`; only `silu` (SwiGLU) is supported"
            )));
        }
    }
    if let Some(v) = k.get("rope_scaling") {
        let kind = v
            .get("rope_type")
            .or_else(|| v.get("type"))
            .and_then(Value::as_str);
        if kind != Some("default") {
            return Err(k.err(format!(
                "key `rope_scaling` is {v}; only unscaled rotary embeddings are supported"
            )));
        }
    }
    for key in ["attention_bias", "mlp_bias"] {
        if k.bool(key, false)? {
            return Err(k.err(format!("key `{key}` is true; biases are not supported")));
        }
    }
    let d_model = k.usize("hidden_size", None)?;
    let n_heads = k.usize("num_attention_heads", None)?;
    let n_kv_heads = k.usize("num_key_value_heads", Some(n_heads))?;
    if n_heads == 0 || n_kv_heads == 0 || n_heads % n_kv_heads != 0 {
        return Err(k.err(format!(
            "key `num_attention_heads` {n_heads} is not a positive multiple of `num_key_value_heads` {n_kv_heads}"
        )));
    }
    let head_dim = k.usize("head_dim", Some(d_model / n_heads))?;
    if head_dim == 0 || head_dim % 2 != 0 {
        return Err(k.err(format!(
            "key `head_dim` (or `hidden_size` / `num_attention_heads`) is {head_dim}; it must be even and positive"
        )));
    }
    let cfg = LlamaConfig {
        n_layers: k.usize("num_hidden_layers", None)?,
        d_model,
        n_heads,
        n_kv_heads,
        head_dim,
        ffn_dim: k.usize("intermediate_size", None)?,
        rms_eps: k.f64("rms_norm_eps", 1e-6)? as f32,
        rope_base: k.f64("rope_theta", 10_000.0)? as f32,
        vocab_size: k.usize("vocab_size", Some(32_000))?,
        context_len: k.usize("max_position_embeddings", Some(2048))?,
        tied_embeddings: k.bool("tie_word_embeddings", false)?,
    };
    if cfg.rms_eps.is_nan() || cfg.rms_eps <= 0.0 {
        return Err(k.err(format!(
            "key `rms_norm_eps` is {}; it must be positive",
            cfg.rms_eps
        )));
    }
    if cfg.rope_base.is_nan() || cfg.rope_base <= 1.0 {
        return Err(k.err(format!(
            "key `rope_theta` is {}; it must be above 1",
            cfg.rope_base
        )));
    }
    for (v, key) in [
        (cfg.n_layers, "num_hidden_layers"),
        (cfg.d_model, "hidden_size"),
        (cfg.ffn_dim, "intermediate_size"),
        (cfg.vocab_size, "vocab_size"),
        (cfg.context_len, "max_position_embeddings"),
    ] {
        if v == 0 {
            return Err(k.err(format!("key `{key}` is 0")));
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smol() -> LlamaConfig {
        LlamaConfig {
            n_layers: 30,
            d_model: 576,
            n_heads: 9,
            n_kv_heads: 3,
            head_dim: 64,
            ffn_dim: 1536,
            rms_eps: 1e-5,
            rope_base: 100_000.0,
            vocab_size: 49152,
            context_len: 8192,
            tied_embeddings: true,
        }
    }

    #[test]
    fn round_trips_and_writes_plain_decimals() {
        let v = to_hf_config(&smol(), Some(1), Some(2));
        let text = serde_json::to_string_pretty(&v).unwrap();
        // The decimal given, not the f32's binary value (9.999999747378752e-6).
        assert_eq!(v["rms_norm_eps"].as_f64(), Some(1e-5), "{text}");
        assert!(text.contains("\"rms_norm_eps\": 0.00001"), "{text}");
        assert!(text.contains("\"rope_theta\": 100000.0"), "{text}");
        assert_eq!(v["architectures"][0], "LlamaForCausalLM");
        assert_eq!(v["bos_token_id"], 1);
        let back = from_hf_config(Path::new("config.json"), &text).unwrap();
        assert_eq!(back, smol());
    }

    #[test]
    fn defaults_follow_transformers() {
        let text = r#"{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
            "num_hidden_layers": 2, "intermediate_size": 128, "head_dim": null}"#;
        let c = from_hf_config(Path::new("c.json"), text).unwrap();
        assert_eq!((c.n_kv_heads, c.head_dim, c.vocab_size), (4, 16, 32_000));
        assert_eq!(
            (c.rms_eps, c.rope_base, c.context_len),
            (1e-6, 10_000.0, 2048)
        );
        assert!(!c.tied_embeddings);
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let ok = serde_json::to_string(&to_hf_config(&smol(), None, None)).unwrap();
        let with = |key: &str, v: Value| {
            let mut m: Map<String, Value> = serde_json::from_str(&ok).unwrap();
            match v {
                Value::Null => m.remove(key),
                v => m.insert(key.into(), v),
            };
            let e = from_hf_config(Path::new("dir/config.json"), &Value::Object(m).to_string())
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("model file dir/config.json: "), "{e}");
            e
        };
        let e = with("model_type", json!("mistral"));
        assert!(
            e.contains("key `model_type` is `mistral`; only `llama`"),
            "{e}"
        );
        assert!(with("model_type", Value::Null).contains("key `model_type` is missing"));
        assert!(with("hidden_size", Value::Null).contains("key `hidden_size` is missing"));
        assert!(with("hidden_size", json!("576")).contains("key `hidden_size` is \"576\""));
        assert!(with("num_key_value_heads", json!(4)).contains("not a positive multiple"));
        assert!(with("rope_scaling", json!({"rope_type": "llama3"})).contains("rope_scaling"));
        assert!(with("attention_bias", json!(true)).contains("`attention_bias` is true"));
        assert!(with("hidden_act", json!("gelu")).contains("`hidden_act` is `gelu`"));
        assert!(with("rms_norm_eps", json!(0)).contains("`rms_norm_eps` is 0"));
        let e = from_hf_config(Path::new("config.json"), "{\"model_type\": ")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.json: is not valid JSON"), "{e}");
    }
}
