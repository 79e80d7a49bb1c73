//! Decode attention with the query heads that share a key/value head taken together.
//!
//! Grouped-query attention reads each key and value head for several query heads (SmolLM2:
//! three). [`attend_body`](super::reference) walks the heads one by one, so every key and
//! value row is loaded once per query head and each head's dot products wait on one chain of
//! additions. Here up to [`MAX_GROUP`] query heads of one key/value head share each loaded
//! row: the scores of `G` heads × 4 keys are `4·G` independent chains, and the weighted sum
//! of the values keeps `G` heads' accumulators in registers. Every score and every output
//! element still performs the same roundings in the same order as the per-head path, so the
//! bits are the same (tested against it). x86-64 only: elsewhere the per-head path runs.

use super::softmax::softmax_in_place;

/// Query heads of one key/value head handled in one pass at most (3 × 4 score chains fill
/// twelve registers; the values' accumulators of three heads of 64 fill twelve AVX-512 ones).
pub(super) const MAX_GROUP: usize = 3;

/// `scores[t·n + j] = dot8(q[t], key j) · scale` for the `n` keys of `rows`, each dot product as
/// [`super::reference::dot8`] sums it: four keys at a time (past the last key, the first key
/// stands in; its extra scores are dropped), two keys per AVX-512 register when `WIDE`.
///
/// # Safety
/// The CPU must support AVX2 (AVX-512F when `WIDE`), and the caller be compiled for it.
#[inline(always)]
unsafe fn group_scores<const G: usize, const WIDE: bool>(
    q: [&[f32]; G],
    rows: &Rows,
    scale: f32,
    scores: &mut [f32],
) {
    let n = rows.n;
    let mut j = 0;
    while j < n {
        let mut ks: [&[f32]; 4] = [&[]; 4];
        for (u, k) in ks.iter_mut().enumerate() {
            *k = rows.key(if j + u < n { j + u } else { 0 });
        }
        prefetch_rows(
            rows.keys,
            rows.kv_dim,
            rows.off,
            rows.head_dim,
            j + PREFETCH_KEYS,
            4,
        );
        // SAFETY: the caller guarantees AVX2, and AVX-512F when `WIDE`.
        let d = unsafe {
            if WIDE {
                dot8_groups_wide(q, ks)
            } else {
                dot8_groups(q, ks)
            }
        };
        let keys = (n - j).min(4);
        for (t, d) in d.iter().enumerate() {
            for (s, &v) in scores[t * n + j..t * n + j + keys].iter_mut().zip(d) {
                *s = v * scale;
            }
        }
        j += 4;
    }
}

/// [`super::reference::dot8`] of each of `a` with four vectors, each pair in its own AVX2
/// register: the same lanes, the same tree and the same tail as `dot8`, so the same bits;
/// `4·G` independent chains of additions keep the adder busy where one dot product at a time
/// waits on each addition.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn dot8_groups_avx2<const G: usize>(
    a: [&[f32]; G],
    b: [&[f32]; 4],
) -> [[f32; 4]; G] {
    // SAFETY: this function runs only where AVX2 is supported.
    unsafe { dot8_groups(a, b) }
}

/// The body of [`dot8_groups_avx2`], always inlined, so a caller compiled for AVX2 gets the
/// intrinsics inline as well (a call per four keys cost more than the attention's arithmetic).
///
/// # Safety
/// The CPU must support AVX2 (and the caller be compiled for it, or the intrinsics are calls).
#[inline(always)]
unsafe fn dot8_groups<const G: usize>(a: [&[f32]; G], b: [&[f32]; 4]) -> [[f32; 4]; G] {
    // SAFETY: the caller guarantees AVX2; every load reads `i .. i + 8 <= n` of its slice.
    unsafe {
        use std::arch::x86_64::*;
        let n = b.iter().chain(&a).fold(usize::MAX, |n, v| n.min(v.len()));
        let whole = n - n % 8;
        let mut acc = [[_mm256_setzero_ps(); 4]; G];
        let mut i = 0;
        while i < whole {
            let mut y = [_mm256_setzero_ps(); 4];
            for k in 0..4 {
                y[k] = _mm256_loadu_ps(b[k].as_ptr().add(i));
            }
            for t in 0..G {
                let x = _mm256_loadu_ps(a[t].as_ptr().add(i));
                for k in 0..4 {
                    acc[t][k] = _mm256_add_ps(acc[t][k], _mm256_mul_ps(x, y[k]));
                }
            }
            i += 8;
        }
        // Loops, not `array::from_fn`: its closure would not inherit AVX2 and would be called
        // out of line, once per key (a quarter of the attention's time when it was).
        let mut out = [[0.0f32; 4]; G];
        for t in 0..G {
            for k in 0..4 {
                let s8 = acc[t][k];
                let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
                let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
                let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<1>(s2, s2));
                let mut tail = 0.0;
                for (x, y) in a[t][whole..n].iter().zip(&b[k][whole..n]) {
                    tail += x * y;
                }
                out[t][k] = _mm_cvtss_f32(s1) + tail;
            }
        }
        out
    }
}

