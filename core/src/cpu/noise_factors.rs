//! Regenerating one stream's perturbation factors for a parameter.

use crate::noise::fill_normals;
use crate::population::Population;

/// Fill `buf` with stream `stream`'s low-rank factors of a `rows × cols` matrix of rank `r`
/// and return `(B, A)`: `B` is `cols × r`, `A` is `rows × r`, both row-major, as the
/// first `cols·r` and next `rows·r` elements of the stream (the reference's `Z[:b]`, `Z[b:]`).
pub fn low_rank_factors<'a>(
    pop: &Population,
    param: u32,
    stream: u32,
    rows: usize,
    cols: usize,
    r: usize,
    buf: &'a mut Vec<f32>,
) -> (&'a [f32], &'a [f32]) {
    buf.resize((rows + cols) * r, 0.0);
    fill_normals(pop.key(param, stream), 0, 1.0, buf);
    buf.split_at(cols * r)
}

/// Fill `out` with elements `start..start+out.len()` of stream `stream` of parameter `param`
/// (full-rank matrix noise row-major, or vector noise).
pub fn full_noise(pop: &Population, param: u32, stream: u32, start: usize, out: &mut [f32]) {
    fill_normals(pop.key(param, stream), start as u32, 1.0, out);
}
