//! The integer-only recurrent LM ("EGG") from the command line: `train` of a config with
//! `workload = "egg"`, `generate`, and `bench egg`.

use anyhow::{Context, Result};
use clap::Args;
use eggroll_llm::train::GenerationReport;
use eggroll_llm::{DynIntKernels, EggConfig};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The top-level key that marks a config as an EGG language-model run.
pub const WORKLOAD_KEY: &str = "workload";

/// If `text` is an EGG config (`workload = "egg"`), the table without the marker.
pub fn egg_table(text: &str) -> Option<toml::Table> {
    let mut table: toml::Table = text.parse().ok()?;
    match table.get(WORKLOAD_KEY).and_then(toml::Value::as_str) {
        Some("egg") => {
            table.remove(WORKLOAD_KEY);
            Some(table)
        }
        _ => None,
    }
}

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

/// Train an EGG config on `backend`; `overrides` are `key=value` pairs on its flat table.
pub fn train(
    mut table: toml::Table,
    origin: &Path,
    out: Option<PathBuf>,
    overrides: &[String],
    generations: Option<u64>,
    resume: bool,
    backend: super::BackendName,
) -> Result<()> {
    for ov in overrides {
        let (k, v) = ov
            .split_once('=')
            .with_context(|| format!("--set {ov}: expected key=value"))?;
        let value = format!("v = {v}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.trim().into()));
        table.insert(k.trim().into(), value);
    }
    let text = toml::to_string(&table)?;
    let cfg =
        EggConfig::from_toml_str(&text).with_context(|| format!("config {}", origin.display()))?;
    let data_path = PathBuf::from(&cfg.data);
    let data = std::fs::read(&data_path).with_context(|| {
        format!(
            "config {}: data file {} (for the Shakespeare corpus run scripts/fetch_shakespeare.sh)",
            origin.display(),
            data_path.display()
        )
    })?;
    let name = origin
        .file_stem()
        .map_or("egg".into(), |s| s.to_string_lossy().into_owned());
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join(name));
    if !resume && eggroll_llm::train::latest_checkpoint(&out).exists() {
        anyhow::bail!(
            "run directory {}: already holds a run; pass --resume to continue it or choose another --out",
            out.display()
        );
    }
    let kernels = int_kernels(backend)?;
    println!(
        "eggroll train: EGG language model {} layers x {} | N={} rank={} | {} bytes of {} | backend {} | {} threads | run dir {}",
        cfg.n_layers,
        cfg.d_model,
        cfg.population,
        cfg.rank,
        data.len(),
        data_path.display(),
        kernels
            .as_ref()
            .map_or("cpu".to_string(), |k| k.backend_name()),
        rayon::current_num_threads(),
        out.display()
    );
    let terminal = std::io::stderr().is_terminal();
    let mut report = |r: &GenerationReport| {
        if let Some(bpb) = r.eval_bits_per_byte {
            println!(
                "gen {:>6}  train {:.4} bits/byte  eval {bpb:.4} bits/byte  ({:.0} s)",
                r.generation, r.train_bits_per_byte, r.seconds
            );
        } else if terminal {
            eprint!(
                "\rgen {:>6}  train {:.4} bits/byte   ",
                r.generation, r.train_bits_per_byte
            );
        }
    };
    let s = eggroll_llm::train::train_on(
        kernels.as_deref(),
        &cfg,
        &data,
        &out,
        generations,
        resume,
        &mut report,
    )
    .with_context(|| format!("training run in {}", out.display()))?;
    println!(
        "done: {} generations in {:.0} s, validation {:.4} bits/byte (unigram {:.4}, bigram {:.4}), {} int8 parameters",
        s.generations,
        s.seconds,
        s.eval_bits_per_byte,
        s.baselines.unigram_val,
        s.baselines.bigram_val,
        s.parameters
    );
    println!("run directory: {}", out.display());
    Ok(())
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
        eggroll_llm::train::latest_checkpoint(&a.checkpoint)
    } else {
        a.checkpoint.clone()
    };
    let out = eggroll_llm::generate::generate(&path, a.prompt.as_bytes(), a.bytes, a.seed)?;
    println!("{}{}", a.prompt, String::from_utf8_lossy(&out));
    Ok(())
}

/// Run `bench egg`.
pub fn bench(json: bool, generations: usize) -> Result<()> {
    let opts = eggroll_llm::bench::EggBenchOptions {
        generations,
        ..Default::default()
    };
    let r = eggroll_llm::bench::bench_egg(&opts)?;
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
