//! Strategies by name: one line per strategy.
//!
//! A noise strategy ([`Strategy`]) perturbs whatever model a run trains with the backend's
//! noise; a search strategy ([`SearchStrategy`]) keeps its own distribution over a host-side
//! vector and runs on `[model] kind = "vector"` (the benchmark problems). Each constructor
//! is refused, with a sentence naming `es.strategy`, where the other kind is asked for.

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use crate::search::relay::Relay;
use crate::search::{check_search_config, SearchStrategy};
use crate::strategies::{
    cem::Cem, cma_es::CmaEs, eggroll::Eggroll, eggroll_baseline::EggrollBaseline,
    eggroll_sign::EggrollSign, ga::Ga, open_es::OpenEs, pgpe::Pgpe, sep_cma_es::SepCmaEs,
    snes::Snes, xnes::Xnes,
};
use crate::strategy::Strategy;

/// How a registered strategy is built.
enum Constructor {
    /// A noise strategy over any model.
    Noise(fn(EsConfig) -> Result<Box<dyn Strategy>>),
    /// A search strategy over a host-side vector.
    Search(fn(EsConfig) -> Result<Box<dyn SearchStrategy>>),
}

const REGISTRY: &[(&str, Constructor)] = &[
    (
        "eggroll",
        Constructor::Noise(|c| Ok(Box::new(Eggroll::new(c)))),
    ),
    (
        "open_es",
        Constructor::Noise(|c| Ok(Box::new(OpenEs::new(c)))),
    ),
    (
        "eggroll_sign",
        Constructor::Noise(|c| Ok(Box::new(EggrollSign::new(c)))),
    ),
    (
        "eggroll_baseline",
        Constructor::Noise(|c| Ok(Box::new(EggrollBaseline::new(c)?))),
    ),
    ("pgpe", Constructor::Search(|c| Ok(Box::new(Pgpe::new(c)?)))),
    ("snes", Constructor::Search(|c| Ok(Box::new(Snes::new(c))))),
    ("xnes", Constructor::Search(|c| Ok(Box::new(Xnes::new(c))))),
    (
        "sep_cma_es",
        Constructor::Search(|c| Ok(Box::new(SepCmaEs::new(c)))),
    ),
    (
        "cma_es",
        Constructor::Search(|c| Ok(Box::new(CmaEs::new(c)))),
    ),
    ("cem", Constructor::Search(|c| Ok(Box::new(Cem::new(c))))),
    ("ga", Constructor::Search(|c| Ok(Box::new(Ga::new(c))))),
];

/// Names of every registered strategy.
pub fn strategy_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(n, _)| *n).collect()
}

/// Names of the registered search strategies.
pub fn search_strategy_names() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|(_, c)| matches!(c, Constructor::Search(_)))
        .map(|(n, _)| *n)
        .collect()
}

/// Whether `name` is a registered search strategy.
pub fn is_search_strategy(name: &str) -> bool {
    search_strategy_names().contains(&name)
}

fn lookup(cfg: &EsConfig) -> Result<&'static Constructor> {
    REGISTRY
        .iter()
        .find(|(n, _)| *n == cfg.strategy)
        .map(|(_, c)| c)
        .ok_or_else(|| PopulationError::UnknownStrategy {
            name: cfg.strategy.clone(),
            known: strategy_names().join(", "),
        })
}

/// Build the noise strategy `cfg.strategy` after validating `cfg` for a run of `generations`.
pub fn make_strategy(cfg: &EsConfig, generations: u64) -> Result<Box<dyn Strategy>> {
    match lookup(cfg)? {
        Constructor::Noise(ctor) => {
            cfg.validate(generations)?;
            ctor(cfg.clone())
        }
        Constructor::Search(_) => Err(PopulationError::Invalid {
            key: "strategy".into(),
            why: format!(
                "`{}` keeps its own search distribution (per-coordinate σ, covariance or elites) over a host-side parameter vector, not the model's isotropic noise, so it trains [model] kind = \"vector\" (the benchmark task) only; models use {}",
                cfg.strategy,
                noise_strategy_names().join(", ")
            ),
        }),
    }
}

