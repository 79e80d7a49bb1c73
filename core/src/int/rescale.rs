//! The rescale of an int32 accumulator back to int8 range: `clip((acc·M) >> 32, −127, 127)`
//! with `M = rescale_multiplier(fan_in) = round(2^32 / (16·⌊√fan_in⌋))`.

/// The multiplier `round(2^32 / (16·⌊√fan_in⌋))` of a matrix's rescale.
pub fn rescale_multiplier(fan_in: usize) -> i64 {
    let mut s = 1usize;
    while (s + 1) * (s + 1) <= fan_in {
        s += 1;
    }
    let div = 16 * s as i64;
    ((1i64 << 32) + div / 2) / div
}

/// Rescale `acc` (rows × out, fan-in `inp`) into int8-range values, row `r` going to
/// `dst[r·stride ..][.. out]`.
pub fn rescale_into(
    acc: &[i32],
    rows: usize,
    out: usize,
    inp: usize,
    dst: &mut [i16],
    stride: usize,
) {
    let m = rescale_multiplier(inp);
    for r in 0..rows {
        let (src, d) = (&acc[r * out..][..out], &mut dst[r * stride..][..out]);
        for (o, &v) in d.iter_mut().zip(src) {
            *o = (((v as i64 * m) >> 32) as i32).clamp(-127, 127) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_multiplier_hand_values() {
        assert_eq!(rescale_multiplier(256), (1i64 << 32) / 256);
        assert_eq!(rescale_multiplier(1), (1i64 << 32) / 16);
        // ⌊√512⌋ = 22.
        assert_eq!(rescale_multiplier(512), ((1i64 << 32) + 176) / 352);
    }
}
