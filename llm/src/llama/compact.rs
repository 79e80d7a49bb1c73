//! The model file's quantised blocks, kept beside the f32 weights for decode steps.
//!
//! A decode step multiplies a few dozen rows by every weight matrix, so it reads all 538 MB of
//! SmolLM2's f32 weights from memory once per token; at 32 rows that streaming was a third of
//! the step (the kernel ran at 380 GFLOP/s on cached weights and 250 on streamed ones). The
//! file holds the same values in 4.5-bit Q4_1 and 8.5-bit Q8_0 blocks (98 MB), so for a matrix
//! whose f32 values still equal its blocks' exactly, the decode's GEMM reads the blocks and
//! dequantises each task's rows into a cache-resident buffer (`eggroll_core::WeightRows`):
//! the same values, so the same logits bit for bit, from a seventh of the bytes.
//!
//! Whether the f32 values still equal the blocks is checked, not assumed: an ES update, a
//! merged adapter or full finetuning change the f32 weights, and [`CompactWeights::fresh`]
//! (one pass over the weights, once per decode) keeps only the matrices that are unchanged.

use super::compact_rows::{rows_function, RowsFn};
use super::gguf::dequant::{block_function, BlockFn};
use super::gguf::{GgmlType, Gguf};
use super::weights::LlamaWeights;
use eggroll_core::WeightRows;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Values per block of every type kept compact.
const BLOCK: usize = 32;

/// One matrix's blocks as the file stores them: `rows` rows of `cols / 32` blocks.
#[derive(Clone)]
pub struct CompactMatrix {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    bytes: Vec<u8>,
    /// One block's scalar dequantisation.
    block: BlockFn,
    /// Whole rows at a time, where the CPU has the vector instructions.
    fast: Option<RowsFn>,
}

impl std::fmt::Debug for CompactMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompactMatrix({} {}×{})", self.ty, self.rows, self.cols)
    }
}

impl CompactMatrix {
    /// `rows × cols` values in blocks of `ty`, if `ty` is one kept compact (Q4_0, Q4_1 and
    /// Q8_0: 32-value blocks, 4.5 to 8.5 bits a value) and every row is whole blocks.
    pub fn new(ty: GgmlType, rows: usize, cols: usize, bytes: Vec<u8>) -> Option<Self> {
        let kept = matches!(ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0);
        let whole = cols.is_multiple_of(BLOCK) && ty.block_len() == BLOCK;
        let sized = bytes.len() == rows * (cols / BLOCK) * ty.block_bytes();
        let block = block_function(ty)?;
        (kept && whole && sized).then_some(CompactMatrix {
            ty,
            rows,
            cols,
            bytes,
            block,
            fast: rows_function(ty),
        })
    }

    /// Bytes of one row's blocks.
    fn row_bytes(&self) -> usize {
        self.cols / BLOCK * self.ty.block_bytes()
    }

    /// Whether `data` (row-major `rows × cols`) holds exactly these blocks' values, bit for bit.
    pub fn equals(&self, data: &[f32]) -> bool {
        if data.len() != self.rows * self.cols {
            return false;
        }
        let rows_per_task = (4096 / self.cols).max(1);
        data.par_chunks(rows_per_task * self.cols)
            .enumerate()
            .all(|(t, chunk)| {
                let mut mine = vec![0.0f32; chunk.len()];
                self.rows_into(t * rows_per_task, &mut mine);
                mine.iter()
                    .zip(chunk)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            })
    }
}

impl WeightRows for CompactMatrix {
    fn rows_into(&self, first: usize, out: &mut [f32]) {
        let rb = self.row_bytes();
        let bytes = &self.bytes[first * rb..first * rb + out.len() / self.cols * rb];
        if let Some(fast) = self.fast {
            return fast(bytes, out);
        }
        for (b, y) in bytes
            .chunks_exact(self.ty.block_bytes())
            .zip(out.chunks_exact_mut(BLOCK))
        {
            (self.block)(b, y);
        }
    }
}

/// The compact blocks of a model's matrices, by parameter id (projections, embedding, head).
#[derive(Clone, Debug, Default)]
pub struct CompactWeights {
    by_id: HashMap<u32, Arc<CompactMatrix>>,
}

impl CompactWeights {
    /// The blocks of every matrix of `weights` that `g` stores in a type kept compact.
    pub fn from_gguf(g: &Gguf, weights: &LlamaWeights) -> Self {
        let mut by_id = HashMap::new();
        let matrices = weights
            .proj_info
            .iter()
            .map(|m| (m.name.as_str(), m.id, m.rows, m.cols))
            .chain(
                std::iter::once(&weights.embed)
                    .chain(&weights.head)
                    .map(|m| (m.name.as_str(), m.id, m.rows, m.cols)),
            );
        for (name, id, rows, cols) in matrices {
            let (Some(t), Ok(bytes)) = (g.tensor(name), g.tensor_bytes(name)) else {
                continue;
            };
            if let Some(c) = CompactMatrix::new(t.ty, rows, cols, bytes.to_vec()) {
                by_id.insert(id, Arc::new(c));
            }
        }
        CompactWeights { by_id }
    }

    /// Keep `blocks` as matrix `id`'s compact form (replacing any).
    pub fn insert(&mut self, id: u32, blocks: CompactMatrix) {
        self.by_id.insert(id, Arc::new(blocks));
    }

    /// The matrices of `weights` whose f32 values still equal their blocks (checked in
    /// parallel, bit for bit): those a forward may read compactly.
    pub fn fresh(&self, weights: &LlamaWeights) -> FreshCompact {
        let mut candidates: Vec<(u32, &[f32])> = weights
            .proj_info
            .iter()
            .zip(&weights.proj_data)
            .map(|(m, d)| (m.id, d.as_slice()))
            .collect();
        let head = weights.head();
        candidates.push((head.id, head.data.as_slice()));
        let by_id = candidates
            .into_iter()
            .filter_map(|(id, data)| {
                let c = self.by_id.get(&id)?;
                c.equals(data).then(|| (id, Arc::clone(c)))
            })
            .collect();
        FreshCompact { by_id }
    }
}

/// The matrices a forward may read from their blocks (see [`CompactWeights::fresh`]).
#[derive(Clone, Debug, Default)]
pub struct FreshCompact {
    by_id: HashMap<u32, Arc<CompactMatrix>>,
}

impl FreshCompact {
    /// Matrix `id`'s blocks, if they still hold its values.
    pub fn get(&self, id: u32) -> Option<&CompactMatrix> {
        self.by_id.get(&id).map(|c| c.as_ref())
    }

    /// How many matrices it has.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
