//! Running a hot loop through a copy compiled for the CPU's vector units.

/// Runs `body` through a copy compiled for AVX2 + FMA where the CPU has them, else as
/// compiled (SSE2). The same operations run in the same order either way (Rust never fuses
/// a multiply and an add by itself), so the results are the same bits; only the width of the
/// vector instructions changes.
#[inline(always)]
pub fn with_avx2<T>(body: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<T>(body: impl FnOnce() -> T) -> T {
            body()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features the copy is compiled for.
            return unsafe { avx2(body) };
        }
    }
    body()
}
