//! GA: a simple genetic algorithm (truncation selection with elitism and Gaussian mutation, as
//! in Such et al. 2017's deep GA, without crossover).
//!
//! The state keeps the `E = ⌊N/2⌋` elites and their fitness. Member `k` is
//! `elite[k mod E] + σ z_k` (generation 0: `x0 + σ z_k`), σ = `es.sigma`. `tell` keeps the `E`
//! best of the old elites and the new members (old elites win ties); the best elite is the
//! state's `mean`, the point a run evaluates.

use crate::config::EsConfig;
use crate::error::Result;
use crate::search::noise::standard_normal;
use crate::search::{check_out, check_tell, SearchState, SearchStrategy};

/// The GA strategy.
pub struct Ga {
    cfg: EsConfig,
}

impl Ga {
    /// Build from a validated config.
    pub fn new(cfg: EsConfig) -> Self {
        Ga { cfg }
    }

    fn elite_count(&self) -> usize {
        (self.cfg.population as usize / 2).max(1)
    }
}

impl SearchStrategy for Ga {
    fn name(&self) -> &'static str {
        "ga"
    }

    fn config(&self) -> &EsConfig {
        &self.cfg
    }

    fn init(&self, seed: u64, x0: Vec<f64>) -> Result<SearchState> {
        let mut st = SearchState::new(self.name(), seed, x0, self.cfg.sigma);
        st.set("elites", Vec::new());
        st.set("elite_fitness", Vec::new());
        Ok(st)
    }

    fn member(&self, st: &SearchState, member: u32, out: &mut [f64]) -> Result<()> {
        check_out(st, out)?;
        let d = st.dim();
        standard_normal(st.seed, st.generation, member, self.cfg.antithetic, out);
        let elites = st.field("elites")?;
        let parent = match elites.len() / d.max(1) {
            0 => &st.mean[..],
            e => {
                let k = member as usize % e;
                &elites[k * d..(k + 1) * d]
            }
        };
        for (o, p) in out.iter_mut().zip(parent) {
            *o = p + st.sigma * *o;
        }
        Ok(())
    }

    fn tell(&self, st: &mut SearchState, fitness: &[f32]) -> Result<()> {
        check_tell(self, st, fitness)?;
        let d = st.dim();
        let old = st.field("elites")?.to_vec();
        let old_f = st.field("elite_fitness")?.to_vec();
        // Candidates: (fitness, Some(old elite) | None(member), index); old elites first.
        let mut cands: Vec<(f64, bool, usize)> = old_f
            .iter()
            .enumerate()
            .map(|(i, &f)| (f, true, i))
            .chain(
                fitness
                    .iter()
                    .enumerate()
                    .map(|(i, &f)| (f as f64, false, i)),
            )
            .collect();
        // Stable sort: equal fitness keeps old elites (listed first) ahead.
        cands.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut elites = Vec::with_capacity(self.elite_count() * d);
        let mut elite_f = Vec::with_capacity(self.elite_count());
        let mut x = vec![0.0; d];
        for &(f, is_old, i) in cands.iter().take(self.elite_count()) {
            if is_old {
                elites.extend_from_slice(&old[i * d..(i + 1) * d]);
            } else {
                self.member(st, i as u32, &mut x)?;
                elites.extend_from_slice(&x);
            }
            elite_f.push(f);
        }
        st.mean = elites[..d].to_vec();
        st.set("elites", elites);
        st.set("elite_fitness", elite_f);
        st.generation += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_keeps_the_best_half_and_mutates_them() {
        let cfg = EsConfig {
            strategy: "ga".into(),
            population: 4,
            sigma: 0.5,
            antithetic: false,
            ..EsConfig::default()
        };
        let s = Ga::new(cfg);
        let mut st = s.init(2, vec![0.0, 1.0]).unwrap();
        let mut xs = [[0.0; 2]; 4];
        for (m, x) in xs.iter_mut().enumerate() {
            s.member(&st, m as u32, x).unwrap();
        }
        s.tell(&mut st, &[1.0, 3.0, 2.0, 0.0]).unwrap();
        assert_eq!(st.field("elite_fitness").unwrap(), &[3.0, 2.0]);
        assert_eq!(st.field("elites").unwrap(), &[xs[1], xs[2]].concat()[..]);
        assert_eq!(st.mean, xs[1].to_vec());
        // Generation 1: member 3 mutates elite 1 (member 2 of generation 0).
        let mut z = [0.0; 2];
        standard_normal(2, 1, 3, false, &mut z);
        let mut x = [0.0; 2];
        s.member(&st, 3, &mut x).unwrap();
        assert_eq!(x, [xs[2][0] + 0.5 * z[0], xs[2][1] + 0.5 * z[1]]);
        // An old elite survives a worse generation.
        s.tell(&mut st, &[-1.0, -1.0, 2.5, -1.0]).unwrap();
        assert_eq!(st.field("elite_fitness").unwrap(), &[3.0, 2.5]);
        assert_eq!(st.mean, xs[1].to_vec());
    }
}
