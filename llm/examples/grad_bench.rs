//! Times the gradient model's training step and prints one line per measurement:
//! `cargo run --release -p eggroll-llm --example grad_bench -- MODE MODEL [BATCH] [TOKENS]`
//! with MODE `infer` (the inference forward), `forward` (the training forward alone), `lora`
//! (forward + backward, LoRA r 8 α 16 on all linears) or `full` (forward + backward of every
//! tensor), MODEL a GGUF path or `tiny`; BATCH sequences (4) of TOKENS tokens (128). Run one
//! mode per process: the peak RSS it prints (VmHWM) is the process's.

use eggroll_core::cpu::Cpu;
use eggroll_llm::grad::{GradModel, Lora, LoraConfig, LoraTargets, Sequence};
use eggroll_llm::llama::tiny::{tiny_gguf, TinySpec};
use eggroll_llm::llama::{gguf::Gguf, Llama, Logits, SeqOwners};
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("lora", String::as_str).to_string();
    let model = args.get(1).map_or("tiny", String::as_str).to_string();
    let batch: usize = args.get(2).map_or(Ok(4), |v| v.parse())?;
    let tokens: usize = args.get(3).map_or(Ok(128), |v| v.parse())?;
    let llama = if model == "tiny" {
        let bytes = tiny_gguf(&TinySpec::default()).to_bytes()?;
        Llama::from_gguf(&Gguf::from_bytes(std::path::Path::new("tiny.gguf"), bytes)?)?
    } else {
        Llama::load(std::path::Path::new(&model))?
    };
    let vocab = llama.config.vocab_size as u32;
    let data: Vec<Sequence> = (0..batch)
        .map(|s| {
            let t: Vec<u32> = (0..=tokens)
                .map(|i| ((s * 7919 + i * 104_729) as u32 % (vocab - 3)) + 3)
                .collect();
            Sequence::next_token(&t, 0)
        })
        .collect::<Result<_, _>>()?;
    let lora = LoraConfig {
        rank: 8,
        alpha: 16.0,
        rslora: false,
        dropout: 0.05,
        targets: LoraTargets::AllLinear,
        seed: 1,
    };
    let adapters = (mode == "lora")
        .then(|| Lora::new(lora, &llama.weights))
        .transpose()?;
    let m = GradModel::new(llama, adapters, mode == "full");
    let cpu = Cpu::new();
    let seqs: Vec<&[u32]> = data.iter().map(|s| s.tokens.as_slice()).collect();
    let step = |i: u64| -> Result<(), Box<dyn std::error::Error>> {
        match mode.as_str() {
            "infer" => {
                let mut caches: Vec<_> = seqs.iter().map(|_| m.llama.new_cache()).collect();
                m.llama
                    .forward(&cpu, &mut caches, &seqs, Logits::All, SeqOwners::Plain)?;
            }
            "forward" => {
                m.forward(&cpu, &seqs, None)?;
            }
            "lora" | "full" => {
                m.loss_and_grads(&cpu, &data, i)?;
            }
            other => return Err(format!("unknown mode `{other}`").into()),
        }
        Ok(())
    };
    step(0)?; // warm-up
    let reps = 3;
    let t0 = Instant::now();
    for i in 1..=reps {
        step(i)?;
    }
    let secs = t0.elapsed().as_secs_f64() / reps as f64;
    let n = (batch * tokens) as f64;
    println!(
        "{model} {mode}: {batch}×{tokens} tokens, {} threads, {} | {:.3} s/step, {:.1} µs/token, peak RSS {:.0} MB",
        rayon::current_num_threads(),
        m.counts(),
        secs,
        secs / n * 1e6,
        peak_rss_mb()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("grad_bench: {e}");
        std::process::exit(1);
    }
}
