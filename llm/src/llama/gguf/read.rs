//! Parsing a GGUF v3 file from its bytes: header, metadata, tensor table, alignment.
//!
//! Every read is bounds-checked, so a truncated or damaged file ends in an error naming the
//! part that did not fit (never a panic and never an allocation sized by a corrupt count: a
//! count is checked against the bytes that remain before anything is reserved for it).

use super::types::GgmlType;
use super::value::*;
use super::{Gguf, TensorInfo};
use crate::error::{LlmError, Result};
use std::collections::HashMap;
use std::path::Path;

/// `GGUF` read as a little-endian u32.
pub(crate) const MAGIC: [u8; 4] = *b"GGUF";
/// The versions read: 3, and 2, which has the same layout on little-endian files (version 1
/// used 32-bit counts and is refused).
pub(crate) const VERSIONS: [u32; 2] = [2, 3];
/// Default alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's largest number of dimensions.
const MAX_DIMS: u32 = 4;
/// Nesting limit for arrays of arrays (a damaged file could otherwise recurse deeply).
const MAX_NESTING: usize = 8;

/// A bounds-checked little-endian reader over the file's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn err(&self, why: impl Into<String>) -> LlmError {
        LlmError::model_file(self.path, why)
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(self.err(format!(
                "truncated: {} needs {n} bytes at offset {} but the file ends after {left} more",
                what(),
                self.pos
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.u64(&|| format!("the length of {}", what()))?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.err(format!("{} is not valid UTF-8", what())))
    }

    fn value(&mut self, ty: u32, what: &dyn Fn() -> String, depth: usize) -> Result<MetaValue> {
        Ok(match ty {
            T_U8 => MetaValue::U8(u8::from_le_bytes(self.array(what)?)),
            T_I8 => MetaValue::I8(i8::from_le_bytes(self.array(what)?)),
            T_U16 => MetaValue::U16(u16::from_le_bytes(self.array(what)?)),
            T_I16 => MetaValue::I16(i16::from_le_bytes(self.array(what)?)),
            T_U32 => MetaValue::U32(self.u32(what)?),
            T_I32 => MetaValue::I32(i32::from_le_bytes(self.array(what)?)),
            T_F32 => MetaValue::F32(f32::from_le_bytes(self.array(what)?)),
            T_BOOL => {
                let [b] = self.array::<1>(what)?;
                if b > 1 {
                    return Err(self.err(format!("{} is a bool stored as {b}", what())));
                }
                MetaValue::Bool(b == 1)
            }
            T_STRING => MetaValue::String(self.string(what)?),
            T_U64 => MetaValue::U64(self.u64(what)?),
            T_I64 => MetaValue::I64(i64::from_le_bytes(self.array(what)?)),
            T_F64 => MetaValue::F64(f64::from_le_bytes(self.array(what)?)),
            T_ARRAY => {
                if depth >= MAX_NESTING {
                    return Err(self.err(format!("{} nests arrays too deeply", what())));
                }
                let elem = self.u32(&|| format!("the element type of {}", what()))?;
                let len = self.u64(&|| format!("the length of {}", what()))?;
                // Every element takes at least one byte: a longer array cannot fit.
                let left = (self.bytes.len() - self.pos) as u64;
                if len > left {
                    return Err(self.err(format!(
                        "truncated: {} claims {len} elements but only {left} bytes follow",
                        what()
                    )));
                }
                let mut items = Vec::with_capacity(len as usize);
                for i in 0..len {
                    items.push(self.value(elem, &|| format!("{}[{i}]", what()), depth + 1)?);
                }
                MetaValue::Array(items)
            }
            other => {
                return Err(self.err(format!(
                    "{} has unknown metadata value type {other}",
                    what()
                )))
            }
        })
    }
}

