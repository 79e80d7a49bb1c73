//! Finite-difference checks of every operation's backward, in f32 with central differences.
//!
//! Each check takes a scalar `L = Σ c·y` of the operation's output `y` (fixed random `c`, the
//! sum in f64) and compares, along three random ±1 directions `v` of each input, the central
//! difference `(L(x + h·v) − L(x − h·v)) / 2h` (h = 1e-2) with the analytic `⟨∂L/∂x, v⟩`.
//! Tolerance: 1% of the larger magnitude plus 1e-4 (f32 rounding of L and the O(h²) error
//! of the difference are both well under it; a wrong term is not). The whole-model check
//! (`model_tests.rs`) uses h 3e-3, 2% and 1e-3.

use super::attention::{attention_backward, attention_forward, Span};
use super::dropout::uniform;
use super::linear::{matmul_nn, matmul_nt, matmul_tn};
use super::loss::{cross_entropy, logp_backward, token_logp};
use super::ops::{rms_norm_backward, rope_backward, swiglu_backward};
use eggroll_core::transformer::reference::{apply_rope, rms_norm, rope_table, swiglu};
use eggroll_core::transformer::AttentionShape;

/// Step of the central differences of one operation.
pub const H: f32 = 1e-2;
/// Relative tolerance of a directional derivative.
pub const REL: f64 = 1e-2;
/// Absolute floor of the tolerance.
pub const ABS: f64 = 1e-4;

/// `n` values uniform in `[−scale, scale)` from `seed`.
pub fn rand(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| scale * (2.0 * uniform(seed, 99, i as u64) - 1.0))
        .collect()
}

/// A ±1 direction of length `n` from `seed`.
pub fn direction(n: usize, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            if uniform(seed, 7, i as u64) < 0.5 {
                -1.0
            } else {
                1.0
            }
        })
        .collect()
}

