//! Singular values and numerical rank of a dense matrix, for the rank of an accumulated update
//! `W_final − W_initial` (does merging LoRA adapters raise it beyond their rank?).
//!
//! The singular values are the square roots of the eigenvalues of the smaller Gram matrix
//! (`MᵀM` or `MMᵀ`), found by core's cyclic Jacobi method in f64: a few hundred columns take
//! well under a second, which is all a report needs, and no linear-algebra dependency is built
//! for it. Squaring the matrix squares its condition number, so ranks are counted against a
//! relative threshold well above f64's precision (1e-6 of the largest singular value is fine).

/// Singular values of the `rows × cols` row-major matrix `m`, largest first.
pub fn singular_values(m: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    assert_eq!(m.len(), rows * cols, "singular_values: matrix size");
    let (n, gram) = if cols <= rows {
        (cols, gram(m, rows, cols, false))
    } else {
        (rows, gram(m, rows, cols, true))
    };
    let mut ev = eggroll_core::linalg::symmetric_eigenvalues(&gram, n);
    ev.sort_by(|a, b| b.total_cmp(a));
    ev.into_iter().map(|e| e.max(0.0).sqrt()).collect()
}

/// The number of singular values above `rel_tol` times the largest (0 for a zero matrix).
pub fn numerical_rank(m: &[f32], rows: usize, cols: usize, rel_tol: f64) -> usize {
    let s = singular_values(m, rows, cols);
    let top = s.first().copied().unwrap_or(0.0);
    if top == 0.0 {
        return 0;
    }
    s.iter().filter(|&&v| v > rel_tol * top).count()
}

/// `MᵀM` (`cols × cols`), or `MMᵀ` (`rows × rows`) when `outer`, in f64.
fn gram(m: &[f32], rows: usize, cols: usize, outer: bool) -> Vec<f64> {
    let md: Vec<f64> = m.iter().map(|&x| x as f64).collect();
    if outer {
        let mut g = vec![0.0; rows * rows];
        for i in 0..rows {
            for j in i..rows {
                let v: f64 = (0..cols).map(|k| md[i * cols + k] * md[j * cols + k]).sum();
                g[i * rows + j] = v;
                g[j * rows + i] = v;
            }
        }
        g
    } else {
        let mut g = vec![0.0; cols * cols];
        for r in 0..rows {
            let row = &md[r * cols..(r + 1) * cols];
            for i in 0..cols {
                let a = row[i];
                if a == 0.0 {
                    continue;
                }
                for j in i..cols {
                    g[i * cols + j] += a * row[j];
                }
            }
        }
        for i in 0..cols {
            for j in 0..i {
                g[i * cols + j] = g[j * cols + i];
            }
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ_k s_k u_k v_kᵀ` with orthogonal u (rows) and v (cols) from coordinate axes mixed by a
    /// rotation, so the singular values are known.
    fn with_singular_values(rows: usize, cols: usize, s: &[f64]) -> Vec<f32> {
        let (c, sn) = (0.6f64, 0.8f64);
        let u = |k: usize, i: usize| match (k, i) {
            (0, 0) | (1, 1) => c,
            (0, 1) => sn,
            (1, 0) => -sn,
            _ if k == i => 1.0,
            _ => 0.0,
        };
        let v = |k: usize, j: usize| if (k + 1) % cols == j { 1.0 } else { 0.0 };
        let mut m = vec![0.0f32; rows * cols];
        for (k, &sk) in s.iter().enumerate() {
            for i in 0..rows {
                for j in 0..cols {
                    m[i * cols + j] += (sk * u(k, i) * v(k, j)) as f32;
                }
            }
        }
        m
    }

    #[test]
    fn known_singular_values_and_ranks() {
        let m = with_singular_values(5, 4, &[3.0, 2.0, 0.5]);
        let s = singular_values(&m, 5, 4);
        for (got, want) in s.iter().zip([3.0, 2.0, 0.5, 0.0]) {
            assert!((got - want).abs() < 1e-5, "{s:?}");
        }
        assert_eq!(numerical_rank(&m, 5, 4, 1e-6), 3);
        assert_eq!(numerical_rank(&m, 5, 4, 0.2), 2);
        // The transpose (wide) takes the other Gram matrix and agrees.
        let t: Vec<f32> = (0..4 * 5).map(|i| m[(i % 5) * 4 + i / 5]).collect();
        assert_eq!(numerical_rank(&t, 4, 5, 1e-6), 3);
        assert_eq!(numerical_rank(&[0.0; 6], 2, 3, 1e-6), 0);
    }

    #[test]
    fn a_sum_of_rank_one_products_has_their_count_as_rank() {
        // 12 × 10 as a sum of 4 outer products of pseudo-random vectors (not sinusoids of one
        // frequency: shifted sines span only two dimensions).
        let val = |i: usize, f: f64| {
            ((i * 7919 + (f * 1000.0) as usize * 104_729) % 1009) as f64 / 1009.0 - 0.5
        };
        let mut m = vec![0.0f32; 120];
        for k in 0..4 {
            for i in 0..12 {
                for j in 0..10 {
                    m[i * 10 + j] += (val(i * 7 + k, 0.37) * val(j * 5 + k, 1.13)) as f32;
                }
            }
        }
        assert_eq!(numerical_rank(&m, 12, 10, 1e-5), 4);
    }
}
