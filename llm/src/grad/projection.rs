//! One projection `y = x·Wᵀ`, optionally LoRA-wrapped (`+ s·(drop(x)·Aᵀ)·Bᵀ`), forward and
//! backward. The base product goes through the inference forward's own projection
//! ([`crate::llama::project`], the CPU backend's batched linear), so a model whose adapters
//! have `B = 0` gives the inference logits bit for bit; the gradients are GEMMs
//! ([`super::linear`]), the branch's thin products loops of their own ([`super::lowrank`]).

use super::dropout::{dropout, mix};
use super::linear::{add_into, matmul_nn, matmul_nt, matmul_tn};
use super::lora::Adapter;
use super::lowrank;
use crate::error::Result;
use crate::llama::project;
use crate::llama::weights::MatrixRef;
use eggroll_core::cpu::Cpu;
use eggroll_core::RowOwners;
use std::borrow::Cow;

/// A LoRA branch as one step of training sees it.
#[derive(Clone, Copy, Debug)]
pub struct Branch<'a> {
    /// The adapter.
    pub adapter: &'a Adapter,
    /// Its rank.
    pub rank: usize,
    /// Scale `s`.
    pub scale: f32,
    /// Dropout rate (0 outside training).
    pub dropout: f32,
    /// Dropout seed.
    pub seed: u64,
    /// Dropout stream of this adapter at this step.
    pub stream: u64,
}

impl Branch<'_> {
    /// The stream of adapter `index` at training step `step`.
    pub fn stream_of(step: u64, index: usize) -> u64 {
        mix(step ^ mix(index as u64 ^ 0x5eed))
    }

    /// `drop(x)`: `x` itself without dropout (no copy).
    fn dropped<'x>(&self, x: &'x [f32]) -> Cow<'x, [f32]> {
        match self.dropout > 0.0 {
            true => Cow::Owned(dropout(x, self.dropout, self.seed, self.stream)),
            false => Cow::Borrowed(x),
        }
    }
}

/// `y = x·Wᵀ (+ s·u·Bᵀ)` for `rows` rows of `x`, and `u = drop(x)·Aᵀ` (`rows × rank`) when
/// there is a branch, which the backward needs.
#[allow(clippy::ptr_arg)] // the backend's linear takes its buffers as `Vec`s
pub fn proj_forward(
    cpu: &Cpu,
    x: &Vec<f32>,
    rows: usize,
    w: MatrixRef<'_>,
    branch: Option<Branch<'_>>,
) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    // Past the unpacked kernel's rows the backend's linear is the blocked GEMM in chunks of an
    // eighth of the batch, each packing all of W; the same GEMM in quarters (`linear.rs`)
    // gives the same bits with half the packing (a tenth of a GRPO step's forward).
    let mut y = match rows > eggroll_core::cpu::NT_MAX_ROWS {
        true => matmul_nt(x, rows, w.data, w.rows, w.cols),
        false => project(cpu, x, rows, w, RowOwners::Plain, None)?,
    };
    let Some(br) = branch else {
        return Ok((y, None));
    };
    let ad = br.adapter;
    let u = lowrank::times_t(&br.dropped(x), rows, ad.cols, &ad.a, br.rank);
    let bt = lowrank::transpose(&ad.b, ad.rows, br.rank);
    lowrank::add_times(&mut y, br.scale, &u, rows, br.rank, &bt, ad.rows);
    Ok((y, Some(u)))
}

/// The gradients of one projection.
#[derive(Clone, Debug, Default)]
pub struct ProjGrads {
    /// `d x` (`rows × in`).
    pub dx: Vec<f32>,
    /// `d W` (`out × in`), when asked for.
    pub dw: Option<Vec<f32>>,
    /// `(d A, d B)` of the branch, if there is one.
    pub lora: Option<(Vec<f32>, Vec<f32>)>,
}

/// Backward of [`proj_forward`] given `dy` (`rows × out`): `dx = dy·W (+ drop'(s·dy·B·A))`,
/// `dW = dyᵀ·x` when `want_dw`, and for a branch `dB = s·dyᵀ·u`, `dA = s·(dy·B)ᵀ·drop(x)`.
pub fn proj_backward(
    x: &[f32],
    rows: usize,
    w: MatrixRef<'_>,
    branch: Option<(Branch<'_>, &[f32])>,
    dy: &[f32],
    want_dw: bool,
) -> ProjGrads {
    let (out, inp) = (w.rows, w.cols);
    let mut g = ProjGrads {
        dx: matmul_nn(dy, rows, w.data, out, inp),
        dw: want_dw.then(|| matmul_tn(dy, x, rows, out, inp)),
        lora: None,
    };
    if let Some((br, u)) = branch {
        let (ad, r) = (br.adapter, br.rank);
        let mut db = lowrank::transpose(&lowrank::t_times(u, dy, rows, r, out), r, out);
        db.iter_mut().for_each(|v| *v *= br.scale);
        let bt = lowrank::transpose(&ad.b, out, r);
        let mut du = lowrank::times_t(dy, rows, out, &bt, r);
        du.iter_mut().for_each(|v| *v *= br.scale);
        let da = lowrank::t_times(&du, &br.dropped(x), rows, r, inp);
        if br.dropout > 0.0 {
            let dxd = lowrank::times(&du, rows, r, &ad.a, inp);
            add_into(&mut g.dx, &br.dropped(&dxd));
        } else {
            lowrank::add_times(&mut g.dx, 1.0, &du, rows, r, &ad.a, inp);
        }
        g.lora = Some((da, db));
    }
    g
}
