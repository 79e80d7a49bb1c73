//! The base model of a finetuning run: loaded once, with the sha256 of its file, which run
//! checkpoints record so that a checkpoint is never applied to another model.

use crate::error::{LlmError, Result};
use crate::llama::gguf::Gguf;
use crate::llama::{Llama, LlamaTokenizer};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A pretrained model with its tokenizer and identity.
#[derive(Clone, Debug)]
pub struct BaseModel {
    /// The model (nothing trained yet).
    pub model: Llama,
    /// Its tokenizer.
    pub tokenizer: LlamaTokenizer,
    /// Hex sha256 of the weights file.
    pub sha256: String,
    /// Where it was read from.
    pub path: PathBuf,
}

/// Load the GGUF file at `path` (or, with `eggroll-llm`'s Hugging Face reader, a directory)
/// with its tokenizer, and hash its weights file.
pub fn load_base(path: &Path) -> Result<BaseModel> {
    if path.is_dir() {
        return Err(LlmError::model_file(
            path,
            "is a directory; give a GGUF file (Hugging Face directories are read by `load_hf`)",
        ));
    }
    let g = Gguf::open(path)?;
    Ok(BaseModel {
        model: Llama::from_gguf(&g)?,
        tokenizer: LlamaTokenizer::from_gguf(&g)?,
        sha256: sha256_file(path)?,
        path: path.to_path_buf(),
    })
}

/// Hex sha256 of the file at `path`, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| LlmError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| LlmError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_string() {
        let dir = std::env::temp_dir().join(format!("eggroll-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
