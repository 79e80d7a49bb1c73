//! The CPU references of the transformer operations, one row at a time: RMSNorm, rotary
//! embeddings (llama.cpp's adjacent-pair layout), SwiGLU's gate and causal grouped-query
//! attention over a sequence's cache. Each works on one row (or one head) so rows can be
//! spread over threads without changing any result; [`super::cpu`] runs them over batches.

#[cfg(target_arch = "x86_64")]
use super::attend_group::{attend_grouped, dot8_groups_avx2};

/// `y = x / √(mean(x²) + eps) · w` for one row.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, y: &mut [f32]) {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let r = 1.0 / (ms + eps).sqrt();
    for ((y, &x), &w) in y.iter_mut().zip(x).zip(w) {
        *y = x * r * w;
    }
}

/// Cosines and sines of the rotary angles `pos · base^(−2i/head_dim)`, `i < head_dim / 2`,
/// interleaved (`cos₀, sin₀, cos₁, sin₁, …`), computed in f64 and rounded once.
pub fn rope_table(pos: usize, head_dim: usize, base: f32) -> Vec<f32> {
    let half = head_dim / 2;
    (0..half)
        .flat_map(|i| {
            let inv_freq = f64::from(base).powf(-2.0 * i as f64 / head_dim as f64);
            let a = pos as f64 * inv_freq;
            [a.cos() as f32, a.sin() as f32]
        })
        .collect()
}

/// Rotate every head of one row in place: elements `(2i, 2i+1)` of each head turn by angle
/// `i` of `table` (GGUF/llama.cpp order; Hugging Face pairs `i` with `i + head_dim/2`).
pub fn apply_rope(row: &mut [f32], head_dim: usize, table: &[f32]) {
    for head in row.chunks_exact_mut(head_dim) {
        for (pair, cs) in head.chunks_exact_mut(2).zip(table.chunks_exact(2)) {
            let (c, s) = (cs[0], cs[1]);
            let (x0, x1) = (pair[0], pair[1]);
            pair[0] = x0 * c - x1 * s;
            pair[1] = x0 * s + x1 * c;
        }
    }
}

/// SwiGLU's gate in place: `gate ← silu(gate) · up` (16 lanes wide where the CPU has
/// AVX-512F: element by element, so the same bits at any width).
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        unsafe { swiglu_avx512(gate, up) };
        return;
    }
    swiglu_body(gate, up);
}

/// [`swiglu_body`] compiled for AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn swiglu_avx512(gate: &mut [f32], up: &[f32]) {
    swiglu_body(gate, up);
}

/// The body of [`swiglu`].
#[inline(always)]
fn swiglu_body(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = super::softmax::silu(*g) * u;
    }
}

/// Causal attention of one query row at position `pos` over a sequence's cached keys and
/// values (`keys`, `values`: positions × `n_kv_heads·head_dim`, at least `pos + 1` of them).
/// Query head `h` reads key/value head `h / (n_heads / n_kv_heads)`. `scores` is scratch.
///
/// The loops are written lane by lane ([`dot8`]), so the AVX2 build picked at run time and the
/// portable one perform the same roundings in the same order and give the same bits.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    pos: usize,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let shape = (pos, n_heads, n_kv_heads, head_dim);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (and so AVX2), checked just above.
            unsafe { attend_avx512(q, keys, values, shape, scores, out) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { attend_avx2(q, keys, values, shape, scores, out) };
            return;
        }
    }
    attend_body(q, keys, values, shape, scores, out, dot8x4);
}

/// [`attend_grouped`] compiled for AVX-512F: the values' weighted sum 64 elements (four
/// 16-lane registers) of each of up to three heads at a time, the scores two keys per
/// register. The same bits as the portable path.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn attend_avx512(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    shape: (usize, usize, usize, usize),
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    // SAFETY: this function runs only where AVX-512F, and so AVX2, is supported.
    unsafe { attend_grouped::<64, true>(q, keys, values, shape, scores, out) };
}

/// [`attend_grouped`] compiled for AVX2, the values' weighted sum 32 elements of each head at
/// a time (twelve of its sixteen registers for three heads).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn attend_avx2(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    shape: (usize, usize, usize, usize),
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    // SAFETY: this function runs only where AVX2 is supported.
    unsafe { attend_grouped::<32, false>(q, keys, values, shape, scores, out) };
}

