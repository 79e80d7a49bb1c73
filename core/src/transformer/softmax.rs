//! The attention softmax over one head's scores and SwiGLU's SiLU, with an `exp` the compiler
//! can vectorise.
//!
//! libm's `expf` is a call per score: at SmolLM2's shape (9 heads, ~140 keys, 30 layers, 64
//! sequences) that is 2.4 million calls per decode step, a sixth of the step. [`exp`] is the
//! classic range reduction `x = n·ln 2 + r` with a degree-6 polynomial on `|r| ≤ ln 2 / 2`
//! (Cephes' coefficients; within 2 ulp of the true value over the range a softmax uses) in
//! plain arithmetic, so the same code compiles to eight lanes under AVX2 and to scalar code
//! elsewhere, with the same bits: Rust never fuses a multiply and an add on its own.

/// Below this argument `exp` is flushed to `e^CLAMP` (≈ 1.6·10⁻³⁸, still a normal number); a
/// softmax adds it to a sum of at least 1, where it vanishes.
const CLAMP: f32 = -87.0;
/// Above this argument `exp` is held at `e^CLAMP_HIGH` (≈ 1.7·10³⁸, still finite): SiLU
/// divides by `1 + e^−g`, where that is as good as infinity.
const CLAMP_HIGH: f32 = 88.0;
/// `1 / ln 2`.
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in two, so `x − n·ln 2` is exact in its leading part.
const LN2_HI: f32 = 0.693_359_4;
/// The rest of `ln 2` after [`LN2_HI`].
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1.5 · 2²³`: adding and subtracting it rounds an `|x| < 2²²` to the nearest integer (ties to
/// even) without a rounding instruction, so the loop stays vectorisable.
const ROUND: f32 = 12_582_912.0;

/// `e^x`, with the argument held in `[−87, 88]`; NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = if x < CLAMP { CLAMP } else { x };
    let x = if x > CLAMP_HIGH { CLAMP_HIGH } else { x };
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = ((((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * (r * r))
        + r
        + 1.0;
    // 2ⁿ from its exponent bits, n ∈ [−126, 127] read off the low mantissa bits of `shifted`
    // (integer steps only, no saturating float-to-int cast, so the loop vectorises; a NaN
    // argument gives an arbitrary scale of a NaN).
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    p * scale
}

/// SiLU, `x / (1 + e^−x)`, with [`exp`].
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// Replace `scores` by `softmax(scores)`: `e^(s − max)` over their sum, the sum taken in eight
/// lanes (lane `l` adds elements `l, l + 8, …`, the lanes then pairwise), as [`super::reference::dot8`] does.
#[inline(always)]
pub fn softmax_in_place(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut lanes = [0.0f32; 8];
    let mut chunks = scores.chunks_exact_mut(8);
    for c in &mut chunks {
        for l in 0..8 {
            c[l] = exp(c[l] - max);
            lanes[l] += c[l];
        }
    }
    let tail = chunks.into_remainder();
    let mut rest = 0.0f32;
    for s in tail.iter_mut() {
        *s = exp(*s - max);
        rest += *s;
    }
    for w in [4, 2, 1] {
        for l in 0..w {
            lanes[l] += lanes[l + w];
        }
    }
    let inv = 1.0 / (lanes[0] + rest);
    for s in scores.iter_mut() {
        *s *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_f64_over_the_softmax_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            let ulp = f64::from(f32::from_bits((want as f32).to_bits() + 1) - want as f32);
            worst = worst.max((got - want).abs() / ulp);
            x += 0.000_731;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(f32::NAN).is_nan());
        assert!((exp(5.0) - 5.0f32.exp()).abs() <= 2.0 * f32::EPSILON * 5.0f32.exp());
        assert!(exp(88.0).is_finite() && exp(1000.0) == exp(88.0));
        for x in [-200.0f32, -20.0, -1.5, 0.0, 0.3, 7.0, 90.0] {
            let want = x as f64 / (1.0 + (-x as f64).exp());
            assert!(
                (silu(x) as f64 - want).abs() <= 1e-6 * want.abs() + 1e-30,
                "{x}"
            );
        }
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut s: Vec<f32> = (0..21).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
        let before = s.clone();
        softmax_in_place(&mut s);
        let total: f32 = s.iter().sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
        let m = before.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = before.iter().map(|&b| ((b - m) as f64).exp()).sum();
        for (p, b) in s.iter().zip(&before) {
            let want = ((b - m) as f64).exp() / z;
            assert!((*p as f64 - want).abs() < 1e-6, "{p} vs {want}");
        }
        let mut one = [3.5f32];
        softmax_in_place(&mut one);
        assert_eq!(one, [1.0]);
    }
}
