//! The cubecl kernels against the CPU backend on shapes that cross every tile boundary
//! (several 64-row and 64-column GEMM tiles, several 16-deep K steps, more than 8 rows per
//! member in the projection), plus edge cases and error reporting.

#![allow(clippy::unwrap_used)]

mod common;

use common::{gpu, max_rel_err, values};
use eggroll_core::backend::{Activation, Backend, LinearLayer};
use eggroll_core::cpu::Cpu;
use eggroll_core::noise::{normal_at, StreamKey};
use eggroll_core::params::{ParamShape, ParamSpec};
use eggroll_core::population::{MemberRows, NoiseKind, Population};

const TOL: f32 = 1e-4;

fn pop(kind: NoiseKind, antithetic: bool, size: u32) -> Population {
    Population {
        seed: 0x0123_4567_89ab_cdef,
        epoch: 11,
        size,
        sigma: 0.07,
        kind,
        antithetic,
    }
}

/// Run the same layer on the CPU and the GPU and return (gpu, cpu) outputs.
fn both_linear(
    n_out: usize,
    n_in: usize,
    rows: usize,
    bias: bool,
    perturb: Option<(&Population, MemberRows)>,
) -> (Vec<f32>, Vec<f32>) {
    let g = gpu();
    let w = values(n_out * n_in, 1, 0.3);
    let b = values(n_out, 2, 0.5);
    let x = values(rows * n_in, 3, 1.0);
    let (wg, bg, xg) = (
        g.upload(&w).unwrap(),
        g.upload(&b).unwrap(),
        g.upload(&x).unwrap(),
    );
    let layer = LinearLayer {
        weight: &wg,
        weight_id: 20,
        out_dim: n_out,
        in_dim: n_in,
        bias: bias.then_some((&bg, 21)),
    };
    let got = g
        .download(&g.linear(&xg, rows, &layer, perturb).unwrap())
        .unwrap();
    let cpu_layer = LinearLayer {
        weight: &w,
        weight_id: 20,
        out_dim: n_out,
        in_dim: n_in,
        bias: bias.then_some((&b, 21)),
    };
    let want = Cpu.linear(&x, rows, &cpu_layer, perturb).unwrap();
    (got, want)
}

#[test]
fn plain_inference_matches_cpu_across_tiles() {
    for bias in [true, false] {
        let (got, want) = both_linear(67, 37, 70, bias, None);
        let err = max_rel_err(&got, &want);
        assert!(err <= TOL, "bias={bias}: rel err {err}");
    }
}

#[test]
fn low_rank_forward_matches_cpu_across_tiles_and_row_chunks() {
    for (antithetic, size, first, rpm, rank) in [
        (true, 12u32, 3u32, 10usize, 3u32),
        (false, 9, 0, 1, 1),
        (true, 130, 0, 1, 2),
    ] {
        let p = pop(NoiseKind::LowRank { rank }, antithetic, size);
        let rows = (size - first) as usize * rpm;
        let mr = MemberRows {
            first_member: first,
            rows_per_member: rpm,
        };
        let (got, want) = both_linear(67, 37, rows, true, Some((&p, mr)));
        let err = max_rel_err(&got, &want);
        assert!(err <= TOL, "{p:?} first={first} rpm={rpm}: rel err {err}");
    }
}

#[test]
fn full_rank_forward_matches_cpu() {
    let p = pop(NoiseKind::Full, false, 5);
    let mr = MemberRows {
        first_member: 1,
        rows_per_member: 3,
    };
    let (got, want) = both_linear(19, 23, 12, false, Some((&p, mr)));
    let err = max_rel_err(&got, &want);
    assert!(err <= TOL, "rel err {err}");
}

