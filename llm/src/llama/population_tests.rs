//! The population forward: every sequence decoded with its member's perturbation, checked
//! against a copy of the model with that member's dense perturbation added to its weights.

use super::*;
use crate::llama::generate::{decode, generate_greedy, GreedyOptions};
use crate::llama::test_model::max_diff;
use crate::llama::test_model::tiny;
use crate::llama::tiny::TinySpec;
use crate::llama::weights::Proj;
use eggroll_core::conformance::dense_perturbation;
use eggroll_core::cpu::Cpu;
use eggroll_core::{Model, NoiseKind, Population, PopulationParams};

fn population(rank: u32, size: u32, antithetic: bool) -> Population {
    Population::new(PopulationParams {
        seed: 11,
        epoch: 3,
        size,
        sigma: 0.05,
        kind: NoiseKind::LowRank { rank },
        antithetic,
    })
    .unwrap()
}

/// The model with member `m`'s perturbation written into its trained weights.
fn materialised(model: &Llama, pop: &Population, m: u32) -> Llama {
    let mut out = model.clone();
    let specs = out.specs().to_vec();
    for (spec, w) in specs.iter().zip(out.params_mut()) {
        for (x, e) in w.iter_mut().zip(dense_perturbation(pop, spec, m)) {
            *x += e;
        }
    }
    out
}

const PROMPTS: [&[u32]; 4] = [&[259, 35, 52], &[53, 264], &[260, 3, 100, 7, 9], &[40]];

/// Logits of every prompt position for sequences owned by `members`, in one batch.
fn batch_logits(m: &Llama, owners: SeqOwners<'_>) -> Vec<Vec<f32>> {
    let mut caches: Vec<_> = PROMPTS.iter().map(|_| m.new_cache()).collect();
    let out = m
        .forward(&Cpu::new(), &mut caches, &PROMPTS, Logits::All, owners)
        .unwrap();
    // Then one decoded token each, through the caches the members wrote.
    let step: Vec<&[u32]> = vec![&[41], &[42], &[43], &[44]];
    let next = m
        .forward(&Cpu::new(), &mut caches, &step, Logits::Last, owners)
        .unwrap();
    out.into_iter()
        .zip(next)
        .map(|(mut a, b)| {
            a.extend(b);
            a
        })
        .collect()
}

#[test]
fn each_sequence_runs_with_its_members_dense_perturbation() {
    for (rank, antithetic, select) in [
        (1, true, (|_, _| true) as fn(usize, Proj) -> bool),
        (2, false, |_, _| true),
        (1, true, |l, p| l == 1 && matches!(p, Proj::Q | Proj::Down)),
    ] {
        let mut model = Llama::from_gguf(&tiny(&TinySpec::default())).unwrap();
        model.set_trained(select);
        let pop = population(rank, 6, antithetic);
        let members = [4u32, 1, 5, 0];
        let got = batch_logits(
            &model,
            SeqOwners::Members {
                pop: &pop,
                members: &members,
            },
        );
        let plain = batch_logits(&model, SeqOwners::Plain);
        for (s, &m) in members.iter().enumerate() {
            let want = batch_logits(&materialised(&model, &pop, m), SeqOwners::Plain);
            let diff = max_diff(&got[s], &want[s]);
            assert!(
                diff < 1e-4,
                "rank {rank}, sequence {s} (member {m}): max |Δ| {diff}"
            );
            // The perturbation is there: the logits moved away from the plain model's.
            let moved = max_diff(&got[s], &plain[s]);
            assert!(moved > 1e-3, "member {m} changed nothing ({moved})");
        }
    }
}

#[test]
fn untrained_matrices_and_plain_sequences_are_not_perturbed() {
    let mut model = Llama::from_gguf(&tiny(&TinySpec::default())).unwrap();
    model.set_trained(|_, _| false);
    assert!(model.specs().is_empty() && model.params().is_empty());
    let pop = population(1, 4, true);
    let got = batch_logits(
        &model,
        SeqOwners::Members {
            pop: &pop,
            members: &[0, 1, 2, 3],
        },
    );
    assert_eq!(got, batch_logits(&model, SeqOwners::Plain));
}

#[test]
fn choosing_trained_matrices_changes_no_plain_result() {
    let base = Llama::from_gguf(&tiny(&TinySpec::default())).unwrap();
    let mut some = base.clone();
    some.set_trained(|l, p| l == 0 || p == Proj::Up);
    assert_eq!(some.specs().len(), 7 + 1);
    assert_eq!(some.specs()[0].name, "blk.0.attn_q.weight");
    assert_eq!(some.specs()[7].name, "blk.1.ffn_up.weight");
    assert_eq!(
        batch_logits(&some, SeqOwners::Plain),
        batch_logits(&base, SeqOwners::Plain)
    );
}

#[test]
fn population_decoding_gives_each_member_its_own_continuation() {
    let mut model = Llama::from_gguf(&tiny(&TinySpec::default())).unwrap();
    model.set_trained(|_, _| true);
    let pop = Population::new(PopulationParams {
        sigma: 0.5,
        ..*population(1, 8, true).params()
    })
    .unwrap();
    let prompts: Vec<Vec<u32>> = (0..8).map(|_| PROMPTS[2].to_vec()).collect();
    let members: Vec<u32> = (0..8).collect();
    let opts = GreedyOptions {
        max_new_tokens: 8,
        stop_tokens: vec![],
    };
    let cpu = Cpu::new();
    let owners = SeqOwners::Members {
        pop: &pop,
        members: &members,
    };
    let greedy = |s: usize, _: usize, l: &[f32]| super::super::generate::argmax(l, s);
    let together = decode(&model, &cpu, &prompts, owners, &opts, &greedy).unwrap();
    // Each member decoded alone, with its weights materialised, gives the same tokens.
    for (m, g) in together.iter().enumerate() {
        let alone =
            generate_greedy(&materialised(&model, &pop, m as u32), &prompts[..1], &opts).unwrap();
        assert_eq!(g.tokens, alone[0].tokens, "member {m}");
    }
    let distinct: std::collections::BTreeSet<_> = together.iter().map(|g| &g.tokens).collect();
    assert!(
        distinct.len() > 1,
        "σ = 0.5 left every member on one continuation"
    );
}
