//! The standard normals of search strategies: counter-based, keyed by (seed, generation,
//! member), so every member's vector can be regenerated anywhere, in any order.

use eggroll_core::noise::{normal_fixed, StreamKey};

/// Parameter id of search-strategy noise streams (distinct from every model tensor's id).
const SEARCH_PARAM: u32 = 0x5EA2_C400;

/// Write member `member`'s standard normal vector of `generation` into `out`.
///
/// With `antithetic` members `2k` and `2k+1` share stream `k` with signs `+` and `−`
/// (mirrored sampling). Each element is the exact quantile map of its own hash word
/// ([`normal_fixed`], a multiple of 2^-16), so values are identical on every machine.
pub fn standard_normal(seed: u64, generation: u64, member: u32, antithetic: bool, out: &mut [f64]) {
    let (stream, sign) = if antithetic {
        (member / 2, if member % 2 == 1 { -1.0 } else { 1.0 })
    } else {
        (member, 1.0)
    };
    // Generations past 2^32 reuse keys with the high word folded in.
    let epoch = (generation as u32) ^ ((generation >> 32) as u32).rotate_left(16);
    let key = StreamKey::new(seed, SEARCH_PARAM, epoch, stream);
    for (j, o) in out.iter_mut().enumerate() {
        *o = sign * normal_fixed(key.bits(j as u32)) as f64 / 65536.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_mirrored_and_distinct() {
        let (mut a, mut b, mut c) = ([0.0; 64], [0.0; 64], [0.0; 64]);
        standard_normal(3, 5, 4, true, &mut a);
        standard_normal(3, 5, 5, true, &mut b);
        standard_normal(3, 5, 6, true, &mut c);
        assert!(a.iter().zip(&b).all(|(x, y)| *x == -*y));
        assert_ne!(a, c);
        let mut d = [0.0; 64];
        standard_normal(3, 6, 4, true, &mut d);
        assert_ne!(a, d, "generations draw fresh noise");
    }

    #[test]
    fn moments_are_standard() {
        let mut v = vec![0.0; 20_000];
        standard_normal(1, 0, 0, false, &mut v);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
