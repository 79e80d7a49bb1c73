//! glibc's `__sin_fma`/`__cos_fma` roundings for `|x| < 0.85546875`, over vector lanes.

use super::simd::Lanes;
use super::{scalar, Table, FAST_LIMIT};

/// glibc's Taylor coefficients of `sin` below 0.126 (its `s1`…`s5`).
const S1: f64 = f64::from_bits(0xbfc5_5555_5555_5555);
const S2: f64 = f64::from_bits(0x3f81_1111_1111_0ece);
const S3: f64 = f64::from_bits(0xbf2a_01a0_19db_08b8);
const S4: f64 = f64::from_bits(0x3ec7_1de2_7b9a_7ed9);
const S5: f64 = f64::from_bits(0xbe5a_ddff_c2fc_df59);
/// glibc's coefficients around a table point (its `sn3`, `sn5`, `cs2`, `cs4`, `cs6`).
const SN3: f64 = f64::from_bits(0xbfc5_5555_5555_5515);
const SN5: f64 = f64::from_bits(0x3f81_1110_e829_872f);
const CS2: f64 = 0.5;
const CS4: f64 = f64::from_bits(0xbfa5_5555_5555_5535);
const CS6: f64 = f64::from_bits(0x3f56_c16b_edd9_e239);
/// `1.5 · 2⁴⁵`: adding it rounds `|x|` to the nearest multiple of 1/128, and its low word is
/// then the table index.
const BIG: f64 = 52_776_558_133_248.0;
/// Below this `sin` uses the Taylor polynomial.
const TAYLOR_LIMIT: f64 = 0.126;
/// Below 2⁻²⁶, `sin x = x`.
pub(super) const SIN_TINY: f64 = 1.490_116_119_384_765_6e-8;
/// Below 2⁻²⁷, `cos x = 1`.
pub(super) const COS_TINY: f64 = 7.450_580_596_923_828e-9;

/// [`super::sin_cos`] over whole vectors, the C library for the remainder and for vectors the
/// fast path declines.
///
/// # Safety
/// The CPU features of `V` must be available and the caller compiled for them; `sin` and
/// `cos` as long as `theta`.
#[inline(always)]
pub(super) unsafe fn sin_cos<V: Lanes>(
    table: &Table,
    theta: &[f64],
    sin: &mut [f64],
    cos: &mut [f64],
    slack: f64,
) {
    let w = V::WIDTH;
    let whole = theta.len() / w * w;
    for i in (0..whole).step_by(w) {
        // SAFETY: `i + w ≤ theta.len()`, and `sin`, `cos` are as long; features as promised.
        unsafe {
            match lanes(table, V::load(theta.as_ptr().add(i)), slack) {
                Some((s, c)) => {
                    s.store(sin.as_mut_ptr().add(i));
                    c.store(cos.as_mut_ptr().add(i));
                }
                None => scalar(&theta[i..i + w], &mut sin[i..i + w], &mut cos[i..i + w]),
            }
        }
    }
    scalar(&theta[whole..], &mut sin[whole..], &mut cos[whole..]);
}

/// The lanes' `(sin, cos)`, or `None` where a lane is outside the fast range or its result
/// could depend on the last bits of the table's residuals (see the module docs).
///
/// # Safety
/// The CPU features of `V` must be available and the caller compiled for them.
#[inline(always)]
pub(super) unsafe fn lanes<V: Lanes>(t: &Table, x: V, slack: f64) -> Option<(V, V)> {
    // SAFETY: the caller guarantees the features; the gathers read indices below `ENTRIES`.
    unsafe {
        let k = V::splat;
        let ax = x.abs();
        // Ordered compare: NaN lanes fail it too.
        if !V::all(ax.lt(k(FAST_LIMIT))) {
            return None;
        }
        let u = ax.add(k(BIG));
        let r = ax.sub(u.sub(k(BIG)));
        // `|x| < FAST_LIMIT` rounds to an index of at most 109, below `ENTRIES`.
        let sn = V::gather_low_word(t.sin.as_ptr(), u);
        let ssn = V::gather_low_word(t.sin_residual.as_ptr(), u);
        let cs = V::gather_low_word(t.cos.as_ptr(), u);
        let ccs = V::gather_low_word(t.cos_residual.as_ptr(), u);
        let xx = r.mul(r);
        let q = r.mul(xx);
        let p = xx.mul_add(k(SN5), k(SN3));
        let c = xx.mul(xx.mul_add(xx.mul_add(k(CS6), k(CS4)), k(CS2)));
        // Around the table point, sin rounds `q·p` before adding `r`; cos fuses them.
        let s_sin = r.add(q.mul(p));
        let s_cos = q.mul_add(p, r);
        let sin_table = |ssn: V, ccs: V| {
            let t1 = s_sin.mul_add(ccs, ssn);
            let t2 = c.neg_mul_add(sn, t1);
            sn.add(s_sin.mul_add(cs, t2))
        };
        let cos_table = |ssn: V, ccs: V| {
            let t1 = s_cos.neg_mul_add(ssn, ccs);
            let t2 = c.neg_mul_add(cs, t1);
            cs.add(s_cos.neg_mul_add(sn, t2))
        };
        let sin_t = sin_table(ssn, ccs);
        let cos_t = cos_table(ssn, ccs);
        // Each tail is monotone in each residual (rising or falling with the sign of `s`), so
        // over the slack box its extremes are at two corners: where both residuals push the
        // result up, and where both push it down. Equal bits at both mean equal bits inside.
        let ds = sn.abs().mul(k(slack));
        let dc = cs.abs().mul(k(slack));
        let (dc_sin, ds_cos) = (dc.or_sign_of(s_sin), ds.or_sign_of(s_cos));
        let sin_stable = V::and(
            sin_table(ssn.add(ds), ccs.add(dc_sin)).same_bits(sin_t),
            sin_table(ssn.sub(ds), ccs.sub(dc_sin)).same_bits(sin_t),
        );
        let cos_stable = V::and(
            cos_table(ssn.sub(ds_cos), ccs.add(dc)).same_bits(cos_t),
            cos_table(ssn.add(ds_cos), ccs.sub(dc)).same_bits(cos_t),
        );
        let taylor_lane = ax.lt(k(TAYLOR_LIMIT));
        let cos_tiny = ax.lt(k(COS_TINY));
        // Polynomial sines and tiny cosines use no residual.
        if !V::all(V::and(
            V::or(taylor_lane, sin_stable),
            V::or(cos_tiny, cos_stable),
        )) {
            return None;
        }

        let xx0 = x.mul(x);
        let mut poly = xx0.mul_add(k(S5), k(S4));
        for coefficient in [S3, S2, S1] {
            poly = xx0.mul_add(poly, k(coefficient));
        }
        let sin_taylor = x.add(poly.mul(x).mul(xx0));
        // The table path works on |x|; the sign goes back on at the end.
        let sin = sin_t.abs().or_sign_of(x).select(sin_taylor, taylor_lane);
        let sin = sin.select(x, ax.lt(k(SIN_TINY)));
        let cos = cos_t.select(k(1.0), cos_tiny);
        Some((sin, cos))
    }
}
