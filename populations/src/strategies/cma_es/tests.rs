//! CMA-ES's golden first update and its Rosenbrock run.

use super::*;
use crate::problems::{Problem, ProblemKind};

#[test]
fn first_update_follows_the_tutorials_formulas() {
    let cfg = EsConfig {
        strategy: "cma_es".into(),
        population: 4,
        sigma: 0.5,
        antithetic: false,
        ..EsConfig::default()
    };
    let s = CmaEs::new(cfg);
    let mut st = s.init(4, vec![1.0, 2.0]).unwrap();
    let z: Vec<[f64; 2]> = (0..4)
        .map(|m| {
            let mut z = [0.0; 2];
            standard_normal(4, 0, m, false, &mut z);
            z
        })
        .collect();
    // Best: members 1 then 3, then 0 and 2. Constants for n = 2, λ = 4 written out from the tutorial.
    s.tell(&mut st, &[0.0, 9.0, -2.0, 4.0]).unwrap();
    let (w1, w2) = (2.5f64.ln(), 2.5f64.ln() - 2f64.ln());
    let (w1, w2) = (w1 / (w1 + w2), w2 / (w1 + w2));
    let mu_eff = 1.0 / (w1 * w1 + w2 * w2);
    let n = 2.0;
    let cs = (mu_eff + 2.0) / (n + mu_eff + 5.0);
    let ds = 1.0 + 2.0 * (((mu_eff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + cs;
    let cc = (4.0 + mu_eff / n) / (n + 4.0 + 2.0 * mu_eff / n);
    let c1 = 2.0 / ((n + 1.3f64).powi(2) + mu_eff);
    let cmu = (1.0 - c1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((n + 2.0f64).powi(2) + mu_eff));
    let chi = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
    let zw = [w1 * z[1][0] + w2 * z[3][0], w1 * z[1][1] + w2 * z[3][1]];
    let ps = zw.map(|v| (cs * (2.0 - cs) * mu_eff).sqrt() * v);
    let ps_norm = (ps[0] * ps[0] + ps[1] * ps[1]).sqrt();
    let sigma = 0.5 * (cs / ds * (ps_norm / chi - 1.0)).exp();
    let h = ps_norm / (1.0 - (1.0 - cs).powi(2)).sqrt() < (1.4 + 2.0 / 3.0) * chi;
    let pc = zw.map(|v| {
        if h {
            (cc * (2.0 - cc) * mu_eff).sqrt() * v
        } else {
            0.0
        }
    });
    let delta = if h { 0.0 } else { cc * (2.0 - cc) };
    // The tutorial's negative weights (eqs. 49–53) for the worse half, members 0 then 2, each
    // rescaled by n / ‖z‖² in the rank-μ term.
    let (v3, v4) = (2.5f64.ln() - 3f64.ln(), 2.5f64.ln() - 4f64.ln());
    let mu_eff_minus = (v3 + v4).powi(2) / (v3 * v3 + v4 * v4);
    let alpha = (1.0 + c1 / cmu)
        .min(1.0 + 2.0 * mu_eff_minus / (mu_eff + 2.0))
        .min((1.0 - c1 - cmu) / (n * cmu));
    let (w3, w4) = (
        alpha * v3 / (v3.abs() + v4.abs()),
        alpha * v4 / (v3.abs() + v4.abs()),
    );
    let sq = |z: [f64; 2]| z[0] * z[0] + z[1] * z[1];
    let (o3, o4) = (w3 * n / sq(z[0]), w4 * n / sq(z[2]));
    assert!((st.mean[0] - (1.0 + 0.5 * zw[0])).abs() < 1e-12);
    assert!((st.mean[1] - (2.0 + 0.5 * zw[1])).abs() < 1e-12);
    assert!((st.sigma - sigma).abs() < 1e-12, "{} {sigma}", st.sigma);
    let c = st.field("C").unwrap();
    for i in 0..2 {
        for j in 0..2 {
            let eye = if i == j { 1.0 } else { 0.0 };
            let want = (1.0 - c1 - cmu * (1.0 + w3 + w4) + c1 * delta) * eye
                + c1 * pc[i] * pc[j]
                + cmu
                    * (w1 * z[1][i] * z[1][j]
                        + w2 * z[3][i] * z[3][j]
                        + o3 * z[0][i] * z[0][j]
                        + o4 * z[2][i] * z[2][j]);
            assert!((c[i * 2 + j] - want).abs() < 1e-12, "C[{i}][{j}]");
        }
    }
}

/// Evaluations CMA-ES (default λ = 10, σ₀ = 0.5, from the textbook start) needs to bring
/// Rosenbrock D = 10 below 1e-8 with `seed`, or `None` within 20 000.
fn rosenbrock_evaluations(seed: u64) -> Option<u64> {
    let p = Problem::new(ProblemKind::Rosenbrock, 10, 0.0, 0).unwrap();
    let cfg = EsConfig {
        strategy: "cma_es".into(),
        population: 10,
        sigma: 0.5,
        antithetic: false,
        ..EsConfig::default()
    };
    let s = CmaEs::new(cfg);
    let mut st = s.init(seed, vec![-1.0; 10]).unwrap();
    let mut x = vec![0.0; 10];
    let mut evals = 0;
    while evals < 20_000 {
        let f: Vec<f32> = (0..10)
            .map(|m| {
                s.member(&st, m, &mut x).unwrap();
                let v = p.value(&x);
                evals += 1;
                if v < 1e-8 {
                    return f32::INFINITY;
                }
                -(v as f32)
            })
            .collect();
        if f.iter().any(|v| v.is_infinite()) {
            return Some(evals);
        }
        s.tell(&mut st, &f).unwrap();
    }
    None
}

#[test]
fn solves_rosenbrock_10_within_the_literatures_budget() {
    let mut evals: Vec<u64> = (0..5)
        .map(|seed| rosenbrock_evaluations(seed).unwrap_or(u64::MAX))
        .collect();
    evals.sort_unstable();
    assert!(evals[2] <= 10_000, "median evaluations {:?}", evals);
}
