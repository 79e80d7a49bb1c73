//! Checkpoints: named f32 tensors plus string metadata in the safetensors format,
//! written atomically (temporary file, fsync, rename) so a kill never leaves a torn file.

use crate::error::{CoreError, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// Metadata key that marks a file as an eggroll checkpoint.
pub const FORMAT_KEY: &str = "eggroll.format";
/// Current checkpoint format version (2: with [`CHECKSUM_KEY`]).
pub const FORMAT_VERSION: &str = "2";
/// The previous format version (no checksum), still readable.
const FORMAT_VERSION_UNCHECKED: &str = "1";
/// `bytes` with the safetensors header's JSON objects in sorted key order. safetensors writes
/// its metadata map in hash order, which differs between processes, so without this the same
/// checkpoint would be other bytes in every run (`cmp` of two runs' files would fail). The
/// sorted header has the same length (the same keys and values), so offsets do not move; if
/// anything is unexpected the bytes are returned unchanged.
fn canonical_header(bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
        return bytes;
    };
    let n = u64::from_le_bytes(len) as usize;
    let Some(header) = bytes.get(8..8 + n) else {
        return bytes;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    // Serialise a BTreeMap explicitly: a `Value`'s own key order depends on serde_json's
    // features, which other crates in a build may change.
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let ordered: BTreeMap<&String, &serde_json::Value> = m.iter().collect();
                out.push('{');
                for (i, (k, v)) in ordered.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::with_capacity(n);
    write(&value, &mut text);
    if text.len() > n || text.len() != header.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1)
    {
        return bytes;
    }
    let mut out = bytes;
    out[8..8 + n].fill(b' ');
    out[8..8 + text.len()].copy_from_slice(text.as_bytes());
    out
}

/// Metadata key of the checksum over every tensor and every other metadata entry.
pub const CHECKSUM_KEY: &str = "eggroll.checksum";

/// FNV-1a (64-bit) over the tensors (name, shape, little-endian data) and the metadata other
/// than the format marker and the checksum itself, in sorted order: one flipped bit anywhere
/// in the content changes it.
fn checksum(
    tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: &BTreeMap<String, String>,
) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, (shape, data)) in tensors {
        eat(name.as_bytes());
        eat(&[0]);
        for &d in shape {
            eat(&(d as u64).to_le_bytes());
        }
        for v in data {
            eat(&v.to_le_bytes());
        }
    }
    for (k, v) in metadata {
        if k != FORMAT_KEY && k != CHECKSUM_KEY {
            eat(k.as_bytes());
            eat(&[0]);
            eat(v.as_bytes());
            eat(&[0]);
        }
    }
    format!("{h:016x}")
}

/// An in-memory checkpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// Tensors by name: (shape, data).
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// Free-form string metadata (generation, config hash, strategy state…).
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Add or replace a tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        self.tensors.insert(name.into(), (shape, data));
    }

    /// A tensor by name, with its expected element count checked.
    pub fn tensor(&self, name: &str, numel: usize, path: &Path) -> Result<&[f32]> {
        let (_, data) = self
            .tensors
            .get(name)
            .ok_or_else(|| CoreError::Checkpoint {
                path: path.display().to_string(),
                why: format!("tensor `{name}` is missing"),
            })?;
        if data.len() != numel {
            return Err(CoreError::Checkpoint {
                path: path.display().to_string(),
                why: format!(
                    "tensor `{name}` has {} elements, expected {numel}",
                    data.len()
                ),
            });
        }
        Ok(data)
    }

    /// A metadata value by key.
    pub fn meta(&self, key: &str, path: &Path) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| CoreError::Checkpoint {
                path: path.display().to_string(),
                why: format!("metadata `{key}` is missing"),
            })
    }

    /// Serialise to safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, (s, d))| {
                (
                    n.clone(),
                    s.clone(),
                    d.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(n, s, b)| {
                TensorView::new(Dtype::F32, s.clone(), b)
                    .map(|v| (n.clone(), v))
                    .map_err(|e| CoreError::invalid(format!("tensor `{n}`"), e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut meta: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        meta.insert(FORMAT_KEY.into(), FORMAT_VERSION.into());
        meta.insert(CHECKSUM_KEY.into(), checksum(&self.tensors, &self.metadata));
        safetensors::serialize(views, &Some(meta))
            .map(canonical_header)
            .map_err(|e| CoreError::invalid("checkpoint", e.to_string()))
    }

    /// Parse safetensors bytes; `path` only labels errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |why: String| CoreError::Checkpoint {
            path: path.display().to_string(),
            why,
        };
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let checked = match metadata.get(FORMAT_KEY).map(String::as_str) {
            Some(FORMAT_VERSION) => true,
            Some(FORMAT_VERSION_UNCHECKED) => false,
            Some(v) => return Err(bad(format!("format version {v} is not supported"))),
            None => return Err(bad("not an eggroll checkpoint (no format marker)".into())),
        };
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a valid safetensors file ({e})")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!(
                    "tensor `{name}` is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name, (view.shape().to_vec(), data));
        }
        if checked {
            let stored = metadata.get(CHECKSUM_KEY).ok_or_else(|| {
                bad(format!(
                    "metadata `{CHECKSUM_KEY}` is missing (the file was altered)"
                ))
            })?;
            let actual = checksum(&tensors, &metadata);
            if *stored != actual {
                return Err(bad(format!(
                    "is corrupt: its checksum is {actual}, the file says {stored} (a tensor or the metadata changed after it was written)"
                )));
            }
        }
        let mut metadata = metadata;
        metadata.remove(CHECKSUM_KEY);
        Ok(Checkpoint { tensors, metadata })
    }

    /// Write atomically: `path.tmp`, fsync, rename over `path`.
    pub fn save_atomic(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes)
    }

    /// Read and validate a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|error| CoreError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_bytes(&bytes, path)
    }
}

