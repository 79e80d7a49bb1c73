//! Small vector kernels with a fixed summation order (deterministic at every vector width).

use super::dot::dot_portable;
use super::noise_factors::Factors;
use crate::noise::{apply_sign, SignedWindow, WORD};

/// `y += alpha · x`.
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// A vector noise `ε`: materialised, or read from the pool in place (the rank-1 forward's bias
/// noise, whose separate fill cost more than applying its signs inside the correction pass).
#[derive(Clone, Copy)]
pub enum VectorNoise<'a> {
    /// The values.
    Values(&'a [f32]),
    /// The stream's pool window and sign words.
    Window(SignedWindow<'a>),
}

/// `y += coef · ε`, element by element in order (as [`axpy`] does on the values).
pub fn add_noise(coef: f32, eps: VectorNoise<'_>, y: &mut [f32]) {
    match eps {
        VectorNoise::Values(v) => axpy(coef, v, y),
        VectorNoise::Window(win) => {
            for (q, yb) in y.chunks_mut(WORD).enumerate() {
                let (pool, signs) = win.block(q);
                for (l, (o, &m)) in yb.iter_mut().zip(pool).enumerate() {
                    *o += coef * apply_sign(m, signs, l);
                }
            }
        }
    }
}

/// What the rows of one noise stream (an antithetic pair's members) add to their outputs.
#[derive(Clone, Copy)]
pub struct Correction<'a> {
    /// The bias added to the rows (`None`: no bias).
    pub base: Option<&'a [f32]>,
    /// Bᵀ (`r × n_in`) and Aᵀ (`r × n_out`).
    pub factors: Factors<'a>,
    /// `σ/√r`; row `i` uses `signs[i] · scale`.
    pub scale: f32,
    /// The bias noise `eps` and `σ`; row `i` adds `(signs[i] · σ) · eps`. The rank-1 pass with
    /// a bias reads a pool window in whole blocks of 32: callers pass a window only when the
    /// output width is a multiple of 32.
    pub bias_noise: Option<(VectorNoise<'a>, f32)>,
}

/// The bias and the stream's correction added to its rows (which hold `x·Wᵀ`): at rank 1 with
/// a bias, `y_row += (base + (alpha · (x_row·Bᵀ)) · Aᵀ) + e · eps` in one pass; otherwise the
/// base, each `(alpha · (x_row·Bᵀ_j)) · Aᵀ_j` and `e · eps` in turn; `alpha = sign ·
/// scale` and `e = sign · σ` for the row's sign (see [`Correction`]). Every addition happens in
/// the same order as the separate `dot`/`axpy` calls would do it, so the result does not
/// depend on the CPU's vector width; AVX-512 or AVX2 builds of the same loops are picked at
/// run time, and at rank 1 rows are taken two at a time so that they share their loads.
pub fn lowrank_rows(
    xs: &[f32],
    ys: &mut [f32],
    dims: (usize, usize),
    signs: &[f32],
    c: &Correction<'_>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { lowrank_rows_avx512(xs, ys, dims, signs, c) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { lowrank_rows_avx2(xs, ys, dims, signs, c) };
            return;
        }
    }
    let dot2 = |a0: &[f32], a1: &[f32], b: &[f32]| (dot_portable(a0, b), dot_portable(a1, b));
    lowrank_rows_with(xs, ys, dims, signs, c, dot2);
}

