//! The weights of a Llama-family model as f32 matrices, each checked against the shape the
//! metadata implies.
//!
//! GGUF names (`blk.N.attn_q.weight` …) are kept. Q and K come as llama.cpp writes them: the
//! rows of each head ordered so that rotary pairs are adjacent elements (2i, 2i+1), which
//! [`super::ops::apply_rope`] rotates; Hugging Face checkpoints split each head in halves
//! instead and need un-permuting when exported.

use super::config::LlamaConfig;
use super::gguf::Gguf;
use crate::error::{LlmError, Result};

/// Where a model's weights are read from, by GGUF tensor name (`blk.0.attn_q.weight`) and in
/// GGUF layout (row-major, outermost dimension first; Q and K rows with adjacent rotary pairs):
/// a GGUF file, or a Hugging Face safetensors directory that maps the names and layout.
pub trait TensorSource {
    /// Row-major shape of tensor `name`, or `None` when the source has no such tensor.
    fn shape(&self, name: &str) -> Option<Vec<usize>>;
    /// Tensor `name` as f32 (dequantised or converted).
    fn tensor_f32(&self, name: &str) -> Result<Vec<f32>>;
    /// An error about this source (naming its file).
    fn error(&self, why: String) -> LlmError;
}

impl TensorSource for Gguf {
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensor(name).map(|t| t.shape())
    }

    fn tensor_f32(&self, name: &str) -> Result<Vec<f32>> {
        Gguf::tensor_f32(self, name)
    }

    fn error(&self, why: String) -> LlmError {
        Gguf::error(self, why)
    }
}

/// A row-major `rows × cols` weight (`y = x·Wᵀ`: `rows` outputs, `cols` inputs) with the
/// parameter id its noise is keyed by.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// GGUF tensor name.
    pub name: String,
    /// Noise parameter id (unique per matrix, see [`param_id`]).
    pub id: u32,
    /// Output dimension.
    pub rows: usize,
    /// Input dimension.
    pub cols: usize,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// The projections of one block, in the order their parameter ids are numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proj {
    /// Query `attn_q`.
    Q = 0,
    /// Key `attn_k`.
    K = 1,
    /// Value `attn_v`.
    V = 2,
    /// Attention output `attn_output`.
    O = 3,
    /// SwiGLU gate `ffn_gate`.
    Gate = 4,
    /// SwiGLU up `ffn_up`.
    Up = 5,
    /// SwiGLU down `ffn_down`.
    Down = 6,
}

/// Parameter ids: 0 the embedding, 1 the final norm, 2 the untied head, then 16 per block
/// (`16 + 16·layer + k`: projections 0–6 as in [`Proj`], 8 the attention norm, 9 the FFN norm).
pub fn param_id(layer: usize, slot: u32) -> u32 {
    16 + 16 * layer as u32 + slot
}

/// One transformer block.
#[derive(Clone, Debug)]
pub struct LayerWeights {
    /// RMSNorm weight before attention (`d_model`).
    pub attn_norm: Vec<f32>,
    /// `q_dim × d_model`.
    pub wq: Matrix,
    /// `kv_dim × d_model`.
    pub wk: Matrix,
    /// `kv_dim × d_model`.
    pub wv: Matrix,
    /// `d_model × q_dim`.
    pub wo: Matrix,
    /// RMSNorm weight before the feed-forward (`d_model`).
    pub ffn_norm: Vec<f32>,
    /// `ffn_dim × d_model`.
    pub w_gate: Matrix,
    /// `ffn_dim × d_model`.
    pub w_up: Matrix,
    /// `d_model × ffn_dim`.
    pub w_down: Matrix,
}

impl LayerWeights {
    /// The matrix of projection `p`.
    pub fn proj(&self, p: Proj) -> &Matrix {
        match p {
            Proj::Q => &self.wq,
            Proj::K => &self.wk,
            Proj::V => &self.wv,
            Proj::O => &self.wo,
            Proj::Gate => &self.w_gate,
            Proj::Up => &self.w_up,
            Proj::Down => &self.w_down,
        }
    }
}

