//! The batched integer forward pass: many rows (population members or evaluation streams)
//! advance one byte per step through the same weights.
//!
//! Every matrix product is ONE shared int8 GEMM over all rows ([`eggroll_core::int::gemm_i8`]),
//! followed, for population members, by each member's rank-r correction
//! `s·(((x·B) >> 4)·Aᵀ >> sigma_shift)`, both in int32, before the rescale
//! `clip((acc · M) >> 32)` with `M = round(2^32 / (16·⌊√fan_in⌋))`. Row `r` of a noisy batch is
//! member `2·first_pair + r`: it uses pair `r/2` of the chunk's noise with sign `+` when `r` is
//! even. One block:
//!
//! ```text
//! a  = norm(x; ln1)
//! f  = clip(rescale([W_f|U_f]·[a, h]) + b_f)          update gate, int8
//! g  = ((f + 127) · h) >> 8                           reset-like gating of h
//! c  = clip(rescale([W_h|U_h]·[a, g]) + b_h)          candidate
//! h' = clip(h + (((f + 127) · (c − h)) >> 8))         interpolation by the gate
//! x  = clip(x + h');  x = clip(x + rescale(down · rescale(up · norm(x; ln2))))
//! ```
//! then `logits = rescale(head · norm(x; lnf))`. `norm(x; w)_k = clip(x_k·w_k·RECIP[m4] >> 14)`
//! with `m4 = ⌊4·Σ|x|/D⌋` (the mean |x| in quarter units).

use crate::egg::noise::ChunkNoise;
use crate::egg::params::{Weights, VOCAB};
use crate::egg::rowops;
use crate::error::LlmError;
use eggroll_core::int::{
    add_correction, gemm_i8, gemm_i8_packed, narrow_i8, rescale::rescale_row, rescale_into,
    rescale_multiplier, DynIntKernels, IntMatmul, NoiseSpec,
};
use eggroll_core::params::ParamShape;

#[inline(always)]
fn clip8(v: i32) -> i16 {
    v.clamp(-127, 127) as i16
}

/// A batch of rows stepping through the model together, with their hidden states.
pub struct Runner<'w> {
    wts: &'w Weights,
    noise: Option<&'w ChunkNoise>,
    rows: usize,
    d: usize,
    /// Hidden states, layer-major: `h[l][r][k]`.
    h: Vec<i16>,
    x: Vec<i16>,
    a: Vec<i16>,
    cat: Vec<i16>,
    f: Vec<i16>,
    mid: Vec<i16>,
    acc: Vec<i32>,
    /// A matmul's input narrowed to int8 for [`gemm_i8`].
    x8: Vec<i8>,
    logits: Vec<i16>,
    vbuf: Vec<i16>,
    u: Vec<i32>,
    kernels: Option<&'w dyn DynIntKernels>,
    error: Option<LlmError>,
}

impl<'w> Runner<'w> {
    /// A batch of `rows` rows with zero hidden state; `noise` (if any) must cover `rows/2`
    /// pairs.
    pub fn new(wts: &'w Weights, noise: Option<&'w ChunkNoise>, rows: usize) -> Self {
        let d = wts.layout.d;
        let layers = wts.layout.layers();
        if let Some(n) = noise {
            assert!(
                rows <= 2 * n.pairs,
                "noise covers {} pairs, {rows} rows",
                n.pairs
            );
        }
        let rank = noise.map_or(1, |n| n.rank);
        Runner {
            wts,
            noise,
            rows,
            d,
            h: vec![0; layers * rows * d],
            x: vec![0; rows * d],
            a: vec![0; rows * d],
            cat: vec![0; rows * 2 * d],
            f: vec![0; rows * d],
            mid: vec![0; rows * 4 * d],
            acc: vec![0; rows * (4 * d).max(VOCAB)],
            x8: vec![0; rows * 4 * d],
            logits: vec![0; rows * VOCAB],
            vbuf: vec![0; d],
            u: vec![0; rank],
            kernels: None,
            error: None,
        }
    }

    /// Run the matrix products on `kernels` (a GPU backend, say) instead of the CPU GEMM; the
    /// results are the same bits. A failing kernel is kept in [`Runner::error`] and the
    /// remaining products of the batch are skipped (their outputs are zero).
    pub fn with_kernels(mut self, kernels: Option<&'w dyn DynIntKernels>) -> Self {
        self.kernels = kernels;
        self
    }

    /// The first kernel failure since this runner was made, if any.
    pub fn error(&self) -> Option<&LlmError> {
        self.error.as_ref()
    }

