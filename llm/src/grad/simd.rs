//! Running a hot loop through a copy compiled for the CPU's vector units, and dot products
//! of one vector with four at once (independent sums, so they pipeline).

/// Defines `fn NAME(args) -> T` whose body runs in a copy compiled for AVX-512F (with AVX2 and
/// FMA) where the CPU has it, else in one for AVX2 + FMA, else as compiled (SSE2). The body is
/// an `#[inline(always)]` function called from a `#[target_feature]` one, so it is compiled
/// inside it (a closure passed in would be compiled on its own, without the features). The
/// same operations run in the same order either way (Rust never fuses a multiply and an add by
/// itself, and never reorders a sum), so the results are the same bits; only the width of the
/// vector instructions changes (16 lanes made the attention backward's element-wise updates
/// take half the instructions).
macro_rules! with_avx2 {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn body($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features the copy is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features the copy is compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use with_avx2;

/// `[dot8(a, b[0]), …, dot8(a, b[3])]` with [`eggroll_core::transformer::reference::dot8`]'s
/// order (so the same bits), the four sums interleaved in AVX2 registers where the CPU has
/// them, so the adds of one do not wait on the last add of another.
#[inline(always)]
pub fn dots(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    eggroll_core::transformer::reference::dot8x4_any(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eggroll_core::transformer::reference::dot8;

    #[test]
    fn interleaved_dots_are_dot8_bit_for_bit() {
        let v = |n: usize, s: f32| -> Vec<f32> { (0..n).map(|i| ((i as f32) * s).sin()).collect() };
        for n in [0, 5, 8, 64, 77] {
            let a = v(n, 0.37);
            let bs = [v(n, 1.1), v(n, 0.2), v(n, 2.9), v(n, 0.05)];
            let got = dots(&a, [&bs[0], &bs[1], &bs[2], &bs[3]]);
            for (g, b) in got.iter().zip(&bs) {
                assert_eq!(g.to_bits(), dot8(&a, b).to_bits(), "n {n}");
            }
        }
    }
}
