//! The parameter layout of the integer GRU language model and its int8 weights.
//!
//! Parameters, in id order (the id keys the noise streams):
//! `emb` (256×D), then per block `l`: `ln1` (D), `gate` (D×2D = [W_f | U_f]), `gate_b` (D),
//! `cand` (D×2D = [W_h | U_h]), `cand_b` (D), `ln2` (D), `up` (4D×D), `down` (D×4D); then
//! `lnf` (D) and `head` (256×D). Matrices are row-major out×in. The GRU's input and recurrent
//! matrices are stored side by side so `W x + U h` is one product with the concatenated input.

use crate::error::{LlmError, Result};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_core::int::{q8, PackedI8};
use eggroll_core::noise::StreamKey;
use eggroll_core::params::ParamShape;
use std::path::Path;

/// Byte vocabulary size.
pub const VOCAB: usize = 256;
/// The weights' unit: int8 values carry 4 fractional bits, so 16 means 1.0.
pub const ONE: i16 = 16;

/// How a parameter starts: the one thing about it that core's [`ParamShape`] does not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// `round(16·N(0,1))` from the seed's init stream (the matrices, embedding included).
    Noise,
    /// This value everywhere (16 for norm weights, 0 for biases).
    Fill(i8),
}

/// One parameter: its name, shape, initial value and offset into the flat weight vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Checkpoint name, e.g. `block.0.gate`.
    pub name: String,
    /// A matrix (`rows` = out × `cols` = in, perturbed by low-rank int8 noise; the embedding is
    /// one too, 256 bytes × D) or a vector (perturbed by full-rank int8 noise).
    pub shape: ParamShape,
    /// How it starts.
    pub init: Init,
    /// First element in the flat weights.
    pub offset: usize,
}

/// Parameter ids of one block.
#[derive(Clone, Copy, Debug)]
pub struct BlockIds {
    /// Norm before the GRU.
    pub ln1: usize,
    /// Update-gate matrix [W_f | U_f].
    pub gate: usize,
    /// Update-gate bias.
    pub gate_b: usize,
    /// Candidate matrix [W_h | U_h].
    pub cand: usize,
    /// Candidate bias.
    pub cand_b: usize,
    /// Norm before the MLP.
    pub ln2: usize,
    /// MLP D→4D.
    pub up: usize,
    /// MLP 4D→D.
    pub down: usize,
}

/// The full layout for width `d` and `layers` blocks.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Width D.
    pub d: usize,
    /// Parameters in id order.
    pub params: Vec<Param>,
    /// Ids of each block's parameters.
    pub blocks: Vec<BlockIds>,
    /// Embedding id (0).
    pub emb: usize,
    /// Final norm id.
    pub lnf: usize,
    /// Head id.
    pub head: usize,
}

impl Layout {
    /// Build the layout.
    pub fn new(d: usize, layers: usize) -> Self {
        let mut params = Vec::new();
        let mut offset = 0;
        let mut push = |name: String, (shape, init): (ParamShape, Init)| {
            params.push(Param {
                name,
                shape,
                init,
                offset,
            });
            offset += shape.numel();
            params.len() - 1
        };
        let mat = |rows, cols| (ParamShape::Matrix { rows, cols }, Init::Noise);
        let vec = |v| (ParamShape::Vector { len: d }, Init::Fill(v));
        let emb = push("emb".into(), mat(VOCAB, d));
        let mut blocks = Vec::new();
        for l in 0..layers {
            let n = |s: &str| format!("block.{l}.{s}");
            blocks.push(BlockIds {
                ln1: push(n("ln1"), vec(ONE as i8)),
                gate: push(n("gate"), mat(d, 2 * d)),
                gate_b: push(n("gate_b"), vec(0)),
                cand: push(n("cand"), mat(d, 2 * d)),
                cand_b: push(n("cand_b"), vec(0)),
                ln2: push(n("ln2"), vec(ONE as i8)),
                up: push(n("up"), mat(4 * d, d)),
                down: push(n("down"), mat(d, 4 * d)),
            });
        }
        let lnf = push("lnf".into(), vec(ONE as i8));
        let head = push("head".into(), mat(VOCAB, d));
        Layout {
            d,
            params,
            blocks,
            emb,
            lnf,
            head,
        }
    }

    /// Total number of parameters.
    pub fn total(&self) -> usize {
        self.params.last().map_or(0, |p| p.offset + p.shape.numel())
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.blocks.len()
    }
}

/// The model's int8 weights, plus an i16 copy and the matrices laid out for the int8 GEMM,
/// which the kernels read.
#[derive(Clone, Debug)]
pub struct Weights {
    /// Parameter layout.
    pub layout: Layout,
    /// All parameters, flat, in id order. Whoever changes them calls [`Weights::refresh`]:
    /// the forward reads the i16 copy and the packed matrices.
    pub w: Vec<i8>,
    /// The same values widened to i16 (rebuilt by [`Weights::refresh`]).
    pub w16: Vec<i16>,
    /// Each matrix in its GEMM kernel's layout, `None` for vectors (rebuilt by
    /// [`Weights::refresh`]).
    packed: Vec<Option<PackedI8>>,
}

