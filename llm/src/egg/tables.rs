//! Small integer lookup tables replacing transcendental functions, built at compile time from
//! integer arithmetic only (no floating point, so every machine gets the same bits).
//!
//! - [`EXP2`]: `round(2^16 · 2^(-d/16))` for `d` in 0..256: the exponential of a logit
//!   difference, logits being base-2 log-probabilities in 1/16 bit.
//! - [`LOG2_MANTISSA`]: `round(16 · log2(1 + (i + ½)/256))`: a two-level logarithm. The
//!   octave of a sum comes from its leading-zero count, the fraction from this 256-entry table,
//!   so `log2` of any 32-bit sum costs one `lzcnt` and one read (the reference used a 2^28-entry
//!   table, about 1 GiB). Error ≤ ½ + 16·log2(1+1/512) < 0.55 units of 1/16 bit.
//! - [`RECIP`]: `round(2^16 / m)` for the norm's mean absolute value `m` in quarter units
//!   (0..=508): the norm divides by one multiply and a shift instead of the reference's
//!   256×65536 division table.

/// Number of entries of [`EXP2`]: logit differences 0..=255 (int8 logits differ by ≤ 254).
pub const EXP2_LEN: usize = 256;
/// Fixed-point scale of [`EXP2`]: `EXP2[0] = 2^EXP2_BITS`.
pub const EXP2_BITS: u32 = 16;
/// Largest index of [`RECIP`]: 4 × 127, the largest mean |x| in quarter units.
pub const RECIP_MAX: usize = 508;
/// Fixed-point shift paired with [`RECIP`] (the norm multiplies by `4·RECIP[m4]` then shifts by
/// this, i.e. `x·w / (m4/4)`).
pub const RECIP_SHIFT: u32 = 14;

/// 2^(-1/16) in 2^-64 units (rounded; checked against f64 in the tests).
const TWO_POW_MINUS_SIXTEENTH: u128 = 17_664_662_643_191_237_676;

const fn build_exp2() -> [u32; EXP2_LEN] {
    // frac[k] = 2^(-k/16) in 2^-64 units, by repeated fixed-point multiplication.
    let mut frac = [0u128; 16];
    frac[0] = 1u128 << 64;
    let mut k = 1;
    while k < 16 {
        frac[k] = (frac[k - 1] * TWO_POW_MINUS_SIXTEENTH) >> 64;
        k += 1;
    }
    let mut out = [0u32; EXP2_LEN];
    let mut d = 0;
    while d < EXP2_LEN {
        let shift = 64 - EXP2_BITS + (d / 16) as u32;
        let v = (frac[d % 16] + (1u128 << (shift - 1))) >> shift;
        out[d] = v as u32;
        d += 1;
    }
    out
}

/// log2 of `x` in [1, 2) given in 2^-32 units, to `bits` fractional bits (truncated), by the
/// classic square-and-compare digit recurrence.
const fn log2_fraction(mut x: u64, bits: u32) -> u64 {
    let mut y = 0u64;
    let mut i = 0;
    while i < bits {
        x = ((x as u128 * x as u128) >> 32) as u64;
        y <<= 1;
        if x >= 2u64 << 32 {
            x >>= 1;
            y |= 1;
        }
        i += 1;
    }
    y
}

const fn build_log2() -> [u8; 256] {
    let mut out = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        // 1 + (i + 1/2)/256 = (512 + 2i + 1)/512, in 2^-32 units.
        let x = ((512 + 2 * i as u64 + 1) << 32) / 512;
        let l = log2_fraction(x, 16); // 2^-16 units
        out[i] = ((l + (1 << 11)) >> 12) as u8; // round to 1/16
        i += 1;
    }
    out
}

const fn build_recip() -> [u32; RECIP_MAX + 1] {
    let mut out = [0u32; RECIP_MAX + 1];
    out[0] = 1 << 16;
    let mut m = 1;
    while m <= RECIP_MAX {
        out[m] = ((1u64 << 17) / m as u64).div_ceil(2) as u32;
        m += 1;
    }
    out
}

/// `EXP2[d] = round(2^16 · 2^(-d/16))`.
pub static EXP2: [u32; EXP2_LEN] = build_exp2();
/// `LOG2_MANTISSA[i] = round(16 · log2(1 + (i + ½)/256))`, in 1/16 bit.
pub static LOG2_MANTISSA: [u8; 256] = build_log2();
/// `RECIP[m] = round(2^16 / m)` (and `RECIP[0] = 2^16`).
pub static RECIP: [u32; RECIP_MAX + 1] = build_recip();

