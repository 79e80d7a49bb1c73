//! The language model's two device kernels as a backend trait, [`IntKernels`], specified
//! exactly as the CPU computes them, so any backend (the CPU reference
//! [`CpuInt`](crate::int_cpu::CpuInt), the WGSL and cubecl GPU backends) gives the same bits.
//!
//! **Perturbed matmul.** `x` is `rows × inp` (int8-range values held as i16), `w` is
//! `out × inp` int8. The result is `acc[r][o] = Σ_i x[r][i]·w[o][i]` (int32) plus, with a
//! [`NoiseSpec`], each row's rank-r correction: row `r` is member `r` of the pairs starting at
//! `first_pair` (pair `q = first_pair + r/2`, sign `s = +1` for even `r`, else −1), its key
//! is `StreamKey::new(seed, param, epoch, q)`, `B[j][i] = q8(bits(j·inp + i))`,
//! `A[j][o] = q8(bits(rank·inp + j·out + o))` ([`crate::noise::matrix_noise`]),
//! `u_j = (Σ_i x[r][i]·B[j][i]) >> 4` and the correction is
//! `s·((Σ_j u_j·A[j][o]) >> sigma_shift)` (arithmetic shifts). The rescaled variant returns
//! `clip((acc·M) >> 32, −127, 127)` with `M = rescale_multiplier(inp)`.
//!
//! **Update sum.** For active pairs `(pair_k, f_k)`: a matrix's `Z[o][i] =
//! Σ_k f_k·Σ_j A_k[j][o]·B_k[j][i]`, a vector's `Z[i] = Σ_k f_k·ε_k[i]`
//! ([`crate::noise::vector_noise`]), int32.
//!
//! Noise is always regenerated from the key by the backend, never passed in. Every input is
//! validated by [`check_matmul`] / [`check_update`] first, which also refuse shapes whose
//! worst case could overflow int32 (so no backend ever wraps and all agree).

use crate::error::{LlmError, Result};
use crate::params::Kind;
use eggroll_core::noise::StreamKey;

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

/// The shape of a parameter whose update sum is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateShape {
    /// An `out × inp` matrix with low-rank noise.
    Matrix {
        /// Rows.
        out: usize,
        /// Columns.
        inp: usize,
    },
    /// A vector with full-rank noise.
    Vector {
        /// Length.
        len: usize,
    },
}

impl UpdateShape {
    /// Number of elements of `Z`.
    pub fn numel(&self) -> usize {
        match *self {
            UpdateShape::Matrix { out, inp } => out * inp,
            UpdateShape::Vector { len } => len,
        }
    }
}

impl From<Kind> for UpdateShape {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Matrix { out, inp } => UpdateShape::Matrix { out, inp },
            Kind::Vector { len, .. } => UpdateShape::Vector { len },
        }
    }
}

/// Which parameter's update sum is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateSpec {
    /// Run seed.
    pub seed: u64,
    /// Parameter id.
    pub param: u32,
    /// Noise epoch.
    pub epoch: u32,
    /// Perturbation rank (matrices; ignored for vectors).
    pub rank: usize,
    /// The parameter's shape.
    pub shape: UpdateShape,
}

/// The integer kernels of the language model, bit-identical on every backend.
pub trait IntKernels: Send + Sync {
    /// The backend's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A short name for reports, e.g. `cpu` or the device description.
    fn name(&self) -> String;

    /// `x·wᵀ` (rows × out, int32) plus each row's low-rank correction when `noise` is given.
    fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>, Self::Error>;

    /// [`IntKernels::perturbed_matmul`] rescaled to int8 range:
    /// `clip((acc·rescale_multiplier(inp)) >> 32, −127, 127)`.
    fn perturbed_matmul_rescaled(&self, m: &IntMatmul<'_>) -> Result<Vec<i16>, Self::Error>;

    /// `Z` (int32, `spec.shape.numel()` values) for the active pairs `(pair, f)`.
    fn update_sum(&self, spec: &UpdateSpec, active: &[(u32, i8)]) -> Result<Vec<i32>, Self::Error>;
}

/// The perturbed matmul of any [`IntKernels`] behind one object-safe interface, so the model's
/// forward pass ([`crate::forward::Runner::with_kernels`]) can run on a backend chosen at run time.
pub trait DynIntKernels: Send + Sync {
    /// The backend's name.
    fn backend_name(&self) -> String;

    /// [`IntKernels::perturbed_matmul`], its error turned into [`LlmError::Backend`].
    fn matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>>;
}

impl<K: IntKernels> DynIntKernels for K {
    fn backend_name(&self) -> String {
        self.name()
    }

