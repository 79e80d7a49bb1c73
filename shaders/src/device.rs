//! The `Wgpu` backend handle: adapter selection, device creation, compiled kernels, the
//! resident noise tables, and the error scopes that turn wgpu errors into [`ShaderError`]s.

use crate::error::{Result, ShaderError};
use crate::kernels::Kernels;
use eggroll_core::noise::pool::device_tables;
use std::future::Future;
use wgpu::util::DeviceExt;

/// The wgpu compute backend. Parameters and activations stay resident in device buffers;
/// noise is regenerated inside the kernels from counter-based keys.
pub struct Wgpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) kernels: Kernels,
    /// The noise tables (quantile knots, then the pool), bound at binding 1 of noise kernels.
    pub(crate) knots: wgpu::Buffer,
    info: wgpu::AdapterInfo,
}

/// Rank adapters: real GPUs before software rasterisers.
fn preference(kind: wgpu::DeviceType) -> u8 {
    match kind {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Wgpu {
    /// Open the best adapter: `WGPU_ADAPTER_NAME` (substring) if set, else a discrete GPU,
    /// then integrated, virtual, and finally a software one (Mesa lavapipe). Backends follow
    /// `WGPU_BACKEND` (this crate is built with Vulkan).
    pub fn new() -> Result<Wgpu> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
        let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let mut detail = format!("wgpu found no adapter for backends {backends:?}");
        if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
            let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
            let lower = wanted.to_lowercase();
            adapters.retain(|a| a.get_info().name.to_lowercase().contains(&lower));
            detail = format!("WGPU_ADAPTER_NAME=`{wanted}` matches none of {names:?}");
        }
        adapters.sort_by_key(|a| preference(a.get_info().device_type));
        let adapter = adapters
            .into_iter()
            .next()
            .ok_or(ShaderError::NoAdapter { detail })?;
        Self::from_adapter(adapter)
    }

    /// Open a device on a given adapter.
    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<Wgpu> {
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("eggroll"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| ShaderError::Device {
            adapter: info.name.clone(),
            detail: e.to_string(),
        })?;
        // Every operation runs inside error scopes; anything escaping them is reported, never
        // turned into a panic inside wgpu's callback.
        device.on_uncaptured_error(std::sync::Arc::new(|e: wgpu::Error| {
            eprintln!("eggroll-shaders: uncaptured wgpu error: {e}");
        }));
        let (kernels, knots) = scoped(&device, "compiling kernels", || {
            let knots = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("noise tables"),
                contents: bytemuck::cast_slice(&device_tables()),
                usage: wgpu::BufferUsages::STORAGE,
            });
            Ok((Kernels::new(&device), knots))
        })?;
        Ok(Wgpu {
            device,
            queue,
            kernels,
            knots,
            info,
        })
    }

    /// The adapter in use, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)`.
    pub fn adapter_description(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Whether the adapter is a software rasteriser (timings then say nothing about GPUs).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Block until all submitted work has finished.
    pub fn sync(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| ShaderError::op("sync", e))
    }

    /// Run `f` inside validation and out-of-memory error scopes; a captured error becomes a
    /// [`ShaderError::Op`] naming `op`.
    pub(crate) fn checked<T>(&self, op: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        scoped(&self.device, op, f)
    }

    /// Largest buffer the device accepts for a storage binding, in bytes.
    pub(crate) fn max_binding(&self) -> u64 {
        let l = self.device.limits();
        l.max_storage_buffer_binding_size.min(l.max_buffer_size)
    }
}

fn scoped<T>(device: &wgpu::Device, op: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = f();
    let v = block(validation.pop());
    let o = block(oom.pop());
    match (v.or(o), out) {
        (Some(e), _) => Err(ShaderError::op(op, e)),
        (None, out) => out,
    }
}

fn block<F: Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_gpus_are_preferred_over_software() {
        assert!(preference(wgpu::DeviceType::DiscreteGpu) < preference(wgpu::DeviceType::Cpu));
        assert!(preference(wgpu::DeviceType::IntegratedGpu) < preference(wgpu::DeviceType::Other));
    }
}
