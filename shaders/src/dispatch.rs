//! Recording kernels: uniform parameter blocks, bind groups, workgroup grids, and one
//! command encoder per backend operation.

use crate::device::Wgpu;
use crate::error::{Result, ShaderError};
use crate::kernels::Kernel;
use wgpu::util::DeviceExt;

/// A kernel's uniform block, built field by field in declaration order (all 4-byte scalars).
#[derive(Default)]
pub(crate) struct Uniform(Vec<u32>);

impl Uniform {
    /// An empty block.
    pub fn new() -> Self {
        Uniform(Vec::new())
    }

    /// Append a `u32` field.
    pub fn u(mut self, v: u32) -> Self {
        self.0.push(v);
        self
    }

    /// Append an `f32` field.
    pub fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }

    /// The bytes, zero-padded to a multiple of 16.
    fn bytes(&self) -> Vec<u8> {
        let mut words = self.0.clone();
        while words.is_empty() || !words.len().is_multiple_of(4) {
            words.push(0);
        }
        bytemuck::cast_slice(&words).to_vec()
    }
}

/// Convert a size to the `u32` the kernels index with, or explain the limit.
pub(crate) fn to_u32(what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| ShaderError::TooLarge {
        what: what.into(),
        needed: v as u64,
        limit: u32::MAX as u64,
    })
}

/// The commands of one backend operation, submitted together.
pub(crate) struct Batch<'a> {
    gpu: &'a Wgpu,
    encoder: wgpu::CommandEncoder,
}

impl<'a> Batch<'a> {
    /// Start recording.
    pub fn new(gpu: &'a Wgpu) -> Self {
        let encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        Batch { gpu, encoder }
    }

    /// Record `kernel` over a `[x, y]` grid of workgroups with its parameters and buffers
    /// (bound from binding 2 on). Empty grids record nothing.
    pub fn dispatch(
        &mut self,
        kernel: &Kernel,
        params: Uniform,
        buffers: &[&wgpu::Buffer],
        grid: [u32; 2],
    ) {
        if grid[0] == 0 || grid[1] == 0 {
            return;
        }
        let device = &self.gpu.device;
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(kernel.name),
            contents: &params.bytes(),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        if kernel.knots {
            entries.push(wgpu::BindGroupEntry {
                binding: 1,
                resource: self.gpu.knots.as_entire_binding(),
            });
        }
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: 2 + i as u32,
                resource: b.as_entire_binding(),
            });
        }
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &kernel.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(kernel.name),
                timestamp_writes: None,
            });
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(grid[0], grid[1], 1);
    }

    /// Copy `bytes` from `src` to `dst`.
    pub fn copy(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, bytes: u64) {
        if bytes > 0 {
            self.encoder.copy_buffer_to_buffer(src, 0, dst, 0, bytes);
        }
    }

    /// Submit everything recorded, then let wgpu recycle finished work without blocking (so
    /// long chains of operations without a download do not pile up transient buffers).
    pub fn submit(self) {
        self.gpu.queue.submit(Some(self.encoder.finish()));
        // A failing poll means a lost device, which the next blocking sync reports.
        let _ = self.gpu.device.poll(wgpu::PollType::Poll);
    }
}

impl Wgpu {
    /// A grid of `groups` workgroups folded into two dimensions (kernels rebuild the linear
    /// index from `num_workgroups`); extra groups exit at their bounds check.
    pub(crate) fn grid(&self, what: &str, groups: u64) -> Result<[u32; 2]> {
        let max = self.device.limits().max_compute_workgroups_per_dimension as u64;
        if groups <= max {
            return Ok([groups as u32, 1]);
        }
        let rows = groups.div_ceil(max);
        if rows > max {
            return Err(ShaderError::TooLarge {
                what: format!("{what} (workgroups)"),
                needed: groups,
                limit: max * max,
            });
        }
        Ok([max as u32, rows as u32])
    }

    /// Grid for `threads` threads in workgroups of `size`.
    pub(crate) fn grid_for(&self, what: &str, threads: usize, size: u32) -> Result<[u32; 2]> {
        self.grid(what, (threads as u64).div_ceil(size as u64))
    }

    /// Grid of 64×64 output tiles for an `m × n` GEMM.
    pub(crate) fn gemm_grid(&self, what: &str, m: usize, n: usize) -> Result<[u32; 2]> {
        let max = self.device.limits().max_compute_workgroups_per_dimension as u64;
        let (x, y) = ((n as u64).div_ceil(64), (m as u64).div_ceil(64));
        for v in [x, y] {
            if v > max {
                return Err(ShaderError::TooLarge {
                    what: format!("{what} (GEMM tiles per dimension)"),
                    needed: v,
                    limit: max,
                });
            }
        }
        Ok([x as u32, y as u32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_blocks_are_padded_to_16_bytes() {
        assert_eq!(Uniform::new().bytes().len(), 16);
        let b = Uniform::new().u(1).f(2.0).u(3).u(4).u(5).bytes();
        assert_eq!(b.len(), 32);
        assert_eq!(&b[4..8], &2.0f32.to_bits().to_le_bytes());
    }

    #[test]
    fn sizes_beyond_u32_are_refused() {
        assert!(to_u32("x", 5).is_ok());
        assert!(to_u32("x", u32::MAX as usize + 1).is_err());
    }
}
