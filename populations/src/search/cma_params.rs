//! The default strategy parameters of CMA-ES (Hansen 2016, "The CMA Evolution Strategy: A
//! Tutorial", Table 1, with its negative weights for the full-covariance update) and their
//! separable scaling (Ros & Hansen 2008).

use crate::search::utility::cma_weights;

/// CMA-ES's learning rates and constants for dimension n and population λ.
#[derive(Clone, Debug, PartialEq)]
pub struct CmaParams {
    /// Recombination weights of the μ = ⌊λ/2⌋ best, summing to 1.
    pub weights: Vec<f64>,
    /// Variance-effective selection mass μ_eff = 1/Σ w².
    pub mu_eff: f64,
    /// Cumulation constant of the step-size path, c_σ.
    pub c_sigma: f64,
    /// Step-size damping d_σ.
    pub d_sigma: f64,
    /// Cumulation constant of the covariance path, c_c.
    pub c_c: f64,
    /// Rank-one learning rate c₁.
    pub c1: f64,
    /// Rank-μ learning rate c_μ.
    pub c_mu: f64,
    /// E‖N(0, I)‖ ≈ √n (1 − 1/(4n) + 1/(21n²)).
    pub chi_n: f64,
    /// The tutorial's negative weights of ranks μ+1 … λ (eq. 53, "active" CMA), worst last:
    /// `min(α_μ⁻, α_μeff⁻, α_posdef⁻) · w′_i / Σ|w′_j⁻|`; they sum to −min(…).
    pub negative_weights: Vec<f64>,
}

impl CmaParams {
    /// The defaults for dimension `n` and population `lambda`; `separable` scales c₁ and c_μ
    /// by (n + 2)/3 as sep-CMA-ES does.
    pub fn new(n: usize, lambda: usize, separable: bool) -> Self {
        let nf = n as f64;
        let (weights, mu_eff) = cma_weights(lambda);
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let mut c1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let mut c_mu =
            (1.0 - c1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        if separable {
            let scale = (nf + 2.0) / 3.0;
            c1 = (c1 * scale).min(1.0);
            c_mu = (c_mu * scale).min(1.0 - c1);
        }
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let negative_weights = negative_weights(nf, lambda, mu_eff, c1, c_mu);
        CmaParams {
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c1,
            c_mu,
            chi_n,
            negative_weights,
        }
    }

    /// Σ of all λ weights, positive and negative (the tutorial's `Σ w_j` in eq. 47).
    pub fn weight_sum(&self) -> f64 {
        self.weights.iter().chain(&self.negative_weights).sum()
    }

    /// Whether the step-size path is short enough to keep feeding the covariance path
    /// (h_σ) after `generations` updates.
    pub fn h_sigma(&self, p_sigma_norm: f64, generations: u64, n: usize) -> bool {
        let decay = 1.0 - (1.0 - self.c_sigma).powf(2.0 * generations as f64);
        p_sigma_norm / decay.sqrt() < (1.4 + 2.0 / (n as f64 + 1.0)) * self.chi_n
    }
}

/// The negative weights of ranks `μ+1 … λ` (Hansen 2016, eqs. 49–53): the raw
/// `w′_i = ln((λ+1)/2) − ln i` scaled to sum to `−min(1 + c₁/c_μ, 1 + 2μ_eff⁻/(μ_eff + 2),
/// (1 − c₁ − c_μ)/(n c_μ))`.
fn negative_weights(n: f64, lambda: usize, mu_eff: f64, c1: f64, c_mu: f64) -> Vec<f64> {
    let mu = (lambda / 2).max(1);
    let raw: Vec<f64> = (mu + 1..=lambda)
        .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
        .collect();
    let neg_sum: f64 = raw.iter().map(|w| w.abs()).sum();
    if raw.is_empty() || neg_sum == 0.0 || c_mu <= 0.0 {
        return vec![0.0; raw.len()];
    }
    let sum: f64 = raw.iter().sum();
    let mu_eff_minus = sum * sum / raw.iter().map(|w| w * w).sum::<f64>();
    let alpha = (1.0 + c1 / c_mu)
        .min(1.0 + 2.0 * mu_eff_minus / (mu_eff + 2.0))
        .min((1.0 - c1 - c_mu) / (n * c_mu));
    raw.iter().map(|w| alpha * w / neg_sum).collect()
}
