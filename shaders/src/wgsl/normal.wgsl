// Standard normals from hash words: a transcription of eggroll-core's `noise/sample.rs`.
// KNOT_ROW, KNOT_LAST and NOISE_SCALE_BITS are prepended from the Rust constants, and the
// quantile table itself (`QUANTILE_KNOTS`, row-major) is bound as a storage buffer.

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

// normal_at: element j of the stream as f32 (exact: |z| < 2^24, times a power of two).
fn normal_at(key: vec2<u32>, j: u32) -> f32 {
    return f32(normal_fixed(noise_bits(key, j))) * bitcast<f32>(NOISE_SCALE_BITS);
}
