//! A population: the description of every member's perturbation, never the noise itself.
//!
//! Member `i` perturbs matrix `W` by `s_i·(σ/√r)·A_i B_iᵀ` (low rank) or `s_i·σ·E_i` (full
//! rank, the OpenES baseline), and vectors by `s_i·σ·ε_i`. With antithetic sampling members
//! `2k` and `2k+1` share the noise stream `k` with signs `+1` and `-1`.
//!
//! A [`Variant`] (the reference's registered EGGROLL variants) changes two things without
//! changing the noise: which factors the update sums (`A·Bᵀ`, or `sign(A)·sign(B)ᵀ` for
//! `eggroll_sign`), and which members run unperturbed (members 0 and 1 of every group for
//! `eggroll_baseline`: their sign [`Population::sign_of`] is 0).

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

/// Which factors the update of a low-rank matrix sums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateFactors {
    /// `Σ c_k A_k B_kᵀ`: the applied perturbations themselves (EGGROLL).
    #[default]
    Plain,
    /// `Σ c_k sign(A_k)·sign(B_k)ᵀ` (the reference's `alteggroll`); vectors keep `ε`.
    Sign,
}

/// How a noise strategy varies EGGROLL's members and update; the default changes nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// The factors the low-rank update sums.
    #[serde(default)]
    pub factors: UpdateFactors,
    /// Baseline group size G: members `i` with `i mod G ∈ {0, 1}` run unperturbed (sign 0);
    /// 0 = no baseline members.
    #[serde(default)]
    pub baseline_group: u32,
}

impl Variant {
    /// Whether this is plain EGGROLL / OpenES (no sign factors, no baseline members).
    pub fn is_plain(&self) -> bool {
        *self == Variant::default()
    }
}

/// The parameters of one generation's population, not yet checked: build a [`Population`]
/// from them with [`Population::new`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PopulationParams {
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

/// One generation's population, enough to regenerate any member's noise anywhere.
///
/// Checked once, when it is made ([`Population::new`]: N ≥ 1, even N under antithetic
/// sampling, finite σ > 0, rank ≥ 1), so every backend op can rely on it without checking
/// again. Its parameters are read through `Deref` (`pop.size`, `pop.sigma`) and cannot be
/// changed afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PopulationWire", into = "PopulationWire")]
pub struct Population(PopulationParams, Variant);

/// The serialised form of a [`Population`]: its parameters and, when not plain, its variant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct PopulationWire {
    #[serde(flatten)]
    params: PopulationParams,
    #[serde(default, skip_serializing_if = "Variant::is_plain")]
    variant: Variant,
}

impl TryFrom<PopulationWire> for Population {
    type Error = CoreError;

    fn try_from(w: PopulationWire) -> Result<Self> {
        Population::new(w.params)?.with_variant(w.variant)
    }
}

impl From<Population> for PopulationWire {
    fn from(p: Population) -> Self {
        PopulationWire {
            params: p.0,
            variant: p.1,
        }
    }
}

impl From<Population> for PopulationParams {
    fn from(p: Population) -> Self {
        p.0
    }
}

impl std::ops::Deref for Population {
    type Target = PopulationParams;

    fn deref(&self) -> &PopulationParams {
        &self.0
    }
}

impl Population {
    /// Check the invariants every backend relies on and make the population.
    pub fn new(p: PopulationParams) -> Result<Self> {
        if p.size == 0 {
            return Err(CoreError::invalid("population size", "must be at least 1"));
        }
        if p.antithetic && p.size % 2 == 1 {
            return Err(CoreError::invalid(
                "population size",
                format!("{} is odd, but antithetic sampling needs pairs", p.size),
            ));
        }
        if !(p.sigma.is_finite() && p.sigma > 0.0) {
            return Err(CoreError::invalid(
                "sigma",
                format!("{} must be finite and > 0", p.sigma),
            ));
        }
        if let NoiseKind::LowRank { rank: 0 } = p.kind {
            return Err(CoreError::invalid("rank", "must be at least 1"));
        }
        Ok(Population(p, Variant::default()))
    }