/// [`dot8`] of `a` with four vectors.
#[inline(always)]
fn dot8x4(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    b.map(|b| dot8(a, b))
}

/// [`dot8`] of `a` with four vectors, in AVX2 registers where the CPU has them (the same
/// bits either way): for callers outside an AVX2 function, such as the training backward.
#[inline]
pub fn dot8x4_any(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { dot8_groups_avx2::<1>([a], b)[0] };
        }
    }
    dot8x4(a, b)
}

/// The body of [`attend`]: per query head, the scores four keys at a time (`dot4`, each key's
/// dot product as [`dot8`] computes it), the softmax, then the weighted sum of the values,
/// eight output elements at a time in registers; every output element adds its terms in key
/// order, as a plain loop over the keys would.
#[inline(always)]
fn attend_body(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    (pos, n_heads, n_kv_heads, head_dim): (usize, usize, usize, usize),
    scores: &mut Vec<f32>,
    out: &mut [f32],
    dot4: impl Fn(&[f32], [&[f32]; 4]) -> [f32; 4],
) {
    let kv_dim = n_kv_heads * head_dim;
    let group = n_heads / n_kv_heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let n = pos + 1;
    for h in 0..n_heads {
        let qh = &q[h * head_dim..(h + 1) * head_dim];
        let off = (h / group) * head_dim;
        let key = |j: usize| &keys[j * kv_dim + off..j * kv_dim + off + head_dim];
        scores.clear();
        scores.resize(n, 0.0);
        // Plain loops (not iterator adapters' closures), so they are compiled for AVX2 too.
        for (c, block) in scores.chunks_mut(4).enumerate() {
            let j = 4 * c;
            // Past the last key, the first key stands in; its extra scores are dropped.
            let ks: [&[f32]; 4] = std::array::from_fn(|t| key(if j + t < n { j + t } else { 0 }));
            let d = dot4(qh, ks);
            for (s, d) in block.iter_mut().zip(d) {
                *s = d * scale;
            }
        }
        super::softmax::softmax_in_place(scores);
        let o = &mut out[h * head_dim..(h + 1) * head_dim];
        let mut i = 0;
        while i < head_dim {
            let width = (head_dim - i).min(PV_BLOCK);
            let acc = if width == PV_BLOCK {
                weighted_sum::<PV_BLOCK>(scores, values, kv_dim, off + i)
            } else {
                let mut acc = [0.0f32; PV_BLOCK];
                for (j, &w) in scores.iter().enumerate() {
                    let v = &values[j * kv_dim + off + i..j * kv_dim + off + i + width];
                    for (a, &v) in acc.iter_mut().zip(v) {
                        *a += w * v;
                    }
                }
                acc
            };
            o[i..i + width].copy_from_slice(&acc[..width]);
            i += width;
        }
    }
}

/// Output elements of a head summed together in the weighted sum of the values: 64 (eight
/// AVX2 registers) are as many independent chains of additions as the registers hold, so the
/// adder is not left waiting on each addition, and a head of 64 is one pass over the keys.
const PV_BLOCK: usize = 64;

/// `Σ_j w_j · v_j[at .. at + W]` over the keys (values row `j` starts at `j · stride`), each
/// element summed in key order.
#[inline(always)]
fn weighted_sum<const W: usize>(
    weights: &[f32],
    values: &[f32],
    stride: usize,
    at: usize,
) -> [f32; W] {
    let mut acc = [0.0f32; W];
    for (j, &w) in weights.iter().enumerate() {
        let v: &[f32; W] = values[j * stride + at..j * stride + at + W]
            .try_into()
            .expect("a block of W values");
        for l in 0..W {
            acc[l] += w * v[l];
        }
    }
    acc
}

