//! The LoRA family on a toy problem: merges keep the model's function, and restarts (ReLoRA)
//! and stages (PeriodicLoRA) raise the rank of the accumulated update beyond the adapters'
//! rank, which plain LoRA cannot.

use super::*;
use crate::baselines::merge_plan::MergeAction;
use crate::baselines::merge_plan::MergePlanKind;
use crate::baselines::rank::numerical_rank;
use crate::grad::{LoraConfig, LoraTargets};
use crate::llama::test_model::{max_diff, tiny};
use crate::llama::tiny::TinySpec;
use crate::llama::weights::Proj;
use crate::llama::Llama;

const RANK: usize = 2;

fn model() -> GradModel {
    let llama = Llama::from_gguf(&tiny(&TinySpec::default())).unwrap();
    let lora = Lora::new(
        LoraConfig {
            rank: RANK,
            alpha: 4.0,
            rslora: false,
            dropout: 0.0,
            targets: LoraTargets::AllLinear,
            seed: 3,
        },
        &llama.weights,
    )
    .unwrap();
    GradModel::new(llama, Some(lora), false)
}

/// Byte strings as token sequences (the tiny vocabulary holds every byte).
fn corpus() -> Vec<Sequence> {
    [
        "the quick brown fox jumps over the lazy dog",
        "pack my box with five dozen liquor jugs",
        "how vexingly quick daft zebras jump",
        "sphinx of black quartz, judge my vow",
    ]
    .iter()
    .map(|t| {
        let ids: Vec<u32> = t.bytes().map(u32::from).collect();
        Sequence::next_token(&ids, 0).unwrap()
    })
    .collect()
}

fn schedule(total: u64, restart_every: u64) -> JaggedCosine {
    JaggedCosine {
        total_steps: total,
        warmup: 2,
        restart_every,
        rewarmup: if restart_every > 0 { 2 } else { 0 },
        min_ratio: 0.1,
    }
}

fn projection(m: &GradModel, layer: usize, p: Proj) -> Vec<f32> {
    let w = &m.llama.weights;
    w.proj_data[w.layers[layer].slots[p as usize]].clone()
}

/// Train `kind` for `steps`; returns the model, every step's loss, and the rank of the
/// accumulated update of block 0's up projection (48 × 32) with merged adapters.
fn train(kind: MergePlanKind, steps: u64, every: u64) -> (GradModel, Vec<f32>, usize) {
    let cpu = Cpu::new();
    let mut m = model();
    let before = projection(&m, 0, Proj::Up);
    let plan = MergePlan {
        kind,
        total_steps: steps,
    };
    let mut run = LoraFamily::new(&mut m, plan, schedule(steps, every), 2e-2, 0).unwrap();
    let mut opt = AdamW::new(2e-2, 0.0).unwrap();
    let batch = corpus();
    let losses: Vec<f32> = (0..steps)
        .map(|_| run.step(&cpu, &mut m, &mut opt, &batch).unwrap().loss)
        .collect();
    let mut merged = m.llama.weights.clone();
    m.lora.as_ref().unwrap().merge(&mut merged).unwrap();
    let after = &merged.proj_data[merged.layers[0].slots[Proj::Up as usize]];
    let delta: Vec<f32> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let rank = numerical_rank(&delta, 48, 32, 1e-3);
    (m, losses, rank)
}

#[test]
fn restarts_and_stages_raise_the_update_rank_beyond_the_adapters() {
    let (_, lora_loss, lora_rank) = train(MergePlanKind::Lora, 60, 0);
    let relora = MergePlanKind::ReLora {
        every: 6,
        prune: 0.9,
    };
    let (_, relora_loss, relora_rank) = train(relora, 60, 6);
    let plora = MergePlanKind::PeriodicLora {
        stage_steps: 5,
        unload_momentum: 0.0,
    };
    let (_, plora_loss, plora_rank) = train(plora, 60, 0);
    eprintln!("ranks: lora {lora_rank}, relora {relora_rank}, plora {plora_rank}");
    assert!(lora_rank <= RANK, "LoRA alone: rank {lora_rank}");
    assert!(relora_rank >= 4 * RANK, "ReLoRA: rank {relora_rank}");
    assert!(plora_rank >= 4 * RANK, "PeriodicLoRA: rank {plora_rank}");
    for (name, l) in [
        ("lora", &lora_loss),
        ("relora", &relora_loss),
        ("plora", &plora_loss),
    ] {
        let (first, last) = (l[0], l[l.len() - 1]);
        assert!(last < 0.8 * first, "{name} did not learn: {first} → {last}");
    }
}

