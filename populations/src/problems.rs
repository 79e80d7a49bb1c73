//! Benchmark problems for evolution strategies: sphere, Rosenbrock, Rastrigin, Ackley,
//! Griewank and Styblinski–Tang, shifted so the optimum sits at a seed-derived point with a
//! known value of 0 (every problem here is minimised; a run's fitness is `−f`).

use crate::error::{PopulationError, Result};
use eggroll_core::noise::StreamKey;
use serde::{Deserialize, Serialize};
use std::f64::consts::{E, PI};

/// Parameter id of the shift's hash stream.
const SHIFT_PARAM: u32 = 0x5A1F_7000;
/// Where Styblinski–Tang's minimum lies in each coordinate.
const ST_ARGMIN: f64 = -2.903_534_027_771_177_6;
/// Styblinski–Tang's minimum value per coordinate.
const ST_MIN: f64 = -39.166_165_703_771_42;

/// Which benchmark function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// `Σ y²`.
    Sphere,
    /// `Σ 100 (t_{i+1} − t_i²)² + (1 − t_i)²` with `t = y + 1`.
    Rosenbrock,
    /// `10 D + Σ (y² − 10 cos 2πy)`.
    Rastrigin,
    /// `−20 exp(−0.2 √(mean y²)) − exp(mean cos 2πy) + 20 + e`.
    Ackley,
    /// `1 + Σ y²/4000 − Π cos(y_i/√i)`.
    Griewank,
    /// `½ Σ (t⁴ − 16t² + 5t) − D·min` with `t = y + argmin`.
    StyblinskiTang,
}

impl ProblemKind {
    /// Every problem, in table order.
    pub const ALL: [ProblemKind; 6] = [
        ProblemKind::Sphere,
        ProblemKind::Rosenbrock,
        ProblemKind::Rastrigin,
        ProblemKind::Ackley,
        ProblemKind::Griewank,
        ProblemKind::StyblinskiTang,
    ];

    /// Name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Sphere => "sphere",
            ProblemKind::Rosenbrock => "rosenbrock",
            ProblemKind::Rastrigin => "rastrigin",
            ProblemKind::Ackley => "ackley",
            ProblemKind::Griewank => "griewank",
            ProblemKind::StyblinskiTang => "styblinski_tang",
        }
    }

    /// The unshifted function of `y = x − shift`, minimal (0) at `y = 0`.
    pub fn value(self, y: &[f64]) -> f64 {
        let d = y.len() as f64;
        match self {
            ProblemKind::Sphere => y.iter().map(|v| v * v).sum(),
            ProblemKind::Rosenbrock => y
                .windows(2)
                .map(|w| {
                    let (a, b) = (w[0] + 1.0, w[1] + 1.0);
                    100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2)
                })
                .sum(),
            ProblemKind::Rastrigin => {
                10.0 * d
                    + y.iter()
                        .map(|v| v * v - 10.0 * (2.0 * PI * v).cos())
                        .sum::<f64>()
            }
            ProblemKind::Ackley => {
                let sq = y.iter().map(|v| v * v).sum::<f64>() / d;
                let cos = y.iter().map(|v| (2.0 * PI * v).cos()).sum::<f64>() / d;
                (-20.0 * (-0.2 * sq.sqrt()).exp() - cos.exp() + 20.0 + E).max(0.0)
            }
            ProblemKind::Griewank => {
                let sq = y.iter().map(|v| v * v).sum::<f64>() / 4000.0;
                let prod: f64 = y
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v / ((i + 1) as f64).sqrt()).cos())
                    .product();
                1.0 + sq - prod
            }
            ProblemKind::StyblinskiTang => {
                let s: f64 = y
                    .iter()
                    .map(|v| {
                        let t = v + ST_ARGMIN;
                        t.powi(4) - 16.0 * t * t + 5.0 * t
                    })
                    .sum();
                (0.5 * s - d * ST_MIN).max(0.0)
            }
        }
    }
}

/// A shifted benchmark problem of a given dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The function.
    pub kind: ProblemKind,
    /// The optimum `x*` (where `f = 0`).
    pub shift: Vec<f64>,
}

impl Problem {
    /// `kind` in dimension `dim`, its optimum drawn uniformly from `[−shift, shift]^D` by
    /// `seed` (`shift = 0`: the optimum at the origin).
    pub fn new(kind: ProblemKind, dim: usize, shift: f64, seed: u64) -> Result<Self> {
        if dim == 0 || dim > u32::MAX as usize {
            return Err(PopulationError::Problem {
                key: "dim".into(),
                why: format!("{dim} must be between 1 and 2^32 − 1"),
            });
        }
        if !(shift.is_finite() && shift >= 0.0) {
            return Err(PopulationError::Problem {
                key: "shift".into(),
                why: format!("{shift} must be finite and ≥ 0"),
            });
        }
        let key = StreamKey::new(seed, SHIFT_PARAM, 0, 0);
        let shift = (0..dim as u32)
            .map(|j| shift * (2.0 * key.bits(j) as f64 / u32::MAX as f64 - 1.0))
            .collect();
        Ok(Problem { kind, shift })
    }

    /// The dimension D.
    pub fn dim(&self) -> usize {
        self.shift.len()
    }

    /// `f(x)` (≥ 0, 0 at the optimum).
    pub fn value(&self, x: &[f64]) -> f64 {
        let y: Vec<f64> = x.iter().zip(&self.shift).map(|(a, s)| a - s).collect();
        self.kind.value(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optima_are_zero_at_the_shift_and_positive_elsewhere() {
        for kind in ProblemKind::ALL {
            let p = Problem::new(kind, 7, 2.0, 3).unwrap();
            let at = p.value(&p.shift);
            assert!(at.abs() < 1e-10, "{}: {at}", kind.name());
            let off: Vec<f64> = p.shift.iter().map(|s| s + 0.3).collect();
            assert!(p.value(&off) > 1e-3, "{}", kind.name());
        }
        // Textbook values: Rosenbrock at the textbook origin (y = −1) is D − 1; Rastrigin at
        // y = 1 is D.
        let r = Problem::new(ProblemKind::Rosenbrock, 5, 0.0, 0).unwrap();
        assert_eq!(r.value(&[-1.0; 5]), 4.0);
        assert!((ProblemKind::Rastrigin.value(&[1.0; 3]) - 3.0).abs() < 1e-12);
        let p = Problem::new(ProblemKind::Sphere, 4, 1.5, 9).unwrap();
        assert!(p.shift.iter().all(|s| s.abs() <= 1.5) && p.shift[0] != p.shift[1]);
        let err = Problem::new(ProblemKind::Sphere, 0, 0.0, 0).err().unwrap();
        assert!(err.to_string().contains("task.dim"), "{err}");
        let err = Problem::new(ProblemKind::Sphere, 3, -1.0, 0).err().unwrap();
        assert!(err.to_string().contains("task.shift"), "{err}");
    }
}
