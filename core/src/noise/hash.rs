//! The integer hash and the derivation of a stream key from its coordinates.

/// A 32-bit avalanche hash (Wellons' "lowbias32"): a bijection on `u32` with good diffusion.
#[inline(always)]
pub fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Starting values of the two independent hash chains of a key.
const CHAIN_INITS: [u32; 2] = [0x9e37_79b9, 0x85eb_ca6b];

/// One hash chain over a key's coordinates: `h ← hash32(h ^ w)` for each word in order.
fn chain(init: u32, words: &[u32]) -> u32 {
    words.iter().fold(init, |h, &w| hash32(h ^ w))
}

/// The 64-bit key of one noise stream, derived from its coordinates.
///
/// Two independent hash chains give the two words, so distinct streams collide with
/// probability 2^-64 rather than 2^-32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// First key word, xored into the counter before the first hash.
    pub k0: u32,
    /// Second key word, added between the two hashes.
    pub k1: u32,
}

impl StreamKey {
    /// Key for (run seed, parameter id, epoch, pair). `epoch` is the generation divided by
    /// `noise_reuse`; `pair` is the member index divided by two for antithetic populations.
    pub fn new(seed: u64, param: u32, epoch: u32, pair: u32) -> Self {
        let words = [seed as u32, (seed >> 32) as u32, param, epoch, pair];
        StreamKey {
            k0: chain(CHAIN_INITS[0], &words),
            k1: chain(CHAIN_INITS[1], &words),
        }
    }

    /// The keys of every pair of (run seed, parameter id, epoch), with the shared part of the
    /// two hash chains computed once: `StreamKey::prefix(s, p, e).pair(k)` equals
    /// `StreamKey::new(s, p, e, k)`.
    pub fn prefix(seed: u64, param: u32, epoch: u32) -> KeyPrefix {
        let words = [seed as u32, (seed >> 32) as u32, param, epoch];
        KeyPrefix {
            h0: chain(CHAIN_INITS[0], &words),
            h1: chain(CHAIN_INITS[1], &words),
        }
    }

    /// The uniformly distributed 32-bit word at position `j` of this stream.
    #[inline(always)]
    pub fn bits(self, j: u32) -> u32 {
        hash32(hash32(j ^ self.k0).wrapping_add(self.k1))
    }
}

/// The two hash chains of [`StreamKey::new`] after all words but the pair (see
/// [`StreamKey::prefix`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPrefix {
    h0: u32,
    h1: u32,
}

impl KeyPrefix {
    /// The key of pair (stream) `pair`.
    #[inline]
    pub fn pair(self, pair: u32) -> StreamKey {
        StreamKey {
            k0: hash32(self.h0 ^ pair),
            k1: hash32(self.h1 ^ pair),
        }
    }
}

/// `L` stream keys side by side (struct of arrays), for hashing many streams at once: every
/// step is a loop over the lanes with no dependence between them, which the compiler turns
/// into vector instructions. Lane `l` is exactly `StreamKey::new(seeds[l], param, epochs[l],
/// pair)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamKeys<const L: usize> {
    /// First key words, one per lane.
    pub k0: [u32; L],
    /// Second key words, one per lane.
    pub k1: [u32; L],
}

impl<const L: usize> StreamKeys<L> {
    /// The keys of (seeds\[l\], param, epochs\[l\], pair) for every lane `l`.
    #[inline(always)]
    pub fn new(seeds: &[u64; L], param: u32, epochs: &[u32; L], pair: u32) -> Self {
        let mut keys = StreamKeys {
            k0: [CHAIN_INITS[0]; L],
            k1: [CHAIN_INITS[1]; L],
        };
        let words: [[u32; L]; 5] = [
            seeds.map(|s| s as u32),
            seeds.map(|s| (s >> 32) as u32),
            [param; L],
            *epochs,
            [pair; L],
        ];
        for word in &words {
            for ((k0, k1), w) in keys.k0.iter_mut().zip(&mut keys.k1).zip(word) {
                *k0 = hash32(*k0 ^ w);
                *k1 = hash32(*k1 ^ w);
            }
        }
        keys
    }

    /// Lane `l`'s key.
    #[inline(always)]
    pub fn key(&self, l: usize) -> StreamKey {
        StreamKey {
            k0: self.k0[l],
            k1: self.k1[l],
        }
    }

    /// Word `j` of every lane's stream: `[self.key(l).bits(j) for l]`.
    #[inline(always)]
    pub fn bits(&self, j: u32) -> [u32; L] {
        std::array::from_fn(|l| hash32(hash32(j ^ self.k0[l]).wrapping_add(self.k1[l])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash32_golden_values() {
        // Values from an independent Python transcription of lowbias32; they are part of the
        // noise specification that the GPU kernels reproduce.
        assert_eq!(hash32(0), 0);
        assert_eq!(hash32(1), 0x6889_90c0);
        assert_eq!(hash32(0xdead_beef), 0xe628_c683);
    }

    #[test]
    fn keys_differ_in_every_coordinate() {
        let base = StreamKey::new(7, 1, 2, 3);
        assert_ne!(base, StreamKey::new(8, 1, 2, 3));
        assert_ne!(base, StreamKey::new(7 | (1 << 40), 1, 2, 3));
        assert_ne!(base, StreamKey::new(7, 2, 2, 3));
        assert_ne!(base, StreamKey::new(7, 1, 3, 3));
        assert_ne!(base, StreamKey::new(7, 1, 2, 4));
    }

    #[test]
    fn prefix_gives_the_same_keys() {
        for (seed, param, epoch) in [(0u64, 0u32, 0u32), (7, 1, 2), (u64::MAX, 9, u32::MAX)] {
            let prefix = StreamKey::prefix(seed, param, epoch);
            for pair in [0u32, 1, 77, u32::MAX] {
                assert_eq!(prefix.pair(pair), StreamKey::new(seed, param, epoch, pair));
            }
        }
    }

    #[test]
    fn side_by_side_keys_are_the_single_keys() {
        let seeds: [u64; 5] = [0, 7, u64::MAX, 1 << 40, 123_456_789];
        let epochs: [u32; 5] = [0, 3, u32::MAX, 9, 1];
        let keys = StreamKeys::new(&seeds, 11, &epochs, 0x5eed);
        for l in 0..5 {
            let single = StreamKey::new(seeds[l], 11, epochs[l], 0x5eed);
            assert_eq!(keys.key(l), single);
            for j in [0u32, 1, 15, u32::MAX] {
                assert_eq!(keys.bits(j)[l], single.bits(j));
            }
        }
    }

    #[test]
    fn bits_are_balanced() {
        let key = StreamKey::new(1, 2, 3, 4);
        let mut ones = [0u32; 32];
        let n = 1 << 16;
        for j in 0..n {
            let b = key.bits(j);
            for (bit, count) in ones.iter_mut().enumerate() {
                *count += (b >> bit) & 1;
            }
        }
        for count in ones {
            let frac = count as f64 / n as f64;
            assert!((frac - 0.5).abs() < 0.01, "bit frequency {frac}");
        }
    }
}
