//! A population: the description of every member's perturbation, never the noise itself.
//!
//! Member `i` perturbs matrix `W` by `s_i·(σ/√r)·A_i B_iᵀ` (low rank) or `s_i·σ·E_i` (full
//! rank, the OpenES baseline), and vectors by `s_i·σ·ε_i`. With antithetic sampling members
//! `2k` and `2k+1` share the noise stream `k` with signs `+1` and `-1`.

use crate::error::{CoreError, Result};
use crate::noise::StreamKey;
use serde::{Deserialize, Serialize};

/// How matrices are perturbed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseKind {
    /// EGGROLL: `A·Bᵀ` with `A` (out×r) and `B` (in×r).
    LowRank {
        /// The rank `r`.
        rank: u32,
    },
    /// OpenES: a dense out×in Gaussian matrix per member (generated on the fly).
    Full,
}

/// One generation's population, enough to regenerate any member's noise anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// The run seed.
    pub seed: u64,
    /// Noise epoch: generation / noise_reuse.
    pub epoch: u32,
    /// Number of members N.
    pub size: u32,
    /// Perturbation scale σ.
    pub sigma: f32,
    /// Low-rank or full-rank matrix noise.
    pub kind: NoiseKind,
    /// Whether members come in antithetic (±) pairs.
    pub antithetic: bool,
}

impl Population {
    /// Check the invariants every backend relies on.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 {
            return Err(CoreError::invalid("population size", "must be at least 1"));
        }
        if self.antithetic && self.size % 2 == 1 {
            return Err(CoreError::invalid(
                "population size",
                format!("{} is odd, but antithetic sampling needs pairs", self.size),
            ));
        }
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return Err(CoreError::invalid(
                "sigma",
                format!("{} must be finite and > 0", self.sigma),
            ));
        }
        if let NoiseKind::LowRank { rank: 0 } = self.kind {
            return Err(CoreError::invalid("rank", "must be at least 1"));
        }
        Ok(())
    }

    /// Noise stream index shared by this member (its pair under antithetic sampling).
    #[inline]
    pub fn stream_of(&self, member: u32) -> u32 {
        if self.antithetic {
            member / 2
        } else {
            member
        }
    }

    /// Sign `s_i` of this member's perturbation.
    #[inline]
    pub fn sign_of(&self, member: u32) -> f32 {
        if self.antithetic && member % 2 == 1 {
            -1.0
        } else {
            1.0
        }
    }

    /// Number of distinct noise streams (pairs when antithetic).
    pub fn streams(&self) -> u32 {
        if self.antithetic {
            self.size / 2
        } else {
            self.size
        }
    }

    /// The key of stream `stream` for parameter `param`.
    #[inline]
    pub fn key(&self, param: u32, stream: u32) -> StreamKey {
        StreamKey::new(self.seed, param, self.epoch, stream)
    }

    /// Scale of the low-rank product `A·Bᵀ` (σ/√r), or σ for full-rank noise.
    pub fn matrix_scale(&self) -> f32 {
        match self.kind {
            NoiseKind::LowRank { rank } => self.sigma / (rank as f32).sqrt(),
            NoiseKind::Full => self.sigma,
        }
    }

    /// Fold per-member coefficients into per-stream ones: `c_k = Σ_{i in stream k} s_i w_i`.
    pub fn stream_coefficients(&self, weights: &[f32]) -> Result<Vec<f32>> {
        if weights.len() != self.size as usize {
            return Err(CoreError::shape(
                "fitness weights",
                self.size as usize,
                weights.len(),
            ));
        }
        let mut c = vec![0.0f32; self.streams() as usize];
        for (i, &w) in weights.iter().enumerate() {
            c[self.stream_of(i as u32) as usize] += self.sign_of(i as u32) * w;
        }
        Ok(c)
    }
}

/// The members a batch of rows belongs to: rows `[k·rows_per_member, (k+1)·rows_per_member)`
/// are evaluated by member `first_member + k`. `None` members mean the unperturbed model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemberRows {
    /// Global index of the member owning the first block of rows.
    pub first_member: u32,
    /// Rows per member in the batch.
    pub rows_per_member: usize,
}

impl MemberRows {
    /// Check that `rows` rows split into whole members that lie inside `pop` (which is
    /// validated too); returns the number of members.
    pub fn members_in(&self, pop: &Population, rows: usize) -> Result<usize> {
        pop.validate()?;
        if self.rows_per_member == 0 || rows % self.rows_per_member != 0 {
            return Err(CoreError::invalid(
                "rows_per_member",
                format!("{} does not divide {rows} rows", self.rows_per_member),
            ));
        }
        let count = rows / self.rows_per_member;
        if self.first_member as u64 + count as u64 > pop.size as u64 {
            return Err(CoreError::invalid(
                "member rows",
                format!(
                    "{count} members from {} exceed N = {}",
                    self.first_member, pop.size
                ),
            ));
        }
        Ok(count)
    }
}

/// Which member each row of a batch belongs to: whole blocks of rows per member, or an
/// explicit member per row (for compacted batches where finished rows were dropped).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowMembers<'a> {
    /// Contiguous blocks of `rows_per_member` rows, from `first_member` on.
    Blocks(MemberRows),
    /// Row `j` belongs to member `list[j]`.
    List(&'a [u32]),
}

impl RowMembers<'_> {
    /// The member owning row `row`.
    #[inline]
    pub fn member_of(&self, row: usize) -> u32 {
        match self {
            RowMembers::Blocks(mr) => mr.first_member + (row / mr.rows_per_member) as u32,
            RowMembers::List(list) => list[row],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(size: u32, antithetic: bool) -> Population {
        Population {
            seed: 1,
            epoch: 0,
            size,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 2 },
            antithetic,
        }
    }

    #[test]
    fn antithetic_pairs_share_streams_with_opposite_signs() {
        let p = pop(8, true);
        assert_eq!(p.stream_of(4), p.stream_of(5));
        assert_eq!(p.sign_of(4), -p.sign_of(5));
        assert_eq!(p.streams(), 4);
    }

    #[test]
    fn rejects_bad_populations() {
        assert!(pop(7, true).validate().is_err());
        assert!(pop(7, false).validate().is_ok());
        let mut p = pop(8, true);
        p.sigma = 0.0;
        assert!(p.validate().is_err());
        p.sigma = f32::NAN;
        assert!(p.validate().is_err());
        let mut p = pop(8, true);
        p.kind = NoiseKind::LowRank { rank: 0 };
        assert!(p.validate().is_err());
    }

    #[test]
    fn stream_coefficients_fold_signs() {
        let p = pop(4, true);
        let c = p.stream_coefficients(&[1.0, 3.0, 2.0, -1.0]).unwrap();
        assert_eq!(c, vec![-2.0, 3.0]);
        assert!(p.stream_coefficients(&[1.0]).is_err());
    }
}
