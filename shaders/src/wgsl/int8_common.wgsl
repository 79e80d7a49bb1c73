// Integer helpers shared by the int8 kernels (appended after hash.wgsl and normal.wgsl):
// int8 unpacking, the LM's noise quantiser q8, and the exact int8 rescale.

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

// clip((v·mult) >> 32, −127, 127) with an arithmetic shift of the exact 64-bit product
// (`mult` < 2^31), computed with 16-bit limbs since WGSL has no 64-bit integers: the high
// word of |v|·mult, then floor for negative v (one less when the low word is not zero).
fn rescale8(v: i32, mult: u32) -> i32 {
    let neg = v < 0;
    let a = select(bitcast<u32>(v), 0u - bitcast<u32>(v), neg);
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = mult & 0xffffu;
    let b1 = mult >> 16u;
    let lo = a0 * b0;
    let mid1 = a1 * b0;
    let mid2 = a0 * b1;
    let t = (lo >> 16u) + (mid1 & 0xffffu) + (mid2 & 0xffffu);
    let low_word = (t << 16u) | (lo & 0xffffu);
    let high_word = a1 * b1 + (mid1 >> 16u) + (mid2 >> 16u) + (t >> 16u);
    var r = i32(high_word);
    if (neg) {
        r = -r - select(0, 1, low_word != 0u);
    }
    return clamp(r, -127, 127);
}
