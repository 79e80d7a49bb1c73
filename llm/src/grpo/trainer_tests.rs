//! GRPO on a tiny random Llama: the loss's gradient through the model against finite
//! differences, a reward the policy can learn, groups without signal, and the KL term.

use super::*;
use crate::grad::{Lora, LoraConfig, LoraTargets};
use crate::llama::test_model::tiny;
use crate::llama::tiny::TinySpec;
use crate::llama::Llama;

/// A tiny model with its own head: with tied embeddings a random tiny model repeats its last
/// token with probability ≈ 1, and sampling would have nothing to choose from.
fn model(lora: bool) -> GradModel {
    let spec = TinySpec {
        tied: false,
        ..TinySpec::default()
    };
    let llama = Llama::from_gguf(&tiny(&spec)).unwrap();
    let adapters = lora.then(|| {
        Lora::new(
            LoraConfig {
                rank: 4,
                alpha: 8.0,
                rslora: false,
                dropout: 0.0,
                targets: LoraTargets::AllLinear,
                seed: 5,
            },
            &llama.weights,
        )
        .unwrap()
    });
    GradModel::new(llama, adapters, !lora)
}

fn prompts() -> Vec<Vec<u32>> {
    vec![
        vec![10, 11, 12],
        vec![40, 41],
        vec![70, 71, 72, 73],
        vec![100],
    ]
}

/// Reward 1 for a completion whose first token is below 64 (about a quarter of the tiny
/// vocabulary at the start).
fn low_first(_: usize, c: &[u32]) -> Result<f32> {
    Ok(if c.first().is_some_and(|&t| t < 64) {
        1.0
    } else {
        0.0
    })
}

fn config() -> GrpoConfig {
    GrpoConfig {
        group_size: 8,
        max_new_tokens: 3,
        seed: 9,
        ..GrpoConfig::default()
    }
}

