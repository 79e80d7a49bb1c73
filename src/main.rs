//! The `eggroll` command: train, evaluate and benchmark ES runs.

mod cli;

use anyhow::Result;
use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    // Under mpirun/srun: join the MPI job; the session lives (and finalises) with `main`.
    #[cfg(feature = "mpi")]
    let mpi = match eggroll::dist_mpi::MpiSession::from_env() {
        Ok(session) => session,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    };
    if let Err(err) = run(args) {
        #[cfg(feature = "mpi")]
        if let Some(session) = mpi {
            session.fail(&format!("{err:#}"));
        }
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
        cli::Command::Render(a) => cli::render::run(a),
        cli::Command::Generate(a) => cli::egg::generate(a),
    }
}
