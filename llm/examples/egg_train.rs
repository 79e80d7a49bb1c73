//! Trains an EGG model from a TOML config without the `eggroll` command line:
//! `cargo run --release -p eggroll-llm --example egg_train CONFIG OUT_DIR [GENERATIONS] [--resume]`.

use eggroll_llm::train::train;
use eggroll_llm::EggConfig;
use std::path::Path;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cfg_path), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: egg_train CONFIG OUT_DIR [GENERATIONS] [--resume]".into());
    };
    // The `eggroll` CLI marks EGG configs with `workload = "egg"`; drop the marker.
    let mut table: toml::Table = std::fs::read_to_string(cfg_path)?.parse()?;
    table.remove("workload");
    let cfg = EggConfig::from_toml_str(&toml::to_string(&table)?)?;
    let generations = args.get(2).and_then(|g| g.parse().ok());
    let resume = args.iter().any(|a| a == "--resume");
    let data = eggroll_llm::data::load(Path::new(&cfg.data))?;
    let summary = train(&cfg, &data, Path::new(out), generations, resume, &mut |r| {
        let eval = r
            .eval_bits_per_byte
            .map_or(String::new(), |e| format!(" eval {e:.4}"));
        eprintln!(
            "gen {:5} train {:.4} bits/byte{eval} changed {} alpha {:.4} {:.0} tok/s {:.0}s",
            r.generation,
            r.train_bits_per_byte,
            r.weights_changed,
            r.alpha,
            r.member_tokens_per_second,
            r.seconds
        );
    })?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