/// [`dot8_groups`] with two keys per AVX-512 register (key `2p` in the low eight lanes, key
/// `2p + 1` in the high ones): each half adds the same products in the same order as an AVX2
/// register would, and is then reduced by the same tree, so the same bits in half the
/// multiplies and adds.
///
/// # Safety
/// The CPU must support AVX-512F, and the caller be compiled for it.
#[inline(always)]
unsafe fn dot8_groups_wide<const G: usize>(a: [&[f32]; G], b: [&[f32]; 4]) -> [[f32; 4]; G] {
    // SAFETY: the caller guarantees AVX-512F; every load reads `i .. i + 8 <= n` of its slice.
    unsafe {
        use std::arch::x86_64::*;
        let n = b.iter().chain(&a).fold(usize::MAX, |n, v| n.min(v.len()));
        let whole = n - n % 8;
        let pair = |lo: *const f32, hi: *const f32| {
            let lo = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(lo)));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                lo,
                _mm256_castps_pd(_mm256_loadu_ps(hi)),
            ))
        };
        let mut acc = [[_mm512_setzero_ps(); 2]; G];
        let mut i = 0;
        while i < whole {
            let y0 = pair(b[0].as_ptr().add(i), b[1].as_ptr().add(i));
            let y1 = pair(b[2].as_ptr().add(i), b[3].as_ptr().add(i));
            for t in 0..G {
                let x8 = _mm256_castps_pd(_mm256_loadu_ps(a[t].as_ptr().add(i)));
                let x = _mm512_castpd_ps(_mm512_broadcast_f64x4(x8));
                acc[t][0] = _mm512_add_ps(acc[t][0], _mm512_mul_ps(x, y0));
                acc[t][1] = _mm512_add_ps(acc[t][1], _mm512_mul_ps(x, y1));
            }
            i += 8;
        }
        // The tree of `dot8` for the four keys at once: 128-bit block `k` of `s4` holds key
        // `k`'s lanes `l + (l + 4)`, then within each block `l + (l + 2)`, then lane 0 + 1;
        // the same additions of the same pairs as the one-key reduction.
        let mut out = [[0.0f32; 4]; G];
        for t in 0..G {
            let (p, q) = (acc[t][0], acc[t][1]);
            let s4 = _mm512_add_ps(
                _mm512_shuffle_f32x4::<0b10_00_10_00>(p, q),
                _mm512_shuffle_f32x4::<0b11_01_11_01>(p, q),
            );
            let s2 = _mm512_add_ps(s4, _mm512_permute_ps::<0b11_10_11_10>(s4));
            let s1 = _mm512_add_ps(s2, _mm512_permute_ps::<0b01_01_01_01>(s2));
            let firsts = _mm512_permutexvar_ps(
                _mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12),
                s1,
            );
            let mut tails = [0.0f32; 4];
            for (k, tail) in tails.iter_mut().enumerate() {
                for (x, y) in a[t][whole..n].iter().zip(&b[k][whole..n]) {
                    *tail += x * y;
                }
            }
            let sums = _mm_add_ps(_mm512_castps512_ps128(firsts), _mm_loadu_ps(tails.as_ptr()));
            _mm_storeu_ps(out[t].as_mut_ptr(), sums);
        }
        out
    }
}

/// Causal attention of one query row (the arguments of [`super::reference::attend`], the
/// shape as `(pos, n_heads, n_kv_heads, head_dim)`), the query heads of each key/value head in
/// passes of up to [`MAX_GROUP`]; the weighted sum of the values `W` output elements of each
/// head at a time; the scores two keys per AVX-512 register when `WIDE`.
///
/// # Safety
/// The CPU must support AVX2 (AVX-512F when `WIDE`), and the caller be compiled for it.
#[inline(always)]
pub(super) unsafe fn attend_grouped<const W: usize, const WIDE: bool>(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    (pos, n_heads, n_kv_heads, head_dim): (usize, usize, usize, usize),
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let group = n_heads / n_kv_heads;
    let rows = Rows {
        q,
        keys,
        values,
        kv_dim: n_kv_heads * head_dim,
        head_dim,
        n: pos + 1,
        off: 0,
    };
    for kv in 0..n_kv_heads {
        let mut h = kv * group;
        while h < (kv + 1) * group {
            let g = ((kv + 1) * group - h).min(MAX_GROUP);
            let rows = Rows {
                off: kv * head_dim,
                ..rows
            };
            // SAFETY: the caller guarantees the CPU features (this function's contract).
            unsafe {
                match g {
                    3 => rows.heads::<3, W, WIDE>(h, scores, out),
                    2 => rows.heads::<2, W, WIDE>(h, scores, out),
                    _ => rows.heads::<1, W, WIDE>(h, scores, out),
                }
            }
            h += g;
        }
    }
}

