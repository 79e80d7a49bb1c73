//! Splitting a population's members across workers (threads, devices, MPI ranks).

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
}
