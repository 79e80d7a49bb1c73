//! The input of the language model's device kernel ([`IntKernels`](super::IntKernels)), specified
//! exactly as the CPU computes it, so any backend (the CPU reference
//! [`CpuInt`](super::CpuInt), the WGSL and cubecl GPU backends) gives the same bits.
//!
//! **Perturbed matmul.** `x` is `rows × inp` (int8-range values held as i16), `w` is
//! `out × inp` int8. The result is `acc[r][o] = Σ_i x[r][i]·w[o][i]` (int32) plus, with a
//! [`NoiseSpec`], each row's rank-r correction: row `r` is member `r` of the pairs starting at
//! `first_pair` (pair `q = first_pair + r/2`, sign `s = +1` for even `r`, else −1), its key
//! is `StreamKey::new(seed, param, epoch, q)`, `B[j][i] = q8(bits(j·inp + i))`,
//! `A[j][o] = q8(bits(rank·inp + j·out + o))` ([`super::matrix_noise`]),
//! `u_j = (Σ_i x[r][i]·B[j][i]) >> 4` and the correction is
//! `s·((Σ_j u_j·A[j][o]) >> sigma_shift)` (arithmetic shifts).
//!
//! Noise is always regenerated from the key by the backend, never passed in. Every input is
//! validated by [`check_matmul`] first, which also refuses shapes whose worst case could
//! overflow int32 (so no backend ever wraps and all agree).

use crate::error::{CoreError, Result};

/// The noise of one perturbed matmul: which stream, which pairs, rank and σ = 2^-sigma_shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoiseSpec {
    /// Run seed.
    pub seed: u64,
    /// Parameter id of the matrix (keys its noise stream).
    pub param: u32,
    /// Noise epoch.
    pub epoch: u32,
    /// Global pair index of rows 0 and 1.
    pub first_pair: u32,
    /// Perturbation rank (at least 1).
    pub rank: usize,
    /// σ = 2^-sigma_shift (below 32).
    pub sigma_shift: u32,
}

/// One perturbed int8 matmul's operands: `x` is `rows × inp` (int8-range values held as i16),
/// `w` is `out × inp` int8, and `noise` (if any) names the rows' perturbations.
#[derive(Clone, Copy, Debug)]
pub struct IntMatmul<'a> {
    /// Inputs, `rows × inp`, each in −127..=127.
    pub x: &'a [i16],
    /// Rows of `x` (members × tokens).
    pub rows: usize,
    /// Weight, `out × inp`, each in −127..=127.
    pub w: &'a [i8],
    /// Output features.
    pub out: usize,
    /// Input features (fan-in).
    pub inp: usize,
    /// The rows' low-rank perturbations, or `None` for the plain product.
    pub noise: Option<&'a NoiseSpec>,
}

impl<'a> IntMatmul<'a> {
    /// The plain product `x·wᵀ` (`x`: `rows × inp`, `w`: `out × inp`).
    pub fn plain(x: &'a [i16], rows: usize, w: &'a [i8], out: usize, inp: usize) -> Self {
        IntMatmul {
            x,
            rows,
            w,
            out,
            inp,
            noise: None,
        }
    }

    /// The same product with the rows perturbed as `noise` says (`None`: plain).
    pub fn with_noise(self, noise: Option<&'a NoiseSpec>) -> Self {
        IntMatmul { noise, ..self }
    }
}

/// Largest |x|, |w| and |noise| value the kernels accept (int8 range without −128).
pub const INT8_MAX: i64 = 127;

fn shape_error(why: String) -> CoreError {
    CoreError::invalid("int kernel input", why)
}

