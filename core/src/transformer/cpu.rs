//! [`TransformerOps`] on the CPU backend: the one-row references of [`super::reference`] over
//! whole batches, rows spread over rayon's threads (each row's result is the same on any
//! thread, so the output never depends on the thread count).

use super::reference::{apply_rope, attend, rms_norm, rope_table, swiglu};
use super::{AttentionShape, RowPlace, SeqCache, TransformerOps};
use crate::cpu::Cpu;
use crate::error::{check_len, CoreError, Result};
use rayon::prelude::*;

/// Buffers of this many elements or more are processed on rayon's threads.
const PARALLEL_ELEMS: usize = 1 << 14;

/// `f(row index, row)` on every `width`-row of `m`.
fn rows_mut(m: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if m.len() >= PARALLEL_ELEMS {
        m.par_chunks_mut(width)
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    } else {
        m.chunks_mut(width)
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    }
}

/// An error unless `len` is a whole number of `width`-rows.
fn whole_rows(what: &str, len: usize, width: usize) -> Result<usize> {
    if width == 0 || !len.is_multiple_of(width) {
        return Err(CoreError::invalid(
            what,
            format!("{len} elements are not whole rows of {width}"),
        ));
    }
    Ok(len / width)
}

impl TransformerOps for Cpu {
    type KvCache = SeqCache;

    fn new_kv_cache(&self, n_layers: usize) -> SeqCache {
        SeqCache::new(n_layers)
    }

    fn kv_len(&self, cache: &SeqCache) -> usize {
        cache.len()
    }

    fn rms_norm_rows(
        &self,
        x: &Vec<f32>,
        weight: &Vec<f32>,
        width: usize,
        eps: f32,
    ) -> Result<Vec<f32>> {
        whole_rows("rms_norm input", x.len(), width)?;
        check_len("rms_norm weight", width, weight.len())?;
        let mut y = vec![0.0f32; x.len()];
        rows_mut(&mut y, width, |r, yr| {
            rms_norm(&x[r * width..(r + 1) * width], weight, eps, yr)
        });
        Ok(y)
    }

    fn rope_table(&self, positions: &[usize], head_dim: usize, base: f32) -> Result<Vec<f32>> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(CoreError::invalid(
                "rope_table",
                format!("head_dim {head_dim} is not a positive even number"),
            ));
        }
        Ok(positions
            .iter()
            .flat_map(|&p| rope_table(p, head_dim, base))
            .collect())
    }

    fn rope_rows(
        &self,
        x: &mut Vec<f32>,
        width: usize,
        head_dim: usize,
        table: &Vec<f32>,
    ) -> Result<()> {
        let rows = whole_rows("rope input", x.len(), width)?;
        whole_rows("rope row", width, head_dim)?;
        check_len("rope table", rows * head_dim, table.len())?;
        rows_mut(x, width, |r, row| {
            let t = &table[r * head_dim..(r + 1) * head_dim];
            apply_rope(row, head_dim, t);
        });
        Ok(())
    }

    fn swiglu(&self, gate: &mut Vec<f32>, up: &Vec<f32>) -> Result<()> {
        check_len("swiglu up", gate.len(), up.len())?;
        // Elementwise, so any split gives the same bits.
        if gate.len() >= PARALLEL_ELEMS {
            gate.par_chunks_mut(PARALLEL_ELEMS / 4)
                .zip(up.par_chunks(PARALLEL_ELEMS / 4))
                .for_each(|(g, u)| swiglu(g, u));
        } else {
            swiglu(gate, up);
        }
        Ok(())
    }

    fn add_assign(&self, x: &mut Vec<f32>, y: &Vec<f32>) -> Result<()> {
        check_len("residual", x.len(), y.len())?;
        for (a, b) in x.iter_mut().zip(y) {
            *a += b;
        }
        Ok(())
    }

    fn kv_write(
        &self,
        caches: &mut [SeqCache],
        layer: usize,
        keys: &Vec<f32>,
        values: &Vec<f32>,
        counts: &[usize],
    ) -> Result<()> {
        check_len("kv_write counts", caches.len(), counts.len())?;
        check_len("kv_write values", keys.len(), values.len())?;
        let rows: usize = counts.iter().sum();
        let kv_dim = if rows == 0 {
            0
        } else {
            whole_rows("kv_write keys", keys.len(), rows)?
        };
        if let Some(c) = caches.iter().find(|c| layer >= c.n_layers()) {
            return Err(CoreError::invalid(
                "kv_write",
                format!("layer {layer} of a cache of {} layers", c.n_layers()),
            ));
        }
        let mut r0 = 0;
        for (c, &n) in caches.iter_mut().zip(counts) {
            let (a, b) = (r0 * kv_dim, (r0 + n) * kv_dim);
            c.append(layer, &keys[a..b], &values[a..b]);
            r0 += n;
        }
        Ok(())
    }

    fn kv_advance(&self, caches: &mut [SeqCache], counts: &[usize]) -> Result<()> {
        check_len("kv_advance counts", caches.len(), counts.len())?;
        for (c, &n) in caches.iter_mut().zip(counts) {
            c.advance(n);
        }
        Ok(())
    }

    fn attention(
        &self,
        q: &Vec<f32>,
        caches: &[SeqCache],
        layer: usize,
        places: &[RowPlace],
        shape: AttentionShape,
    ) -> Result<Vec<f32>> {
        let (q_dim, kv_dim) = (shape.q_dim(), shape.kv_dim());
        if shape.n_kv_heads == 0 || !shape.n_heads.is_multiple_of(shape.n_kv_heads) {
            return Err(CoreError::invalid(
                "attention",
                format!(
                    "{} query heads cannot share {} key/value heads",
                    shape.n_heads, shape.n_kv_heads
                ),
            ));
        }
        check_len("attention queries", places.len() * q_dim, q.len())?;
        for (r, p) in places.iter().enumerate() {
            let cached = caches
                .get(p.seq)
                .filter(|c| layer < c.n_layers())
                .map(|c| c.layer(layer).0.len() / kv_dim.max(1));
            if cached.is_none_or(|n| n <= p.pos) {
                return Err(CoreError::invalid(
                    "attention",
                    format!(
                        "row {r} at position {} of sequence {} has no cached key there",
                        p.pos, p.seq
                    ),
                ));
            }
        }
        let mut out = vec![0.0f32; q.len()];
        let row = |(r, o): (usize, &mut [f32]), scores: &mut Vec<f32>| {
            let RowPlace { seq, pos } = places[r];
            let (keys, values) = caches[seq].layer(layer);
            let qr = &q[r * q_dim..(r + 1) * q_dim];
            let AttentionShape {
                n_heads,
                n_kv_heads,
                head_dim,
            } = shape;
            attend(
                qr, keys, values, pos, n_heads, n_kv_heads, head_dim, scores, o,
            );
        };
        if out.len() >= PARALLEL_ELEMS {
            out.par_chunks_mut(q_dim)
                .enumerate()
                .for_each_with(Vec::new(), |sc, item| row(item, sc));
        } else {
            let mut sc = Vec::new();
            out.chunks_mut(q_dim)
                .enumerate()
                .for_each(|item| row(item, &mut sc));
        }
        Ok(out)
    }
}
