//! `eggroll plot RUN... [--metric M] [--x generation|seconds|evaluations] --out FILE.png`

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use eggroll::plot::{default_metric, draw, read_series, PlotSpec, XAxis};
use std::path::PathBuf;

/// The x axis as typed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum XArg {
    /// The generation.
    Generation,
    /// Wall seconds since the run started.
    Seconds,
    /// Model evaluations since the run started.
    Evaluations,
}

/// Arguments of `plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Run directories (each with a metrics.jsonl); one curve each.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The metric (default: the first run's evaluation figure, e.g. eval_accuracy, else fitness_mean).
    #[arg(long)]
    pub metric: Option<String>,
    /// The x axis.
    #[arg(long, value_enum, default_value_t = XArg::Generation)]
    pub x: XArg,
    /// The PNG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Title (default: the metric against the x axis).
    #[arg(long)]
    pub title: Option<String>,
    /// Width in pixels.
    #[arg(long, default_value_t = 900)]
    pub width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 560)]
    pub height: u32,
}

/// Run `plot`.
pub fn run(a: PlotArgs) -> Result<()> {
    if a.out.extension().and_then(|e| e.to_str()) != Some("png") {
        bail!(
            "--out {}: plots are written as PNG; name the file *.png",
            a.out.display()
        );
    }
    let metric = match a.metric {
        Some(m) => m,
        None => default_metric(&a.runs[0])?,
    };
    let x = match a.x {
        XArg::Generation => XAxis::Generation,
        XArg::Seconds => XAxis::Seconds,
        XArg::Evaluations => XAxis::Evaluations,
    };
    let series = a
        .runs
        .iter()
        .map(|r| read_series(r, &metric, x))
        .collect::<eggroll::Result<Vec<_>>>()?;
    let spec = PlotSpec {
        metric: metric.clone(),
        x,
        title: a.title,
        size: (a.width, a.height),
        out: a.out.clone(),
    };
    draw(&series, &spec)?;
    println!(
        "plot: {metric} of {} run(s) ({} points) written to {}",
        series.len(),
        series.iter().map(|s| s.points.len()).sum::<usize>(),
        a.out.display()
    );
    Ok(())
}
