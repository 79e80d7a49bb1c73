//! The x86 int8 GEMMs over weights packed by [`super::packed8::PackedI8`]: each step broadcasts
//! four bytes of an input row and adds their products with one block of outputs' four weights
//! (16 outputs in a 512-bit register, 8 in a 256-bit one) to those outputs' i32 sums, so a tile
//! of rows × outputs stays in registers and no sum is ever folded across lanes. One loop,
//! instantiated for three multiply-accumulate steps ([`Step`]): `vpdpbusd` on 512 or 256 bits
//! (on `x + 128` as unsigned bytes, `128·Σ_k w` subtracted at the end: wrapping i32, exact
//! whenever the true sum fits in i32), and AVX2 `vpmaddubsw` + `vpmaddwd` with the sign trick
//! (`|x|·sign(w, x)`, pair sums ≤ 2·128·127, no offset). Why none saturates is stated at
//! [`super::gemm8::I8Kernel`].

use std::arch::x86_64::*;

/// One kernel's register type and multiply-accumulate step.
///
/// # Safety
/// Every method needs the implementation's CPU features and is meant to be inlined into a
/// function compiled for them.
pub(super) trait Step {
    /// A register of i32 sums of `OUTS` outputs.
    type V: Copy;
    /// Outputs per block of the packed layout.
    const OUTS: usize;
    /// Rows per register tile.
    const ROWS: usize;
    /// Whether the input bytes are stored as `x + 128` (else as `x`).
    const OFFSET: bool;

    unsafe fn zero() -> Self::V;
    /// One packed block (`4·OUTS` bytes).
    unsafe fn load(p: *const i8) -> Self::V;
    /// Four input bytes broadcast, in the form [`Step::step`] takes (and their magnitudes for
    /// the sign trick).
    unsafe fn broadcast(four: i32) -> [Self::V; 2];
    /// `s += Σ_{b<4} x[b]·w[4l+b]` per lane `l`.
    unsafe fn step(s: Self::V, x: [Self::V; 2], w: Self::V) -> Self::V;
    /// `s − fix` into `dst[..n]` (`n ≤ OUTS`; `fix` holds `OUTS` values).
    unsafe fn store(s: Self::V, fix: *const i32, dst: *mut i32, n: usize);
}

/// AVX-512 VNNI on 512-bit registers.
pub(super) struct Zmm;
/// AVX-VNNI (VEX `vpdpbusd`) on 256-bit registers.
pub(super) struct YmmVnni;
/// AVX-512 VNNI (EVEX `vpdpbusd`) on 256-bit registers.
pub(super) struct YmmVnniEvex;
/// AVX2 `vpmaddubsw` + `vpmaddwd` with the sign trick.
pub(super) struct YmmSign;

impl Step for Zmm {
    type V = __m512i;
    const OUTS: usize = 16;
    const ROWS: usize = 8;
    const OFFSET: bool = true;

    #[inline(always)]
    unsafe fn zero() -> __m512i {
        unsafe { _mm512_setzero_si512() }
    }
    #[inline(always)]
    unsafe fn load(p: *const i8) -> __m512i {
        unsafe { _mm512_loadu_si512(p as *const __m512i) }
    }
    #[inline(always)]
    unsafe fn broadcast(four: i32) -> [__m512i; 2] {
        let x = unsafe { _mm512_set1_epi32(four) };
        [x, x]
    }
    #[inline(always)]
    unsafe fn step(s: __m512i, x: [__m512i; 2], w: __m512i) -> __m512i {
        // SAFETY: the caller's contract (AVX-512 VNNI).
        unsafe { dpbusd_zmm(s, x[0], w) }
    }
    #[inline(always)]
    unsafe fn store(s: __m512i, fix: *const i32, dst: *mut i32, n: usize) {
        let mask: __mmask16 = if n >= 16 { 0xffff } else { (1u16 << n) - 1 };
        unsafe {
            let v = _mm512_sub_epi32(s, _mm512_loadu_si512(fix as *const __m512i));
            _mm512_mask_storeu_epi32(dst, mask, v);
        }
    }
}

