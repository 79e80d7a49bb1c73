//! PGPE: policy gradients with parameter-based exploration (Sehnke et al. 2010, symmetric
//! sampling), with per-coordinate σ, centred-rank fitness and the ClipUp optimiser (Toklu et
//! al. 2020) for the centre.
//!
//! Pair k draws `ε_k = σ ⊙ z_k`; members `2k`, `2k+1` are `μ ± ε_k` (so `es.antithetic` must
//! be true). With centred ranks `u` and `K` pairs:
//! `g_μ = (1/K) Σ_k (u⁺_k − u⁻_k)/2 · ε_k`,
//! `g_σ = (1/K) Σ_k ((u⁺_k + u⁻_k)/2 − b) (ε_k² − σ²)/σ` with baseline `b = mean(u) = 0`.
//! ClipUp: `v ← 0.9 v + α g_μ/‖g_μ‖`, clipped to ‖v‖ ≤ 2α, `μ ← μ + v` (α = `es.center_lr`,
//! default `es.sigma`); `σ ← σ + 0.1 g_σ`, each coordinate kept within ±20% of its old value.

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use crate::search::noise::standard_normal;
use crate::search::utility::centred_ranks;
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// ClipUp's momentum.
const MOMENTUM: f64 = 0.9;
/// σ's learning rate.
const SIGMA_LR: f64 = 0.1;
/// Largest relative change of σ per generation.
const SIGMA_MAX_CHANGE: f64 = 0.2;

/// The PGPE strategy.
pub struct Pgpe {
    cfg: EsConfig,
}

impl Pgpe {
    /// Build from a validated config (refusing a non-antithetic population).
    pub fn new(cfg: EsConfig) -> Result<Self> {
        if !cfg.antithetic {
            return Err(PopulationError::Invalid {
                key: "antithetic".into(),
                why: "pgpe samples symmetric pairs μ ± ε, so it needs antithetic = true".into(),
            });
        }
        Ok(Pgpe { cfg })
    }

    fn center_lr(&self) -> f64 {
        self.cfg.center_lr.unwrap_or(self.cfg.sigma / 5.0)
    }
}

impl SearchStrategy for Pgpe {
    fn name(&self) -> &'static str {
        "pgpe"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState> {
        let d = x0.len();
        let mut st = SearchState::new(self.name(), seed, x0, 1.0);
        st.set("stdev", vec![self.cfg.sigma; d]);
        st.set("velocity", vec![0.0; d]);
        Ok(st)
    }

    fn member(&self, st: &SearchState, member: u32, out: &mut [f64]) -> Result<()> {
        check_out(st, out)?;
        standard_normal(st.seed, st.generation, member, true, out);
        for ((o, m), s) in out.iter_mut().zip(&st.mean).zip(st.field("stdev")?) {
            *o = m + s * *o;
        }
        Ok(())
    }

    fn tell(&self, st: &mut SearchState, fitness: &[f32]) -> Result<()> {
        check_tell(self, st, fitness)?;
        let d = st.dim();
        let u = centred_ranks(fitness);
        let pairs = fitness.len() / 2;
        let stdev = st.field("stdev")?.to_vec();
        let baseline = u.iter().sum::<f64>() / u.len() as f64;
        let (mut g_mu, mut g_sigma) = (vec![0.0; d], vec![0.0; d]);
        let mut z = vec![0.0; d];
        for k in 0..pairs {
            standard_normal(st.seed, st.generation, 2 * k as u32, true, &mut z);
            let (up, um) = (u[2 * k], u[2 * k + 1]);
            for j in 0..d {
                let eps = stdev[j] * z[j];
                g_mu[j] += (up - um) / 2.0 * eps;
                g_sigma[j] +=
                    ((up + um) / 2.0 - baseline) * (eps * eps - stdev[j] * stdev[j]) / stdev[j];
            }
        }
        let alpha = self.center_lr();
        let norm = g_mu.iter().map(|g| g * g).sum::<f64>().sqrt() / pairs as f64;
        let v = st.field_mut("velocity")?;
        for (vj, g) in v.iter_mut().zip(&g_mu) {
            let step = if norm > 0.0 {
                alpha * (g / pairs as f64) / norm
            } else {
                0.0
            };
            *vj = MOMENTUM * *vj + step;
        }
        let speed = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if speed > 2.0 * alpha {
            let scale = 2.0 * alpha / speed;
            v.iter_mut().for_each(|x| *x *= scale);
        }
        let v = v.clone();
        st.mean.iter_mut().zip(&v).for_each(|(m, vj)| *m += vj);
        let new_sigma: Vec<f64> = stdev
            .iter()
            .zip(&g_sigma)
            .map(|(s, g)| {
                (s + SIGMA_LR * g / pairs as f64)
                    .clamp(s * (1.0 - SIGMA_MAX_CHANGE), s * (1.0 + SIGMA_MAX_CHANGE))
            })
            .collect();
        st.set("stdev", new_sigma);
        st.generation += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_follows_the_papers_formulas() {
        let cfg = EsConfig {
            strategy: "pgpe".into(),
            population: 4,
            sigma: 0.5,
            center_lr: Some(0.1),
            ..EsConfig::default()
        };
        let s = Pgpe::new(cfg).unwrap();
        let mut st = s.init(7, vec![1.0, -2.0]).unwrap();
        let (mut z0, mut z1) = ([0.0; 2], [0.0; 2]);
        standard_normal(7, 0, 0, true, &mut z0);
        standard_normal(7, 0, 2, true, &mut z1);
        // Fitness 4, 3 | 1, 2: centred ranks 0.5, 1/6 | −0.5, −1/6 (pair sums ≠ 0, so σ moves).
        s.tell(&mut st, &[4.0, 3.0, 1.0, 2.0]).unwrap();
        let (u0p, u0m, u1p, u1m) = (0.5, 1.0 / 6.0, -0.5, -1.0 / 6.0);
        let mut g = [0.0; 2];
        let mut gs = [0.0; 2];
        for j in 0..2 {
            let (e0, e1) = (0.5 * z0[j], 0.5 * z1[j]);
            g[j] = ((u0p - u0m) / 2.0 * e0 + (u1p - u1m) / 2.0 * e1) / 2.0;
            gs[j] = ((u0p + u0m) / 2.0 * (e0 * e0 - 0.25) / 0.5
                + (u1p + u1m) / 2.0 * (e1 * e1 - 0.25) / 0.5)
                / 2.0;
        }
        let norm = (g[0] * g[0] + g[1] * g[1]).sqrt();
        // v = 0.1·g/‖g‖ (‖v‖ = 0.1 ≤ 2·0.1, no clip).
        let want_mean = [1.0 + 0.1 * g[0] / norm, -2.0 + 0.1 * g[1] / norm];
        for j in 0..2 {
            assert!((st.mean[j] - want_mean[j]).abs() < 1e-12, "{:?}", st.mean);
            let want_s = (0.5 + 0.1 * gs[j]).clamp(0.4, 0.6);
            assert!((st.field("stdev").unwrap()[j] - want_s).abs() < 1e-12);
        }
        assert_eq!(st.generation, 1);
    }

    #[test]
    fn symmetric_sampling_needs_antithetic_pairs() {
        let cfg = EsConfig {
            strategy: "pgpe".into(),
            antithetic: false,
            ..EsConfig::default()
        };
        let err = Pgpe::new(cfg).err().unwrap().to_string();
        assert!(err.contains("es.antithetic"), "{err}");
    }
}