/// The dot product of `a` and `b` (equal lengths) in eight independent lanes: lane `l` sums
/// the products of elements `l`, `l + 8`, …; the lanes are added pairwise (l += l+4, l+2,
/// l+1), then the elements past the last whole block in order.
#[inline(always)]
pub fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .fold(0.0, |s, (x, y)| s + x * y);
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    for w in [4, 2, 1] {
        for l in 0..w {
            acc[l] += acc[l + w];
        }
    }
    acc[0] + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_by_hand() {
        // mean(x²) = (9 + 16) / 2 = 12.5; 1/√12.5 = 0.2828427.
        let mut y = [0.0; 2];
        rms_norm(&[3.0, -4.0], &[1.0, 2.0], 0.0, &mut y);
        assert!(
            (y[0] - 0.848_528).abs() < 1e-6 && (y[1] + 2.262_742).abs() < 1e-6,
            "{y:?}"
        );
    }

    #[test]
    fn rope_turns_adjacent_pairs() {
        // head_dim 4: pair 0 turns by pos·1, pair 1 by pos·base^(−1/2) = pos/100 at base 10⁴.
        let t = rope_table(2, 4, 10_000.0);
        let mut row = [1.0, 0.0, 0.0, 1.0];
        apply_rope(&mut row, 4, &t);
        let (a, b) = (2.0f32, 0.02f32);
        let want = [a.cos(), a.sin(), -b.sin(), b.cos()];
        for (x, w) in row.iter().zip(want) {
            assert!((x - w).abs() < 1e-6, "{row:?} vs {want:?}");
        }
        let mut same = [0.3, -0.7, 1.1, 2.0];
        apply_rope(&mut same, 4, &rope_table(0, 4, 10_000.0));
        assert_eq!(same, [0.3, -0.7, 1.1, 2.0], "position 0 is the identity");
    }

    #[test]
    fn every_vector_width_of_attention_gives_the_portable_bits() {
        // SmolLM2's head shape (9 query heads over 3 kv heads of 64), 38 keys (a partial block
        // of four), values from a hash.
        let (pos, nh, nkv, hd) = (37usize, 9usize, 3usize, 64usize);
        let val = |i: usize, salt: u32| {
            let h = crate::noise::hash32(i as u32 ^ salt.wrapping_mul(0x9e37_79b9));
            (h as i32 as f32) * 2f32.powi(-31)
        };
        let q: Vec<f32> = (0..nh * hd).map(|i| val(i, 1)).collect();
        let keys: Vec<f32> = (0..(pos + 1) * nkv * hd).map(|i| val(i, 2)).collect();
        let values: Vec<f32> = (0..(pos + 1) * nkv * hd).map(|i| val(i, 3)).collect();
        let shape = (pos, nh, nkv, hd);
        let mut want = vec![0.0; nh * hd];
        attend_body(
            &q,
            &keys,
            &values,
            shape,
            &mut Vec::new(),
            &mut want,
            dot8x4,
        );
        let mut got = vec![f32::NAN; nh * hd];
        attend(
            &q,
            &keys,
            &values,
            pos,
            nh,
            nkv,
            hd,
            &mut Vec::new(),
            &mut got,
        );
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut narrow = vec![f32::NAN; nh * hd];
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { attend_avx2(&q, &keys, &values, shape, &mut Vec::new(), &mut narrow) };
            assert!(narrow
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn attention_groups_heads_and_is_causal() {
        // 2 query heads sharing 1 kv head of width 1; keys 0 and 1 at positions 0, 1.
        let keys = [0.0, 1.0, 100.0];
        let values = [1.0, 3.0, -50.0];
        let mut out = [0.0; 2];
        attend(
            &[0.0, 2.0],
            &keys,
            &values,
            1,
            2,
            1,
            1,
            &mut Vec::new(),
            &mut out,
        );
        // Head 0: equal scores → mean 2. Head 1: scores 0, 2 → weights 1/(1+e²), e²/(1+e²).
        let e2 = 2.0f32.exp();
        assert!((out[0] - 2.0).abs() < 1e-6);
        assert!(
            (out[1] - (1.0 + 3.0 * e2) / (1.0 + e2)).abs() < 1e-5,
            "{out:?}"
        );
        // Position 0 sees only key 0 (the third key, at position 2, never).
        attend(
            &[5.0, 5.0],
            &keys,
            &values,
            0,
            2,
            1,
            1,
            &mut Vec::new(),
            &mut out,
        );
        assert_eq!(out, [1.0, 1.0]);
    }

    #[test]
    fn dot8_sums_in_its_documented_order() {
        let a: Vec<f32> = (0..19).map(|i| 1.0 + i as f32 * 0.37).collect();
        let b: Vec<f32> = (0..19).map(|i| 0.5 - i as f32 * 0.11).collect();
        let mut lanes = [0.0f32; 8];
        for i in 0..16 {
            lanes[i % 8] += a[i] * b[i];
        }
        let l4: Vec<f32> = (0..4).map(|l| lanes[l] + lanes[l + 4]).collect();
        let l2 = [l4[0] + l4[2], l4[1] + l4[3]];
        let tail = a[16] * b[16] + a[17] * b[17] + a[18] * b[18];
        assert_eq!(dot8(&a, &b).to_bits(), ((l2[0] + l2[1]) + tail).to_bits());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_dots_give_the_portable_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for n in [0usize, 3, 8, 64, 67] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.77).sin()).collect();
            let bs: Vec<Vec<f32>> = (0..4)
                .map(|k| (0..n).map(|i| (i as f32 * 1.31 + k as f32).cos()).collect())
                .collect();
            let b: [&[f32]; 4] = std::array::from_fn(|k| bs[k].as_slice());
            // SAFETY: AVX2 checked above.
            let v = unsafe { dot8_groups_avx2::<1>([&a], b)[0] };
            for k in 0..4 {
                assert_eq!(v[k].to_bits(), dot8(&a, b[k]).to_bits(), "n = {n}, key {k}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_attention_gives_the_portable_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        // Head widths with and without a tail past 8, key counts with every remainder mod 4.
        // Groups of 3, 2 + … and 3 + 2 query heads per key/value head; heads narrower than,
        // equal to and between multiples of the weighted sum's blocks (32 and 64 wide).
        for (n_heads, n_kv, head_dim) in [(9, 3, 64), (2, 1, 12), (4, 4, 6), (10, 2, 96)] {
            let kv_dim = n_kv * head_dim;
            for pos in [0usize, 1, 2, 3, 4, 6, 17] {
                let val = |i: usize, f: f32| ((i as f32) * f).sin();
                let q: Vec<f32> = (0..n_heads * head_dim).map(|i| val(i, 0.37)).collect();
                let keys: Vec<f32> = (0..(pos + 1) * kv_dim).map(|i| val(i, 0.91)).collect();
                let values: Vec<f32> = (0..(pos + 1) * kv_dim).map(|i| val(i, 1.7)).collect();
                let shape = (pos, n_heads, n_kv, head_dim);
                let mut fast = vec![0.0; q.len()];
                // SAFETY: AVX2 checked above.
                unsafe { attend_avx2(&q, &keys, &values, shape, &mut Vec::new(), &mut fast) };
                let mut slow = vec![0.0; q.len()];
                attend_body(
                    &q,
                    &keys,
                    &values,
                    shape,
                    &mut Vec::new(),
                    &mut slow,
                    dot8x4,
                );
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&slow), "{shape:?}");
                let mut widest = vec![0.0; q.len()];
                let (p, h, k, d) = shape;
                attend(&q, &keys, &values, p, h, k, d, &mut Vec::new(), &mut widest);
                assert_eq!(bits(&widest), bits(&slow), "{shape:?}, widest registers");
                // And against a plain f64 softmax-weighted sum.
                for h in 0..n_heads {
                    let off = (h / (n_heads / n_kv)) * head_dim;
                    let sc: Vec<f64> = (0..=pos)
                        .map(|j| {
                            (0..head_dim)
                                .map(|d| {
                                    q[h * head_dim + d] as f64 * keys[j * kv_dim + off + d] as f64
                                })
                                .sum::<f64>()
                                / (head_dim as f64).sqrt()
                        })
                        .collect();
                    let m = sc.iter().cloned().fold(f64::MIN, f64::max);
                    let z: f64 = sc.iter().map(|s| (s - m).exp()).sum();
                    for d in 0..head_dim {
                        let want: f64 = (0..=pos)
                            .map(|j| (sc[j] - m).exp() / z * values[j * kv_dim + off + d] as f64)
                            .sum();
                        let got = fast[h * head_dim + d] as f64;
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{shape:?} h {h} d {d}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn swiglu_gives_the_portable_bits_at_every_width() {
        let gate: Vec<f32> = (0..77).map(|i| (i as f32 * 0.83).sin() * 12.0).collect();
        let up: Vec<f32> = (0..77).map(|i| (i as f32 * 0.29).cos()).collect();
        let (mut fast, mut plain) = (gate.clone(), gate);
        swiglu(&mut fast, &up);
        swiglu_body(&mut plain, &up);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast), bits(&plain));
    }

    #[test]
    fn swiglu_by_hand() {
        let mut g = [0.0, 1.0];
        swiglu(&mut g, &[5.0, 2.0]);
        assert_eq!(g[0], 0.0);
        assert!((g[1] - 2.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
    }
}
