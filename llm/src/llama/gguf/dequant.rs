//! Dequantisation of ggml blocks to f32: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K.
//!
//! Each block type has one function turning one block's bytes into its values, written from
//! ggml's block layouts (documented on [`GgmlType`]). Large tensors are split into runs of
//! whole blocks across rayon's threads; every value depends on its own block only, so the
//! result does not depend on the thread count.

use super::types::GgmlType;
use half::{bf16, f16};
use rayon::prelude::*;

/// Blocks per parallel task.
const BLOCKS_PER_TASK: usize = 1024;

/// Dequantise `bytes` (whole blocks of type `ty`) into `out`, which must hold exactly the
/// number of values those blocks encode. The error says what is wrong (the caller names the
/// tensor).
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), String> {
    let (bl, bb) = (ty.block_len(), ty.block_bytes());
    let block = block_function(ty).ok_or_else(|| {
        format!(
            "type {ty} is not supported (this reader dequantises F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K)"
        )
    })?;
    if !out.len().is_multiple_of(bl) || bytes.len() != out.len() / bl * bb {
        return Err(format!(
            "{} bytes of {ty} do not encode {} values",
            bytes.len(),
            out.len()
        ));
    }
    let task = |(src, dst): (&[u8], &mut [f32])| {
        for (b, y) in src.chunks_exact(bb).zip(dst.chunks_exact_mut(bl)) {
            block(b, y);
        }
    };
    if out.len() / bl <= BLOCKS_PER_TASK {
        task((bytes, out));
    } else {
        bytes
            .par_chunks(bb * BLOCKS_PER_TASK)
            .zip(out.par_chunks_mut(bl * BLOCKS_PER_TASK))
            .for_each(task);
    }
    Ok(())
}

fn half_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

fn f32_block(b: &[u8], y: &mut [f32]) {
    y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
}

fn f16_block(b: &[u8], y: &mut [f32]) {
    y[0] = half_at(b, 0);
}

fn bf16_block(b: &[u8], y: &mut [f32]) {
    y[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32();
}

/// f16 `d`, then 32 signed bytes: `x = d·q`.
fn q8_0_block(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    for (v, &q) in y.iter_mut().zip(&b[2..34]) {
        *v = d * f32::from(q as i8);
    }
}

/// f16 `d`, then 16 bytes: byte `j`'s low nibble is value `j`, its high nibble value
/// `j + 16`; `x = d·(q − 8)`.
fn q4_0_block(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 0);
    for (j, &q) in b[2..18].iter().enumerate() {
        y[j] = d * (f32::from(q & 0x0f) - 8.0);
        y[j + 16] = d * (f32::from(q >> 4) - 8.0);
    }
}

/// Dequantises one block: its bytes in, its values out.
pub(crate) type BlockFn = fn(&[u8], &mut [f32]);

/// The function dequantising one block of `ty`, if this reader knows the type.
pub(crate) fn block_function(ty: GgmlType) -> Option<BlockFn> {
    Some(match ty {
        GgmlType::F32 => f32_block,
        GgmlType::F16 => f16_block,
        GgmlType::BF16 => bf16_block,
        GgmlType::Q8_0 => q8_0_block,
        GgmlType::Q4_0 => q4_0_block,
        GgmlType::Q4_1 => q4_1_block,
        GgmlType::Q4K => q4_k_block,
        GgmlType::Q6K => q6_k_block,
        _ => return None,
    })
}

/// f16 `d`, f16 `m`, then 16 bytes of nibbles as in Q4_0; `x = d·q + m`.
fn q4_1_block(b: &[u8], y: &mut [f32]) {
    let (d, m) = (half_at(b, 0), half_at(b, 2));
    for (j, &q) in b[4..20].iter().enumerate() {
        y[j] = d * f32::from(q & 0x0f) + m;
        y[j + 16] = d * f32::from(q >> 4) + m;
    }
}

/// Scale and min of sub-block `j` (0..8) of a Q4_K block from its 12 packed bytes: 6 bits
/// each; sub-blocks 0–3 keep theirs in the low 6 bits of bytes `j` and `j + 4`, sub-blocks 4–7
/// take 4 low bits from byte `j + 4` and their 2 high bits from the top of bytes `j − 4`
/// (scale) and `j` (min).
fn q4_k_scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// f16 `d`, f16 `dmin`, 12 bytes of scales/mins, 128 bytes of nibbles. The 256 values are
/// 8 sub-blocks of 32 with `x = d·sc·q − dmin·mn`; each 32-byte group of nibbles holds two
/// sub-blocks (low nibbles the first, high nibbles the second).
fn q4_k_block(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (half_at(b, 0), half_at(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for g in 0..4 {
        let q = &qs[32 * g..32 * g + 32];
        let (sc1, m1) = q4_k_scale_min(2 * g, scales);
        let (sc2, m2) = q4_k_scale_min(2 * g + 1, scales);
        let (d1, mn1) = (d * f32::from(sc1), dmin * f32::from(m1));
        let (d2, mn2) = (d * f32::from(sc2), dmin * f32::from(m2));
        let out = &mut y[64 * g..64 * g + 64];
        for l in 0..32 {
            out[l] = d1 * f32::from(q[l] & 0x0f) - mn1;
            out[l + 32] = d2 * f32::from(q[l] >> 4) - mn2;
        }
    }
}

/// 128 bytes `ql` (low 4 bits), 64 bytes `qh` (high 2 bits), 16 signed scales, f16 `d`.
/// Each half of 128 values uses 64 bytes of `ql`, 32 of `qh` and 8 scales; within it value
/// `l + 32·k` (k = 0..4, l = 0..32) takes nibble `k / 2` (low for even k) of `ql[l + 32·(k % 2)]`,
/// bits `2k..2k+2` of `qh[l]` on top, minus 32, times `d · scale[l / 16 + 2k]`.
fn q6_k_block(b: &[u8], y: &mut [f32]) {
    let d = half_at(b, 208);
    for h in 0..2 {
        let ql = &b[64 * h..64 * h + 64];
        let qh = &b[128 + 32 * h..128 + 32 * h + 32];
        let sc = &b[192 + 8 * h..192 + 8 * h + 8];
        let out = &mut y[128 * h..128 * h + 128];
        for l in 0..32 {
            let is = l / 16;
            let hi = qh[l];
            let q = [
                (ql[l] & 0x0f) | ((hi & 3) << 4),
                (ql[l + 32] & 0x0f) | (((hi >> 2) & 3) << 4),
                (ql[l] >> 4) | (((hi >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((hi >> 6) & 3) << 4),
            ];
            for (k, &qk) in q.iter().enumerate() {
                let s = f32::from(sc[is + 2 * k] as i8);
                out[l + 32 * k] = d * s * (f32::from(qk) - 32.0);
            }
        }
    }
}

#[cfg(test)]
#[path = "dequant_tests.rs"]
mod tests;