/// Build the search strategy `cfg.strategy` for dimension `dim` after validating `cfg`.
pub fn make_search_strategy(
    cfg: &EsConfig,
    generations: u64,
    dim: usize,
) -> Result<Box<dyn SearchStrategy>> {
    match lookup(cfg)? {
        Constructor::Search(ctor) => {
            cfg.validate(generations)?;
            check_search_config(cfg)?;
            let s = ctor(cfg.clone())?;
            s.check_dim(dim)?;
            Ok(s)
        }
        Constructor::Noise(_) => Err(PopulationError::Invalid {
            key: "strategy".into(),
            why: format!(
                "`{}` perturbs a model's tensors with the backend's noise; a host-side vector is searched by {}",
                cfg.strategy,
                search_strategy_names().join(", ")
            ),
        }),
    }
}

/// The loop's strategy for a run whose learner holds the search strategy `cfg.strategy`
/// itself: a [`Relay`] of the raw fitness (refused for a noise strategy).
pub fn make_relay(cfg: &EsConfig, generations: u64) -> Result<Box<dyn Strategy>> {
    let name = strategy_names()
        .into_iter()
        .find(|n| *n == cfg.strategy)
        .ok_or_else(|| PopulationError::UnknownStrategy {
            name: cfg.strategy.clone(),
            known: strategy_names().join(", "),
        })?;
    // The same checks (and refusal of a noise strategy) as building the strategy itself.
    make_search_strategy(cfg, generations, 1)?;
    Ok(Box::new(Relay::new(name, cfg.clone())))
}

