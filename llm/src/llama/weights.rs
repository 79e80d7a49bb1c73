//! The weights of a Llama-family model as f32 matrices, each checked against the shape the
//! metadata implies.
//!
//! GGUF names (`blk.N.attn_q.weight` …) are kept. Q and K come as llama.cpp writes them: the
//! rows of each head ordered so that rotary pairs are adjacent elements (2i, 2i+1), which
//! [`eggroll_core::transformer::reference::apply_rope`] rotates; Hugging Face checkpoints split each head in halves
//! instead and need un-permuting when exported.

use super::compact::CompactWeights;
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
/// parameter id its noise is keyed by (the embedding and an untied head).
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

impl Matrix {
    /// A borrowed view.
    pub fn view(&self) -> MatrixRef<'_> {
        MatrixRef {
            name: &self.name,
            id: self.id,
            rows: self.rows,
            cols: self.cols,
            data: &self.data,
        }
    }
}

/// A borrowed view of one projection matrix: its name, noise id, shape and values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatrixRef<'a> {
    /// GGUF tensor name.
    pub name: &'a str,
    /// Noise parameter id.
    pub id: u32,
    /// Output dimension.
    pub rows: usize,
    /// Input dimension.
    pub cols: usize,
    /// Values, row-major (a `Vec`, as the backend's linear layer takes its buffers).
    pub data: &'a Vec<f32>,
}

/// The name, noise id and shape of one projection matrix (its values live in
/// [`LlamaWeights::proj_data`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixInfo {
    /// GGUF tensor name.
    pub name: String,
    /// Noise parameter id (unique per matrix, see [`param_id`]).
    pub id: u32,
    /// Output dimension.
    pub rows: usize,
    /// Input dimension.
    pub cols: usize,
}

/// Every projection, in [`Proj`] order.
pub const PROJS: [Proj; 7] = [
    Proj::Q,
    Proj::K,
    Proj::V,
    Proj::O,
    Proj::Gate,
    Proj::Up,
    Proj::Down,
];

impl Proj {
    /// The short name used in configs (`q`, `k`, `v`, `o`, `gate`, `up`, `down`).
    pub fn short(self) -> &'static str {
        match self {
            Proj::Q => "q",
            Proj::K => "k",
            Proj::V => "v",
            Proj::O => "o",
            Proj::Gate => "gate",
            Proj::Up => "up",
            Proj::Down => "down",
        }
    }

    /// The projection of a short name.
    pub fn from_short(s: &str) -> Option<Proj> {
        PROJS.into_iter().find(|p| p.short() == s)
    }
}

/// One transformer block: its norms, and where its projections are stored.
#[derive(Clone, Debug)]
pub struct LayerWeights {
    /// RMSNorm weight before attention (`d_model`).
    pub attn_norm: Vec<f32>,
    /// RMSNorm weight before the feed-forward (`d_model`).
    pub ffn_norm: Vec<f32>,
    /// Index of each projection (in [`Proj`] order) into [`LlamaWeights::proj_data`].
    pub slots: [usize; 7],
}

/// Every weight of the model.
///
/// The seven projections of every block are stored apart from their block, in
/// [`LlamaWeights::proj_data`], so that the matrices an ES run trains can be put first and
/// handed to the optimiser as one slice ([`LlamaWeights::train_first`]).
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
    /// Name, id and shape of every projection, indexed like `proj_data`.
    pub proj_info: Vec<MatrixInfo>,
    /// Values of every projection (`LayerWeights::slots` index it).
    pub proj_data: Vec<Vec<f32>>,
    /// The model file's blocks of the matrices it stores quantised, which decoding reads
    /// while they still hold the values above ([`super::compact`]); empty for other sources.
    pub compact: CompactWeights,
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
        let ff = (f, "feed_forward_length");
        let vocab = (cfg.vocab_size, "vocab_size");
        let mut layers = Vec::with_capacity(cfg.n_layers);
        let (mut proj_info, mut proj_data) = (Vec::new(), Vec::new());
        for l in 0..cfg.n_layers {
            let n = |s: &str| format!("blk.{l}.{s}.weight");
            // In the file's order: a block's first missing tensor is the one an error names.
            let attn_norm = load(g, &n("attn_norm"), &[dm])?;
            let mut slots = [0; 7];
            for p in PROJS {
                let (gguf, rows, cols) = match p {
                    Proj::Q => ("attn_q", (q, why_q.as_str()), dm),
                    Proj::K => ("attn_k", (kv, why_kv.as_str()), dm),
                    Proj::V => ("attn_v", (kv, why_kv.as_str()), dm),
                    Proj::O => ("attn_output", dm, (q, why_q.as_str())),
                    Proj::Gate => ("ffn_gate", ff, dm),
                    Proj::Up => ("ffn_up", ff, dm),
                    Proj::Down => ("ffn_down", dm, ff),
                };
                let m = mat(&n(gguf), param_id(l, p as u32), rows, cols)?;
                slots[p as usize] = proj_data.len();
                proj_info.push(MatrixInfo {
                    name: m.name,
                    id: m.id,
                    rows: m.rows,
                    cols: m.cols,
                });
                proj_data.push(m.data);
            }
            layers.push(LayerWeights {
                attn_norm,
                ffn_norm: load(g, &n("ffn_norm"), &[dm])?,
                slots,
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
            proj_info,
            proj_data,
            compact: CompactWeights::default(),
        })
    }

    /// The matrices a forward may read from the model file's blocks now: those whose f32
    /// values still equal them ([`CompactWeights::fresh`]).
    pub fn fresh_compact(&self) -> super::compact::FreshCompact {
        self.compact.fresh(self)
    }

    /// The output head (the embedding when tied).
    pub fn head(&self) -> &Matrix {
        self.head.as_ref().unwrap_or(&self.embed)
    }

    /// Projection `p` of block `layer`.
    pub fn proj(&self, layer: usize, p: Proj) -> MatrixRef<'_> {
        let i = self.layers[layer].slots[p as usize];
        let info = &self.proj_info[i];
        MatrixRef {
            name: &info.name,
            id: info.id,
            rows: info.rows,
            cols: info.cols,
            data: &self.proj_data[i],
        }
    }

    /// Reorder the stored projections so that those `trained(layer, proj)` selects come first
    /// (in layer, then [`Proj`], order), and return how many there are: `proj_info[..n]` and
    /// `proj_data[..n]` are then the trained matrices. The model computes the same either way.
    pub fn train_first(&mut self, trained: impl Fn(usize, Proj) -> bool) -> usize {
        let mut order: Vec<(usize, Proj)> = Vec::new();
        let all: Vec<(usize, Proj)> = (0..self.layers.len())
            .flat_map(|l| PROJS.into_iter().map(move |p| (l, p)))
            .collect();
        order.extend(all.iter().copied().filter(|&(l, p)| trained(l, p)));
        let n = order.len();
        order.extend(all.iter().copied().filter(|&(l, p)| !trained(l, p)));
        let mut info = Vec::with_capacity(order.len());
        let mut data = Vec::with_capacity(order.len());
        let mut old_data: Vec<Option<Vec<f32>>> = std::mem::take(&mut self.proj_data)
            .into_iter()
            .map(Some)
            .collect();
        for (new, &(l, p)) in order.iter().enumerate() {
            let old = self.layers[l].slots[p as usize];
            info.push(self.proj_info[old].clone());
            data.push(old_data[old].take().unwrap_or_default());
            self.layers[l].slots[p as usize] = new;
        }
        self.proj_info = info;
        self.proj_data = data;
        n
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
