//! Progress output: a bar with the current fitness on a terminal, plain lines otherwise.

use eggroll::train::GenerationReport;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Shows training progress.
pub struct Progress {
    bar: Option<ProgressBar>,
}

fn format_eval(eval: &[(&'static str, f64)]) -> String {
    eval.iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join("  ")
}

impl Progress {
    /// A bar when stderr is a terminal, else plain lines on stdout.
    pub fn new(total: u64, start: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} gen {pos}/{len} [{bar:30}] {elapsed_precise} eta {eta}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_position(start);
            bar
        });
        Progress { bar }
    }

    /// Report one generation.
    pub fn update(&mut self, r: &GenerationReport) {
        let mut fit = format!(
            "fitness mean {:.4} max {:.4}",
            r.fitness_mean, r.fitness_max
        );
        if !r.extra.is_empty() {
            fit = format!("{fit}  {}", format_eval(&r.extra));
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(r.generation + 1);
                bar.set_message(fit.clone());
                if !r.eval.is_empty() {
                    bar.println(format!(
                        "gen {:>6}  {fit}  {}",
                        r.generation + 1,
                        format_eval(&r.eval)
                    ));
                }
            }
            None => {
                if !r.eval.is_empty() {
                    println!(
                        "gen {:>6}/{}  {fit}  {}  ({:.3} s/gen)",
                        r.generation + 1,
                        r.total,
                        format_eval(&r.eval),
                        r.seconds
                    );
                }
            }
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Render metrics for a final summary line.
pub fn summary(eval: &[(&'static str, f64)]) -> String {
    format_eval(eval)
}
