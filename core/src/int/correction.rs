//! One row's rank-r correction of a perturbed int8 matmul, added to its int32 accumulator.

use super::gemm::dot;

/// Add one row's rank-r correction `s·((Σ_j u_j·A[j][o]) >> shift)` to `acc` (`out` values),
/// with `u_j = (x·B[j]) >> 4` for the row's input `x` (`inp` values), `A` (rank × out) and
/// `B` (rank × inp). The rank is `b.len() / x.len()`; `u` is scratch of at least `rank` values.
/// The language model's forward pass and [`super::CpuInt`] both add their corrections through this.
pub fn add_correction(
    acc: &mut [i32],
    x: &[i16],
    a: &[i16],
    b: &[i16],
    sign: i32,
    shift: u32,
    u: &mut [i32],
) {
    let (inp, out) = (x.len(), acc.len());
    let rank = b.len() / inp.max(1);
    for j in 0..rank {
        u[j] = dot(x, &b[j * inp..][..inp]) >> 4;
    }
    if rank == 1 {
        add_rank1(acc, a, u[0], sign, shift);
    } else {
        for (oi, o) in acc.iter_mut().enumerate() {
            let mut c = 0i32;
            for j in 0..rank {
                c += u[j] * a[j * out + oi] as i32;
            }
            *o += sign * (c >> shift);
        }
    }
}

crate::vector_variants! {
    /// The rank-1 correction `acc[o] += sign·((u·a[o]) >> shift)` (the general formula with one
    /// term, without the inner loop), AVX2-compiled where the CPU has it.
    pub fn add_rank1(acc: &mut [i32], a: &[i16], u: i32, sign: i32, shift: u32) {
        for (o, &av) in acc.iter_mut().zip(a) {
            *o += sign * ((u * av as i32) >> shift);
        }
    }
}
