//! Registry-wide tests of every search strategy: exact resume through the serialised state,
//! bit-identical members and updates however the population is split over workers, progress
//! on a sphere, and the config honoured.

use crate::config::EsConfig;
use crate::problems::{Problem, ProblemKind};
use crate::registry::{make_search_strategy, search_strategy_names};
use crate::search::{SearchState, SearchStrategy};
use crate::shard::shard_range;

const DIM: usize = 6;
const POP: u32 = 8;

fn strategy(name: &str, sigma: f64) -> Box<dyn SearchStrategy> {
    let cfg = EsConfig {
        strategy: name.into(),
        population: POP,
        sigma,
        ..EsConfig::default()
    };
    make_search_strategy(&cfg, 100, DIM).expect("valid config")
}

/// Fitness of every member, computed by `workers` threads each scoring its shard (in reverse
/// member order, so order cannot matter).
fn fitness(s: &dyn SearchStrategy, st: &SearchState, p: &Problem, workers: u32) -> Vec<f32> {
    let parts: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    let range = shard_range(POP, workers, w);
                    let mut x = vec![0.0; DIM];
                    let mut out: Vec<f32> = range
                        .rev()
                        .map(|m| {
                            s.member(st, m, &mut x).unwrap();
                            -(p.value(&x) as f32)
                        })
                        .collect();
                    out.reverse();
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    parts.concat()
}

fn run(s: &dyn SearchStrategy, st: &mut SearchState, p: &Problem, gens: u64, workers: u32) {
    for _ in 0..gens {
        let f = fitness(s, st, p, workers);
        s.tell(st, &f).unwrap();
    }
}

fn sphere() -> Problem {
    Problem::new(ProblemKind::Sphere, DIM, 1.0, 4).unwrap()
}

#[test]
fn resume_through_the_serialised_state_is_exact() {
    let p = sphere();
    for name in search_strategy_names() {
        let s = strategy(name, 0.4);
        let mut straight = s.init(21, vec![0.0; DIM]).unwrap();
        run(&*s, &mut straight, &p, 8, 1);
        let mut first = s.init(21, vec![0.0; DIM]).unwrap();
        run(&*s, &mut first, &p, 3, 1);
        let json = serde_json::to_string(&first).unwrap();
        let mut resumed: SearchState = serde_json::from_str(&json).unwrap();
        assert_eq!(resumed, first, "{name}: the state round-trips");
        run(&*s, &mut resumed, &p, 5, 1);
        assert_eq!(resumed, straight, "{name}: resumed run differs");
        assert_eq!(resumed.generation, 8);
    }
}

#[test]
fn members_and_updates_are_bit_identical_across_worker_counts() {
    let p = sphere();
    for name in search_strategy_names() {
        let s = strategy(name, 0.4);
        let mut one = s.init(5, vec![0.0; DIM]).unwrap();
        run(&*s, &mut one, &p, 4, 1);
        for workers in [2, 3, 8] {
            let mut many = s.init(5, vec![0.0; DIM]).unwrap();
            run(&*s, &mut many, &p, 4, workers);
            assert_eq!(many, one, "{name}: {workers} workers");
        }
    }
}

#[test]
fn every_search_strategy_makes_progress_on_a_sphere() {
    let p = sphere();
    for name in search_strategy_names() {
        let s = strategy(name, 0.4);
        let mut st = s.init(1, vec![0.0; DIM]).unwrap();
        let before = p.value(&st.mean);
        run(&*s, &mut st, &p, 60, 1);
        let after = p.value(&st.mean);
        assert!(after < 0.5 * before, "{name}: {before} → {after}");
    }
}

#[test]
fn the_config_is_honoured() {
    for name in search_strategy_names() {
        // σ scales the members' spread around the centre.
        let spread = |sigma: f64| {
            let s = strategy(name, sigma);
            let st = s.init(3, vec![0.0; DIM]).unwrap();
            let mut x = vec![0.0; DIM];
            s.member(&st, 0, &mut x).unwrap();
            x.iter().map(|v| v.abs()).sum::<f64>()
        };
        let (a, b) = (spread(0.1), spread(0.2));
        assert!((b / a - 2.0).abs() < 1e-9, "{name}: {a} {b}");
        // The population size is checked.
        let s = strategy(name, 0.1);
        let mut st = s.init(3, vec![0.0; DIM]).unwrap();
        let err = s.tell(&mut st, &[0.0; 5]).err().unwrap().to_string();
        assert!(err.contains(name) && err.contains('8'), "{err}");
        // A state of another strategy is refused.
        let other = if name == "snes" { "cem" } else { "snes" };
        let mut st = strategy(other, 0.1).init(3, vec![0.0; DIM]).unwrap();
        assert!(s.tell(&mut st, &[0.0; 8]).is_err(), "{name}");
    }
}
