//! Rankings and the rank-based weights the search strategies share.

/// Member indices from best (highest fitness) to worst; ties keep member order.
pub fn best_first(fitness: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..fitness.len()).collect();
    idx.sort_by(|&a, &b| fitness[b].total_cmp(&fitness[a]).then(a.cmp(&b)));
    idx
}

/// NES utilities (Wierstra et al. 2014, eq. 19) by rank k = 1..λ (best first):
/// `u_k = max(0, ln(λ/2 + 1) − ln k) / Σ_j max(0, ln(λ/2 + 1) − ln j) − 1/λ`.
pub fn nes_utilities(lambda: usize) -> Vec<f64> {
    let raw: Vec<f64> = (1..=lambda)
        .map(|k| ((lambda as f64 / 2.0 + 1.0).ln() - (k as f64).ln()).max(0.0))
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|r| r / sum - 1.0 / lambda as f64).collect()
}

/// Centred ranks: member with rank r (0 = worst) gets `r/(N−1) − 0.5`; ties share their
/// mean rank.
pub fn centred_ranks(fitness: &[f32]) -> Vec<f64> {
    let n = fitness.len();
    let order = best_first(fitness);
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && fitness[order[j + 1]] == fitness[order[i]] {
            j += 1;
        }
        // Best-first positions i..=j share rank (from the worst) n−1−(i+j)/2.
        let rank = (n - 1) as f64 - (i + j) as f64 / 2.0;
        for &m in &order[i..=j] {
            out[m] = if n > 1 {
                rank / (n - 1) as f64 - 0.5
            } else {
                0.0
            };
        }
        i = j + 1;
    }
    out
}

/// CMA-ES recombination weights (Hansen 2016, eq. 49, positive part): for the μ = ⌊λ/2⌋ best,
/// `w_i ∝ ln((λ+1)/2) − ln i`, summing to 1; with μ_eff = 1/Σ w_i².
pub fn cma_weights(lambda: usize) -> (Vec<f64>, f64) {
    let mu = (lambda / 2).max(1);
    let raw: Vec<f64> = (1..=mu)
        .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
        .collect();
    let sum: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|r| r / sum).collect();
    let mu_eff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
    (w, mu_eff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rankings_and_weights() {
        assert_eq!(best_first(&[1.0, 3.0, 2.0, 3.0]), vec![1, 3, 2, 0]);
        assert_eq!(centred_ranks(&[1.0, 3.0, 2.0]), vec![-0.5, 0.5, 0.0]);
        assert_eq!(centred_ranks(&[1.0, 2.0, 2.0]), vec![-0.5, 0.25, 0.25]);
        let u = nes_utilities(4);
        // ln3 − ln1, ln3 − ln2, 0, 0 normalised, minus 1/4.
        let (a, b) = (3f64.ln(), 3f64.ln() - 2f64.ln());
        let want = [a / (a + b) - 0.25, b / (a + b) - 0.25, -0.25, -0.25];
        for (x, y) in u.iter().zip(want) {
            assert!((x - y).abs() < 1e-15);
        }
        let (w, mu_eff) = cma_weights(6);
        assert_eq!(w.len(), 3);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(w[0] > w[1] && w[1] > w[2] && mu_eff > 1.0 && mu_eff < 3.0);
    }
}
