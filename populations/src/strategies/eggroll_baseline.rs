//! EGGROLL with baseline subtraction: the JAX reference's `eggrollbs`
//! (`ESHyperscale/HyperscaleES`, `src/hyperscalees/noiser/eggroll_baseline_subtraction.py`).
//!
//! Members 0 and 1 of every group of `es.group_size` consecutive members run unperturbed
//! (their sign is 0, in the forward and in the update). Each group's fitness is shaped as
//! `(f − f₀)/(std + 1e-8)`, where `f₀` is the fitness of the group's member 0 and `std` the
//! population standard deviation of the group's G fitness values, baseline members included;
//! the baseline members' weights are then 0 (the reference's `convert_fitnesses`). The update
//! is EGGROLL's `(1/N) Σ_i w_i s_i (σ/√r) A_i B_iᵀ` over all N members.
//!
//! Two differences from the reference, both from the shape of this framework: the reference
//! reshapes the fitness into (prompts × G) with the same G noise directions on every prompt and
//! averages the shaped rows, whereas here every member has its own noise and a task's several
//! scores per member are combined before the strategy sees them, so each member's weight is
//! its own group's z; and the reference chains `optax.clip_by_global_norm(1.0)` before its
//! solver as a trust region, which the optimiser here does not have (see `docs/strategies.md`).

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use crate::strategy::{population_for, Strategy, StrategyState};
use eggroll_core::learner::Update;
use eggroll_core::population::{NoiseKind, Population, UpdateFactors, Variant};
use eggroll_core::shaping::Shaping;

/// The reference's `eps` in `(f − f₀)/(std + eps)`.
const EPS: f64 = 1e-8;

/// The `eggroll_baseline` strategy.
pub struct EggrollBaseline {
    cfg: EsConfig,
}

impl EggrollBaseline {
    /// Build from a validated config, checking what the baseline needs of it.
    pub fn new(cfg: EsConfig) -> Result<Self> {
        let g = cfg.group_size;
        let min = if cfg.antithetic { 4 } else { 3 };
        if g < min || (cfg.antithetic && !g.is_multiple_of(2)) {
            return Err(PopulationError::Invalid {
                key: "group_size".into(),
                why: format!(
                    "{g} does not suit strategy `eggroll_baseline`: members 0 and 1 of every group run unperturbed as its baseline, so a group needs at least {min} members{}",
                    if cfg.antithetic { ", and an even number so that antithetic pairs stay whole" } else { "" }
                ),
            });
        }
        if cfg.shaping != Shaping::ZScore {
            return Err(PopulationError::Invalid {
                key: "shaping".into(),
                why: format!(
                    "strategy `eggroll_baseline` shapes fitness itself, (f − f₀)/std per group; leave es.shaping at its default (not {:?})",
                    cfg.shaping
                ),
            });
        }
        Ok(EggrollBaseline { cfg })
    }
}

