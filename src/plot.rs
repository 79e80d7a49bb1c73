//! Curves of run metrics as PNG plots: any metric of one or more run directories'
//! `metrics.jsonl`, against the generation or the cumulative wall time, one line per run with a
//! legend, axis labels and a title (drawn with `plotters`; text in the Ubuntu Light font that
//! `epaint_default_fonts` bundles, so no system font is needed).

use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// What the x axis shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    /// The generation of each metrics line.
    Generation,
    /// Wall seconds since the run started (the sum of the lines' `seconds`).
    Seconds,
    /// Model evaluations since the run started (the sum of the lines' `evaluations`).
    Evaluations,
}

impl XAxis {
    fn label(self) -> &'static str {
        match self {
            XAxis::Generation => "generation",
            XAxis::Seconds => "wall time (s)",
            XAxis::Evaluations => "evaluations",
        }
    }
}

/// One run's curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry (the run directory's name).
    pub label: String,
    /// (x, value) of every line that has the metric.
    pub points: Vec<(f64, f64)>,
}

/// Every line of `run/metrics.jsonl` as a JSON object.
fn metric_lines(run: &Path) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let path = run.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|error| Error::Io {
        path: path.display().to_string(),
        error,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| match serde_json::from_str(l) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(Error::RunDir {
                dir: run.display().to_string(),
                why: format!("metrics.jsonl line {} is not a JSON object", i + 1),
            }),
        })
        .collect()
}

/// The metric plotted when none is named: the run's first evaluation figure (`eval_…`, not an
/// interval bound or spread), else `fitness_mean`.
pub fn default_metric(run: &Path) -> Result<String> {
    let lines = metric_lines(run)?;
    let eval = lines
        .iter()
        .flat_map(|m| m.keys())
        .filter(|k| k.starts_with("eval_"))
        .filter(|k| !["_low", "_high", "_std"].iter().any(|s| k.ends_with(s)))
        .min()
        .cloned();
    Ok(eval.unwrap_or_else(|| "fitness_mean".into()))
}

/// `metric` of the run in `run` against `x`.
pub fn read_series(run: &Path, metric: &str, x: XAxis) -> Result<Series> {
    let lines = metric_lines(run)?;
    let (mut elapsed, mut evaluations) = (0.0, 0.0);
    let mut points = Vec::new();
    for m in &lines {
        elapsed += m.get("seconds").and_then(|v| v.as_f64()).unwrap_or(0.0);
        evaluations += m.get("evaluations").and_then(|v| v.as_f64()).unwrap_or(0.0);
        let at = match x {
            XAxis::Generation => m.get("generation").and_then(|v| v.as_f64()),
            XAxis::Seconds => Some(elapsed),
            XAxis::Evaluations => Some(evaluations),
        };
        if let (Some(at), Some(v)) = (at, m.get(metric).and_then(|v| v.as_f64())) {
            if v.is_finite() {
                points.push((at, v));
            }
        }
    }
    if points.is_empty() {
        let mut known: Vec<&String> = lines.iter().flat_map(|m| m.keys()).collect();
        known.sort();
        known.dedup();
        let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
        return Err(Error::RunDir {
            dir: run.display().to_string(),
            why: format!(
                "metrics.jsonl has no `{metric}`; it has {}",
                known.join(", ")
            ),
        });
    }
    let label = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.display().to_string());
    Ok(Series { label, points })
}

/// How a plot looks.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotSpec {
    /// The y axis label (the metric).
    pub metric: String,
    /// The x axis.
    pub x: XAxis,
    /// The title (default: the metric against the x axis).
    pub title: Option<String>,
    /// Image size in pixels.
    pub size: (u32, u32),
    /// The PNG file written.
    pub out: PathBuf,
}

/// The line colours, in legend order.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Register the bundled font under plotters' `sans-serif` family (once per process).
fn register_font() -> std::result::Result<(), String> {
    static DONE: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .map_err(|_| "the bundled font cannot be read".to_string())
    })
    .clone()
}

/// Draw `series` as `spec` says and write the PNG.
pub fn draw(series: &[Series], spec: &PlotSpec) -> Result<()> {
    let fail = |why: String| Error::Plot {
        out: spec.out.display().to_string(),
        why,
    };
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(fail("nothing to plot".into()));
    }
    if spec.size.0 < 200 || spec.size.1 < 150 {
        return Err(fail(format!(
            "{}×{} pixels is too small for axes and a legend (at least 200×150)",
            spec.size.0, spec.size.1
        )));
    }
    register_font().map_err(fail)?;
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = span(pts().map(|p| p.0));
    let (y0, y1) = span(pts().map(|p| p.1));
    let title = spec
        .title
        .clone()
        .unwrap_or_else(|| format!("{} vs {}", spec.metric, spec.x.label()));
    let draw_err = |e: DrawingAreaErrorKind<_>| fail(e.to_string());
    {
        let root = BitMapBackend::new(&spec.out, spec.size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(spec.x.label())
            .y_desc(&spec.metric)
            .draw()
            .map_err(draw_err)?;
        for (i, s) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let style = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(draw_err)?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(())
}

/// The range of `v`, widened by 5% (or by 1 when all values agree) so no point sits on a border.
fn span(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir(root: &Path, name: &str, lines: &[&str]) -> PathBuf {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("metrics.jsonl"), lines.join("\n")).unwrap();
        d
    }

    #[test]
    fn series_follow_generation_or_cumulative_seconds_and_skip_lines_without_the_metric() {
        let root = std::env::temp_dir().join(format!("eggroll-plot-{}", std::process::id()));
        let d = run_dir(
            &root,
            "a",
            &[
                r#"{"generation":0,"seconds":2.0,"fitness_mean":1.0}"#,
                r#"{"generation":1,"seconds":3.0,"fitness_mean":2.0,"eval_loss":0.5,"eval_loss_std":0.1}"#,
            ],
        );
        assert_eq!(default_metric(&d).unwrap(), "eval_loss");
        let s = read_series(&d, "fitness_mean", XAxis::Seconds).unwrap();
        assert_eq!(s.points, [(2.0, 1.0), (5.0, 2.0)]);
        assert_eq!(s.label, "a");
        let e = read_series(&d, "eval_loss", XAxis::Generation).unwrap();
        assert_eq!(e.points, [(1.0, 0.5)]);
        let missing = read_series(&d, "eval_return", XAxis::Generation)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("no `eval_return`") && missing.contains("fitness_mean"),
            "{missing}"
        );
        let bad = run_dir(&root, "b", &[r#"{"generation":0}"#, "oops"]);
        let e = read_series(&bad, "x", XAxis::Generation)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        std::fs::remove_dir_all(&root).ok();
    }

    #[test]
    fn a_plot_is_a_png_of_the_requested_size() {
        let out = std::env::temp_dir().join(format!("eggroll-plot-{}.png", std::process::id()));
        let series = [
            Series {
                label: "es".into(),
                points: vec![(0.0, 0.1), (1.0, 0.3), (2.0, 0.2)],
            },
            Series {
                label: "lora".into(),
                points: vec![(0.0, 0.2), (2.0, 0.25)],
            },
        ];
        let spec = PlotSpec {
            metric: "eval_accuracy".into(),
            x: XAxis::Generation,
            title: None,
            size: (640, 400),
            out: out.clone(),
        };
        draw(&series, &spec).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let dim = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!((dim(16), dim(20)), (640, 400));
        std::fs::remove_file(&out).ok();
        let small = PlotSpec {
            size: (50, 50),
            ..spec
        };
        assert!(draw(&series, &small)
            .unwrap_err()
            .to_string()
            .contains("too small"));
    }
}
