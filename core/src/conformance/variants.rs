//! Conformance of the EGGROLL variants ([`Variant`]): the forward of a population with sign
//! update factors or baseline members equals the explicit dense reference, the baseline
//! members' rows equal plain inference bit for bit, and the update sums `sign(A)·sign(B)ᵀ`
//! (`eggroll_sign`) or skips the baseline members (`eggroll_baseline`).

use super::dense::dense_perturbation;
use super::{deterministic_values, max_rel_err, small_population, TOLERANCE};
use crate::backend::{Activation, Backend, LinearLayer};
use crate::noise::normal_at;
use crate::params::{ParamShape, ParamSpec};
use crate::population::{NoiseKind, Population, RowOwners, UpdateFactors, Variant};

/// `eggroll_sign`'s variant.
pub const SIGN: Variant = Variant {
    factors: UpdateFactors::Sign,
    baseline_group: 0,
};

/// `eggroll_baseline`'s variant with baseline groups of `g` members.
pub const fn baseline(g: u32) -> Variant {
    Variant {
        factors: UpdateFactors::Plain,
        baseline_group: g,
    }
}

/// Member `i`'s term of the update, `s_i·(σ/√r)·F_A·F_Bᵀ` with the population's factors
/// (`F = sign(·)` for sign factors), or its dense perturbation otherwise.
pub fn dense_update_term(pop: &Population, spec: &ParamSpec, member: u32) -> Vec<f32> {
    match (spec.shape, pop.kind, pop.variant().factors) {
        (ParamShape::Matrix { rows, cols }, NoiseKind::LowRank { rank }, UpdateFactors::Sign) => {
            let r = rank as usize;
            let key = pop.key(spec.id, pop.stream_of(member));
            let sign = |j: usize| normal_at(key, j as u32).signum() as f64;
            let s = pop.sign_of(member) as f64 * pop.matrix_scale() as f64;
            let mut e = vec![0.0f32; rows * cols];
            for o in 0..rows {
                for i in 0..cols {
                    let acc: f64 = (0..r)
                        .map(|j| sign((cols + o) * r + j) * sign(i * r + j))
                        .sum();
                    e[o * cols + i] = (s * acc) as f32;
                }
            }
            e
        }
        _ => dense_perturbation(pop, spec, member),
    }
}

