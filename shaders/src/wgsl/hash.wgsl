// Counter-based stream keys: a transcription of eggroll-core's `noise/hash.rs`.
// All arithmetic is wrapping u32, exactly as in Rust.

// Wellons' lowbias32: a bijection on u32 with good avalanche.
fn hash32(x_in: u32) -> u32 {
    var x = x_in;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

// One hash chain over the five key words (seed low, seed high, param, epoch, pair).
fn key_chain(init: u32, seed: vec2<u32>, param: u32, epoch: u32, pair: u32) -> u32 {
    var h = hash32(init ^ seed.x);
    h = hash32(h ^ seed.y);
    h = hash32(h ^ param);
    h = hash32(h ^ epoch);
    h = hash32(h ^ pair);
    return h;
}

// StreamKey::new: two independent chains give the two key words (k0, k1).
fn stream_key(seed: vec2<u32>, param: u32, epoch: u32, pair: u32) -> vec2<u32> {
    return vec2<u32>(
        key_chain(0x9e3779b9u, seed, param, epoch, pair),
        key_chain(0x85ebca6bu, seed, param, epoch, pair),
    );
}

// StreamKey::bits: the uniform word at position j of the stream.
fn noise_bits(key: vec2<u32>, j: u32) -> u32 {
    return hash32(hash32(j ^ key.x) + key.y);
}
