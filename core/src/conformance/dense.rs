//! Conformance checks against explicit dense references (independent of any fused kernel).

use super::{deterministic_values, max_rel_err, small_population, TOLERANCE};
use crate::backend::{Activation, Backend, LinearLayer};
use crate::noise::{normal_at, StreamKey};
use crate::params::{ParamShape, ParamSpec};
use crate::population::{NoiseKind, Population, RowOwners};

/// Member `i`'s explicit dense perturbation of a `rows × cols` matrix (or a vector when
/// `cols == 1` and `vector`), as the backend should apply it.
pub fn dense_perturbation(pop: &Population, spec: &ParamSpec, member: u32) -> Vec<f32> {
    let stream = pop.stream_of(member);
    let s = pop.sign_of(member);
    let key = pop.key(spec.id, stream);
    match (spec.shape, pop.kind) {
        (ParamShape::Matrix { rows, cols }, NoiseKind::LowRank { rank }) => {
            let r = rank as usize;
            let scale = pop.matrix_scale();
            let b = |i: usize, j: usize| normal_at(key, (i * r + j) as u32);
            let a = |o: usize, j: usize| normal_at(key, ((cols + o) * r + j) as u32);
            let mut e = vec![0.0f32; rows * cols];
            for o in 0..rows {
                for i in 0..cols {
                    let mut acc = 0.0f64;
                    for j in 0..r {
                        acc += a(o, j) as f64 * b(i, j) as f64;
                    }
                    e[o * cols + i] = (s as f64 * scale as f64 * acc) as f32;
                }
            }
            e
        }
        (shape, _) => (0..shape.numel())
            .map(|j| s * pop.sigma * normal_at(key, j as u32))
            .collect(),
    }
}

/// Noise from the backend is bit-identical to the CPU stream.
pub fn check_noise_bit_exact<B: Backend>(backend: &B) -> Result<(), String> {
    for (key, start, len) in [
        (StreamKey::new(1, 2, 3, 4), 0u32, 4096usize),
        (StreamKey::new(u64::MAX, 0, 7, 123_456), 1_000_003, 777),
        // Positions that wrap around 2^32 (sign words 2^27 − 1, then 0).
        (StreamKey::new(5, 6, 7, 8), u32::MAX - 40, 100),
        // 2^18 elements go twice around the pool (2^17 magnitudes), from an odd offset.
        (
            StreamKey::new(0xdead_beef_0bad_f00d, 9, 1, 77),
            12_345,
            1 << 18,
        ),
    ] {
        let buf = backend
            .normals(key, start, len)
            .map_err(|e| e.to_string())?;
        let got = backend.download(&buf).map_err(|e| e.to_string())?;
        for (j, g) in got.iter().enumerate() {
            let want = normal_at(key, start.wrapping_add(j as u32));
            if g.to_bits() != want.to_bits() {
                return Err(format!("noise element {j}: got {g}, want {want}"));
            }
        }
    }
    Ok(())
}

