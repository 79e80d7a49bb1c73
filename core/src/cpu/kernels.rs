//! Small vector kernels with a fixed summation order (deterministic at every vector width).

use super::dot::dot_portable;
use super::noise_factors::LowRank;

/// `y += alpha · x`.
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// What one member adds to its output rows.
#[derive(Clone, Copy)]
pub struct Correction<'a> {
    /// The bias the rows start from (`None`: the rows' current values).
    pub base: Option<&'a [f32]>,
    /// Bᵀ (`r × n_in`) and Aᵀ (`r × n_out`).
    pub factors: &'a LowRank,
    /// `sign · σ/√r`.
    pub alpha: f32,
    /// The bias noise `eps` and its coefficient `sign · σ`.
    pub bias_noise: Option<(&'a [f32], f32)>,
}

/// One member's low-rank correction (and bias noise) added to its rows, in one pass per row:
/// `y_row = base + Σ_j (alpha · (x_row·Bᵀ_j)) · Aᵀ_j`, then `+ e · eps` (see [`Correction`]).
/// Every addition happens in the same order as the
/// separate `dot`/`axpy` calls would do it, so the result does not depend on the CPU's vector
/// width; AVX-512 or AVX2 builds of the same loops are picked at run time.
pub fn lowrank_rows(xs: &[f32], ys: &mut [f32], n_in: usize, n_out: usize, c: &Correction<'_>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { lowrank_rows_avx512(xs, ys, n_in, n_out, c) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { lowrank_rows_avx2(xs, ys, n_in, n_out, c) };
            return;
        }
    }
    lowrank_rows_with(xs, ys, n_in, n_out, c, dot_portable);
}

/// The body of [`lowrank_rows`], with the dot product of the caller's instruction set.
#[inline(always)]
fn lowrank_rows_with(
    xs: &[f32],
    ys: &mut [f32],
    n_in: usize,
    n_out: usize,
    c: &Correction<'_>,
    dot: impl Fn(&[f32], &[f32]) -> f32,
) {
    let (bt, at) = (c.factors.bt(), c.factors.at());
    let Correction {
        base,
        alpha,
        bias_noise,
        ..
    } = *c;
    let r = bt.len() / n_in.max(1);
    for (xr, yr) in xs.chunks(n_in).zip(ys.chunks_mut(n_out)) {
        match (r, bias_noise, base) {
            (1, Some((eps, e)), Some(b)) => {
                let k = alpha * dot(xr, bt);
                let terms = b.iter().zip(&at[..n_out]).zip(&eps[..n_out]);
                for (y, ((&bo, &a), &n)) in yr.iter_mut().zip(terms) {
                    *y = (bo + k * a) + e * n;
                }
            }
            _ => {
                if let Some(b) = base {
                    yr.copy_from_slice(b);
                }
                for j in 0..r {
                    let k = alpha * dot(xr, &bt[j * n_in..(j + 1) * n_in]);
                    axpy(k, &at[j * n_out..(j + 1) * n_out], yr);
                }
                if let Some((eps, e)) = bias_noise {
                    axpy(e, eps, yr);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn lowrank_rows_avx512(
    xs: &[f32],
    ys: &mut [f32],
    n_in: usize,
    n_out: usize,
    c: &Correction<'_>,
) {
    // SAFETY: this function is only called on CPUs with AVX-512F.
    lowrank_rows_with(xs, ys, n_in, n_out, c, |a, b| unsafe {
        super::dot::dot_avx2(a, b)
    });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lowrank_rows_avx2(
    xs: &[f32],
    ys: &mut [f32],
    n_in: usize,
    n_out: usize,
    c: &Correction<'_>,
) {
    // SAFETY: this function is only called on CPUs with AVX2.
    lowrank_rows_with(xs, ys, n_in, n_out, c, |a, b| unsafe {
        super::dot::dot_avx2(a, b)
    });
}
