//! The few vector operations the sin/cos kernel needs, for AVX2 (four lanes) and AVX-512
//! (eight), so that [`super::kernel`] is written once.

use std::arch::x86_64::*;

/// A vector of f64 lanes and its comparison mask.
///
/// # Safety
/// Every method needs the CPU features of its implementation (AVX2 and FMA, or AVX-512F), and
/// is meant to be inlined into a function compiled for them.
pub(super) trait Lanes: Copy {
    /// Lanes per vector.
    const WIDTH: usize;
    /// The result of a comparison.
    type Mask: Copy;

    unsafe fn splat(v: f64) -> Self;
    unsafe fn load(p: *const f64) -> Self;
    unsafe fn store(self, p: *mut f64);
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    /// `self · b + c`, rounded once.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// `c − self · b`, rounded once.
    unsafe fn neg_mul_add(self, b: Self, c: Self) -> Self;
    /// `|self|`.
    unsafe fn abs(self) -> Self;
    /// `self` with the sign bit of `sign`, where `self` has none.
    unsafe fn or_sign_of(self, sign: Self) -> Self;
    /// `self < b` (false for NaN).
    unsafe fn lt(self, b: Self) -> Self::Mask;
    /// Lanes with the same bits.
    unsafe fn same_bits(self, b: Self) -> Self::Mask;
    unsafe fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    unsafe fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Whether every lane of the mask is set.
    unsafe fn all(m: Self::Mask) -> bool;
    /// `on` where the mask is set, `self` elsewhere.
    unsafe fn select(self, on: Self, m: Self::Mask) -> Self;
    /// `base[i]` for each lane, where `i` is the low 32-bit word of the lane's bits.
    unsafe fn gather_low_word(base: *const f64, index: Self) -> Self;
}

/// Four lanes (AVX2 and FMA).
impl Lanes for __m256d {
    const WIDTH: usize = 4;
    type Mask = __m256d;

    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        unsafe { _mm256_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        unsafe { _mm256_storeu_pd(p, self) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        unsafe { _mm256_add_pd(self, b) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        unsafe { _mm256_sub_pd(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        unsafe { _mm256_mul_pd(self, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        unsafe { _mm256_fmadd_pd(self, b, c) }
    }
    #[inline(always)]
    unsafe fn neg_mul_add(self, b: Self, c: Self) -> Self {
        unsafe { _mm256_fnmadd_pd(self, b, c) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        unsafe { _mm256_andnot_pd(_mm256_set1_pd(-0.0), self) }
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, sign: Self) -> Self {
        unsafe { _mm256_or_pd(self, _mm256_and_pd(_mm256_set1_pd(-0.0), sign)) }
    }
    #[inline(always)]
    unsafe fn lt(self, b: Self) -> Self::Mask {
        unsafe { _mm256_cmp_pd::<_CMP_LT_OQ>(self, b) }
    }
    #[inline(always)]
    unsafe fn same_bits(self, b: Self) -> Self::Mask {
        unsafe {
            _mm256_castsi256_pd(_mm256_cmpeq_epi64(
                _mm256_castpd_si256(self),
                _mm256_castpd_si256(b),
            ))
        }
    }
    #[inline(always)]
    unsafe fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        unsafe { _mm256_and_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        unsafe { _mm256_or_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn all(m: Self::Mask) -> bool {
        unsafe { _mm256_movemask_pd(m) == 0b1111 }
    }
    #[inline(always)]
    unsafe fn select(self, on: Self, m: Self::Mask) -> Self {
        unsafe { _mm256_blendv_pd(self, on, m) }
    }
    #[inline(always)]
    unsafe fn gather_low_word(base: *const f64, index: Self) -> Self {
        unsafe {
            let i = _mm256_and_si256(_mm256_castpd_si256(index), _mm256_set1_epi64x(0xffff_ffff));
            _mm256_i64gather_pd::<8>(base, i)
        }
    }
}

/// Eight lanes (AVX-512F).
impl Lanes for __m512d {
    const WIDTH: usize = 8;
    type Mask = __mmask8;

    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        unsafe { _mm512_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        unsafe { _mm512_storeu_pd(p, self) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        unsafe { _mm512_add_pd(self, b) }
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        unsafe { _mm512_sub_pd(self, b) }
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        unsafe { _mm512_mul_pd(self, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        unsafe { _mm512_fmadd_pd(self, b, c) }
    }
    #[inline(always)]
    unsafe fn neg_mul_add(self, b: Self, c: Self) -> Self {
        unsafe { _mm512_fnmadd_pd(self, b, c) }
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        unsafe { _mm512_abs_pd(self) }
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, sign: Self) -> Self {
        unsafe {
            let bits = _mm512_set1_epi64(i64::MIN);
            let s = _mm512_and_si512(_mm512_castpd_si512(sign), bits);
            _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(self), s))
        }
    }
    #[inline(always)]
    unsafe fn lt(self, b: Self) -> Self::Mask {
        unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self, b) }
    }
    #[inline(always)]
    unsafe fn same_bits(self, b: Self) -> Self::Mask {
        unsafe { _mm512_cmpeq_epi64_mask(_mm512_castpd_si512(self), _mm512_castpd_si512(b)) }
    }
    #[inline(always)]
    unsafe fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        a & b
    }
    #[inline(always)]
    unsafe fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask {
        a | b
    }
    #[inline(always)]
    unsafe fn all(m: Self::Mask) -> bool {
        m == 0xff
    }
    #[inline(always)]
    unsafe fn select(self, on: Self, m: Self::Mask) -> Self {
        unsafe { _mm512_mask_blend_pd(m, self, on) }
    }
    #[inline(always)]
    unsafe fn gather_low_word(base: *const f64, index: Self) -> Self {
        unsafe {
            let i = _mm512_and_si512(_mm512_castpd_si512(index), _mm512_set1_epi64(0xffff_ffff));
            _mm512_i64gather_pd::<8>(i, base)
        }
    }
}