/// The body of [`lowrank_rows`], with the paired dot product of the caller's instruction set.
#[inline(always)]
fn lowrank_rows_with(
    xs: &[f32],
    ys: &mut [f32],
    (n_in, n_out): (usize, usize),
    signs: &[f32],
    c: &Correction<'_>,
    dot2: impl Fn(&[f32], &[f32], &[f32]) -> (f32, f32),
) {
    let (bt, at) = (c.factors.bt(), c.factors.at());
    let r = bt.len() / n_in.max(1);
    let rows = signs.len().min(xs.len() / n_in.max(1));
    let fused = match (r, c.bias_noise, c.base) {
        (1, Some((eps, sigma)), Some(b)) => Some((eps, sigma, &b[..n_out])),
        _ => None,
    };
    for i in (0..rows).step_by(2) {
        // Rows i and i + 1 (or row i alone, computed twice and written once).
        let j = (i + 1).min(rows - 1);
        let (x0, x1) = (&xs[i * n_in..(i + 1) * n_in], &xs[j * n_in..(j + 1) * n_in]);
        let (s0, s1) = (signs[i], signs[j]);
        let (y0, y1) = ys[i * n_out..(j + 1) * n_out].split_at_mut(n_out);
        if let Some((eps, sigma, b)) = fused {
            let (d0, d1) = dot2(x0, x1, bt);
            let (k0, e0) = ((s0 * c.scale) * d0, s0 * sigma);
            let (k1, e1) = ((s1 * c.scale) * d1, s1 * sigma);
            let at = &at[..n_out];
            match eps {
                VectorNoise::Values(eps) => {
                    pair_terms(y0, y1, b, at, &eps[..n_out], (k0, e0, k1, e1));
                }
                VectorNoise::Window(win) => {
                    // Whole blocks of 32 (the caller guarantees n_out % 32 == 0).
                    let blocks = y0
                        .chunks_exact_mut(WORD)
                        .zip(b.chunks_exact(WORD))
                        .zip(at.chunks_exact(WORD));
                    for (q, ((y0b, bb), ab)) in blocks.enumerate() {
                        let (pool, signs) = win.block(q);
                        let y1b = y1.get_mut(q * WORD..(q + 1) * WORD).unwrap_or(&mut []);
                        pair_block(y0b, y1b, bb, ab, pool, signs, (k0, e0, k1, e1));
                    }
                }
            }
            continue;
        }
        if let Some(b) = c.base {
            axpy(1.0, b, y0);
            axpy(1.0, b, y1);
        }
        for jr in 0..r {
            let (d0, d1) = dot2(x0, x1, &bt[jr * n_in..(jr + 1) * n_in]);
            let a = &at[jr * n_out..(jr + 1) * n_out];
            axpy((s0 * c.scale) * d0, a, y0);
            axpy((s1 * c.scale) * d1, a, y1);
        }
        if let Some((eps, sigma)) = c.bias_noise {
            add_noise(s0 * sigma, eps, y0);
            add_noise(s1 * sigma, eps, y1);
        }
    }
}

/// One block of 32 outputs of a pair of rows (`y1` empty for a single row), with the bias
/// noise's magnitudes and signs read from the pool: the same operations, in the same order, as
/// the pass over materialised values.
#[inline(always)]
fn pair_block(
    y0: &mut [f32],
    y1: &mut [f32],
    b: &[f32],
    a: &[f32],
    pool: &[f32; WORD],
    signs: u32,
    coefs: (f32, f32, f32, f32),
) {
    let mut eps = [0.0f32; WORD];
    for (l, (e, &m)) in eps.iter_mut().zip(pool).enumerate() {
        *e = apply_sign(m, signs, l);
    }
    pair_terms(y0, y1, b, a, &eps, coefs);
}

/// `y += (b + k·a) + e·eps` for a pair of rows (`y1` empty for a single row), element by
/// element: the rank-1 pass's one expression.
#[inline(always)]
fn pair_terms(
    y0: &mut [f32],
    y1: &mut [f32],
    b: &[f32],
    a: &[f32],
    eps: &[f32],
    (k0, e0, k1, e1): (f32, f32, f32, f32),
) {
    let terms = b.iter().zip(a).zip(eps);
    if y1.is_empty() {
        for (o0, ((&bo, &a), &n)) in y0.iter_mut().zip(terms) {
            *o0 += (bo + k0 * a) + e0 * n;
        }
    } else {
        for ((o0, o1), ((&bo, &a), &n)) in y0.iter_mut().zip(y1.iter_mut()).zip(terms) {
            *o0 += (bo + k0 * a) + e0 * n;
            *o1 += (bo + k1 * a) + e1 * n;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn lowrank_rows_avx512(
    xs: &[f32],
    ys: &mut [f32],
    dims: (usize, usize),
    signs: &[f32],
    c: &Correction<'_>,
) {
    // SAFETY: this function is only called on CPUs with AVX-512F.
    lowrank_rows_with(xs, ys, dims, signs, c, |a0, a1, b| unsafe {
        super::dot::dot2_avx2(a0, a1, b)
    });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lowrank_rows_avx2(
    xs: &[f32],
    ys: &mut [f32],
    dims: (usize, usize),
    signs: &[f32],
    c: &Correction<'_>,
) {
    // SAFETY: this function is only called on CPUs with AVX2.
    lowrank_rows_with(xs, ys, dims, signs, c, |a0, a1, b| unsafe {
        super::dot::dot2_avx2(a0, a1, b)
    });
}
