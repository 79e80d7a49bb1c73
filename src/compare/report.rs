//! `report.md` and the PNG curves of a comparison: one table row per method (initial, final
//! and best metric, wall time, evaluations, peak memory, trained and changed parameters, the
//! rank of the accumulated update), who won within the budget, and the metric against wall
//! time and against evaluations.

use super::spec::CompareSpec;
use super::MethodResult;
use crate::error::{Error, Result};
use crate::plot::{draw, read_series, PlotSpec, Series, XAxis};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The files a report consists of.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// `report.md`.
    pub report: PathBuf,
    /// The PNG plots.
    pub plots: Vec<PathBuf>,
}

/// Whether smaller values of `metric` are better (losses and bits per byte).
pub fn lower_is_better(metric: &str) -> bool {
    metric.ends_with("loss") || metric.ends_with("bits_per_byte")
}

/// The best value of a method's metric over its run (its initial value included).
fn best(metric: &str, series: &Series) -> Option<f64> {
    let vals = series.points.iter().map(|p| p.1);
    if lower_is_better(metric) {
        vals.reduce(f64::min)
    } else {
        vals.reduce(f64::max)
    }
}

/// A method's curve against `x`, starting from its initial value at 0.
fn curve(r: &MethodResult, metric: &str, x: XAxis) -> Result<Series> {
    let mut s = read_series(&r.dir, metric, x)?;
    s.label = r.name.clone();
    if let Some(v) = r.initial {
        s.points.insert(0, (0.0, v));
    }
    Ok(s)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.4}"))
}

/// `12 of 64 (96×64)`-style summary of the update's ranks: the median matrix's rank against
/// its largest possible rank.
fn rank_summary(r: &MethodResult) -> String {
    let mut known: Vec<(usize, usize)> = r
        .update
        .matrices
        .iter()
        .filter_map(|m| m.rank.map(|k| (k, m.shape.0.min(m.shape.1))))
        .collect();
    if known.is_empty() {
        return "–".into();
    }
    known.sort();
    let (k, full) = known[known.len() / 2];
    if known.len() == 1 {
        format!("{k} of {full}")
    } else {
        let lo = known.first().map_or(0, |m| m.0);
        let hi = known.last().map_or(0, |m| m.0);
        let all = r.update.matrices.len();
        let of_all = if known.len() < all {
            format!(" of {all}")
        } else {
            String::new()
        };
        format!(
            "median {k} of {full} (range {lo}–{hi}, {} matrices{of_all} ranked)",
            known.len()
        )
    }
}

/// Write `out/report.md` and `out/<metric>-vs-seconds.png`, `out/<metric>-vs-evaluations.png`.
pub fn write(
    spec: &CompareSpec,
    metric: &str,
    results: &[MethodResult],
    out: &Path,
) -> Result<Written> {
    let mut curves = Vec::new();
    for x in [XAxis::Seconds, XAxis::Evaluations] {
        let series: Vec<Series> = results
            .iter()
            .map(|r| curve(r, metric, x))
            .collect::<Result<_>>()?;
        curves.push((x, series));
    }
    let mut md = String::new();
    let c = &spec.compare;
    let budget = [
        c.budget_seconds.map(|s| format!("{s} s of training")),
        c.budget_evaluations
            .map(|e| format!("{e} model evaluations")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and at most ");
    let better = if lower_is_better(metric) {
        "lower"
    } else {
        "higher"
    };
    let _ = writeln!(md, "# eggroll compare: {metric}\n");
    let _ = writeln!(
        md,
        "Base config `{}`; every method trained for at most {budget} (and at most its config's `generations`), one after the other on this machine ({}). {better} {metric} is better.\n",
        c.base.display(),
        crate::bench::peak::cpu_description()
    );
    let _ = writeln!(
        md,
        "| method | initial | final | best | generations | evaluations | wall s | peak RSS MB | trained params | changed | rank of W_final − W_initial (singular values > {} of the largest) |",
        c.rank_tolerance
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    let seconds_curves = &curves[0].1;
    for (r, s) in results.iter().zip(seconds_curves) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} |",
            r.name,
            fmt_opt(r.initial),
            fmt_opt(r.last),
            fmt_opt(best(metric, s)),
            r.generations,
            r.evaluations,
            r.seconds,
            r.peak_memory
                .map_or("–".into(), |b| format!("{:.0}", b as f64 / 1e6)),
            r.update.trainable,
            r.update.changed,
            rank_summary(r)
        );
    }
    // Every method holding the best value (ties are named together).
    let leaders = |vals: Vec<(usize, f64)>| -> Option<(Vec<usize>, f64)> {
        let top = vals.iter().map(|v| v.1).reduce(|a, b| {
            if lower_is_better(metric) {
                a.min(b)
            } else {
                a.max(b)
            }
        })?;
        Some((
            vals.iter().filter(|v| v.1 == top).map(|v| v.0).collect(),
            top,
        ))
    };
    let names = |idx: &[usize]| {
        idx.iter()
            .map(|&i| results[i].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let finals = leaders(
        results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.last.map(|v| (i, v)))
            .collect(),
    );
    let bests = leaders(
        seconds_curves
            .iter()
            .enumerate()
            .filter_map(|(i, s)| best(metric, s).map(|v| (i, v)))
            .collect(),
    );
    let _ = writeln!(md);
    if let Some((idx, v)) = finals {
        let verdict = if idx.len() == results.len() && idx.len() > 1 {
            "every method ties".to_string()
        } else if idx.len() > 1 {
            format!("a tie between {}", names(&idx))
        } else {
            names(&idx)
        };
        let _ = writeln!(md, "**Winner on the final {metric}: {verdict}** ({v:.4}).");
    }
    if let Some((idx, v)) = bests {
        let _ = writeln!(
            md,
            "Best {metric} reached at any evaluation: {} ({v:.4}).",
            names(&idx)
        );
    }
    let stem = metric.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "-");
    let mut plots = Vec::new();
    let _ = writeln!(md);
    for (x, series) in &curves {
        let (suffix, title) = match x {
            XAxis::Evaluations => ("evaluations", format!("{metric} vs model evaluations")),
            _ => ("seconds", format!("{metric} vs wall time")),
        };
        let file = format!("{stem}-vs-{suffix}.png");
        let path = out.join(&file);
        draw(
            series,
            &PlotSpec {
                metric: metric.into(),
                x: *x,
                title: Some(title),
                size: (900, 560),
                out: path.clone(),
            },
        )?;
        let _ = writeln!(md, "![{metric} vs {suffix}]({file})\n");
        plots.push(path);
    }
    let report = out.join("report.md");
    std::fs::write(&report, md).map_err(|error| Error::Io {
        path: report.display().to_string(),
        error,
    })?;
    Ok(Written { report, plots })
}
