//! The `Cubecl` backend handle: device selection, the compute client, the resident
//! noise tables, and synchronisation.

use crate::error::{CubeclError, Result};
use cubecl::client::Client;
use cubecl::device::WgpuDeviceKind;
use cubecl::server::Handle;
use cubecl::Device;
use eggroll_core::noise::pool::device_tables;

/// The cubecl compute backend. Parameters and activations stay resident in device buffers;
/// noise is regenerated inside the `#[cube]` kernels from counter-based keys.
pub struct Cubecl {
    pub(crate) client: Client,
    /// `QUANTILE_KNOTS` flattened row-major, as u32 (every knot is non-negative).
    /// The noise tables (`device_tables`: quantile knots, then the pool) as u32.
    pub(crate) knots: Handle,
    /// A one-element buffer bound where a kernel's optional input is absent.
    pub(crate) dummy: Handle,
    name: String,
    runtime: &'static str,
    software: bool,
}

/// Little-endian bytes of 32-bit words.
pub(crate) fn word_bytes<T: Copy>(words: &[T], to_bits: impl Fn(T) -> u32) -> Vec<u8> {
    words
        .iter()
        .flat_map(|&w| to_bits(w).to_le_bytes())
        .collect()
}

impl Cubecl {
    /// Open the default Vulkan device through cubecl's wgpu runtime (WGSL kernels): the most
    /// capable GPU, else a software one (Mesa lavapipe). `CUBECL_WGPU_DEFAULT_DEVICE`
    /// (e.g. `DiscreteGpu(1)`, `Cpu`) picks another adapter.
    pub fn new() -> Result<Cubecl> {
        let device =
            Device::vulkan(WgpuDeviceKind::DefaultDevice).map_err(|e| CubeclError::NoDevice {
                detail: format!("wgpu runtime on Vulkan: {e}"),
            })?;
        Self::on_device(device)
    }

    /// Open CUDA device `index` through cubecl's CUDA runtime.
    #[cfg(feature = "cuda")]
    pub fn cuda(index: usize) -> Result<Cubecl> {
        let device = Device::cuda(index).map_err(|e| CubeclError::NoDevice {
            detail: format!("CUDA runtime, device {index}: {e}"),
        })?;
        Self::on_device(device)
    }

    /// Open any cubecl device (of a runtime this build links).
    pub fn on_device(device: Device) -> Result<Cubecl> {
        let client = std::panic::catch_unwind(|| device.client()).map_err(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the runtime panicked".into());
            CubeclError::NoDevice {
                detail: format!("{device:?} could not be opened: {why}"),
            }
        })?;
        let props = client.properties();
        let name = props.identity.name.clone();
        let software = props.identity.physical.is_none();
        let runtime = client.name();
        let knots = client.create_from_slice(&word_bytes(&device_tables(), |k| k));
        let dummy = client.create_from_slice(&0u32.to_le_bytes());
        let gpu = Cubecl {
            client,
            knots,
            dummy,
            name,
            runtime,
            software,
        };
        gpu.check("opening the device", [&gpu.knots])?;
        Ok(gpu)
    }

    /// The device in use and its runtime, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (wgpu)`.
    pub fn description(&self) -> String {
        format!("{} ({})", self.name, self.runtime)
    }

    /// Whether the device is no physical card (a software rasteriser such as lavapipe):
    /// timings then say nothing about GPUs.
    pub fn is_software(&self) -> bool {
        self.software
    }

    /// Block until all submitted work has finished; reports a device fault.
    pub fn sync(&self) -> Result<()> {
        cubecl::future::block_on(self.client.sync()).map_err(|e| CubeclError::op("sync", e))
    }

    /// Report any enqueue-time failure (compilation, binding) of the work that writes `handles`.
    pub(crate) fn check<'a>(
        &self,
        op: &str,
        handles: impl IntoIterator<Item = &'a Handle>,
    ) -> Result<()> {
        self.client
            .check(handles)
            .map_err(|e| CubeclError::op(op, e))
    }

    /// The largest cube count per grid dimension.
    pub(crate) fn max_cubes(&self) -> u32 {
        let (x, y, _) = self.client.properties().hardware.max_cube_count;
        x.min(y).max(1)
    }
}

impl std::fmt::Debug for Cubecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cubecl")
            .field("device", &self.description())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn words_are_little_endian() {
        assert_eq!(
            word_bytes(&[1u32, 0x0102_0304], |w| w),
            [1, 0, 0, 0, 4, 3, 2, 1]
        );
        assert_eq!(word_bytes(&[1.0f32], f32::to_bits), 1.0f32.to_le_bytes());
    }
}
