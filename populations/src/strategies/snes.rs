//! SNES: separable natural evolution strategies (Schaul, Glasmachers & Schmidhuber 2011).
//!
//! Members `x_k = μ + σ ⊙ z_k` (per-coordinate σ). With the NES utilities `u` by rank:
//! `∇μ = Σ u_k z_k`, `∇σ = Σ u_k (z_k² − 1)`, `μ ← μ + η_μ σ ⊙ ∇μ` (η_μ = 1),
//! `σ ← σ ⊙ exp(η_σ/2 · ∇σ)` with `η_σ = (3 + ln d)/(5√d)`.

use crate::config::EsConfig;
use crate::error::Result;
use crate::search::noise::standard_normal;
use crate::search::utility::{best_first, nes_utilities};
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// The SNES strategy.
pub struct Snes {
    cfg: EsConfig,
}

impl Snes {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        Snes { cfg }
    }
}

/// η_σ of SNES for dimension `d`.
pub fn snes_sigma_lr(d: usize) -> f64 {
    (3.0 + (d as f64).ln()) / (5.0 * (d as f64).sqrt())
}

impl SearchStrategy for Snes {
    fn name(&self) -> &'static str {
        "snes"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState> {
        let d = x0.len();
        let mut st = SearchState::new(self.name(), seed, x0, 1.0);
        st.set("stdev", vec![self.cfg.sigma; d]);
        Ok(st)
    }

    fn member(&self, st: &SearchState, member: u32, out: &mut [f64]) -> Result<()> {
        check_out(st, out)?;
        standard_normal(st.seed, st.generation, member, self.cfg.antithetic, out);
        for ((o, m), s) in out.iter_mut().zip(&st.mean).zip(st.field("stdev")?) {
            *o = m + s * *o;
        }
        Ok(())
    }

    fn tell(&self, st: &mut SearchState, fitness: &[f32]) -> Result<()> {
        check_tell(self, st, fitness)?;
        let d = st.dim();
        let u = nes_utilities(fitness.len());
        let (mut g_mu, mut g_sigma) = (vec![0.0; d], vec![0.0; d]);
        let mut z = vec![0.0; d];
        for (rank, &m) in best_first(fitness).iter().enumerate() {
            standard_normal(
                st.seed,
                st.generation,
                m as u32,
                self.cfg.antithetic,
                &mut z,
            );
            for j in 0..d {
                g_mu[j] += u[rank] * z[j];
                g_sigma[j] += u[rank] * (z[j] * z[j] - 1.0);
            }
        }
        let eta = snes_sigma_lr(d);
        let mut stdev = st.field("stdev")?.to_vec();
        for j in 0..d {
            st.mean[j] += stdev[j] * g_mu[j];
            stdev[j] *= (eta / 2.0 * g_sigma[j]).exp();
        }
        st.set("stdev", stdev);
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
            strategy: "snes".into(),
            population: 4,
            sigma: 0.3,
            antithetic: false,
            ..EsConfig::default()
        };
        let s = Snes::new(cfg);
        let mut st = s.init(5, vec![0.5, 1.0, -1.0]).unwrap();
        let z: Vec<[f64; 3]> = (0..4)
            .map(|m| {
                let mut z = [0.0; 3];
                standard_normal(5, 0, m, false, &mut z);
                z
            })
            .collect();
        // Ranks best first: members 2, 0, 3, 1; utilities for λ = 4 by hand.
        s.tell(&mut st, &[2.0, -1.0, 5.0, 0.0]).unwrap();
        let (a, b) = (3f64.ln(), 3f64.ln() - 2f64.ln());
        let u = [a / (a + b) - 0.25, b / (a + b) - 0.25, -0.25, -0.25];
        let order = [2, 0, 3, 1];
        let eta = (3.0 + 3f64.ln()) / (5.0 * 3f64.sqrt());
        for j in 0..3 {
            let gm: f64 = (0..4).map(|r| u[r] * z[order[r]][j]).sum();
            let gs: f64 = (0..4)
                .map(|r| u[r] * (z[order[r]][j] * z[order[r]][j] - 1.0))
                .sum();
            let m0 = [0.5, 1.0, -1.0][j];
            assert!((st.mean[j] - (m0 + 0.3 * gm)).abs() < 1e-12);
            let want = 0.3 * (eta / 2.0 * gs).exp();
            assert!((st.field("stdev").unwrap()[j] - want).abs() < 1e-12);
        }
    }
}
