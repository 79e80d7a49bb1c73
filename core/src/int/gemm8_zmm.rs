//! The AVX-512 VNNI int8 GEMM on 512-bit registers over weights packed by
//! [`super::packed8::PackedI8`]: each step broadcasts four bytes of an input row (as
//! `x + 128`, unsigned) and adds their products with sixteen outputs' four weights to those
//! outputs' i32 sums with one `vpdpbusd`; 8 rows × 32 outputs are in registers at once and no
//! sum is ever folded across lanes. `128·Σ_k w` per output is subtracted at the end (wrapping
//! i32, exact whenever the true sum fits in i32, as for the other kernels).

use std::arch::x86_64::*;

use super::packed8::BLOCK_OUTS;

/// Rows per register tile.
const TILE_ROWS: usize = 8;

/// `s += Σ_{b<4} a[4l+b]·w[4l+b]` per i32 lane `l` (`a` unsigned, `w` signed): `vpdpbusd`,
/// as inline assembly because its intrinsic needs a newer Rust than the workspace's MSRV.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
fn dpbusd(s: __m512i, a: __m512i, w: __m512i) -> __m512i {
    let mut s = s;
    // SAFETY: registers only; the CPU has AVX-512 VNNI (the caller's contract).
    unsafe {
        std::arch::asm!(
            "vpdpbusd {s}, {a}, {w}",
            s = inout(zmm_reg) s,
            a = in(zmm_reg) a,
            w = in(zmm_reg) w,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    s
}

/// `R` rows (of stride `stride` bytes in `xu`, as `x + 128`) against `J` blocks of 16 outputs
/// starting at block `g0`, storing the outputs that exist.
///
/// # Safety
/// AVX-512F and VNNI; `xu` holds `R` rows of `4·quads` bytes at `stride`, `w` the packed
/// blocks, `offsets` one i32 per packed output, `acc` `R` rows of `outs`.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize, const J: usize>(
    xu: *const u8,
    stride: usize,
    w: *const i8,
    quads: usize,
    g0: usize,
    offsets: *const i32,
    acc: *mut i32,
    outs: usize,
) {
    let mut s = [[_mm512_setzero_si512(); J]; R];
    for q in 0..quads {
        // SAFETY: block (g0 + j, q) lies inside the packed weights.
        let wv: [__m512i; J] = std::array::from_fn(|j| unsafe {
            _mm512_loadu_si512(w.add(((g0 + j) * quads + q) * 64) as *const __m512i)
        });
        for (r, sr) in s.iter_mut().enumerate() {
            // SAFETY: bytes 4q..4q + 4 of row r lie inside the row.
            let four = unsafe { (xu.add(r * stride + 4 * q) as *const i32).read_unaligned() };
            let xb = _mm512_set1_epi32(four);
            for (acc_j, &wj) in sr.iter_mut().zip(&wv) {
                *acc_j = dpbusd(*acc_j, xb, wj);
            }
        }
    }
    for j in 0..J {
        let o = (g0 + j) * BLOCK_OUTS;
        if o >= outs {
            break;
        }
        let mask: __mmask16 = if outs - o >= BLOCK_OUTS {
            0xffff
        } else {
            (1u16 << (outs - o)) - 1
        };
        // SAFETY: `offsets` is padded to whole blocks; the masked stores write only the
        // outputs o..min(o + 16, outs) of each of the R rows.
        unsafe {
            let fix = _mm512_loadu_si512(offsets.add(o) as *const __m512i);
            for (r, sr) in s.iter().enumerate() {
                let v = _mm512_sub_epi32(sr[j], fix);
                _mm512_mask_storeu_epi32(acc.add(r * outs + o), mask, v);
            }
        }
    }
}

/// All rows against blocks `g0..g0 + J`, in tiles of 8 rows (then 4, 2, 1).
///
/// # Safety
/// As [`tile`], for `rows` rows.
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn blocks<const J: usize>(
    xu: &[u8],
    rows: usize,
    stride: usize,
    w: &[i8],
    quads: usize,
    g0: usize,
    offsets: &[i32],
    acc: &mut [i32],
    outs: usize,
) {
    let mut r = 0;
    while r < rows {
        let left = rows - r;
        // SAFETY: rows r.. lie inside `xu` and `acc` (the caller's shapes).
        unsafe {
            let (x, a) = (xu.as_ptr().add(r * stride), acc.as_mut_ptr().add(r * outs));
            let (w, f) = (w.as_ptr(), offsets.as_ptr());
            r += if left >= TILE_ROWS {
                tile::<TILE_ROWS, J>(x, stride, w, quads, g0, f, a, outs);
                TILE_ROWS
            } else if left >= 4 {
                tile::<4, J>(x, stride, w, quads, g0, f, a, outs);
                4
            } else if left >= 2 {
                tile::<2, J>(x, stride, w, quads, g0, f, a, outs);
                2
            } else {
                tile::<1, J>(x, stride, w, quads, g0, f, a, outs);
                1
            };
        }
    }
}

/// The whole GEMM: pairs of 16-output blocks outside (their weights stay in L1), tiles of
/// rows inside.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512 VNNI; `x` must hold `rows·k` values, `w` and
/// `offsets` the packed layout of `outs × k` weights, `acc` `rows·outs` values.
#[target_feature(enable = "avx512f,avx512vnni")]
pub unsafe fn gemm(
    x: &[i8],
    rows: usize,
    w: &[i8],
    offsets: &[i32],
    outs: usize,
    k: usize,
    acc: &mut [i32],
) {
    let (groups, quads) = (outs.div_ceil(BLOCK_OUTS), k.div_ceil(4));
    let stride = 4 * quads;
    // `x + 128` as unsigned bytes, each row padded with zeros to whole quads (the padded
    // weights are zero there).
    let mut xu = vec![0u8; rows * stride];
    for (dst, src) in xu.chunks_exact_mut(stride).zip(x.chunks_exact(k.max(1))) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (s as u8) ^ 0x80;
        }
    }
    let mut g = 0;
    while g < groups {
        // SAFETY: the caller's shapes; blocks g (and g + 1) exist.
        unsafe {
            if groups - g >= 2 {
                blocks::<2>(&xu, rows, stride, w, quads, g, offsets, acc, outs);
                g += 2;
            } else {
                blocks::<1>(&xu, rows, stride, w, quads, g, offsets, acc, outs);
                g += 1;
            }
        }
    }
}