/// Shape `fitness` per group of `g`: `(f − f₀)/(std + 1e-8)`, 0 for members 0 and 1.
pub fn baseline_weights(fitness: &[f32], g: usize) -> Result<Vec<f32>> {
    if let Some(i) = fitness.iter().position(|f| !f.is_finite()) {
        return Err(eggroll_core::CoreError::invalid(
            "fitness",
            format!("member {i} has non-finite fitness {}", fitness[i]),
        )
        .into());
    }
    if g < 3 || !fitness.len().is_multiple_of(g) {
        return Err(PopulationError::Invalid {
            key: "group_size".into(),
            why: format!(
                "{g} does not divide {} fitness values into baseline groups",
                fitness.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(fitness.len());
    for group in fitness.chunks(g) {
        let f: Vec<f64> = group.iter().map(|&x| x as f64).collect();
        let mean = f.iter().sum::<f64>() / g as f64;
        let std = (f.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / g as f64).sqrt();
        let inv = 1.0 / (std + EPS);
        out.extend([0.0, 0.0]);
        out.extend(f[2..].iter().map(|x| ((x - f[0]) * inv) as f32));
    }
    Ok(out)
}

impl Strategy for EggrollBaseline {
    fn name(&self) -> &'static str {
        "eggroll_baseline"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn ask(&self, state: &StrategyState) -> Result<Population> {
        let kind = NoiseKind::LowRank {
            rank: self.cfg.rank,
        };
        let g = u32::try_from(self.cfg.group_size).map_err(|_| PopulationError::Invalid {
            key: "group_size".into(),
            why: format!("{} is larger than any population", self.cfg.group_size),
        })?;
        Ok(
            population_for(&self.cfg, state, kind)?.with_variant(Variant {
                factors: UpdateFactors::Plain,
                baseline_group: g,
            })?,
        )
    }

    fn tell(
        &self,
        state: &mut StrategyState,
        population: &Population,
        fitness: &[f32],
    ) -> Result<Update> {
        if fitness.len() != population.size as usize {
            return Err(eggroll_core::CoreError::shape(
                "fitness",
                population.size as usize,
                fitness.len(),
            )
            .into());
        }
        let w = baseline_weights(fitness, self.cfg.group_size)?;
        state.generation += 1;
        Ok(Update::Direction(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::make_strategy;
    use eggroll_core::cpu::Cpu;
    use eggroll_core::params::{ParamShape, ParamSpec};
    use eggroll_core::Backend;

    fn cfg(g: usize) -> EsConfig {
        EsConfig {
            strategy: "eggroll_baseline".into(),
            population: 8,
            rank: 1,
            sigma: 0.5,
            group_size: g,
            ..EsConfig::default()
        }
    }

    #[test]
    fn weights_follow_the_reference_formula() {
        // Group [2, 2, 5, 1]: f₀ = 2, mean 2.5, population std 1.5.
        let w = baseline_weights(&[2.0, 2.0, 5.0, 1.0, 0.0, 9.0, 1.0, 1.0], 4).unwrap();
        let s2 = ((0.0f64 + 81.0 + 1.0 + 1.0) / 4.0 - (11.0f64 / 4.0).powi(2)).sqrt();
        let want = [0.0, 0.0, 2.0, -2.0 / 3.0, 0.0, 0.0, 1.0 / s2, 1.0 / s2];
        for (g, h) in w.iter().zip(want) {
            assert!((*g as f64 - h).abs() < 1e-6, "{w:?} vs {want:?}");
        }
        // A flat group gives zeros, not NaN.
        assert_eq!(baseline_weights(&[3.0; 4], 4).unwrap(), [0.0; 4]);
        assert!(baseline_weights(&[1.0, f32::NAN, 0.0, 0.0], 4).is_err());
    }

    #[test]
    fn groups_that_cannot_hold_a_baseline_are_refused() {
        for g in [1, 2, 8 + 1] {
            let err = make_strategy(
                &EsConfig {
                    population: 18,
                    ..cfg(g)
                },
                5,
            )
            .err()
            .unwrap()
            .to_string();
            assert!(err.contains("es.group_size"), "{err}");
        }
        let err = make_strategy(
            &EsConfig {
                shaping: Shaping::CenteredRanks,
                ..cfg(4)
            },
            5,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("es.shaping") && err.contains("eggroll_baseline"),
            "{err}"
        );
    }

    /// The first update of a 3×2 matrix (N = 4, G = 4, r = 1, σ = 0.5) on a fixed fitness,
    /// against the formula worked by hand from the noise the backend reports.
    #[test]
    fn first_update_equals_the_hand_computed_one() {
        let c = EsConfig {
            population: 4,
            ..cfg(4)
        };
        let s = make_strategy(&c, 10).unwrap();
        let mut st = StrategyState {
            seed: 7,
            generation: 0,
            total_generations: 10,
        };
        let pop = s.ask(&st).unwrap();
        let signs: Vec<f32> = (0..4).map(|m| pop.sign_of(m)).collect();
        assert_eq!(signs, [0.0, 0.0, 1.0, -1.0]);
        let spec = ParamSpec {
            name: "w".into(),
            id: 3,
            shape: ParamShape::Matrix { rows: 3, cols: 2 },
        };
        let cpu = Cpu::new();
        // Stream 1 (members 2 and 3): B_1 = elements 0..2, A_1 = elements 2..5.
        let z = cpu.normals(pop.key(spec.id, 1), 0, 5).unwrap();
        // Fitness [2, 2, 5, 1]: f₀ = 2, std 1.5, so w = [0, 0, 2, −2/3] and c_1 = w_2 − w_3 = 8/3
        // (c_0 = 0: the baseline pair). Update = (1/N)(σ/√r) c_1 A_1 B_1ᵀ = (1/3) A_1 B_1ᵀ.
        let update = s.tell(&mut st, &pop, &[2.0, 2.0, 5.0, 1.0]).unwrap();
        let w = update.member_weights();
        assert_eq!(w[..2], [0.0, 0.0]);
        let got = cpu.es_gradient(&pop, &spec, &w).unwrap();
        let (b, a) = (&z[..2], &z[2..]);
        for o in 0..3 {
            for i in 0..2 {
                let want = a[o] as f64 * b[i] as f64 / 3.0;
                assert!((got[o * 2 + i] as f64 - want).abs() < 1e-6, "{got:?} {z:?}");
            }
        }
        // Baseline members carry no update even with non-zero weights.
        let other = cpu
            .es_gradient(&pop, &spec, &[9.0, -4.0, w[2], w[3]])
            .unwrap();
        assert_eq!(other, got);
    }
}
