//! CMA-ES: covariance matrix adaptation (Hansen & Ostermeier 2001; the defaults and update of
//! Hansen 2016, "The CMA Evolution Strategy: A Tutorial", with its negative weights), full
//! covariance.
//!
//! Members `x_k = m + σ B (D ⊙ z_k)` with `C = B D² Bᵀ`. The update (rank-one and rank-μ,
//! cumulative step-size adaptation) is the tutorial's eqs. 39–47 with c_m = 1: the μ best
//! move the mean; all λ enter the rank-μ update, the worse half with the negative weights
//! of its eq. 53 rescaled by `n / ‖C^{-1/2} y‖² = n / ‖z‖²` (eq. 46, "active" CMA); `B` and `D`
//! are refreshed when `g − g_eigen > λ/(c₁ + c_μ)/n/10` (its lazy update). The state holds
//! n × n matrices, so D is limited to [`MAX_FULL_DIM`].

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use crate::search::cma_params::CmaParams;
use crate::search::linalg::{identity, mat_vec, symmetric_eigen, MAX_FULL_DIM};
use crate::search::noise::standard_normal;
use crate::search::utility::best_first;
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// The CMA-ES strategy.
pub struct CmaEs {
    cfg: EsConfig,
}

impl CmaEs {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        CmaEs { cfg }
    }

    /// `y = B (D ⊙ z)` for member `member`, leaving `z` in `z`.
    fn y_of(&self, st: &SearchState, member: u32, z: &mut [f64], y: &mut [f64]) -> Result<()> {
        standard_normal(st.seed, st.generation, member, self.cfg.antithetic, z);
        let dz: Vec<f64> = z.iter().zip(st.field("D")?).map(|(a, b)| a * b).collect();
        mat_vec(st.field("B")?, &dz, y);
        Ok(())
    }
}

impl SearchStrategy for CmaEs {
    fn name(&self) -> &'static str {
        "cma_es"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn check_dim(&self, dim: usize) -> Result<()> {
        if dim > MAX_FULL_DIM {
            return Err(PopulationError::Invalid {
                key: "strategy".into(),
                why: format!(
                    "cma_es keeps a full {dim} × {dim} covariance and decomposes it, but its limit is D = {MAX_FULL_DIM} (use sep_cma_es or snes)"
                ),
            });
        }
        Ok(())
    }

    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState> {
        self.check_dim(x0.len())?;
        let n = x0.len();
        let mut st = SearchState::new(self.name(), seed, x0, self.cfg.sigma);
        st.set("C", identity(n));
        st.set("B", identity(n));
        st.set("D", vec![1.0; n]);
        st.set("p_sigma", vec![0.0; n]);
        st.set("p_c", vec![0.0; n]);
        st.set("eigen_generation", vec![0.0]);
        Ok(st)
    }

    fn member(&self, st: &SearchState, member: u32, out: &mut [f64]) -> Result<()> {
        check_out(st, out)?;
        let n = st.dim();
        let (mut z, mut y) = (vec![0.0; n], vec![0.0; n]);
        self.y_of(st, member, &mut z, &mut y)?;
        for ((o, m), yj) in out.iter_mut().zip(&st.mean).zip(&y) {
            *o = m + st.sigma * yj;
        }
        Ok(())
    }

    fn tell(&self, st: &mut SearchState, fitness: &[f32]) -> Result<()> {
        check_tell(self, st, fitness)?;
        let n = st.dim();
        let p = CmaParams::new(n, fitness.len(), false);
        let (mut z, mut y) = (vec![0.0; n], vec![0.0; n]);
        let (mut y_w, mut z_w) = (vec![0.0; n], vec![0.0; n]);
        let mut rank_mu = vec![0.0; n * n];
        let ranked = best_first(fitness);
        let negative = p.negative_weights.iter().map(|&w| (w, true));
        for (&m, (w, worse)) in ranked
            .iter()
            .zip(p.weights.iter().map(|&w| (w, false)).chain(negative))
        {
            if w == 0.0 {
                continue;
            }
            self.y_of(st, m as u32, &mut z, &mut y)?;
            let w_cov = if worse {
                let z2: f64 = z.iter().map(|v| v * v).sum();
                w * n as f64 / z2.max(1e-300)
            } else {
                for i in 0..n {
                    y_w[i] += w * y[i];
                    z_w[i] += w * z[i];
                }
                w
            };
            for i in 0..n {
                for j in 0..n {
                    rank_mu[i * n + j] += w_cov * y[i] * y[j];
                }
            }
        }
        let mut bz = vec![0.0; n];
        mat_vec(st.field("B")?, &z_w, &mut bz);
        for (m, yw) in st.mean.iter_mut().zip(&y_w) {
            *m += st.sigma * yw;
        }
        let cs = (p.c_sigma * (2.0 - p.c_sigma) * p.mu_eff).sqrt();
        let ps = st.field_mut("p_sigma")?;
        for (a, b) in ps.iter_mut().zip(&bz) {
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
        let keep = 1.0 - p.c1 - p.c_mu * p.weight_sum() + p.c1 * delta;
        let c = st.field_mut("C")?;
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] =
                    keep * c[i * n + j] + p.c1 * pc[i] * pc[j] + p.c_mu * rank_mu[i * n + j];
            }
        }
        let c = c.clone();
        st.generation += 1;
        let last = st.field("eigen_generation")?[0];
        let gap = fitness.len() as f64 / (p.c1 + p.c_mu) / n as f64 / 10.0;
        if st.generation as f64 - last > gap {
            let (vals, vecs) = symmetric_eigen(&c, n);
            st.set("D", vals.iter().map(|v| v.max(1e-300).sqrt()).collect());
            st.set("B", vecs);
            st.set("eigen_generation", vec![st.generation as f64]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
