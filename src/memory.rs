//! A run's memory estimate, checked before anything large is allocated, so an impossible
//! setting (a billion members, a layer of 10^8 units) is refused with a sentence naming the
//! key instead of aborting the process when an allocation fails.

use crate::config::RunConfig;
use crate::error::{Error, Result};

/// Bytes of memory this machine can still give (Linux: `MemAvailable`; elsewhere unlimited).
pub fn available_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb.saturating_mul(1024))
}

/// The largest shares of a run, the parameters first: the parameters (with optimiser moments
/// and one update direction), then those plus one population forward's activations
/// (`population × rows_per_member` rows of the widest layer, input and output at once), each
/// as `(bytes, key to blame)`.
pub fn estimate(
    cfg: &RunConfig,
    input: usize,
    output: usize,
    rows_per_member: usize,
) -> [(u64, &'static str); 2] {
    let mut widths = vec![input as u64];
    if let Some(m) = cfg.mlp() {
        widths.extend(m.hidden.iter().map(|&h| h as u64));
    }
    widths.push(output as u64);
    let params: u64 = widths
        .windows(2)
        .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
        .fold(0u64, u64::saturating_add);
    let copies = 2 + cfg.optimizer.state_slots() as u64;
    let param_bytes = params.saturating_mul(4).saturating_mul(copies);
    let widest = widths.iter().copied().max().unwrap_or(1);
    let rows = (cfg.es.population as u64).saturating_mul(rows_per_member.max(1) as u64);
    let act_bytes = rows.saturating_mul(widest).saturating_mul(4 * 2);
    [
        (param_bytes, "model.hidden"),
        (
            param_bytes.saturating_add(act_bytes),
            "es.population (× the task's rows per member)",
        ),
    ]
}

/// Refuse a run whose estimate exceeds the memory available, naming the key and the figure.
pub fn check(cfg: &RunConfig, input: usize, output: usize, rows_per_member: usize) -> Result<()> {
    let have = available_bytes();
    for (need, key) in estimate(cfg, input, output, rows_per_member) {
        if need <= have {
            continue;
        }
        return Err(Error::Config {
            origin: key.into(),
            why: format!(
                "this run needs about {:.1} GiB but the machine has {:.1} GiB available; make it smaller",
                need as f64 / (1u64 << 30) as f64,
                have as f64 / (1u64 << 30) as f64
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_layers_and_populations_are_refused_by_key() {
        let cfg = RunConfig::from_toml("", "t", &["model.hidden=[100000000]".into()]).unwrap();
        let err = check(&cfg, 64, 10, 64).unwrap_err().to_string();
        assert!(err.contains("model.hidden") && err.contains("GiB"), "{err}");
        let cfg = RunConfig::from_toml("", "t", &["es.population=1000000000".into()]).unwrap();
        let err = check(&cfg, 64, 10, 64).unwrap_err().to_string();
        assert!(err.contains("es.population"), "{err}");
        let cfg = RunConfig::from_toml("", "t", &[]).unwrap();
        check(&cfg, 64, 10, 64).unwrap();
    }
}
