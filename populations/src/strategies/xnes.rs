//! xNES: exponential natural evolution strategies (Glasmachers et al. 2010), full covariance
//! `σ² B Bᵀ` with det B = 1.
//!
//! Members `x_k = μ + σ B z_k`. With the NES utilities `u` by rank: `G_δ = Σ u_k z_k`,
//! `G_M = Σ u_k (z_k z_kᵀ − I)`, `G_σ = tr(G_M)/d`, `G_B = G_M − G_σ I`;
//! `μ ← μ + σ B G_δ`, `σ ← σ exp(η_σ/2 · G_σ)`, `B ← B expm(η_B/2 · G_B)` with
//! `η_σ = η_B = (9 + 3 ln d)/(5 d √d)`. D is limited to [`MAX_FULL_DIM`].

use crate::config::EsConfig;
use crate::error::{PopulationError, Result};
use crate::search::linalg::{identity, mat_mul, mat_vec, symmetric_expm, MAX_FULL_DIM};
use crate::search::noise::standard_normal;
use crate::search::utility::{best_first, nes_utilities};
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// The xNES strategy.
pub struct Xnes {
    cfg: EsConfig,
}

impl Xnes {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        Xnes { cfg }
    }
}

/// xNES's η_σ = η_B for dimension `d`.
pub fn xnes_lr(d: usize) -> f64 {
    let d = d as f64;
    (9.0 + 3.0 * d.ln()) / (5.0 * d * d.sqrt())
}

impl SearchStrategy for Xnes {
    fn name(&self) -> &'static str {
        "xnes"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn check_dim(&self, dim: usize) -> Result<()> {
        if dim > MAX_FULL_DIM {
            return Err(PopulationError::Invalid {
                key: "strategy".into(),
                why: format!(
                    "xnes keeps a full {dim} × {dim} matrix and exponentiates it, but its limit is D = {MAX_FULL_DIM} (use snes)"
                ),
            });
        }
        Ok(())
    }

    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState> {
        self.check_dim(x0.len())?;
        let n = x0.len();
        let mut st = SearchState::new(self.name(), seed, x0, self.cfg.sigma);
        st.set("B", identity(n));
        Ok(st)
    }

    fn member(&self, st: &SearchState, member: u32, out: &mut [f64]) -> Result<()> {
        check_out(st, out)?;
        let mut z = vec![0.0; st.dim()];
        standard_normal(st.seed, st.generation, member, self.cfg.antithetic, &mut z);
        mat_vec(st.field("B")?, &z, out);
        for (o, m) in out.iter_mut().zip(&st.mean) {
            *o = m + st.sigma * *o;
        }
        Ok(())
    }

    fn tell(&self, st: &mut SearchState, fitness: &[f32]) -> Result<()> {
        check_tell(self, st, fitness)?;
        let n = st.dim();
        let u = nes_utilities(fitness.len());
        let (mut g_d, mut g_m) = (vec![0.0; n], vec![0.0; n * n]);
        let mut z = vec![0.0; n];
        for (rank, &m) in best_first(fitness).iter().enumerate() {
            standard_normal(
                st.seed,
                st.generation,
                m as u32,
                self.cfg.antithetic,
                &mut z,
            );
            for i in 0..n {
                g_d[i] += u[rank] * z[i];
                for j in 0..n {
                    let eye = if i == j { 1.0 } else { 0.0 };
                    g_m[i * n + j] += u[rank] * (z[i] * z[j] - eye);
                }
            }
        }
        let g_sigma = (0..n).map(|i| g_m[i * n + i]).sum::<f64>() / n as f64;
        let eta = xnes_lr(n);
        let step: Vec<f64> = (0..n * n)
            .map(|k| {
                let eye = if k / n == k % n { g_sigma } else { 0.0 };
                eta / 2.0 * (g_m[k] - eye)
            })
            .collect();
        let b = st.field("B")?.to_vec();
        let mut bg = vec![0.0; n];
        mat_vec(&b, &g_d, &mut bg);
        for (m, v) in st.mean.iter_mut().zip(&bg) {
            *m += st.sigma * v;
        }
        st.sigma *= (eta / 2.0 * g_sigma).exp();
        st.set("B", mat_mul(&b, &symmetric_expm(&step, n), n));
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
            strategy: "xnes".into(),
            population: 4,
            sigma: 0.5,
            antithetic: false,
            ..EsConfig::default()
        };
        let s = Xnes::new(cfg);
        let mut st = s.init(6, vec![1.0, -1.0]).unwrap();
        let z: Vec<[f64; 2]> = (0..4)
            .map(|m| {
                let mut z = [0.0; 2];
                standard_normal(6, 0, m, false, &mut z);
                z
            })
            .collect();
        s.tell(&mut st, &[0.5, 1.5, -0.5, 1.0]).unwrap();
        let (a, b) = (3f64.ln(), 3f64.ln() - 2f64.ln());
        let u = [a / (a + b) - 0.25, b / (a + b) - 0.25, -0.25, -0.25];
        let order = [1, 3, 0, 2];
        let gd: Vec<f64> = (0..2)
            .map(|j| (0..4).map(|r| u[r] * z[order[r]][j]).sum())
            .collect();
        let gm = |i: usize, j: usize| -> f64 {
            (0..4)
                .map(|r| u[r] * (z[order[r]][i] * z[order[r]][j] - f64::from(u8::from(i == j))))
                .sum()
        };
        let gs = (gm(0, 0) + gm(1, 1)) / 2.0;
        let eta = (9.0 + 3.0 * 2f64.ln()) / (5.0 * 2.0 * 2f64.sqrt());
        assert!((st.mean[0] - (1.0 + 0.5 * gd[0])).abs() < 1e-12);
        assert!((st.mean[1] - (-1.0 + 0.5 * gd[1])).abs() < 1e-12);
        assert!((st.sigma - 0.5 * (eta / 2.0 * gs).exp()).abs() < 1e-12);
        // B = expm(η/2 G_B) with G_B traceless: det B = 1, and B's eigenvectors are G_B's.
        let bm = st.field("B").unwrap();
        assert!((bm[0] * bm[3] - bm[1] * bm[2] - 1.0).abs() < 1e-12);
        let gb = [gm(0, 0) - gs, gm(0, 1), gm(1, 0), gm(1, 1) - gs];
        // B commutes with G_B.
        let l = mat_mul(bm, &gb, 2);
        let r = mat_mul(&gb, bm, 2);
        for k in 0..4 {
            assert!((l[k] - r[k]).abs() < 1e-12);
        }
        // A 2×2 traceless symmetric G has G² = s² I with s² = −det G, so
        // expm(hG) = cosh(hs) I + sinh(hs)/s · G exactly.
        let h = eta / 2.0;
        let sv = (-(gb[0] * gb[3] - gb[1] * gb[2])).sqrt();
        for (k, &g) in gb.iter().enumerate() {
            let eye = if k == 0 || k == 3 { 1.0 } else { 0.0 };
            let want = eye * (h * sv).cosh() + (h * sv).sinh() / sv * g;
            assert!((bm[k] - want).abs() < 1e-12, "B[{k}]");
        }
    }
}
