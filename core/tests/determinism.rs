//! Bit-identical results for any thread count.

#![allow(clippy::unwrap_used)]

use eggroll_core::cpu::Cpu;
use eggroll_core::mlp::{Mlp, MlpConfig};
use eggroll_core::population::{NoiseKind, Population, PopulationParams, RowOwners};
use eggroll_core::{Activation, Backend, Model};

fn run(threads: usize, kind: NoiseKind) -> (Vec<f32>, Vec<Vec<f32>>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let cfg = MlpConfig {
            input: 40,
            hidden: vec![300, 70],
            output: 9,
            activation: Activation::Tanh,
            output_activation: Activation::Identity,
            bias: true,
        };
        let cpu = Cpu::new();
        let model = Mlp::init(&cpu, cfg, 5).unwrap();
        let pop = Population::new(PopulationParams {
            seed: 3,
            epoch: 2,
            size: 1200,
            sigma: 0.1,
            kind,
            antithetic: true,
        })
        .unwrap();
        let rows = 1200 * 2;
        let x: Vec<f32> = (0..rows * 40)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let owners = RowOwners::Grouped {
            pop: &pop,
            first_member: 0,
            rows_per_member: 2,
        };
        let y = model.forward(&cpu, &x, rows, owners).unwrap();
        let weights: Vec<f32> = (0..1200).map(|i| ((i * 31) % 17) as f32 - 8.0).collect();
        let grads = model
            .specs()
            .iter()
            .map(|s| cpu.es_gradient(&pop, s, &weights).unwrap())
            .collect();
        (y, grads)
    })
}

#[test]
fn forward_and_update_do_not_depend_on_thread_count() {
    for kind in [NoiseKind::LowRank { rank: 2 }, NoiseKind::Full] {
        let (y1, g1) = run(1, kind);
        let (y2, g2) = run(2, kind);
        let (y3, g3) = run(3, kind);
        let bits = |v: &Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y1), bits(&y2));
        assert_eq!(bits(&y1), bits(&y3));
        for ((a, b), c) in g1.iter().zip(&g2).zip(&g3) {
            assert_eq!(bits(a), bits(b));
            assert_eq!(bits(a), bits(c));
        }
    }
}
