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
/// Current checkpoint format version.
pub const FORMAT_VERSION: &str = "1";

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
        safetensors::serialize(views, &Some(meta))
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
        match metadata.get(FORMAT_KEY).map(String::as_str) {
            Some(FORMAT_VERSION) => {}
            Some(v) => return Err(bad(format!("format version {v} is not supported"))),
            None => return Err(bad("not an eggroll checkpoint (no format marker)".into())),
        }
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
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
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
}