impl Weights {
    /// Fresh weights: matrices `round(16·N(0,1))` from the seed's init stream, norms 16,
    /// biases 0.
    pub fn init(d: usize, layers: usize, seed: u64) -> Self {
        let layout = Layout::new(d, layers);
        let mut w = vec![0i8; layout.total()];
        for (id, p) in layout.params.iter().enumerate() {
            let dst = &mut w[p.offset..p.offset + p.shape.numel()];
            match p.init {
                Init::Noise => {
                    let key = StreamKey::new(seed, id as u32, u32::MAX, u32::MAX);
                    for (j, v) in dst.iter_mut().enumerate() {
                        *v = q8(key.bits(j as u32)) as i8;
                    }
                }
                Init::Fill(v) => dst.fill(v),
            }
        }
        Self::from_flat(layout, w)
    }

    /// Wrap existing flat weights.
    pub fn from_flat(layout: Layout, w: Vec<i8>) -> Self {
        let w16 = w.iter().map(|&v| v as i16).collect();
        let packed = Self::pack(&layout, &w);
        Weights {
            layout,
            w,
            w16,
            packed,
        }
    }

    /// Rebuild the i16 copy and the packed matrices after the int8 weights changed.
    pub fn refresh(&mut self) {
        for (d, &s) in self.w16.iter_mut().zip(&self.w) {
            *d = s as i16;
        }
        self.packed = Self::pack(&self.layout, &self.w);
    }

    /// Every matrix of `w` in the int8 GEMM kernel's layout.
    fn pack(layout: &Layout, w: &[i8]) -> Vec<Option<PackedI8>> {
        layout
            .params
            .iter()
            .map(|p| match p.shape {
                ParamShape::Matrix { rows, cols } => Some(PackedI8::new(
                    &w[p.offset..p.offset + rows * cols],
                    rows,
                    cols,
                )),
                ParamShape::Vector { .. } => None,
            })
            .collect()
    }

    /// Matrix `id` laid out for the int8 GEMM (`None` for a vector).
    pub fn packed(&self, id: usize) -> Option<&PackedI8> {
        self.packed.get(id).and_then(Option::as_ref)
    }

    /// The int8 values of parameter `id`.
    pub fn p8(&self, id: usize) -> &[i8] {
        let p = &self.layout.params[id];
        &self.w[p.offset..p.offset + p.shape.numel()]
    }

    /// The i16 view of parameter `id`.
    pub fn p16(&self, id: usize) -> &[i16] {
        let p = &self.layout.params[id];
        &self.w16[p.offset..p.offset + p.shape.numel()]
    }

    /// Store every parameter as `param.<name>` (int8 values are exact in f32).
    pub fn save_into(&self, ckpt: &mut Checkpoint) {
        for p in &self.layout.params {
            let shape = p.shape.dims();
            let data = self.w[p.offset..p.offset + p.shape.numel()]
                .iter()
                .map(|&v| v as f32)
                .collect();
            ckpt.insert(format!("param.{}", p.name), shape, data);
        }
    }

    /// Read every parameter back, refusing non-integer or out-of-range values.
    pub fn load_from(ckpt: &Checkpoint, d: usize, layers: usize, path: &Path) -> Result<Self> {
        let layout = Layout::new(d, layers);
        let mut w = vec![0i8; layout.total()];
        for p in &layout.params {
            let name = format!("param.{}", p.name);
            let data = ckpt.tensor(&name, p.shape.numel(), path)?;
            for (dst, &v) in w[p.offset..].iter_mut().zip(data) {
                if !(v.fract() == 0.0 && (-127.0..=127.0).contains(&v)) {
                    return Err(LlmError::checkpoint(
                        path,
                        format!("tensor `{name}` holds {v}, not an int8 weight in -127..=127"),
                    ));
                }
                *dst = v as i8;
            }
        }
        Ok(Self::from_flat(layout, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_parameter_count() {
        // nano-egg's default (D = 256, 6 layers) has 4,856,064 parameters.
        assert_eq!(Layout::new(256, 6).total(), 4_856_064);
    }

    #[test]
    fn init_statistics_and_round_trip() {
        let w = Weights::init(32, 2, 9);
        let emb = &w.w[..256 * 32];
        let mean_sq = emb.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / emb.len() as f64;
        assert!(
            (mean_sq.sqrt() - 16.0).abs() < 1.0,
            "std {}",
            mean_sq.sqrt()
        );
        let mut c = Checkpoint::default();
        w.save_into(&mut c);
        let back = Weights::load_from(&c, 32, 2, Path::new("x")).unwrap();
        assert_eq!(back.w, w.w);
        assert!(Weights::load_from(&c, 32, 3, Path::new("x")).is_err());
    }
}
