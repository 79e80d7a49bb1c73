//! Llama weights in a Hugging Face `model.safetensors`: the reader ([`HfSafetensors`], a
//! [`TensorSource`] that answers GGUF names in GGUF layout) and the writer
//! ([`write_safetensors`], f32 under Hugging Face names).
//!
//! Names and the Q/K row order are translated by [`super::hf_layout`]. The reader accepts
//! F32, F16 and BF16 tensors (converted with `half`) and refuses any tensor the model would
//! not use (biases, other architectures' weights) rather than drop it silently. The writer
//! streams one tensor at a time, so exporting needs no second copy of the model in memory.

use super::hf_layout::{hf_name, is_rotary, permute_rows, RowOrder};
use super::weights::{LlamaWeights, TensorSource};
use crate::error::{LlmError, Result};
use safetensors::tensor::{Dtype, Metadata, TensorInfo, View};
use safetensors::SafeTensors;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Tensors some Hugging Face Llama checkpoints carry that the model recomputes.
const IGNORED_SUFFIXES: [&str; 1] = [".rotary_emb.inv_freq"];

/// A `model.safetensors` read into memory, answering GGUF tensor names.
pub struct HfSafetensors {
    path: PathBuf,
    bytes: Vec<u8>,
    /// Where the tensor data starts in `bytes` (after the length and the JSON header).
    data_start: usize,
    meta: Metadata,
    head_dim: usize,
}

impl std::fmt::Debug for HfSafetensors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfSafetensors")
            .field("path", &self.path)
            .field("tensors", &self.meta.tensors().len())
            .finish_non_exhaustive()
    }
}

impl HfSafetensors {
    /// Read and check the safetensors file at `path`; `head_dim` is the width of one attention
    /// head (the Q and K rows are reordered per head on read).
    pub fn open(path: &Path, head_dim: usize) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| LlmError::io(path, e))?;
        Self::from_bytes(path, bytes, head_dim)
    }

    /// Check safetensors `bytes`; `path` only labels errors.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>, head_dim: usize) -> Result<Self> {
        let (n, meta) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| LlmError::model_file(path, diagnose(&bytes, &e)))?;
        Ok(HfSafetensors {
            path: path.to_path_buf(),
            data_start: n + 8,
            bytes,
            meta,
            head_dim,
        })
    }

    /// The names of the tensors in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.meta.tensors().into_keys().collect();
        v.sort();
        v
    }

    /// An error if the file holds a tensor that none of `used` (GGUF names) maps to, other
    /// than buffers the model recomputes (`rotary_emb.inv_freq`).
    pub fn check_all_used(&self, used: &[String]) -> Result<()> {
        let known: HashSet<String> = used.iter().filter_map(|g| hf_name(g)).collect();
        for name in self.names() {
            if !known.contains(&name) && !IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                return Err(self.error(format!(
                    "tensor `{name}` is not a weight of this Llama model (biases, extra heads and other architectures' tensors are not supported)"
                )));
            }
        }
        Ok(())
    }

    fn info(&self, gguf: &str) -> Option<(String, &TensorInfo)> {
        let hf = hf_name(gguf)?;
        let info = self.meta.info(&hf)?;
        Some((hf, info))
    }
}

/// A one-sentence reason why safetensors `bytes` do not parse, naming the first tensor whose
/// data lies past the end of a truncated file.
fn diagnose(bytes: &[u8], e: &safetensors::SafeTensorError) -> String {
    if let safetensors::SafeTensorError::MetadataIncompleteBuffer = e {
        if let Some(msg) = truncated_tensor(bytes) {
            return msg;
        }
    }
    format!("not a valid safetensors file ({e})")
}

/// For a file whose header parses but whose data is short: which tensor is cut off.
fn truncated_tensor(bytes: &[u8]) -> Option<String> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = std::str::from_utf8(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    let json: BTreeMap<String, serde_json::Value> = serde_json::from_str(header).ok()?;
    let have = bytes.len() - 8 - n;
    let mut ends: Vec<(u64, &String)> = json
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .filter_map(|(k, v)| Some((v.get("data_offsets")?.get(1)?.as_u64()?, k)))
        .collect();
    ends.sort();
    let total = ends.last()?.0;
    match ends.iter().find(|(end, _)| *end > have as u64) {
        Some((_, name)) => Some(format!(
            "the file is truncated: it has {have} bytes of tensor data of {total}, so tensor `{name}` is cut off"
        )),
        None => Some(format!(
            "the file has {have} bytes of tensor data but its header describes {total}"
        )),
    }
}

