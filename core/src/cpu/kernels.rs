//! Small vector kernels with a fixed summation order (deterministic, auto-vectorised).

/// Dot product with 8 independent accumulators, combined in a fixed order.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (ac, bc) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += ac[l] * bc[l];
        }
    }
    let mut tail = 0.0f32;
    for i in chunks * 8..n {
        tail += a[i] * b[i];
    }
    let s01 = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    let s23 = (acc[4] + acc[5]) + (acc[6] + acc[7]);
    (s01 + s23) + tail
}

/// `y += alpha · x`.
#[inline]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `y[i] += alpha · Σ_j t[j] · a[i·r + j]` for a row-major `a` of `y.len() × r`.
#[inline]
pub fn add_low_rank_row(alpha: f32, t: &[f32], a: &[f32], y: &mut [f32]) {
    let r = t.len();
    if r == 1 {
        axpy(alpha * t[0], &a[..y.len()], y);
        return;
    }
    for (i, yi) in y.iter_mut().enumerate() {
        let row = &a[i * r..i * r + r];
        let mut s = 0.0f32;
        for j in 0..r {
            s += t[j] * row[j];
        }
        *yi += alpha * s;
    }
}

/// `t[j] = Σ_i x[i] · b[i·r + j]` for a row-major `b` of `x.len() × r`.
#[inline]
pub fn project_row(x: &[f32], b: &[f32], t: &mut [f32]) {
    let r = t.len();
    if r == 1 {
        t[0] = dot(x, &b[..x.len()]);
        return;
    }
    t.iter_mut().for_each(|v| *v = 0.0);
    for (i, &xi) in x.iter().enumerate() {
        let row = &b[i * r..i * r + r];
        for j in 0..r {
            t[j] += xi * row[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.25).collect();
        let naive: f64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (*x as f64) * (*y as f64))
            .sum();
        assert!((dot(&a, &b) as f64 - naive).abs() < 1e-3);
    }

    #[test]
    fn low_rank_row_ops() {
        let x = [1.0, 2.0];
        let b = [1.0, 0.0, 0.0, 1.0]; // 2x2 identity
        let mut t = [0.0; 2];
        project_row(&x, &b, &mut t);
        assert_eq!(t, [1.0, 2.0]);
        let a = [1.0, 1.0, 2.0, 0.0, 0.0, 3.0]; // 3x2
        let mut y = [0.0; 3];
        add_low_rank_row(2.0, &t, &a, &mut y);
        assert_eq!(y, [6.0, 4.0, 12.0]);
    }
}