/// `16 · log2(s)` rounded, for `s ≥ 1`, by octave plus mantissa table.
#[inline(always)]
pub fn log2_16(s: u32) -> i32 {
    let s = s.max(1);
    let lz = s.leading_zeros();
    let octave = 31 - lz as i32;
    let idx = ((s << lz) >> 23) & 0xff;
    16 * octave + LOG2_MANTISSA[idx as usize] as i32
}

/// Base-2 log-sum-exp of int8 logits in 1/16 bit: `16·log2 Σ_i 2^(z_i/16)`, rounded.
#[inline]
pub fn log_sum_exp16(logits: &[i16]) -> i32 {
    let m = logits.iter().copied().max().unwrap_or(0);
    let mut s = 0u32;
    for &z in logits {
        let d = (m - z).clamp(0, EXP2_LEN as i16 - 1) as usize;
        s += EXP2[d];
    }
    m as i32 + log2_16(s) - 16 * EXP2_BITS as i32
}

/// Integer log-probability of `target` under `logits`, in 1/16 bit (≤ 0 up to rounding).
#[inline]
pub fn log_prob16(logits: &[i16], target: u8) -> i32 {
    logits[target as usize] as i32 - log_sum_exp16(logits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_matches_f64() {
        let c = TWO_POW_MINUS_SIXTEENTH as f64 / 2f64.powi(64);
        assert!((c - 2f64.powf(-1.0 / 16.0)).abs() < 1e-15);
    }

    #[test]
    fn exp2_table_within_half_unit() {
        for (d, &v) in EXP2.iter().enumerate() {
            let exact = 65536.0 * 2f64.powf(-(d as f64) / 16.0);
            assert!(
                (v as f64 - exact).abs() <= 0.5 + 1e-9,
                "d={d}: {v} vs {exact}"
            );
        }
        assert_eq!(EXP2[0], 65536);
        assert_eq!(EXP2[16], 32768);
    }

    #[test]
    fn log2_mantissa_within_half_unit() {
        for (i, &v) in LOG2_MANTISSA.iter().enumerate() {
            let exact = 16.0 * (1.0 + (i as f64 + 0.5) / 256.0).log2();
            assert!(
                (v as f64 - exact).abs() <= 0.5 + 1e-9,
                "i={i}: {v} vs {exact}"
            );
        }
        assert_eq!(log2_16(1), 0);
        assert_eq!(log2_16(1 << 20), 320);
    }

    #[test]
    fn recip_table_hand_values() {
        assert_eq!(RECIP[1], 65536);
        assert_eq!(RECIP[3], 21845);
        assert_eq!(RECIP[508], 129);
    }

    #[test]
    fn log_sum_exp_within_stated_bound_of_f64() {
        // Bound: |integer − exact| ≤ 1 unit of 1/16 bit (table rounding ≤ 0.55 plus the
        // final integer rounding of a value that is not itself rounded).
        let mut state = 12345u32;
        let mut next = || {
            state = eggroll_core::noise::hash32(state.wrapping_add(0x9e37_79b9));
            state
        };
        for case in 0..2000 {
            let spread = 1 + (case % 255) as u32;
            let logits: Vec<i16> = (0..256)
                .map(|_| {
                    ((next() % (2 * spread + 1)) as i32 - spread as i32).clamp(-127, 127) as i16
                })
                .collect();
            let exact = 16.0
                * logits
                    .iter()
                    .map(|&z| 2f64.powf(z as f64 / 16.0))
                    .sum::<f64>()
                    .log2();
            let got = log_sum_exp16(&logits) as f64;
            assert!((got - exact).abs() <= 1.0, "case {case}: {got} vs {exact}");
        }
    }

    #[test]
    fn log_prob_hand_case() {
        // Uniform logits: every byte has probability 1/256 = -8 bits = -128 units.
        let logits = vec![5i16; 256];
        assert_eq!(log_prob16(&logits, 7), -128);
        // One logit 127, the rest -127: the winner has p ≈ 1 - 255·2^-15.9 ≈ 0.992.
        let mut l = vec![-127i16; 256];
        l[3] = 127;
        assert_eq!(log_prob16(&l, 3), 0);
        assert_eq!(log_prob16(&l, 4), -254);
    }
}
