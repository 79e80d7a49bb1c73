//! Splitting a population's members across workers (threads, devices, MPI ranks).

use eggroll_core::population::Population;
use std::ops::Range;

/// The contiguous member range of worker `rank` out of `workers` for a population of `size`.
///
/// The first `size % workers` workers take one extra member, so shards differ by at most one.
pub fn shard_range(size: u32, workers: u32, rank: u32) -> Range<u32> {
    let workers = workers.max(1);
    let base = size / workers;
    let extra = size % workers;
    let start = rank * base + rank.min(extra);
    let len = base + u32::from(rank < extra);
    start..(start + len).min(size)
}

/// The members of `pop` that worker `rank` of `workers` scores: a [`shard_range`] of whole
/// antithetic pairs when the population is antithetic (a pair's two members then share a
/// process, as models that score a pair together need), else of members.
pub fn member_shard(pop: &Population, workers: u32, rank: u32) -> Range<u32> {
    if pop.antithetic && pop.size.is_multiple_of(2) {
        let pairs = shard_range(pop.size / 2, workers, rank);
        2 * pairs.start..2 * pairs.end
    } else {
        shard_range(pop.size, workers, rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_population_once() {
        for size in [1u32, 2, 7, 64, 65] {
            for workers in 1..5 {
                let mut next = 0;
                for r in 0..workers {
                    let s = shard_range(size, workers, r);
                    assert_eq!(s.start, next);
                    next = s.end;
                }
                assert_eq!(next, size);
            }
        }
    }

    #[test]
    fn antithetic_shards_keep_pairs_together() {
        let pop = |size, antithetic| {
            Population::new(eggroll_core::population::PopulationParams {
                seed: 0,
                epoch: 0,
                size,
                sigma: 0.1,
                kind: eggroll_core::population::NoiseKind::LowRank { rank: 1 },
                antithetic,
            })
            .unwrap()
        };
        for workers in 1..5 {
            let mut next = 0;
            for r in 0..workers {
                let s = member_shard(&pop(14, true), workers, r);
                assert_eq!((s.start % 2, s.end % 2, s.start), (0, 0, next));
                next = s.end;
            }
            assert_eq!(next, 14);
        }
        assert_eq!(member_shard(&pop(7, false), 2, 1), 4..7);
    }
}
