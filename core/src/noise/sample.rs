//! Standard normals: the quantile table's map from hash words to normals, and the streams.
//!
//! A stream's elements are signed entries of the fixed pool (see [`super::pool`]); the pool's
//! magnitudes, and the integer language model's noise, come from `normal_fixed`.
//!
//! `normal_fixed`'s specification (what every backend reproduces): bit 0 of the word is the sign; the other
//! 31 bits `v` (0 read as 1) give the tail probability t = v / 2^31 of |Z|. The octave of t is
//! `e = leading_zeros(v) − 1`; the 4 bits after v's leading one select segment `m`, and the 16
//! bits after those, `f`, interpolate between knots: `|z| = K[e][m] + ((K[e][m+1] − K[e][m])·f >> 16)`
//! in units of 2^-16 (arithmetic shift). The CPU reads the knots from a packed copy of the table
//! (one 32-bit word per segment) so that eight or sixteen lanes are computed at once.

use super::hash::StreamKey;
use super::pool::{pool_f32, window_offset, POOL_MASK, SIGN_WORD};
use super::table::{OCTAVES, QUANTILE_KNOTS, SEGMENTS};

/// Segment `(e, m)` at index `e·16 + m`: `K[e][m] << 12 | (K[e][m] − K[e][m+1])`.
/// Every knot is < 2^19 and every step < 2^12, so one word holds both; unused slots are 0.
static PACKED_SEGMENTS: [u32; 512] = pack_segments();

const fn pack_segments() -> [u32; 512] {
    let mut out = [0u32; 512];
    let mut e = 0;
    while e < OCTAVES {
        let mut m = 0;
        while m < SEGMENTS {
            let lo = QUANTILE_KNOTS[e][m];
            let step = lo - QUANTILE_KNOTS[e][m + 1];
            assert!(lo >= 0 && lo < (1 << 19) && step >= 0 && step < (1 << 12));
            out[e * SEGMENTS + m] = ((lo as u32) << 12) | step as u32;
            m += 1;
        }
        e += 1;
    }
    out
}

/// Map a uniform 32-bit word to a standard normal in units of 2^-16.
#[inline(always)]
pub fn normal_fixed(bits: u32) -> i32 {
    let v = (bits >> 1).max(1);
    let lz = v.leading_zeros(); // 1..=31, since 1 <= v < 2^31
    let mantissa = (v << lz) << 1; // bits below the leading one, left-aligned
    let index = ((lz - 1) << 4) | (mantissa >> 28);
    let packed = PACKED_SEGMENTS[(index & 511) as usize];
    let lo = (packed >> 12) as i32;
    let step = (packed & 0xfff) as i32;
    let frac = ((mantissa >> 12) & 0xffff) as i32;
    let magnitude = lo - ((step * frac + 0xffff) >> 16);
    let sign = -((bits & 1) as i32); // 0 or -1
    (magnitude ^ sign) - sign
}

/// The standard normal at position `j` of the stream `key`: the pool entry at
/// `window_offset(key) + j`, negated when bit `j mod 32` of `key.bits(j / 32)` is set.
#[inline(always)]
pub fn normal_at(key: StreamKey, j: u32) -> f32 {
    let at = window_offset(key).wrapping_add(j) & POOL_MASK;
    let m = pool_f32()[at as usize];
    if (key.bits(j / SIGN_WORD) >> (j % SIGN_WORD)) & 1 == 1 {
        -m
    } else {
        m
    }
}

/// Fill `out` with the stream's elements `start .. start + out.len()`, times `scale`.
///
/// `scale` multiplies after the exact value, so callers that need bit-exact values across
/// backends pass a power of two (or 1).
pub fn fill_normals(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { fill_normals_avx512(key, start, scale, out) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { fill_normals_avx2(key, start, scale, out) };
            return;
        }
    }
    fill_normals_portable(key, start, scale, out);
}

/// A stream's elements `0..32·words.len()` left in the pool: the window's offset and the
/// stream's sign words, for kernels that read the pool and apply the signs themselves
/// (element `j` equals [`normal_at`]`(key, j)`).
#[derive(Clone, Copy)]
pub struct SignedWindow<'a> {
    pool: &'static [f32],
    offset: u32,
    words: &'a [u32],
}