/// Validate a perturbed matmul: lengths, value ranges, noise parameters, and that no
/// intermediate can leave int32 even for extreme ±127 inputs.
pub fn check_matmul(m: &IntMatmul<'_>) -> Result<()> {
    let IntMatmul {
        x,
        rows,
        w,
        out,
        inp,
        noise,
    } = *m;
    if rows.checked_mul(inp) != Some(x.len()) {
        return Err(shape_error(format!(
            "x has {} values, expected rows {rows} × inp {inp}",
            x.len()
        )));
    }
    if out.checked_mul(inp) != Some(w.len()) {
        return Err(shape_error(format!(
            "w has {} values, expected out {out} × inp {inp}",
            w.len()
        )));
    }
    if inp == 0 {
        return Err(shape_error("inp must be at least 1".into()));
    }
    if let Some(v) = x.iter().find(|v| (v.unsigned_abs() as i64) > INT8_MAX) {
        return Err(shape_error(format!("x value {v} outside −127..=127")));
    }
    if w.contains(&i8::MIN) {
        return Err(shape_error("w value −128 outside −127..=127".into()));
    }
    let limit = i32::MAX as i128;
    let sum = inp as i128 * (INT8_MAX * INT8_MAX) as i128;
    let mut worst = sum;
    if let Some(n) = noise {
        if n.rank == 0 || n.sigma_shift >= 32 {
            return Err(shape_error(format!(
                "rank {} must be ≥ 1 and sigma_shift {} below 32",
                n.rank, n.sigma_shift
            )));
        }
        let pairs = rows.div_ceil(2) as u64;
        if n.first_pair as u64 + pairs > u32::MAX as u64 + 1 {
            return Err(shape_error(format!(
                "pairs {} .. {} exceed u32",
                n.first_pair,
                n.first_pair as u64 + pairs
            )));
        }
        let elems = (n.rank as u128) * (inp as u128 + out as u128);
        if elems > u32::MAX as u128 {
            return Err(shape_error(format!(
                "noise stream of {elems} elements exceeds u32"
            )));
        }
        let corr = n.rank as i128 * INT8_MAX as i128 * (sum >> 4);
        if corr > limit {
            return Err(shape_error(format!(
                "rank {} × inp {inp} could overflow int32 in the correction",
                n.rank
            )));
        }
        worst += corr >> n.sigma_shift;
    }
    if worst > limit {
        return Err(shape_error(format!(
            "inp {inp} could overflow int32 accumulation"
        )));
    }
    for (what, v) in [
        ("rows × out", rows as u128 * out as u128),
        ("x", x.len() as u128),
        ("w", w.len() as u128),
    ] {
        if v > u32::MAX as u128 {
            return Err(shape_error(format!("{what} = {v} exceeds u32 indexing")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_checks_refuse_bad_inputs() {
        let x = vec![1i16; 6];
        let w = vec![1i8; 9];
        assert!(check_matmul(&IntMatmul::plain(&x, 2, &w, 3, 3)).is_ok());
        assert!(check_matmul(&IntMatmul::plain(&x, 3, &w, 3, 3)).is_err());
        assert!(check_matmul(&IntMatmul::plain(&x, 2, &w[..8], 3, 3)).is_err());
        assert!(check_matmul(&IntMatmul::plain(&[128, 0, 0], 1, &w, 3, 3)).is_err());
        assert!(check_matmul(&IntMatmul::plain(&x[..3], 1, &[-128, 0, 0], 1, 3)).is_err());
        let n = NoiseSpec {
            seed: 1,
            param: 0,
            epoch: 0,
            first_pair: u32::MAX,
            rank: 1,
            sigma_shift: 2,
        };
        // Rows 0..2 use the last pair: allowed; rows 0..3 would need one more.
        assert!(check_matmul(&IntMatmul::plain(&x, 2, &w, 3, 3).with_noise(Some(&n))).is_ok());
        let x9 = vec![1i16; 9];
        assert!(check_matmul(&IntMatmul::plain(&x9, 3, &w, 3, 3).with_noise(Some(&n))).is_err());
        let zero_rank = NoiseSpec { rank: 0, ..n };
        assert!(
            check_matmul(&IntMatmul::plain(&x[..3], 1, &w, 3, 3).with_noise(Some(&zero_rank)))
                .is_err()
        );
        // Fan-in 2^18 would overflow int32 at extreme values.
        let big = vec![0i16; 1 << 18];
        assert!(check_matmul(&IntMatmul::plain(&big, 1, &vec![0; 1 << 18], 1, 1 << 18)).is_err());
        assert!(check_matmul(&IntMatmul::plain(&big[..1024], 1, &vec![0; 1024], 1, 1024)).is_ok());
    }
}
