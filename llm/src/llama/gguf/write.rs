//! Writing GGUF v3 files: the tiny random models the tests and benchmarks build, and the
//! damaged files the reader's tests start from.

use super::types::GgmlType;
use super::value::*;
use crate::error::{LlmError, Result};
use std::path::Path;

/// A GGUF file being assembled in memory.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    pub(crate) metadata: Vec<(String, MetaValue)>,
    tensors: Vec<(String, Vec<u64>, GgmlType, Vec<u8>)>,
}

impl GgufWriter {
    /// An empty file (no metadata, no tensors).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set metadata `key` (replacing an earlier value of the same key).
    pub fn set(&mut self, key: &str, value: MetaValue) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Add an f32 tensor of row-major `shape` (outermost first).
    pub fn add_f32(&mut self, name: &str, shape: &[usize], data: &[f32]) -> &mut Self {
        let dims = shape.iter().rev().map(|&d| d as u64).collect();
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_raw(name, dims, GgmlType::F32, bytes)
    }

    /// Add a tensor from its raw block bytes; `dims` in GGUF order (innermost first). Nothing
    /// is checked, so tests can write inconsistent files on purpose.
    pub fn add_raw(
        &mut self,
        name: &str,
        dims: Vec<u64>,
        ty: GgmlType,
        bytes: Vec<u8>,
    ) -> &mut Self {
        self.tensors.push((name.to_string(), dims, ty, bytes));
        self
    }

    /// The file's bytes: header, metadata, tensor table, then each tensor's data at the next
    /// multiple of the alignment (`general.alignment` if set, else 32).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let align = match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, v)) => v
                .as_i128()
                .filter(|&a| a > 0 && (a as u64).is_power_of_two())
                .map(|a| a as usize)
                .ok_or_else(|| writer_error("general.alignment must be a power of two"))?,
            None => super::DEFAULT_ALIGNMENT as usize,
        };
        let mut out = Vec::new();
        out.extend(super::read::MAGIC);
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            put_string(&mut out, k);
            out.extend(v.type_id().to_le_bytes());
            put_value(&mut out, k, v)?;
        }
        let mut offset = 0usize;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for (name, dims, ty, bytes) in &self.tensors {
            put_string(&mut out, name);
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(ty.id().to_le_bytes());
            out.extend((offset as u64).to_le_bytes());
            offsets.push(offset);
            offset = (offset + bytes.len()).div_ceil(align) * align;
        }
        let data_start = out.len().div_ceil(align) * align;
        out.resize(data_start, 0);
        for ((_, _, _, bytes), off) in self.tensors.iter().zip(offsets) {
            out.resize(data_start + off, 0);
            out.extend(bytes);
        }
        Ok(out)
    }

    /// Write the file to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|e| LlmError::io(path, e))
    }
}

fn writer_error(why: impl Into<String>) -> LlmError {
    LlmError::ModelFile {
        path: "(GGUF being written)".into(),
        why: why.into(),
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, key: &str, v: &MetaValue) -> Result<()> {
    match v {
        MetaValue::U8(x) => out.extend(x.to_le_bytes()),
        MetaValue::I8(x) => out.extend(x.to_le_bytes()),
        MetaValue::U16(x) => out.extend(x.to_le_bytes()),
        MetaValue::I16(x) => out.extend(x.to_le_bytes()),
        MetaValue::U32(x) => out.extend(x.to_le_bytes()),
        MetaValue::I32(x) => out.extend(x.to_le_bytes()),
        MetaValue::F32(x) => out.extend(x.to_le_bytes()),
        MetaValue::Bool(x) => out.push(u8::from(*x)),
        MetaValue::String(s) => put_string(out, s),
        MetaValue::U64(x) => out.extend(x.to_le_bytes()),
        MetaValue::I64(x) => out.extend(x.to_le_bytes()),
        MetaValue::F64(x) => out.extend(x.to_le_bytes()),
        MetaValue::Array(items) => {
            let elem = items.first().map_or(T_U8, MetaValue::type_id);
            if items.iter().any(|e| e.type_id() != elem) {
                return Err(writer_error(format!(
                    "metadata `{key}` mixes element types in one array"
                )));
            }
            out.extend(elem.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for e in items {
                put_value(out, key, e)?;
            }
        }
    }
    Ok(())
}
