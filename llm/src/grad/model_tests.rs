//! Tests of the whole gradient model on tiny random Llamas: its logits against the inference
//! forward, finite-difference checks of every trainable tensor, LoRA's identities (B = 0,
//! merge/unmerge), thread-count independence, and a short AdamW run that learns.

use super::fd_tests::{check_with, rand};
use super::*;
use crate::llama::test_model::{max_diff, tiny};
use crate::llama::tiny::TinySpec;
use crate::llama::{Llama, Logits, SeqOwners};
use eggroll_core::cpu::Cpu;

fn llama(spec: &TinySpec) -> Llama {
    Llama::from_gguf(&tiny(spec)).unwrap()
}

fn lora_config(dropout: f32) -> LoraConfig {
    LoraConfig {
        rank: 3,
        alpha: 6.0,
        rslora: false,
        dropout,
        targets: LoraTargets::AllLinear,
        seed: 11,
    }
}

/// A model with adapters whose `B` is random (so every LoRA gradient path is non-trivial).
fn with_lora(spec: &TinySpec, dropout: f32, train_base: bool) -> GradModel {
    let base = llama(spec);
    let mut lora = Lora::new(lora_config(dropout), &base.weights).unwrap();
    for (i, ad) in lora.adapters.iter_mut().enumerate() {
        ad.b = rand(ad.b.len(), 0.3, 500 + i as u64);
    }
    GradModel::new(base, Some(lora), train_base)
}

fn batch() -> Vec<Sequence> {
    vec![
        Sequence::next_token(&[5, 80, 81, 82, 40, 263, 9], 2).unwrap(),
        Sequence::next_token(&[100, 101, 102, 103], 0).unwrap(),
    ]
}

/// The batch's mean cross-entropy as an f64 of the per-token log-probabilities.
fn loss_of(m: &GradModel, b: &[Sequence], step: u64) -> f64 {
    let tokens: Vec<&[u32]> = b.iter().map(|s| s.tokens.as_slice()).collect();
    let targets: Vec<Option<u32>> = b.iter().flat_map(|s| s.targets.clone()).collect();
    let tape = m.forward(&Cpu::new(), &tokens, Some(step)).unwrap();
    let lp = token_logp(&tape.logits, m.llama.config.vocab_size, &targets).unwrap();
    let n = targets.iter().filter(|t| t.is_some()).count() as f64;
    -lp.iter().map(|&x| f64::from(x)).sum::<f64>() / n
}

#[test]
fn training_logits_equal_the_inference_forward_bit_for_bit() {
    for tied in [true, false] {
        let spec = TinySpec {
            tied,
            ..TinySpec::default()
        };
        let m = GradModel::new(llama(&spec), None, false);
        let seqs: [&[u32]; 3] = [&[1, 70, 71, 72, 73, 74, 75, 2], &[3, 4], &[200]];
        // Tolerance 0: the same operations in the same order.
        assert_eq!(training_vs_inference(&m, &seqs), 0.0, "tied {tied}");
    }
}

/// Past the unpacked kernel's 128 rows the training forward runs its projections as
/// `linear.rs`'s GEMMs, not the backend's linear: still the inference logits bit for bit.
#[test]
fn training_logits_equal_the_inference_forward_past_128_rows() {
    let spec = TinySpec {
        d_model: 64,
        ..TinySpec::default()
    };
    let m = GradModel::new(llama(&spec), None, false);
    // 600 rows: the backend chunks them by 75, `linear.rs` by 150.
    let a: Vec<u32> = (0..250).map(|i| 3 + (i * 7) % 250).collect();
    let b: Vec<u32> = (0..200).map(|i| 5 + (i * 11) % 240).collect();
    let c: Vec<u32> = (0..150).map(|i| 1 + (i * 13) % 230).collect();
    let seqs: [&[u32]; 3] = [&a, &b, &c];
    assert_eq!(training_vs_inference(&m, &seqs), 0.0);
}

/// The largest difference between the training forward's logits of `seqs` and the inference
/// forward's.
fn training_vs_inference(m: &GradModel, seqs: &[&[u32]]) -> f32 {
    let cpu = Cpu::new();
    let tape = m.forward(&cpu, seqs, None).unwrap();
    let mut caches: Vec<_> = seqs.iter().map(|_| m.llama.new_cache()).collect();
    let want = m
        .llama
        .forward(&cpu, &mut caches, seqs, Logits::All, SeqOwners::Plain)
        .unwrap()
        .concat();
    max_diff(&tape.logits, &want)
}