impl<'a> SignedWindow<'a> {
    /// The window of stream `key` covering its first `len` elements (rounded up to whole
    /// sign words), with the words written into `words`.
    pub fn new(key: StreamKey, len: usize, words: &'a mut Vec<u32>) -> Self {
        words.clear();
        words.resize(len.div_ceil(WORD), 0);
        hash_words(key, 0, words);
        SignedWindow {
            pool: pool_f32(),
            offset: window_offset(key),
            words,
        }
    }

    /// Block `q` (elements `32q .. 32q + 32`): the pool's magnitudes and the sign word whose
    /// bit `l` negates element `32q + l`.
    #[inline(always)]
    pub fn block(&self, q: usize) -> (&'static [f32; WORD], u32) {
        let at = (self.offset.wrapping_add((q * WORD) as u32) & POOL_MASK) as usize;
        let block = self.pool[at..at + WORD].try_into().unwrap_or(&[0.0; WORD]);
        (block, self.words[q])
    }
}

/// The sign words of the elements from position `j` (a multiple of 32) on: `words[w] =
/// key.bits((j + 32w) / 32)`, wrapping with the positions around 2^32.
#[inline(always)]
fn sign_words(key: StreamKey, j: u32, words: &mut [u32]) {
    for (w, s) in words.iter_mut().enumerate() {
        *s = key.bits(j.wrapping_add(w as u32 * SIGN_WORD) / SIGN_WORD);
    }
}

/// [`sign_words`] as vector code where the CPU has it (for callers outside a vector loop).
fn hash_words(key: StreamKey, j: u32, words: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512(key: StreamKey, j: u32, words: &mut [u32]) {
        sign_words(key, j, words);
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { avx512(key, j, words) };
        return;
    }
    sign_words(key, j, words);
}

/// The element whose magnitude is `m`, negated when bit `l` of `signs` is set (exactly
/// [`normal_at`]'s negation).
#[inline(always)]
pub fn apply_sign(m: f32, signs: u32, l: usize) -> f32 {
    f32::from_bits(m.to_bits() ^ ((signs << (31 - l)) & SIGN_BIT))
}

const SIGN_BIT: u32 = 1 << 31;

/// Elements per sign word, as a `usize`.
pub const WORD: usize = SIGN_WORD as usize;
/// Sign words hashed together (one AVX-512 vector of lanes).
const BLOCK_WORDS: usize = 16;

#[inline(always)]
fn fill_normals_portable(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    let pool = pool_f32();
    let offset = window_offset(key);
    // Elements before the first whole sign word, one at a time.
    let head = ((SIGN_WORD - start % SIGN_WORD) % SIGN_WORD) as usize;
    let (first, rest) = out.split_at_mut(head.min(out.len()));
    for (l, o) in first.iter_mut().enumerate() {
        *o = normal_at(key, start.wrapping_add(l as u32)) * scale;
    }
    let mut j = start.wrapping_add(first.len() as u32);
    // Sign words are hashed sixteen at a time (one vector), then applied a word at a time.
    let mut words = [0u32; BLOCK_WORDS];
    for block in rest.chunks_mut(WORD * BLOCK_WORDS) {
        sign_words(key, j, &mut words);
        for (chunk, &signs) in block.chunks_mut(WORD).zip(&words) {
            let at = (offset.wrapping_add(j) & POOL_MASK) as usize;
            let src = &pool[at..at + WORD];
            let apply = |out: &mut [f32]| {
                for (l, (o, &m)) in out.iter_mut().zip(src).enumerate() {
                    *o = apply_sign(m, signs, l) * scale;
                }
            };
            match <&mut [f32; WORD]>::try_from(&mut *chunk) {
                // Whole words: a fixed length the compiler unrolls into vector code.
                Ok(whole) => apply(whole),
                Err(_) => apply(chunk),
            }
            j = j.wrapping_add(SIGN_WORD);
        }
    }
}

/// The same loop compiled with AVX2 enabled (8 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fill_normals_avx2(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    fill_normals_portable(key, start, scale, out);
}

