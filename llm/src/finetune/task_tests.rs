//! The reasoning task on the tiny random model (mechanics) and on SmolLM2 when present
//! (rewards that vary, sharding that changes nothing).

use super::*;
use crate::finetune::config::ReasoningTaskConfig;
use crate::llama::test_model::{smollm2, tiny};
use crate::llama::tiny::TinySpec;
use crate::llama::LlamaTokenizer;
use crate::reasoning::{ArithLevel, ReasoningKind};
use eggroll_core::{NoiseKind, PopulationParams};

fn cfg(layout: FitnessLayout, prompts: usize) -> ReasoningTaskConfig {
    ReasoningTaskConfig {
        problem: ReasoningKind::Arith {
            level: ArithLevel::Plain,
        },
        reward: None,
        prompts,
        layout,
        group_norm: false,
        max_new_tokens: 6,
        eval_problems: 8,
        seed: 4,
    }
}

fn pop(size: u32) -> Population {
    Population::new(PopulationParams {
        seed: 3,
        epoch: 0,
        size,
        sigma: 0.02,
        kind: NoiseKind::LowRank { rank: 1 },
        antithetic: true,
    })
    .unwrap()
}

fn tiny_parts() -> (Llama, LlamaTokenizer) {
    let g = tiny(&TinySpec::default());
    let mut m = Llama::from_gguf(&g).unwrap();
    m.set_trained(|_, _| true);
    (m, LlamaTokenizer::from_gguf(&g).unwrap())
}

#[test]
fn layouts_give_members_their_problems() {
    let (_, tok) = tiny_parts();
    let p = pop(8);
    let shared = ReasoningTask::new(&cfg(FitnessLayout::Shared, 3), tok.clone()).unwrap();
    assert_eq!(shared.problem_indices(&p, 0, 2), 6..9);
    assert_eq!(shared.problem_indices(&p, 7, 2), 6..9);
    let pair = ReasoningTask::new(&cfg(FitnessLayout::Pair, 2), tok).unwrap();
    // 4 pairs per generation, 2 problems each: generation 1 starts at problem 8.
    assert_eq!(pair.problem_indices(&p, 0, 1), 8..10);
    assert_eq!(pair.problem_indices(&p, 1, 1), 8..10);
    assert_eq!(pair.problem_indices(&p, 2, 1), 10..12);
    assert_eq!(pair.problem_indices(&p, 7, 1), 14..16);
}

#[test]
fn fitness_and_evaluation_run_on_the_tiny_model() {
    let (m, tok) = tiny_parts();
    let t = ReasoningTask::new(&cfg(FitnessLayout::Pair, 2), tok).unwrap();
    let cpu = Cpu::new();
    let p = pop(6);
    let f = t.fitness(&cpu, &m, &p, 0..6, 0).unwrap();
    assert_eq!(f.len(), 6);
    assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
    let tally = t.fitness_metrics();
    assert_eq!(tally[2].0, "train_answer_tokens");
    assert!(tally[2].1 > 0.0 && tally[2].1 <= 6.0, "{tally:?}");
    let e = t.evaluate(&cpu, &m).unwrap();
    let names: Vec<_> = e.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, t.metric_names());
    assert!(e.iter().all(|(_, v)| v.is_finite()));
    assert_eq!(
        e,
        t.evaluate(&cpu, &m).unwrap(),
        "evaluation is deterministic"
    );
}

#[test]
fn group_normalisation_by_hand() {
    // 4 members × 2 problems. Problem 0: rewards 1, 0, 0, 0 → mean 0.25, std √0.1875;
    // problem 1: all 0.1 → no signal.
    let scores = [1.0, 0.1, 0.0, 0.1, 0.0, 0.1, 0.0, 0.1];
    let f = group_normalised(&scores, 4, 2, 4).unwrap();
    let sd = 0.1875f64.sqrt();
    let want = [
        0.75 / sd / 2.0,
        -0.25 / sd / 2.0,
        -0.25 / sd / 2.0,
        -0.25 / sd / 2.0,
    ];
    for (g, w) in f.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() < 1e-6, "{f:?} vs {want:?}");
    }
    // Groups of 2 (antithetic pairs): each pair's difference alone.
    let f = group_normalised(&scores, 4, 2, 2).unwrap();
    assert_eq!(f, [0.5, -0.5, 0.0, 0.0]);
    assert!(group_normalised(&scores, 4, 2, 1).is_err());
    assert!(group_normalised(&scores[..6], 4, 2, 2).is_err());
}

#[test]
fn with_group_norm_members_return_one_reward_per_problem() {
    let (m, tok) = tiny_parts();
    let mut c = cfg(FitnessLayout::Shared, 3);
    c.group_norm = true;
    let t = ReasoningTask::new(&c, tok).unwrap();
    assert_eq!(t.scores_per_member(), 3);
    let p = pop(4);
    let scores = t.fitness(&Cpu::new(), &m, &p, 2..4, 0).unwrap();
    assert_eq!(scores.len(), 2 * 3);
    let f = t.combine_scores(&p, vec![0.0; 4 * 3]).unwrap();
    assert_eq!(f, [0.0; 4], "flat rewards carry no signal");
    assert!(
        t.combine_scores(&p, scores).is_err(),
        "one shard's scores are not the population's"
    );
}

#[test]
fn a_reward_scheme_the_problem_does_not_define_is_refused() {
    let (_, tok) = tiny_parts();
    let mut c = cfg(FitnessLayout::Shared, 1);
    c.reward = Some(crate::reasoning::RewardScheme::TinyZero);
    let e = ReasoningTask::new(&c, tok).err().unwrap().to_string();
    assert!(e.contains("exact_match"), "{e}");
}

#[test]
fn bootstrap_interval_brackets_the_mean() {
    assert_eq!(bootstrap_ci(&[1.0; 20]), (1.0, 1.0));
    let half: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
    let (lo, hi) = bootstrap_ci(&half);
    assert!(lo < 0.5 && hi > 0.5 && lo > 0.35 && hi < 0.65, "{lo} {hi}");
}

#[test]
fn smollm2_earns_rewards_that_vary_and_sharding_changes_no_fitness() {
    let Some(path) = smollm2("smollm2_earns_rewards_that_vary") else {
        return;
    };
    let base = crate::finetune::load_base(&path).unwrap();
    let mut m = base.model;
    m.set_trained(|_, _| true);
    let mut c = cfg(FitnessLayout::Pair, 3);
    c.max_new_tokens = 12;
    let t = ReasoningTask::new(&c, base.tokenizer).unwrap();
    let cpu = Cpu::new();
    let p = pop(8);
    let all = t.fitness(&cpu, &m, &p, 0..8, 0).unwrap();
    let mut halves = t.fitness(&cpu, &m, &p, 0..4, 0).unwrap();
    halves.extend(t.fitness(&cpu, &m, &p, 4..8, 0).unwrap());
    assert_eq!(
        all, halves,
        "a member's fitness depends on who else is in the batch"
    );
    assert!(
        all.iter().any(|&f| f > 0.0),
        "SmolLM2 solved no plain sum: {all:?}"
    );
}