/// The population forward equals explicit dense `X·(W + E_i)ᵀ + (b + e_i)`.
pub fn check_forward_matches_dense<B: Backend>(backend: &B) -> Result<(), String> {
    // Odd widths, and widths of whole 32-element sign words (where the CPU reads a rank-1
    // bias noise straight from the pool), each called three times so that a caching backend
    // serves regenerated and stored noise.
    let cases = [
        (
            (5usize, 7usize, 2usize),
            NoiseKind::LowRank { rank: 1 },
            true,
            6u32,
            0u32,
        ),
        ((5, 7, 2), NoiseKind::LowRank { rank: 3 }, true, 8, 1),
        ((5, 7, 2), NoiseKind::LowRank { rank: 2 }, false, 5, 0),
        ((5, 7, 2), NoiseKind::Full, true, 4, 0),
        ((64, 32, 1), NoiseKind::LowRank { rank: 1 }, true, 6, 0),
        ((32, 64, 3), NoiseKind::LowRank { rank: 1 }, true, 4, 1),
    ];
    for ((n_out, n_in, rpm), kind, antithetic, size, first) in cases {
        let pop = small_population(kind, antithetic, size);
        let members = (size - first) as usize;
        let rows = members * rpm;
        let w = deterministic_values(n_out * n_in, 1);
        let b = deterministic_values(n_out, 2);
        let x = deterministic_values(rows * n_in, 3);
        let wspec = ParamSpec {
            name: "w".into(),
            id: 10,
            shape: ParamShape::Matrix {
                rows: n_out,
                cols: n_in,
            },
        };
        let bspec = ParamSpec {
            name: "b".into(),
            id: 11,
            shape: ParamShape::Vector { len: n_out },
        };
        let (wb, bb, xb) = (
            backend.upload(&w).map_err(|e| e.to_string())?,
            backend.upload(&b).map_err(|e| e.to_string())?,
            backend.upload(&x).map_err(|e| e.to_string())?,
        );
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
            first_member: first,
            rows_per_member: rpm,
        };
        let member_of: Vec<u32> = (0..rows).map(|r| first + (r / rpm) as u32).collect();
        let want = dense_linear(&pop, (&wspec, &w), (&bspec, &b), &x, &member_of);
        let mut first_out: Option<Vec<f32>> = None;
        for call in 0..3 {
            let out = backend
                .linear(&xb, rows, &layer, owners)
                .and_then(|y| backend.download(&y))
                .map_err(|e| e.to_string())?;
            let err = max_rel_err(&out, &want);
            if err > TOLERANCE {
                return Err(format!(
                    "forward {kind:?} {n_out}x{n_in} antithetic={antithetic} call {call}: \
                     rel err {err}"
                ));
            }
            match &first_out {
                None => first_out = Some(out),
                Some(f) if bits(f) != bits(&out) => {
                    return Err(format!(
                        "forward {kind:?} {n_out}x{n_in}: call {call} differs from call 0"
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Explicit dense `x_j·(W + E_m)ᵀ + (b + e_m)` with `m = member_of[j]`.
fn dense_linear(
    pop: &Population,
    (wspec, w): (&ParamSpec, &[f32]),
    (bspec, b): (&ParamSpec, &[f32]),
    x: &[f32],
    member_of: &[u32],
) -> Vec<f32> {
    let (n_out, n_in) = (b.len(), w.len() / b.len());
    let mut want = vec![0.0f32; member_of.len() * n_out];
    for (row, &member) in member_of.iter().enumerate() {
        let e = dense_perturbation(pop, wspec, member);
        let eb = dense_perturbation(pop, bspec, member);
        for o in 0..n_out {
            let mut acc = (b[o] + eb[o]) as f64;
            for i in 0..n_in {
                acc += x[row * n_in + i] as f64 * (w[o * n_in + i] + e[o * n_in + i]) as f64;
            }
            want[row * n_out + o] = acc as f32;
        }
    }
    want
}

/// A compacted batch (an explicit member per row, [`RowOwners::Tagged`]) equals the dense
/// reference, through [`Backend::linear`] and [`Backend::linear_activated`] alike.
pub fn check_tagged_rows_match_dense<B: Backend>(backend: &B) -> Result<(), String> {
    let (n_out, n_in) = (6usize, 5usize);
    let members = [0u32, 0, 3, 5, 5, 5, 2, 7, 1, 1];
    for kind in [NoiseKind::LowRank { rank: 2 }, NoiseKind::Full] {
        let pop = small_population(kind, true, 8);
        let w = deterministic_values(n_out * n_in, 21);
        let b = deterministic_values(n_out, 22);
        let x = deterministic_values(members.len() * n_in, 23);
        let wspec = ParamSpec {
            name: "w".into(),
            id: 3,
            shape: ParamShape::Matrix {
                rows: n_out,
                cols: n_in,
            },
        };
        let bspec = ParamSpec {
            name: "b".into(),
            id: 4,
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
        let owners = RowOwners::Tagged {
            pop: &pop,
            members: &members,
        };
        let rows = members.len();
        let out = backend
            .linear(&xb, rows, &layer, owners)
            .and_then(|y| backend.download(&y))
            .map_err(|e| e.to_string())?;
        let want = dense_linear(&pop, (&wspec, &w), (&bspec, &b), &x, &members);
        let err = max_rel_err(&out, &want);
        if err > TOLERANCE {
            return Err(format!("tagged rows {kind:?}: rel err {err}"));
        }
        let tanh = backend
            .linear_activated(&xb, rows, &layer, owners, Activation::Tanh)
            .and_then(|y| backend.download(&y))
            .map_err(|e| e.to_string())?;
        let want: Vec<f32> = out.iter().map(|&v| Activation::Tanh.apply(v)).collect();
        let err = max_rel_err(&tanh, &want);
        if err > TOLERANCE {
            return Err(format!("tagged rows {kind:?}, tanh: rel err {err}"));
        }
    }
    Ok(())
}

/// The ES gradient estimate equals the explicit sum `(1/N) Σ w_i E_i`.
pub fn check_gradient_matches_sum<B: Backend>(backend: &B) -> Result<(), String> {
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
    ];
    for (kind, antithetic, size) in [
        (NoiseKind::LowRank { rank: 1 }, true, 10u32),
        (NoiseKind::LowRank { rank: 4 }, false, 7),
        (NoiseKind::Full, true, 6),
    ] {
        let pop = small_population(kind, antithetic, size);
        let weights = deterministic_values(size as usize, 7);
        for spec in &specs {
            let got = backend
                .es_gradient(&pop, spec, &weights)
                .and_then(|g| backend.download(&g))
                .map_err(|e| e.to_string())?;
            let mut want = vec![0.0f64; spec.shape.numel()];
            for i in 0..size {
                let e = dense_perturbation(&pop, spec, i);
                for (acc, v) in want.iter_mut().zip(e) {
                    *acc += weights[i as usize] as f64 * v as f64 / size as f64;
                }
            }
            let want: Vec<f32> = want.into_iter().map(|v| v as f32).collect();
            let err = max_rel_err(&got, &want);
            if err > TOLERANCE {
                return Err(format!("gradient {kind:?} {}: rel err {err}", spec.name));
            }
        }
    }
    Ok(())
}
