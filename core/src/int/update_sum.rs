//! The CPU update sums of integer ES: a matrix's `Z = Σ_k f_k·A_k·B_kᵀ` as one int GEMM, a
//! vector's `Z = Σ_k f_k·ε_k`, with the noise regenerated from its stream keys.

use super::gemm::gemm_i16;
use super::noise::{matrix_noise, vector_noise};
use crate::noise::StreamKey;

/// A matrix's `Z = Σ_k f_k·A_k·B_kᵀ` (out × inp, int32) over the active pairs `(pair, f)`, as
/// ONE int GEMM of `(out × K·r)·(K·r × inp)` with the noise of parameter `param` regenerated.
/// Callers keep `Σ|f_k|·rank·127²` within int32 (with f = ±1: active pairs · rank < 133 000).
pub fn matrix_update_sum(
    seed: u64,
    param: u32,
    epoch: u32,
    rank: usize,
    out: usize,
    inp: usize,
    active: &[(u32, i8)],
) -> Vec<i32> {
    let kr = active.len() * rank;
    let mut fa = vec![0i16; out * kr];
    let mut bt = vec![0i16; inp * kr];
    let mut a = vec![0i16; rank * out];
    let mut b = vec![0i16; rank * inp];
    for (col, &(pair, f)) in active.iter().enumerate() {
        let key = StreamKey::new(seed, param, epoch, pair);
        matrix_noise(key, inp, out, rank, &mut a, &mut b);
        for j in 0..rank {
            let c = col * rank + j;
            for o in 0..out {
                fa[o * kr + c] = f as i16 * a[j * out + o];
            }
            for i in 0..inp {
                bt[i * kr + c] = b[j * inp + i];
            }
        }
    }
    let mut z = vec![0i32; out * inp];
    gemm_i16(&fa, out, &bt, inp, kr, &mut z);
    z
}

/// A vector's `Z = Σ_k f_k·ε_k` (`len` values, int32) over the active pairs `(pair, f)`.
pub fn vector_update_sum(
    seed: u64,
    param: u32,
    epoch: u32,
    len: usize,
    active: &[(u32, i8)],
) -> Vec<i32> {
    let mut z = vec![0i32; len];
    let mut e = vec![0i16; len];
    for &(pair, f) in active {
        vector_noise(StreamKey::new(seed, param, epoch, pair), &mut e);
        for (zi, &ei) in z.iter_mut().zip(&e) {
            *zi += f as i32 * ei as i32;
        }
    }
    z
}
