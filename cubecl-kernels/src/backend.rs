//! `eggroll_core::Backend` for [`Cubecl`]: the trait's operations on resident device buffers,
//! plus the element-wise operations (activations, optimiser steps, raw noise).

use crate::buffer::{handle_arg, CubeBuffer};
use crate::device::Cubecl;
use crate::error::Result;
use crate::kernels::elementwise::{self, ELEMENTWISE_DIM};
use crate::launch::to_u32;
use cubecl::prelude::BufferArg;
use eggroll_core::backend::{Activation, Backend, LinearLayer};
use eggroll_core::noise::pool::{POOL_BASE, POOL_LEN};
use eggroll_core::noise::StreamKey;
use eggroll_core::optim::OptimStep;
use eggroll_core::params::ParamSpec;
use eggroll_core::population::{Population, RowOwners};
use eggroll_core::CoreError;

type CoreResult<T> = eggroll_core::Result<T>;

impl Cubecl {
    /// The noise tables (quantile knots, then the pool) as a kernel argument.
    pub(crate) fn knots_arg(&self) -> BufferArg {
        handle_arg(&self.knots, POOL_BASE + POOL_LEN)
    }

    /// Apply `act` in place.
    pub fn activate_in_place(&self, x: &mut CubeBuffer, act: Activation) -> Result<()> {
        let mode = match act {
            Activation::Identity => return Ok(()),
            Activation::Relu => 1,
            Activation::Tanh => 2,
        };
        let len = to_u32("activation elements", x.len())?;
        if let Some((cubes, dim)) = self.grid_1d("activate", x.len(), ELEMENTWISE_DIM)? {
            elementwise::activate::launch(&self.client, cubes, dim, x.arg(), len, mode);
        }
        self.check("activate", [&x.handle])
    }

    /// One optimiser step on resident buffers (`state`: none for SGD, `[m, v]` for Adam).
    pub fn step(
        &self,
        param: &mut CubeBuffer,
        grad: &CubeBuffer,
        state: &mut [CubeBuffer],
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
        let Some((cubes, dim)) = self.grid_1d("optimizer_step", param.len(), ELEMENTWISE_DIM)?
        else {
            return Ok(());
        };
        match *step {
            OptimStep::Sgd { lr } => {
                elementwise::sgd_step::launch(
                    &self.client,
                    cubes,
                    dim,
                    param.arg(),
                    grad.arg(),
                    len,
                    lr,
                );
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
                elementwise::adam_step::launch(
                    &self.client,
                    cubes,
                    dim,
                    param.arg(),
                    grad.arg(),
                    state[0].arg(),
                    state[1].arg(),
                    len,
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    bias1,
                    bias2,
                );
            }
        }
        self.check("optimizer_step", [&param.handle])
    }

    /// Elements `start .. start + len` of the stream `key` (the counter wraps like u32).
    pub fn stream_normals(&self, key: StreamKey, start: u32, len: usize) -> Result<CubeBuffer> {
        let n = to_u32("noise elements", len)?;
        let out = self.alloc("normals", len)?;
        if let Some((cubes, dim)) = self.grid_1d("normals", len, ELEMENTWISE_DIM)? {
            elementwise::normals::launch(
                &self.client,
                cubes,
                dim,
                out.arg(),
                self.knots_arg(),
                key.k0,
                key.k1,
                start,
                n,
            );
        }
        self.check("normals", [&out.handle])?;
        Ok(out)
    }
}

impl Backend for Cubecl {
    type Buffer = CubeBuffer;

    fn name(&self) -> &'static str {
        "cubecl"
    }

    fn sync(&self) -> CoreResult<()> {
        Ok(Cubecl::sync(self)?)
    }

    fn upload(&self, host: &[f32]) -> CoreResult<CubeBuffer> {
        Ok(self.upload_f32(host)?)
    }

    fn download(&self, buf: &CubeBuffer) -> CoreResult<Vec<f32>> {
        Ok(self.download_f32(buf)?)
    }

    fn linear(
        &self,
        x: &CubeBuffer,
        rows: usize,
        layer: &LinearLayer<'_, CubeBuffer>,
        owners: RowOwners<'_>,
    ) -> CoreResult<CubeBuffer> {
        Ok(self.linear_forward(x, rows, layer, owners)?)
    }

    fn activate(&self, x: &mut CubeBuffer, act: Activation) -> CoreResult<()> {
        Ok(self.activate_in_place(x, act)?)
    }

    fn es_gradient(
        &self,
        pop: &Population,
        spec: &ParamSpec,
        weights: &[f32],
    ) -> CoreResult<CubeBuffer> {
        // The inherent method of the same name (inherent methods take precedence).
        Ok(Cubecl::es_gradient(self, pop, spec, weights)?)
    }

    fn optimizer_step(
        &self,
        param: &mut CubeBuffer,
        grad: &CubeBuffer,
        state: &mut [CubeBuffer],
        step: &OptimStep,
    ) -> CoreResult<()> {
        Ok(self.step(param, grad, state, step)?)
    }

    fn normals(&self, key: StreamKey, start: u32, len: usize) -> CoreResult<CubeBuffer> {
        Ok(self.stream_normals(key, start, len)?)
    }
}
