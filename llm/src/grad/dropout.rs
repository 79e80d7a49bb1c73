//! Counter-based dropout: whether element `i` of a tensor is kept is a pure function of
//! `(seed, stream, i)`, so a training step's mask can be regenerated in its backward (nothing
//! is stored) and is the same for any thread count and on every rerun.

use rayon::prelude::*;

/// Elements per parallel task.
const BLOCK: usize = 1 << 14;

/// splitmix64's finaliser: a bijective mix of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The key of stream `stream` under `seed`, for [`uniform_at`].
pub fn stream_key(seed: u64, stream: u64) -> u64 {
    mix(seed ^ mix(stream))
}

/// A uniform number in `[0, 1)` (24 bits) for element `i` of the stream keyed `key`.
pub fn uniform_at(key: u64, i: u64) -> f32 {
    let z = mix(key ^ i.wrapping_mul(0xd1b5_4a32_d192_ed03));
    (z >> 40) as f32 / (1u64 << 24) as f32
}

/// A uniform number in `[0, 1)` (24 bits) for element `i` of stream `stream` under `seed`.
pub fn uniform(seed: u64, stream: u64, i: u64) -> f32 {
    uniform_at(stream_key(seed, stream), i)
}

/// Inverted dropout with rate `p` (`0 ≤ p < 1`): element `i` of `x` is zeroed when
/// `uniform(seed, stream, i) < p`, the others are scaled by `1/(1 − p)`. Applying it to a
/// gradient with the same `(seed, stream)` is its backward. `p = 0` returns `x` unchanged.
pub fn dropout(x: &[f32], p: f32, seed: u64, stream: u64) -> Vec<f32> {
    if p <= 0.0 {
        return x.to_vec();
    }
    let keep = 1.0 / (1.0 - p);
    let key = stream_key(seed, stream);
    let mut out = vec![0.0; x.len()];
    // Fixed blocks: element i's fate depends on i only, never on the split.
    out.par_chunks_mut(BLOCK)
        .zip(x.par_chunks(BLOCK))
        .enumerate()
        .for_each(|(b, (o, xs))| {
            for (j, (o, &v)) in o.iter_mut().zip(xs).enumerate() {
                let i = (b * BLOCK + j) as u64;
                *o = if uniform_at(key, i) < p {
                    0.0
                } else {
                    v * keep
                };
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_is_reproducible_and_drops_about_p() {
        let x = vec![1.0f32; 20_000];
        let a = dropout(&x, 0.25, 7, 3);
        assert_eq!(
            a,
            dropout(&x, 0.25, 7, 3),
            "same seed and stream, same mask"
        );
        assert_ne!(a, dropout(&x, 0.25, 7, 4), "another stream, another mask");
        let dropped = a.iter().filter(|&&v| v == 0.0).count() as f32 / x.len() as f32;
        assert!((dropped - 0.25).abs() < 0.02, "dropped {dropped}");
        assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        assert_eq!(dropout(&x, 0.0, 7, 3), x);
    }
}
