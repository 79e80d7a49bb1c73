//! int8 weights laid out once for the kernel that will read them, so that a GEMM over many
//! rows does not rearrange them on every call.
//!
//! The x86 kernels multiply four consecutive bytes of one input row (broadcast) against the
//! same four `k` of a block of outputs (16 in a 512-bit register, 8 in a 256-bit one), so they
//! want the weights in blocks of `B` outputs × 4 `k`: block `(g, q)` holds `w[B·g + j][4q + b]`
//! at byte `4j + b`, zero past the last output or `k`. The `vpdpbusd` kernels also want
//! `128·Σ_k w[o][k]` per output (they multiply `x + 128` as unsigned bytes). The portable
//! kernel, a kernel this CPU lacks, and the AVX2 kernel on weights holding −128 (its sign trick
//! cannot negate it) read the plain row-major weights, which [`PackedI8`] then keeps as they
//! are.

use super::gemm8::{gemm_i8_with, I8Kernel};

/// Outputs per block of `kernel`'s packed layout (`None`: it reads plain rows).
fn block_outs(kernel: I8Kernel, w: &[i8]) -> Option<usize> {
    if !kernel.available() {
        return None;
    }
    match kernel {
        I8Kernel::Portable => None,
        I8Kernel::Avx2 if w.contains(&i8::MIN) => None,
        I8Kernel::Avx2 | I8Kernel::AvxVnni | I8Kernel::Avx512Vnni => Some(8),
        I8Kernel::Avx512VnniZmm => Some(16),
    }
}

/// Weights of an `outs × k` int8 matrix in the layout of the kernel that reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedI8 {
    kernel: I8Kernel,
    outs: usize,
    k: usize,
    /// Outputs per block, 0 for plain rows.
    block: usize,
    /// Row-major weights, or blocks of `block` outputs × 4 `k`.
    data: Vec<i8>,
    /// What the kernel subtracts per output (padded to whole blocks): `128·Σ_k w[o][k]` for
    /// the `vpdpbusd` kernels, 0 for AVX2's.
    offsets: Vec<i32>,
}

impl PackedI8 {
    /// `w` (`outs × k`, row-major) for [`I8Kernel::detect`]'s kernel.
    pub fn new(w: &[i8], outs: usize, k: usize) -> Self {
        Self::for_kernel(I8Kernel::detect(), w, outs, k)
    }

    /// `w` (`outs × k`, row-major) for `kernel` (a kernel this CPU lacks keeps the plain
    /// layout, and its products run the portable path, as [`gemm_i8_with`] does).
    ///
    /// # Panics
    /// When `w` is shorter than `outs × k`.
    pub fn for_kernel(kernel: I8Kernel, w: &[i8], outs: usize, k: usize) -> Self {
        assert!(
            w.len() >= outs * k,
            "PackedI8: {} weights for {outs}×{k}",
            w.len()
        );
        let w = &w[..outs * k];
        let Some(block) = block_outs(kernel, w) else {
            return PackedI8 {
                kernel,
                outs,
                k,
                block: 0,
                data: w.to_vec(),
                offsets: Vec::new(),
            };
        };
        let (groups, quads) = (outs.div_ceil(block), k.div_ceil(4));
        let mut data = vec![0i8; groups * quads * 4 * block];
        let mut offsets = vec![0i32; groups * block];
        let offset = if kernel == I8Kernel::Avx2 { 0 } else { 128 };
        for (o, row) in w.chunks_exact(k.max(1)).enumerate().take(outs) {
            let (g, j) = (o / block, o % block);
            for (q, four) in row.chunks(4).enumerate() {
                let at = ((g * quads + q) * block + j) * 4;
                data[at..at + four.len()].copy_from_slice(four);
            }
            let sum: i32 = row.iter().map(|&v| i32::from(v)).sum();
            offsets[o] = sum.wrapping_mul(offset);
        }
        PackedI8 {
            kernel,
            outs,
            k,
            block,
            data,
            offsets,
        }
    }

    /// The kernel this layout is for.
    pub fn kernel(&self) -> I8Kernel {
        self.kernel
    }

    /// Outputs (rows of the weight matrix).
    pub fn outs(&self) -> usize {
        self.outs
    }

    /// Fan-in (columns of the weight matrix).
    pub fn k(&self) -> usize {
        self.k
    }
}

