//! Causal grouped-query attention over whole sequences, forward and backward, for training.
//!
//! The batch is a stack of sequences (`spans`: first row and length of each); a row attends to
//! the rows of its own sequence up to itself, after the rows of the prefix it continues, if
//! any (a prompt shared by several completions is held once). The forward calls the one-row reference of
//! `eggroll_core::transformer` for every row ([`attend`]: the same roundings as the inference
//! forward, so logits agree bit for bit), and saves nothing: the backward recomputes each
//! row's softmax from the saved queries and keys (as FlashAttention does), which costs one
//! more pass over the scores instead of `heads × T²/2` floats per layer.

use super::linear::add_into;
use super::simd::{dots, with_avx2};
use eggroll_core::transformer::reference::{attend, dot8};
use eggroll_core::transformer::AttentionShape;
use rayon::prelude::*;

/// A sequence's rows in the stacked batch: `start..start + len`, optionally continuing a
/// shared prefix of `prefix_len` rows at `prefix_start..` (another sequence's rows, whose
/// activations the batch holds once however many sequences continue it: GRPO's G
/// completions of one prompt). Its rows sit at positions `prefix_len..prefix_len + len` and
/// attend to the whole prefix and to their own rows up to themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First row.
    pub start: usize,
    /// Rows (tokens).
    pub len: usize,
    /// First row of the prefix it continues (meaningless when `prefix_len` is 0).
    pub prefix_start: usize,
    /// Rows of that prefix (0: the sequence starts at position 0).
    pub prefix_len: usize,
}

impl Span {
    /// A sequence of its own from position 0.
    pub fn plain(start: usize, len: usize) -> Self {
        Span {
            start,
            len,
            prefix_start: 0,
            prefix_len: 0,
        }
    }

    /// The batch row of the span's key `j` (prefix first, then its own rows).
    #[inline]
    fn key_row(&self, j: usize) -> usize {
        match j < self.prefix_len {
            true => self.prefix_start + j,
            false => self.start + j - self.prefix_len,
        }
    }

    /// Keys (prefix and own rows).
    fn keys(&self) -> usize {
        self.prefix_len + self.len
    }
}

/// The rows `span.key_row(0..keys)` of `x` (`kvd` wide) gathered contiguously.
fn gather(x: &[f32], span: &Span, kvd: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(span.keys() * kvd);
    for j in 0..span.keys() {
        out.extend_from_slice(&x[span.key_row(j) * kvd..][..kvd]);
    }
    out
}

/// `y += a·x`.
#[inline]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// The attention output (`rows × q_dim`) of queries `q` (`rows × q_dim`, rotated) over keys
/// `k` and values `v` (`rows × kv_dim`), each row within its own span.
pub fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    spans: &[Span],
    shape: AttentionShape,
) -> Vec<f32> {
    let (qd, kvd) = (shape.q_dim(), shape.kv_dim());
    // A sequence that continues a prefix sees its keys and values gathered contiguously.
    let gathered: Vec<Option<(Vec<f32>, Vec<f32>)>> = spans
        .par_iter()
        .map(|s| (s.prefix_len > 0).then(|| (gather(k, s, kvd), gather(v, s, kvd))))
        .collect();
    let rows: Vec<(usize, usize)> = spans
        .iter()
        .enumerate()
        .flat_map(|(n, s)| (0..s.len).map(move |i| (n, i)))
        .collect();
    let mut out = vec![0.0; rows.len() * qd];
    out.par_chunks_mut(qd)
        .zip(rows.par_iter())
        .for_each_init(Vec::new, |scores, (o, &(n, i))| {
            let s = &spans[n];
            let r = s.start + i;
            let (keys, values) = match &gathered[n] {
                Some((gk, gv)) => (gk.as_slice(), gv.as_slice()),
                None => (&k[s.start * kvd..], &v[s.start * kvd..]),
            };
            attend(
                &q[r * qd..(r + 1) * qd],
                keys,
                values,
                s.prefix_len + i,
                shape.n_heads,
                shape.n_kv_heads,
                shape.head_dim,
                scores,
                o,
            );
        });
    out
}

