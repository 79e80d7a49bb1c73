//! Hand-computed GRPO losses, gradients and clip counts, and a finite-difference check.

use super::*;

fn ln(x: f64) -> f32 {
    x.ln() as f32
}

/// Completion 0 (A = +1): ratios 1 and 2 (the second clipped at 1.2);
/// completion 1 (A = −1): ratios 0.5 (clipped at 0.8), 1, 1 and one masked token.
fn batch() -> (Vec<SeqLogps>, Vec<f32>) {
    let s0 = SeqLogps {
        logp: vec![ln(0.5), ln(0.5)],
        old: Some(vec![ln(0.5), ln(0.25)]),
        reference: None,
        mask: vec![true, true],
    };
    let s1 = SeqLogps {
        logp: vec![ln(0.1), ln(0.2), ln(0.3), ln(0.9)],
        old: Some(vec![ln(0.2), ln(0.2), ln(0.3), ln(0.1)]),
        reference: None,
        mask: vec![true, true, true, false],
    };
    (vec![s0, s1], vec![1.0, -1.0])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn cfg(aggregation: LossAggregation) -> GrpoLossConfig {
    GrpoLossConfig {
        aggregation,
        max_completion_length: 4,
        ..GrpoLossConfig::default()
    }
}

fn assert_grads(got: &[Vec<f32>], want: &[&[f64]]) {
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len());
        for (a, b) in g.iter().zip(*w) {
            assert!(close(*a as f64, *b), "{got:?} vs {want:?}");
        }
    }
}

#[test]
fn token_losses_aggregate_as_dapo_grpo_and_dr_grpo() {
    // Token losses: −1, −1.2 | 0.8, 1, 1 (sum 0.6 over 5 tokens); gradients −1, 0 | 0, 1, 1.
    let (seqs, adv) = batch();
    let d = grpo_loss(&seqs, &adv, &cfg(LossAggregation::Dapo)).unwrap();
    assert!(close(d.loss, 0.6 / 5.0), "{}", d.loss);
    assert_grads(&d.dlogp, &[&[-0.2, 0.0], &[0.0, 0.2, 0.2, 0.0]]);
    assert_eq!(d.tokens, 5);
    assert!(close(d.clip_low, 0.2) && close(d.clip_high, 0.2));

    let g = grpo_loss(&seqs, &adv, &cfg(LossAggregation::Grpo)).unwrap();
    assert!(close(g.loss, (-1.1 + 2.8 / 3.0) / 2.0), "{}", g.loss);
    assert_grads(
        &g.dlogp,
        &[&[-0.25, 0.0], &[0.0, 1.0 / 6.0, 1.0 / 6.0, 0.0]],
    );

    let r = grpo_loss(&seqs, &adv, &cfg(LossAggregation::DrGrpo)).unwrap();
    assert!(close(r.loss, 0.6 / 8.0), "{}", r.loss);
    assert_grads(&r.dlogp, &[&[-0.125, 0.0], &[0.0, 0.125, 0.125, 0.0]]);
}

#[test]
fn clip_higher_lets_a_larger_ratio_through() {
    let (seqs, adv) = batch();
    let c = GrpoLossConfig {
        eps_high: 1.5,
        ..cfg(LossAggregation::Dapo)
    };
    let d = grpo_loss(&seqs, &adv, &c).unwrap();
    // Ratio 2 < 2.5 is no longer clipped: token loss −2, gradient −2.
    assert!(close(d.loss, (-1.0 - 2.0 + 2.8) / 5.0), "{}", d.loss);
    assert_grads(&d.dlogp, &[&[-0.2, -0.4], &[0.0, 0.2, 0.2, 0.0]]);
    assert_eq!(d.clip_high, 0.0);
}