#[test]
fn a_merge_keeps_the_model_function() {
    let cpu = Cpu::new();
    let batch = corpus();
    let tokens: Vec<&[u32]> = batch.iter().map(|s| s.tokens.as_slice()).collect();
    let relora = MergeAction {
        fold: 1.0,
        keep: 0.0,
        prune_optimizer: 0.5,
    };
    let plora = MergeAction {
        fold: 0.75,
        keep: 0.25,
        prune_optimizer: 1.0,
    };
    for action in [relora, plora] {
        let mut m = model();
        let mut opt = AdamW::new(2e-2, 0.0).unwrap();
        // A few steps so that B and the optimiser's moments are not zero.
        for step in 0..3 {
            let (_, g) = m.loss_and_grads(&cpu, &batch, step).unwrap();
            opt.step(&mut m, &g).unwrap();
        }
        let b_before: Vec<f32> = m.lora.as_ref().unwrap().adapters[0].b.clone();
        assert!(b_before.iter().any(|&b| b != 0.0));
        let before = m.forward(&cpu, &tokens, None).unwrap().logits;
        apply(&mut m, &mut opt, action, 1).unwrap();
        let after = m.forward(&cpu, &tokens, None).unwrap().logits;
        assert!(
            max_diff(&before, &after) < 1e-4,
            "{action:?}: {}",
            max_diff(&before, &after)
        );
        let lora = m.lora.as_ref().unwrap();
        if action.keep == 0.0 {
            // Re-drawn adapters (B zero), half of the optimiser's moments pruned.
            assert!(lora.adapters.iter().all(|a| a.b.iter().all(|&b| b == 0.0)));
            let moments = || opt.state.iter().flat_map(|(_, s)| s);
            let zeros: usize = moments()
                .map(|v| v.iter().filter(|&&x| x == 0.0).count())
                .sum();
            let all: usize = moments().map(Vec::len).sum();
            assert!(zeros * 2 >= all, "{zeros} of {all} moments are zero");
        } else {
            // The adapters keep half of B (√0.25) and the optimiser starts afresh.
            assert_eq!(lora.adapters[0].b[0], b_before[0] * 0.5);
            assert!(opt.state.is_empty());
        }
    }
}

#[test]
fn a_warm_start_trains_the_base_then_hands_over_to_the_adapters() {
    let cpu = Cpu::new();
    let mut m = model();
    let a0: Vec<f32> = m.lora.as_ref().unwrap().adapters[0].a.clone();
    let plan = MergePlan {
        kind: MergePlanKind::ReLora {
            every: 4,
            prune: 0.9,
        },
        total_steps: 8,
    };
    let flat = JaggedCosine {
        warmup: 0,
        ..schedule(8, 4)
    };
    let mut run = LoraFamily::new(&mut m, plan, flat, 2e-2, 2).unwrap();
    assert!(m.lora.is_none() && m.train_base);
    let mut opt = AdamW::new(2e-2, 0.0).unwrap();
    let batch = corpus();
    let base0 = projection(&m, 0, Proj::Q);
    run.step(&cpu, &mut m, &mut opt, &batch).unwrap();
    assert_ne!(
        projection(&m, 0, Proj::Q),
        base0,
        "the warm start trains the base"
    );
    run.step(&cpu, &mut m, &mut opt, &batch).unwrap();
    assert!(!m.train_base && m.lora.is_some());
    assert_eq!(
        m.lora.as_ref().unwrap().adapters[0].a,
        a0,
        "the parked adapters come back as they were"
    );
    assert!(opt.state.is_empty(), "and start with a fresh optimiser");
    let bad = LoraFamily::new(&mut model(), plan, schedule(8, 4), 2e-2, 8).unwrap_err();
    assert!(bad.to_string().contains("relora.warm_start"), "{bad}");
}
