//! The batched (perturbed) linear layer: key derivation, low-rank projection, then the
//! shared GEMM with its fused epilogue (or, for OpenES, a dense correction pass).

use crate::buffer::WgpuBuffer;
use crate::device::Wgpu;
use crate::dispatch::{to_u32, Batch, Uniform};
use crate::error::Result;
use eggroll_core::backend::{linear_tagged_by_runs, LinearLayer};
use eggroll_core::error::check_len;
use eggroll_core::population::{NoiseKind, Population, RowOwners};

/// The validated geometry of one perturbed call.
struct Members {
    first_member: u32,
    rows_per_member: usize,
    count: usize,
    first_stream: u32,
    streams: u32,
}

/// The recorded noise inputs of one perturbed call.
struct Noise<'p> {
    pop: &'p Population,
    g: Members,
    keys: WgpuBuffer,
    /// Rank and the projection `X_i·B` (low rank only).
    proj: Option<(u32, WgpuBuffer)>,
}

impl Noise<'_> {
    /// `Some((self, rank))` for a low-rank population.
    fn low_rank(&self) -> Option<(&Self, u32)> {
        self.proj.as_ref().map(|(rank, _)| (self, *rank))
    }
}

fn members(
    pop: &Population,
    first_member: u32,
    rows_per_member: usize,
    rows: usize,
) -> Result<Members> {
    RowOwners::Grouped {
        pop,
        first_member,
        rows_per_member,
    }
    .check(rows)?;
    let count = rows / rows_per_member;
    let (first_stream, streams) = pop.stream_span(first_member, count as u32);
    Ok(Members {
        first_member,
        rows_per_member,
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

    /// Record keys for the call's streams and, for low rank, the projection `X_i·B`.
    fn record_noise<'p>(
        &self,
        batch: &mut Batch<'_>,
        x: &WgpuBuffer,
        layer: &LinearLayer<'_, WgpuBuffer>,
        pop: &'p Population,
        g: Members,
    ) -> Result<Noise<'p>> {
        let bias_id = layer.bias.map_or(layer.weight_id, |(_, id)| id);
        let ids = (layer.weight_id, bias_id);
        let keys = self.record_keys(batch, pop, ids, g.first_stream, g.streams)?;
        let mut proj = None;
        if let NoiseKind::LowRank { rank } = pop.kind {
            let rows = g.count * g.rows_per_member;
            let t = self.alloc("low-rank projection", rows * rank as usize)?;
            let params = Uniform::new()
                .u(to_u32("rows per member", g.rows_per_member)?)
                .u(layer.in_dim as u32)
                .u(rank)
                .u(g.count as u32)
                .u(g.first_member)
                .u(pop.member_flags())
                .u(g.first_stream);
            let grid = self.grid("low-rank projection", g.count as u64 * rank as u64)?;
            let bufs = [&x.buffer, &keys.buffer, &t.buffer];
            batch.dispatch(&self.kernels.project, params, &bufs, grid);
            proj = Some((rank, t));
        }
        Ok(Noise { pop, g, keys, proj })
    }

    /// `x` (rows × in) through the layer, each row perturbed by the member `owners` names.
    ///
    /// Tagged rows ([`RowOwners::Tagged`], a compacted batch) have no kernel of their own here:
    /// they take [`linear_tagged_by_runs`], one grouped call per run of rows of one member and
    /// a host round trip, correct but slow (the CPU backend corrects them in place).
    pub fn linear_forward(
        &self,
        x: &WgpuBuffer,
        rows: usize,
        layer: &LinearLayer<'_, WgpuBuffer>,
        owners: RowOwners<'_>,
    ) -> Result<WgpuBuffer> {
        let (n_in, n_out) = (layer.in_dim, layer.out_dim);
        check_len("linear input", rows * n_in, x.len())?;
        check_len("linear weight", n_out * n_in, layer.weight.len())?;
        if let Some((b, _)) = layer.bias {
            check_len("linear bias", n_out, b.len())?;
        }
        let geometry = match owners {
            RowOwners::Plain => None,
            RowOwners::Grouped {
                pop,
                first_member,
                rows_per_member,
            } => Some((pop, members(pop, first_member, rows_per_member, rows)?)),
            RowOwners::Tagged { pop, members } => {
                return Ok(linear_tagged_by_runs(self, x, rows, layer, pop, members)?);
            }
        };
        to_u32("linear output elements", rows * n_out)?;
        to_u32("linear input elements", rows * n_in)?;
        self.checked("linear", || {
            let y = self.alloc("linear output", rows * n_out)?;
            let mut batch = Batch::new(self);
            let noise = match geometry {
                Some((pop, g)) => Some(self.record_noise(&mut batch, x, layer, pop, g)?),
                None => None,
            };
            let has_bias = layer.bias.is_some() as u32;
            let mut params = Uniform::new()
                .u(rows as u32)
                .u(n_out as u32)
                .u(n_in as u32)
                .u(has_bias);
            params = match noise.as_ref().and_then(|n| n.low_rank()) {
                Some((n, rank)) => params
                    .u(1)
                    .u(rank)
                    .u(n.g.rows_per_member as u32)
                    .u(n.g.first_member)
                    .u(n.pop.member_flags())
                    .u(n.g.first_stream)
                    .f(n.pop.matrix_scale())
                    .f(n.pop.sigma),
                None => params.u(0).u(0).u(1).u(0).u(0).u(0).f(0.0).f(0.0),
            };
            // Unused slots are bound to the (read-only) noise tables.
            let dummy = &self.knots;
            let bufs = [
                &x.buffer,
                &layer.weight.buffer,
                layer.bias.map_or(dummy, |(b, _)| &b.buffer),
                noise
                    .as_ref()
                    .and_then(|n| n.proj.as_ref())
                    .map_or(dummy, |(_, t)| &t.buffer),
                noise.as_ref().map_or(dummy, |n| &n.keys.buffer),
                &y.buffer,
            ];
            let grid = self.gemm_grid("linear", rows, n_out)?;
            batch.dispatch(&self.kernels.linear, params, &bufs, grid);
            if let Some(n) = noise.as_ref().filter(|n| n.pop.kind == NoiseKind::Full) {
                let params = Uniform::new()
                    .u(rows as u32)
                    .u(n_out as u32)
                    .u(n_in as u32)
                    .u(has_bias)
                    .u(n.g.rows_per_member as u32)
                    .u(n.g.first_member)
                    .u(n.pop.member_flags())
                    .u(n.g.first_stream)
                    .f(n.pop.sigma);
                let grid = self.grid_for("full-rank correction", rows * n_out, 256)?;
                let bufs = [&x.buffer, &n.keys.buffer, &y.buffer];
                batch.dispatch(&self.kernels.full_correction, params, &bufs, grid);
            }
            batch.submit();
            Ok(y)
        })
    }
}
