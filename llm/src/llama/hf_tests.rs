//! Hugging Face export and import: round trips of tiny random models (always) and SmolLM2
//! (when the file is present), the Q/K row order in the file, and damaged directories.

use super::*;
use crate::llama::forward::{Logits, SeqOwners};
use crate::llama::generate::{generate_greedy, GreedyOptions};
use crate::llama::hf_layout::{hf_row_of_gguf_row, permute_rows, RowOrder};
use crate::llama::test_model::{smollm2, tiny};
use crate::llama::tiny::TinySpec;
use crate::llama::weights::{Matrix, MatrixRef, Proj, PROJS};
use eggroll_core::cpu::Cpu;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::path::PathBuf;

/// A fresh empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eggroll-hf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tiny_pair(spec: &TinySpec) -> (Llama, LlamaTokenizer) {
    let g = tiny(spec);
    (
        Llama::from_gguf(&g).unwrap(),
        LlamaTokenizer::from_gguf(&g).unwrap(),
    )
}

fn exported(name: &str, spec: &TinySpec) -> (PathBuf, Llama, LlamaTokenizer) {
    let (m, t) = tiny_pair(spec);
    let dir = temp_dir(name);
    export_hf(&m, &t, &dir).unwrap();
    (dir, m, t)
}

fn matrices(m: &Llama) -> Vec<MatrixRef<'_>> {
    let w = &m.weights;
    let mut v = vec![w.embed.view()];
    v.extend(w.head.as_ref().map(Matrix::view));
    for l in 0..w.layers.len() {
        v.extend(PROJS.map(|p| w.proj(l, p)));
    }
    v
}

fn assert_same_model(a: &Llama, b: &Llama) {
    assert_eq!(a.config, b.config);
    let (ma, mb) = (matrices(a), matrices(b));
    assert_eq!(ma.len(), mb.len());
    for (x, y) in ma.iter().zip(&mb) {
        assert_eq!(
            (&x.name, x.id, x.rows, x.cols),
            (&y.name, y.id, y.rows, y.cols)
        );
        assert!(x.data[..] == y.data[..], "{} differs", x.name);
    }
    assert_eq!(a.weights.out_norm, b.weights.out_norm);
    for (x, y) in a.weights.layers.iter().zip(&b.weights.layers) {
        assert_eq!((&x.attn_norm, &x.ffn_norm), (&y.attn_norm, &y.ffn_norm));
    }
}

fn all_logits(m: &Llama, prompts: &[&[u32]]) -> Vec<Vec<f32>> {
    let mut caches: Vec<_> = prompts.iter().map(|_| m.new_cache()).collect();
    m.forward(
        &Cpu::new(),
        &mut caches,
        prompts,
        Logits::All,
        SeqOwners::Plain,
    )
    .unwrap()
}

