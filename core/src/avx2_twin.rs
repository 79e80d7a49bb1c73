//! [`avx2_twin!`](crate::avx2_twin): a function whose body is compiled twice, for the x86-64
//! baseline and with AVX2 enabled, the AVX2 copy chosen at run time. Meant for integer
//! elementwise loops (the same bits either way) that the baseline's SSE2 vectorises poorly:
//! no 32-bit `min`/`max`/`mullo`, 4 lanes instead of 8.

/// Define `pub fn NAME(args)` (no return value) whose body runs AVX2-compiled where the CPU
/// has AVX2, and baseline-compiled elsewhere.
#[macro_export]
macro_rules! avx2_twin {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$doc])*
        #[inline]
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
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
    crate::avx2_twin! {
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