    /// Take the first kernel failure, leaving none.
    pub fn take_error(&mut self) -> Option<LlmError> {
        self.error.take()
    }

    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Copy hidden states in from `src` (`rows × layers × D`, member-major int8).
    pub fn load_state(&mut self, src: &[i8]) {
        let (d, rows) = (self.d, self.rows);
        for l in 0..self.wts.layout.layers() {
            for r in 0..rows {
                let s = &src[(r * self.wts.layout.layers() + l) * d..][..d];
                let dst = &mut self.h[(l * rows + r) * d..][..d];
                for (o, &v) in dst.iter_mut().zip(s) {
                    *o = v as i16;
                }
            }
        }
    }

    /// Copy hidden states out to `dst` (same layout as [`Runner::load_state`]).
    pub fn store_state(&self, dst: &mut [i8]) {
        let (d, rows, layers) = (self.d, self.rows, self.wts.layout.layers());
        for l in 0..layers {
            for r in 0..rows {
                let s = &self.h[(l * rows + r) * d..][..d];
                for (o, &v) in dst[(r * layers + l) * d..][..d].iter_mut().zip(s) {
                    *o = v as i8;
                }
            }
        }
    }

    /// Zero the hidden state of one row (document boundary).
    pub fn reset_row(&mut self, r: usize) {
        let (d, rows) = (self.d, self.rows);
        for l in 0..self.wts.layout.layers() {
            self.h[(l * rows + r) * d..][..d].fill(0);
        }
    }

    /// The logits of the last step, `rows × 256`.
    pub fn logits(&self) -> &[i16] {
        &self.logits
    }

    fn sign(r: usize) -> i32 {
        if r.is_multiple_of(2) {
            1
        } else {
            -1
        }
    }

    /// Row `r`'s effective copy of vector parameter `id` into `vbuf`.
    fn vector(&mut self, id: usize, r: usize) {
        let base = self.wts.p16(id);
        match self.noise {
            Some(n) => {
                let d = self.d;
                let delta = &n.params[id].a[(r / 2) * d..][..d];
                rowops::perturb(&mut self.vbuf, base, delta, Self::sign(r) as i16);
            }
            None => self.vbuf.copy_from_slice(base),
        }
    }

    /// `a = norm(x; id)` for every row.
    fn norm(&mut self, id: usize) {
        let d = self.d;
        for r in 0..self.rows {
            self.vector(id, r);
            rowops::norm_row(&self.x[r * d..][..d], &self.vbuf, &mut self.a[r * d..][..d]);
        }
    }

    /// `acc = input · W_idᵀ` plus each member's low-rank correction (int32, not rescaled).
    fn linear(&mut self, id: usize, input: Input) {
        let ParamShape::Matrix {
            rows: out,
            cols: inp,
        } = self.wts.layout.params[id].shape
        else {
            unreachable!("linear on a vector parameter")
        };
        let x: &[i16] = match input {
            Input::A => &self.a,
            Input::Cat => &self.cat,
            Input::Mid => &self.mid,
        };
        let rows = self.rows;
        if let Some(k) = self.kernels {
            let spec = self.noise.map(|n| NoiseSpec {
                seed: n.seed,
                param: id as u32,
                epoch: n.epoch,
                first_pair: n.first_pair,
                rank: n.rank,
                sigma_shift: n.sigma_shift,
            });
            let acc = &mut self.acc[..rows * out];
            if self.error.is_none() {
                let m =
                    IntMatmul::plain(x, rows, self.wts.p8(id), out, inp).with_noise(spec.as_ref());
                match k.matmul(&m) {
                    Ok(v) if v.len() == acc.len() => {
                        acc.copy_from_slice(&v);
                        return;
                    }
                    Ok(v) => {
                        self.error = Some(LlmError::Backend {
                            backend: k.backend_name(),
                            why: format!(
                                "matmul returned {} values, expected {}",
                                v.len(),
                                acc.len()
                            ),
                        })
                    }
                    Err(e) => self.error = Some(e.into()),
                }
            }
            acc.fill(0);
            return;
        }
        let x8 = &mut self.x8[..rows * inp];
        narrow_i8(&x[..rows * inp], x8);
        match self.wts.packed(id) {
            Some(p) if (p.outs(), p.k()) == (out, inp) => {
                gemm_i8_packed(x8, rows, p, &mut self.acc);
            }
            _ => gemm_i8(x8, rows, self.wts.p8(id), out, inp, &mut self.acc),
        }
        let Some(n) = self.noise else { return };
        let (rank, shift) = (n.rank, n.sigma_shift);
        let pn = &n.params[id];
        for r in 0..rows {
            let q = r / 2;
            add_correction(
                &mut self.acc[r * out..][..out],
                &x[r * inp..][..inp],
                &pn.a[q * rank * out..][..rank * out],
                &pn.b[q * rank * inp..][..rank * inp],
                Self::sign(r),
                shift,
                &mut self.u,
            );
        }
    }

