// Standard normals: a transcription of eggroll-core's `noise/sample.rs` and `noise/pool.rs`.
// KNOT_ROW, KNOT_LAST, NOISE_SCALE_BITS, POOL_BASE and POOL_MASK are prepended from the Rust
// constants; the noise tables (`device_tables`: the quantile knots row-major, then the pool's
// magnitudes from POOL_BASE) are bound as a storage buffer.

@group(0) @binding(1) var<storage, read> knots: array<i32>;

// normal_fixed: |Z| from the table by octave (leading zeros) and segment, linearly
// interpolated in integers; bit 0 is the sign. Units of 2^-16.
fn normal_fixed(bits: u32) -> i32 {
    let v = max(bits >> 1u, 1u);
    let lz = countLeadingZeros(v);
    let mantissa = (v << lz) << 1u;
    let segment = mantissa >> 28u;
    let frac = i32((mantissa >> 12u) & 0xffffu);
    let row = (lz - 1u) * KNOT_ROW;
    let lo = knots[row + segment];
    let hi = knots[row + min(segment + 1u, KNOT_LAST)];
    let magnitude = lo + (((hi - lo) * frac) >> 16u);
    return select(magnitude, -magnitude, (bits & 1u) == 1u);
}

// normal_at: element j of the stream as f32: the pool entry at the key's window offset plus
// j, negated when bit j % 32 of the stream's word j / 32 is set (the offset is the low bits of
// the key's second word). Exact: the magnitude is below 2^24 and the scale a power of two.
fn normal_at(key: vec2<u32>, j: u32) -> f32 {
    let at = (key.y + j) & POOL_MASK;
    let z = f32(knots[POOL_BASE + at]) * bitcast<f32>(NOISE_SCALE_BITS);
    let negate = ((noise_bits(key, j >> 5u) >> (j & 31u)) & 1u) == 1u;
    return select(z, -z, negate);
}
