//! [`vector_variants!`](crate::vector_variants): a function whose body is compiled three
//! times, for the x86-64 baseline, with AVX2 and with AVX-512 (BW/VL/DQ/CD), the widest the CPU
//! has chosen at run time. Meant for integer elementwise loops (the same bits either way) that
//! the baseline's SSE2 vectorises poorly: no 32-bit `min`/`max`/`mullo`, 4 lanes instead of 8
//! or 16. (Measured on the integer LM's row steps and rank-1 corrections: one N = 4096
//! generation at 6 × 256 took 2.98 s with the AVX-512 copy, 3.2–3.3 s with AVX2 alone.)

/// Define `[pub] fn NAME(args)` (no return value) whose body runs AVX-512- or AVX2-compiled
/// where the CPU has those, and baseline-compiled elsewhere.
#[macro_export]
macro_rules! vector_variants {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        #[inline]
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd")]
                unsafe fn avx512($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512cd")
                {
                    // SAFETY: the features were just detected.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 is present (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    crate::vector_variants! {
        /// Saturating add of two rows, for the test.
        pub fn add_sat(a: &mut [i16], b: &[i16]) {
            for (x, &y) in a.iter_mut().zip(b) {
                *x = (*x as i32 + y as i32).clamp(-127, 127) as i16;
            }
        }
    }

    #[test]
    fn twin_computes_its_body() {
        let mut a: Vec<i16> = (-100..100).collect();
        let b: Vec<i16> = (0..200).map(|i| (i * 7 % 255) as i16 - 127).collect();
        let want: Vec<i16> = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (x as i32 + y as i32).clamp(-127, 127) as i16)
            .collect();
        add_sat(&mut a, &b);
        assert_eq!(a, want);
    }
}
