//! Print environment throughput: `cargo run --release -p eggroll-rl-envs --example bench_envs
//! [BATCH] [STEPS] [THREADS]` (defaults 4096, 2000, all threads).

use eggroll_rl_envs::bench_envs;

fn arg(i: usize) -> Option<usize> {
    std::env::args().nth(i).and_then(|s| s.parse().ok())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let batch = arg(1).unwrap_or(4096);
    let steps = arg(2).unwrap_or(2000);
    for r in bench_envs(batch, steps, arg(3))? {
        println!(
            "{:<26} batch {:>6}  1 thread {:>8.2} M steps/s   {} threads {:>8.2} M steps/s",
            r.name,
            r.batch,
            r.steps_per_s_single / 1e6,
            r.threads,
            r.steps_per_s_all / 1e6
        );
    }
    Ok(())
}
