//! The batched (perturbed) linear layer: key derivation, low-rank projection, then the
//! shared GEMM with its fused epilogue (or, for OpenES, a dense correction pass).

use crate::buffer::WgpuBuffer;
use crate::device::Wgpu;
use crate::dispatch::{to_u32, Batch, Uniform};
use crate::error::Result;
use eggroll_core::backend::LinearLayer;
use eggroll_core::population::{MemberRows, NoiseKind, Population};
use eggroll_core::CoreError;

/// The validated geometry of one perturbed call.
struct Members {
    first_member: u32,
    rows_per_member: usize,
    count: usize,
    first_stream: u32,
    streams: u32,
}

fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected != got {
        return Err(CoreError::shape(what, expected, got).into());
    }
    Ok(())
}

fn members(pop: &Population, mr: MemberRows, rows: usize) -> Result<Members> {
    pop.validate()?;
    if mr.rows_per_member == 0 || rows % mr.rows_per_member != 0 {
        return Err(CoreError::invalid(
            "rows_per_member",
            format!("{} does not divide {rows} rows", mr.rows_per_member),
        )
        .into());
    }
    let count = rows / mr.rows_per_member;
    if mr.first_member as u64 + count as u64 > pop.size as u64 {
        return Err(CoreError::invalid(
            "member rows",
            format!(
                "{count} members from {} exceed N = {}",
                mr.first_member, pop.size
            ),
        )
        .into());
    }
    let first_stream = pop.stream_of(mr.first_member);
    let streams = if count == 0 {
        0
    } else {
        pop.stream_of(mr.first_member + count as u32 - 1) - first_stream + 1
    };
    Ok(Members {
        first_member: mr.first_member,
        rows_per_member: mr.rows_per_member,
        count,
        first_stream,
        streams,
    })
}

impl Wgpu {
    /// Record the key derivation for streams `first .. first + count` of a weight and bias id.
    pub(crate) fn record_keys(
        &self,
        batch: &mut Batch<'_>,
        pop: &Population,
        ids: (u32, u32),
        first: u32,
        count: u32,
    ) -> Result<WgpuBuffer> {
        let keys = self.alloc("stream keys", count as usize * 4)?;
        let params = Uniform::new()
            .u(pop.seed as u32)
            .u((pop.seed >> 32) as u32)
            .u(pop.epoch)
            .u(ids.0)
            .u(ids.1)
            .u(first)
            .u(count);
        let grid = self.grid_for("stream keys", count as usize, 64)?;
        batch.dispatch(&self.kernels.keys, params, &[&keys.buffer], grid);
        Ok(keys)
    }

    /// `x` (rows × in) through the layer, perturbed per member when `perturb` is given.
    pub fn linear_forward(
        &self,
        x: &WgpuBuffer,
        rows: usize,
        layer: &LinearLayer<'_, WgpuBuffer>,
        perturb: Option<(&Population, MemberRows)>,
    ) -> Result<WgpuBuffer> {
        let (n_in, n_out) = (layer.in_dim, layer.out_dim);
        check_len("linear input", rows * n_in, x.len())?;
        check_len("linear weight", n_out * n_in, layer.weight.len())?;
        if let Some((b, _)) = layer.bias {
            check_len("linear bias", n_out, b.len())?;
        }
        let geometry = match perturb {
            Some((pop, mr)) => Some((pop, members(pop, mr, rows)?)),
            None => None,
        };
        to_u32("linear output elements", rows * n_out)?;
        to_u32("linear input elements", rows * n_in)?;
        self.checked("linear", || {
            let y = self.alloc("linear output", rows * n_out)?;
            let mut batch = Batch::new(self);
            let dummy = &self.knots;
            let bias = layer.bias.map(|(b, _)| &b.buffer).unwrap_or(dummy);
            let bias_id = layer.bias.map(|(_, id)| id).unwrap_or(layer.weight_id);
            let mut keys = None;
            let mut proj = None;
            let mut low_rank = None;
            if let Some((pop, g)) = &geometry {
                let k = self.record_keys(
                    &mut batch,
                    pop,
                    (layer.weight_id, bias_id),
                    g.first_stream,
                    g.streams,
                )?;
                if let NoiseKind::LowRank { rank } = pop.kind {
                    let t = self.alloc("low-rank projection", rows * rank as usize)?;
                    let params = Uniform::new()
                        .u(to_u32("rows per member", g.rows_per_member)?)
                        .u(n_in as u32)
                        .u(rank)
                        .u(g.count as u32)
                        .u(g.first_member)
                        .u(pop.antithetic as u32)
                        .u(g.first_stream);
                    let grid = self.grid("low-rank projection", g.count as u64 * rank as u64)?;
                    batch.dispatch(
                        &self.kernels.project,
                        params,
                        &[&x.buffer, &k.buffer, &t.buffer],
                        grid,
                    );
                    low_rank = Some((*pop, rank, g));
                    proj = Some(t);
                }
                keys = Some(k);
            }
            let (lr_on, rank, rpm, first_member, anti, first_stream, scale, sigma) = match low_rank
            {
                Some((pop, rank, g)) => (
                    1,
                    rank,
                    g.rows_per_member as u32,
                    g.first_member,
                    pop.antithetic as u32,
                    g.first_stream,
                    pop.matrix_scale(),
                    pop.sigma,
                ),
                None => (0, 0, 1, 0, 0, 0, 0.0, 0.0),
            };
            let params = Uniform::new()
                .u(rows as u32)
                .u(n_out as u32)
                .u(n_in as u32)
                .u(layer.bias.is_some() as u32)
                .u(lr_on)
                .u(rank)
                .u(rpm)
                .u(first_member)
                .u(anti)
                .u(first_stream)
                .f(scale)
                .f(sigma);
            let grid = self.gemm_grid("linear", rows, n_out)?;
            let proj_buf = proj.as_ref().map(|t| &t.buffer).unwrap_or(dummy);
            let keys_buf = keys.as_ref().map(|k| &k.buffer).unwrap_or(dummy);
            batch.dispatch(
                &self.kernels.linear,
                params,
                &[
                    &x.buffer,
                    &layer.weight.buffer,
                    bias,
                    proj_buf,
                    keys_buf,
                    &y.buffer,
                ],
                grid,
            );
            if let (Some((pop, g)), Some(k)) = (&geometry, &keys) {
                if pop.kind == NoiseKind::Full {
                    let params = Uniform::new()
                        .u(rows as u32)
                        .u(n_out as u32)
                        .u(n_in as u32)
                        .u(layer.bias.is_some() as u32)
                        .u(g.rows_per_member as u32)
                        .u(g.first_member)
                        .u(pop.antithetic as u32)
                        .u(g.first_stream)
                        .f(pop.sigma);
                    let grid = self.grid_for("full-rank correction", rows * n_out, 256)?;
                    batch.dispatch(
                        &self.kernels.full_correction,
                        params,
                        &[&x.buffer, &k.buffer, &y.buffer],
                        grid,
                    );
                }
            }
            batch.submit();
            Ok(y)
        })
    }
}