fn variant_population(kind: NoiseKind, size: u32, variant: Variant) -> Result<Population, String> {
    small_population(kind, true, size)
        .with_variant(variant)
        .map_err(|e| e.to_string())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A population with a variant runs its forward like any other (the dense reference, with
/// sign 0 for baseline members), and the baseline members' rows equal plain inference bit
/// for bit, with and without an activation.
pub fn check_variant_forward<B: Backend>(backend: &B) -> Result<(), String> {
    let (n_out, n_in, rpm) = (7usize, 5usize, 2usize);
    let cases = [
        (NoiseKind::LowRank { rank: 1 }, 8u32, SIGN),
        (NoiseKind::LowRank { rank: 2 }, 8, baseline(4)),
        (NoiseKind::LowRank { rank: 1 }, 12, baseline(6)),
        (NoiseKind::Full, 8, baseline(4)),
    ];
    for (kind, size, variant) in cases {
        let pop = variant_population(kind, size, variant)?;
        let rows = size as usize * rpm;
        let w = deterministic_values(n_out * n_in, 31);
        let b = deterministic_values(n_out, 32);
        let x = deterministic_values(rows * n_in, 33);
        let wspec = ParamSpec {
            name: "w".into(),
            id: 12,
            shape: ParamShape::Matrix {
                rows: n_out,
                cols: n_in,
            },
        };
        let bspec = ParamSpec {
            name: "b".into(),
            id: 13,
            shape: ParamShape::Vector { len: n_out },
        };
        let up = |v: &[f32]| backend.upload(v).map_err(|e| e.to_string());
        let (wb, bb, xb) = (up(&w)?, up(&b)?, up(&x)?);
        let layer = LinearLayer {
            weight: &wb,
            rows: None,
            weight_id: wspec.id,
            out_dim: n_out,
            in_dim: n_in,
            bias: Some((&bb, bspec.id)),
        };
        let owners = RowOwners::Grouped {
            pop: &pop,
            first_member: 0,
            rows_per_member: rpm,
        };
        for act in [Activation::Identity, Activation::Tanh] {
            let run = |owners| {
                backend
                    .linear_activated(&xb, rows, &layer, owners, act)
                    .and_then(|y| backend.download(&y))
                    .map_err(|e| e.to_string())
            };
            let (out, plain) = (run(owners)?, run(RowOwners::Plain)?);
            let mut want = Vec::with_capacity(rows * n_out);
            for row in 0..rows {
                let member = (row / rpm) as u32;
                let e = dense_perturbation(&pop, &wspec, member);
                let eb = dense_perturbation(&pop, &bspec, member);
                for o in 0..n_out {
                    let mut acc = (b[o] + eb[o]) as f64;
                    for i in 0..n_in {
                        acc +=
                            x[row * n_in + i] as f64 * (w[o * n_in + i] + e[o * n_in + i]) as f64;
                    }
                    want.push(act.apply(acc as f32));
                }
            }
            let err = max_rel_err(&out, &want);
            if err > TOLERANCE {
                return Err(format!(
                    "variant {variant:?} {kind:?} {act:?}: rel err {err}"
                ));
            }
            let mut perturbed_rows_differ = false;
            for member in 0..size {
                let span = member as usize * rpm * n_out..(member as usize + 1) * rpm * n_out;
                let same = bits(&out[span.clone()]) == bits(&plain[span]);
                if pop.is_baseline(member) && !same {
                    return Err(format!(
                        "variant {variant:?} {kind:?} {act:?}: baseline member {member}'s rows \
                         differ from plain inference"
                    ));
                }
                perturbed_rows_differ |= !pop.is_baseline(member) && !same;
            }
            if !perturbed_rows_differ {
                return Err(format!(
                    "variant {variant:?} {kind:?}: no member was perturbed"
                ));
            }
        }
    }
    Ok(())
}

/// The update of a population with a variant equals the explicit sum
/// `(1/N) Σ w_i s_i (σ/√r) F_A,i F_B,iᵀ` (sign factors) or `(1/N) Σ w_i E_i` with no term
/// for the baseline members, whatever weight they are given.
pub fn check_variant_gradient<B: Backend>(backend: &B) -> Result<(), String> {
    let specs = [
        ParamSpec {
            name: "w".into(),
            id: 4,
            shape: ParamShape::Matrix { rows: 6, cols: 9 },
        },
        ParamSpec {
            name: "b".into(),
            id: 5,
            shape: ParamShape::Vector { len: 6 },
        },
        // Tile edges of the device GEMMs (64×64 tiles).
        ParamSpec {
            name: "big".into(),
            id: 6,
            shape: ParamShape::Matrix { rows: 70, cols: 65 },
        },
    ];
    for (kind, size, variant) in [
        (NoiseKind::LowRank { rank: 1 }, 10u32, SIGN),
        (NoiseKind::LowRank { rank: 3 }, 8, SIGN),
        (NoiseKind::LowRank { rank: 2 }, 12, baseline(4)),
        (NoiseKind::Full, 8, baseline(4)),
    ] {
        let pop = variant_population(kind, size, variant)?;
        let weights = deterministic_values(size as usize, 17);
        for spec in &specs {
            let got = backend
                .es_gradient(&pop, spec, &weights)
                .and_then(|g| backend.download(&g))
                .map_err(|e| e.to_string())?;
            let mut want = vec![0.0f64; spec.shape.numel()];
            for i in 0..size {
                let e = dense_update_term(&pop, spec, i);
                for (acc, v) in want.iter_mut().zip(e) {
                    *acc += weights[i as usize] as f64 * v as f64 / size as f64;
                }
            }
            let want: Vec<f32> = want.into_iter().map(|v| v as f32).collect();
            let err = max_rel_err(&got, &want);
            if err > TOLERANCE {
                return Err(format!(
                    "gradient {variant:?} {kind:?} {}: rel err {err}",
                    spec.name
                ));
            }
        }
    }
    Ok(())
}
