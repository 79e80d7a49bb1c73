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
///
/// Three passes, so each vectorises at any width: the maximum (16 lanes; the maximum of a set
/// does not depend on the order it is taken in), the exponentials (element by element), then
/// the sum in its fixed eight-lane order.
#[inline(always)]
pub fn softmax_in_place(scores: &mut [f32]) {
    let max = max_of(scores);
    for s in scores.iter_mut() {
        *s = exp(*s - max);
    }
    let mut lanes = [0.0f32; 8];
    let mut chunks = scores.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            lanes[l] += c[l];
        }
    }
    let mut rest = 0.0f32;
    for s in chunks.remainder() {
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

/// The largest of `v` (NaNs ignored, as `f32::max` does; −∞ when empty), sixteen lanes wide.
#[inline(always)]
fn max_of(v: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for l in 0..16 {
            lanes[l] = lanes[l].max(c[l]);
        }
    }
    chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
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
    fn three_passes_give_the_bits_of_one_plain_loop() {
        // The plain loop the passes replace: a running maximum, then each exponential added
        // to its lane as it is made.
        let plain = |v: &mut [f32]| {
            let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut lanes = [0.0f32; 8];
            let n = v.len() - v.len() % 8;
            for (i, s) in v[..n].iter_mut().enumerate() {
                *s = exp(*s - max);
                lanes[i % 8] += *s;
            }
            let mut rest = 0.0f32;
            for s in v[n..].iter_mut() {
                *s = exp(*s - max);
                rest += *s;
            }
            for w in [4, 2, 1] {
                for l in 0..w {
                    lanes[l] += lanes[l + w];
                }
            }
            let inv = 1.0 / (lanes[0] + rest);
            v.iter_mut().for_each(|s| *s *= inv);
        };
        for n in [1usize, 7, 8, 15, 16, 17, 33, 144] {
            for salt in 0..3u32 {
                let mut a: Vec<f32> = (0..n)
                    .map(|i| ((i as u32 * 7 + salt * 13) as f32 * 0.61).sin() * 9.0)
                    .collect();
                if salt == 1 {
                    a[n / 2] = f32::NAN;
                }
                if salt == 2 {
                    a.iter_mut().step_by(2).for_each(|v| *v = -0.0);
                }
                let mut b = a.clone();
                softmax_in_place(&mut a);
                plain(&mut b);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "n {n} salt {salt}");
            }
        }
        assert_eq!(max_of(&[]), f32::NEG_INFINITY);
        assert_eq!(max_of(&[f32::NAN, -3.0]), -3.0);
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
