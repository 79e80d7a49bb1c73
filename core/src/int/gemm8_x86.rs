//! The x86 kernels behind [`super::gemm8::gemm_i8`]: one register-blocked loop (2 input rows
//! × 4 weight rows, 32 bytes of `k` per step, a `vphaddd` tree folding each row's four
//! accumulators into four sums) instantiated for three multiply-accumulate steps:
//! AVX2 `vpmaddubsw` + `vpmaddwd` with the sign trick, and `vpdpbusd` of AVX-VNNI or AVX-512
//! VNNI on `x + 128`. Why none of them saturates is stated at [`super::gemm8::I8Kernel`].

/// The loop shared by the kernels; `$step(s, x, prepared x, w)` adds one 32-byte chunk's
/// products to the accumulator `s`, `$prep(x)` prepares a chunk of `x` once per row, and
/// `$offset` is what `$prep` adds to each `x` (the kernel subtracts `$offset·Σ_k w[o][k]`).
macro_rules! int8_kernel {
    ($name:ident, $feature:literal, $prep:ident, $step:ident, $offset:literal) => {
        /// One kernel instantiation (see the module doc).
        pub mod $name {
            use super::*;

            /// Four accumulators of one row folded to their four sums (lane order kept).
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn fold4(s: [__m256i; 4]) -> __m128i {
                let a = _mm256_hadd_epi32(s[0], s[1]);
                let b = _mm256_hadd_epi32(s[2], s[3]);
                let c = _mm256_hadd_epi32(a, b);
                _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1))
            }

            /// `R` rows of `x` against the 4 weight rows `w[0..4]` (repeats allowed), storing
            /// the first `on` outputs of each row.
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn block<const R: usize>(
                x: *const i8,
                w: [*const i8; 4],
                k: usize,
                fix: __m128i,
                acc: *mut i32,
                outs: usize,
                on: usize,
            ) {
                let mut s = [[_mm256_setzero_si256(); 4]; R];
                let full = k / 32;
                for c in 0..full {
                    let mut wv = [_mm256_setzero_si256(); 4];
                    for (o, v) in wv.iter_mut().enumerate() {
                        // SAFETY: c·32 + 32 ≤ k, inside weight row o.
                        *v = unsafe { _mm256_loadu_si256(w[o].add(c * 32) as *const __m256i) };
                    }
                    for (r, sr) in s.iter_mut().enumerate() {
                        // SAFETY: as above, inside input row r.
                        let xv =
                            unsafe { _mm256_loadu_si256(x.add(r * k + c * 32) as *const __m256i) };
                        // SAFETY: the kernel's features are enabled here.
                        let px = unsafe { $prep(xv) };
                        for o in 0..4 {
                            // SAFETY: as above.
                            sr[o] = unsafe { $step(sr[o], xv, px, wv[o]) };
                        }
                    }
                }
                for (r, sr) in s.iter().enumerate() {
                    let mut t = [0i32; 4];
                    // SAFETY: `t` holds four i32.
                    unsafe {
                        _mm_storeu_si128(
                            t.as_mut_ptr() as *mut __m128i,
                            _mm_sub_epi32(fold4(*sr), fix),
                        )
                    };
                    for (o, v) in t.iter_mut().enumerate().take(on) {
                        for i in full * 32..k {
                            // SAFETY: i < k inside rows r of x and o of w.
                            let (xi, wi) = unsafe { (*x.add(r * k + i), *w[o].add(i)) };
                            *v = v.wrapping_add((xi as i32 + $offset).wrapping_mul(wi as i32));
                        }
                        // SAFETY: r and o lie inside the caller's rows × outs block.
                        unsafe { *acc.add(r * outs + o) = *v };
                    }
                }
            }

            /// `$offset·Σ_k w[o][k]` of one weight row (wrapping i32).
            #[inline]
            #[target_feature(enable = $feature)]
            unsafe fn offset_sum(w: *const i8, k: usize) -> i32 {
                if $offset == 0 {
                    return 0;
                }
                let ones = _mm256_set1_epi16(1);
                let mut s = _mm256_setzero_si256();
                let full = k / 32;
                for c in 0..full {
                    // SAFETY: c·32 + 32 ≤ k inside the row.
                    let v = unsafe { _mm256_loadu_si256(w.add(c * 32) as *const __m256i) };
                    let lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v));
                    let hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1));
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_add_epi16(lo, hi), ones));
                }
                // SAFETY: the kernel's features are enabled here.
                let t = unsafe {
                    fold4([
                        s,
                        _mm256_setzero_si256(),
                        _mm256_setzero_si256(),
                        _mm256_setzero_si256(),
                    ])
                };
                let mut sum = _mm_extract_epi32(t, 0);
                for i in full * 32..k {
                    // SAFETY: i < k inside the row.
                    sum += unsafe { *w.add(i) } as i32;
                }
                sum.wrapping_mul($offset)
            }

            /// The whole GEMM: blocks of 4 weight rows outside (kept in L1), pairs of input
            /// rows inside.
            ///
            /// # Safety
            /// The CPU must have the module's features; `x`, `w` and `acc` must hold
            /// `rows·k`, `outs·k` and `rows·outs` values.
            #[target_feature(enable = $feature)]
            pub unsafe fn gemm(
                x: &[i8],
                rows: usize,
                w: &[i8],
                outs: usize,
                k: usize,
                acc: &mut [i32],
            ) {
                let (xp, wp, ap) = (x.as_ptr(), w.as_ptr(), acc.as_mut_ptr());
                let mut o = 0;
                while o < outs {
                    let on = (outs - o).min(4);
                    // SAFETY: each weight row pointer is row o + min(i, on − 1) < outs.
                    let wr: [*const i8; 4] =
                        std::array::from_fn(|i| unsafe { wp.add((o + i.min(on - 1)) * k) });
                    let mut f = [0i32; 4];
                    for (v, &row) in f.iter_mut().zip(&wr) {
                        // SAFETY: `row` holds k values.
                        *v = unsafe { offset_sum(row, k) };
                    }
                    // SAFETY: `f` holds four i32.
                    let fix4 = unsafe { _mm_loadu_si128(f.as_ptr() as *const __m128i) };
                    let mut r = 0;
                    while r < rows {
                        // SAFETY: rows r (and r + 1) and outputs o..o + on lie inside the slices.
                        unsafe {
                            let (xb, ab) = (xp.add(r * k), ap.add(r * outs + o));
                            if rows - r >= 2 {
                                block::<2>(xb, wr, k, fix4, ab, outs, on);
                                r += 2;
                            } else {
                                block::<1>(xb, wr, k, fix4, ab, outs, on);
                                r += 1;
                            }
                        }
                    }
                    o += on;
                }
            }
        }
    };
}