#[test]
fn es_direction_matches_cpu_across_tiles() {
    let g = gpu();
    let specs = [
        ParamSpec {
            name: "w".into(),
            id: 3,
            shape: ParamShape::Matrix { rows: 70, cols: 33 },
        },
        ParamSpec {
            name: "b".into(),
            id: 4,
            shape: ParamShape::Vector { len: 300 },
        },
    ];
    for (kind, antithetic, size) in [
        (NoiseKind::LowRank { rank: 2 }, true, 20u32),
        (NoiseKind::LowRank { rank: 1 }, false, 19),
        (NoiseKind::Full, true, 8),
    ] {
        let p = pop(kind, antithetic, size);
        let weights = values(size as usize, 9, 1.0);
        for spec in &specs {
            let got = g
                .download(&g.es_gradient(&p, spec, &weights).unwrap())
                .unwrap();
            let want = Cpu.es_gradient(&p, spec, &weights).unwrap();
            let err = max_rel_err(&got, &want);
            assert!(err <= TOL, "{kind:?} {}: rel err {err}", spec.name);
        }
    }
}

#[test]
fn activations_match_cpu_including_saturation() {
    let g = gpu();
    let mut x = values(1000, 6, 3.0);
    x.extend([-80.0, -12.0, 0.0, 12.0, 80.0]);
    for act in [Activation::Identity, Activation::Relu, Activation::Tanh] {
        let mut buf = g.upload(&x).unwrap();
        g.activate(&mut buf, act).unwrap();
        let got = g.download(&buf).unwrap();
        let want: Vec<f32> = x.iter().map(|&v| act.apply(v)).collect();
        assert!(
            got.iter().all(|v| v.is_finite()),
            "{act:?} produced non-finite values"
        );
        let err = max_rel_err(&got, &want);
        assert!(err <= TOL, "{act:?}: rel err {err}");
    }
}

#[test]
fn noise_counter_wraps_like_the_cpu() {
    let g = gpu();
    let key = StreamKey::new(42, 1, 2, 3);
    let start = u32::MAX - 9;
    let got = g.download(&g.normals(key, start, 30).unwrap()).unwrap();
    for (j, v) in got.iter().enumerate() {
        let want = normal_at(key, start.wrapping_add(j as u32));
        assert_eq!(v.to_bits(), want.to_bits(), "element {j}");
    }
}

#[test]
fn empty_batches_and_buffers_work() {
    let g = gpu();
    let empty = g.upload(&[]).unwrap();
    assert!(g.download(&empty).unwrap().is_empty());
    let w = g.upload(&values(6, 1, 1.0)).unwrap();
    let layer = LinearLayer {
        weight: &w,
        weight_id: 0,
        out_dim: 2,
        in_dim: 3,
        bias: None,
    };
    let y = g.linear(&empty, 0, &layer, None).unwrap();
    assert!(g.download(&y).unwrap().is_empty());
}

#[test]
fn bad_shapes_and_member_ranges_are_clear_errors() {
    let g = gpu();
    let w = g.upload(&values(6, 1, 1.0)).unwrap();
    let x = g.upload(&values(9, 2, 1.0)).unwrap();
    let layer = LinearLayer {
        weight: &w,
        weight_id: 0,
        out_dim: 2,
        in_dim: 3,
        bias: None,
    };
    let err = g.linear(&x, 4, &layer, None).unwrap_err().to_string();
    assert!(err.contains("linear input"), "{err}");
    let p = pop(NoiseKind::LowRank { rank: 1 }, true, 2);
    let too_many = MemberRows {
        first_member: 0,
        rows_per_member: 1,
    };
    let err = g
        .linear(&x, 3, &layer, Some((&p, too_many)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceed"), "{err}");
    let uneven = MemberRows {
        first_member: 0,
        rows_per_member: 2,
    };
    let err = g
        .linear(&x, 3, &layer, Some((&p, uneven)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rows_per_member"), "{err}");
}

#[test]
fn noise_matches_cpu_over_a_long_stream() {
    // 2^18 elements reach deep into the table's octaves (tail probabilities down to ~2^-18).
    let g = gpu();
    let key = StreamKey::new(0xdead_beef_0bad_f00d, 9, 1, 77);
    let len = 1 << 18;
    let got = g.download(&g.normals(key, 12_345, len).unwrap()).unwrap();
    let mut want = vec![0.0f32; len];
    eggroll_core::noise::fill_normals(key, 12_345, 1.0, &mut want);
    for (j, (a, b)) in got.iter().zip(&want).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "element {j}: got {a}, want {b}");
    }
}
