//! The forward's per-row elementwise steps (vector perturbation, norm, gate, candidate,
//! residual add), each an [`eggroll_core::vector_variants!`]: compiled for the x86-64 baseline,
//! with AVX2 and with AVX-512, the widest chosen at run time. They are integer operations, so
//! every copy gives the same bits; AVX2 gives them 8 lanes and `vpminsd`/`vpmaxsd` where SSE2
//! compares and blends, AVX-512 16.

use crate::egg::tables::{RECIP, RECIP_MAX, RECIP_SHIFT};

#[inline(always)]
fn clip8(v: i32) -> i16 {
    v.clamp(-127, 127) as i16
}

eggroll_core::vector_variants! {
    /// `dst = clip(base + s·delta)`: one row's perturbed copy of a vector parameter.
    pub fn perturb(dst: &mut [i16], base: &[i16], delta: &[i16], s: i16) {
        for ((v, &b), &e) in dst.iter_mut().zip(base).zip(delta) {
            *v = (b + s * e).clamp(-127, 127);
        }
    }
}

eggroll_core::vector_variants! {
    /// `out = norm(x; g)`: `clip(x_k·g_k·RECIP[m4] >> RECIP_SHIFT)` with `m4 = ⌊4·Σ|x|/D⌋`.
    pub fn norm_row(x: &[i16], g: &[i16], out: &mut [i16]) {
        let s: i32 = x.iter().map(|&v| (v as i32).abs()).sum();
        let m4 = ((4 * s) as usize / x.len().max(1)).min(RECIP_MAX);
        let rc = RECIP[m4] as i32;
        for ((o, &xv), &gv) in out.iter_mut().zip(x).zip(g) {
            *o = clip8((xv as i32 * gv as i32 * rc) >> RECIP_SHIFT);
        }
    }
}

eggroll_core::vector_variants! {
    /// The update gate: `f = clip(f + b)`, then the gated hidden state `g = ((f + 127)·h) >> 8`.
    pub fn gate_row(f: &mut [i16], h: &[i16], g: &mut [i16], b: &[i16]) {
        for (((fv, &hv), gv), &bv) in f.iter_mut().zip(h).zip(g).zip(b) {
            let fc = clip8(*fv as i32 + bv as i32);
            *fv = fc;
            *gv = (((fc as i32 + 127) * hv as i32) >> 8) as i16;
        }
    }
}

eggroll_core::vector_variants! {
    /// The candidate `c = clip(c + b)`, the new hidden state
    /// `h = clip(h + (((f + 127)·(c − h)) >> 8))` and the residual `x = clip(x + h)`.
    pub fn cand_row(c: &[i16], f: &[i16], h: &mut [i16], x: &mut [i16], b: &[i16]) {
        for ((((&cv, &fv), hv), xv), &bv) in c.iter().zip(f).zip(h).zip(x).zip(b) {
            let c = clip8(cv as i32 + bv as i32) as i32;
            let hp = *hv as i32;
            let hn = clip8(hp + (((fv as i32 + 127) * (c - hp)) >> 8));
            *hv = hn;
            *xv = clip8(*xv as i32 + hn as i32);
        }
    }
}

eggroll_core::vector_variants! {
    /// The residual add `x = clip(x + y)`.
    pub fn add_row(x: &mut [i16], y: &[i16]) {
        for (xv, &yv) in x.iter_mut().zip(y) {
            *xv = clip8(*xv as i32 + yv as i32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values over the whole int8 range, extremes included.
    fn row(n: usize, seed: u32) -> Vec<i16> {
        (0..n as u32)
            .map(|i| match (i + seed) % 7 {
                0 => -127,
                1 => 127,
                _ => (eggroll_core::noise::hash32(i ^ seed) % 255) as i16 - 127,
            })
            .collect()
    }

    #[test]
    fn row_steps_match_their_formulas_element_by_element() {
        let n = 77;
        let (c, f0, h0, x0, b) = (row(n, 1), row(n, 2), row(n, 3), row(n, 4), row(n, 5));
        let (mut f, mut g) = (f0.clone(), vec![0i16; n]);
        gate_row(&mut f, &h0, &mut g, &b);
        let (mut h, mut x) = (h0.clone(), x0.clone());
        cand_row(&c, &f, &mut h, &mut x, &b);
        let mut y = x0.clone();
        add_row(&mut y, &c);
        let mut p = vec![0i16; n];
        perturb(&mut p, &x0, &c, -1);
        let mut nm = vec![0i16; n];
        norm_row(&x0, &b, &mut nm);
        let m4 =
            ((4 * x0.iter().map(|&v| (v as i32).abs()).sum::<i32>()) as usize / n).min(RECIP_MAX);
        for k in 0..n {
            let fk = (f0[k] as i32 + b[k] as i32).clamp(-127, 127);
            assert_eq!(f[k] as i32, fk);
            assert_eq!(g[k] as i32, ((fk + 127) * h0[k] as i32) >> 8);
            let ck = (c[k] as i32 + b[k] as i32).clamp(-127, 127);
            let hk = (h0[k] as i32 + (((fk + 127) * (ck - h0[k] as i32)) >> 8)).clamp(-127, 127);
            assert_eq!(h[k] as i32, hk);
            assert_eq!(x[k] as i32, (x0[k] as i32 + hk).clamp(-127, 127));
            assert_eq!(y[k] as i32, (x0[k] as i32 + c[k] as i32).clamp(-127, 127));
            assert_eq!(p[k] as i32, (x0[k] as i32 - c[k] as i32).clamp(-127, 127));
            let want = (x0[k] as i32 * b[k] as i32 * RECIP[m4] as i32) >> RECIP_SHIFT;
            assert_eq!(nm[k] as i32, want.clamp(-127, 127));
        }
    }
}
