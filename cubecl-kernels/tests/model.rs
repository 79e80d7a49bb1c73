//! A whole ES generation of core's MLP on the cubecl backend against the CPU backend:
//! population forward, shaping, ES direction and SGD step for every tensor.

#![allow(clippy::unwrap_used)]

mod common;

use common::{gpu, max_rel_err, values};
use eggroll_core::backend::{Activation, Backend};
use eggroll_core::cpu::Cpu;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::model::{apply_es_update, zero_optim_state, Model};
use eggroll_core::optim::Optimizer;
use eggroll_core::population::{MemberRows, NoiseKind, Population};
use eggroll_core::shaping::{shape_fitness, Shaping};

/// One generation on `backend`; returns (population outputs, updated parameters).
fn generation<B: Backend>(backend: &B) -> (Vec<f32>, Vec<Vec<f32>>) {
    let config = MlpConfig {
        input: 20,
        hidden: vec![70, 33],
        output: 3,
        activation: Activation::Tanh,
        output_activation: Activation::Identity,
        bias: true,
    };
    let mut model = Mlp::init(backend, config, 17).unwrap();
    let pop = Population {
        seed: 17,
        epoch: 2,
        size: 16,
        sigma: 0.05,
        kind: NoiseKind::LowRank { rank: 2 },
        antithetic: true,
    };
    let rows = 16 * 2;
    let x = backend.upload(&values(rows * 20, 8, 1.0)).unwrap();
    let mr = MemberRows {
        first_member: 0,
        rows_per_member: 2,
    };
    let y = model
        .forward_population(backend, &x, rows, Some((&pop, mr)))
        .unwrap();
    let out = backend.download(&y).unwrap();
    let fitness: Vec<f32> = out.chunks(6).map(|c| c.iter().sum()).collect();
    let weights = shape_fitness(&fitness, Shaping::ZScore, 1).unwrap();
    // SGD: Adam's first step is sign(g)·lr, which would amplify rounding in near-zero
    // directions into full steps (its maths is checked element-wise in tests/optimizer.rs).
    let opt = Optimizer::Sgd {
        sqrt_n_scaling: true,
    };
    let mut state = zero_optim_state(backend, model.specs(), opt.state_slots()).unwrap();
    apply_es_update(
        backend,
        &mut model,
        &mut state,
        &pop,
        &weights,
        &opt.step(1, 0.01, 16),
    )
    .unwrap();
    let params = model
        .params()
        .iter()
        .map(|p| backend.download(p).unwrap())
        .collect();
    (out, params)
}

#[test]
fn one_generation_matches_the_cpu_backend() {
    let (gpu_out, gpu_params) = generation(gpu());
    let (cpu_out, cpu_params) = generation(&Cpu);
    let err = max_rel_err(&gpu_out, &cpu_out);
    assert!(err <= 1e-4, "population outputs: rel err {err}");
    for (i, (g, c)) in gpu_params.iter().zip(&cpu_params).enumerate() {
        let err = max_rel_err(g, c);
        assert!(err <= 1e-4, "tensor {i} after the update: rel err {err}");
    }
}
