//! The `eggroll` command: train, evaluate and benchmark ES runs.

mod cli;

use anyhow::Result;
use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    if let Err(err) = run(args) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(args: cli::Cli) -> Result<()> {
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
    }
    match args.command {
        cli::Command::Train(a) => cli::train::run(a),
        cli::Command::Eval(a) => cli::eval::run(a),
        cli::Command::Bench(a) => cli::bench::run(a),
    }
}
