//! sep-CMA-ES: CMA-ES with a diagonal covariance (Ros & Hansen 2008), linear in D per member.
//!
//! Members `x_k = m + σ √c ⊙ z_k`; the tutorial's update (see `cma_es`) restricted to the
//! diagonal, with c₁ and c_μ scaled by (n + 2)/3. `C^{-1/2} y_w = z_w` needs no decomposition.

use crate::config::EsConfig;
use crate::error::Result;
use crate::search::cma_params::CmaParams;
use crate::search::noise::standard_normal;
use crate::search::utility::best_first;
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// The sep-CMA-ES strategy.
pub struct SepCmaEs {
    cfg: EsConfig,
}

impl SepCmaEs {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        SepCmaEs { cfg }
    }
}

impl SearchStrategy for SepCmaEs {
    fn name(&self) -> &'static str {
        "sep_cma_es"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState> {
        let n = x0.len();
        let mut st = SearchState::new(self.name(), seed, x0, self.cfg.sigma);
        st.set("C", vec![1.0; n]);
        st.set("p_sigma", vec![0.0; n]);
        st.set("p_c", vec![0.0; n]);
        Ok(st)
    }

    fn member(&self, st: &SearchState, member: u32, out: &mut [f64]) -> Result<()> {
        check_out(st, out)?;
        standard_normal(st.seed, st.generation, member, self.cfg.antithetic, out);
        for ((o, m), c) in out.iter_mut().zip(&st.mean).zip(st.field("C")?) {
            *o = m + st.sigma * c.sqrt() * *o;
        }
        Ok(())
    }

    fn tell(&self, st: &mut SearchState, fitness: &[f32]) -> Result<()> {
        check_tell(self, st, fitness)?;
        let n = st.dim();
        let p = CmaParams::new(n, fitness.len(), true);
        let sd: Vec<f64> = st.field("C")?.iter().map(|c| c.sqrt()).collect();
        let mut z = vec![0.0; n];
        let (mut z_w, mut rank_mu) = (vec![0.0; n], vec![0.0; n]);
        for (&m, &w) in best_first(fitness).iter().zip(&p.weights) {
            standard_normal(
                st.seed,
                st.generation,
                m as u32,
                self.cfg.antithetic,
                &mut z,
            );
            for i in 0..n {
                z_w[i] += w * z[i];
                rank_mu[i] += w * (sd[i] * z[i]).powi(2);
            }
        }
        let y_w: Vec<f64> = z_w.iter().zip(&sd).map(|(a, b)| a * b).collect();
        for (m, yw) in st.mean.iter_mut().zip(&y_w) {
            *m += st.sigma * yw;
        }
        let cs = (p.c_sigma * (2.0 - p.c_sigma) * p.mu_eff).sqrt();
        let ps = st.field_mut("p_sigma")?;
        for (a, b) in ps.iter_mut().zip(&z_w) {
            *a = (1.0 - p.c_sigma) * *a + cs * b;
        }
        let ps_norm = ps.iter().map(|x| x * x).sum::<f64>().sqrt();
        st.sigma *= (p.c_sigma / p.d_sigma * (ps_norm / p.chi_n - 1.0)).exp();
        let h = p.h_sigma(ps_norm, st.generation + 1, n);
        let cc = (p.c_c * (2.0 - p.c_c) * p.mu_eff).sqrt();
        let pc = st.field_mut("p_c")?;
        for (a, b) in pc.iter_mut().zip(&y_w) {
            *a = (1.0 - p.c_c) * *a + if h { cc * b } else { 0.0 };
        }
        let pc = pc.clone();
        let delta = if h { 0.0 } else { p.c_c * (2.0 - p.c_c) };
        let keep = 1.0 - p.c1 - p.c_mu + p.c1 * delta;
        let c = st.field_mut("C")?;
        for i in 0..n {
            c[i] = keep * c[i] + p.c1 * pc[i] * pc[i] + p.c_mu * rank_mu[i];
        }
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
            strategy: "sep_cma_es".into(),
            population: 6,
            sigma: 0.25,
            antithetic: false,
            ..EsConfig::default()
        };
        let s = SepCmaEs::new(cfg);
        let mut st = s.init(8, vec![0.0; 3]).unwrap();
        let z: Vec<[f64; 3]> = (0..6)
            .map(|m| {
                let mut z = [0.0; 3];
                standard_normal(8, 0, m, false, &mut z);
                z
            })
            .collect();
        // Best three: members 4, 0, 5.
        s.tell(&mut st, &[3.0, 1.0, -1.0, 0.0, 5.0, 2.0]).unwrap();
        let raw = [
            3.5f64.ln(),
            3.5f64.ln() - 2f64.ln(),
            3.5f64.ln() - 3f64.ln(),
        ];
        let w = raw.map(|r| r / raw.iter().sum::<f64>());
        let mu_eff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
        let n = 3.0;
        let cs = (mu_eff + 2.0) / (n + mu_eff + 5.0);
        let ds = 1.0 + 2.0 * (((mu_eff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + cs;
        let cc = (4.0 + mu_eff / n) / (n + 4.0 + 2.0 * mu_eff / n);
        let c1 = 2.0 / ((n + 1.3f64).powi(2) + mu_eff) * (n + 2.0) / 3.0;
        let cmu = (1.0 - c1).min(
            2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((n + 2.0f64).powi(2) + mu_eff) * (n + 2.0) / 3.0,
        );
        let chi = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
        let best = [4, 0, 5];
        let zw: Vec<f64> = (0..3)
            .map(|j| (0..3).map(|r| w[r] * z[best[r]][j]).sum())
            .collect();
        let k = (cs * (2.0 - cs) * mu_eff).sqrt();
        let ps_norm = zw.iter().map(|v| (k * v).powi(2)).sum::<f64>().sqrt();
        let sigma = 0.25 * (cs / ds * (ps_norm / chi - 1.0)).exp();
        let h = ps_norm / (1.0 - (1.0 - cs).powi(2)).sqrt() < (1.4 + 2.0 / 4.0) * chi;
        let delta = if h { 0.0 } else { cc * (2.0 - cc) };
        assert!((st.sigma - sigma).abs() < 1e-12);
        for j in 0..3 {
            assert!((st.mean[j] - 0.25 * zw[j]).abs() < 1e-12);
            let pc = if h {
                (cc * (2.0 - cc) * mu_eff).sqrt() * zw[j]
            } else {
                0.0
            };
            let rmu: f64 = (0..3).map(|r| w[r] * z[best[r]][j].powi(2)).sum();
            let want = (1.0 - c1 - cmu + c1 * delta) + c1 * pc * pc + cmu * rmu;
            assert!((st.field("C").unwrap()[j] - want).abs() < 1e-12, "C[{j}]");
        }
    }
}