/// Every weight of the model.
#[derive(Clone, Debug)]
pub struct LlamaWeights {
    /// Token embedding, `vocab × d_model` (also the head when tied).
    pub embed: Matrix,
    /// The blocks.
    pub layers: Vec<LayerWeights>,
    /// Final RMSNorm weight (`d_model`).
    pub out_norm: Vec<f32>,
    /// Untied head `vocab × d_model`, if the file has `output.weight`.
    pub head: Option<Matrix>,
}

impl LlamaWeights {
    /// Dequantise every tensor of `g` to f32, checking each shape against `cfg`.
    pub fn from_gguf(g: &Gguf, cfg: &LlamaConfig) -> Result<Self> {
        Self::from_source(g, cfg)
    }

    /// Read every weight from `g`, checking each shape against `cfg`.
    pub fn from_source(g: &dyn TensorSource, cfg: &LlamaConfig) -> Result<Self> {
        if g.shape("rope_freqs.weight").is_some() {
            return Err(g.error(
                "tensor `rope_freqs.weight` (Llama 3 rope frequency factors) is not supported"
                    .into(),
            ));
        }
        let (d, q, kv, f) = (cfg.d_model, cfg.q_dim(), cfg.kv_dim(), cfg.ffn_dim);
        let why_q = format!("head_count {} × head width {}", cfg.n_heads, cfg.head_dim);
        let why_kv = format!(
            "head_count_kv {} × head width {}",
            cfg.n_kv_heads, cfg.head_dim
        );
        let mat = |name: &str, id: u32, rows: (usize, &str), cols: (usize, &str)| {
            load(g, name, &[rows, cols]).map(|data| Matrix {
                name: name.to_string(),
                id,
                rows: rows.0,
                cols: cols.0,
                data,
            })
        };
        let dm = (d, "embedding_length");
        let vocab = (cfg.vocab_size, "vocab_size");
        let mut layers = Vec::with_capacity(cfg.n_layers);
        for l in 0..cfg.n_layers {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            let id = |p: Proj| param_id(l, p as u32);
            layers.push(LayerWeights {
                attn_norm: load(g, &n("attn_norm"), &[dm])?,
                wq: mat(&n("attn_q"), id(Proj::Q), (q, &why_q), dm)?,
                wk: mat(&n("attn_k"), id(Proj::K), (kv, &why_kv), dm)?,
                wv: mat(&n("attn_v"), id(Proj::V), (kv, &why_kv), dm)?,
                wo: mat(&n("attn_output"), id(Proj::O), dm, (q, &why_q))?,
                ffn_norm: load(g, &n("ffn_norm"), &[dm])?,
                w_gate: mat(
                    &n("ffn_gate"),
                    id(Proj::Gate),
                    (f, "feed_forward_length"),
                    dm,
                )?,
                w_up: mat(&n("ffn_up"), id(Proj::Up), (f, "feed_forward_length"), dm)?,
                w_down: mat(
                    &n("ffn_down"),
                    id(Proj::Down),
                    dm,
                    (f, "feed_forward_length"),
                )?,
            });
        }
        let head = match cfg.tied_embeddings {
            true => None,
            false => Some(mat("output.weight", 2, vocab, dm)?),
        };
        Ok(LlamaWeights {
            embed: mat("token_embd.weight", 0, vocab, dm)?,
            layers,
            out_norm: load(g, "output_norm.weight", &[dm])?,
            head,
        })
    }

    /// The output head (the embedding when tied).
    pub fn head(&self) -> &Matrix {
        self.head.as_ref().unwrap_or(&self.embed)
    }
}

/// Tensor `name` as f32 after checking its row-major shape is `want` (sizes with the
/// metadata they come from, for the error).
fn load(g: &dyn TensorSource, name: &str, want: &[(usize, &str)]) -> Result<Vec<f32>> {
    let shape = g
        .shape(name)
        .ok_or_else(|| g.error(format!("tensor `{name}` is missing")))?;
    let sizes: Vec<usize> = want.iter().map(|w| w.0).collect();
    if shape != sizes {
        let from: Vec<String> = want.iter().map(|(v, k)| format!("{v} ({k})")).collect();
        return Err(g.error(format!(
            "tensor `{name}` has shape {shape:?} but the metadata implies [{}]",
            from.join(", ")
        )));
    }
    g.tensor_f32(name)
}
