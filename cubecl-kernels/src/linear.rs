//! The batched (perturbed) linear layer: stream keys, the low-rank projection, then the
//! shared GEMM with its fused epilogue (or, for OpenES, a dense correction pass).

use crate::buffer::{handle_arg, CubeBuffer};
use crate::device::Cubecl;
use crate::error::Result;
use crate::kernels::{correction, elementwise, gemm};
use crate::launch::to_u32;
use eggroll_core::backend::{linear_tagged_by_runs, LinearLayer};
use eggroll_core::error::check_len;
use eggroll_core::population::{NoiseKind, Population, RowOwners};

/// The validated geometry of one perturbed call.
struct Members {
    first_member: u32,
    rows_per_member: u32,
    count: u32,
    first_stream: u32,
    streams: u32,
    member_flags: u32,
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
    let count = (rows / rows_per_member) as u32; // ≤ N, a u32
    let (first_stream, streams) = pop.stream_span(first_member, count);
    Ok(Members {
        first_member,
        rows_per_member: to_u32("rows per member", rows_per_member)?,
        count,
        first_stream,
        streams,
        member_flags: pop.member_flags(),
    })
}

impl Cubecl {
    /// Derive on the device the keys of streams `first .. first + count` for a weight and a
    /// bias id: four words per stream.
    pub(crate) fn stream_keys(
        &self,
        pop: &Population,
        ids: (u32, u32),
        first: u32,
        count: u32,
    ) -> Result<CubeBuffer> {
        let keys = self.alloc("stream keys", count as usize * 4)?;
        if let Some((cubes, dim)) =
            self.grid_1d("stream keys", count as usize, elementwise::KEYS_DIM)?
        {
            elementwise::stream_keys::launch(
                &self.client,
                cubes,
                dim,
                keys.arg(),
                pop.seed as u32,
                (pop.seed >> 32) as u32,
                pop.epoch,
                ids.0,
                ids.1,
                first,
                count,
            );
        }
        Ok(keys)
    }

    /// The projection `T = X_i·B_i` (rows × rank) of every member's rows.
    fn project(
        &self,
        x: &CubeBuffer,
        n_in: u32,
        rank: u32,
        g: &Members,
        keys: &CubeBuffer,
    ) -> Result<CubeBuffer> {
        let rows = g.count as usize * g.rows_per_member as usize;
        let proj = self.alloc("low-rank projection", rows * rank as usize)?;
        let blocks = g.rows_per_member.div_ceil(correction::PROJECT_ROWS) as usize;
        let units = g.count as usize * blocks * rank as usize;
        to_u32("low-rank projection units", units)?;
        if let Some((count, dim)) =
            self.grid_1d("low-rank projection", units, correction::PROJECT_DIM)?
        {
            correction::project::launch(
                &self.client,
                count,
                dim,
                x.arg(),
                keys.arg(),
                self.knots_arg(),
                proj.arg(),
                g.rows_per_member,
                blocks as u32,
                n_in,
                rank,
                g.count,
                g.first_member,
                g.member_flags,
                g.first_stream,
            );
        }
        Ok(proj)
    }

    /// `x` (rows × in) through the layer, each row perturbed by the member `owners` names.
    ///
    /// Tagged rows ([`RowOwners::Tagged`], a compacted batch) have no kernel of their own here:
    /// they take [`linear_tagged_by_runs`], one grouped call per run of rows of one member and
    /// a host round trip, correct but slow (the CPU backend corrects them in place).
    pub fn linear_forward(
        &self,
        x: &CubeBuffer,
        rows: usize,
        layer: &LinearLayer<'_, CubeBuffer>,
        owners: RowOwners<'_>,
    ) -> Result<CubeBuffer> {
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
        let m = to_u32("linear rows", rows)?;
        let n = to_u32("linear output dimension", n_out)?;
        let k = to_u32("linear input dimension", n_in)?;
        to_u32("linear output elements", rows * n_out)?;
        to_u32("linear input elements", rows * n_in)?;
        let y = self.alloc("linear output", rows * n_out)?;
        let Some((cubes, dim)) = self.gemm_grid("linear", rows, n_out)? else {
            return Ok(y);
        };
        let has_bias = layer.bias.is_some();
        let bias_id = layer.bias.map_or(layer.weight_id, |(_, id)| id);
        let noise = match geometry {
            Some((pop, g)) => {
                let keys =
                    self.stream_keys(pop, (layer.weight_id, bias_id), g.first_stream, g.streams)?;
                let proj = match pop.kind {
                    NoiseKind::LowRank { rank } => Some(self.project(x, k, rank, &g, &keys)?),
                    NoiseKind::Full => None,
                };
                Some((pop, g, keys, proj))
            }
            None => None,
        };
        let dummy = || handle_arg(&self.dummy, 1);
        let bias_arg = layer.bias.map_or_else(dummy, |(b, _)| b.arg());
        match &noise {
            Some((pop, g, keys, Some(proj))) => {
                let rank = match pop.kind {
                    NoiseKind::LowRank { rank } => rank,
                    NoiseKind::Full => 0,
                };
                gemm::linear::launch(
                    &self.client,
                    cubes,
                    dim,
                    x.arg(),
                    layer.weight.arg(),
                    bias_arg,
                    proj.arg(),
                    keys.arg(),
                    self.knots_arg(),
                    y.arg(),
                    m,
                    n,
                    k,
                    rank,
                    g.rows_per_member,
                    g.first_member,
                    g.member_flags,
                    g.first_stream,
                    pop.matrix_scale(),
                    pop.sigma,
                    has_bias,
                    true,
                );
            }
            _ => {
                gemm::linear::launch(
                    &self.client,
                    cubes,
                    dim,
                    x.arg(),
                    layer.weight.arg(),
                    bias_arg,
                    dummy(),
                    dummy(),
                    self.knots_arg(),
                    y.arg(),
                    m,
                    n,
                    k,
                    0,
                    1,
                    0,
                    0,
                    0,
                    0.0,
                    0.0,
                    has_bias,
                    false,
                );
            }
        }
        if let Some((pop, g, keys, None)) = &noise {
            if let Some((count, dim)) = self.grid_1d(
                "full-rank correction",
                rows * n_out,
                elementwise::ELEMENTWISE_DIM,
            )? {
                correction::full_correction::launch(
                    &self.client,
                    count,
                    dim,
                    x.arg(),
                    keys.arg(),
                    self.knots_arg(),
                    y.arg(),
                    m,
                    n,
                    k,
                    g.rows_per_member,
                    g.first_member,
                    g.member_flags,
                    g.first_stream,
                    pop.sigma,
                    has_bias,
                );
            }
        }
        self.check("linear", [&y.handle])?;
        Ok(y)
    }
}
