//! Times the gradient model's training step and prints one line per measurement:
//! `cargo run --release -p eggroll-llm --example grad_bench -- MODE MODEL [BATCH] [TOKENS] [DROPOUT]`
//! with MODE `infer` (the inference forward), `forward` (the training forward alone), `lora`
//! (forward + backward, LoRA r 8 α 16 on all linears, dropout DROPOUT (0.05)) or `full` (forward + backward of every
//! tensor), MODEL a GGUF path or `tiny`; BATCH sequences (4) of TOKENS tokens (128). Run one
//! mode per process: the peak RSS it prints (VmHWM) is the process's. MODE `mlp` times one
//! feed-forward block (RMSNorm, gate, up, SwiGLU, down) forward and backward with full weight
//! gradients at SmolLM2's widths (576, 1536) on BATCH·TOKENS rows, for comparison with other
//! frameworks on the same shapes.

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

/// Forward and backward of one SwiGLU block on `n` rows, `reps` times: seconds per step.
fn mlp(n: usize, reps: usize) -> f64 {
    use eggroll_core::transformer::TransformerOps;
    use eggroll_llm::grad::linear::{add_into, matmul_nn, matmul_nt, matmul_tn};
    use eggroll_llm::grad::ops::{rms_norm_backward, swiglu_backward};
    let (d, f) = (576, 1536);
    let val =
        |k: usize, s: f32| -> Vec<f32> { (0..k).map(|i| (i as f32 * s).sin() * 0.05).collect() };
    let (x, wg, wu, wd, c) = (
        val(n * d, 0.37),
        val(f * d, 0.71),
        val(f * d, 0.53),
        val(d * f, 0.29),
        val(n * d, 1.1),
    );
    let norm = vec![1.0f32; d];
    let cpu = Cpu::new();
    let step = || {
        let h = cpu.rms_norm_rows(&x, &norm, d, 1e-5).unwrap_or_default();
        let g = matmul_nt(&h, n, &wg, f, d);
        let u = matmul_nt(&h, n, &wu, f, d);
        let mut a = g.clone();
        eggroll_core::transformer::reference::swiglu(&mut a, &u);
        let _y = matmul_nt(&a, n, &wd, d, f);
        let da = matmul_nn(&c, n, &wd, d, f);
        let dwd = matmul_tn(&c, &a, n, d, f);
        let (dg, du) = swiglu_backward(&g, &u, &da);
        let mut dh = matmul_nn(&dg, n, &wg, f, d);
        add_into(&mut dh, &matmul_nn(&du, n, &wu, f, d));
        let dwg = matmul_tn(&dg, &h, n, f, d);
        let dwu = matmul_tn(&du, &h, n, f, d);
        let (dx, dn) = rms_norm_backward(&x, &norm, 1e-5, &dh, d);
        dx[0] + dn[0] + dwd[0] + dwg[0] + dwu[0]
    };
    step();
    let t0 = Instant::now();
    let mut sink = 0.0;
    for _ in 0..reps {
        sink += step();
    }
    std::hint::black_box(sink);
    t0.elapsed().as_secs_f64() / reps as f64
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("lora", String::as_str).to_string();
    if mode == "mlp" {
        let n: usize = args.get(2).map_or(Ok(512), |v| v.parse())?;
        let s = mlp(n, 5);
        println!(
            "eggroll mlp fwd+bwd (full dW), {n} rows: {:.1} ms/step, {:.2} µs/token",
            s * 1e3,
            s / n as f64 * 1e6
        );
        return Ok(());
    }
    let model = args.get(1).map_or("tiny", String::as_str).to_string();
    let batch: usize = args.get(2).map_or(Ok(4), |v| v.parse())?;
    let tokens: usize = args.get(3).map_or(Ok(128), |v| v.parse())?;
    let dropout: f32 = args.get(4).map_or(Ok(0.05), |v| v.parse())?;
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
        dropout,
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
    // FLOPs per token of the forward: every matrix product (the tied head counted, the
    // embedding lookup not) and attention's two products over (T+1)/2 positions on average.
    let c = &m.llama.config;
    let norms = (2 * c.n_layers + 1) * c.d_model;
    let lookup = if c.tied_embeddings {
        0
    } else {
        c.vocab_size * c.d_model
    };
    let fwd = 2.0 * (c.n_params() - norms - lookup) as f64
        + 2.0 * (tokens + 1) as f64 * (c.q_dim() * c.n_layers) as f64;
    let flops = fwd
        * match mode.as_str() {
            "lora" => 2.0,
            "full" => 3.0,
            _ => 1.0,
        };
    // This machine's GEMM rate now: x·Wᵀ at SmolLM2's widest shape (512 × 576 · 576 × 1536).
    let (gm, gk, gn) = (512, 576, 1536);
    let (ga, gb) = (vec![0.5f32; gm * gk], vec![0.25f32; gn * gk]);
    eggroll_llm::grad::linear::matmul_nt(&ga, gm, &gb, gn, gk);
    let g0 = Instant::now();
    for _ in 0..5 {
        std::hint::black_box(eggroll_llm::grad::linear::matmul_nt(&ga, gm, &gb, gn, gk));
    }
    let gemm = 2.0 * (gm * gk * gn) as f64 * 5.0 / g0.elapsed().as_secs_f64() / 1e9;
    println!(
        "{model} {mode}: {batch}×{tokens} tokens, {} threads, {} | {:.3} s/step, {:.1} µs/token, {:.1} MFLOP/token, {:.1} GFLOP/s (GEMM now {:.1} GFLOP/s), peak RSS {:.0} MB",
        rayon::current_num_threads(),
        m.counts(),
        secs,
        secs / n * 1e6,
        flops / 1e6,
        flops * n / secs / 1e9,
        gemm,
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
