//! Per-member noise kernels around the shared GEMM: the low-rank projection `X_i·B_i`, the
//! OpenES dense correction, and the dense ES direction of vectors and OpenES matrices.
//! Noise is regenerated in registers from the stream keys (four words per stream: weight
//! k0, k1, bias k0, k1) and never written to memory.

use super::noise::{flat_index, member_sign, member_stream, normal_at};
use cubecl::prelude::*;

/// Units per projection cube.
pub const PROJECT_DIM: u32 = 64;
/// Rows of a member projected together by one unit, so each noise element is generated
/// once per block of rows.
pub const PROJECT_ROWS: u32 = 8;

/// `T[row, j] = Σ_i X[row, i]·B[i, j]` for every row of every member, with `B[i, j]` =
/// element `i·r + j` of the member's weight stream. Unit `t` handles rank column `t % rank`
/// of block `t / rank` (block `b`: member `b / blocks`, rows `(b % blocks)·8 ..` of it, with
/// `blocks = ⌈rows_per_member / 8⌉`, from the host), keeping its rows' sums in registers.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn project(
    x: &[f32],
    keys: &[u32],
    knots: &[u32],
    proj: &mut [f32],
    rows_per_member: u32,
    blocks: u32,
    n_in: u32,
    rank: u32,
    members: u32,
    first_member: u32,
    member_flags: u32,
    first_stream: u32,
) {
    let t = flat_index();
    let j = t % rank;
    let block = t / rank;
    let local_member = block / blocks;
    if local_member < members {
        let first_row = (block % blocks) * PROJECT_ROWS;
        let nr = min(PROJECT_ROWS, rows_per_member - first_row);
        let row0 = local_member * rows_per_member + first_row;
        let member = first_member + local_member;
        let at = (member_stream(member, member_flags) - first_stream) as usize * 4;
        let k0 = keys[at];
        let k1 = keys[at + 1];
        let mut acc = Array::<f32>::new(8usize);
        for i in 0..n_in {
            let b = normal_at(k0, k1, i * rank + j, knots);
            #[unroll]
            for q in 0..PROJECT_ROWS {
                if q < nr {
                    let xv = x[((row0 + q) * n_in + i) as usize];
                    acc[q as usize] += xv * b;
                }
            }
        }
        #[unroll]
        for q in 0..PROJECT_ROWS {
            if q < nr {
                proj[((row0 + q) * rank + j) as usize] = acc[q as usize];
            }
        }
    }
}

/// The OpenES correction added in place to `Y` (rows × n_out):
/// `Y[row, o] += s·σ·Σ_i X[row, i]·E[o, i]  (+ s·σ·ε[o] with a bias)`, with
/// `E[o, i]` = element `o·n_in + i` of the member's weight stream.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn full_correction(
    x: &[f32],
    keys: &[u32],
    knots: &[u32],
    y: &mut [f32],
    rows: u32,
    n_out: u32,
    n_in: u32,
    rows_per_member: u32,
    first_member: u32,
    member_flags: u32,
    first_stream: u32,
    sigma: f32,
    #[comptime] has_bias: bool,
) {
    let idx = flat_index();
    if idx < rows * n_out {
        let row = idx / n_out;
        let o = idx % n_out;
        let member = first_member + row / rows_per_member;
        let sign = member_sign(member, member_flags);
        let at = (member_stream(member, member_flags) - first_stream) as usize * 4;
        let mut acc = 0.0f32;
        for i in 0..n_in {
            acc += x[(row * n_in + i) as usize]
                * normal_at(keys[at], keys[at + 1], o * n_in + i, knots);
        }
        let mut v = sign * sigma * acc;
        if comptime!(has_bias) {
            v += sign * sigma * normal_at(keys[at + 2], keys[at + 3], o, knots);
        }
        y[idx as usize] += v;
    }
}

/// The ES direction of a densely perturbed tensor: `g[e] = α·Σ_k c_k·ε_k[e]` (α = σ/N).
#[cube(launch)]
pub fn grad_dense(
    keys: &[u32],
    knots: &[u32],
    coef: &[f32],
    grad: &mut [f32],
    len: u32,
    streams: u32,
    alpha: f32,
) {
    let idx = flat_index();
    if idx < len {
        let mut acc = 0.0f32;
        for s in 0..streams {
            let c = coef[s as usize];
            if c != 0.0f32 {
                acc += c * normal_at(keys[s as usize * 4], keys[s as usize * 4 + 1], idx, knots);
            }
        }
        grad[idx as usize] = alpha * acc;
    }
}