#[test]
fn the_k3_kl_penalty_and_its_gradient() {
    // logp = ln 0.5, ref = ln 0.25: diff = −ln 2, KL = 0.5 + ln 2 − 1; ∂/∂logp = β(1 − 0.5).
    let s = SeqLogps {
        logp: vec![ln(0.5)],
        old: None,
        reference: Some(vec![ln(0.25)]),
        mask: vec![true],
    };
    let c = GrpoLossConfig {
        beta: 0.1,
        ..cfg(LossAggregation::Dapo)
    };
    let d = grpo_loss(&[s], &[0.0], &c).unwrap();
    let kl = 0.5 + 2f64.ln() - 1.0;
    assert!(close(d.kl, kl) && close(d.loss, 0.1 * kl), "{d:?}");
    assert!(close(d.dlogp[0][0] as f64, 0.05), "{d:?}");
}

#[test]
fn gradients_match_finite_differences() {
    // Ratios away from the clip boundaries, with a KL term, for every aggregation.
    let logp = [-1.3f32, -0.7, -2.1, -0.4, -1.9];
    let old = [-1.35f32, -0.9, -2.0, -0.45, -1.5];
    let reference = [-1.0f32, -0.8, -2.5, -0.3, -1.7];
    let make = |lp: &[f32]| {
        vec![
            SeqLogps {
                logp: lp[..2].to_vec(),
                old: Some(old[..2].to_vec()),
                reference: Some(reference[..2].to_vec()),
                mask: vec![true, true],
            },
            SeqLogps {
                logp: lp[2..].to_vec(),
                old: Some(old[2..].to_vec()),
                reference: Some(reference[2..].to_vec()),
                mask: vec![true, false, true],
            },
        ]
    };
    let adv = [0.7f32, -1.2];
    for agg in [
        LossAggregation::Grpo,
        LossAggregation::Dapo,
        LossAggregation::DrGrpo,
    ] {
        let c = GrpoLossConfig {
            beta: 0.04,
            ..cfg(agg)
        };
        let base = grpo_loss(&make(&logp), &adv, &c).unwrap();
        let flat: Vec<f32> = base.dlogp.concat();
        for i in 0..logp.len() {
            let h = 1e-3f32;
            let mut up = logp;
            up[i] += h;
            let mut dn = logp;
            dn[i] -= h;
            let fd = (grpo_loss(&make(&up), &adv, &c).unwrap().loss
                - grpo_loss(&make(&dn), &adv, &c).unwrap().loss)
                / (2.0 * h as f64);
            assert!(
                (fd - flat[i] as f64).abs() < 1e-4,
                "{agg:?} token {i}: fd {fd} vs {}",
                flat[i]
            );
        }
    }
}

#[test]
fn truncated_completions_are_masked_out_entirely() {
    let (mut seqs, adv) = batch();
    mask_truncated(&mut seqs, &[true, false]);
    assert!(seqs[1].mask.iter().all(|m| !m));
    let d = grpo_loss(&seqs, &adv, &cfg(LossAggregation::Dapo)).unwrap();
    assert_eq!(d.tokens, 2);
    assert!(close(d.loss, -2.2 / 2.0));
    assert!(d.dlogp[1].iter().all(|&g| g == 0.0));
}

#[test]
fn inconsistent_inputs_are_refused_by_name() {
    let (seqs, _) = batch();
    let e = grpo_loss(&seqs, &[1.0], &GrpoLossConfig::default()).unwrap_err();
    assert!(
        e.to_string().contains("2 completions for 1 advantages"),
        "{e}"
    );
    let beta = GrpoLossConfig {
        beta: 0.1,
        ..GrpoLossConfig::default()
    };
    let e = grpo_loss(&seqs, &[1.0, -1.0], &beta).unwrap_err();
    assert!(e.to_string().contains("grpo.beta"), "{e}");
    let bad = GrpoLossConfig {
        eps_low: 1.0,
        ..GrpoLossConfig::default()
    };
    assert!(grpo_loss(&seqs, &[1.0, -1.0], &bad).is_err());
    assert!(LossAggregation::parse("grpo.loss_type", "bnpo").is_err());
}
