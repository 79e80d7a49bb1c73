//! The conformance suite of [`TransformerOps`] backends, written once: every check runs a
//! backend's batched operation and compares it with the one-row references of
//! [`super::reference`] applied on the host, within [`TOLERANCE`] of the largest reference
//! magnitude (shapes ragged against any tile: 3 rows of widths 24 and 40, GQA with 4 query heads
//! on 2 key/value heads, two sequences of different lengths prefilled and then decoded), and
//! checks that invalid inputs are refused. Run it with
//! [`transformer_conformance_suite!`](crate::transformer_conformance_suite).

use super::reference::{apply_rope, attend, rms_norm, rope_table, swiglu};
use super::{AttentionShape, RowPlace, TransformerOps};
use crate::conformance::deterministic_values;

/// Relative tolerance of a backend's transformer operations against the references.
pub const TOLERANCE: f32 = 1e-5;

/// An error naming `case` unless `got` equals `want` within [`TOLERANCE`].
fn close(case: &str, got: &[f32], want: &[f32]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{case}: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    match (0..got.len()).find(|&i| (got[i] - want[i]).abs() > TOLERANCE * scale) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{case}: value {i} is {}, the reference {}",
            got[i], want[i]
        )),
    }
}

fn fetch<B: TransformerOps>(b: &B, case: &str, buf: &B::Buffer) -> Result<Vec<f32>, String> {
    b.download(buf)
        .map_err(|e| format!("{case}: download: {e}"))
}

fn put<B: TransformerOps>(b: &B, case: &str, host: &[f32]) -> Result<B::Buffer, String> {
    b.upload(host).map_err(|e| format!("{case}: upload: {e}"))
}

/// RMSNorm, the rotary embedding, SwiGLU and the residual add on 3 rows.
pub fn check_row_ops<B: TransformerOps>(b: &B) -> Result<(), String> {
    let (rows, width, head_dim) = (3usize, 24usize, 8usize);
    let x = deterministic_values(rows * width, 1);
    let w = deterministic_values(width, 2);
    let mut want = vec![0.0; rows * width];
    for (xr, yr) in x.chunks(width).zip(want.chunks_mut(width)) {
        rms_norm(xr, &w, 1e-5, yr);
    }
    let xb = put(b, "rms_norm", &x)?;
    let got = b
        .rms_norm_rows(&xb, &put(b, "rms_norm", &w)?, width, 1e-5)
        .map_err(|e| format!("rms_norm: {e}"))?;
    close("rms_norm", &fetch(b, "rms_norm", &got)?, &want)?;

    let positions = [0usize, 7, 300];
    let table = b
        .rope_table(&positions, head_dim, 10_000.0)
        .map_err(|e| format!("rope_table: {e}"))?;
    let mut want = x.clone();
    for (row, &p) in want.chunks_mut(width).zip(&positions) {
        apply_rope(row, head_dim, &rope_table(p, head_dim, 10_000.0));
    }
    let mut got = put(b, "rope", &x)?;
    b.rope_rows(&mut got, width, head_dim, &table)
        .map_err(|e| format!("rope: {e}"))?;
    close("rope", &fetch(b, "rope", &got)?, &want)?;

    let up = deterministic_values(rows * width, 3);
    let mut want = x.clone();
    swiglu(&mut want, &up);
    let mut got = put(b, "swiglu", &x)?;
    b.swiglu(&mut got, &put(b, "swiglu", &up)?)
        .map_err(|e| format!("swiglu: {e}"))?;
    close("swiglu", &fetch(b, "swiglu", &got)?, &want)?;

    let want: Vec<f32> = x.iter().zip(&up).map(|(a, c)| a + c).collect();
    let mut got = put(b, "add", &x)?;
    b.add_assign(&mut got, &put(b, "add", &up)?)
        .map_err(|e| format!("add_assign: {e}"))?;
    close("add_assign", &fetch(b, "add_assign", &got)?, &want)
}