/// The same loop compiled with AVX-512 enabled (16 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fill_normals_avx512(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    fill_normals_portable(key, start, scale, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification, written directly against the knot table.
    fn spec_normal_fixed(bits: u32) -> i32 {
        let v = (bits >> 1).max(1);
        let lz = v.leading_zeros();
        let mantissa = (v << lz) << 1;
        let row = &QUANTILE_KNOTS[(lz - 1) as usize];
        let m = (mantissa >> 28) as usize;
        let (lo, hi) = (row[m], row[m + 1]);
        let frac = ((mantissa >> 12) & 0xffff) as i32;
        let magnitude = lo + (((hi - lo) * frac) >> 16);
        if bits & 1 == 1 {
            -magnitude
        } else {
            magnitude
        }
    }

    #[test]
    fn packed_table_matches_the_specification() {
        let key = StreamKey::new(5, 6, 7, 8);
        let extremes = [
            0u32,
            1,
            2,
            3,
            4,
            5,
            u32::MAX,
            u32::MAX - 1,
            1 << 31,
            (1 << 31) | 1,
        ];
        let words = (0..200_000).map(|j| key.bits(j)).chain(extremes);
        for bits in words.chain((0..32).flat_map(|s| [1u32 << s, (1u32 << s) - 1])) {
            assert_eq!(
                normal_fixed(bits),
                spec_normal_fixed(bits),
                "bits {bits:#x}"
            );
        }
    }

    #[test]
    fn extremes_are_finite_and_symmetric() {
        for bits in [0u32, 1, 2, 3, u32::MAX, u32::MAX - 1] {
            let z = normal_fixed(bits);
            assert!(z.abs() <= 408_306, "{bits:#x} -> {z}");
        }
        assert_eq!(normal_fixed(0), -normal_fixed(1));
        assert_eq!(normal_fixed(0xfff0_0000), -normal_fixed(0xfff0_0001));
    }

    #[test]
    fn monotone_in_tail_probability() {
        // Larger v means a larger tail probability, hence a smaller magnitude.
        let mut prev = i32::MAX;
        for v in (1u32..(1 << 31)).step_by(1 << 13) {
            let z = normal_fixed(v << 1);
            assert!(z <= prev, "not monotone at v={v}");
            prev = z;
        }
    }

    #[test]
    fn fill_matches_pointwise_deep_in_the_tails() {
        // 2^17 elements: about 500 lanes fall past the eighth octave (|z| > 2.66), where the
        // SIMD kernel switches from register permutes to a gather, and a few past 4.4.
        let key = StreamKey::new(11, 12, 13, 14);
        let mut buf = vec![0.0; 1 << 17];
        fill_normals(key, 3, 1.0, &mut buf);
        let mut far = 0;
        for (j, &x) in buf.iter().enumerate() {
            let want = normal_at(key, 3 + j as u32);
            assert_eq!(x.to_bits(), want.to_bits(), "element {j}");
            far += (x.abs() > 2.66) as usize;
        }
        assert!(far > 300, "only {far} tail samples");
    }

    #[test]
    fn signed_window_equals_the_stream() {
        let key = StreamKey::new(8, 7, 6, 5);
        let mut words = Vec::new();
        let w = SignedWindow::new(key, 1000, &mut words);
        for q in 0..1000usize.div_ceil(WORD) {
            let (block, signs) = w.block(q);
            for (l, &m) in block.iter().enumerate() {
                let j = (q * WORD + l) as u32;
                assert_eq!(
                    apply_sign(m, signs, l).to_bits(),
                    normal_at(key, j).to_bits()
                );
            }
        }
    }

    #[test]
    fn fill_matches_pointwise_for_every_length_and_offset() {
        let key = StreamKey::new(3, 4, 5, 6);
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let mut buf = vec![0.0; len];
            for start in [u32::MAX - 7, u32::MAX - 40, u32::MAX - 300] {
                fill_normals(key, start, 0.5, &mut buf);
                for (j, &x) in buf.iter().enumerate() {
                    let want = normal_at(key, start.wrapping_add(j as u32)) * 0.5;
                    assert_eq!(x.to_bits(), want.to_bits(), "start {start}, element {j}");
                }
            }
        }
    }
}
