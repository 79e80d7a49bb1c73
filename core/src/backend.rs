//! The `Backend` trait: the few fused ES operations a device must provide.
//!
//! Not a tensor library: a backend owns buffers of f32 and implements the perturbed linear
//! layer (shared GEMM + per-member noise correction, rows owned as [`RowOwners`] says),
//! activations, the ES gradient estimate (one GEMM over N·r for low-rank noise) and the
//! optimiser step. Every backend passes
//! [`crate::conformance`] against the CPU reference.

use crate::error::Result;
use crate::noise::StreamKey;
use crate::optim::OptimStep;
use crate::params::ParamSpec;
use crate::population::{Population, RowOwners};
use serde::{Deserialize, Serialize};

/// Element-wise non-linearity between layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// No non-linearity.
    Identity,
    /// max(0, x).
    Relu,
    /// Hyperbolic tangent.
    #[default]
    Tanh,
}

impl Activation {
    /// Apply to one value (the CPU reference; tanh within 5e-7 of libm's).
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Tanh => crate::activation::tanh_fast(x),
        }
    }
}

/// A linear layer `y = x·Wᵀ + b` as seen by a backend op: buffers plus noise ids.
pub struct LinearLayer<'a, Buf> {
    /// Weight, `out_dim × in_dim`, row-major.
    pub weight: &'a Buf,
    /// Noise id of the weight.
    pub weight_id: u32,
    /// Output dimension.
    pub out_dim: usize,
    /// Input dimension.
    pub in_dim: usize,
    /// Optional bias (`out_dim`) and its noise id.
    pub bias: Option<(&'a Buf, u32)>,
    /// The weight's rows from a compact form holding exactly `weight`'s values, which a
    /// backend may read instead of `weight` (the CPU does on its few-rows path, a decode step's).
    pub rows: Option<&'a dyn WeightRows>,
}

/// A weight matrix's rows computed on demand from a compact form (a quantised model file's
/// blocks) that holds exactly the values of the f32 matrix it stands for.
///
/// A decode step reads every weight once from memory; 4.5-bit blocks instead of f32 cut that
/// traffic by 7× (what `LinearLayer::rows` is for).
pub trait WeightRows: Sync {
    /// Write rows `first..first + out.len() / cols` (`cols` floats each, row-major) into `out`.
    fn rows_into(&self, first: usize, out: &mut [f32]);
}

/// A compute device that can evaluate and update ES populations.
pub trait Backend: Send + Sync {
    /// A device buffer of f32.
    type Buffer: Send + Sync;

    /// Short name (`cpu`, `wgpu`, `cubecl`).
    fn name(&self) -> &'static str;

    /// Copy host data to a new device buffer.
    fn upload(&self, host: &[f32]) -> Result<Self::Buffer>;

    /// Copy a device buffer back to the host.
    fn download(&self, buf: &Self::Buffer) -> Result<Vec<f32>>;

    /// `x` (rows × in) through the layer; every row owned by a member (see [`RowOwners`]) uses
    /// that member's perturbed weight `W + s·(σ/√r)·A·Bᵀ` (or the full-rank `W + s·σ·E`) and
    /// bias `b + s·σ·ε`.
    fn linear(
        &self,
        x: &Self::Buffer,
        rows: usize,
        layer: &LinearLayer<'_, Self::Buffer>,
        owners: RowOwners<'_>,
    ) -> Result<Self::Buffer>;

    /// Apply `act` in place.
    fn activate(&self, x: &mut Self::Buffer, act: Activation) -> Result<()>;

    /// [`Backend::linear`] followed by [`Backend::activate`], with the same result bit for bit.
    /// Backends that can apply the activation while each block of output is still in cache
    /// override it (the CPU saves a pass over main memory per layer).
    fn linear_activated(
        &self,
        x: &Self::Buffer,
        rows: usize,
        layer: &LinearLayer<'_, Self::Buffer>,
        owners: RowOwners<'_>,
        act: Activation,
    ) -> Result<Self::Buffer> {
        let mut out = self.linear(x, rows, layer, owners)?;
        self.activate(&mut out, act)?;
        Ok(out)
    }

    /// The ES gradient estimate `(1/N) Σ_i w_i E_i` for one parameter (the ascent direction
    /// the optimiser follows), where `E_i` is member i's applied perturbation of it and `w` the
    /// shaped fitness (length N).
    fn es_gradient(
        &self,
        pop: &Population,
        spec: &ParamSpec,
        weights: &[f32],
    ) -> Result<Self::Buffer>;

    /// Apply one optimiser step to `param` along the gradient estimate `grad`, with per-tensor
    /// `state`.
    fn optimizer_step(
        &self,
        param: &mut Self::Buffer,
        grad: &Self::Buffer,
        state: &mut [Self::Buffer],
        step: &OptimStep,
    ) -> Result<()>;

    /// Whether this backend computes on the host's cores, on the calling thread or rayon's
    /// pool (the CPU backend). Callers that evaluate many small batches (an RL rollout's steps)
    /// may then split their members into cache-sized blocks, one rayon task each, and run each
    /// block's calls single-threaded ([`crate::cpu::serial`]); a device backend (`false`, the
    /// default) wants one whole-population batch per call instead.
    fn computes_on_host(&self) -> bool {
        false
    }

    /// Wait until all queued work has finished (asynchronous devices); timers stop after it.
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Elements `start .. start + len` of a noise stream (for conformance tests).
    fn normals(&self, key: StreamKey, start: u32, len: usize) -> Result<Self::Buffer>;
}

/// A tagged batch ([`RowOwners::Tagged`]) through [`Backend::linear`] for a backend whose kernels
/// take grouped rows only: the rows are split into runs of one member, each run is one grouped
/// call, and the results are joined on the host. Correct everywhere, fast nowhere: a backend
/// states in its docs when it uses this.
pub fn linear_tagged_by_runs<B: Backend + ?Sized>(
    backend: &B,
    x: &B::Buffer,
    rows: usize,
    layer: &LinearLayer<'_, B::Buffer>,
    pop: &Population,
    members: &[u32],
) -> Result<B::Buffer> {
    RowOwners::Tagged { pop, members }.check(rows)?;
    let xh = backend.download(x)?;
    crate::error::check_len("linear input", rows * layer.in_dim, xh.len())?;
    let mut out = Vec::with_capacity(rows * layer.out_dim);
    let mut start = 0;
    while start < rows {
        let mut end = start + 1;
        while end < rows && members[end] == members[start] {
            end += 1;
        }
        let xs = backend.upload(&xh[start * layer.in_dim..end * layer.in_dim])?;
        let run = RowOwners::Grouped {
            pop,
            first_member: members[start],
            rows_per_member: end - start,
        };
        let y = backend.linear(&xs, end - start, layer, run)?;
        out.extend(backend.download(&y)?);
        start = end;
    }
    backend.upload(&out)
}
