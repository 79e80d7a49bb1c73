//! Command-line arguments (clap) and one module per subcommand.

pub mod bench;
pub mod compare;
pub mod egg;
pub mod eval;
pub mod llama;
pub mod plot;
pub mod progress;
pub mod render;
pub mod train;

use clap::{Parser, Subcommand, ValueEnum};

/// eggroll: evolution strategies at hyperscale (EGGROLL low-rank ES).
#[derive(Parser, Debug)]
#[command(name = "eggroll", version, about)]
pub struct Cli {
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model by ES (no CONFIG: the built-in default, digits classification).
    Train(train::TrainArgs),
    /// Evaluate a checkpoint's unperturbed model.
    Eval(eval::EvalArgs),
    /// Run a benchmark and print its figures.
    Bench(bench::BenchArgs),
    /// Draw one episode of an RL checkpoint's policy as an animated GIF.
    Render(render::RenderArgs),
    /// Generate text: a GGUF or Hugging Face model, a finetuned `llama` run, or an EGG checkpoint.
    Generate(egg::GenerateArgs),
    /// Write a finetuned `llama` run (or a GGUF model) as a Hugging Face directory.
    Export(llama::ExportArgs),
    /// Draw a metric of one or more runs as a PNG line chart.
    Plot(plot::PlotArgs),
    /// Train several methods on one task under one budget and report them side by side.
    Compare(compare::CompareArgs),
}

/// Compute backends.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendName {
    /// The CPU reference backend (rayon + SIMD GEMM).
    #[default]
    Cpu,
    /// WGSL shaders through wgpu (needs the `wgpu` cargo feature and a Vulkan/Metal/DX12 adapter).
    Wgpu,
    /// cubecl kernels on cubecl's wgpu runtime (needs the `cubecl` cargo feature).
    Cubecl,
    /// cubecl kernels on cubecl's CUDA runtime (needs the `cuda` cargo feature and an NVIDIA GPU).
    CubeclCuda,
}

impl BackendName {
    /// The name as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendName::Cpu => "cpu",
            BackendName::Wgpu => "wgpu",
            BackendName::Cubecl => "cubecl",
            BackendName::CubeclCuda => "cubecl-cuda",
        }
    }
}

/// The largest run seed: a config's `seed` is written to `config.toml` (and hashed) as a TOML
/// integer, and TOML integers are i64. Larger `--seed` values are refused rather than stored
/// in another form, so every seed a run accepts round-trips through its own config.toml.
pub const MAX_SEED: u64 = i64::MAX as u64;

/// Check `--seed` of `train` before it becomes the config's `seed`.
pub fn check_seed(seed: Option<u64>) -> anyhow::Result<()> {
    match seed {
        Some(s) if s > MAX_SEED => anyhow::bail!(
            "--seed {s}: seed must be at most {MAX_SEED} (2^63 - 1), the largest integer config.toml can hold"
        ),
        _ => Ok(()),
    }
}

/// The error for a backend this build does not include.
#[allow(dead_code)]
pub fn not_built(name: BackendName) -> anyhow::Error {
    anyhow::anyhow!(
        "backend `{}` is not in this build of eggroll; rebuild with `cargo build --release --features {}`",
        name.as_str(),
        match name {
            BackendName::CubeclCuda => "cuda",
            other => other.as_str(),
        }
    )
}

/// Run `f` with the backend `name` (a clear error when this build lacks it).
#[macro_export]
macro_rules! with_backend {
    ($name:expr, |$b:ident| $body:expr) => {{
        use $crate::cli::BackendName as __B;
        match $name {
            __B::Cpu => {
                let $b = &eggroll_core::cpu::Cpu::new();
                $body
            }
            #[cfg(feature = "wgpu")]
            __B::Wgpu => {
                let $b = &eggroll_shaders::Wgpu::new()?;
                $body
            }
            #[cfg(feature = "cubecl")]
            __B::Cubecl => {
                let $b = &eggroll_cubecl::Cubecl::new()?;
                $body
            }
            #[cfg(feature = "cuda")]
            __B::CubeclCuda => {
                let $b = &eggroll_cubecl::Cubecl::cuda(0)?;
                $body
            }
            #[allow(unreachable_patterns)]
            other => Err($crate::cli::not_built(other)),
        }
    }};
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seeds_beyond_toml_integers_are_refused_naming_the_limit() {
        check_seed(None).unwrap();
        check_seed(Some(0)).unwrap();
        check_seed(Some(MAX_SEED)).unwrap();
        let err = check_seed(Some(u64::MAX)).unwrap_err().to_string();
        assert!(
            err.contains("--seed 18446744073709551615") && err.contains("9223372036854775807"),
            "{err}"
        );
        assert!(check_seed(Some(MAX_SEED + 1)).is_err());
    }
}