#[test]
fn zero_b_adapters_give_exactly_the_base_logits() {
    let spec = TinySpec::default();
    let base = GradModel::new(llama(&spec), None, false);
    let lora = Lora::new(lora_config(0.0), &base.llama.weights).unwrap();
    assert!(lora.adapters.iter().all(|a| a.b.iter().all(|&b| b == 0.0)));
    assert!(lora.adapters.iter().any(|a| a.a.iter().any(|&x| x != 0.0)));
    let adapted = GradModel::new(base.llama.clone(), Some(lora), false);
    let seqs: [&[u32]; 2] = [&[1, 70, 71, 72], &[9, 8, 7]];
    let cpu = Cpu::new();
    let a = base.forward(&cpu, &seqs, None).unwrap().logits;
    let b = adapted.forward(&cpu, &seqs, None).unwrap().logits;
    assert_eq!(a, b);
}

#[test]
fn every_gradient_of_the_whole_model_matches_finite_differences() {
    // Full finetuning and LoRA (with dropout) together, tied and untied heads.
    for tied in [true, false] {
        let spec = TinySpec {
            tied,
            ..TinySpec::default()
        };
        let m = with_lora(&spec, 0.2, true);
        let b = batch();
        let (loss, grads) = m.loss_and_grads(&Cpu::new(), &b, 3).unwrap();
        assert!((f64::from(loss) - loss_of(&m, &b, 3)).abs() < 1e-5);
        let gs: Vec<Vec<f32>> = grads.tensors().iter().map(|g| g.to_vec()).collect();
        let mut probe = m.clone();
        let names: Vec<(String, Vec<f32>)> = probe
            .trainable_mut()
            .into_iter()
            .map(|(n, t)| (n, t.clone()))
            .collect();
        assert_eq!(names.len(), gs.len());
        let expect = if tied {
            2 + 2 * 9 + 2 * 14
        } else {
            3 + 2 * 9 + 2 * 14
        };
        assert_eq!(names.len(), expect);
        for (t, (name, x)) in names.iter().enumerate() {
            // h 3e-3: every element moves at once, so a larger step leaves the linear regime;
            // the floor 1e-3 covers the f32 rounding of the whole forward (~1e-6 in the loss,
            // divided by 2h), measured by scanning h on one tensor.
            check_with(name, (3e-3, 2e-2, 1e-3), x, &gs[t], |x| {
                let mut p = probe.clone();
                p.trainable_mut()[t].1.copy_from_slice(x);
                loss_of(&p, &b, 3)
            });
        }
        probe.train_base = false;
        assert_eq!(probe.trainable_mut().len(), 28);
    }
}

#[test]
fn gradients_are_the_same_for_any_thread_count() {
    let m = with_lora(&TinySpec::default(), 0.1, true);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| m.loss_and_grads(&Cpu::new(), &batch(), 0).unwrap())
    };
    let (l1, g1) = run(1);
    let (l3, g3) = run(3);
    assert_eq!(l1.to_bits(), l3.to_bits());
    assert_eq!(g1, g3);
}

#[test]
fn merge_then_unmerge_restores_the_weights() {
    let m = with_lora(&TinySpec::default(), 0.0, false);
    let lora = m.lora.clone().unwrap();
    let mut w = m.llama.weights.clone();
    lora.merge(&mut w).unwrap();
    // Merged: the plain model computes what the adapted one does (up to rounding).
    let mut merged = GradModel::new(m.llama.clone(), None, false);
    merged.llama.weights = w.clone();
    let seqs: [&[u32]; 1] = [&[1, 70, 71, 72, 73]];
    let cpu = Cpu::new();
    let (a, b) = (
        m.forward(&cpu, &seqs, None).unwrap().logits,
        merged.forward(&cpu, &seqs, None).unwrap().logits,
    );
    assert!(
        max_diff(&a, &b) < 1e-4,
        "merged logits differ by {}",
        max_diff(&a, &b)
    );
    assert!(max_diff(&w.proj_data[0], &m.llama.weights.proj_data[0]) > 1e-3);
    lora.unmerge(&mut w).unwrap();
    // Tolerance: one f32 rounding of W + ΔW, under 1e-6 for these |W| < 1.
    for (x, y) in w.proj_data.iter().zip(&m.llama.weights.proj_data) {
        assert!(max_diff(x, y) < 1e-6, "unmerge left {}", max_diff(x, y));
    }
}

