//! Conformance checks against the CPU reference backend: shapes that cross tile boundaries,
//! the full-rank path, activations, optimiser steps, and one whole MLP generation.

use super::{max_rel_err, TOLERANCE};
use crate::backend::{Activation, Backend, LinearLayer};
use crate::cpu::Cpu;
use crate::mlp::{Mlp, MlpConfig};
use crate::model::{apply_es_update, zero_optim_state, Model};
use crate::noise::{normal_at, StreamKey};
use crate::optim::{apply_step_host, Optimizer};
use crate::params::{ParamShape, ParamSpec};
use crate::population::{NoiseKind, Population, PopulationParams, RowOwners};
use crate::shaping::{shape_fitness, Shaping};

fn values(n: usize, salt: u32, scale: f32) -> Vec<f32> {
    let key = StreamKey::new(0x5eed, salt, 1, 2);
    (0..n).map(|j| normal_at(key, j as u32) * scale).collect()
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn pop(kind: NoiseKind, antithetic: bool, size: u32) -> Population {
    Population::new(PopulationParams {
        seed: 0x0123_4567_89ab_cdef,
        epoch: 11,
        size,
        sigma: 0.07,
        kind,
        antithetic,
    })
    .expect("a valid population")
}

/// The same layer on `backend` and on the CPU: (backend, cpu) outputs.
fn both_linear<B: Backend>(
    backend: &B,
    (n_out, n_in, rows): (usize, usize, usize),
    bias: bool,
    owners: RowOwners<'_>,
) -> Result<(Vec<f32>, Vec<f32>), String> {
    let w = values(n_out * n_in, 1, 0.3);
    let b = values(n_out, 2, 0.5);
    let x = values(rows * n_in, 3, 1.0);
    let (wg, bg, xg) = (
        backend.upload(&w).map_err(err)?,
        backend.upload(&b).map_err(err)?,
        backend.upload(&x).map_err(err)?,
    );
    let layer = LinearLayer {
        weight: &wg,
        rows: None,
        weight_id: 20,
        out_dim: n_out,
        in_dim: n_in,
        bias: bias.then_some((&bg, 21)),
    };
    let got = backend
        .linear(&xg, rows, &layer, owners)
        .and_then(|y| backend.download(&y))
        .map_err(err)?;
    let cpu_layer = LinearLayer {
        weight: &w,
        rows: None,
        weight_id: 20,
        out_dim: n_out,
        in_dim: n_in,
        bias: bias.then_some((&b, 21)),
    };
    let want = Cpu::new()
        .linear(&x, rows, &cpu_layer, owners)
        .map_err(err)?;
    Ok((got, want))
}

/// Plain, low-rank and full-rank layers on shapes crossing several GEMM tiles (67 × 37 ×
/// 70 rows), more than 8 rows per member, an odd first member, tagged rows, with and without
/// antithetics.
pub fn check_linear_matches_cpu_across_tiles<B: Backend>(backend: &B) -> Result<(), String> {
    for bias in [true, false] {
        let (got, want) = both_linear(backend, (67, 37, 70), bias, RowOwners::Plain)?;
        let e = max_rel_err(&got, &want);
        if e > TOLERANCE {
            return Err(format!("plain inference bias={bias}: rel err {e}"));
        }
    }
    for (kind, antithetic, size, first, rpm) in [
        (NoiseKind::LowRank { rank: 3 }, true, 12u32, 3u32, 10usize),
        (NoiseKind::LowRank { rank: 1 }, false, 9, 0, 1),
        (NoiseKind::Full, true, 6, 1, 3),
    ] {
        let p = pop(kind, antithetic, size);
        let owners = RowOwners::Grouped {
            pop: &p,
            first_member: first,
            rows_per_member: rpm,
        };
        let rows = (size - first) as usize * rpm;
        let (got, want) = both_linear(backend, (67, 37, rows), true, owners)?;
        let e = max_rel_err(&got, &want);
        if e > TOLERANCE {
            return Err(format!("{kind:?} first={first} rpm={rpm}: rel err {e}"));
        }
        // The same population with a member per row, in an order no grouping gives.
        let members: Vec<u32> = (0..70u32).map(|r| (r * 5 + r / 7) % size).collect();
        let owners = RowOwners::Tagged {
            pop: &p,
            members: &members,
        };
        let (got, want) = both_linear(backend, (67, 37, 70), true, owners)?;
        let e = max_rel_err(&got, &want);
        if e > TOLERANCE {
            return Err(format!("{kind:?} tagged rows: rel err {e}"));
        }
    }
    Ok(())
}

/// The ES gradient estimate of a tile-crossing matrix and a vector equals the CPU's.
pub fn check_gradient_matches_cpu_across_tiles<B: Backend>(backend: &B) -> Result<(), String> {
    let specs = [
        ParamSpec {
            name: "w".into(),
            id: 30,
            shape: ParamShape::Matrix { rows: 70, cols: 45 },
        },
        ParamSpec {
            name: "b".into(),
            id: 31,
            shape: ParamShape::Vector { len: 70 },
        },
    ];
    for (kind, antithetic, size) in [
        (NoiseKind::LowRank { rank: 2 }, true, 40u32),
        (NoiseKind::LowRank { rank: 1 }, false, 33),
        (NoiseKind::Full, true, 8),
    ] {
        let p = pop(kind, antithetic, size);
        let weights = values(size as usize, 9, 1.0);
        for spec in &specs {
            let got = backend
                .es_gradient(&p, spec, &weights)
                .and_then(|g| backend.download(&g))
                .map_err(err)?;
            let want = Cpu::new().es_gradient(&p, spec, &weights).map_err(err)?;
            let e = max_rel_err(&got, &want);
            if e > TOLERANCE {
                return Err(format!("{kind:?} {}: rel err {e}", spec.name));
            }
        }
    }
    Ok(())
}

/// Identity, relu and tanh (including saturation far from 0) equal the CPU's.
pub fn check_activations_match_cpu<B: Backend>(backend: &B) -> Result<(), String> {
    let mut x = values(1000, 4, 3.0);
    x.extend([0.0, -0.0, 1e-7, -1e-7, 20.0, -20.0, 90.0, -90.0]);
    for act in [Activation::Identity, Activation::Relu, Activation::Tanh] {
        let mut buf = backend.upload(&x).map_err(err)?;
        backend.activate(&mut buf, act).map_err(err)?;
        let got = backend.download(&buf).map_err(err)?;
        let want: Vec<f32> = x.iter().map(|&v| act.apply(v)).collect();
        let e = max_rel_err(&got, &want);
        if e > TOLERANCE || got.iter().any(|v| !v.is_finite()) {
            return Err(format!("{act:?}: rel err {e}"));
        }
    }
    Ok(())
}

/// SGD and Adam(W) steps equal [`apply_step_host`] over three steps, state included.
pub fn check_optimizer_matches_host<B: Backend>(backend: &B) -> Result<(), String> {
    let n = 300;
    for opt in [
        Optimizer::Sgd {
            sqrt_n_scaling: true,
        },
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 0.01,
        },
    ] {
        let mut host = values(n, 5, 1.0);
        let mut host_state = vec![vec![0.0f32; n]; opt.state_slots()];
        let mut dev = backend.upload(&host).map_err(err)?;
        let mut dev_state = (0..opt.state_slots())
            .map(|_| backend.upload(&vec![0.0; n]))
            .collect::<crate::Result<Vec<_>>>()
            .map_err(err)?;
        for t in 1..=3u64 {
            let g = values(n, 10 + t as u32, 0.5);
            let step = opt.step(t, 0.01, 64);
            apply_step_host(&mut host, &g, &mut host_state, &step);
            let gd = backend.upload(&g).map_err(err)?;
            backend
                .optimizer_step(&mut dev, &gd, &mut dev_state, &step)
                .map_err(err)?;
        }
        let got = backend.download(&dev).map_err(err)?;
        let e = max_rel_err(&got, &host);
        if e > TOLERANCE {
            return Err(format!("{opt:?}: parameters rel err {e}"));
        }
        for (k, (d, h)) in dev_state.iter().zip(&host_state).enumerate() {
            let e = max_rel_err(&backend.download(d).map_err(err)?, h);
            if e > TOLERANCE {
                return Err(format!("{opt:?}: state {k} rel err {e}"));
            }
        }
    }
    Ok(())
}