/// Write `bytes` to `path` atomically (temporary sibling file, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |error| CoreError::Io {
        path: path.display().to_string(),
        error,
    };
    if let Some(dir) = path.parent() {
        // Name the directory that could not be made (`D/checkpoints` being a file), not the
        // file that was to go into it.
        std::fs::create_dir_all(dir).map_err(|error| CoreError::Io {
            path: dir.display().to_string(),
            error,
        })?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
        // A full disk must not leave a half-written temporary file behind.
        std::fs::remove_file(&tmp).ok();
        return Err(io(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let dir = std::env::temp_dir().join(format!("eggroll-ckpt-{}", std::process::id()));
        let path = dir.join("c.safetensors");
        let mut c = Checkpoint::default();
        c.insert("w", vec![2, 2], vec![1.0, -2.0, 3.5, 0.0]);
        c.metadata.insert("generation".into(), "7".into());
        c.save_atomic(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back.tensors, c.tensors);
        assert_eq!(back.meta("generation", &path).unwrap(), "7");
        assert!(back.tensor("w", 5, &path).is_err());
        assert!(back.tensor("nope", 4, &path).is_err());

        let bytes = std::fs::read(&path).unwrap();
        let truncated = Checkpoint::from_bytes(&bytes[..bytes.len() - 3], &path);
        assert!(truncated
            .unwrap_err()
            .to_string()
            .contains("not a valid safetensors"));
        let garbage = Checkpoint::from_bytes(b"hello world, not a checkpoint", &path);
        assert!(garbage.is_err());

        // A valid safetensors file without our marker is refused as foreign.
        let view = TensorView::new(Dtype::F32, vec![1], &[0u8; 4]).unwrap();
        let foreign = safetensors::serialize(vec![("x".to_string(), view)], &None).unwrap();
        let err = Checkpoint::from_bytes(&foreign, &path).unwrap_err();
        assert!(
            err.to_string().contains("not an eggroll checkpoint"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_same_checkpoint_is_the_same_bytes() {
        let mut c = Checkpoint::default();
        c.insert("w", vec![2], vec![1.0, 2.0]);
        for k in 0..20 {
            c.metadata.insert(format!("key{k}"), format!("value {k}"));
        }
        let first = c.to_bytes().unwrap();
        for _ in 0..10 {
            assert_eq!(c.to_bytes().unwrap(), first);
        }
        let back = Checkpoint::from_bytes(&first, Path::new("x")).unwrap();
        assert!(c
            .metadata
            .iter()
            .all(|(k, v)| back.metadata.get(k) == Some(v)));
        assert_eq!(back.tensors, c.tensors);
    }

    #[test]
    fn every_flipped_bit_is_refused_or_harmless() {
        let path = Path::new("flipped.safetensors");
        let mut c = Checkpoint::default();
        c.insert("params.w", vec![3], vec![0.5, -1.25, 2.0]);
        c.metadata.insert("generation".into(), "3".into());
        c.metadata
            .insert("strategy_state".into(), "{\"seed\":1}".into());
        let bytes = c.to_bytes().unwrap();
        let mut silent = Vec::new();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                if let Ok(back) = Checkpoint::from_bytes(&b, path) {
                    if back != c {
                        silent.push((i, bit));
                    }
                }
            }
        }
        assert!(
            silent.is_empty(),
            "flips loaded silently as other content: {silent:?}"
        );
    }

    #[test]
    fn unchecked_format_one_still_loads() {
        let path = Path::new("v1.safetensors");
        let view = TensorView::new(Dtype::F32, vec![1], &[0u8, 0, 128, 63]).unwrap();
        let meta = HashMap::from([(FORMAT_KEY.to_string(), "1".to_string())]);
        let old = safetensors::serialize(vec![("x".to_string(), view)], &Some(meta)).unwrap();
        let back = Checkpoint::from_bytes(&old, path).unwrap();
        assert_eq!(back.tensors["x"].1, vec![1.0]);
    }

    #[test]
    fn a_file_in_place_of_the_directory_is_named() {
        let dir = std::env::temp_dir().join(format!("eggroll-ckpt-dirfile-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let blocker = dir.join("checkpoints");
        std::fs::write(&blocker, b"x").unwrap();
        let err = write_atomic(&blocker.join("latest.safetensors"), b"data")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("{}:", blocker.display())), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