/// One query row and its sequence's cache, as [`attend_grouped`] reads them, at one key/value
/// head.
struct Rows<'a> {
    q: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
    kv_dim: usize,
    head_dim: usize,
    /// Keys attended to (the query's position + 1).
    n: usize,
    /// Offset of the key/value head in a cache row.
    off: usize,
}

impl Rows<'_> {
    /// Key `j` of this key/value head.
    #[inline(always)]
    fn key(&self, j: usize) -> &[f32] {
        let at = j * self.kv_dim + self.off;
        &self.keys[at..at + self.head_dim]
    }

    /// Query heads `h0 .. h0 + G` (all reading this key/value head) into their rows of `out`.
    ///
    /// # Safety
    /// As [`attend_grouped`].
    #[inline(always)]
    unsafe fn heads<const G: usize, const W: usize, const WIDE: bool>(
        &self,
        h0: usize,
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let (n, hd, off) = (self.n, self.head_dim, self.off);
        let scale = 1.0 / (hd as f32).sqrt();
        let mut qs: [&[f32]; G] = [&[]; G];
        for (t, qh) in qs.iter_mut().enumerate() {
            *qh = &self.q[(h0 + t) * hd..(h0 + t + 1) * hd];
        }
        scores.clear();
        scores.resize(G * n, 0.0);
        // SAFETY: the caller guarantees the CPU features.
        unsafe { group_scores::<G, WIDE>(qs, self, scale, scores) };
        for t in 0..G {
            softmax_in_place(&mut scores[t * n..(t + 1) * n]);
        }
        let mut i = 0;
        while i < hd {
            let width = (hd - i).min(W);
            for t in 0..G {
                if width < W {
                    let o = &mut out[(h0 + t) * hd + i..(h0 + t) * hd + i + width];
                    o.fill(0.0);
                    for (jj, &w) in scores[t * n..(t + 1) * n].iter().enumerate() {
                        let at = jj * self.kv_dim + off + i;
                        for (a, &v) in o.iter_mut().zip(&self.values[at..at + width]) {
                            *a += w * v;
                        }
                    }
                }
            }
            if width == W {
                let acc = weighted_sums::<G, W>(scores, n, self.values, self.kv_dim, off + i);
                for (t, acc) in acc.iter().enumerate() {
                    out[(h0 + t) * hd + i..(h0 + t) * hd + i + W].copy_from_slice(acc);
                }
            }
            i += width;
        }
    }
}

/// For each of `G` heads (weights `t·n .. (t+1)·n` of `weights`), `Σ_j w_j · v_j[at .. at + W]`
/// over the keys (values row `j` starts at `j · stride`), each element summed in key order.
#[inline(always)]
fn weighted_sums<const G: usize, const W: usize>(
    weights: &[f32],
    n: usize,
    values: &[f32],
    stride: usize,
    at: usize,
) -> [[f32; W]; G] {
    let mut acc = [[0.0f32; W]; G];
    for j in 0..n {
        prefetch_rows(values, stride, at, W, j + PREFETCH_KEYS, 1);
        let v: &[f32; W] = values[j * stride + at..j * stride + at + W]
            .try_into()
            .expect("a block of W values");
        for t in 0..G {
            let w = weights[t * n + j];
            for l in 0..W {
                acc[t][l] += w * v[l];
            }
        }
    }
    acc
}

/// How many keys ahead of the one in use the attention asks for the cache lines of the next
/// rows: a head's keys and values sit 64-float slices apart in rows of all heads, a stride the
/// hardware prefetcher follows late.
const PREFETCH_KEYS: usize = 8;

/// Ask for the cache lines of `width` floats at `at` in rows `first .. first + count` of
/// `data` (rows `stride` apart); rows past its end are skipped. A hint only: no result changes.
#[inline(always)]
fn prefetch_rows(data: &[f32], stride: usize, at: usize, width: usize, first: usize, count: usize) {
    for r in first..first + count {
        let start = r * stride + at;
        if start + width > data.len() {
            return;
        }
        let mut e = 0;
        while e < width {
            // SAFETY: `start + e` is inside `data` (checked above); prefetching has no other
            // effect than on the caches.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    data.as_ptr().add(start + e).cast(),
                )
            };
            e += 16;
        }
    }
}
