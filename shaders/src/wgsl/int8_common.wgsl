// Integer helpers shared by the int8 kernels (appended after hash.wgsl and normal.wgsl):
// int8 unpacking and the LM's noise quantiser q8.

// Element e of int8 values packed four to a u32 word (little-endian bytes), sign-extended.
fn unpack_i8(word: u32, e: u32) -> i32 {
    let byte = (word >> (8u * (e & 3u))) & 0xffu;
    return i32(byte ^ 0x80u) - 128;
}

// eggroll-core's `int::q8`: round(16·z) clipped to ±127 for the normal z of hash word `bits`
// (z in 2^-16 units, so 16·z rounds as (|z| + 2048) >> 12), the sign applied after rounding.
fn q8(bits: u32) -> i32 {
    let z = normal_fixed(bits);
    let m = i32(min((u32(abs(z)) + 2048u) >> 12u, 127u));
    return select(m, -m, z < 0);
}
