//! GGUF v3 model files: metadata, tensor table, alignment and dequantisation to f32.
//!
//! # Why our own reader and not `candle-core`'s `quantized::gguf_file`
//!
//! candle's reader parses the same format, but it comes with candle's whole tensor library.
//! Measured on this 2-core machine (shared with other builds, load average 5–6): a scratch
//! crate depending on `candle-core` 0.11.1 with default features off compiled 131 crates in
//! 15 min 16 s of wall time (6 min 44 s of CPU) for `cargo build --release`, leaving 369 MB
//! of target. This reader adds no crate (`half` was already in the workspace's lock file;
//! the tokenizer's `tokenizers` adds 23 of its own either way) and is about 1,150 lines (and
//! 400 of tests). We only need the tensor table and dequantisation to f32 (candle's
//! `QTensor::dequantize` goes through its `Tensor` and `Device` types, which we would convert
//! straight back), and our errors must name the file and tensor at fault. The format is small
//! and stable, and every block type is checked here against hand-computed blocks.
//!
//! The file is read into memory (98 MB for SmolLM2-135M; no `unsafe` memory map) and tensors
//! are dequantised one at a time on request ([`Gguf::tensor_f32`]).
//!
//! Layout: `read.rs` parses, [`value`] holds metadata values, [`types`] the ggml types,
//! [`dequant`] converts blocks to f32 and [`mod@write`] writes files (the tiny test models and the
//! damaged files of the tests).

pub mod dequant;
mod read;
pub mod types;
pub mod value;
pub mod write;

pub use dequant::dequantize;
pub use read::DEFAULT_ALIGNMENT;
pub use types::GgmlType;
pub use value::MetaValue;
pub use write::GgufWriter;

use crate::error::{LlmError, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One entry of the tensor table.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Tensor name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions as GGUF lists them: `dims[0]` is the innermost (contiguous) one, so a
    /// row-major `rows × cols` matrix has `dims = [cols, rows]`.
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Byte offset inside the data section.
    pub offset: u64,
    /// Number of elements.
    pub n_elements: u64,
    /// Bytes of data.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Check the dimensions against the type's block size and compute the sizes; the error
    /// names the tensor.
    pub(crate) fn new(
        name: String,
        dims: Vec<u64>,
        ty: GgmlType,
        offset: u64,
    ) -> std::result::Result<Self, String> {
        let n_elements = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= 1 << 40)
            .ok_or_else(|| format!("tensor `{name}` has absurd dimensions {dims:?}"))?;
        let block = ty.block_len() as u64;
        if !dims[0].is_multiple_of(block) {
            return Err(format!(
                "tensor `{name}` of type {ty} has a row of {} values, not a multiple of its block of {block}",
                dims[0]
            ));
        }
        let n_bytes = n_elements / block * ty.block_bytes() as u64;
        Ok(TensorInfo {
            name,
            dims,
            ty,
            offset,
            n_elements,
            n_bytes,
        })
    }

    /// The shape in row-major order (outermost first): `[rows, cols]` for a matrix.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// A parsed GGUF file held in memory.
#[derive(Debug)]
pub struct Gguf {
    path: PathBuf,
    version: u32,
    alignment: u64,
    metadata: Vec<(String, MetaValue)>,
    meta_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    data_start: usize,
    bytes: Vec<u8>,
}

impl Gguf {
    /// Read and parse the file at `path`.
    pub fn open(path: &Path) -> Result<Gguf> {
        let bytes = std::fs::read(path).map_err(|e| LlmError::io(path, e))?;
        read::parse(path, bytes)
    }

    /// Parse a file already in memory; `path` names it in errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Gguf> {
        read::parse(path, bytes)
    }

    /// The file's path (as given to [`Gguf::open`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Alignment of the data section and of every tensor's offset.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Every metadata entry in file order.
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        &self.metadata
    }

    /// The value of metadata `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.meta_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// An error about this file.
    pub fn error(&self, why: impl Into<String>) -> LlmError {
        LlmError::model_file(&self.path, why)
    }

    fn require(&self, key: &str) -> Result<&MetaValue> {
        self.get(key)
            .ok_or_else(|| self.error(format!("metadata `{key}` is missing")))
    }

    fn wrong_type(&self, key: &str, v: &MetaValue, want: &str) -> LlmError {
        self.error(format!(
            "metadata `{key}` is a {}, expected {want}",
            v.type_name()
        ))
    }

    /// Metadata `key` as a non-negative integer that fits a `usize` (any integer type).
    pub fn get_usize(&self, key: &str) -> Result<usize> {
        let v = self.require(key)?;
        let i = v
            .as_i128()
            .ok_or_else(|| self.wrong_type(key, v, "an integer"))?;
        usize::try_from(i)
            .map_err(|_| self.error(format!("metadata `{key}` = {i} is not a valid count")))
    }

    /// Metadata `key` as a float (float or integer types).
    pub fn get_f64(&self, key: &str) -> Result<f64> {
        let v = self.require(key)?;
        v.as_f64()
            .ok_or_else(|| self.wrong_type(key, v, "a number"))
    }

    /// Metadata `key` as text.
    pub fn get_str(&self, key: &str) -> Result<&str> {
        let v = self.require(key)?;
        v.as_str()
            .ok_or_else(|| self.wrong_type(key, v, "a string"))
    }

    /// Metadata `key` as a bool, `default` when absent.
    pub fn get_bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(MetaValue::Bool(b)) => Ok(*b),
            Some(v) => Err(self.wrong_type(key, v, "a bool")),
        }
    }

    /// Metadata `key` as an array of strings.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>> {
        let v = self.require(key)?;
        let a = v
            .as_array()
            .ok_or_else(|| self.wrong_type(key, v, "an array of strings"))?;
        a.iter()
            .enumerate()
            .map(|(i, e)| {
                e.as_str().ok_or_else(|| {
                    self.error(format!(
                        "metadata `{key}`[{i}] is a {}, expected a string",
                        e.type_name()
                    ))
                })
            })
            .collect()
    }

    /// Metadata `key` as an array of integers.
    pub fn get_int_array(&self, key: &str) -> Result<Vec<i128>> {
        let v = self.require(key)?;
        let a = v
            .as_array()
            .ok_or_else(|| self.wrong_type(key, v, "an array of integers"))?;
        a.iter()
            .enumerate()
            .map(|(i, e)| {
                e.as_i128().ok_or_else(|| {
                    self.error(format!(
                        "metadata `{key}`[{i}] is a {}, expected an integer",
                        e.type_name()
                    ))
                })
            })
            .collect()
    }

    /// The tensor table in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The table entry of tensor `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The raw bytes of tensor `name` (bounds were checked when the file was parsed).
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8]> {
        let t = self
            .tensor(name)
            .ok_or_else(|| self.error(format!("tensor `{name}` is missing")))?;
        let start = self.data_start + t.offset as usize;
        Ok(&self.bytes[start..start + t.n_bytes as usize])
    }

    /// Tensor `name` dequantised to f32, in row-major order of [`TensorInfo::shape`].
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>> {
        let bytes = self.tensor_bytes(name)?;
        let t = self
            .tensor(name)
            .ok_or_else(|| self.error(format!("tensor `{name}` is missing")))?;
        let mut out = vec![0.0f32; t.n_elements as usize];
        dequantize(t.ty, bytes, &mut out)
            .map_err(|why| self.error(format!("tensor `{name}`: {why}")))?;
        Ok(out)
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