/// Two sequences (a 3-token and a 1-token prompt) written to their caches over 2 layers and
/// attended, then one decode step each; every row's output against [`attend`] on the host.
pub fn check_attention<B: TransformerOps>(b: &B) -> Result<(), String> {
    let shape = AttentionShape {
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 8,
    };
    let (q_dim, kv_dim, layers) = (shape.q_dim(), shape.kv_dim(), 2usize);
    let mut caches = vec![b.new_kv_cache(layers), b.new_kv_cache(layers)];
    // Host copies of every sequence's keys and values per layer.
    let mut host: Vec<Vec<(Vec<f32>, Vec<f32>)>> = vec![vec![(vec![], vec![]); layers]; 2];
    for (step, counts) in [[3usize, 1], [1, 1]].into_iter().enumerate() {
        let rows: usize = counts.iter().sum();
        let start: Vec<usize> = caches.iter().map(|c| b.kv_len(c)).collect();
        let places: Vec<RowPlace> = (0..2)
            .flat_map(|s| {
                let first = start[s];
                (0..counts[s]).map(move |j| RowPlace {
                    seq: s,
                    pos: first + j,
                })
            })
            .collect();
        #[allow(clippy::needless_range_loop)] // `l` is also the layer passed to the backend
        for l in 0..layers {
            let salt = (10 * step + l) as u32;
            let (k, v) = (
                deterministic_values(rows * kv_dim, 100 + salt),
                deterministic_values(rows * kv_dim, 200 + salt),
            );
            let q = deterministic_values(rows * q_dim, 300 + salt);
            b.kv_write(
                &mut caches,
                l,
                &put(b, "kv_write", &k)?,
                &put(b, "kv_write", &v)?,
                &counts,
            )
            .map_err(|e| format!("kv_write: {e}"))?;
            let mut r0 = 0;
            for (s, &n) in counts.iter().enumerate() {
                host[s][l]
                    .0
                    .extend_from_slice(&k[r0 * kv_dim..(r0 + n) * kv_dim]);
                host[s][l]
                    .1
                    .extend_from_slice(&v[r0 * kv_dim..(r0 + n) * kv_dim]);
                r0 += n;
            }
            let got = b
                .attention(&put(b, "attention", &q)?, &caches, l, &places, shape)
                .map_err(|e| format!("attention: {e}"))?;
            let mut want = vec![0.0; rows * q_dim];
            for (r, p) in places.iter().enumerate() {
                let (keys, values) = &host[p.seq][l];
                attend(
                    &q[r * q_dim..(r + 1) * q_dim],
                    keys,
                    values,
                    p.pos,
                    shape.n_heads,
                    shape.n_kv_heads,
                    shape.head_dim,
                    &mut Vec::new(),
                    &mut want[r * q_dim..(r + 1) * q_dim],
                );
            }
            let case = format!("attention, step {step}, layer {l}");
            close(&case, &fetch(b, &case, &got)?, &want)?;
        }
        b.kv_advance(&mut caches, &counts)
            .map_err(|e| format!("kv_advance: {e}"))?;
        let lens: Vec<usize> = caches.iter().map(|c| b.kv_len(c)).collect();
        let expected: Vec<usize> = (0..2).map(|s| start[s] + counts[s]).collect();
        if lens != expected {
            return Err(format!(
                "kv_len after step {step}: {lens:?}, expected {expected:?}"
            ));
        }
    }
    Ok(())
}

/// Mismatched lengths, an odd head width and a row attending past its cache are refused.
pub fn check_rejects_invalid<B: TransformerOps>(b: &B) -> Result<(), String> {
    let buf = |n: usize| put(b, "invalid", &vec![0.5; n]);
    let refused = |case: &str, r: crate::error::Result<()>| match r {
        Ok(()) => Err(format!("{case} was accepted")),
        Err(_) => Ok(()),
    };
    refused(
        "a norm weight of the wrong width",
        b.rms_norm_rows(&buf(8)?, &buf(3)?, 4, 1e-5).map(|_| ()),
    )?;
    refused("an odd head width", b.rope_table(&[1], 3, 1e4).map(|_| ()))?;
    refused(
        "swiglu of unequal lengths",
        b.swiglu(&mut buf(4)?, &buf(5)?),
    )?;
    let mut caches = vec![b.new_kv_cache(1)];
    let shape = AttentionShape {
        n_heads: 2,
        n_kv_heads: 1,
        head_dim: 2,
    };
    let place = [RowPlace { seq: 0, pos: 0 }];
    refused(
        "attention over an empty cache",
        b.attention(&buf(4)?, &caches, 0, &place, shape).map(|_| ()),
    )?;
    refused(
        "a write to a layer the cache does not have",
        b.kv_write(&mut caches, 1, &buf(2)?, &buf(2)?, &[1]),
    )
}

/// Define one `#[test]` per transformer conformance check for a backend expression.
#[macro_export]
macro_rules! transformer_conformance_suite {
    ($b:expr) => {
        #[test]
        fn transformer_conformance_row_ops() {
            $crate::transformer::conformance::check_row_ops(&$b).unwrap();
        }
        #[test]
        fn transformer_conformance_attention() {
            $crate::transformer::conformance::check_attention(&$b).unwrap();
        }
        #[test]
        fn transformer_conformance_rejects_invalid() {
            $crate::transformer::conformance::check_rejects_invalid(&$b).unwrap();
        }
    };
}

#[cfg(test)]
mod tests {
    crate::transformer_conformance_suite!(crate::cpu::Cpu::new());
}
