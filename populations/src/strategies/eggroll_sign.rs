//! EGGROLL with sign update factors: the JAX reference's `alteggroll`
//! (`ESHyperscale/HyperscaleES`, `src/hyperscalees/noiser/alteggroll.py`).
//!
//! Members are perturbed exactly as by [`super::eggroll`] (`W + s·(σ/√r)·A·Bᵀ`); the update
//! sums the signs of the factors instead of the factors themselves,
//! `(1/N) Σ_i w_i s_i (σ/√r) sign(A_i)·sign(B_i)ᵀ` (the reference's `_simple_lora_update`:
//! `σ·f·sign(s·A)/√r` against `sign(B)`, divided by N). Vectors (biases, norms) keep the
//! plain `w_i s_i σ ε_i`, and the fitness is shaped as for `eggroll`.

use crate::config::EsConfig;
use crate::error::Result;
use crate::strategy::{population_for, Strategy, StrategyState};
use eggroll_core::population::{NoiseKind, Population, UpdateFactors, Variant};

/// The `eggroll_sign` strategy.
pub struct EggrollSign {
    cfg: EsConfig,
}

impl EggrollSign {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        EggrollSign { cfg }
    }
}

impl Strategy for EggrollSign {
    fn name(&self) -> &'static str {
        "eggroll_sign"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn ask(&self, state: &StrategyState) -> Result<Population> {
        let kind = NoiseKind::LowRank {
            rank: self.cfg.rank,
        };
        Ok(
            population_for(&self.cfg, state, kind)?.with_variant(Variant {
                factors: UpdateFactors::Sign,
                baseline_group: 0,
            })?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::make_strategy;
    use eggroll_core::cpu::Cpu;
    use eggroll_core::params::{ParamShape, ParamSpec};
    use eggroll_core::Backend;

    /// The first update of a 3×2 matrix (N = 4, r = 1, σ = 0.5) on a fixed fitness, against
    /// the formula worked by hand from the noise the backend reports.
    #[test]
    fn first_update_equals_the_hand_computed_sign_sum() {
        let cfg = EsConfig {
            strategy: "eggroll_sign".into(),
            population: 4,
            rank: 1,
            sigma: 0.5,
            ..EsConfig::default()
        };
        let s = make_strategy(&cfg, 10).unwrap();
        let mut st = StrategyState {
            seed: 7,
            generation: 0,
            total_generations: 10,
        };
        let pop = s.ask(&st).unwrap();
        let spec = ParamSpec {
            name: "w".into(),
            id: 3,
            shape: ParamShape::Matrix { rows: 3, cols: 2 },
        };
        let cpu = Cpu::new();
        // Stream k's noise: B_k = elements 0..2 (in × r), A_k = elements 2..5 (out × r).
        let noise = |k| cpu.normals(pop.key(spec.id, k), 0, 5).unwrap();
        let signs = |k| -> Vec<f32> { noise(k).iter().map(|v| v.signum()).collect() };
        // The noise this test was worked from (signs of B_0, A_0 and of B_1, A_1).
        assert_eq!(signs(0), [-1.0, 1.0, 1.0, 1.0, -1.0], "{:?}", noise(0));
        assert_eq!(signs(1), [-1.0, 1.0, -1.0, 1.0, -1.0], "{:?}", noise(1));
        // Fitness [1, -1, 1, -1]: mean 0, variance 1, so w = f·k with k = 1/√(1 + 1e-5).
        let update = s.tell(&mut st, &pop, &[1.0, -1.0, 1.0, -1.0]).unwrap();
        let w = update.member_weights();
        let k = 1.0 / (1.0f64 + 1e-5).sqrt();
        // Pair coefficients c_0 = w_0 − w_1 = 2k and c_1 = w_2 − w_3 = 2k; the update is
        // (1/N)(σ/√r) Σ_k c_k sign(A_k) sign(B_k)ᵀ = (1/4)(1/2)(2k)(S_0 + S_1) = (k/4)(S_0 + S_1).
        // S_0 = sign(A_0) sign(B_0)ᵀ = [1 1 -1]ᵀ [-1 1]  = [[-1, 1], [-1, 1], [1, -1]]
        // S_1 = sign(A_1) sign(B_1)ᵀ = [-1 1 -1]ᵀ [-1 1] = [[1, -1], [-1, 1], [1, -1]]
        // S_0 + S_1 = [[0, 0], [-2, 2], [2, -2]].
        let want = [0.0, 0.0, -2.0, 2.0, 2.0, -2.0].map(|v: f64| (v * k / 4.0) as f32);
        let got = cpu.es_gradient(&pop, &spec, &w).unwrap();
        for (g, h) in got.iter().zip(want) {
            assert!((g - h).abs() <= 1e-6, "{got:?} vs {want:?}");
        }
        // Not what `eggroll` would give (the plain factors).
        let plain = cpu
            .es_gradient(
                &population_for(
                    &cfg,
                    &StrategyState {
                        generation: 0,
                        ..st
                    },
                    pop.kind,
                )
                .unwrap(),
                &spec,
                &w,
            )
            .unwrap();
        assert!(plain.iter().zip(&got).any(|(p, g)| (p - g).abs() > 1e-3));
    }
}