/// The 256-bit register steps share everything but the multiply-accumulate.
macro_rules! ymm_step {
    ($name:ident, $rows:literal, $offset:literal, |$s:ident, $x:ident, $w:ident| $body:block) => {
        impl Step for $name {
            type V = __m256i;
            const OUTS: usize = 8;
            const ROWS: usize = $rows;
            const OFFSET: bool = $offset;

            #[inline(always)]
            unsafe fn zero() -> __m256i {
                unsafe { _mm256_setzero_si256() }
            }
            #[inline(always)]
            unsafe fn load(p: *const i8) -> __m256i {
                unsafe { _mm256_loadu_si256(p as *const __m256i) }
            }
            #[inline(always)]
            unsafe fn broadcast(four: i32) -> [__m256i; 2] {
                unsafe {
                    let x = _mm256_set1_epi32(four);
                    [x, if $offset { x } else { _mm256_abs_epi8(x) }]
                }
            }
            #[inline(always)]
            unsafe fn step($s: __m256i, $x: [__m256i; 2], $w: __m256i) -> __m256i {
                $body
            }
            #[inline(always)]
            unsafe fn store(s: __m256i, fix: *const i32, dst: *mut i32, n: usize) {
                unsafe {
                    let v = _mm256_sub_epi32(s, _mm256_loadu_si256(fix as *const __m256i));
                    if n >= 8 {
                        _mm256_storeu_si256(dst as *mut __m256i, v);
                    } else {
                        let mut t = [0i32; 8];
                        _mm256_storeu_si256(t.as_mut_ptr() as *mut __m256i, v);
                        std::ptr::copy_nonoverlapping(t.as_ptr(), dst, n);
                    }
                }
            }
        }
    };
}

/// `vpdpbusd` on 512-bit registers (inline assembly: its intrinsic needs a newer Rust than the
/// workspace's MSRV had when these kernels were written).
#[inline]
#[target_feature(enable = "avx512f,avx512vnni")]
fn dpbusd_zmm(s: __m512i, a: __m512i, w: __m512i) -> __m512i {
    let mut s = s;
    // SAFETY: registers only; the features are enabled here.
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

ymm_step!(YmmVnni, 4, true, |s, x, w| {
    // SAFETY: the caller's contract (AVX-VNNI).
    unsafe { super::gemm8_x86::dpbusd_vex(s, x[0], x[0], w) }
});

ymm_step!(YmmVnniEvex, 4, true, |s, x, w| {
    // SAFETY: the caller's contract (AVX-512 VNNI and VL).
    unsafe { super::gemm8_x86::dpbusd_evex(s, x[0], x[0], w) }
});

ymm_step!(YmmSign, 2, false, |s, x, w| {
    // |x|·sign(w, x): pair sums at most 2·128·127, widened to i32 by `vpmaddwd` with ones.
    unsafe {
        let pairs = _mm256_maddubs_epi16(x[1], _mm256_sign_epi8(w, x[0]));
        _mm256_add_epi32(s, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }
});

/// `R` rows (of stride `stride` bytes in `xu`) against `J` blocks starting at block `g0`,
/// storing the outputs that exist.
///
/// # Safety
/// `S`'s features; `xu` holds `R` rows of `4·quads` bytes at `stride`, `w` the packed blocks,
/// `offsets` one i32 per packed output, `acc` `R` rows of `outs`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<S: Step, const R: usize, const J: usize>(
    xu: *const u8,
    stride: usize,
    w: *const i8,
    quads: usize,
    g0: usize,
    offsets: *const i32,
    acc: *mut i32,
    outs: usize,
) {
    // SAFETY (whole body): the caller's contract covers every pointer below.
    unsafe {
        let mut s = [[S::zero(); J]; R];
        let block = 4 * S::OUTS;
        for q in 0..quads {
            let wv: [S::V; J] =
                std::array::from_fn(|j| S::load(w.add(((g0 + j) * quads + q) * block)));
            for (r, sr) in s.iter_mut().enumerate() {
                let four = (xu.add(r * stride + 4 * q) as *const i32).read_unaligned();
                let xb = S::broadcast(four);
                for (acc_j, &wj) in sr.iter_mut().zip(&wv) {
                    *acc_j = S::step(*acc_j, xb, wj);
                }
            }
        }
        for j in 0..J {
            let o = (g0 + j) * S::OUTS;
            if o >= outs {
                break;
            }
            for (r, sr) in s.iter().enumerate() {
                S::store(sr[j], offsets.add(o), acc.add(r * outs + o), outs - o);
            }
        }
    }
}

/// The whole GEMM: `J` blocks of outputs at a time outside (their weights stay in L1), tiles
/// of rows inside.
///
/// # Safety
/// `S`'s features; `x` holds `rows·k` values, `w` and `offsets` the packed layout of
/// `outs × k` weights for `S`, `acc` `rows·outs` values.
#[inline(always)]
unsafe fn gemm<S: Step, const J: usize>(
    x: &[i8],
    rows: usize,
    w: &[i8],
    offsets: &[i32],
    outs: usize,
    k: usize,
    acc: &mut [i32],
) {
    let (groups, quads) = (outs.div_ceil(S::OUTS), k.div_ceil(4));
    let stride = 4 * quads;
    // The input as the step takes it, each row padded with zeros to whole quads (the padded
    // weights are zero there).
    let flip = if S::OFFSET { 0x80 } else { 0 };
    let mut xu = vec![0u8; rows * stride];
    for (dst, src) in xu.chunks_exact_mut(stride).zip(x.chunks_exact(k.max(1))) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (s as u8) ^ flip;
        }
    }
    let (xp, wp, fp, ap) = (xu.as_ptr(), w.as_ptr(), offsets.as_ptr(), acc.as_mut_ptr());
    let mut g = 0;
    while g < groups {
        // J blocks at a time, then the last ones one by one.
        let blocks = if groups - g >= J { J } else { 1 };
        let mut r = 0;
        while r < rows {
            let left = rows - r;
            let tall = if left >= S::ROWS {
                S::ROWS
            } else {
                1 << left.ilog2()
            };
            // SAFETY: rows r..r + tall and blocks g..g + blocks exist (the caller's shapes).
            unsafe {
                let (x, a) = (xp.add(r * stride), ap.add(r * outs));
                macro_rules! run {
                    ($rows:literal, $j:tt) => {
                        tile::<S, $rows, $j>(x, stride, wp, quads, g, fp, a, outs)
                    };
                }
                match (tall, blocks == J) {
                    (8, true) => run!(8, J),
                    (8, false) => run!(8, 1),
                    (4, true) => run!(4, J),
                    (4, false) => run!(4, 1),
                    (2, true) => run!(2, J),
                    (2, false) => run!(2, 1),
                    (_, true) => run!(1, J),
                    (_, false) => run!(1, 1),
                }
            }
            r += tall;
        }
        g += blocks;
    }
}

