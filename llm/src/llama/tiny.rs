//! Tiny random Llama models written as GGUF files (F32 tensors), for tests and benchmarks
//! that must run without the real model: the same metadata keys and tensor names as a
//! llama.cpp conversion, and a byte-level tokenizer (every byte a token, a few merges, the
//! `smollm` pre-tokenizer and ChatML), so everything that reads SmolLM2 reads these too.

use super::gguf::{GgufWriter, MetaValue};

/// The shape of a tiny model.
#[derive(Clone, Copy, Debug)]
pub struct TinySpec {
    /// Transformer blocks.
    pub n_layers: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`).
    pub n_kv_heads: usize,
    /// Hidden width of the SwiGLU feed-forward.
    pub ffn_dim: usize,
    /// Rotary base.
    pub rope_base: f32,
    /// Whether the head reuses the token embedding (no `output.weight`).
    pub tied: bool,
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            n_layers: 2,
            d_model: 32,
            n_heads: 4,
            n_kv_heads: 2,
            ffn_dim: 48,
            rope_base: 10_000.0,
            tied: true,
            seed: 1,
        }
    }
}

/// GPT-2's byte-to-character map: printable bytes stand for themselves, the others (space,
/// control bytes, …) for the characters from U+0100 on, in byte order.
pub fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in out.iter_mut().enumerate() {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let code = if printable {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(code).unwrap_or('\u{fffd}');
    }
    out
}

/// Special tokens of the tiny vocabulary (ids 0, 1, 2 as in SmolLM2).
pub const TINY_SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
/// Merges of the tiny vocabulary, in rank order; `1 2` and `Ġ 1` exist so that tests see
/// the digit rule override them.
pub const TINY_MERGES: [&str; 6] = ["a b", "Ġ ab", "1 2", "Ġ 1", "T h", "Th e"];

/// The tiny vocabulary: the specials, the 256 byte characters, then one token per merge.
pub fn tiny_vocab() -> Vec<String> {
    let mut v: Vec<String> = TINY_SPECIALS.iter().map(|s| s.to_string()).collect();
    v.extend(byte_chars().iter().map(|c| c.to_string()));
    v.extend(TINY_MERGES.iter().map(|m| m.replace(' ', "")));
    v
}

/// Tokenizer metadata (`tokenizer.*`) of the tiny vocabulary.
pub fn add_tiny_tokenizer(w: &mut GgufWriter) {
    let vocab = tiny_vocab();
    let strings = |v: Vec<String>| MetaValue::Array(v.into_iter().map(MetaValue::String).collect());
    let types = (0..vocab.len())
        .map(|i| MetaValue::I32(if i < TINY_SPECIALS.len() { 3 } else { 1 }))
        .collect();
    w.set("tokenizer.ggml.model", MetaValue::String("gpt2".into()))
        .set("tokenizer.ggml.pre", MetaValue::String("smollm".into()))
        .set("tokenizer.ggml.add_space_prefix", MetaValue::Bool(false))
        .set("tokenizer.ggml.add_bos_token", MetaValue::Bool(false))
        .set("tokenizer.ggml.tokens", strings(vocab))
        .set("tokenizer.ggml.token_type", MetaValue::Array(types))
        .set(
            "tokenizer.ggml.merges",
            strings(TINY_MERGES.iter().map(|s| s.to_string()).collect()),
        )
        .set("tokenizer.ggml.bos_token_id", MetaValue::U32(1))
        .set("tokenizer.ggml.eos_token_id", MetaValue::U32(2))
        .set(
            "tokenizer.chat_template",
            MetaValue::String(
                "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                    .into(),
            ),
        );
}

/// A counter-based uniform stream in [−1, 1) (splitmix64), so a spec always gives the same
/// weights.
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    fn fill(&mut self, n: usize, scale: f32, offset: f32) -> Vec<f32> {
        (0..n).map(|_| offset + scale * self.next()).collect()
    }
}

/// A tiny random Llama as a GGUF file in memory: llama metadata, the tiny tokenizer and F32
/// weights (projections uniform in ±1/√in, norms near 1).
pub fn tiny_gguf(spec: &TinySpec) -> GgufWriter {
    let vocab = tiny_vocab().len();
    let hd = spec.d_model / spec.n_heads;
    let (d, q, kv, f) = (
        spec.d_model,
        spec.n_heads * hd,
        spec.n_kv_heads * hd,
        spec.ffn_dim,
    );
    let mut w = GgufWriter::new();
    let u32v = |v: usize| MetaValue::U32(v as u32);
    w.set("general.architecture", MetaValue::String("llama".into()))
        .set(
            "general.name",
            MetaValue::String("tiny random llama".into()),
        )
        .set("llama.block_count", u32v(spec.n_layers))
        .set("llama.context_length", u32v(512))
        .set("llama.embedding_length", u32v(d))
        .set("llama.feed_forward_length", u32v(f))
        .set("llama.attention.head_count", u32v(spec.n_heads))
        .set("llama.attention.head_count_kv", u32v(spec.n_kv_heads))
        .set("llama.rope.freq_base", MetaValue::F32(spec.rope_base))
        .set(
            "llama.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        )
        .set("llama.vocab_size", u32v(vocab))
        .set("llama.rope.dimension_count", u32v(hd));
    add_tiny_tokenizer(&mut w);
    let mut rng = Uniform(spec.seed);
    let proj = |rng: &mut Uniform, rows: usize, cols: usize| {
        rng.fill(rows * cols, 1.0 / (cols as f32).sqrt(), 0.0)
    };
    w.add_f32(
        "token_embd.weight",
        &[vocab, d],
        &rng.fill(vocab * d, 1.0, 0.0),
    );
    for l in 0..spec.n_layers {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        w.add_f32(&n("attn_norm"), &[d], &rng.fill(d, 0.2, 1.0));
        w.add_f32(&n("attn_q"), &[q, d], &proj(&mut rng, q, d));
        w.add_f32(&n("attn_k"), &[kv, d], &proj(&mut rng, kv, d));
        w.add_f32(&n("attn_v"), &[kv, d], &proj(&mut rng, kv, d));
        w.add_f32(&n("attn_output"), &[d, q], &proj(&mut rng, d, q));
        w.add_f32(&n("ffn_norm"), &[d], &rng.fill(d, 0.2, 1.0));
        w.add_f32(&n("ffn_gate"), &[f, d], &proj(&mut rng, f, d));
        w.add_f32(&n("ffn_up"), &[f, d], &proj(&mut rng, f, d));
        w.add_f32(&n("ffn_down"), &[d, f], &proj(&mut rng, d, f));
    }
    w.add_f32("output_norm.weight", &[d], &rng.fill(d, 0.2, 1.0));
    if !spec.tied {
        w.add_f32("output.weight", &[vocab, d], &proj(&mut rng, vocab, d));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_chars_are_distinct_and_match_gpt2() {
        let c = byte_chars();
        let set: std::collections::HashSet<_> = c.iter().collect();
        assert_eq!(set.len(), 256);
        assert_eq!(c[b' ' as usize], 'Ġ');
        assert_eq!(c[b'\n' as usize], 'Ċ');
        assert_eq!(c[b'a' as usize], 'a');
        assert_eq!(c[0], 'Ā');
    }
}