use std::arch::x86_64::*;

/// AVX2's preparation: `|x|` as unsigned bytes (−128 becomes 128).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn abs8(x: __m256i) -> __m256i {
    _mm256_abs_epi8(x)
}

/// AVX2's step: `|x|·sign(w, x)` pair sums (≤ 32512, no saturation), widened by `vpmaddwd`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn sign_step(s: __m256i, x: __m256i, ux: __m256i, w: __m256i) -> __m256i {
    let pairs = _mm256_maddubs_epi16(ux, _mm256_sign_epi8(w, x));
    _mm256_add_epi32(s, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

/// VNNI's preparation: `x + 128` as unsigned bytes (the sign bit flipped).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn offset8(x: __m256i) -> __m256i {
    _mm256_xor_si256(x, _mm256_set1_epi8(-128))
}

/// AVX-VNNI's step: `vpdpbusd` (wrapping, never saturating), VEX-encoded. Written as inline
/// assembly because its intrinsic needs Rust 1.89 and the workspace's MSRV was 1.85 when it
/// was written.
#[inline]
#[target_feature(enable = "avx2,avxvnni")]
pub(super) unsafe fn dpbusd_vex(s: __m256i, _x: __m256i, ux: __m256i, w: __m256i) -> __m256i {
    let mut s = s;
    // SAFETY: registers only; the CPU has AVX-VNNI (the caller's contract).
    unsafe {
        std::arch::asm!(
            "{{vex}} vpdpbusd {s}, {a}, {b}",
            s = inout(ymm_reg) s,
            a = in(ymm_reg) ux,
            b = in(ymm_reg) w,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    s
}

/// AVX-512 VNNI's step on 256-bit registers (EVEX-encoded `vpdpbusd`, inline assembly for the
/// same MSRV reason).
#[inline]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
pub(super) unsafe fn dpbusd_evex(s: __m256i, _x: __m256i, ux: __m256i, w: __m256i) -> __m256i {
    let mut s = s;
    // SAFETY: registers only; the CPU has AVX-512 VNNI and VL (the caller's contract).
    unsafe {
        std::arch::asm!(
            "{{evex}} vpdpbusd {s}, {a}, {b}",
            s = inout(ymm_reg) s,
            a = in(ymm_reg) ux,
            b = in(ymm_reg) w,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    s
}

int8_kernel!(avx2_sign, "avx2", abs8, sign_step, 0);
int8_kernel!(avx_vnni, "avx2,avxvnni", offset8, dpbusd_vex, 128);
int8_kernel!(
    avx512_vnni,
    "avx2,avx512vnni,avx512vl",
    offset8,
    dpbusd_evex,
    128
);