/// `Σ c·y` in f64.
pub fn dot(c: &[f32], y: &[f32]) -> f64 {
    assert_eq!(c.len(), y.len());
    c.iter()
        .zip(y)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

/// Compare the analytic directional derivatives of `loss` at `x` (gradient `grad`) with
/// central differences along three directions; panics naming `what` when one is off.
pub fn check(what: &str, x: &[f32], grad: &[f32], loss: impl Fn(&[f32]) -> f64) {
    check_with(what, (H, REL, ABS), x, grad, loss);
}

/// [`check`] with step `h`, relative tolerance `rel` and absolute floor `abs`.
pub fn check_with(
    what: &str,
    (h, rel, abs): (f32, f64, f64),
    x: &[f32],
    grad: &[f32],
    loss: impl Fn(&[f32]) -> f64,
) {
    assert_eq!(x.len(), grad.len(), "{what}: gradient length");
    for k in 0..3 {
        let v = direction(x.len(), 1000 + k);
        let shift = |s: f32| -> Vec<f32> { x.iter().zip(&v).map(|(a, b)| a + s * b).collect() };
        let num = (loss(&shift(h)) - loss(&shift(-h))) / (2.0 * f64::from(h));
        let ana = dot(grad, &v);
        let tol = rel * num.abs().max(ana.abs()) + abs;
        assert!(
            (num - ana).abs() <= tol,
            "{what}, direction {k}: finite difference {num} vs backward {ana} (tolerance {tol})"
        );
    }
}

#[test]
fn linear_gradients_match_finite_differences() {
    let (rows, out, inp) = (5, 7, 6);
    let (x, w, c) = (
        rand(rows * inp, 1.0, 1),
        rand(out * inp, 0.5, 2),
        rand(rows * out, 1.0, 3),
    );
    let dx = matmul_nn(&c, rows, &w, out, inp);
    let dw = matmul_tn(&c, &x, rows, out, inp);
    check("linear dx", &x, &dx, |x| {
        dot(&c, &matmul_nt(x, rows, &w, out, inp))
    });
    check("linear dW", &w, &dw, |w| {
        dot(&c, &matmul_nt(&x, rows, w, out, inp))
    });
}

#[test]
fn rms_norm_gradients_match_finite_differences() {
    let (rows, width, eps) = (4, 8, 1e-5);
    let (x, w, c) = (
        rand(rows * width, 1.5, 4),
        rand(width, 1.0, 5),
        rand(rows * width, 1.0, 6),
    );
    let fwd = |x: &[f32], w: &[f32]| -> f64 {
        let mut y = vec![0.0; x.len()];
        for (xr, yr) in x.chunks(width).zip(y.chunks_mut(width)) {
            rms_norm(xr, w, eps, yr);
        }
        dot(&c, &y)
    };
    let (dx, dw) = rms_norm_backward(&x, &w, eps, &c, width);
    check("rms_norm dx", &x, &dx, |x| fwd(x, &w));
    check("rms_norm dw", &w, &dw, |w| fwd(&x, w));
}

#[test]
fn rope_gradient_matches_finite_differences() {
    let (rows, hd, heads) = (3, 8, 2);
    let width = hd * heads;
    let table: Vec<f32> = (0..rows)
        .flat_map(|p| rope_table(p + 2, hd, 100.0))
        .collect();
    let (x, c) = (rand(rows * width, 1.0, 7), rand(rows * width, 1.0, 8));
    let fwd = |x: &[f32]| -> f64 {
        let mut y = x.to_vec();
        for (r, row) in y.chunks_mut(width).enumerate() {
            apply_rope(row, hd, &table[r * hd..(r + 1) * hd]);
        }
        dot(&c, &y)
    };
    let mut dx = c.clone();
    rope_backward(&mut dx, width, hd, &table);
    check("rope dx", &x, &dx, fwd);
}

#[test]
fn swiglu_gradients_match_finite_differences() {
    let n = 12;
    let (g, u, c) = (rand(n, 3.0, 9), rand(n, 2.0, 10), rand(n, 1.0, 11));
    let fwd = |g: &[f32], u: &[f32]| -> f64 {
        let mut a = g.to_vec();
        swiglu(&mut a, u);
        dot(&c, &a)
    };
    let (dg, du) = swiglu_backward(&g, &u, &c);
    check("swiglu dgate", &g, &dg, |g| fwd(g, &u));
    check("swiglu dup", &u, &du, |u| fwd(&g, u));
}

#[test]
fn attention_gradients_match_finite_differences() {
    // Two sequences (4 and 3 rows), 4 query heads over 2 key/value heads of width 4.
    let shape = AttentionShape {
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 4,
    };
    let spans = [Span::plain(0, 4), Span::plain(4, 3)];
    let rows = 7;
    let (qd, kvd) = (shape.q_dim(), shape.kv_dim());
    let (q, k, v) = (
        rand(rows * qd, 1.0, 12),
        rand(rows * kvd, 1.0, 13),
        rand(rows * kvd, 1.0, 14),
    );
    let c = rand(rows * qd, 1.0, 15);
    let f = |q: &[f32], k: &[f32], v: &[f32]| dot(&c, &attention_forward(q, k, v, &spans, shape));
    let (dq, dk, dv) = attention_backward(&q, &k, &v, &c, &spans, shape);
    check("attention dq", &q, &dq, |q| f(q, &k, &v));
    check("attention dk", &k, &dk, |k| f(&q, k, &v));
    check("attention dv", &v, &dv, |v| f(&q, &k, v));
    // Causality: the last row of the first sequence changes nothing before it or in the other.
    let mut k2 = k.clone();
    k2[3 * kvd..4 * kvd].iter_mut().for_each(|x| *x += 1.0);
    let (a, b) = (
        attention_forward(&q, &k, &v, &spans, shape),
        attention_forward(&q, &k2, &v, &spans, shape),
    );
    assert_eq!(a[..3 * qd], b[..3 * qd]);
    assert_eq!(a[4 * qd..], b[4 * qd..]);
}

#[test]
fn attention_over_a_shared_prefix_is_attention_over_copies() {
    // A prefix of 3 rows continued by two sequences of 2 and 3 rows, against the same
    // sequences written out whole (prefix copied): the same outputs bit for bit, and key and
    // value gradients of the prefix that are the sums of the copies' (finite differences too).
    let shape = AttentionShape {
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 4,
    };
    let (qd, kvd) = (shape.q_dim(), shape.kv_dim());
    let shared = [
        Span::plain(0, 3),
        Span {
            start: 3,
            len: 2,
            prefix_start: 0,
            prefix_len: 3,
        },
        Span {
            start: 5,
            len: 3,
            prefix_start: 0,
            prefix_len: 3,
        },
    ];
    let rows = 8;
    let (q, k, v) = (
        rand(rows * qd, 1.0, 22),
        rand(rows * kvd, 1.0, 23),
        rand(rows * kvd, 1.0, 24),
    );
    let c = rand(rows * qd, 1.0, 25);
    // Whole sequences: prefix, prefix + first continuation, prefix + second.
    let order: Vec<usize> = (0..3).chain(0..5).chain((0..3).chain(5..8)).collect();
    let copy = |x: &[f32], w: usize| -> Vec<f32> {
        order
            .iter()
            .flat_map(|&r| x[r * w..][..w].to_vec())
            .collect()
    };
    let whole = [Span::plain(0, 3), Span::plain(3, 5), Span::plain(8, 6)];
    // Only the continuations' own rows of the whole sequences carry the output gradient.
    let own: Vec<bool> = (0..3)
        .map(|_| true)
        .chain((0..5).map(|i| i >= 3))
        .chain((0..6).map(|i| i >= 3))
        .collect();
    let (qw, kw, vw) = (copy(&q, qd), copy(&k, kvd), copy(&v, kvd));
    let mut cw = copy(&c, qd);
    for (r, &o) in own.iter().enumerate() {
        if !o {
            cw[r * qd..][..qd].iter_mut().for_each(|x| *x = 0.0);
        }
    }
    let a = attention_forward(&q, &k, &v, &shared, shape);
    let b = attention_forward(&qw, &kw, &vw, &whole, shape);
    assert_eq!(a, copy_back(&b, &order, &own, qd));
    let (dq, dk, dv) = attention_backward(&q, &k, &v, &c, &shared, shape);
    let (_, dkw, dvw) = attention_backward(&qw, &kw, &vw, &cw, &whole, shape);
    for (got, want) in [(&dk, &dkw), (&dv, &dvw)] {
        let mut sum = vec![0.0f32; rows * kvd];
        for (wr, &r) in order.iter().enumerate() {
            for x in 0..kvd {
                sum[r * kvd + x] += want[wr * kvd + x];
            }
        }
        let diff = got
            .iter()
            .zip(&sum)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            diff < 1e-5,
            "prefix gradients differ from the copies' sum by {diff}"
        );
    }
    let f = |q: &[f32], k: &[f32], v: &[f32]| dot(&c, &attention_forward(q, k, v, &shared, shape));
    check("prefix attention dq", &q, &dq, |q| f(q, &k, &v));
    check("prefix attention dk", &k, &dk, |k| f(&q, k, &v));
    check("prefix attention dv", &v, &dv, |v| f(&q, &k, v));
}