/// The gradients `(dq, dk, dv)` of [`attention_forward`] given `dout` (`rows × q_dim`).
///
/// One task per (sequence, key/value head): it recomputes the softmax of every query head of
/// its group at every row, and owns that head's key and value gradients, so nothing is summed
/// across tasks and the result does not depend on the thread count.
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    spans: &[Span],
    shape: AttentionShape,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (qd, kvd, hd) = (shape.q_dim(), shape.kv_dim(), shape.head_dim);
    let group = shape.n_heads / shape.n_kv_heads;
    let tasks: Vec<(Span, usize)> = spans
        .iter()
        .flat_map(|&s| (0..shape.n_kv_heads).map(move |g| (s, g)))
        .collect();
    // Per task: dq of its group's heads (len × group·hd), dk and dv of its head (len × hd).
    let parts: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = tasks
        .par_iter()
        .map(|&(s, g)| backward_task(q, k, v, dout, s, g, shape))
        .collect();
    let rows = spans.iter().map(|s| s.len).sum::<usize>();
    let (mut dq, mut dk, mut dv) = (
        vec![0.0; rows * qd],
        vec![0.0; rows * kvd],
        vec![0.0; rows * kvd],
    );
    // In task order, so a shared prefix's key and value gradients add up its own part and
    // then its continuations' in one order whatever the thread count.
    for (&(s, g), (pq, pk, pv)) in tasks.iter().zip(&parts) {
        for i in 0..s.len {
            let r = s.start + i;
            let w = group * hd;
            dq[r * qd + g * w..][..w].copy_from_slice(&pq[i * w..][..w]);
        }
        for j in 0..s.keys() {
            let r = s.key_row(j);
            add_into(&mut dk[r * kvd + g * hd..][..hd], &pk[j * hd..][..hd]);
            add_into(&mut dv[r * kvd + g * hd..][..hd], &pv[j * hd..][..hd]);
        }
    }
    (dq, dk, dv)
}

with_avx2! {
    /// One task of [`attention_backward`]: span `s`, key/value head `g`; returns its group's
    /// query gradients (`len × group·hd`) and its head's key and value gradients (`keys × hd`).
    fn backward_task(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        dout: &[f32],
        s: Span,
        g: usize,
        shape: AttentionShape,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (qd, kvd, hd) = (shape.q_dim(), shape.kv_dim(), shape.head_dim);
        let group = shape.n_heads / shape.n_kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let (t, pl) = (s.len, s.prefix_len);
        let (mut dq, mut dk, mut dv) = (
            vec![0.0; t * group * hd],
            vec![0.0; s.keys() * hd],
            vec![0.0; s.keys() * hd],
        );
        let key = |j: usize| &k[s.key_row(j) * kvd + g * hd..][..hd];
        let val = |j: usize| &v[s.key_row(j) * kvd + g * hd..][..hd];
        let (mut p, mut dp) = (Vec::with_capacity(t), Vec::with_capacity(t));
        for hg in 0..group {
            let h = g * group + hg;
            for i in 0..t {
                let r = s.start + i;
                let qh = &q[r * qd + h * hd..][..hd];
                let doh = &dout[r * qd + h * hd..][..hd];
                let n = pl + i + 1;
                p.clear();
                // Four keys at a time (independent sums), each as `dot8` sums it.
                let mut j = 0;
                while j + 4 <= n {
                    let d4 = dots(qh, [key(j), key(j + 1), key(j + 2), key(j + 3)]);
                    p.extend(d4.iter().map(|d| d * scale));
                    j += 4;
                }
                p.extend((j..n).map(|j| dot8(qh, key(j)) * scale));
                // The inference forward's softmax, so the recomputed probabilities are
                // the forward's own bits.
                eggroll_core::transformer::softmax::softmax_in_place(&mut p);
                dp.clear();
                let mut j = 0;
                while j + 4 <= n {
                    dp.extend(dots(doh, [val(j), val(j + 1), val(j + 2), val(j + 3)]));
                    j += 4;
                }
                dp.extend((j..n).map(|j| dot8(doh, val(j))));
                let mut dot = 0.0;
                for (x, d) in p.iter().zip(&dp) {
                    dot += *x * d;
                }
                let dqi = &mut dq[(i * group + hg) * hd..][..hd];
                // Zipped slices (no index checks), so the loops vectorise.
                for j in 0..=pl + i {
                    let ds = p[j] * (dp[j] - dot) * scale;
                    axpy(dqi, ds, key(j));
                    axpy(&mut dk[j * hd..][..hd], ds, qh);
                    axpy(&mut dv[j * hd..][..hd], p[j], doh);
                }
            }
        }
        (dq, dk, dv)
            }
}
