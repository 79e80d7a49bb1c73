//! Vectorisable activations for the CPU backend.
//!
//! `tanh` from libm is scalar and costs ~3 ns; here it is `sign(x)·(1 − e)/(1 + e)` with
//! `e = exp(−2|x|)` from a range-reduced degree-7 Taylor polynomial (relative error ~1e-7),
//! and the odd Taylor series below |x| < 1/16 where `1 − e` would cancel. No fused
//! multiply-adds are used, so every SIMD width gives the same bits as the scalar code.

use crate::backend::Activation;

/// `exp(y)` for `y` in [−87, 0].
#[inline(always)]
fn exp_neg(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 rounded so that k·LN2_HI is exact for |k| < 2^8
    const LN2_LO: f32 = 1.428_606_8e-6;
    let y = if y < -87.0 { -87.0 } else { y }; // keeps NaN, unlike max
    let k = (y * LOG2E - 0.5).ceil(); // round half up, y ≤ 0
    let r = (y - k * LN2_HI) - k * LN2_LO; // |r| ≤ ln2/2
    let mut p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // 2^k from the bits of k + 1.5·2^23 (exact for integral k in [-126, 0]); avoids a
    // float-to-int conversion, which does not vectorise well.
    let k_bits = (k + 12_582_912.0).to_bits().wrapping_sub(0x4b40_0000);
    let scale = f32::from_bits(k_bits.wrapping_add(127) << 23);
    p * scale
}

/// Fast `tanh` (see the module doc).
#[inline(always)]
pub fn tanh_fast(x: f32) -> f32 {
    let a = x.abs();
    let e = exp_neg(-2.0 * a);
    let big = (1.0 - e) / (1.0 + e);
    let a2 = a * a;
    let small = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0))));
    let t = if a < 0.0625 { small } else { big };
    t.copysign(x)
}

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
