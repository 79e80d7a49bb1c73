//! The little dense linear algebra in f64 that the full-covariance search strategies and the
//! update-rank report need: a symmetric eigendecomposition (cyclic Jacobi, deterministic and
//! exact to rounding, no dependency built for it), products and the symmetric matrix
//! exponential. Matrices are row-major `n × n` slices.

/// `y = M x` for the row-major `n × n` matrix `m`.
pub fn mat_vec(m: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    for (i, yi) in y.iter_mut().enumerate() {
        *yi = m[i * n..(i + 1) * n]
            .iter()
            .zip(x)
            .map(|(a, b)| a * b)
            .sum();
    }
}

/// `A · B` of row-major `n × n` matrices.
pub fn mat_mul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// The n × n identity.
pub fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// Eigen-decompose the symmetric `n × n` matrix `a`: returns `(values, vectors)` with
/// `a = V diag(values) Vᵀ`, eigenvector `k` in column `k` of the row-major `V`.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = identity(n);
    let values = jacobi(a, n, Some(&mut v));
    (values, v)
}

/// The eigenvalues of the symmetric `n × n` matrix `a` (in diagonal order, unsorted), without
/// accumulating the eigenvectors.
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    jacobi(a, n, None)
}

/// Cyclic Jacobi rotations of a symmetrised copy of `a` until the off-diagonal part vanishes
/// (relative to the norm); the rotations are also applied to `v` when given.
fn jacobi(a: &[f64], n: usize, mut v: Option<&mut Vec<f64>>) -> Vec<f64> {
    let mut a = a.to_vec();
    // Symmetrise, so rounding in the caller's update cannot skew the rotations.
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (a[i * n + j] + a[j * n + i]);
            a[i * n + j] = m;
            a[j * n + i] = m;
        }
    }
    let norm: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off.sqrt() <= 1e-15 * norm.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                if let Some(v) = v.as_deref_mut() {
                    for k in 0..n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

/// `exp(S)` of the symmetric `n × n` matrix `s`, as `V diag(exp λ) Vᵀ`.
pub fn symmetric_expm(s: &[f64], n: usize) -> Vec<f64> {
    let (vals, v) = symmetric_eigen(s, n);
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n)
                .map(|k| v[i * n + k] * vals[k].exp() * v[j * n + k])
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_and_expm_matches_a_diagonal() {
        let n = 4;
        let a = vec![
            4.0, 1.0, 0.5, 0.0, 1.0, 3.0, 0.2, 0.1, 0.5, 0.2, 2.0, 0.3, 0.0, 0.1, 0.3, 1.0,
        ];
        let (vals, v) = symmetric_eigen(&a, n);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|k| v[i * n + k] * vals[k] * v[j * n + k]).sum();
                assert!((r - a[i * n + j]).abs() < 1e-12, "{i},{j}");
                let o: f64 = (0..n).map(|k| v[k * n + i] * v[k * n + j]).sum();
                assert!((o - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        let d = [0.5, -1.0, 0.0, 2.0];
        let mut diag = vec![0.0; 16];
        for i in 0..n {
            diag[i * n + i] = d[i];
        }
        let e = symmetric_expm(&diag, n);
        for i in 0..n {
            assert!((e[i * n + i] - d[i].exp()).abs() < 1e-14);
        }
        let mut y = [0.0; 4];
        mat_vec(&a, &[1.0, 0.0, 0.0, 1.0], &mut y);
        assert_eq!(y, [4.0, 1.1, 0.8, 1.0]);
        assert_eq!(mat_mul(&a, &identity(n), n), a);
        assert_eq!(symmetric_eigenvalues(&a, n), vals);
    }
}
