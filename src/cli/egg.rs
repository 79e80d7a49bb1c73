//! The integer-only recurrent LM ("EGG") from the command line: its integer kernels for
//! `train` (which runs it in the one training loop), `generate`, and `bench egg`.

use anyhow::Result;
use clap::Args;
use eggroll_llm::DynIntKernels;
use std::path::PathBuf;

/// The integer kernels of backend `name` (`None` for the CPU's own path; a clear error when
/// this build lacks the backend or the machine has no device for it).
pub fn int_kernels(name: super::BackendName) -> Result<Option<Box<dyn DynIntKernels>>> {
    use super::BackendName as B;
    Ok(match name {
        B::Cpu => None,
        #[cfg(feature = "wgpu")]
        B::Wgpu => Some(Box::new(eggroll_shaders::WgpuInt::new()?)),
        #[cfg(feature = "cubecl")]
        B::Cubecl => Some(Box::new(eggroll_cubecl::Cubecl::new()?)),
        #[cfg(feature = "cuda")]
        B::CubeclCuda => Some(Box::new(eggroll_cubecl::Cubecl::cuda(0)?)),
        #[allow(unreachable_patterns)]
        other => return Err(super::not_built(other)),
    })
}

/// Arguments of `generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// An EGG checkpoint file or run directory.
    pub checkpoint: PathBuf,
    /// Text to continue.
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Bytes to generate.
    #[arg(long, default_value_t = 300)]
    pub bytes: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Run `generate`.
pub fn generate(a: GenerateArgs) -> Result<()> {
    eggroll::memory::check_generate(a.bytes)?;
    let path = if a.checkpoint.is_dir() {
        eggroll::train::latest_checkpoint(&a.checkpoint)
    } else {
        a.checkpoint.clone()
    };
    let out = eggroll_llm::egg::generate::generate(&path, a.prompt.as_bytes(), a.bytes, a.seed)?;
    println!("{}{}", a.prompt, String::from_utf8_lossy(&out));
    Ok(())
}

/// Run `bench egg`.
pub fn bench(json: bool, generations: usize) -> Result<()> {
    let opts = eggroll_llm::egg::bench::EggBenchOptions {
        generations,
        ..Default::default()
    };
    let r = eggroll_llm::egg::bench::bench_egg(&opts)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!("bench egg: {} threads, AVX2 kernels: {}", r.threads, r.simd);
    for s in [&r.large, &r.small] {
        println!(
            "  {} x {}  N = {}  T = {}: {:.0} member-tokens/s evaluation, {:.0} member-tokens/s whole generations",
            s.n_layers,
            s.d_model,
            s.population,
            s.window,
            s.member_tokens_per_second,
            s.generation_member_tokens_per_second
        );
    }
    println!(
        "  N = {} at 6 x 256: one generation {:.2} s, peak memory {:.0} MiB (target <= 1024: {})",
        r.options.memory_population,
        r.memory_generation_seconds,
        r.peak_memory_mib,
        if r.meets_memory_target {
            "met"
        } else {
            "missed"
        }
    );
    Ok(())
}
