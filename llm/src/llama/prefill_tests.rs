//! Prefilling repeated prompts once gives every sequence what the full batch gives it, bit for
//! bit, and copies that go their own way afterwards.

use super::*;
use crate::llama::compact::FreshCompact;
use crate::llama::generate::{decode, Generation, GreedyOptions};
use crate::llama::sampling::Sampling;
use crate::llama::test_model::tiny;
use crate::llama::tiny::TinySpec;
use eggroll_core::{NoiseKind, Population, PopulationParams};

const A: &[u32] = &[259, 35, 52, 7, 9];
const B: &[u32] = &[53, 264];
const C: &[u32] = &[40];

fn model(d_model: usize) -> Llama {
    let mut m = Llama::from_gguf(&tiny(&TinySpec {
        d_model,
        ..TinySpec::default()
    }))
    .unwrap();
    m.set_trained(|_, _| true);
    m
}

fn prompts(of: &[&[u32]]) -> Vec<Vec<u32>> {
    of.iter().map(|p| p.to_vec()).collect()
}

/// A cache's length and the bits of every layer's keys and values.
fn bits(c: &SeqCache) -> (usize, Vec<Vec<u32>>) {
    let mut out = Vec::new();
    for l in 0..c.n_layers() {
        let (k, v) = c.layer(l);
        out.push(k.iter().map(|x| x.to_bits()).collect());
        out.push(v.iter().map(|x| x.to_bits()).collect());
    }
    (c.len(), out)
}

fn logit_bits(l: &[Vec<f32>]) -> Vec<Vec<u32>> {
    l.iter()
        .map(|r| r.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn population() -> Population {
    Population::new(PopulationParams {
        seed: 5,
        epoch: 1,
        size: 4,
        sigma: 0.3,
        kind: NoiseKind::LowRank { rank: 1 },
        antithetic: true,
    })
    .unwrap()
}

#[test]
fn distinct_shares_only_equal_prompts_of_one_owner() {
    let ps = prompts(&[A, B, A, A, C, B]);
    assert_eq!(
        distinct(&ps, SeqOwners::Plain),
        (vec![0, 1, 4], vec![0, 1, 0, 0, 2, 1])
    );
    let pop = population();
    let members = [0, 0, 1, 0, 2, 0];
    let owners = SeqOwners::Members {
        pop: &pop,
        members: &members,
    };
    assert_eq!(
        distinct(&ps, owners),
        (vec![0, 1, 2, 4], vec![0, 1, 2, 0, 3, 1])
    );
    // A members list of the wrong length shares nothing.
    let short = SeqOwners::Members {
        pop: &pop,
        members: &members[..2],
    };
    assert_eq!(distinct(&ps, short).0, (0..6).collect::<Vec<_>>());
}

#[test]
fn prefill_of_repeated_prompts_matches_the_full_batch_bit_for_bit() {
    let pop = population();
    let members = [0u32, 0, 1, 0, 2, 1, 3];
    let ps = prompts(&[A, A, A, B, C, A, B]);
    // d_model 32 keeps the blocked GEMM, 64 takes the few-rows one.
    for d_model in [32, 64] {
        let m = model(d_model);
        let cpu = Cpu::new();
        for owners in [
            SeqOwners::Plain,
            SeqOwners::Members {
                pop: &pop,
                members: &members,
            },
        ] {
            let (caches, logits) =
                prefill(&m, &cpu, &ps, owners, &FreshCompact::default()).unwrap();
            let (want_caches, want_logits) =
                prefill_all(&m, &cpu, &ps, owners, &FreshCompact::default()).unwrap();
            assert_eq!(logit_bits(&logits), logit_bits(&want_logits), "{owners:?}");
            for (s, (c, w)) in caches.iter().zip(&want_caches).enumerate() {
                assert_eq!(bits(c), bits(w), "sequence {s}, {owners:?}");
            }
        }
    }
}

#[test]
fn copies_of_one_prefill_are_independent() {
    let m = model(32);
    let cpu = Cpu::new();
    let (mut caches, _) = prefill(
        &m,
        &cpu,
        &prompts(&[A, A, B]),
        SeqOwners::Plain,
        &FreshCompact::default(),
    )
    .unwrap();
    let before = bits(&caches[1]);
    // Only the first copy takes a token.
    let step: Vec<&[u32]> = vec![&[41], &[], &[]];
    let first = m
        .forward(&cpu, &mut caches, &step, Logits::Last, SeqOwners::Plain)
        .unwrap();
    assert_eq!(caches[0].len(), A.len() + 1);
    assert_eq!(
        bits(&caches[1]),
        before,
        "the second copy changed with the first"
    );
    // The second copy then takes the same token from where the first one was.
    let step: Vec<&[u32]> = vec![&[], &[41], &[]];
    let second = m
        .forward(&cpu, &mut caches, &step, Logits::Last, SeqOwners::Plain)
        .unwrap();
    assert_eq!(logit_bits(&first[..1]), logit_bits(&second[1..2]));
    assert_eq!(bits(&caches[0]), bits(&caches[1]));
}

#[test]
fn a_bad_prompt_is_named_by_the_callers_index() {
    let m = model(32);
    let bad = vec![m.config.vocab_size as u32];
    let ps = vec![A.to_vec(), A.to_vec(), A.to_vec(), bad];
    let e = prefill(
        &m,
        &Cpu::new(),
        &ps,
        SeqOwners::Plain,
        &FreshCompact::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("sequence 3"), "{e}");
}

/// Hot enough for the tiny model's copies of a prompt to sample different continuations.
const TEMPERATURE: f32 = 20.0;

/// `ps` decoded together with top-p sampling keyed by `streams[s]`.
fn sampled(m: &Llama, ps: &[Vec<u32>], streams: &[u64]) -> Vec<Generation> {
    let opts = GreedyOptions {
        max_new_tokens: 12,
        stop_tokens: vec![3],
    };
    // The tiny model's tied head all but repeats the last token at temperature 1.
    let sampling = Sampling::top_p(TEMPERATURE, 1.0);
    let pick = |s: usize, step: usize, l: &[f32]| sampling.sample(l, 9, streams[s], step as u32);
    decode(m, &Cpu::new(), ps, SeqOwners::Plain, &opts, &pick).unwrap()
}

#[test]
fn decoding_repeated_prompts_matches_each_sequence_alone() {
    for d_model in [32, 64] {
        let m = model(d_model);
        let ps = prompts(&[A, A, B, A, C, B, A, A]);
        let streams: Vec<u64> = (0..ps.len() as u64).collect();
        let together = sampled(&m, &ps, &streams);
        for (s, g) in together.iter().enumerate() {
            let alone = sampled(&m, &ps[s..s + 1], &streams[s..s + 1]);
            assert_eq!(g, &alone[0], "sequence {s}, d_model {d_model}");
        }
        // The copies of A went their own ways: had they shared one cache, their continuations
        // would not each match their own decode alone.
        let of_a: std::collections::BTreeSet<_> = [0, 1, 3, 6, 7]
            .iter()
            .map(|&s| &together[s].tokens)
            .collect();
        assert!(
            of_a.len() > 1,
            "every copy of A sampled the same tokens: {together:?}"
        );
    }
}