/// `acc[r·outs + o] = Σ_i x[r·k + i] · w[o·k + i]` for `rows × k` inputs, with the weights
/// already laid out for their kernel: the same bits as [`super::gemm_i8`] on the plain ones.
///
/// # Panics
/// When `x` or `acc` is shorter than its shape says.
pub fn gemm_i8_packed(x: &[i8], rows: usize, w: &PackedI8, acc: &mut [i32]) {
    let (outs, k) = (w.outs, w.k);
    // Saturating: a shape whose size overflows is longer than any slice.
    let size = |a: usize, b: usize| a.saturating_mul(b);
    assert!(
        x.len() >= size(rows, k) && acc.len() >= size(rows, outs),
        "gemm_i8_packed: slices shorter than {rows}×{k}, {rows}×{outs}"
    );
    if rows == 0 || outs == 0 {
        return;
    }
    if k == 0 {
        // Empty sums (the kernels' rows of zero bytes would have no whole vectors).
        acc[..rows * outs].fill(0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if w.block > 0 {
        use super::gemm8_packed_x86 as simd;
        let (x, acc) = (&x[..rows * k], &mut acc[..rows * outs]);
        let (d, f) = (&w.data, &w.offsets);
        // SAFETY (all arms): a packed layout exists only where `available()` found the
        // kernel's features (see `block_outs`), the AVX2 one only for weights free of −128,
        // and the slices were cut to their shapes above.
        unsafe {
            match w.kernel {
                I8Kernel::Avx512VnniZmm => return simd::zmm(x, rows, d, f, outs, k, acc),
                I8Kernel::AvxVnni => return simd::ymm_vnni(x, rows, d, f, outs, k, acc),
                I8Kernel::Avx512Vnni => return simd::ymm_vnni_evex(x, rows, d, f, outs, k, acc),
                I8Kernel::Avx2 => return simd::ymm_sign(x, rows, d, f, outs, k, acc),
                I8Kernel::Portable => {}
            }
        }
    }
    gemm_i8_with(w.kernel, x, rows, &w.data, outs, k, acc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::int::gemm8::tests::fill;
    use crate::int::gemm_i8_portable;

    #[test]
    fn avx2_keeps_plain_rows_for_weights_holding_minus_128() {
        let w = [1i8, -128, 3, 4];
        let p = PackedI8::for_kernel(I8Kernel::Avx2, &w, 2, 2);
        assert_eq!((p.block, p.data.as_slice()), (0, &w[..]));
        let mut acc = [0; 2];
        gemm_i8_packed(&[-128, 127], 1, &p, &mut acc);
        assert_eq!(acc, [-128 + 127 * -128, -128 * 3 + 127 * 4]);
    }

    #[test]
    fn every_packed_kernel_gives_the_portable_bits_on_ragged_shapes() {
        let mut seed = 7;
        for rows in [1, 2, 3, 5, 8, 9, 17, 64] {
            for outs in [1, 3, 16, 17, 33, 64] {
                for k in [0, 1, 3, 4, 5, 63, 64, 65, 256] {
                    seed += 1;
                    let x = fill(rows * k, seed);
                    let w = fill(outs * k, seed + 5000);
                    let mut want = vec![0; rows * outs];
                    gemm_i8_portable(&x, rows, &w, outs, k, &mut want);
                    for kernel in I8Kernel::ALL {
                        let p = PackedI8::for_kernel(kernel, &w, outs, k);
                        let mut got = vec![-3; rows * outs];
                        gemm_i8_packed(&x, rows, &p, &mut got);
                        assert_eq!(got, want, "{} {rows}×{outs}×{k}", kernel.name());
                    }
                }
            }
        }
    }

    #[test]
    fn the_blocks_hold_sixteen_outputs_by_four_k() {
        let kernel = I8Kernel::Avx512VnniZmm;
        if !kernel.available() {
            return;
        }
        // 17 outputs × 5 k: two blocks of outputs, two quads of k.
        let (outs, k) = (17, 5);
        let w: Vec<i8> = (0..outs * k).map(|i| (i % 100) as i8).collect();
        let p = PackedI8::for_kernel(kernel, &w, outs, k);
        assert_eq!((p.block, p.data.len()), (16, 2 * 2 * 64));
        // Output 3, k 0..4, then k 4 and three zeros.
        assert_eq!(&p.data[12..16], &w[15..19]);
        assert_eq!(&p.data[64 + 12..64 + 16], &[w[19], 0, 0, 0]);
        // Output 16 opens the second block; past it, zeros.
        assert_eq!(&p.data[128..132], &w[80..84]);
        assert!(p.data[132..192].iter().all(|&v| v == 0));
        assert_eq!(
            p.offsets[16],
            128 * w[80..85].iter().map(|&v| v as i32).sum::<i32>()
        );
    }
}
