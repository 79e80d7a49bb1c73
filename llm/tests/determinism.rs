//! Results are bit-identical for any thread count: population scores and hidden states under
//! rayon pools of 1 and 2 threads, and different chunk sizes (whole runs: the root package's
//! `tests/egg.rs`).
#![allow(clippy::unwrap_used)]

mod common;

use eggroll_llm::egg::data::Streams;
use eggroll_llm::egg::evaluate::{evaluate_population, PopulationSpec};
use eggroll_llm::egg::params::Weights;

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
}

#[test]
fn population_scores_do_not_depend_on_threads_or_chunks() {
    let text = common::tiny_text(4000);
    let w = Weights::init(32, 2, 5);
    let run = |threads: usize, chunk: usize| {
        pool(threads).install(|| {
            let mut streams = Streams::new(12, text.len(), 20);
            let mut hidden = vec![0i8; 24 * 2 * 32];
            let mut all = Vec::new();
            for g in 0..2 {
                let (wins, resets) = streams.windows(&text, 20);
                let spec = PopulationSpec {
                    seed: 3,
                    epoch: g,
                    rank: 2,
                    sigma_shift: 3,
                    chunk_members: chunk,
                    share_pair_state: g == 0,
                };
                all.extend(
                    evaluate_population(&w, spec, 0, &wins, &resets, &mut hidden, None).unwrap(),
                );
                streams.advance(20);
            }
            (all, hidden)
        })
    };
    let a = run(1, 24);
    assert_eq!(a, run(2, 4));
    assert_eq!(a, run(2, 6));
    // Members really differ (the test would pass vacuously otherwise).
    assert!(a.0.iter().any(|&s| s != a.0[0]));
}
