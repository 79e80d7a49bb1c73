//! Integer (q8) perturbations regenerated from the counter-based noise stream ([`crate::noise`]).
//!
//! `q8(bits)` rounds `16·N(0,1)` ([`normal_fixed`], in 2^-16 units) to an integer and
//! clips it to ±127, sign applied after rounding so antithetic values are exact negatives.
//! Stream keys are `StreamKey::new(seed, param id, epoch, pair)`. A matrix's stream holds
//! `B` (rank×in, elements `jr·in + i`) then `A` (rank×out, elements `rank·in + jr·out + o`);
//! a vector's holds `ε` (elements `i`). Member `2k+s` of pair `k` uses sign `+` for `s = 0`.

use crate::noise::{normal_fixed, StreamKey};

/// `round(16·z)` clipped to ±127 for the standard normal `z` of the hash word `bits`.
#[inline(always)]
pub fn q8(bits: u32) -> i16 {
    let z = normal_fixed(bits);
    let m = ((z.unsigned_abs() + 2048) >> 12).min(127) as i16;
    if z < 0 {
        -m
    } else {
        m
    }
}

crate::vector_variants! {
    /// `out[j] = q8(key.bits(base + j))`: integer hashing and a table lookup, which AVX-512
    /// (with its lane-wise leading-zero count and gathers) or AVX2 vectorise.
    fn fill_q8(key: StreamKey, base: u32, out: &mut [i16]) {
        for (j, v) in out.iter_mut().enumerate() {
            *v = q8(key.bits(base.wrapping_add(j as u32)));
        }
    }
}

/// Fill a matrix's `B` (rank×inp) and `A` (rank×out) for one stream key.
pub fn matrix_noise(
    key: StreamKey,
    inp: usize,
    out: usize,
    rank: usize,
    a: &mut [i16],
    b: &mut [i16],
) {
    fill_q8(key, 0, &mut b[..rank * inp]);
    fill_q8(key, (rank * inp) as u32, &mut a[..rank * out]);
}

/// Fill a vector's `ε` for one stream key.
pub fn vector_noise(key: StreamKey, out: &mut [i16]) {
    fill_q8(key, 0, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_is_symmetric_and_scaled() {
        assert_eq!(q8(0), -q8(1));
        let key = StreamKey::new(1, 2, 3, 4);
        let n = 100_000;
        let (mut s, mut s2) = (0f64, 0f64);
        for j in 0..n {
            let v = q8(key.bits(j)) as f64;
            s += v;
            s2 += v * v;
        }
        let mean = s / n as f64;
        let std = (s2 / n as f64 - mean * mean).sqrt();
        assert!(mean.abs() < 0.2, "mean {mean}");
        assert!((std - 16.0).abs() < 0.2, "std {std}");
    }
}
