//! The counter-based random numbers behind every generated problem.
//!
//! A problem is a pure function of `(seed, family, index, attempt)`: the stream for it is
//! seeded by hashing that key with splitmix64's finaliser, so problem `i` never depends on how
//! many problems were generated before it, and every machine gets the same bits (integer
//! operations only, no platform RNG).

/// splitmix64's output function: a bijective 64-bit mixer.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 stream: cheap, deterministic, good enough for drawing small problems.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// The stream of the key `(seed, family, index, attempt)`; `family` separates task kinds.
    pub(crate) fn keyed(seed: u64, family: u64, index: u64, attempt: u64) -> Rng {
        let mut h = mix(seed ^ 0x243f_6a88_85a3_08d3);
        h = mix(h ^ family.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        h = mix(h ^ index);
        h = mix(h ^ attempt.rotate_left(32));
        Rng { state: h }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in `0..n` (Lemire's multiply-high; `n = 0` gives 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        lo + self.below(span) as i64
    }

    /// A uniformly chosen element of a non-empty slice (`None` when empty).
    pub(crate) fn pick<'a, T>(&mut self, xs: &'a [T]) -> Option<&'a T> {
        xs.get(self.below(xs.len() as u64) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // splitmix64 seeded with 0: the first outputs of the reference C implementation.
        let mut r = Rng { state: 0 };
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn ranges_stay_in_bounds_and_cover() {
        let mut r = Rng::keyed(1, 2, 3, 4);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let x = r.range(3, 9);
            assert!((3..=9).contains(&x));
            seen[(x - 3) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.pick::<u8>(&[]), None);
    }

    #[test]
    fn keys_are_independent() {
        let a = Rng::keyed(7, 0, 10, 0).next_u64();
        assert_eq!(a, Rng::keyed(7, 0, 10, 0).next_u64());
        assert_ne!(a, Rng::keyed(7, 0, 11, 0).next_u64());
        assert_ne!(a, Rng::keyed(7, 1, 10, 0).next_u64());
        assert_ne!(a, Rng::keyed(7, 0, 10, 1).next_u64());
        assert_ne!(a, Rng::keyed(8, 0, 10, 0).next_u64());
    }
}
