//! Integer perturbations regenerated from core's counter-based noise stream.
//!
//! `q8(bits)` rounds `16·N(0,1)` (core's `normal_fixed`, in 2^-16 units) to an integer and
//! clips it to ±127, sign applied after rounding so antithetic values are exact negatives.
//! Stream keys are `StreamKey::new(seed, param id, epoch, pair)`. A matrix's stream holds
//! `B` (rank×in, elements `jr·in + i`) then `A` (rank×out, elements `rank·in + jr·out + o`);
//! a vector's holds `ε` (elements `i`). Member `2k+s` of pair `k` uses sign `+` for `s = 0`.

use crate::params::{Kind, Layout};
use eggroll_core::noise::{normal_fixed, StreamKey};

/// `round(16·z)` clipped to ±127 for the standard normal `z` of the hash word `bits`.
#[inline(always)]
pub fn q8(bits: u32) -> i16 {
    let z = normal_fixed(bits);
    let m = ((z.unsigned_abs() + 2048) >> 12).min(127) as i16;
    if z < 0 {
        -m
    } else {
        m
    }
}

/// Fill a matrix's `B` (rank×inp) and `A` (rank×out) for one stream key.
pub fn matrix_noise(
    key: StreamKey,
    inp: usize,
    out: usize,
    rank: usize,
    a: &mut [i16],
    b: &mut [i16],
) {
    for (j, v) in b[..rank * inp].iter_mut().enumerate() {
        *v = q8(key.bits(j as u32));
    }
    let base = (rank * inp) as u32;
    for (j, v) in a[..rank * out].iter_mut().enumerate() {
        *v = q8(key.bits(base + j as u32));
    }
}

/// Fill a vector's `ε` for one stream key.
pub fn vector_noise(key: StreamKey, out: &mut [i16]) {
    for (j, v) in out.iter_mut().enumerate() {
        *v = q8(key.bits(j as u32));
    }
}

/// One parameter's noise for a range of pairs, pair-major.
#[derive(Clone, Debug, Default)]
pub struct ParamNoise {
    /// Matrices: `A` (pairs × rank × out). Vectors: `ε >> sigma_shift` (pairs × len).
    pub a: Vec<i16>,
    /// Matrices: `B` (pairs × rank × in). Vectors: empty.
    pub b: Vec<i16>,
}

/// Every parameter's noise for pairs `first_pair .. first_pair + pairs` of one epoch.
#[derive(Clone, Debug)]
pub struct ChunkNoise {
    /// Run seed.
    pub seed: u64,
    /// Noise epoch.
    pub epoch: u32,
    /// First pair (global index).
    pub first_pair: u32,
    /// Number of pairs.
    pub pairs: usize,
    /// Perturbation rank.
    pub rank: usize,
    /// σ = 2^-sigma_shift.
    pub sigma_shift: u32,
    /// Per-parameter noise, by parameter id.
    pub params: Vec<ParamNoise>,
}

impl ChunkNoise {
    /// Regenerate the noise of a range of pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        layout: &Layout,
        seed: u64,
        epoch: u32,
        first_pair: u32,
        pairs: usize,
        rank: usize,
        sigma_shift: u32,
    ) -> Self {
        Self::generate_for(
            layout,
            seed,
            epoch,
            first_pair,
            pairs,
            rank,
            sigma_shift,
            true,
        )
    }

    /// [`ChunkNoise::generate`], leaving the matrix products' factors out (empty) unless
    /// `host_matmuls`: a device backend regenerates them inside its kernels, so only the
    /// embedding's factors and the vectors' noise are needed on the host.
    #[allow(clippy::too_many_arguments)]
    pub fn generate_for(
        layout: &Layout,
        seed: u64,
        epoch: u32,
        first_pair: u32,
        pairs: usize,
        rank: usize,
        sigma_shift: u32,
        host_matmuls: bool,
    ) -> Self {
        let params = layout
            .params
            .iter()
            .enumerate()
            .map(|(id, p)| {
                let mut pn = ParamNoise::default();
                match p.kind {
                    Kind::Matrix { .. } if !host_matmuls && id != layout.emb => {}
                    Kind::Matrix { out, inp } => {
                        pn.a = vec![0; pairs * rank * out];
                        pn.b = vec![0; pairs * rank * inp];
                        for q in 0..pairs {
                            let key = StreamKey::new(seed, id as u32, epoch, first_pair + q as u32);
                            let a = &mut pn.a[q * rank * out..(q + 1) * rank * out];
                            let b = &mut pn.b[q * rank * inp..(q + 1) * rank * inp];
                            matrix_noise(key, inp, out, rank, a, b);
                        }
                    }
                    Kind::Vector { len, .. } => {
                        pn.a = vec![0; pairs * len];
                        for q in 0..pairs {
                            let key = StreamKey::new(seed, id as u32, epoch, first_pair + q as u32);
                            let d = &mut pn.a[q * len..(q + 1) * len];
                            vector_noise(key, d);
                            for v in d.iter_mut() {
                                *v >>= sigma_shift;
                            }
                        }
                    }
                }
                pn
            })
            .collect();
        ChunkNoise {
            seed,
            epoch,
            first_pair,
            pairs,
            rank,
            sigma_shift,
            params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_is_symmetric_and_scaled() {
        assert_eq!(q8(0), -q8(1));
        let key = StreamKey::new(1, 2, 3, 4);
        let n = 100_000;
        let (mut s, mut s2) = (0f64, 0f64);
        for j in 0..n {
            let v = q8(key.bits(j)) as f64;
            s += v;
            s2 += v * v;
        }
        let mean = s / n as f64;
        let std = (s2 / n as f64 - mean * mean).sqrt();
        assert!(mean.abs() < 0.2, "mean {mean}");
        assert!((std - 16.0).abs() < 0.2, "std {std}");
    }

    #[test]
    fn chunk_noise_is_a_pure_function_of_pair() {
        let layout = Layout::new(16, 1);
        let whole = ChunkNoise::generate(&layout, 5, 2, 0, 4, 2, 4);
        let part = ChunkNoise::generate(&layout, 5, 2, 2, 2, 2, 4);
        for (w, p) in whole.params.iter().zip(&part.params) {
            let half_a = w.a.len() / 2;
            assert_eq!(&w.a[half_a..], &p.a[..]);
            let half_b = w.b.len() / 2;
            assert_eq!(&w.b[half_b..], &p.b[..]);
        }
    }
}
