//! Vectorisable activations for the CPU backend (the scalar `tanh_fast` lives in
//! [`crate::activation`], shared with [`Activation::apply`]).

use crate::activation::tanh_fast;
use crate::backend::Activation;

#[inline(always)]
fn apply_slice(xs: &mut [f32], act: Activation) {
    match act {
        Activation::Identity => {}
        Activation::Relu => xs.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Tanh => xs.iter_mut().for_each(|v| *v = tanh_fast(*v)),
    }
}

/// Apply `act` to every element in place, with the widest SIMD the CPU has.
pub fn activate_in_place(xs: &mut [f32], act: Activation) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is present, checked just above.
            unsafe { apply_avx512(xs, act) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present, checked just above.
            unsafe { apply_avx2(xs, act) };
            return;
        }
    }
    apply_slice(xs, act);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn apply_avx2(xs: &mut [f32], act: Activation) {
    apply_slice(xs, act);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn apply_avx512(xs: &mut [f32], act: Activation) {
    apply_slice(xs, act);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_matches_libm() {
        let mut worst = 0.0f64;
        let mut x = -20.0f32;
        while x < 20.0 {
            let want = (x as f64).tanh();
            let got = tanh_fast(x) as f64;
            worst = worst.max((got - want).abs() / want.abs().max(1e-30));
            x += 0.000_731;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(tanh_fast(0.0), 0.0);
        assert_eq!(tanh_fast(100.0), 1.0);
        assert_eq!(tanh_fast(-100.0), -1.0);
        assert!(tanh_fast(f32::NAN).is_nan());
    }

    #[test]
    fn simd_and_scalar_agree_bitwise() {
        let mut xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.0131).collect();
        let scalar: Vec<f32> = xs.iter().map(|&v| tanh_fast(v)).collect();
        activate_in_place(&mut xs, Activation::Tanh);
        for (a, b) in xs.iter().zip(&scalar) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}
