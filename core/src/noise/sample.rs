//! Turning hash words into standard normals with the quantile table.

use super::hash::StreamKey;
use super::table::{QUANTILE_KNOTS, SEGMENTS};
use super::NOISE_SCALE;

/// Map a uniform 32-bit word to a standard normal in units of 2^-16.
///
/// Bit 0 is the sign; the other 31 bits `v` give the tail probability t = v / 2^31 of |Z|.
/// The octave of t (its leading-zero count) and the next 4 bits select a table segment; the
/// 16 bits after those interpolate linearly between the segment's knots, in integers.
#[inline(always)]
pub fn normal_fixed(bits: u32) -> i32 {
    let v = (bits >> 1).max(1);
    let lz = v.leading_zeros(); // 1..=31, since v < 2^31
    let octave = (lz - 1) as usize;
    let mantissa = (v << lz) << 1; // bits below the leading one, left-aligned
    let segment = (mantissa >> 28) as usize;
    let frac = ((mantissa >> 12) & 0xffff) as i32;
    let row = &QUANTILE_KNOTS[octave];
    let lo = row[segment];
    let hi = row[(segment + 1).min(SEGMENTS)];
    let magnitude = lo + (((hi - lo) * frac) >> 16);
    if bits & 1 == 1 {
        -magnitude
    } else {
        magnitude
    }
}

/// The standard normal at position `j` of the stream `key`.
#[inline(always)]
pub fn normal_at(key: StreamKey, j: u32) -> f32 {
    normal_fixed(key.bits(j)) as f32 * NOISE_SCALE
}

/// Fill `out` with the stream's elements `start .. start + out.len()`, times `scale`.
///
/// `scale` multiplies after the exact conversion, so callers that need bit-exact values across
/// backends pass a power of two (or 1).
pub fn fill_normals(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { fill_normals_avx2(key, start, scale, out) };
            return;
        }
    }
    fill_normals_portable(key, start, scale, out);
}

#[inline(always)]
fn fill_normals_portable(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    for (j, o) in out.iter_mut().enumerate() {
        *o = normal_at(key, start.wrapping_add(j as u32)) * scale;
    }
}

/// The same loop compiled with AVX2 enabled, so the hash vectorises 8 lanes wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_normals_avx2(key: StreamKey, start: u32, scale: f32, out: &mut [f32]) {
    fill_normals_portable(key, start, scale, out);
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn fill_matches_pointwise() {
        let key = StreamKey::new(3, 4, 5, 6);
        let mut buf = vec![0.0; 1000];
        fill_normals(key, 17, 0.5, &mut buf);
        for (j, &x) in buf.iter().enumerate() {
            assert_eq!(x.to_bits(), (normal_at(key, 17 + j as u32) * 0.5).to_bits());
        }
    }
}
