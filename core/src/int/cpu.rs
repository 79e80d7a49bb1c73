//! The CPU reference of [`IntKernels`]: the same code the language model runs
//! ([`gemm_i8`], [`add_correction`]), so every GPU backend that matches it matches training
//! bit for bit.

use super::correction::add_correction;
use super::gemm8::{gemm_i8, narrow_i8};
use super::kernels::IntKernels;
use super::noise::matrix_noise;
use super::spec::{check_matmul, IntMatmul};
use crate::error::CoreError;
use crate::noise::StreamKey;

/// The CPU integer kernels (VNNI or AVX2 when available; the portable path gives the same bits).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuInt;

impl IntKernels for CpuInt {
    type Error = CoreError;

    fn name(&self) -> String {
        "cpu".into()
    }

    fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> Result<Vec<i32>, CoreError> {
        check_matmul(m)?;
        let IntMatmul {
            x,
            rows,
            w,
            out,
            inp,
            noise,
        } = *m;
        let mut x8 = vec![0i8; x.len()];
        narrow_i8(x, &mut x8);
        let mut acc = vec![0i32; rows * out];
        gemm_i8(&x8, rows, w, out, inp, &mut acc);
        let Some(n) = noise else { return Ok(acc) };
        let rank = n.rank;
        let (mut a, mut b) = (vec![0i16; rank * out], vec![0i16; rank * inp]);
        let mut u = vec![0i32; rank];
        for r in 0..rows {
            if r % 2 == 0 {
                let key = StreamKey::new(n.seed, n.param, n.epoch, n.first_pair + (r / 2) as u32);
                matrix_noise(key, inp, out, rank, &mut a, &mut b);
            }
            let sign = if r % 2 == 0 { 1 } else { -1 };
            add_correction(
                &mut acc[r * out..][..out],
                &x[r * inp..][..inp],
                &a,
                &b,
                sign,
                n.sigma_shift,
                &mut u,
            );
        }
        Ok(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::int::{matrix_update_sum, q8, rescale_into, rescale_multiplier, NoiseSpec};

    #[test]
    fn hand_checked_small_case() {
        // One row, fan-in 2: acc = 3·1 + (−2)·4 = −5 before noise.
        let acc = CpuInt
            .perturbed_matmul(&IntMatmul::plain(&[3, -2], 1, &[1, 4], 1, 2))
            .unwrap();
        assert_eq!(acc, vec![-5]);
        // With rank-1 noise: u = (3·B0 − 2·B1) >> 4, correction (u·A0) >> shift.
        let n = NoiseSpec {
            seed: 9,
            param: 1,
            epoch: 2,
            first_pair: 5,
            rank: 1,
            sigma_shift: 3,
        };
        let key = StreamKey::new(9, 1, 2, 5);
        let (b0, b1, a0) = (q8(key.bits(0)), q8(key.bits(1)), q8(key.bits(2)));
        let u = (3 * b0 as i32 - 2 * b1 as i32) >> 4;
        let corr = (u * a0 as i32) >> 3;
        let got = CpuInt
            .perturbed_matmul(
                &IntMatmul::plain(&[3, -2, 3, -2], 2, &[1, 4], 1, 2).with_noise(Some(&n)),
            )
            .unwrap();
        assert_eq!(got, vec![-5 + corr, -5 - corr]);
        let m = rescale_multiplier(2);
        let acc = CpuInt
            .perturbed_matmul(&IntMatmul::plain(&[127, 127], 1, &[127, 127], 1, 2))
            .unwrap();
        let mut y = vec![0i16; 1];
        rescale_into(&acc, 1, 1, 2, &mut y, 1);
        assert_eq!(
            y,
            vec![(((2 * 127 * 127) as i64 * m) >> 32).min(127) as i16]
        );
    }

    #[test]
    fn matches_naive_loops() {
        // The formulas of the module doc written out element by element, independently of
        // the shared GEMM and correction code.
        let (rows, inp, out, rank) = (5, 7, 6, 3);
        let x = crate::int::conformance::values(rows * inp, 1);
        let w: Vec<i8> = crate::int::conformance::values(out * inp, 2)
            .into_iter()
            .map(|v| v as i8)
            .collect();
        let n = NoiseSpec {
            seed: 42,
            param: 3,
            epoch: 1,
            first_pair: 10,
            rank,
            sigma_shift: 2,
        };
        let got = CpuInt
            .perturbed_matmul(&IntMatmul::plain(&x, rows, &w, out, inp).with_noise(Some(&n)))
            .unwrap();
        for r in 0..rows {
            let key = StreamKey::new(42, 3, 1, 10 + (r / 2) as u32);
            let b = |j: usize, i: usize| q8(key.bits((j * inp + i) as u32)) as i32;
            let a = |j: usize, o: usize| q8(key.bits((rank * inp + j * out + o) as u32)) as i32;
            let u: Vec<i32> = (0..rank)
                .map(|j| {
                    (0..inp)
                        .map(|i| x[r * inp + i] as i32 * b(j, i))
                        .sum::<i32>()
                        >> 4
                })
                .collect();
            for o in 0..out {
                let plain: i32 = (0..inp)
                    .map(|i| x[r * inp + i] as i32 * w[o * inp + i] as i32)
                    .sum();
                let c: i32 = (0..rank).map(|j| u[j] * a(j, o)).sum();
                let s = if r % 2 == 0 { 1 } else { -1 };
                assert_eq!(got[r * out + o], plain + s * (c >> 2), "row {r} out {o}");
            }
        }
        let active = [(0u32, 1i8), (5, -1), (9, 3)];
        let z = matrix_update_sum(8, 4, 2, 2, 3, 4, &active);
        let mut want = vec![0i32; 12];
        for &(pair, f) in &active {
            let key = StreamKey::new(8, 4, 2, pair);
            for j in 0..2 {
                for o in 0..3 {
                    for i in 0..4 {
                        let a = q8(key.bits((2 * 4 + j * 3 + o) as u32)) as i32;
                        let b = q8(key.bits((j * 4 + i) as u32)) as i32;
                        want[o * 4 + i] += f as i32 * a * b;
                    }
                }
            }
        }
        assert_eq!(z, want);
    }

    #[test]
    fn invalid_inputs_are_errors_not_panics() {
        assert!(CpuInt
            .perturbed_matmul(&IntMatmul::plain(&[1], 2, &[1], 1, 1))
            .is_err());
    }
}
