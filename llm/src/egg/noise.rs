//! The language model's per-chunk noise: every parameter's q8 perturbations for a range of
//! pairs, built from core's [`eggroll_core::int::matrix_noise`] and
//! [`eggroll_core::int::vector_noise`] (whose module doc gives the stream layout).

use crate::egg::params::Layout;
use eggroll_core::int::{matrix_noise, vector_noise};
use eggroll_core::noise::StreamKey;
use eggroll_core::params::ParamShape;

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
                match p.shape {
                    ParamShape::Matrix { .. } if !host_matmuls && id != layout.emb => {}
                    ParamShape::Matrix {
                        rows: out,
                        cols: inp,
                    } => {
                        pn.a = vec![0; pairs * rank * out];
                        pn.b = vec![0; pairs * rank * inp];
                        for q in 0..pairs {
                            let key = StreamKey::new(seed, id as u32, epoch, first_pair + q as u32);
                            let a = &mut pn.a[q * rank * out..(q + 1) * rank * out];
                            let b = &mut pn.b[q * rank * inp..(q + 1) * rank * inp];
                            matrix_noise(key, inp, out, rank, a, b);
                        }
                    }
                    ParamShape::Vector { len } => {
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
