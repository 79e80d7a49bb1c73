//! The fast scalar `tanh` shared by [`Activation::apply`](crate::backend::Activation::apply)
//! and the CPU backend's vectorised activations (a neutral module: `backend` needs no `cpu`).
//!
//! `tanh` from libm is scalar and costs ~3 ns; here it is `sign(x)·(1 − e)/(1 + e)` with
//! `e = exp(−2|x|)` from a range-reduced degree-7 Taylor polynomial (relative error ~1e-7),
//! and the odd Taylor series below |x| < 1/16 where `1 − e` would cancel. No fused
//! multiply-adds are used, so every SIMD width gives the same bits as the scalar code.

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
