//! Device buffers of f32: allocation, upload and download.

use crate::device::Wgpu;
use crate::dispatch::Batch;
use crate::error::{Result, ShaderError};
use wgpu::util::DeviceExt;

/// A resident device buffer of `len` f32 values.
pub struct WgpuBuffer {
    pub(crate) buffer: wgpu::Buffer,
    len: usize,
}

impl std::fmt::Debug for WgpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgpuBuffer")
            .field("len", &self.len)
            .finish()
    }
}

impl WgpuBuffer {
    /// Number of f32 elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl Wgpu {
    fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self.max_binding();
        if bytes > limit {
            return Err(ShaderError::TooLarge {
                what: format!("{what} ({bytes} bytes)"),
                needed: bytes,
                limit,
            });
        }
        Ok(())
    }

    /// A zeroed device buffer of `len` f32 (at least one element is allocated, since wgpu
    /// cannot bind empty buffers).
    pub(crate) fn alloc(&self, what: &str, len: usize) -> Result<WgpuBuffer> {
        let bytes = (len.max(1) * 4) as u64;
        self.check_size(what, bytes)?;
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes,
            usage: STORAGE,
            mapped_at_creation: false,
        });
        Ok(WgpuBuffer { buffer, len })
    }

    /// A device buffer holding a copy of raw 32-bit words (f32 or u32 data).
    pub(crate) fn upload_words<T: bytemuck::Pod>(
        &self,
        what: &str,
        host: &[T],
    ) -> Result<WgpuBuffer> {
        let bytes: &[u8] = bytemuck::cast_slice(host);
        if bytes.is_empty() {
            return self.alloc(what, 0);
        }
        self.check_size(what, bytes.len() as u64)?;
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(what),
                contents: bytes,
                usage: STORAGE,
            });
        Ok(WgpuBuffer {
            buffer,
            len: bytes.len() / 4,
        })
    }

    /// Copy host f32 data to a new device buffer.
    pub fn upload_f32(&self, host: &[f32]) -> Result<WgpuBuffer> {
        self.checked("upload", || self.upload_words("upload", host))
    }

    /// Copy a device buffer back to the host (waits for all work submitted before).
    pub fn download_f32(&self, buf: &WgpuBuffer) -> Result<Vec<f32>> {
        if buf.len == 0 {
            return Ok(Vec::new());
        }
        let bytes = (buf.len * 4) as u64;
        let staging = self.checked("download", || {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("download staging"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut batch = Batch::new(self);
            batch.copy(&buf.buffer, &staging, bytes);
            batch.submit();
            Ok(staging)
        })?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            // The receiver outlives the poll below; a failed send only means it was dropped.
            let _ = tx.send(r);
        });
        self.sync()?;
        rx.recv()
            .map_err(|e| ShaderError::op("download", e))?
            .map_err(|e| ShaderError::op("download", e))?;
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| ShaderError::op("download", e))?;
            bytemuck::pod_collect_to_vec::<u8, f32>(&view)
        };
        staging.unmap();
        Ok(out)
    }
}