/// One public entry point of [`gemm`]: compiled for `$features`, with step `$step` and `$j`
/// blocks of outputs per tile.
macro_rules! entry {
    ($(#[$doc:meta])* $name:ident, $features:literal, $step:ty, $j:literal) => {
        $(#[$doc])*
        ///
        /// # Safety
        #[doc = concat!("The CPU must have ", $features, "; the shapes of [`gemm`].")]
        #[target_feature(enable = $features)]
        pub unsafe fn $name(
            x: &[i8],
            rows: usize,
            w: &[i8],
            offsets: &[i32],
            outs: usize,
            k: usize,
            acc: &mut [i32],
        ) {
            // SAFETY: compiled for and called with the features; shapes as promised.
            unsafe { gemm::<$step, $j>(x, rows, w, offsets, outs, k, acc) }
        }
    };
}

entry!(
    /// [`gemm`] for AVX-512 VNNI on 512-bit registers (8 rows × 2 blocks of 16 outputs).
    zmm, "avx512f,avx512vnni", Zmm, 2
);
entry!(
    /// [`gemm`] for AVX-VNNI on 256-bit registers (4 rows × 2 blocks of 8 outputs: a third
    /// block spills AVX2's sixteen registers and was 1.5× slower at 6 × 256).
    ymm_vnni, "avx2,avxvnni", YmmVnni, 2
);
entry!(
    /// [`gemm`] for AVX-512 VNNI on 256-bit registers (4 rows × 3 blocks of 8 outputs: with
    /// AVX-512 VL the tile has thirty-two registers).
    ymm_vnni_evex, "avx2,avx512vnni,avx512vl", YmmVnniEvex, 3
);
entry!(
    /// [`gemm`] for AVX2 with the sign trick (2 rows × 3 blocks of 8 outputs, the fastest of
    /// the tiles tried at 6 × 256; the weights must be free of −128).
    ymm_sign, "avx2", YmmSign, 3
);