/// The rows of `whole` (laid out by `order`) that are some row's own, back in batch order.
fn copy_back(whole: &[f32], order: &[usize], own: &[bool], w: usize) -> Vec<f32> {
    let rows = order.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![0.0; rows * w];
    for (wr, (&r, &o)) in order.iter().zip(own).enumerate() {
        if o {
            out[r * w..][..w].copy_from_slice(&whole[wr * w..][..w]);
        }
    }
    out
}

#[test]
fn logp_and_cross_entropy_gradients_match_finite_differences() {
    let (rows, vocab) = (4, 9);
    let logits = rand(rows * vocab, 3.0, 16);
    let targets = [Some(3), None, Some(0), Some(8)];
    let wts = rand(rows, 1.0, 17);
    let d = logp_backward(&logits, vocab, &targets, &wts).unwrap();
    check("logp", &logits, &d, |l| {
        dot(&wts, &token_logp(l, vocab, &targets).unwrap())
    });
    let (_, d) = cross_entropy(&logits, vocab, &targets).unwrap();
    check("cross-entropy", &logits, &d, |l| {
        f64::from(cross_entropy(l, vocab, &targets).unwrap().0)
    });
    // By hand: uniform logits give log(1/vocab) and a loss of ln(vocab).
    let flat = vec![0.5; rows * vocab];
    let (loss, _) = cross_entropy(&flat, vocab, &targets).unwrap();
    assert!((loss - (vocab as f32).ln()).abs() < 1e-6);
    assert!(cross_entropy(&flat, vocab, &[None; 4]).is_err());
    assert!(token_logp(&flat, vocab, &[Some(9), None, None, None]).is_err());
}

#[test]
fn lora_projection_gradients_match_finite_differences() {
    use super::lora::Adapter;
    use super::projection::{proj_backward, proj_forward, Branch};
    use crate::llama::weights::{MatrixRef, Proj};
    let (rows, out, inp, r) = (6, 5, 8, 2);
    let (x, w, c) = (
        rand(rows * inp, 1.0, 20),
        rand(out * inp, 0.5, 21),
        rand(rows * out, 1.0, 22),
    );
    let ad = Adapter {
        layer: 0,
        proj: Proj::Up,
        base_name: "blk.0.ffn_up.weight".into(),
        rows: out,
        cols: inp,
        a: rand(r * inp, 0.4, 23),
        b: rand(out * r, 0.4, 24),
    };
    let cpu = eggroll_core::cpu::Cpu::new();
    fn view(w: &Vec<f32>) -> MatrixRef<'_> {
        MatrixRef {
            name: "w",
            id: 99,
            rows: w.len() / 8,
            cols: 8,
            data: w,
        }
    }
    fn branch(ad: &Adapter) -> Branch<'_> {
        Branch {
            adapter: ad,
            rank: 2,
            scale: 1.5,
            dropout: 0.3,
            seed: 5,
            stream: Branch::stream_of(2, 0),
        }
    }
    let f = |x: &[f32], w: &Vec<f32>, ad: &Adapter| {
        let (y, _) = proj_forward(&cpu, &x.to_vec(), rows, view(w), Some(branch(ad))).unwrap();
        dot(&c, &y)
    };
    let (_, u) = proj_forward(&cpu, &x, rows, view(&w), Some(branch(&ad))).unwrap();
    let u = u.unwrap();
    let g = proj_backward(&x, rows, view(&w), Some((branch(&ad), &u)), &c, true);
    let (da, db) = g.lora.clone().unwrap();
    check("lora projection dx", &x, &g.dx, |x| f(x, &w, &ad));
    check("lora projection dW", &w, g.dw.as_ref().unwrap(), |w| {
        f(&x, &w.to_vec(), &ad)
    });
    check("lora dA", &ad.a, &da, |a| {
        f(
            &x,
            &w,
            &Adapter {
                a: a.to_vec(),
                ..ad.clone()
            },
        )
    });
    check("lora dB", &ad.b, &db, |b| {
        f(
            &x,
            &w,
            &Adapter {
                b: b.to_vec(),
                ..ad.clone()
            },
        )
    });
}
