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
    /// A model file (GGUF, or a Hugging Face directory), a finetuned `llama` run, or an EGG
    /// checkpoint or run directory.
    pub checkpoint: PathBuf,
    /// Text to continue (repeat for a batch of prompts, decoded together).
    #[arg(long)]
    pub prompt: Vec<String>,
    /// EGG: bytes to generate.
    #[arg(long, default_value_t = 300)]
    pub bytes: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Language models: most new tokens.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Language models: softmax temperature (0: greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Language models: nucleus mass for sampling.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Language models: text that ends the generation (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Language models: put the prompt in the model's chat template as the user's turn.
    #[arg(long)]
    pub chat: bool,
    /// Language models: print the prompt's token ids, the generated ids and text as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run `generate`.
pub fn generate(a: GenerateArgs) -> Result<()> {
    if super::llama::is_model_file(&a.checkpoint) || super::llama::is_llama_run(&a.checkpoint) {
        let prompts = if a.prompt.is_empty() {
            vec![String::new()]
        } else {
            a.prompt.clone()
        };
        anyhow::ensure!(
            prompts.iter().all(|p| !p.is_empty()) || a.chat,
            "--prompt: a language model needs a non-empty prompt to continue (or --chat)"
        );
        return super::llama::generate(&super::llama::GenerateLlm {
            source: &a.checkpoint,
            prompts: &prompts,
            max_tokens: a.max_tokens,
            temperature: a.temperature,
            top_p: a.top_p,
            seed: a.seed,
            stop: &a.stop,
            chat: a.chat,
            json: a.json,
        });
    }
    anyhow::ensure!(
        a.prompt.len() <= 1,
        "--prompt: an EGG model continues one prompt"
    );
    let prompt = a.prompt.first().cloned().unwrap_or_default();
    eggroll::memory::check_generate(a.bytes)?;
    let path = if a.checkpoint.is_dir() {
        eggroll::train::latest_checkpoint(&a.checkpoint)
    } else {
        a.checkpoint.clone()
    };
    let out = eggroll_llm::egg::generate::generate(&path, prompt.as_bytes(), a.bytes, a.seed)?;
    println!("{}{}", prompt, String::from_utf8_lossy(&out));
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
    println!(
        "bench egg: eggroll's own figures (no peer ratio: run ../shared/peers/rerun_reference.sh nanoegg in the same sitting)\n  CPU {} | int8 kernel {} | {} threads",
        r.cpu,
        r.int8_kernel,
        r.threads
    );
    for s in [&r.small, &r.large] {
        println!(
            "  {} x {:<4} N = {} T = {}: whole generation {:>9.0} member-tokens/s | evaluation only {:>9.0} member-tokens/s (update {:.1}% of the generation)",
            s.n_layers,
            s.d_model,
            s.population,
            s.window,
            s.generation_member_tokens_per_second,
            s.member_tokens_per_second,
            100.0 * s.update_seconds / (s.evaluation_seconds + s.update_seconds)
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