impl TensorSource for HfSafetensors {
    fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.info(name).map(|(_, i)| i.shape.clone())
    }

    fn tensor_f32(&self, name: &str) -> Result<Vec<f32>> {
        let (hf, info) = self
            .info(name)
            .ok_or_else(|| self.error(format!("tensor `{name}` is missing")))?;
        let (s, e) = info.data_offsets;
        let raw = &self.bytes[self.data_start + s..self.data_start + e];
        let values: Vec<f32> = match info.dtype {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(self.error(format!(
                    "tensor `{hf}` is {other:?}; only F32, F16 and BF16 are supported"
                )))
            }
        };
        if !is_rotary(name) {
            return Ok(values);
        }
        let cols = info.shape.get(1).copied().unwrap_or(0);
        if info.shape.len() != 2 || self.head_dim == 0 || info.shape[0] % self.head_dim != 0 {
            return Err(self.error(format!(
                "tensor `{hf}` has shape {:?}, not a whole number of heads of {} rows",
                info.shape, self.head_dim
            )));
        }
        Ok(permute_rows(
            &values,
            cols,
            self.head_dim,
            RowOrder::HfToGguf,
        ))
    }

    fn error(&self, why: String) -> LlmError {
        LlmError::model_file(&self.path, why)
    }
}

/// One f32 tensor to write, produced when the writer asks for it.
struct OutTensor<'a> {
    shape: Vec<usize>,
    data: &'a [f32],
    /// `Some(head_dim)` for Q and K, whose rows move to Hugging Face order.
    rotary: Option<usize>,
}

impl View for OutTensor<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        Cow::Owned(match self.rotary {
            Some(hd) => {
                let cols = self.shape.get(1).copied().unwrap_or(1);
                bytes(&permute_rows(self.data, cols, hd, RowOrder::GgufToHf))
            }
            None => bytes(self.data),
        })
    }

    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// The Hugging Face name and the tensor to write for GGUF tensor `gguf`.
fn entry<'a>(
    path: &Path,
    gguf: &str,
    shape: Vec<usize>,
    data: &'a [f32],
    head_dim: usize,
) -> Result<(String, OutTensor<'a>)> {
    let name = hf_name(gguf).ok_or_else(|| {
        LlmError::model_file(
            path,
            format!("tensor `{gguf}` has no Hugging Face Llama name"),
        )
    })?;
    let rotary = is_rotary(gguf).then_some(head_dim);
    Ok((
        name,
        OutTensor {
            shape,
            data,
            rotary,
        },
    ))
}

/// Write `w` as f32 under Hugging Face names to `path` (through a temporary file renamed into
/// place), Q and K rows in Hugging Face order for heads of `head_dim`. The untied head is
/// written as `lm_head.weight`; a tied one is not written.
pub fn write_safetensors(w: &LlamaWeights, head_dim: usize, path: &Path) -> Result<()> {
    let mut out: Vec<(String, OutTensor<'_>)> = Vec::new();
    let mut push = |gguf: &str, shape: Vec<usize>, data| -> Result<()> {
        out.push(entry(path, gguf, shape, data, head_dim)?);
        Ok(())
    };
    let d = w.out_norm.len();
    push(
        "token_embd.weight",
        vec![w.embed.rows, w.embed.cols],
        &w.embed.data[..],
    )?;
    push("output_norm.weight", vec![d], &w.out_norm[..])?;
    if let Some(h) = &w.head {
        push("output.weight", vec![h.rows, h.cols], &h.data[..])?;
    }
    for (l, layer) in w.layers.iter().enumerate() {
        let n = |s: &str| format!("blk.{l}.{s}.weight");
        push(&n("attn_norm"), vec![d], &layer.attn_norm[..])?;
        push(&n("ffn_norm"), vec![d], &layer.ffn_norm[..])?;
        for p in super::weights::PROJS {
            let m = w.proj(l, p);
            push(m.name, vec![m.rows, m.cols], &m.data[..])?;
        }
    }
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    let tmp = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file(out, &Some(meta), &tmp)
        .map_err(|e| LlmError::model_file(&tmp, format!("cannot be written ({e})")))?;
    std::fs::rename(&tmp, path).map_err(|e| LlmError::io(path, e))
}
