//! The device optimiser steps against the host reference `apply_step_host`.

#![allow(clippy::unwrap_used)]

mod common;

use common::values;
use eggroll_core::optim::{apply_step_host, Optimizer};
use eggroll_core::Backend;

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-4 * w.abs().max(1e-3);
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn sgd_and_adam_match_the_host_reference_over_several_steps() {
    let gpu = common::gpu();
    let n = 1000;
    for opt in [
        Optimizer::Sgd {
            sqrt_n_scaling: true,
        },
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        },
    ] {
        let mut host_p = values(n, 1, 1.0);
        let mut host_state: Vec<Vec<f32>> = vec![vec![0.0; n]; opt.state_slots()];
        let mut dev_p = gpu.upload(&host_p).unwrap();
        let mut dev_state: Vec<_> = host_state.iter().map(|s| gpu.upload(s).unwrap()).collect();
        for t in 1..=3u64 {
            let g = values(n, 10 + t as u32, 0.3);
            let step = opt.step(t, 0.01, 64);
            apply_step_host(&mut host_p, &g, &mut host_state, &step);
            let dev_g = gpu.upload(&g).unwrap();
            gpu.optimizer_step(&mut dev_p, &dev_g, &mut dev_state, &step)
                .unwrap();
        }
        assert_close(
            &gpu.download(&dev_p).unwrap(),
            &host_p,
            &format!("{opt:?} param"),
        );
        for (k, (d, h)) in dev_state.iter().zip(&host_state).enumerate() {
            assert_close(&gpu.download(d).unwrap(), h, &format!("{opt:?} state {k}"));
        }
    }
}

#[test]
fn optimizer_rejects_mismatched_state() {
    let gpu = common::gpu();
    let mut p = gpu.upload(&[1.0, 2.0]).unwrap();
    let g = gpu.upload(&[1.0, 2.0]).unwrap();
    let step = Optimizer::default().step(1, 0.1, 4);
    let err = gpu.optimizer_step(&mut p, &g, &mut [], &step).unwrap_err();
    assert!(err.to_string().contains("optimizer state"), "{err}");
    let short = gpu.upload(&[1.0]).unwrap();
    let sgd = Optimizer::Sgd {
        sqrt_n_scaling: false,
    }
    .step(1, 0.1, 4);
    assert!(gpu.optimizer_step(&mut p, &short, &mut [], &sgd).is_err());
}
