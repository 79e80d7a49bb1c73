//! The forward pass on tiny random models (always) and SmolLM2 (when the file is present).

use super::*;
use crate::llama::config::LlamaConfig;
use crate::llama::generate::{generate_greedy, Finish, GreedyOptions};
use crate::llama::gguf::{Gguf, GgufWriter, MetaValue};
use crate::llama::test_model::max_diff;
use crate::llama::test_model::{smollm2, tiny};
use crate::llama::tiny::{tiny_gguf, TinySpec};
use crate::llama::weights::{MatrixRef, Proj};
use eggroll_core::cpu::Cpu;
use std::path::Path;

fn tiny_model(spec: &TinySpec) -> Llama {
    Llama::from_gguf(&tiny(spec)).unwrap()
}

/// A plain f64 transcription of the architecture for one sequence, every position
/// recomputed from scratch: no cache, no GEMM, rotary angles from their definition.
fn reference_logits(m: &Llama, tokens: &[u32]) -> Vec<Vec<f64>> {
    let c = &m.config;
    let w = &m.weights;
    let (d, hd) = (c.d_model, c.head_dim);
    let matvec = |mat: MatrixRef<'_>, x: &[f64]| -> Vec<f64> {
        (0..mat.rows)
            .map(|r| {
                (0..mat.cols)
                    .map(|k| f64::from(mat.data[r * mat.cols + k]) * x[k])
                    .sum()
            })
            .collect()
    };
    let norm = |x: &[f64], g: &[f32]| -> Vec<f64> {
        let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
        let r = 1.0 / (ms + f64::from(c.rms_eps)).sqrt();
        x.iter()
            .zip(g)
            .map(|(v, &g)| v * r * f64::from(g))
            .collect()
    };
    let rope = |x: &mut [f64], pos: usize| {
        for h in 0..x.len() / hd {
            for i in 0..hd / 2 {
                let theta = pos as f64 / f64::from(c.rope_base).powf(2.0 * i as f64 / hd as f64);
                let (a, b) = (x[h * hd + 2 * i], x[h * hd + 2 * i + 1]);
                x[h * hd + 2 * i] = a * theta.cos() - b * theta.sin();
                x[h * hd + 2 * i + 1] = a * theta.sin() + b * theta.cos();
            }
        }
    };
    let mut xs: Vec<Vec<f64>> = tokens
        .iter()
        .map(|&t| {
            w.embed.data[t as usize * d..(t as usize + 1) * d]
                .iter()
                .map(|&v| v.into())
                .collect()
        })
        .collect();
    for (l, lw) in w.layers.iter().enumerate() {
        let hs: Vec<Vec<f64>> = xs.iter().map(|x| norm(x, &lw.attn_norm)).collect();
        let qs: Vec<Vec<f64>> = hs
            .iter()
            .enumerate()
            .map(|(p, h)| {
                let mut q = matvec(w.proj(l, Proj::Q), h);
                rope(&mut q, p);
                q
            })
            .collect();
        let ks: Vec<Vec<f64>> = hs
            .iter()
            .enumerate()
            .map(|(p, h)| {
                let mut k = matvec(w.proj(l, Proj::K), h);
                rope(&mut k, p);
                k
            })
            .collect();
        let vs: Vec<Vec<f64>> = hs.iter().map(|h| matvec(w.proj(l, Proj::V), h)).collect();
        for p in 0..xs.len() {
            let mut att = vec![0.0; c.q_dim()];
            for h in 0..c.n_heads {
                let g = h * c.n_kv_heads / c.n_heads;
                let s: Vec<f64> = (0..=p)
                    .map(|j| {
                        (0..hd)
                            .map(|i| qs[p][h * hd + i] * ks[j][g * hd + i])
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let mx = s.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = s.iter().map(|v| (v - mx).exp()).sum();
                for (j, sj) in s.iter().enumerate() {
                    for i in 0..hd {
                        att[h * hd + i] += (sj - mx).exp() / z * vs[j][g * hd + i];
                    }
                }
            }
            let o = matvec(w.proj(l, Proj::O), &att);
            xs[p].iter_mut().zip(o).for_each(|(x, o)| *x += o);
            let h2 = norm(&xs[p], &lw.ffn_norm);
            let (g, u) = (
                matvec(w.proj(l, Proj::Gate), &h2),
                matvec(w.proj(l, Proj::Up), &h2),
            );
            let a: Vec<f64> = g
                .iter()
                .zip(&u)
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            let down = matvec(w.proj(l, Proj::Down), &a);
            xs[p].iter_mut().zip(down).for_each(|(x, o)| *x += o);
        }
    }
    xs.iter()
        .map(|x| matvec(w.head().view(), &norm(x, &w.out_norm)))
        .collect()
}

const SEQ: [u32; 9] = [259, 35, 52, 53, 264, 260, 3, 100, 7];

#[test]
fn forward_matches_a_plain_f64_transcription() {
    for spec in [
        TinySpec::default(),
        TinySpec {
            n_kv_heads: 4,
            tied: false,
            seed: 5,
            ..TinySpec::default()
        },
        TinySpec {
            n_heads: 6,
            n_kv_heads: 2,
            d_model: 48,
            n_layers: 3,
            seed: 9,
            ..TinySpec::default()
        },
    ] {
        let m = tiny_model(&spec);
        let mut cache = vec![m.new_cache()];
        let got = m
            .forward(
                &Cpu::new(),
                &mut cache,
                &[&SEQ],
                Logits::All,
                SeqOwners::Plain,
            )
            .unwrap()
            .remove(0);
        let want = reference_logits(&m, &SEQ);
        let v = m.config.vocab_size;
        for (p, w) in want.iter().enumerate() {
            let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
            let diff = max_diff(&got[p * v..(p + 1) * v], &w32);
            assert!(diff < 1e-4, "{spec:?} position {p}: max |Δ| {diff}");
        }
    }
}

#[test]
fn kv_cache_decoding_equals_full_recompute() {
    let m = tiny_model(&TinySpec::default());
    let v = m.config.vocab_size;
    let mut full = vec![m.new_cache()];
    let all = m
        .forward(
            &Cpu::new(),
            &mut full,
            &[&SEQ],
            Logits::All,
            SeqOwners::Plain,
        )
        .unwrap()
        .remove(0);
    // Prefill 4 tokens, then decode the other 5 one at a time.
    let mut c = vec![m.new_cache()];
    let mut got = m
        .forward(
            &Cpu::new(),
            &mut c,
            &[&SEQ[..4]],
            Logits::All,
            SeqOwners::Plain,
        )
        .unwrap()
        .remove(0);
    for t in &SEQ[4..] {
        got.extend(
            m.forward(
                &Cpu::new(),
                &mut c,
                &[std::slice::from_ref(t)],
                Logits::Last,
                SeqOwners::Plain,
            )
            .unwrap()
            .remove(0),
        );
    }
    assert_eq!(c[0].len(), SEQ.len());
    let diff = max_diff(&got, &all);
    assert!(diff < 1e-5, "max |Δ| {diff} over {} logits", all.len() / v);
}

#[test]
fn batched_sequences_of_different_lengths_equal_each_alone() {
    let m = tiny_model(&TinySpec {
        n_layers: 3,
        seed: 3,
        ..TinySpec::default()
    });
    let prompts: [&[u32]; 3] = [&SEQ[..5], &SEQ[5..6], &SEQ[2..9]];
    let steps: [[&[u32]; 3]; 2] = [[&[40], &[41], &[]], [&[42], &[], &[43]]];
    // Alone: each sequence with its own cache, its steps one call each.
    let mut alone = Vec::new();
    for s in 0..3 {
        let mut c = vec![m.new_cache()];
        let mut l = vec![m
            .forward(
                &Cpu::new(),
                &mut c,
                &[prompts[s]],
                Logits::All,
                SeqOwners::Plain,
            )
            .unwrap()
            .remove(0)];
        for st in &steps {
            l.push(
                m.forward(
                    &Cpu::new(),
                    &mut c,
                    &[st[s]],
                    Logits::Last,
                    SeqOwners::Plain,
                )
                .unwrap()
                .remove(0),
            );
        }
        alone.push(l);
    }
    // Together: one call per step for all three (one of them idle in each step).
    let mut cs: Vec<_> = (0..3).map(|_| m.new_cache()).collect();
    let first = m
        .forward(
            &Cpu::new(),
            &mut cs,
            &prompts,
            Logits::All,
            SeqOwners::Plain,
        )
        .unwrap();
    for s in 0..3 {
        let diff = max_diff(&first[s], &alone[s][0]);
        assert!(diff < 1e-5, "prefill of sequence {s}: max |Δ| {diff}");
    }
    for (i, st) in steps.iter().enumerate() {
        let got = m
            .forward(&Cpu::new(), &mut cs, st, Logits::Last, SeqOwners::Plain)
            .unwrap();
        for s in 0..3 {
            let diff = max_diff(&got[s], &alone[s][i + 1]);
            assert!(diff < 1e-5, "step {i} of sequence {s}: max |Δ| {diff}");
        }
    }
    assert_eq!(cs.iter().map(|c| c.len()).collect::<Vec<_>>(), [7, 2, 8]);
}

#[test]
fn greedy_decoding_batched_equals_alone_and_stops() {
    let m = tiny_model(&TinySpec::default());
    let prompts = vec![SEQ[..3].to_vec(), SEQ[3..4].to_vec(), SEQ.to_vec()];
    let opts = GreedyOptions {
        max_new_tokens: 6,
        stop_tokens: vec![],
    };
    let together = generate_greedy(&m, &prompts, &opts).unwrap();
    for (p, g) in prompts.iter().zip(&together) {
        assert_eq!(
            g,
            &generate_greedy(&m, std::slice::from_ref(p), &opts).unwrap()[0]
        );
        assert_eq!((g.tokens.len(), g.finish), (6, Finish::Length));
    }
    // Make the third token of the first sequence a stop token: it ends there.
    let stop = together[0].tokens[2];
    let first_at = together[0].tokens.iter().position(|&t| t == stop).unwrap();
    let opts = GreedyOptions {
        max_new_tokens: 6,
        stop_tokens: vec![stop],
    };
    let g = generate_greedy(&m, &prompts[..1], &opts).unwrap().remove(0);
    assert_eq!(g.tokens, together[0].tokens[..first_at]);
    assert_eq!(g.finish, Finish::Stop(stop));
    let e = generate_greedy(&m, &[vec![]], &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("prompt 0 is empty"), "{e}");
}

#[test]
fn bad_inputs_are_named() {
    let m = tiny_model(&TinySpec::default());
    let mut c = vec![m.new_cache()];
    let e = m
        .forward(
            &Cpu::new(),
            &mut c,
            &[&[9999]],
            Logits::Last,
            SeqOwners::Plain,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("token id 9999 of sequence 0 is outside the vocabulary of 265"),
        "{e}"
    );
    assert!(c[0].is_empty(), "a refused step leaves the cache as it was");
    let e = m
        .forward(
            &Cpu::new(),
            &mut c,
            &[&[1], &[2]],
            Logits::Last,
            SeqOwners::Plain,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 caches for 2 sequences"), "{e}");
}

fn load_err(w: &GgufWriter) -> String {
    let g = Gguf::from_bytes(Path::new("bad.gguf"), w.to_bytes().unwrap()).unwrap();
    Llama::from_gguf(&g).unwrap_err().to_string()
}

#[test]
fn tiny_model_round_trips_through_a_file() {
    let spec = TinySpec {
        tied: false,
        ..TinySpec::default()
    };
    let path = std::env::temp_dir().join(format!("eggroll-tiny-{}.gguf", std::process::id()));
    tiny_gguf(&spec).write(&path).unwrap();
    let loaded = Llama::load(&path);
    std::fs::remove_file(&path).unwrap();
    let (a, b) = (loaded.unwrap(), tiny_model(&spec));
    assert_eq!(a.config, b.config);
    assert!(!a.config.tied_embeddings);
    assert_eq!(a.weights.head().data, b.weights.head().data);
    assert_eq!(a.weights.proj(1, Proj::Down), b.weights.proj(1, Proj::Down));
    let e = Llama::load(Path::new("/nonexistent/m.gguf"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/m.gguf: "), "{e}");
}

#[test]
fn bad_model_files_are_named() {
    let spec = TinySpec::default();
    let mut w = tiny_gguf(&spec);
    w.set("general.architecture", MetaValue::String("gpt2".into()));
    assert_eq!(
        load_err(&w),
        "model file bad.gguf: general.architecture is `gpt2`; only `llama` models are supported"
    );

    let mut w = tiny_gguf(&spec);
    w.set("llama.attention.head_count_kv", MetaValue::U32(3));
    assert!(load_err(&w)
        .contains("head_count 4 is not a positive multiple of llama.attention.head_count_kv 3"));

    // A K projection one head short of what head_count_kv says.
    let mut w = GgufWriter::new();
    let good = tiny_gguf(&spec);
    for (k, v) in &good.metadata {
        w.set(k, v.clone());
    }
    let g = Gguf::from_bytes(Path::new("t.gguf"), good.to_bytes().unwrap()).unwrap();
    for t in g.tensors() {
        let data = g.tensor_f32(&t.name).unwrap();
        if t.name == "blk.1.attn_k.weight" {
            w.add_f32(&t.name, &[8, 32], &data[..8 * 32]);
        } else {
            w.add_f32(&t.name, &t.shape(), &data);
        }
    }
    let e = load_err(&w);
    assert!(
        e.contains("tensor `blk.1.attn_k.weight` has shape [8, 32] but the metadata implies [16 (head_count_kv 2 × head width 8), 32 (embedding_length)]"),
        "{e}"
    );

    let mut w = tiny_gguf(&spec);
    w.set("llama.block_count", MetaValue::U32(3));
    assert!(load_err(&w).contains("tensor `blk.2.attn_norm.weight` is missing"));
}

#[test]
fn smollm2_config_and_embedding_statistics() {
    let Some(p) = smollm2("smollm2 config") else {
        return;
    };
    let g = Gguf::open(&p).unwrap();
    let c = LlamaConfig::from_gguf(&g).unwrap();
    assert_eq!(
        (
            c.n_layers,
            c.d_model,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim,
            c.ffn_dim,
            c.vocab_size
        ),
        (30, 576, 9, 3, 64, 1536, 49152)
    );
    assert!(c.tied_embeddings && c.rope_base == 100_000.0 && (c.rms_eps - 1e-5).abs() < 1e-9);
    assert_eq!(g.tensors().len(), 272);
    assert_eq!(c.n_params(), 134_515_008);
    let e = g.tensor_f32("token_embd.weight").unwrap();
    let mean = e.iter().map(|&v| f64::from(v)).sum::<f64>() / e.len() as f64;
    let var = e
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / e.len() as f64;
    // LLM.md: dequantised token_embd has mean −0.000542 and std 0.13558.
    assert!(
        (mean + 0.000542).abs() < 5e-6 && (var.sqrt() - 0.13558).abs() < 5e-5,
        "{mean} {}",
        var.sqrt()
    );
}

#[test]
fn smollm2_greedy_golden() {
    let Some(p) = smollm2("smollm2 greedy golden") else {
        return;
    };
    let m = Llama::load(&p).unwrap();
    let prompt = vec![504, 3575, 282, 4649, 314]; // "The capital of France is"
    let opts = GreedyOptions {
        max_new_tokens: 6,
        stop_tokens: vec![2],
    };
    let g = generate_greedy(&m, &[prompt], &opts).unwrap().remove(0);
    assert_eq!(
        g.tokens,
        [7042, 30, 198, 198, 504, 2988],
        "\" Paris.\\n\\nThe answer\""
    );
}
