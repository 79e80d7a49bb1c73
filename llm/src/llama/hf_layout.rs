//! How a Hugging Face Llama checkpoint lays out the weights that GGUF names and orders its own
//! way: the tensor names, and the order of the query and key rows within each head.
//!
//! Both formats store a projection as row-major `[out, in]`, so every tensor keeps its shape
//! and values; only Q and K differ in their row order. Rotary embeddings turn pairs of a head's
//! elements by the same angle `i < head_dim/2`: llama.cpp pairs adjacent elements `(2i, 2i+1)`,
//! Hugging Face pairs the halves `(i, i + head_dim/2)`. A head's row `2i + j` (`j` ∈ {0, 1})
//! in GGUF order is therefore row `j·head_dim/2 + i` in Hugging Face order — the inverse of
//! the `permute` that `convert_hf_to_gguf.py` applies (`reshape(n_head, 2, half, in)
//! .swapaxes(1, 2)`). The rotation of each pair is the same in both, so a model with its Q and
//! K rows moved this way computes the same attention scores.

/// The Hugging Face name of GGUF tensor `gguf` (`blk.3.attn_q.weight` →
/// `model.layers.3.self_attn.q_proj.weight`), or `None` for a name with no Llama counterpart.
pub fn hf_name(gguf: &str) -> Option<String> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let part = rest.strip_suffix(".weight")?;
    let hf = match part {
        "attn_norm" => "input_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_norm" => "post_attention_layernorm",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.weight"))
}

/// Whether GGUF tensor `gguf` is a query or key projection, whose rows are ordered per head
/// differently in the two formats.
pub fn is_rotary(gguf: &str) -> bool {
    gguf.ends_with(".attn_q.weight") || gguf.ends_with(".attn_k.weight")
}

/// The Hugging Face row (within a head of `head_dim` rows) of GGUF row `r`: `2i + j` →
/// `j·head_dim/2 + i`.
pub fn hf_row_of_gguf_row(r: usize, head_dim: usize) -> usize {
    (r % 2) * (head_dim / 2) + r / 2
}

/// Which way [`permute_rows`] moves rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOrder {
    /// From llama.cpp's adjacent pairs to Hugging Face's halves (export).
    GgufToHf,
    /// From Hugging Face's halves to llama.cpp's adjacent pairs (import).
    HfToGguf,
}