#[test]
fn tiny_round_trip_gives_the_same_model_and_logits() {
    for tied in [true, false] {
        let spec = TinySpec {
            tied,
            n_layers: 3,
            ..TinySpec::default()
        };
        let (dir, m, t) = exported(&format!("rt-{tied}"), &spec);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for f in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "generation_config.json",
        ] {
            assert!(names.iter().any(|n| n == f), "{f} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        let (back, tok) = load_hf(&dir).unwrap();
        assert_same_model(&m, &back);
        let prompts: [&[u32]; 2] = [&[5, 70, 200, 3, 9], &[264, 1]];
        let (a, b) = (all_logits(&m, &prompts), all_logits(&back, &prompts));
        assert!(a == b, "logits differ after the round trip (tied {tied})");
        // The tokenizer: same ids, specials and chat prompt.
        for s in ["The abab 12 + 345 = 357", "héllo\n<|im_start|>ab<|im_end|>"] {
            assert_eq!(tok.encode(s).unwrap(), t.encode(s).unwrap(), "{s:?}");
        }
        assert_eq!((tok.bos(), tok.eos()), (t.bos(), t.eos()));
        assert_eq!(tok.vocab_size(), t.vocab_size());
        assert_eq!(tok.encode_chat("ab").unwrap(), t.encode_chat("ab").unwrap());
        assert_eq!(tok.chat_template_source(), t.chat_template_source());
        // The head is written only when untied.
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("lm_head.weight").is_ok(), !tied);
        assert_eq!(st.len(), 2 + 9 * 3 + usize::from(!tied));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The file's `q_proj`/`k_proj` rows are the GGUF rows moved within each head by
/// `2i + j → j·head_dim/2 + i`; the other tensors are stored as they are.
#[test]
fn q_and_k_rows_are_in_hugging_face_order_in_the_file() {
    let (dir, m, _) = exported("order", &TinySpec::default());
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let read = |name: &str| -> Vec<f32> {
        let v = st.tensor(name).unwrap();
        assert_eq!(v.dtype(), Dtype::F32);
        v.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let hd = m.config.head_dim;
    let l0 = |p| m.weights.proj(0, p);
    for (name, w) in [
        ("model.layers.0.self_attn.q_proj.weight", l0(Proj::Q)),
        ("model.layers.0.self_attn.k_proj.weight", l0(Proj::K)),
    ] {
        let file = read(name);
        for r in 0..w.rows {
            let (head, within) = (r / hd, r % hd);
            let hf = head * hd + hf_row_of_gguf_row(within, hd);
            assert_eq!(
                file[hf * w.cols..(hf + 1) * w.cols],
                w.data[r * w.cols..(r + 1) * w.cols],
                "{name} row {r}"
            );
        }
        assert_eq!(
            permute_rows(&file, w.cols, hd, RowOrder::HfToGguf),
            w.data[..]
        );
    }
    assert!(read("model.layers.0.self_attn.v_proj.weight") == l0(Proj::V).data[..]);
    assert!(read("model.embed_tokens.weight") == m.weights.embed.data[..]);
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["model_type"], "llama");
    assert_eq!(cfg["head_dim"], 8);
    assert_eq!(cfg["num_key_value_heads"], 2);
    assert_eq!(cfg["tie_word_embeddings"], true);
    assert_eq!(cfg["torch_dtype"], "float32");
    // Not GPT2Tokenizer: transformers 5 would replace the digit-splitting pre-tokenizer.
    let tc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer_config.json")).unwrap())
            .unwrap();
    assert_eq!(tc["tokenizer_class"], "PreTrainedTokenizerFast");
    assert_eq!(
        (&tc["bos_token"], &tc["eos_token"]),
        (&"<|im_start|>".into(), &"<|im_end|>".into())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rewrite `model.safetensors` of `dir` through `edit` (name, dtype, shape, bytes).
fn rewrite(dir: &Path, edit: impl Fn(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut t: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut t);
    let views: Vec<(String, TensorView<'_>)> = t
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(&path, safetensors::serialize(views, &None).unwrap()).unwrap();
}

fn load_err(dir: &Path) -> String {
    Llama::load_hf(dir).unwrap_err().to_string()
}

#[test]
fn half_precision_checkpoints_load() {
    for dtype in [Dtype::F16, Dtype::BF16] {
        let (dir, m, _) = exported(&format!("half-{dtype:?}"), &TinySpec::default());
        rewrite(&dir, |t| {
            for (_, d, _, b) in t.iter_mut() {
                *d = dtype;
                *b = b
                    .chunks_exact(4)
                    .flat_map(|c| {
                        let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                        match dtype {
                            Dtype::F16 => half::f16::from_f32(x).to_le_bytes(),
                            _ => half::bf16::from_f32(x).to_le_bytes(),
                        }
                    })
                    .collect();
            }
        });
        let back = Llama::load_hf(&dir).unwrap();
        let round = |x: f32| match dtype {
            Dtype::F16 => half::f16::from_f32(x).to_f32(),
            _ => half::bf16::from_f32(x).to_f32(),
        };
        for (a, b) in matrices(&m).iter().zip(matrices(&back)) {
            let want: Vec<f32> = a.data.iter().map(|&x| round(x)).collect();
            assert!(want[..] == b.data[..], "{dtype:?} {}", a.name);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn damaged_directories_name_the_file_and_tensor_or_key() {
    let (dir, _, _) = exported("damaged", &TinySpec::default());
    let st = dir.join("model.safetensors");
    let st_name = st.display().to_string();
    let good = std::fs::read(&st).unwrap();
    let check = |e: String, file: &str, what: &str| {
        assert!(e.contains(file), "{e} does not name {file}");
        assert!(e.contains(what), "{e} does not say {what}");
    };

    // Truncated: the header parses, the last tensor's data is cut.
    std::fs::write(&st, &good[..good.len() - 10]).unwrap();
    let e = load_err(&dir);
    check(e.clone(), &st_name, "is truncated");
    assert!(e.contains("tensor `model.norm.weight` is cut off"), "{e}");
    // Cut inside the header.
    std::fs::write(&st, &good[..20]).unwrap();
    check(load_err(&dir), &st_name, "not a valid safetensors file");
    std::fs::write(&st, &good).unwrap();

    let q0 = "model.layers.0.self_attn.q_proj.weight";
    rewrite(&dir, |t| {
        let q = t.iter_mut().find(|x| x.0 == q0).unwrap();
        q.1 = Dtype::I32;
    });
    let e = load_err(&dir);
    check(e.clone(), &st_name, &format!("tensor `{q0}` is I32"));
    assert!(e.contains("only F32, F16 and BF16"), "{e}");
    std::fs::write(&st, &good).unwrap();

    let k1 = "model.layers.1.self_attn.k_proj.weight";
    rewrite(&dir, |t| t.retain(|x| x.0 != k1));
    check(
        load_err(&dir),
        &st_name,
        &format!("tensor `{k1}` is missing"),
    );
    std::fs::write(&st, &good).unwrap();

    let up = "model.layers.0.mlp.up_proj.weight";
    rewrite(&dir, |t| {
        let u = t.iter_mut().find(|x| x.0 == up).unwrap();
        u.2 = vec![u.2[1], u.2[0]];
    });
    let e = load_err(&dir);
    check(
        e.clone(),
        &st_name,
        &format!("tensor `{up}` has shape [32, 48]"),
    );
    assert!(e.contains("config.json implies [48, 32]"), "{e}");
    std::fs::write(&st, &good).unwrap();

    let bias = "model.layers.0.self_attn.q_proj.bias";
    rewrite(&dir, |t| {
        t.push((bias.into(), Dtype::F32, vec![32], vec![0; 128]));
    });
    check(
        load_err(&dir),
        &st_name,
        &format!("tensor `{bias}` is not a weight"),
    );
    std::fs::write(&st, &good).unwrap();

    // config.json: bad JSON, a missing key, another architecture; the untied head missing.
    let cfg_path = dir.join("config.json");
    let cfg_name = cfg_path.display().to_string();
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(&cfg_path, &cfg[..cfg.len() / 2]).unwrap();
    check(load_err(&dir), &cfg_name, "is not valid JSON");
    std::fs::write(&cfg_path, cfg.replace("\"hidden_size\"", "\"hidden\"")).unwrap();
    check(load_err(&dir), &cfg_name, "key `hidden_size` is missing");
    std::fs::write(&cfg_path, cfg.replace("\"llama\"", "\"gpt2\"")).unwrap();
    check(load_err(&dir), &cfg_name, "key `model_type` is `gpt2`");
    std::fs::write(
        &cfg_path,
        cfg.replace(
            "\"tie_word_embeddings\": true",
            "\"tie_word_embeddings\": false",
        ),
    )
    .unwrap();
    check(
        load_err(&dir),
        &st_name,
        "tensor `lm_head.weight` is missing",
    );
    std::fs::write(&cfg_path, &cfg).unwrap();
    std::fs::remove_file(&cfg_path).unwrap();
    check(load_err(&dir), &cfg_name, "No such file");
    std::fs::write(&cfg_path, &cfg).unwrap();

    // tokenizer files.
    let tc = dir.join("tokenizer_config.json");
    let text = std::fs::read_to_string(&tc).unwrap();
    std::fs::write(&tc, text.replace("<|im_end|>", "<|nope|>")).unwrap();
    let e = load_hf(&dir).unwrap_err().to_string();
    check(
        e,
        &tc.display().to_string(),
        "key `eos_token` is \"<|nope|>\"",
    );
    std::fs::write(&tc, &text).unwrap();
    let tj = dir.join("tokenizer.json");
    std::fs::write(&tj, "{\"model\": 3}").unwrap();
    let e = load_hf(&dir).unwrap_err().to_string();
    check(
        e,
        &tj.display().to_string(),
        "is not a tokenizers JSON file",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `tokenizer.json` written for SmolLM2, read back by the `tokenizers` crate alone, gives
/// the ids the GGUF tokenizer gives; then the whole model survives export and import.
#[test]
fn smollm2_exports_and_reimports() {
    let Some(p) = smollm2("smollm2 hf export") else {
        return;
    };
    let g = crate::llama::gguf::Gguf::open(&p).unwrap();
    let (m, t) = (
        Llama::from_gguf(&g).unwrap(),
        LlamaTokenizer::from_gguf(&g).unwrap(),
    );
    drop(g);
    let json = crate::llama::hf_tokenizer::tokenizer_json(&t, Path::new("tokenizer.json")).unwrap();
    assert!(
        json.contains("\"Digits\""),
        "the pre-tokenizer is not serialised"
    );
    let plain: tokenizers::Tokenizer = json.parse().unwrap();
    assert_eq!(
        plain.encode("12 + 345 = 357", false).unwrap().get_ids(),
        [33, 34, 1232, 216, 35, 36, 37, 446, 216, 35, 37, 39]
    );
    for s in [
        "The capital of France is",
        "  leading spaces, tabs\tand\nnewlines 3.14159",
        "<|im_start|>user\nWhat is 7*8?<|im_end|>\n",
        "héllo wörld 😀 ½ ٣",
    ] {
        let ids = plain.encode(s, false).unwrap().get_ids().to_vec();
        assert_eq!(ids, t.encode(s).unwrap(), "{s:?}");
    }

    let dir = temp_dir("smollm2");
    export_hf(&m, &t, &dir).unwrap();
    let (back, tok) = load_hf(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(back.config, m.config);
    let prompt = tok.encode("The capital of France is").unwrap();
    assert_eq!(prompt, [504, 3575, 282, 4649, 314]);
    let opts = GreedyOptions {
        max_new_tokens: 6,
        stop_tokens: vec![],
    };
    let a = generate_greedy(&m, std::slice::from_ref(&prompt), &opts).unwrap();
    let b = generate_greedy(&back, &[prompt], &opts).unwrap();
    assert_eq!(a, b);
    assert_eq!(a[0].tokens, [7042, 30, 198, 198, 504, 2988]);
    assert_eq!(tok.encode_chat("Hi").unwrap(), t.encode_chat("Hi").unwrap());
}