    /// The same population with `variant`, checked: sign factors need low-rank noise, and a
    /// baseline group G must divide N, be at least 3 (a group needs a perturbed member) and,
    /// with antithetic pairs, be even (so the two baseline members are one pair and every
    /// other pair stays whole).
    pub fn with_variant(self, variant: Variant) -> Result<Self> {
        if variant.factors == UpdateFactors::Sign && self.kind == NoiseKind::Full {
            return Err(CoreError::invalid(
                "update factors",
                "sign(A)·sign(B)ᵀ needs low-rank noise, not full-rank",
            ));
        }
        let g = variant.baseline_group;
        if g != 0 {
            let why = if g < 3 {
                Some(format!("{g} leaves no perturbed member (members 0 and 1 of each group are the baseline)"))
            } else if g > u32::MAX >> 1 {
                Some(format!(
                    "{g} does not fit the kernels' member word (31 bits)"
                ))
            } else if !self.size.is_multiple_of(g) {
                Some(format!("{g} does not divide the population {}", self.size))
            } else if self.antithetic && !g.is_multiple_of(2) {
                Some(format!(
                    "{g} is odd, but antithetic pairs must not straddle groups"
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(CoreError::invalid("baseline group size", why));
            }
        }
        Ok(Population(self.0, variant))
    }

    /// The population's parameters.
    pub fn params(&self) -> &PopulationParams {
        &self.0
    }

    /// The population's variant (plain for `eggroll` and `open_es`).
    #[inline]
    pub fn variant(&self) -> Variant {
        self.1
    }

    /// Whether `member` runs unperturbed (a baseline member of `eggroll_baseline`).
    #[inline]
    pub fn is_baseline(&self, member: u32) -> bool {
        let g = self.1.baseline_group;
        g != 0 && member % g < 2
    }

    /// The member-description word GPU kernels take in place of a bare antithetic flag:
    /// bit 0 = antithetic, bits 1.. = the baseline group size (0 = none).
    pub fn member_flags(&self) -> u32 {
        self.antithetic as u32 | (self.1.baseline_group << 1)
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

    /// The noise streams members `first .. first + count` use: `(first stream, stream count)`
    /// (`(stream_of(first), 0)` for no members).
    pub fn stream_span(&self, first: u32, count: u32) -> (u32, u32) {
        let start = self.stream_of(first);
        match count {
            0 => (start, 0),
            n => (start, self.stream_of(first + n - 1) - start + 1),
        }
    }

    /// Sign `s_i` of this member's perturbation: ±1, or 0 for a baseline member.
    #[inline]
    pub fn sign_of(&self, member: u32) -> f32 {
        if self.is_baseline(member) {
            0.0
        } else if self.antithetic && member % 2 == 1 {
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

/// Whose perturbation each row of a batch uses: the one description of row ownership that
/// every forward op ([`Backend::linear`](crate::Backend::linear),
/// [`Model::forward`](crate::Model::forward)) takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowOwners<'a> {
    /// Every row uses the unperturbed parameters (plain inference).
    Plain,
    /// Whole blocks of rows per member: rows `[k·rows_per_member, (k+1)·rows_per_member)`
    /// belong to member `first_member + k` of `pop`.
    Grouped {
        /// The population.
        pop: &'a Population,
        /// Global index of the member owning the first block of rows.
        first_member: u32,
        /// Rows per member in the batch.
        rows_per_member: usize,
    },
    /// Row `j` belongs to member `members[j]` of `pop` (a compacted batch, where finished
    /// rows were dropped).
    Tagged {
        /// The population.
        pop: &'a Population,
        /// The member of every row.
        members: &'a [u32],
    },
}

impl<'a> RowOwners<'a> {
    /// The population the rows are perturbed by (`None` for plain inference).
    pub fn population(&self) -> Option<&'a Population> {
        match *self {
            RowOwners::Plain => None,
            RowOwners::Grouped { pop, .. } | RowOwners::Tagged { pop, .. } => Some(pop),
        }
    }

    /// The member owning row `row` (`None` for plain inference).
    #[inline]
    pub fn member_of(&self, row: usize) -> Option<u32> {
        match *self {
            RowOwners::Plain => None,
            RowOwners::Grouped {
                first_member,
                rows_per_member,
                ..
            } => Some(first_member + (row / rows_per_member) as u32),
            RowOwners::Tagged { members, .. } => Some(members[row]),
        }
    }

    /// Check that a batch of `rows` rows fits this description: whole members inside the
    /// population (grouped), or one member inside it per row (tagged).
    pub fn check(&self, rows: usize) -> Result<()> {
        match *self {
            RowOwners::Plain => Ok(()),
            RowOwners::Grouped {
                pop,
                first_member,
                rows_per_member,
            } => {
                if rows_per_member == 0 || !rows.is_multiple_of(rows_per_member) {
                    return Err(CoreError::invalid(
                        "rows_per_member",
                        format!("{rows_per_member} does not divide {rows} rows"),
                    ));
                }
                let count = rows / rows_per_member;
                if first_member as u64 + count as u64 > pop.size as u64 {
                    return Err(CoreError::invalid(
                        "member rows",
                        format!(
                            "{count} members from {first_member} exceed N = {}",
                            pop.size
                        ),
                    ));
                }
                Ok(())
            }
            RowOwners::Tagged { pop, members } => {
                crate::error::check_len("row members", rows, members.len())?;
                match members.iter().find(|&&m| m >= pop.size) {
                    Some(m) => Err(CoreError::invalid(
                        "row members",
                        format!("member {m} is outside the population of {}", pop.size),
                    )),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(size: u32, antithetic: bool) -> PopulationParams {
        PopulationParams {
            seed: 1,
            epoch: 0,
            size,
            sigma: 0.1,
            kind: NoiseKind::LowRank { rank: 2 },
            antithetic,
        }
    }

    fn pop(size: u32, antithetic: bool) -> Population {
        Population::new(params(size, antithetic)).unwrap()
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
        assert!(Population::new(params(7, true)).is_err());
        assert!(Population::new(params(7, false)).is_ok());
        assert!(Population::new(params(0, false)).is_err());
        let mut p = params(8, true);
        p.sigma = 0.0;
        assert!(Population::new(p).is_err());
        p.sigma = f32::NAN;
        assert!(Population::new(p).is_err());
        let mut p = params(8, true);
        p.kind = NoiseKind::LowRank { rank: 0 };
        assert!(Population::new(p).is_err());
    }

    #[test]
    fn row_owners_check_their_batch() {
        let p = pop(4, true);
        let grouped = |first_member, rows_per_member| RowOwners::Grouped {
            pop: &p,
            first_member,
            rows_per_member,
        };
        assert!(grouped(1, 2).check(6).is_ok());
        assert_eq!(grouped(1, 2).member_of(5), Some(3));
        assert!(grouped(2, 2).check(6).is_err());
        assert!(grouped(0, 4).check(6).is_err());
        assert!(grouped(0, 0).check(0).is_err());
        let tagged = |members| RowOwners::Tagged { pop: &p, members };
        assert!(tagged(&[3, 0, 0]).check(3).is_ok());
        assert_eq!(tagged(&[3, 0, 0]).member_of(0), Some(3));
        assert!(tagged(&[3, 4]).check(2).is_err());
        assert!(tagged(&[3]).check(2).is_err());
        assert!(RowOwners::Plain.check(7).is_ok());
        assert_eq!(RowOwners::Plain.population(), None);
        assert_eq!(RowOwners::Plain.member_of(0), None);
    }

    #[test]
    fn deserialising_checks_too() {
        let ok = serde_json::to_string(&pop(8, true)).unwrap();
        let back: Population = serde_json::from_str(&ok).unwrap();
        assert_eq!(back, pop(8, true));
        let odd = serde_json::to_string(&params(7, true)).unwrap();
        assert!(serde_json::from_str::<Population>(&odd).is_err());
    }

    #[test]
    fn variants_are_checked_and_baseline_members_have_sign_zero() {
        let sign = Variant {
            factors: UpdateFactors::Sign,
            baseline_group: 0,
        };
        assert!(pop(8, true).with_variant(sign).is_ok());
        let mut full = params(8, true);
        full.kind = NoiseKind::Full;
        let err = Population::new(full)
            .unwrap()
            .with_variant(sign)
            .unwrap_err();
        assert!(err.to_string().contains("low-rank"), "{err}");
        let base = |g| Variant {
            factors: UpdateFactors::Plain,
            baseline_group: g,
        };
        for bad in [2, 3, 5, 16] {
            assert!(pop(8, true).with_variant(base(bad)).is_err(), "G = {bad}");
        }
        assert!(pop(9, false).with_variant(base(3)).is_ok());
        let p = pop(8, true).with_variant(base(4)).unwrap();
        let signs: Vec<f32> = (0..8).map(|m| p.sign_of(m)).collect();
        assert_eq!(signs, [0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0, -1.0]);
        assert_eq!(p.member_flags(), 1 | 4 << 1);
        assert_eq!(pop(8, true).member_flags(), 1);
        // Baseline streams get no coefficient, whatever their weights.
        let c = p
            .stream_coefficients(&[5.0, 7.0, 1.0, 2.0, 3.0, 4.0, 2.0, 0.5])
            .unwrap();
        assert_eq!(c, vec![0.0, -1.0, 0.0, 1.5]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Population>(&json).unwrap(), p);
        assert!(!serde_json::to_string(&pop(8, true))
            .unwrap()
            .contains("variant"));
    }

    #[test]
    fn stream_coefficients_fold_signs() {
        let p = pop(4, true);
        let c = p.stream_coefficients(&[1.0, 3.0, 2.0, -1.0]).unwrap();
        assert_eq!(c, vec![-2.0, 3.0]);
        assert!(p.stream_coefficients(&[1.0]).is_err());
    }
}