/// One whole MLP generation (population forward, shaping, update) on `backend`:
/// (population outputs, parameters after the update).
fn mlp_generation<B: Backend>(backend: &B) -> crate::Result<(Vec<f32>, Vec<Vec<f32>>)> {
    let config = MlpConfig {
        input: 20,
        hidden: vec![33, 17],
        output: 3,
        activation: Activation::Tanh,
        output_activation: Activation::Identity,
        bias: true,
    };
    let mut model = Mlp::init(backend, config, 17)?;
    let p = Population::new(PopulationParams {
        seed: 17,
        epoch: 2,
        size: 16,
        sigma: 0.05,
        kind: NoiseKind::LowRank { rank: 2 },
        antithetic: true,
    })?;
    let rows = 32;
    let x = backend.upload(&values(rows * 20, 8, 1.0))?;
    let owners = RowOwners::Grouped {
        pop: &p,
        first_member: 0,
        rows_per_member: 2,
    };
    let out = backend.download(&model.forward(backend, &x, rows, owners)?)?;
    let fitness: Vec<f32> = out.chunks(6).map(|c| c.iter().sum()).collect();
    let weights = shape_fitness(&fitness, Shaping::ZScore, 1)?;
    // SGD: Adam's first step is sign(g)·lr, which would turn rounding noise in near-zero
    // directions into full steps (its maths is checked element-wise above).
    let opt = Optimizer::Sgd {
        sqrt_n_scaling: true,
    };
    let mut state = zero_optim_state(backend, model.specs(), opt.state_slots())?;
    apply_es_update(
        backend,
        &mut model,
        &mut state,
        &p,
        &weights,
        &opt.step(1, 0.01, 16),
    )?;
    let params = model
        .params()
        .iter()
        .map(|t| backend.download(t))
        .collect::<crate::Result<_>>()?;
    Ok((out, params))
}

/// A whole MLP generation on `backend` equals the CPU's.
pub fn check_generation_matches_cpu<B: Backend>(backend: &B) -> Result<(), String> {
    let (out, params) = mlp_generation(backend).map_err(err)?;
    let (cpu_out, cpu_params) = mlp_generation(&Cpu::new()).map_err(err)?;
    let e = max_rel_err(&out, &cpu_out);
    if e > TOLERANCE {
        return Err(format!("population outputs: rel err {e}"));
    }
    for (i, (g, c)) in params.iter().zip(&cpu_params).enumerate() {
        let e = max_rel_err(g, c);
        if e > TOLERANCE {
            return Err(format!("tensor {i} after the update: rel err {e}"));
        }
    }
    Ok(())
}
