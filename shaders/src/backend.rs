//! `eggroll_core::Backend` for [`Wgpu`]: the trait's operations on resident device buffers.

use crate::buffer::WgpuBuffer;
use crate::device::Wgpu;
use crate::dispatch::{to_u32, Batch, Uniform};
use crate::error::Result;
use eggroll_core::backend::{Activation, Backend, LinearLayer};
use eggroll_core::noise::StreamKey;
use eggroll_core::optim::OptimStep;
use eggroll_core::params::ParamSpec;
use eggroll_core::population::{Population, RowOwners};
use eggroll_core::CoreError;

type CoreResult<T> = eggroll_core::Result<T>;

impl Wgpu {
    /// Apply `act` in place.
    pub fn activate_in_place(&self, x: &mut WgpuBuffer, act: Activation) -> Result<()> {
        let mode = match act {
            Activation::Identity => return Ok(()),
            Activation::Relu => 1,
            Activation::Tanh => 2,
        };
        let len = to_u32("activation elements", x.len())?;
        self.checked("activate", || {
            let mut batch = Batch::new(self);
            let grid = self.grid_for("activate", x.len(), 256)?;
            let params = Uniform::new().u(len).u(mode);
            batch.dispatch(&self.kernels.activate, params, &[&x.buffer], grid);
            batch.submit();
            Ok(())
        })
    }

    /// One optimiser step on resident buffers (`state`: none for SGD, `[m, v]` for Adam).
    pub fn step(
        &self,
        param: &mut WgpuBuffer,
        grad: &WgpuBuffer,
        state: &mut [WgpuBuffer],
        step: &OptimStep,
    ) -> Result<()> {
        if grad.len() != param.len() {
            return Err(CoreError::shape("optimizer gradient", param.len(), grad.len()).into());
        }
        let need = match step {
            OptimStep::Sgd { .. } => 0,
            OptimStep::Adam { .. } => 2,
        };
        if state.len() != need || state.iter().any(|s| s.len() != param.len()) {
            return Err(CoreError::invalid(
                "optimizer state",
                format!("expected {need} buffers of {} elements", param.len()),
            )
            .into());
        }
        let len = to_u32("parameter elements", param.len())?;
        self.checked("optimizer_step", || {
            let mut batch = Batch::new(self);
            let grid = self.grid_for("optimizer_step", param.len(), 256)?;
            match *step {
                OptimStep::Sgd { lr } => {
                    // The kernels share one parameter block; SGD leaves Adam's fields at zero.
                    let mut params = Uniform::new().u(len).f(lr);
                    for _ in 0..6 {
                        params = params.f(0.0);
                    }
                    let bufs = [&param.buffer, &grad.buffer];
                    batch.dispatch(&self.kernels.sgd, params, &bufs, grid);
                }
                OptimStep::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    bias1,
                    bias2,
                } => {
                    let params = Uniform::new()
                        .u(len)
                        .f(lr)
                        .f(beta1)
                        .f(beta2)
                        .f(eps)
                        .f(weight_decay)
                        .f(bias1)
                        .f(bias2);
                    let bufs = [
                        &param.buffer,
                        &grad.buffer,
                        &state[0].buffer,
                        &state[1].buffer,
                    ];
                    batch.dispatch(&self.kernels.adam, params, &bufs, grid);
                }
            }
            batch.submit();
            Ok(())
        })
    }

    /// Elements `start .. start + len` of the stream `key`.
    pub fn stream_normals(&self, key: StreamKey, start: u32, len: usize) -> Result<WgpuBuffer> {
        let n = to_u32("noise elements", len)?;
        self.checked("normals", || {
            let out = self.alloc("normals", len)?;
            let mut batch = Batch::new(self);
            let grid = self.grid_for("normals", len, 256)?;
            let params = Uniform::new().u(key.k0).u(key.k1).u(start).u(n);
            batch.dispatch(&self.kernels.normals, params, &[&out.buffer], grid);
            batch.submit();
            Ok(out)
        })
    }
}

impl Backend for Wgpu {
    type Buffer = WgpuBuffer;

    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn sync(&self) -> CoreResult<()> {
        Ok(Wgpu::sync(self)?)
    }

    fn upload(&self, host: &[f32]) -> CoreResult<WgpuBuffer> {
        Ok(self.upload_f32(host)?)
    }

    fn download(&self, buf: &WgpuBuffer) -> CoreResult<Vec<f32>> {
        Ok(self.download_f32(buf)?)
    }

    fn linear(
        &self,
        x: &WgpuBuffer,
        rows: usize,
        layer: &LinearLayer<'_, WgpuBuffer>,
        owners: RowOwners<'_>,
    ) -> CoreResult<WgpuBuffer> {
        Ok(self.linear_forward(x, rows, layer, owners)?)
    }

    fn activate(&self, x: &mut WgpuBuffer, act: Activation) -> CoreResult<()> {
        Ok(self.activate_in_place(x, act)?)
    }

    fn es_gradient(
        &self,
        pop: &Population,
        spec: &ParamSpec,
        weights: &[f32],
    ) -> CoreResult<WgpuBuffer> {
        // The inherent method of the same name (inherent methods take precedence).
        Ok(Wgpu::es_gradient(self, pop, spec, weights)?)
    }

    fn optimizer_step(
        &self,
        param: &mut WgpuBuffer,
        grad: &WgpuBuffer,
        state: &mut [WgpuBuffer],
        step: &OptimStep,
    ) -> CoreResult<()> {
        Ok(self.step(param, grad, state, step)?)
    }

    fn normals(&self, key: StreamKey, start: u32, len: usize) -> CoreResult<WgpuBuffer> {
        Ok(self.stream_normals(key, start, len)?)
    }
}

impl std::fmt::Debug for Wgpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wgpu")
            .field("adapter", &self.adapter_description())
            .finish()
    }
}