#[test]
fn lora_targets_scale_and_counts() {
    assert_eq!(
        LoraTargets::parse(&["all-linear"]).unwrap(),
        LoraTargets::AllLinear
    );
    let t = LoraTargets::parse(&["q_proj", "v", "q"]).unwrap();
    assert_eq!(
        t,
        LoraTargets::Only(vec![crate::llama::Proj::Q, crate::llama::Proj::V])
    );
    let err = LoraTargets::parse(&["lm_head"]).unwrap_err().to_string();
    assert!(err.contains("lm_head"), "{err}");
    let mut c = lora_config(0.0);
    assert_eq!(c.scale(), 2.0);
    c.rslora = true;
    assert!((c.scale() - 6.0 / 3f32.sqrt()).abs() < 1e-6);
    c.targets = t;
    let base = llama(&TinySpec::default());
    let lora = Lora::new(c, &base.weights).unwrap();
    // 2 layers × (q: 3·32 + 32·3, v: 3·32 + 16·3).
    assert_eq!(lora.n_params(), 2 * ((96 + 96) + (96 + 48)));
    let m = GradModel::new(base.clone(), Some(lora), false);
    let counts = m.counts();
    assert_eq!(counts.frozen, base.config.n_params());
    assert_eq!(counts.trainable, 2 * (192 + 144));
    let mut bad = lora_config(1.0);
    assert!(Lora::new(bad.clone(), &base.weights).is_err());
    bad.dropout = 0.0;
    bad.rank = 0;
    assert!(Lora::new(bad, &base.weights).is_err());
}

/// A tiny Llama with LoRA r 4 on all linears learns a fixed set of sequences with AdamW:
/// the loss falls by more than half in 40 steps, and a rerun gives the same losses.
#[test]
fn lora_with_adamw_learns_toy_sequences() {
    let run = || {
        let base = llama(&TinySpec::default());
        let cfg = LoraConfig {
            rank: 4,
            alpha: 8.0,
            dropout: 0.05,
            ..lora_config(0.0)
        };
        let lora = Lora::new(cfg, &base.weights).unwrap();
        let mut m = GradModel::new(base, Some(lora), false);
        let data: Vec<Sequence> = ["abcabcabcabc", "the cat sat on", "0123456789"]
            .iter()
            .map(|s| {
                let t: Vec<u32> = s.bytes().map(|b| 3 + u32::from(b)).collect();
                Sequence::next_token(&t, 0).unwrap()
            })
            .collect();
        let mut opt = AdamW::new(2e-2, 0.01).unwrap();
        let cpu = Cpu::new();
        let mut losses = Vec::new();
        for step in 0..40 {
            let (loss, g) = m.loss_and_grads(&cpu, &data, step).unwrap();
            losses.push(loss);
            opt.step(&mut m, &g).unwrap();
        }
        losses
    };
    let losses = run();
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last < 0.5 * first, "loss {first} → {last}: {losses:?}");
    assert_eq!(losses, run(), "deterministic");
}

/// The policy-gradient entry point: a backward from `d loss / d logp` of `−1/N` on every
/// unmasked target is the cross-entropy's backward.
#[test]
fn backward_from_logp_reproduces_the_cross_entropy_gradient() {
    let m = with_lora(&TinySpec::default(), 0.1, true);
    let b = batch();
    let cpu = Cpu::new();
    let (_, want) = m.loss_and_grads(&cpu, &b, 5).unwrap();
    let tokens: Vec<&[u32]> = b.iter().map(|s| s.tokens.as_slice()).collect();
    let targets: Vec<Option<u32>> = b.iter().flat_map(|s| s.targets.clone()).collect();
    let n = targets.iter().filter(|t| t.is_some()).count() as f32;
    let dlogp: Vec<f32> = targets
        .iter()
        .map(|t| if t.is_some() { -1.0 / n } else { 0.0 })
        .collect();
    let tape = m.forward(&cpu, &tokens, Some(5)).unwrap();
    let got = m.backward_from_logp(&tape, &targets, &dlogp).unwrap();
    for (g, w) in got.tensors().iter().zip(want.tensors()) {
        assert!(max_diff(g, w) < 1e-6, "{}", max_diff(g, w));
    }
    assert!(m.backward_from_logp(&tape, &targets, &dlogp[1..]).is_err());
}