    fn embed(&mut self, bytes: &[u8]) {
        let d = self.d;
        let id = self.wts.layout.emb;
        let emb = self.wts.p16(id);
        for (r, &byte) in bytes.iter().enumerate().take(self.rows) {
            let row = &mut self.x[r * d..][..d];
            row.copy_from_slice(&emb[byte as usize * d..][..d]);
            if let Some(n) = self.noise {
                let (rank, shift) = (n.rank, n.sigma_shift);
                let pn = &n.params[id];
                let q = r / 2;
                let a = &pn.a[q * rank * VOCAB..][..rank * VOCAB];
                let b = &pn.b[q * rank * d..][..rank * d];
                let s = Self::sign(r);
                for (k, v) in row.iter_mut().enumerate() {
                    let mut c = 0i32;
                    for j in 0..rank {
                        c += a[j * VOCAB + byte as usize] as i32 * b[j * d + k] as i32;
                    }
                    *v = clip8(*v as i32 + s * (c >> (4 + shift)));
                }
            }
        }
    }

    /// Advance every row by one input byte (`bytes[r]` for row `r`); logits land in
    /// [`Runner::logits`].
    pub fn step(&mut self, bytes: &[u8]) {
        let (d, rows) = (self.d, self.rows);
        self.embed(bytes);
        for l in 0..self.wts.layout.layers() {
            let ids = self.wts.layout.blocks[l];
            let hoff = l * rows * d;
            self.norm(ids.ln1);
            for r in 0..rows {
                self.cat[r * 2 * d..][..d].copy_from_slice(&self.a[r * d..][..d]);
                self.cat[r * 2 * d + d..][..d].copy_from_slice(&self.h[hoff + r * d..][..d]);
            }
            self.linear(ids.gate, Input::Cat);
            rescale_into(&self.acc, rows, d, 2 * d, &mut self.f, d);
            for r in 0..rows {
                self.vector(ids.gate_b, r);
                rowops::gate_row(
                    &mut self.f[r * d..][..d],
                    &self.h[hoff + r * d..][..d],
                    &mut self.cat[r * 2 * d + d..][..d],
                    &self.vbuf,
                );
            }
            self.linear(ids.cand, Input::Cat);
            // The candidate goes into `a`'s place after `cat` has consumed it.
            rescale_into(&self.acc, rows, d, 2 * d, &mut self.a, d);
            for r in 0..rows {
                self.vector(ids.cand_b, r);
                rowops::cand_row(
                    &self.a[r * d..][..d],
                    &self.f[r * d..][..d],
                    &mut self.h[hoff + r * d..][..d],
                    &mut self.x[r * d..][..d],
                    &self.vbuf,
                );
            }
            self.norm(ids.ln2);
            self.linear(ids.up, Input::A);
            rescale_into(&self.acc, rows, 4 * d, d, &mut self.mid, 4 * d);
            self.linear(ids.down, Input::Mid);
            // `f` (the gate) is spent: it holds the rescaled down projection before the add.
            let m = rescale_multiplier(4 * d);
            for r in 0..rows {
                let y = &mut self.f[r * d..][..d];
                rescale_row(&self.acc[r * d..][..d], m, y);
                rowops::add_row(&mut self.x[r * d..][..d], y);
            }
        }
        self.norm(self.wts.layout.lnf);
        self.linear(self.wts.layout.head, Input::A);
        rescale_into(&self.acc, rows, VOCAB, d, &mut self.logits, VOCAB);
    }
}

#[derive(Clone, Copy)]
enum Input {
    A,
    Cat,
    Mid,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egg::tables::log_prob16;

    #[test]
    fn members_do_not_depend_on_their_batch() {
        // Pair 1 run alone gives the same bits as pair 1 inside a batch of pairs 0..3.
        let w = Weights::init(16, 2, 3);
        let all = ChunkNoise::generate(&w.layout, 1, 0, 0, 3, 2, 2);
        let one = ChunkNoise::generate(&w.layout, 1, 0, 1, 1, 2, 2);
        let mut big = Runner::new(&w, Some(&all), 6);
        let mut small = Runner::new(&w, Some(&one), 2);
        let mut plain = Runner::new(&w, None, 1);
        for &b in b"hello there" {
            big.step(&[b; 6]);
            small.step(&[b; 2]);
            plain.step(&[b]);
        }
        assert_eq!(&big.logits()[2 * 256..4 * 256], small.logits());
        let l = small.logits();
        assert_ne!(&l[..256], &l[256..], "antithetic members must differ");
        assert_ne!(&l[..256], plain.logits());
        assert!(log_prob16(&l[..256], b'x') <= 0);
        let mut st = vec![0i8; 2 * 2 * 16];
        small.store_state(&mut st);
        let mut again = Runner::new(&w, Some(&one), 2);
        again.load_state(&st);
        let mut back = vec![1i8; st.len()];
        again.store_state(&mut back);
        assert_eq!(st, back);
    }
}
