//! Counter-based random draws for initial states.
//!
//! Each reset of each environment gets its own stream, keyed by (env seed, environment kind,
//! episode index), so the initial states of a batch are the same whatever the thread count
//! or block layout. The draws are uniform in the same sense as numpy's `uniform` (a 53-bit
//! mantissa scaled into `[low, high)`) but they are NOT numpy's PCG64 streams: a seeded reset
//! here does not reproduce gymnasium's initial state for the same seed. Dynamics do match.

use eggroll_core::noise::{StreamKey, StreamKeys};

/// The last coordinate of every reset stream's key.
const RESET_PAIR: u32 = 0x5eed_0001;

/// Words of a stream that [`ResetRngs`] computes ahead: eight draws, more than any
/// environment's reset takes.
pub const AHEAD: usize = 16;

/// A per-reset stream of uniform f64 draws.
#[derive(Clone, Copy, Debug)]
pub struct ResetRng {
    key: StreamKey,
    next: u32,
    /// The stream's first words when computed ahead (`ahead` of them valid).
    words: [u32; AHEAD],
    ahead: u32,
}

impl ResetRng {
    /// Stream for episode `episode` of the environment seeded with `env_seed`, for the
    /// environment kind identified by `salt`.
    pub fn new(env_seed: u64, salt: u32, episode: u32) -> Self {
        ResetRng {
            key: StreamKey::new(env_seed, salt, episode, RESET_PAIR),
            next: 0,
            words: [0; AHEAD],
            ahead: 0,
        }
    }

    /// Word `j` of the stream.
    #[inline]
    fn word(&self, j: u32) -> u32 {
        if j < self.ahead {
            self.words[j as usize]
        } else {
            self.key.bits(j)
        }
    }

    /// A uniform draw in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        let hi = u64::from(self.word(self.next));
        let lo = u64::from(self.word(self.next.wrapping_add(1)));
        self.next = self.next.wrapping_add(2);
        let word = (hi << 32) | lo;
        (word >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A uniform draw in `[low, high)`, computed as numpy does: `low + (high - low) * u`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }
}

/// The reset streams of `L` environments computed side by side (the keys and their first
/// [`AHEAD`] words in vector instructions): lane `l` gives what `ResetRng::new(env_seeds[l],
/// salt, episodes[l])` gives.
pub struct ResetRngs<const L: usize> {
    keys: StreamKeys<L>,
    words: [[u32; L]; AHEAD],
}

impl<const L: usize> ResetRngs<L> {
    /// The streams of `(env_seeds[l], salt, episodes[l])`, in the widest vector instructions
    /// this CPU has.
    pub fn new(env_seeds: &[u64; L], salt: u32, episodes: &[u32; L]) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512<const L: usize>(s: &[u64; L], k: u32, e: &[u32; L]) -> ResetRngs<L> {
                ResetRngs::compute(s, k, e)
            }
            #[target_feature(enable = "avx2")]
            fn avx2<const L: usize>(s: &[u64; L], k: u32, e: &[u32; L]) -> ResetRngs<L> {
                ResetRngs::compute(s, k, e)
            }
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F was just detected.
                return unsafe { avx512(env_seeds, salt, episodes) };
            }
            if is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was just detected.
                return unsafe { avx2(env_seeds, salt, episodes) };
            }
        }
        Self::compute(env_seeds, salt, episodes)
    }

    /// [`ResetRngs::new`] in whatever instructions the caller is compiled for.
    #[inline(always)]
    fn compute(env_seeds: &[u64; L], salt: u32, episodes: &[u32; L]) -> Self {
        let keys = StreamKeys::new(env_seeds, salt, episodes, RESET_PAIR);
        ResetRngs {
            keys,
            words: std::array::from_fn(|j| keys.bits(j as u32)),
        }
    }

    /// Lane `l`'s stream.
    pub fn lane(&self, l: usize) -> ResetRng {
        ResetRng {
            key: self.keys.key(l),
            next: 0,
            words: std::array::from_fn(|j| self.words[j][l]),
            ahead: AHEAD as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_computed_side_by_side_are_the_single_streams() {
        let seeds: [u64; 3] = [5, 6, u64::MAX];
        let episodes: [u32; 3] = [0, 9, 2];
        let rngs = ResetRngs::new(&seeds, 77, &episodes);
        for l in 0..3 {
            let (mut a, mut b) = (rngs.lane(l), ResetRng::new(seeds[l], 77, episodes[l]));
            // Past the words computed ahead too.
            for _ in 0..AHEAD {
                assert_eq!(a.unit().to_bits(), b.unit().to_bits());
            }
        }
    }

    #[test]
    fn draws_are_in_range_and_reproducible() {
        let mut a = ResetRng::new(5, 1, 0);
        let mut b = ResetRng::new(5, 1, 0);
        for _ in 0..1000 {
            let x = a.uniform(-0.05, 0.05);
            assert!((-0.05..0.05).contains(&x));
            assert_eq!(x.to_bits(), b.uniform(-0.05, 0.05).to_bits());
        }
    }

    #[test]
    fn streams_differ_by_seed_salt_and_episode() {
        let first = |s, k, e| ResetRng::new(s, k, e).unit();
        let base = first(5, 1, 0);
        assert_ne!(base, first(6, 1, 0));
        assert_ne!(base, first(5, 2, 0));
        assert_ne!(base, first(5, 1, 1));
    }

    #[test]
    fn mean_is_one_half() {
        let mut r = ResetRng::new(9, 3, 7);
        let n = 20_000;
        let mean = (0..n).map(|_| r.unit()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }
}