/// Completions that continue one shared prompt (held once, logits only where a completion
/// token is predicted) give the logits and gradients of the same sequences written out whole.
#[test]
fn a_shared_prompt_gives_the_whole_sequences_logits_and_gradients() {
    let m = with_lora(&TinySpec::default(), 0.0, true);
    let cpu = Cpu::new();
    let vocab = m.llama.config.vocab_size;
    let prompt = [5u32, 80, 81, 82, 40];
    let completions: [&[u32]; 3] = [&[263, 9, 7], &[12, 13], &[200]];
    let p = prompt.len();
    let whole: Vec<Sequence> = completions
        .iter()
        .map(|c| Sequence::next_token(&[&prompt[..], c].concat(), p).unwrap())
        .collect();
    let tokens: Vec<&[u32]> = whole.iter().map(|s| s.tokens.as_slice()).collect();
    let targets: Vec<Option<u32>> = whole.iter().flat_map(|s| s.targets.clone()).collect();
    let dlogp: Vec<f32> = rand(targets.len(), 1.0, 77)
        .into_iter()
        .zip(&targets)
        .map(|(d, t)| if t.is_some() { d } else { 0.0 })
        .collect();
    let tape = m.forward(&cpu, &tokens, Some(1)).unwrap();
    let want = m.backward_from_logp(&tape, &targets, &dlogp).unwrap();
    // Shared: the prompt's first p − 1 tokens once, each completion from the prompt's last.
    let mut segs = vec![Segment {
        tokens: &prompt[..p - 1],
        prefix: None,
    }];
    segs.extend(whole.iter().map(|s| Segment {
        tokens: &s.tokens[p - 1..],
        prefix: Some(0),
    }));
    let own: usize = whole.iter().map(|s| s.tokens.len() - (p - 1)).sum();
    let rows: Vec<usize> = (p - 1..p - 1 + own).collect();
    let shared = m
        .forward_segments(&cpu, &segs, Some(rows), Some(1))
        .unwrap();
    let sel: Vec<usize> = (0..targets.len())
        .filter(|&r| targets[r].is_some())
        .collect();
    let want_logits: Vec<f32> = sel
        .iter()
        .flat_map(|&r| tape.logits[r * vocab..][..vocab].to_vec())
        .collect();
    assert_eq!(max_diff(&shared.logits, &want_logits), 0.0);
    let t2: Vec<Option<u32>> = sel.iter().map(|&r| targets[r]).collect();
    let d2: Vec<f32> = sel.iter().map(|&r| dlogp[r]).collect();
    let got = m.backward_from_logp(&shared, &t2, &d2).unwrap();
    let (g, w) = (got.tensors(), want.tensors());
    assert_eq!(g.len(), w.len());
    for (g, w) in g.iter().zip(w) {
        let scale = w.iter().fold(1e-3f32, |a, x| a.max(x.abs()));
        assert!(
            max_diff(g, w) < 1e-5 * scale,
            "{} of {scale}",
            max_diff(g, w)
        );
    }
    // A prefix must be an earlier sequence that starts at 0; logit rows must ascend.
    let bad = [segs[1], segs[0]];
    assert!(m.forward_segments(&cpu, &bad, None, None).is_err());
    assert!(m
        .forward_segments(&cpu, &segs, Some(vec![5, 4]), None)
        .is_err());
    assert!(m
        .forward_segments(&cpu, &segs, Some(vec![99]), None)
        .is_err());
}

/// On the real SmolLM2 (9 query heads over 3 key/value heads of width 64, tied head): the
/// training logits equal the inference forward's exactly, and a LoRA step's gradients are
/// finite and non-zero on every adapter. Skipped without the model file.
#[test]
fn smollm2_training_logits_equal_inference_and_lora_grads_are_finite() {
    let Some(path) = crate::llama::test_model::smollm2("smollm2 grad") else {
        return;
    };
    let base = Llama::load(&path).unwrap();
    let seqs: [&[u32]; 2] = [&[1, 504, 3136, 28, 2, 198, 339], &[9690, 314, 253]];
    let cpu = Cpu::new();
    let mut caches: Vec<_> = seqs.iter().map(|_| base.new_cache()).collect();
    let want = base
        .forward(&cpu, &mut caches, &seqs, Logits::All, SeqOwners::Plain)
        .unwrap()
        .concat();
    let lora = Lora::new(
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            ..lora_config(0.05)
        },
        &base.weights,
    )
    .unwrap();
    let m = GradModel::new(base, Some(lora), false);
    assert_eq!(m.forward(&cpu, &seqs, None).unwrap().logits, want);
    let batch: Vec<Sequence> = seqs
        .iter()
        .map(|s| Sequence::next_token(s, 0).unwrap())
        .collect();
    let (loss, g) = m.loss_and_grads(&cpu, &batch, 0).unwrap();
    assert!(loss.is_finite() && loss > 0.0);
    assert_eq!(g.lora.len(), 30 * 7);
    for (a, b) in &g.lora {
        // B starts at zero, so dA is zero; dB carries the signal.
        assert!(a.iter().all(|v| *v == 0.0));
        assert!(b.iter().all(|v| v.is_finite()) && b.iter().any(|v| *v != 0.0));
    }
}