/// The rows of a Q or K matrix (`data`: row-major, `cols` values a row, a whole number of
/// heads of `head_dim` rows) in the other format's order. `head_dim` must be even.
pub fn permute_rows(data: &[f32], cols: usize, head_dim: usize, order: RowOrder) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    let head = head_dim * cols;
    if head == 0 {
        return out;
    }
    for (src, dst) in data.chunks_exact(head).zip(out.chunks_exact_mut(head)) {
        for r in 0..head_dim {
            let h = hf_row_of_gguf_row(r, head_dim);
            let (from, to) = match order {
                RowOrder::GgufToHf => (r, h),
                RowOrder::HfToGguf => (h, r),
            };
            dst[to * cols..(to + 1) * cols].copy_from_slice(&src[from * cols..(from + 1) * cols]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_onto_hugging_face_names() {
        for (g, h) in [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
            (
                "blk.0.attn_norm.weight",
                "model.layers.0.input_layernorm.weight",
            ),
            (
                "blk.12.attn_q.weight",
                "model.layers.12.self_attn.q_proj.weight",
            ),
            (
                "blk.1.attn_k.weight",
                "model.layers.1.self_attn.k_proj.weight",
            ),
            (
                "blk.1.attn_v.weight",
                "model.layers.1.self_attn.v_proj.weight",
            ),
            (
                "blk.1.attn_output.weight",
                "model.layers.1.self_attn.o_proj.weight",
            ),
            (
                "blk.29.ffn_norm.weight",
                "model.layers.29.post_attention_layernorm.weight",
            ),
            (
                "blk.2.ffn_gate.weight",
                "model.layers.2.mlp.gate_proj.weight",
            ),
            ("blk.2.ffn_up.weight", "model.layers.2.mlp.up_proj.weight"),
            (
                "blk.2.ffn_down.weight",
                "model.layers.2.mlp.down_proj.weight",
            ),
        ] {
            assert_eq!(hf_name(g).as_deref(), Some(h), "{g}");
        }
        for bad in [
            "rope_freqs.weight",
            "blk.x.attn_q.weight",
            "blk.0.attn_q.bias",
        ] {
            assert_eq!(hf_name(bad), None, "{bad}");
        }
        assert!(is_rotary("blk.3.attn_q.weight") && is_rotary("blk.3.attn_k.weight"));
        assert!(!is_rotary("blk.3.attn_v.weight"));
    }

    /// One head of width 4, one column: GGUF rows (a0, b0, a1, b1) pair (a_i, b_i) adjacent;
    /// Hugging Face puts the first elements of the pairs first: (a0, a1, b0, b1).
    #[test]
    fn one_head_by_hand() {
        let gguf = [10.0, 11.0, 20.0, 21.0];
        let hf = permute_rows(&gguf, 1, 4, RowOrder::GgufToHf);
        assert_eq!(hf, [10.0, 20.0, 11.0, 21.0]);
        assert_eq!(permute_rows(&hf, 1, 4, RowOrder::HfToGguf), gguf);
        // Width 6, two columns: GGUF row 2i+j holds (10i+j, 100+10i+j).
        let g6: Vec<f32> = (0..6)
            .flat_map(|r| {
                let v = (10 * (r / 2) + r % 2) as f32;
                [v, 100.0 + v]
            })
            .collect();
        let h6 = permute_rows(&g6, 2, 6, RowOrder::GgufToHf);
        let rows: Vec<f32> = h6.chunks(2).map(|c| c[0]).collect();
        assert_eq!(rows, [0.0, 10.0, 20.0, 1.0, 11.0, 21.0]);
        assert!(h6.chunks(2).all(|c| c[1] == c[0] + 100.0));
    }

    /// The rotary turn of a head in GGUF order, moved to Hugging Face order, equals the
    /// Hugging Face rotation (`rotate_half`) of the moved head.
    #[test]
    fn rope_commutes_with_the_permutation() {
        let hd = 8;
        let x: Vec<f32> = (0..2 * hd).map(|i| (i as f32 * 0.37).sin()).collect();
        let table = eggroll_core::transformer::reference::rope_table(5, hd, 10_000.0);
        let mut gguf = x.clone();
        eggroll_core::transformer::reference::apply_rope(&mut gguf, hd, &table);
        let hf_x = permute_rows(&x, 1, hd, RowOrder::GgufToHf);
        let half = hd / 2;
        let mut hf = hf_x.clone();
        for h in 0..2 {
            for i in 0..half {
                let (c, s) = (table[2 * i], table[2 * i + 1]);
                let (a, b) = (hf_x[h * hd + i], hf_x[h * hd + i + half]);
                hf[h * hd + i] = a * c - b * s;
                hf[h * hd + i + half] = b * c + a * s;
            }
        }
        assert_eq!(permute_rows(&gguf, 1, hd, RowOrder::GgufToHf), hf);
    }

    #[test]
    fn permutation_round_trips_on_many_heads() {
        let (heads, hd, cols) = (3, 16, 5);
        let data: Vec<f32> = (0..heads * hd * cols).map(|i| i as f32).collect();
        let there = permute_rows(&data, cols, hd, RowOrder::GgufToHf);
        assert_ne!(there, data);
        assert_eq!(permute_rows(&there, cols, hd, RowOrder::HfToGguf), data);
        // Rows never leave their head.
        for (i, row) in there.chunks(cols).enumerate() {
            assert_eq!(row[0] as usize / cols / hd, i / hd);
        }
    }
}
