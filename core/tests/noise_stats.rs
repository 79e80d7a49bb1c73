//! Statistical and golden tests of the noise stream.

#![allow(clippy::unwrap_used)]

use eggroll_core::noise::table::QUANTILE_KNOTS;
use eggroll_core::noise::{fill_normals, StreamKey};

/// Tail probability P(|Z| > z) by composite Simpson integration of the density (f64),
/// independent of the table's generator (Python's NormalDist).
fn two_sided_tail(z: f64) -> f64 {
    let (a, b, n) = (z, z + 12.0, 20_000);
    let h = (b - a) / n as f64;
    let pdf = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut s = pdf(a) + pdf(b);
    for i in 1..n {
        s += pdf(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    2.0 * s * h / 3.0
}

#[test]
fn table_knots_are_normal_quantiles() {
    for (e, row) in QUANTILE_KNOTS.iter().enumerate() {
        for (m, &k) in row.iter().enumerate() {
            let t = 2f64.powi(-1 - e as i32) * (1.0 + m as f64 / 16.0);
            if t >= 1.0 {
                assert_eq!(k, 0);
                continue;
            }
            let z = k as f64 / 65536.0;
            let got = two_sided_tail(z);
            // Knots are rounded to 2^-16; that moves t by at most ~z·φ(z)·2^-16 relative.
            assert!(
                (got - t).abs() / t < 2e-4,
                "knot ({e},{m}): z={z} tail {got} vs {t}"
            );
        }
    }
}

fn sample(n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0.0f32; 4096];
    for stream in 0..(n / buf.len()) as u32 {
        fill_normals(StreamKey::new(42, 1, 0, stream), 0, 1.0, &mut buf);
        out.extend(buf.iter().map(|&v| v as f64));
    }
    out
}

#[test]
fn moments_are_standard_normal() {
    let n = 1 << 22;
    let x = sample(n);
    let mean = x.iter().sum::<f64>() / n as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    let kurt = x.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n as f64 / (var * var);
    let skew = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n as f64 / var.powf(1.5);
    let se = 1.0 / (n as f64).sqrt();
    assert!(mean.abs() < 5.0 * se, "mean {mean}");
    assert!(
        (var - 1.0).abs() < 5.0 * (2.0f64).sqrt() * se,
        "variance {var}"
    );
    assert!(skew.abs() < 5.0 * (6.0f64).sqrt() * se, "skewness {skew}");
    assert!(
        (kurt - 3.0).abs() < 5.0 * (24.0f64).sqrt() * se,
        "kurtosis {kurt}"
    );
}

#[test]
fn tails_match_the_normal_distribution() {
    let n = 1 << 22;
    let x = sample(n);
    for (z, p) in [
        (1.0, 0.317_310_5),
        (2.0, 0.045_500_26),
        (3.0, 0.002_699_796),
        (4.0, 6.334e-5),
    ] {
        let count = x.iter().filter(|v| v.abs() > z).count() as f64;
        let expect = p * n as f64;
        let sd = (expect * (1.0 - p)).sqrt();
        assert!(
            (count - expect).abs() < 5.0 * sd + 1.0,
            "P(|Z|>{z}): {count} vs {expect}"
        );
    }
    let max = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max > 4.5 && max < 6.3, "max |z| {max}");
}

#[test]
fn streams_are_uncorrelated() {
    let mut a = vec![0.0f32; 1 << 16];
    let mut b = vec![0.0f32; 1 << 16];
    for (k1, k2) in [
        (StreamKey::new(1, 0, 0, 0), StreamKey::new(1, 0, 0, 1)),
        (StreamKey::new(1, 0, 0, 0), StreamKey::new(1, 1, 0, 0)),
        (StreamKey::new(1, 0, 0, 0), StreamKey::new(1, 0, 1, 0)),
        (StreamKey::new(1, 0, 0, 0), StreamKey::new(2, 0, 0, 0)),
    ] {
        fill_normals(k1, 0, 1.0, &mut a);
        fill_normals(k2, 0, 1.0, &mut b);
        let c: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (*x as f64) * (*y as f64))
            .sum::<f64>()
            / a.len() as f64;
        assert!(c.abs() < 5.0 / (a.len() as f64).sqrt(), "correlation {c}");
    }
}

#[test]
fn same_key_same_numbers_on_any_thread() {
    use rayon::prelude::*;
    let key = StreamKey::new(9, 8, 7, 6);
    let mut reference = vec![0.0f32; 10_000];
    fill_normals(key, 0, 1.0, &mut reference);
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let parts: Vec<Vec<f32>> = pool.install(|| {
            (0..10u32)
                .into_par_iter()
                .map(|c| {
                    let mut part = vec![0.0f32; 1000];
                    fill_normals(key, c * 1000, 1.0, &mut part);
                    part
                })
                .collect()
        });
        let flat: Vec<f32> = parts.concat();
        assert!(flat
            .iter()
            .zip(&reference)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn streams_sharing_a_window_are_uncorrelated() {
    use eggroll_core::noise::pool::window_offset;
    // Two pairs whose windows start at the same pool entry (found by search): the magnitudes
    // are the same element for element, and only the hashed signs keep the streams apart.
    let mut seen = std::collections::HashMap::new();
    let (k1, k2) = (0u32..)
        .find_map(|pair| {
            let key = StreamKey::new(3, 1, 0, pair);
            seen.insert(window_offset(key), key)
                .map(|earlier| (earlier, key))
        })
        .unwrap();
    let n = 1 << 16;
    let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
    fill_normals(k1, 0, 1.0, &mut a);
    fill_normals(k2, 0, 1.0, &mut b);
    assert!(a.iter().zip(&b).all(|(x, y)| x.abs() == y.abs()));
    let c = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum::<f64>()
        / n as f64;
    assert!(c.abs() < 5.0 / (n as f64).sqrt(), "correlation {c}");
    let same_sign = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.is_sign_negative() == y.is_sign_negative())
        .count() as f64;
    let sd = (n as f64 * 0.25).sqrt();
    assert!(
        (same_sign - n as f64 / 2.0).abs() < 5.0 * sd,
        "{same_sign} equal signs"
    );
}
