//! Strategies by name: one line per strategy.

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use crate::strategies::{eggroll::Eggroll, open_es::OpenEs};
use crate::strategy::Strategy;

type Constructor = fn(EsConfig) -> Box<dyn Strategy>;

const REGISTRY: &[(&str, Constructor)] = &[
    ("eggroll", |c| Box::new(Eggroll::new(c))),
    ("open_es", |c| Box::new(OpenEs::new(c))),
];

/// Names of every registered strategy.
pub fn strategy_names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(n, _)| *n).collect()
}

/// Build the strategy `cfg.strategy` after validating `cfg` for a run of `generations`.
pub fn make_strategy(cfg: &EsConfig, generations: u64) -> Result<Box<dyn Strategy>> {
    let (_, ctor) = REGISTRY
        .iter()
        .find(|(n, _)| *n == cfg.strategy)
        .ok_or_else(|| PopulationError::UnknownStrategy {
            name: cfg.strategy.clone(),
            known: strategy_names().join(", "),
        })?;
    cfg.validate(generations)?;
    Ok(ctor(cfg.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::StrategyState;
    use eggroll_core::population::NoiseKind;

    /// The noise each registered strategy must ask for with rank `rank` (a new strategy
    /// must be added here, so that its population is checked too).
    fn expected_kind(name: &str, rank: u32) -> NoiseKind {
        match name {
            "eggroll" => NoiseKind::LowRank { rank },
            "open_es" => NoiseKind::Full,
            other => panic!("strategy `{other}` is registered but has no expected noise kind"),
        }
    }

    #[test]
    fn every_registered_strategy_asks_the_configured_population_and_tells() {
        assert!(!strategy_names().is_empty());
        for name in strategy_names() {
            // Values other than the defaults, so a strategy ignoring its config is caught.
            let cfg = EsConfig {
                strategy: name.into(),
                population: 6,
                rank: 3,
                sigma: 0.125,
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
            assert_eq!(pop.size, 6, "{name}: population size");
            assert_eq!(pop.sigma, 0.125, "{name}: sigma");
            assert_eq!(pop.kind, expected_kind(name, 3), "{name}: noise kind");
            assert_eq!((pop.seed, pop.epoch), (11, 2), "{name}: noise key");
            assert!(pop.antithetic, "{name}: antithetic");
            let w = s
                .tell(&mut st, &pop, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
                .expect("tell")
                .member_weights();
            assert_eq!(w.len(), 6);
            // z-scored: mean 0, and fitter members weigh more.
            assert!(w.iter().sum::<f32>().abs() < 1e-5, "{name}: {w:?}");
            assert!(w.windows(2).all(|p| p[0] < p[1]), "{name}: {w:?}");
            assert_eq!(st.generation, 3);
        }
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
