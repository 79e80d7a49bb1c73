//! Running observation statistics (Welford, f64) for observation normalisation.

use serde::{Deserialize, Serialize};

/// Per-dimension running mean and variance of observations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObsStats {
    count: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl ObsStats {
    /// Empty statistics for observations of width `dim` (normalising with them is the identity).
    pub fn new(dim: usize) -> Self {
        ObsStats {
            count: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Observation width.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Add one observation.
    pub fn push(&mut self, obs: &[f32]) {
        self.count += 1.0;
        for ((m, s), &x) in self.mean.iter_mut().zip(&mut self.m2).zip(obs) {
            let d = x as f64 - *m;
            *m += d / self.count;
            *s += d * (x as f64 - *m);
        }
    }

    /// Normalise rows of observations in place: `clip((x − mean) / sqrt(var + 1e-8), −5, 5)`;
    /// the identity until two observations have been seen.
    pub fn normalise(&self, rows: &mut [f32]) {
        if self.count < 2.0 || self.mean.is_empty() {
            return;
        }
        let dim = self.mean.len();
        let scale: Vec<(f64, f64)> = self
            .mean
            .iter()
            .zip(&self.m2)
            .map(|(m, s)| (*m, 1.0 / (s / (self.count - 1.0) + 1e-8).sqrt()))
            .collect();
        for (j, x) in rows.iter_mut().enumerate() {
            let (m, inv) = scale[j % dim];
            *x = ((*x as f64 - m) * inv).clamp(-5.0, 5.0) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_json_keeps_every_bit() {
        // serde_json's default float parser may be one ulp off; a resumed run would then
        // continue its statistics from a different value (this m2 came back as ...15).
        let stats = ObsStats {
            count: 800.0,
            mean: vec![-0.6415544130146735, 0.1 + 0.2],
            m2: vec![7090.855370154149, 1e-300 / 3.0],
        };
        let back: ObsStats = serde_json::from_str(&serde_json::to_string(&stats).unwrap()).unwrap();
        for (a, b) in stats
            .m2
            .iter()
            .chain(&stats.mean)
            .zip(back.m2.iter().chain(&back.mean))
        {
            assert_eq!(a.to_bits(), b.to_bits(), "{a} came back as {b}");
        }
    }

    #[test]
    fn statistics_and_normalisation() {
        let mut s = ObsStats::new(2);
        let mut id = [3.0f32, 4.0];
        s.normalise(&mut id);
        assert_eq!(id, [3.0, 4.0]);
        for x in [[1.0f32, 10.0], [2.0, 10.0], [3.0, 10.0]] {
            s.push(&x);
        }
        let mut rows = [2.0f32, 10.0, 3.0, 1e9];
        s.normalise(&mut rows);
        assert!(rows[0].abs() < 1e-6);
        assert!((rows[2] - 1.0).abs() < 1e-6);
        assert_eq!(rows[3], 5.0);
    }
}