#[test]
fn the_policy_learns_a_reward_it_can_reach() {
    let cpu = Cpu::new();
    // Full finetuning: the head trains too, so the reward's tokens are within easy reach.
    let mut m = model(false);
    let mut grpo = Grpo::new(config(), &m).unwrap();
    let mut opt = AdamW::new(1e-2, 0.0).unwrap();
    let rewards: Vec<f64> = (0..60)
        .map(|_| {
            let r = grpo
                .step(&cpu, &mut m, &mut opt, &prompts(), &[], &mut low_first)
                .unwrap();
            assert_eq!(r.completions.len(), 32);
            assert!(r.completions.iter().all(|c| c.len() == 3));
            assert_eq!(r.truncated, 1.0);
            r.reward_mean
        })
        .collect();
    let first: f64 = rewards[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = rewards[55..].iter().sum::<f64>() / 5.0;
    eprintln!("reward {first:.3} → {last:.3}");
    assert!(first < 0.5 && last > first + 0.3, "reward {first} → {last}");
    // The same seed gives the same run.
    let mut again = model(false);
    let mut g2 = Grpo::new(config(), &again).unwrap();
    let mut o2 = AdamW::new(1e-2, 0.0).unwrap();
    let r0 = g2
        .step(&cpu, &mut again, &mut o2, &prompts(), &[], &mut low_first)
        .unwrap();
    assert_eq!(r0.reward_mean, rewards[0]);
}

#[test]
fn groups_that_all_agree_carry_no_signal_and_move_nothing() {
    let cpu = Cpu::new();
    let mut m = model(false);
    let before = m.llama.weights.proj_data.clone();
    let mut grpo = Grpo::new(config(), &m).unwrap();
    let mut opt = AdamW::new(1e-2, 0.0).unwrap();
    let r = grpo
        .step(&cpu, &mut m, &mut opt, &prompts(), &[], &mut |_, _| Ok(0.5))
        .unwrap();
    assert_eq!((r.tied_groups, r.groups), (4, 4));
    assert_eq!(r.loss, 0.0);
    assert_eq!(m.llama.weights.proj_data, before);
}

#[test]
fn the_gradient_through_the_model_matches_finite_differences() {
    let cpu = Cpu::new();
    let mut m = model(true);
    // Non-zero B so the adapters' gradients are not trivially structured.
    for (i, ad) in m.lora.as_mut().unwrap().adapters.iter_mut().enumerate() {
        for (j, b) in ad.b.iter_mut().enumerate() {
            *b = (((i * 31 + j * 17) % 13) as f32 - 6.0) * 0.02;
        }
    }
    let grpo = Grpo::new(
        GrpoConfig {
            iterations: 2,
            ..config()
        },
        &m,
    )
    .unwrap();
    // The first two share their prompt (held once in the forward).
    let seqs: Vec<Sequence> = [
        (vec![10u32, 11], vec![3u32, 99, 7]),
        (vec![10u32, 11], vec![5u32, 2]),
        (vec![40], vec![60, 2]),
    ]
    .iter()
    .map(|(p, c)| {
        let full: Vec<u32> = p.iter().chain(c).copied().collect();
        Sequence::next_token(&full, p.len()).unwrap()
    })
    .collect();
    // Old log-probabilities a little off the current ones, so ratios differ from 1 but stay
    // inside the clip range (the loss is smooth there).
    let (cur, _, _) = grpo.completion_logps(&cpu, &m, &seqs, None).unwrap();
    let old: Vec<Vec<f32>> = cur
        .iter()
        .map(|v| v.iter().map(|x| x - 0.05).collect())
        .collect();
    let inputs = LossInputs {
        seqs: &seqs,
        advantages: &[0.8, -0.3, -1.1],
        old: Some(&old),
        reference: None,
        finished: &[true, true, true],
    };
    let (_, grads, _) = grpo.loss_and_grads(&cpu, &m, &inputs, 0).unwrap();
    let g: Vec<Vec<f32>> = grads.tensors().iter().map(|t| t.to_vec()).collect();
    let loss_at = |m: &GradModel| grpo.loss_and_grads(&cpu, m, &inputs, 0).unwrap().0.loss;
    // Check three elements of three tensors (an A, a B, and the last adapter's B).
    let n = m.trainable_mut().len();
    for (ti, e) in [(0usize, 5usize), (1, 3), (n - 1, 7)] {
        let h = 1e-2f32;
        let shifted = |m: &mut GradModel, d: f32| m.trainable_mut()[ti].1[e] += d;
        shifted(&mut m, h);
        let up = loss_at(&m);
        shifted(&mut m, -2.0 * h);
        let down = loss_at(&m);
        shifted(&mut m, h);
        let fd = (up - down) / (2.0 * h as f64);
        let an = g[ti][e] as f64;
        assert!(
            (fd - an).abs() < 0.02 * an.abs() + 2e-5,
            "tensor {ti} element {e}: fd {fd} vs {an}"
        );
    }
}

#[test]
fn the_kl_term_is_zero_at_the_start_and_refused_settings_name_their_key() {
    let cpu = Cpu::new();
    let mut m = model(true);
    let mut cfg = config();
    cfg.loss.beta = 0.1;
    let mut grpo = Grpo::new(cfg, &m).unwrap();
    let mut opt = AdamW::new(1e-2, 0.0).unwrap();
    let r = grpo
        .step(&cpu, &mut m, &mut opt, &prompts(), &[], &mut low_first)
        .unwrap();
    assert!(r.kl.abs() < 1e-5, "KL to the starting policy: {}", r.kl);
    let r = grpo
        .step(&cpu, &mut m, &mut opt, &prompts(), &[], &mut low_first)
        .unwrap();
    assert!(r.kl > 0.0, "after a step the policy moved: KL {}", r.kl);
    let e = Grpo::new(
        GrpoConfig {
            group_size: 1,
            ..config()
        },
        &m,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("grpo.group_size"), "{e}");
}
