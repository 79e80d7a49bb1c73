//! Runs `bench_egg` and prints its JSON report: `cargo run --release -p eggroll-llm --example
//! egg_bench [GENERATIONS] [MEMORY_POPULATION]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let mut o = eggroll_llm::egg::bench::EggBenchOptions::default();
    if let Some(g) = args.next().and_then(|v| v.parse().ok()) {
        o.generations = g;
    }
    if let Some(m) = args.next().and_then(|v| v.parse().ok()) {
        o.memory_population = m;
    }
    match eggroll_llm::egg::bench::bench_egg(&o) {
        Ok(report) => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Err(e) => {
            eprintln!("egg_bench: {e}");
            std::process::exit(1);
        }
    }
}
