//! `eggroll compare CONFIG [--out DIR] [--backend B]`

use super::BackendName;
use anyhow::{Context, Result};
use clap::Args;
use eggroll::compare::{run_compare, spec::CompareSpec};
use std::path::PathBuf;

/// Arguments of `compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The comparison file (a `[compare]` section and `[[method]]`s; see examples/compare-*.toml).
    pub config: PathBuf,
    /// Where the methods' run directories, report.md and the plots go (default: runs/compare-<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compute backend of every method.
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendName,
}

/// Run `compare`.
pub fn run(a: CompareArgs) -> Result<()> {
    let spec = CompareSpec::load(&a.config)?;
    let name = a
        .config
        .file_stem()
        .map_or("compare".into(), |s| s.to_string_lossy().into_owned());
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut say = |line: &str| println!("{line}");
    let (_, written) = crate::with_backend!(a.backend, |backend| run_compare(
        backend, &spec, &out, &mut say
    )
    .map_err(anyhow::Error::from))?;
    println!("compare: report {}", written.report.display());
    for p in &written.plots {
        println!("compare: plot {}", p.display());
    }
    Ok(())
}
