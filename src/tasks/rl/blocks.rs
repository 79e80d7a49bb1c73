//! Rollouts per block of members, each block one rayon task from reset to fitness.
//!
//! A CPU rollout step is small (a CartPole policy is a few 64-wide layers), so stepping the
//! whole population per call makes every call pay for its rows leaving the cache: the
//! activations, environment state and noise of thousands of rows pass through memory once per
//! layer and step. Instead the members are cut into blocks of at most [`BLOCK_ROWS`] rows
//! (members × episodes); each block is one rayon task that plays all of its steps and layers
//! on one core, inside [`eggroll_core::cpu::serial`], so its environment state, activations
//! and its members' noise stay in that core's L1/L2 and only the fitness values leave it.
//!
//! Block boundaries are multiples of the block size in absolute member indices, never a
//! function of the thread count or of which members a process scores: a member's rows are
//! always batched with the same neighbours (or a subset of them at the edge of a shard).
//! Row results do not depend on which other rows share a batch as long as every batch takes
//! the same kernel, and a block of at most 128 rows always does (the CPU picks its kernel by
//! batch size; a single member with more rows than that is a block of its own).

use super::{rollout, RlTask};
use crate::error::Result;
use eggroll_core::population::Population;
use eggroll_core::{Backend, Model};
use rayon::prelude::*;
use std::ops::Range;

/// Rows (members × episodes) a block holds at most, unless one member has more episodes.
pub const BLOCK_ROWS: usize = 64;

/// Members per block for `episodes` episodes per member: as many as fit in [`BLOCK_ROWS`]
/// rows, rounded down to whole antithetic pairs, and at least one.
pub fn block_members(episodes: usize) -> u32 {
    let fit = (BLOCK_ROWS / episodes.max(1)) as u32;
    if fit >= 2 {
        fit & !1
    } else {
        1
    }
}

/// `members` cut at the multiples of `size` (absolute member indices), in order.
pub fn blocks(members: Range<u32>, size: u32) -> Vec<Range<u32>> {
    let size = size.max(1);
    let mut out = Vec::new();
    let mut start = members.start;
    while start < members.end {
        let end = ((start / size + 1) * size).min(members.end);
        out.push(start..end);
        start = end;
    }
    out
}

/// Mean returns of `members`, one rayon task per block, each block's backend calls on its
/// own thread (the CPU path; see the module doc).
pub fn block_returns<B: Backend, M: Model<B> + Sync + ?Sized>(
    task: &RlTask,
    backend: &B,
    model: &M,
    pop: &Population,
    members: Range<u32>,
    generation: u64,
) -> Result<Vec<f32>> {
    let parts = blocks(members, block_members(task.cfg.episodes))
        .into_par_iter()
        .map(|block| {
            eggroll_core::cpu::serial(|| {
                rollout::population_returns(task, backend, model, pop, block, generation)
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_cut_at_absolute_multiples() {
        assert_eq!(blocks(0..10, 4), vec![0..4, 4..8, 8..10]);
        // A shard starting inside a block keeps the global boundaries.
        assert_eq!(blocks(5..12, 4), vec![5..8, 8..12]);
        assert_eq!(blocks(3..3, 4), Vec::<Range<u32>>::new());
        // Any split of a range gives the same boundaries as the whole range.
        let whole = blocks(0..100, 6);
        let mut parts = blocks(0..40, 6);
        parts.extend(blocks(40..100, 6));
        let ends = |b: &[Range<u32>]| b.iter().map(|r| r.end).collect::<Vec<_>>();
        assert!(ends(&whole).iter().all(|e| ends(&parts).contains(e)));
    }

    #[test]
    fn blocks_hold_whole_pairs_within_the_row_budget() {
        assert_eq!(block_members(1), BLOCK_ROWS as u32);
        assert_eq!(block_members(3), 20);
        assert_eq!(block_members(40), 1);
        assert_eq!(block_members(1000), 1);
        for e in 1..=BLOCK_ROWS {
            let m = block_members(e) as usize;
            assert!(
                m * e <= BLOCK_ROWS && (m == 1 || m.is_multiple_of(2)),
                "episodes {e}"
            );
        }
    }
}
