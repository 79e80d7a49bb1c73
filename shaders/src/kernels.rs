//! The WGSL kernels: sources embedded with `include_str!`, assembled from shared pieces
//! (hash, normal table lookup, member bookkeeping, the tiled GEMM body) and compiled once.

use eggroll_core::noise::pool::{POOL_BASE, POOL_MASK};
use eggroll_core::noise::table::SEGMENTS;
use eggroll_core::noise::NOISE_SCALE;

const HASH: &str = include_str!("wgsl/hash.wgsl");
const NORMAL: &str = include_str!("wgsl/normal.wgsl");
const MEMBERS: &str = include_str!("wgsl/members.wgsl");
/// The tiled GEMM body, generic over the element type `Scalar` (shared with the int8 kernels).
pub(crate) const GEMM_TILE: &str = include_str!("wgsl/gemm_tile.wgsl");

/// One compiled compute pipeline and how it binds: uniform parameters at binding 0, the
/// noise tables (quantile knots, then the pool) at binding 1 when `knots`, then the kernel's
/// buffers from binding 2.
pub(crate) struct Kernel {
    /// Name used in error messages.
    pub name: &'static str,
    /// The compiled pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Whether binding 1 is the noise tables.
    pub knots: bool,
}

/// Every pipeline of the backend.
pub(crate) struct Kernels {
    /// Elements of one noise stream.
    pub normals: Kernel,
    /// Stream keys of a range of streams.
    pub keys: Kernel,
    /// Shared GEMM + bias + fused low-rank epilogue.
    pub linear: Kernel,
    /// Per-member projection X_i·B.
    pub project: Kernel,
    /// OpenES dense correction.
    pub full_correction: Kernel,
    /// Low-rank ES direction as one GEMM over N·r.
    pub grad_lowrank: Kernel,
    /// Dense ES direction.
    pub grad_dense: Kernel,
    /// Element-wise activation.
    pub activate: Kernel,
    /// SGD step.
    pub sgd: Kernel,
    /// Adam step.
    pub adam: Kernel,
}

/// Constants every noise kernel needs, generated from the Rust definitions (the int8 kernels
/// share them).
pub(crate) fn noise_header() -> String {
    format!(
        "const KNOT_ROW: u32 = {}u;\nconst KNOT_LAST: u32 = {}u;\n\
         const NOISE_SCALE_BITS: u32 = {:#x}u;\nconst POOL_BASE: u32 = {}u;\n\
         const POOL_MASK: u32 = {:#x}u;\n",
        SEGMENTS + 1,
        SEGMENTS,
        NOISE_SCALE.to_bits(),
        POOL_BASE,
        POOL_MASK
    )
}

/// Which shared pieces a kernel's source is assembled from.
#[derive(Clone, Copy)]
enum Parts {
    /// The kernel alone.
    Plain,
    /// Hash functions only.
    Hash,
    /// Hash, normal table and member bookkeeping.
    Noise,
    /// As `Noise`, plus the tiled GEMM body.
    NoiseGemm,
}

fn assemble(parts: Parts, body: &str) -> String {
    let mut src = String::new();
    if matches!(parts, Parts::Noise | Parts::NoiseGemm) {
        src.push_str(&noise_header());
    }
    if !matches!(parts, Parts::Plain) {
        src.push_str(HASH);
    }
    if matches!(parts, Parts::Noise | Parts::NoiseGemm) {
        src.push_str(NORMAL);
        src.push_str(MEMBERS);
    }
    src.push_str(body);
    if matches!(parts, Parts::NoiseGemm) {
        src.push_str("alias Scalar = f32;\n");
        src.push_str(GEMM_TILE);
    }
    src
}

fn build(
    device: &wgpu::Device,
    name: &'static str,
    parts: Parts,
    body: &str,
    entry: &str,
) -> Kernel {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(assemble(parts, body).into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    Kernel {
        name,
        pipeline,
        knots: matches!(parts, Parts::Noise | Parts::NoiseGemm),
    }
}

impl Kernels {
    /// Compile every kernel (errors surface through the caller's error scope).
    pub fn new(device: &wgpu::Device) -> Self {
        let optim = include_str!("wgsl/optim.wgsl");
        Kernels {
            normals: build(
                device,
                "normals",
                Parts::Noise,
                include_str!("wgsl/normals.wgsl"),
                "main",
            ),
            keys: build(
                device,
                "keys",
                Parts::Hash,
                include_str!("wgsl/keys.wgsl"),
                "main",
            ),
            linear: build(
                device,
                "linear",
                Parts::NoiseGemm,
                include_str!("wgsl/linear.wgsl"),
                "main",
            ),
            project: build(
                device,
                "project",
                Parts::Noise,
                include_str!("wgsl/project.wgsl"),
                "main",
            ),
            full_correction: build(
                device,
                "full_correction",
                Parts::Noise,
                include_str!("wgsl/full_correction.wgsl"),
                "main",
            ),
            grad_lowrank: build(
                device,
                "grad_lowrank",
                Parts::NoiseGemm,
                include_str!("wgsl/grad_lowrank.wgsl"),
                "main",
            ),
            grad_dense: build(
                device,
                "grad_dense",
                Parts::Noise,
                include_str!("wgsl/grad_dense.wgsl"),
                "main",
            ),
            activate: build(
                device,
                "activate",
                Parts::Plain,
                include_str!("wgsl/activate.wgsl"),
                "main",
            ),
            sgd: build(device, "sgd", Parts::Plain, optim, "sgd"),
            adam: build(device, "adam", Parts::Plain, optim, "adam"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_carries_the_exact_scale() {
        let h = noise_header();
        assert!(h.contains("0x37800000u"), "{h}");
        assert!(h.contains(&format!("KNOT_ROW: u32 = {}u", SEGMENTS + 1)));
        assert!(h.contains(&format!("POOL_BASE: u32 = {POOL_BASE}u")));
    }

    #[test]
    fn kernel_sources_are_assembled_from_their_parts() {
        // Compilation by the driver is covered by the device tests; this checks the assembly
        // (every referenced shared piece is present) without a device.
        let noise = assemble(Parts::NoiseGemm, include_str!("wgsl/linear.wgsl"));
        for needle in [
            "fn hash32",
            "fn normal_at",
            "fn member_sign",
            "fn main",
            "fn store_c",
        ] {
            assert!(noise.contains(needle), "missing {needle}");
        }
        let plain = assemble(Parts::Plain, include_str!("wgsl/activate.wgsl"));
        assert!(!plain.contains("knots"));
    }
}