/// Names of the registered noise strategies (they perturb any model with the backend's noise).
pub fn noise_strategy_names() -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|(_, c)| matches!(c, Constructor::Noise(_)))
        .map(|(n, _)| *n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::StrategyState;
    use eggroll_core::population::{NoiseKind, UpdateFactors, Variant};

    /// The noise each registered strategy must ask for with rank `rank` (a new strategy
    /// must be added here, so that its population is checked too).
    fn expected_kind(name: &str, rank: u32) -> NoiseKind {
        match name {
            "eggroll" | "eggroll_sign" | "eggroll_baseline" => NoiseKind::LowRank { rank },
            "open_es" => NoiseKind::Full,
            other => panic!("strategy `{other}` is registered but has no expected noise kind"),
        }
    }

    /// The variant each registered noise strategy must ask for with groups of `g`.
    fn expected_variant(name: &str, g: u32) -> Variant {
        match name {
            "eggroll" | "open_es" => Variant::default(),
            "eggroll_sign" => Variant {
                factors: UpdateFactors::Sign,
                baseline_group: 0,
            },
            "eggroll_baseline" => Variant {
                factors: UpdateFactors::Plain,
                baseline_group: g,
            },
            other => panic!("strategy `{other}` is registered but has no expected variant"),
        }
    }

    #[test]
    fn every_registered_noise_strategy_asks_the_configured_population_and_tells() {
        assert!(!noise_strategy_names().is_empty());
        for name in noise_strategy_names() {
            // Values other than the defaults, so a strategy ignoring its config is caught.
            let group_size = if name == "eggroll_baseline" { 4 } else { 1 };
            let cfg = EsConfig {
                strategy: name.into(),
                population: 8,
                rank: 3,
                sigma: 0.125,
                group_size,
                ..EsConfig::default()
            };
            let s = make_strategy(&cfg, 10).expect("valid config");
            assert_eq!(s.name(), name);
            assert_eq!(s.config(), &cfg, "{name}");
            let mut st = StrategyState {
                seed: 11,
                generation: 2,
                total_generations: 10,
            };
            let pop = s.ask(&st).expect("ask");
            assert_eq!(pop.size, 8, "{name}: population size");
            assert_eq!(pop.sigma, 0.125, "{name}: sigma");
            assert_eq!(pop.kind, expected_kind(name, 3), "{name}: noise kind");
            assert_eq!(pop.variant(), expected_variant(name, 4), "{name}: variant");
            assert_eq!((pop.seed, pop.epoch), (11, 2), "{name}: noise key");
            assert!(pop.antithetic, "{name}: antithetic");
            let w = s
                .tell(&mut st, &pop, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
                .expect("tell")
                .member_weights();
            assert_eq!(w.len(), 8);
            if name == "eggroll_baseline" {
                // Baseline members weigh 0; the others (f − f₀)/std, fitter ones more.
                for g in w.chunks(4) {
                    assert_eq!(g[..2], [0.0, 0.0], "{name}: {w:?}");
                    assert!(0.0 < g[2] && g[2] < g[3], "{name}: {w:?}");
                }
            } else {
                // z-scored: mean 0, and fitter members weigh more.
                assert!(w.iter().sum::<f32>().abs() < 1e-5, "{name}: {w:?}");
                assert!(w.windows(2).all(|p| p[0] < p[1]), "{name}: {w:?}");
            }
            assert_eq!(st.generation, 3);
        }
    }

    #[test]
    fn each_kind_is_refused_where_the_other_is_needed() {
        for name in strategy_names() {
            let cfg = EsConfig {
                strategy: name.into(),
                // eggroll_baseline's groups hold its two baseline members and a pair.
                group_size: if name == "eggroll_baseline" { 4 } else { 1 },
                ..EsConfig::default()
            };
            let (noise, search) = (make_strategy(&cfg, 5), make_search_strategy(&cfg, 5, 4));
            assert_ne!(noise.is_ok(), search.is_ok(), "{name}");
            let err = match (noise, search) {
                (Err(e), _) | (_, Err(e)) => e.to_string(),
                _ => unreachable!(),
            };
            assert!(err.contains("es.strategy") && err.contains(name), "{err}");
        }
        let big = EsConfig {
            strategy: "cma_es".into(),
            ..EsConfig::default()
        };
        let err = make_search_strategy(&big, 5, 5000)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("es.strategy") && err.contains("1000"), "{err}");
    }

    #[test]
    fn the_relay_passes_raw_fitness_on() {
        let cfg = EsConfig {
            strategy: "snes".into(),
            population: 4,
            ..EsConfig::default()
        };
        let r = make_relay(&cfg, 10).unwrap();
        assert_eq!(r.name(), "snes");
        let mut st = StrategyState {
            seed: 1,
            generation: 0,
            total_generations: 10,
        };
        let pop = r.ask(&st).unwrap();
        assert_eq!(pop.size, 4);
        let f = [3.0, -1.0, 2.5, 0.0];
        let update = r.tell(&mut st, &pop, &f).unwrap();
        assert_eq!(update, eggroll_core::learner::Update::Fitness(f.to_vec()));
        assert_eq!(st.generation, 1);
        let noise = EsConfig {
            strategy: "eggroll".into(),
            ..EsConfig::default()
        };
        let err = make_relay(&noise, 10).err().unwrap().to_string();
        assert!(err.contains("es.strategy"), "{err}");
    }

    #[test]
    fn unknown_names_are_errors_listing_the_registry() {
        let cfg = EsConfig {
            strategy: "cma".into(),
            ..EsConfig::default()
        };
        let err = make_strategy(&cfg, 1).err().expect("unknown");
        assert!(
            matches!(&err, PopulationError::UnknownStrategy { name, .. } if name == "cma"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("`cma`"), "{msg}");
        for known in strategy_names() {
            assert!(msg.contains(known), "`{known}` missing from: {msg}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        for (cfg, key) in [
            (
                EsConfig {
                    rank: 0,
                    ..EsConfig::default()
                },
                "rank",
            ),
            (
                EsConfig {
                    population: 7,
                    ..EsConfig::default()
                },
                "population",
            ),
            (
                EsConfig {
                    sigma: 0.0,
                    ..EsConfig::default()
                },
                "sigma",
            ),
            (
                EsConfig {
                    sigma: -1.0,
                    ..EsConfig::default()
                },
                "sigma",
            ),
            (
                EsConfig {
                    noise_reuse: 0,
                    ..EsConfig::default()
                },
                "noise_reuse",
            ),
            (
                EsConfig {
                    group_size: 3,
                    ..EsConfig::default()
                },
                "group_size",
            ),
        ] {
            let err = make_strategy(&cfg, 10).err().expect("invalid");
            assert!(err.to_string().contains(&format!("es.{key}")), "{err}");
        }
    }
}
