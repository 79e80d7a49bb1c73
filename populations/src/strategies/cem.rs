//! CEM: the cross-entropy method (Rubinstein 1999; for continuous search, De Boer et al. 2005)
//! with a diagonal Gaussian.
//!
//! Members `x_k = μ + σ ⊙ z_k`; the `⌊N/2⌋` best (the elites) give the next distribution:
//! `μ ← mean(elites)`, `σ_j ← sqrt(mean_e (x_ej − μ_j)²)` (the new mean's spread).

use crate::config::EsConfig;
use crate::error::Result;
use crate::search::noise::standard_normal;
use crate::search::utility::best_first;
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// The CEM strategy.
pub struct Cem {
    cfg: EsConfig,
}

impl Cem {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        Cem { cfg }
    }
}

impl SearchStrategy for Cem {
    fn name(&self) -> &'static str {
        "cem"
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
        let elites: Vec<u32> = best_first(fitness)
            .into_iter()
            .take((fitness.len() / 2).max(1))
            .map(|m| m as u32)
            .collect();
        let e = elites.len() as f64;
        let mut x = vec![0.0; d];
        let mut mean = vec![0.0; d];
        for &m in &elites {
            self.member(st, m, &mut x)?;
            mean.iter_mut().zip(&x).for_each(|(a, b)| *a += b / e);
        }
        let mut var = vec![0.0; d];
        for &m in &elites {
            self.member(st, m, &mut x)?;
            for j in 0..d {
                var[j] += (x[j] - mean[j]) * (x[j] - mean[j]) / e;
            }
        }
        st.mean = mean;
        st.set("stdev", var.iter().map(|v| v.sqrt()).collect());
        st.generation += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_is_the_elites_mean_and_spread() {
        let cfg = EsConfig {
            strategy: "cem".into(),
            population: 4,
            sigma: 2.0,
            antithetic: false,
            ..EsConfig::default()
        };
        let s = Cem::new(cfg);
        let mut st = s.init(9, vec![1.0, 0.0]).unwrap();
        let x: Vec<[f64; 2]> = (0..4)
            .map(|m| {
                let mut z = [0.0; 2];
                standard_normal(9, 0, m, false, &mut z);
                [1.0 + 2.0 * z[0], 2.0 * z[1]]
            })
            .collect();
        // Elites: members 3 and 1.
        s.tell(&mut st, &[0.0, 2.0, -3.0, 7.0]).unwrap();
        let stdev = st.field("stdev").unwrap();
        for (j, (mean, sd)) in st.mean.iter().zip(stdev).enumerate() {
            let m = (x[3][j] + x[1][j]) / 2.0;
            let want = ((x[3][j] - m).powi(2) / 2.0 + (x[1][j] - m).powi(2) / 2.0).sqrt();
            assert!((mean - m).abs() < 1e-12);
            assert!((sd - want).abs() < 1e-12);
        }
    }
}