    fn matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>> {
        self.perturbed_matmul(m).map_err(|e| LlmError::Backend {
            backend: self.name(),
            why: e.to_string(),
        })
    }
}

/// Largest |x|, |w| and |noise| value the kernels accept (int8 range without −128).
pub const INT8_MAX: i64 = 127;

fn shape_error(why: String) -> LlmError {
    LlmError::config("int kernel input", why)
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

/// Validate an update sum: rank, stream sizes, and that `Σ_k |f_k|·rank·127²` (matrices) or
/// `Σ_k |f_k|·127` (vectors) stays within int32.
pub fn check_update(spec: &UpdateSpec, active: &[(u32, i8)]) -> Result<()> {
    if active.iter().any(|&(_, f)| f == i8::MIN) {
        return Err(shape_error("f = −128 outside −127..=127".into()));
    }
    let fsum: i128 = active.iter().map(|&(_, f)| f.unsigned_abs() as i128).sum();
    let (elems, worst) = match spec.shape {
        UpdateShape::Matrix { out, inp } => {
            if spec.rank == 0 {
                return Err(shape_error("rank must be at least 1".into()));
            }
            (
                spec.rank as u128 * (inp as u128 + out as u128),
                fsum * spec.rank as i128 * (INT8_MAX * INT8_MAX) as i128,
            )
        }
        UpdateShape::Vector { len } => (len as u128, fsum * INT8_MAX as i128),
    };
    if elems > u32::MAX as u128 || spec.shape.numel() as u128 > u32::MAX as u128 {
        return Err(shape_error(format!(
            "{:?} exceeds u32 indexing",
            spec.shape
        )));
    }
    if worst > i32::MAX as i128 {
        return Err(shape_error(format!(
            "{} active pairs (Σ|f| = {fsum}) could overflow int32",
            active.len()
        )));
    }
    Ok(())
}

/// Device upload helper: int8-range values packed four to a little-endian u32 word (element
/// `e` in byte `e % 4` of word `e / 4`, two's complement), as the GPU kernels unpack them.
pub fn pack_int8<T: Copy + Into<i32>>(values: &[T]) -> Vec<u32> {
    values
        .chunks(4)
        .map(|c| {
            c.iter().enumerate().fold(0u32, |w, (b, &v)| {
                w | (((v.into() as u32) & 0xff) << (8 * b))
            })
        })
        .collect()
}

/// Device upload helper: the stream keys of a perturbed matmul's pairs, four words per pair
/// `(k0, k1, 0, 0)` for pairs `first_pair .. first_pair + ⌈rows/2⌉`.
pub fn matmul_keys(n: &NoiseSpec, rows: usize) -> Vec<u32> {
    (0..rows.div_ceil(2) as u32)
        .flat_map(|q| {
            let k = StreamKey::new(n.seed, n.param, n.epoch, n.first_pair.wrapping_add(q));
            [k.k0, k.k1, 0, 0]
        })
        .collect()
}

/// Device upload helper: the keys and weights of an update's active pairs, four words per
/// pair `(k0, k1, f as i32 bits, 0)`.
pub fn update_keys(spec: &UpdateSpec, active: &[(u32, i8)]) -> Vec<u32> {
    active
        .iter()
        .flat_map(|&(pair, f)| {
            let k = StreamKey::new(spec.seed, spec.param, spec.epoch, pair);
            [k.k0, k.k1, f as i32 as u32, 0]
        })
        .collect()
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

    #[test]
    fn packing_and_keys() {
        assert_eq!(pack_int8(&[1i16, -1, 127, -127, 5]), vec![0x817f_ff01, 5]);
        assert_eq!(pack_int8::<i8>(&[]), Vec::<u32>::new());
        let n = NoiseSpec {
            seed: 3,
            param: 4,
            epoch: 5,
            first_pair: 6,
            rank: 1,
            sigma_shift: 1,
        };
        let k = matmul_keys(&n, 3);
        assert_eq!(k.len(), 8);
        assert_eq!(k[4], StreamKey::new(3, 4, 5, 7).k0);
        let spec = UpdateSpec {
            seed: 3,
            param: 4,
            epoch: 5,
            rank: 1,
            shape: UpdateShape::Vector { len: 2 },
        };
        let u = update_keys(&spec, &[(9, -2)]);
        assert_eq!(
            u,
            vec![
                StreamKey::new(3, 4, 5, 9).k0,
                StreamKey::new(3, 4, 5, 9).k1,
                (-2i32) as u32,
                0
            ]
        );
    }

    #[test]
    fn update_checks_bound_the_sum() {
        let spec = UpdateSpec {
            seed: 1,
            param: 2,
            epoch: 3,
            rank: 4,
            shape: UpdateShape::Matrix { out: 5, inp: 6 },
        };
        assert!(check_update(&spec, &[(0, 1), (5, -1)]).is_ok());
        assert!(check_update(&spec, &[(0, i8::MIN)]).is_err());
        let many: Vec<(u32, i8)> = (0..40_000).map(|k| (k, 1)).collect();
        assert!(check_update(&spec, &many).is_err());
        assert!(check_update(&UpdateSpec { rank: 0, ..spec }, &[]).is_err());
        let v = UpdateSpec {
            shape: UpdateShape::Vector { len: 7 },
            ..spec
        };
        assert!(check_update(&v, &many).is_ok());
        assert_eq!(
            UpdateShape::from(Kind::Vector { len: 3, init: 16 }).numel(),
            3
        );
    }
}
