//! Device upload helpers shared by the GPU backends of [`IntKernels`](super::IntKernels):
//! int8 values packed four to a word, and the stream keys of a matmul's pairs.

use super::spec::NoiseSpec;
use crate::noise::StreamKey;

/// Device upload helper: int8-range values packed four to a little-endian u32 word (element
/// `e` in byte `e % 4` of word `e / 4`, two's complement), as the GPU kernels unpack them.
pub fn pack_int8<T: Copy + Into<i32>>(values: &[T]) -> Vec<u32> {
    values
        .chunks(4)
        .map(|c| {
            c.iter().enumerate().fold(0u32, |w, (b, &v)| {
                w | (((v.into() as u32) & 0xff) << (8 * b))
            })
        })
        .collect()
}

/// Device upload helper: the stream keys of a perturbed matmul's pairs, four words per pair
/// `(k0, k1, 0, 0)` for pairs `first_pair .. first_pair + ⌈rows/2⌉`.
pub fn matmul_keys(n: &NoiseSpec, rows: usize) -> Vec<u32> {
    (0..rows.div_ceil(2) as u32)
        .flat_map(|q| {
            let k = StreamKey::new(n.seed, n.param, n.epoch, n.first_pair.wrapping_add(q));
            [k.k0, k.k1, 0, 0]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_and_keys() {
        assert_eq!(pack_int8(&[1i16, -1, 127, -127, 5]), vec![0x817f_ff01, 5]);
        assert_eq!(pack_int8::<i8>(&[]), Vec::<u32>::new());
        let n = NoiseSpec {
            seed: 3,
            param: 4,
            epoch: 5,
            first_pair: 6,
            rank: 1,
            sigma_shift: 1,
        };
        let k = matmul_keys(&n, 3);
        assert_eq!(k.len(), 8);
        assert_eq!(k[4], StreamKey::new(3, 4, 5, 7).k0);
    }
}