/// Parse `bytes` (the whole file at `path`) into a [`Gguf`].
pub(crate) fn parse(path: &Path, bytes: Vec<u8>) -> Result<Gguf> {
    let mut c = Cursor {
        bytes: &bytes,
        pos: 0,
        path,
    };
    let magic: [u8; 4] = c.array(&|| "the magic number".into())?;
    if magic != MAGIC {
        return Err(c.err(format!(
            "not a GGUF file: it starts with bytes {magic:02x?}, not \"GGUF\""
        )));
    }
    let version = c.u32(&|| "the version".into())?;
    if !VERSIONS.contains(&version) {
        return Err(c.err(format!(
            "GGUF version {version} is not supported (this reader reads versions 2 and 3)"
        )));
    }
    let n_tensors = c.u64(&|| "the tensor count".into())?;
    let n_kv = c.u64(&|| "the metadata count".into())?;

    let mut metadata = Vec::new();
    let mut meta_index = HashMap::new();
    for i in 0..n_kv {
        let key = c.string(&|| format!("metadata key #{i}"))?;
        let ty = c.u32(&|| format!("the type of metadata `{key}`"))?;
        let value = c.value(ty, &|| format!("metadata `{key}`"), 0)?;
        if meta_index.insert(key.clone(), metadata.len()).is_some() {
            return Err(c.err(format!("metadata key `{key}` appears twice")));
        }
        metadata.push((key, value));
    }

    let alignment = match meta_index.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(&i) => {
            let v = &metadata[i].1;
            match v.as_i128() {
                Some(a) if a > 0 && (a as u64).is_power_of_two() && a <= 1 << 20 => a as u64,
                _ => {
                    return Err(c.err(format!(
                        "metadata `general.alignment` = {v:?} is not a power of two (at most 2^20)"
                    )))
                }
            }
        }
    };

    // A tensor entry takes at least 8 (name length) + 4 + 4 + 8 bytes.
    if n_tensors > ((bytes.len() - c.pos) / 24) as u64 {
        return Err(c.err(format!(
            "truncated: the header claims {n_tensors} tensors, more than the rest of the file can describe"
        )));
    }
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    let mut tensor_index = HashMap::new();
    for i in 0..n_tensors {
        let name = c.string(&|| format!("the name of tensor #{i}"))?;
        let n_dims = c.u32(&|| format!("the dimension count of tensor `{name}`"))?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(c.err(format!(
                "tensor `{name}` has {n_dims} dimensions (ggml allows 1 to {MAX_DIMS})"
            )));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for d in 0..n_dims {
            dims.push(c.u64(&|| format!("dimension {d} of tensor `{name}`"))?);
        }
        let type_id = c.u32(&|| format!("the type of tensor `{name}`"))?;
        let ty = GgmlType::from_id(type_id).ok_or_else(|| {
            c.err(format!(
                "tensor `{name}` has unknown ggml type id {type_id}"
            ))
        })?;
        let offset = c.u64(&|| format!("the data offset of tensor `{name}`"))?;
        let info = TensorInfo::new(name, dims, ty, offset).map_err(|why| c.err(why))?;
        if offset % alignment != 0 {
            return Err(c.err(format!(
                "tensor `{}` starts at data offset {offset}, not a multiple of the alignment {alignment}",
                info.name
            )));
        }
        if tensor_index
            .insert(info.name.clone(), tensors.len())
            .is_some()
        {
            return Err(c.err(format!("tensor `{}` appears twice", info.name)));
        }
        tensors.push(info);
    }

    let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
    let file_len = bytes.len() as u64;
    for t in &tensors {
        let end = data_start
            .checked_add(t.offset)
            .and_then(|s| s.checked_add(t.n_bytes));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(c.err(format!(
                    "tensor `{}` ({} bytes at data offset {}) runs past the end of the file ({file_len} bytes, data from byte {data_start})",
                    t.name, t.n_bytes, t.offset
                )))
            }
        }
    }
    Ok(Gguf {
        path: path.to_path_buf(),
        version,
        alignment,
        metadata,
        meta_index,
        tensors,
        tensor_index,
        data_start: data_start as usize,
        bytes,
    })
}
