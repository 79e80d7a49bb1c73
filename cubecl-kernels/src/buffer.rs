//! Device buffers of f32 (and of u32 words for keys): allocation, upload and download.

use crate::device::{word_bytes, Cubecl};
use crate::error::{CubeclError, Result};
use cubecl::prelude::BufferArg;
use cubecl::server::Handle;

/// A resident device buffer of `len` f32 values (not `Clone`: a copy of the handle would
/// alias the same memory, and in-place operations would change both).
pub struct CubeBuffer {
    pub(crate) handle: Handle,
    len: usize,
}

impl std::fmt::Debug for CubeBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CubeBuffer")
            .field("len", &self.len)
            .finish()
    }
}

impl CubeBuffer {
    /// Number of f32 elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The kernel argument binding this buffer.
    pub(crate) fn arg(&self) -> BufferArg {
        handle_arg(&self.handle, self.len)
    }
}

/// A kernel argument for a handle created by this crate with room for `len.max(1)` words.
pub(crate) fn handle_arg(handle: &Handle, len: usize) -> BufferArg {
    // SAFETY: every handle passed here was allocated by `Cubecl::alloc`/`upload_words` (or is
    // the knot table / dummy word) with at least `len.max(1)` 32-bit words, so the declared
    // length never exceeds the allocation.
    unsafe { BufferArg::from_raw_parts(handle.clone(), len.max(1)) }
}

impl Cubecl {
    fn check_size(&self, what: &str, len: usize) -> Result<u64> {
        let bytes = (len.max(1) as u64).saturating_mul(4);
        let limit = self
            .client
            .properties()
            .memory
            .max_page_size
            .min(u32::MAX as u64);
        if bytes > limit {
            return Err(CubeclError::TooLarge {
                what: format!("{what} ({len} elements)"),
                needed: bytes,
                limit,
            });
        }
        Ok(bytes)
    }

    /// An uninitialised device buffer of `len` f32 (at least one word is allocated).
    pub(crate) fn alloc(&self, what: &str, len: usize) -> Result<CubeBuffer> {
        let bytes = self.check_size(what, len)?;
        Ok(CubeBuffer {
            handle: self.client.empty(bytes as usize),
            len,
        })
    }

    /// A device buffer holding a copy of 32-bit words (f32 or u32 data).
    pub(crate) fn upload_words<T: Copy>(
        &self,
        what: &str,
        host: &[T],
        to_bits: impl Fn(T) -> u32,
    ) -> Result<CubeBuffer> {
        self.check_size(what, host.len())?;
        let mut bytes = word_bytes(host, to_bits);
        if bytes.is_empty() {
            bytes = vec![0; 4];
        }
        Ok(CubeBuffer {
            handle: self.client.create_from_slice(&bytes),
            len: host.len(),
        })
    }

    /// Copy host f32 data to a new device buffer.
    pub fn upload_f32(&self, host: &[f32]) -> Result<CubeBuffer> {
        let buf = self.upload_words("upload", host, f32::to_bits)?;
        self.check("upload", [&buf.handle])?;
        Ok(buf)
    }

    /// Copy a device buffer back to the host (waits for the work that writes it).
    pub fn download_f32(&self, buf: &CubeBuffer) -> Result<Vec<f32>> {
        if buf.len == 0 {
            return Ok(Vec::new());
        }
        let bytes = self
            .client
            .read_one(buf.handle.clone())
            .map_err(|e| CubeclError::op("download", e))?;
        let need = buf.len * 4;
        if bytes.len() < need {
            return Err(CubeclError::op(
                "download",
                format!("read {} bytes of a {need}-byte buffer", bytes.len()),
            ));
        }
        Ok(bytes[..need]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}
