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

    #[test]
    fn every_registered_strategy_asks_and_tells() {
        for name in strategy_names() {
            let cfg = EsConfig {
                strategy: name.into(),
                population: 8,
                ..EsConfig::default()
            };
            let s = make_strategy(&cfg, 10).expect("valid config");
            assert_eq!(s.name(), name);
            let mut st = StrategyState {
                seed: 1,
                generation: 0,
                total_generations: 10,
            };
            let pop = s.ask(&st).expect("ask");
            assert_eq!(pop.size, 8);
            let w = s
                .tell(&mut st, &pop, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
                .expect("tell");
            assert_eq!(w.member_weights().len(), 8);
            assert_eq!(st.generation, 1);
        }
    }

    #[test]
    fn unknown_names_list_the_registry() {
        let cfg = EsConfig {
            strategy: "cma".into(),
            ..EsConfig::default()
        };
        let err = make_strategy(&cfg, 1).err().expect("unknown");
        assert!(err.to_string().contains("eggroll, open_es"), "{err}");
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
