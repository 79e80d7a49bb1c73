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

/// Bytes as GiB, for messages.
fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
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
                gib(need),
                gib(have)
            ),
        });
    }
    Ok(())
}

/// The first of `shares` (bytes, flag to blame) above `have` bytes, as an error naming the
/// flag and both figures.
pub fn check_flags(shares: &[(u64, String)], have: u64) -> Result<()> {
    match shares.iter().find(|(need, _)| *need > have) {
        None => Ok(()),
        Some((need, flag)) => Err(Error::Memory {
            flag: flag.clone(),
            need_gib: gib(*need),
            have_gib: gib(have),
        }),
    }
}

/// `eggroll bench lowrank`'s largest shares, as in [`estimate`]: the `layers` square
/// `hidden × hidden` layers with biases (parameters, two Adam moments, one update direction),
/// then those plus the population's activations (`population` rows of `hidden`: the host
/// input, its device copy, a layer's input and output, the downloaded output and the
/// transfer-timing output) plus one dense `hidden × hidden` noise matrix per thread (the naive
/// full-rank baseline).
pub fn lowrank_bench_estimate(
    hidden: usize,
    layers: usize,
    population: u32,
    threads: usize,
) -> [(u64, String); 2] {
    let h = hidden as u64;
    let layer = h.saturating_mul(h).saturating_add(h);
    let params = layer.saturating_mul(layers as u64).saturating_mul(4 * 4);
    let acts = (population as u64).saturating_mul(h).saturating_mul(4 * 6);
    let naive = h
        .saturating_mul(h)
        .saturating_mul(4 * threads.max(1) as u64);
    [
        (
            params,
            format!("--hidden {hidden} (with --layers {layers})"),
        ),
        (
            params.saturating_add(acts).saturating_add(naive),
            format!("-n {population} (with --hidden {hidden})"),
        ),
    ]
}

/// Bytes per environment that `eggroll bench envs` holds: the state (at most 6 f64), episode
/// counters, observations and final observations (at most 6 f32 each), 8 pre-drawn action
/// sets, rewards and flags, rounded up.
const BENCH_BYTES_PER_ENV: u64 = 256;

/// `eggroll bench envs`'s memory for `batch` environments (one environment kind at a time).
pub fn envs_bench_estimate(batch: usize) -> [(u64, String); 1] {
    [(
        (batch as u64).saturating_mul(BENCH_BYTES_PER_ENV),
        format!("--batch {batch}"),
    )]
}

/// Memory `eggroll generate --bytes B` needs beyond the model: the sampled bytes, and their
/// text as printed (invalid UTF-8 becomes the 3-byte U+FFFD, so up to 3 bytes each).
pub fn generate_estimate(bytes: usize) -> [(u64, String); 1] {
    [((bytes as u64).saturating_mul(4), format!("--bytes {bytes}"))]
}

/// Refuse `eggroll generate --bytes B` when [`generate_estimate`] exceeds the memory
/// available, before anything is allocated.
pub fn check_generate(bytes: usize) -> Result<()> {
    check_flags(&generate_estimate(bytes), available_bytes())
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

    #[test]
    fn bench_and_generate_shapes_beyond_the_machine_are_refused_naming_the_flag() {
        let gib16 = 16u64 << 30;
        // The default shapes fit in far less than 16 GiB.
        check_flags(&lowrank_bench_estimate(256, 3, 4096, 2), gib16).unwrap();
        check_flags(&envs_bench_estimate(4096), gib16).unwrap();
        check_flags(&generate_estimate(300), gib16).unwrap();
        // A million-wide layer is 4 TB of parameters alone: blamed on --hidden.
        let err = check_flags(&lowrank_bench_estimate(1_000_000, 3, 4096, 2), gib16)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--hidden 1000000 (with --layers 3): needs about 44703.5 GiB"),
            "{err}"
        );
        assert!(err.contains("16.0 GiB available"), "{err}");
        // Small layers but 10^9 members: blamed on -n.
        let err = check_flags(&lowrank_bench_estimate(256, 3, 1_000_000_000, 2), gib16)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("-n 1000000000"), "{err}");
        let err = check_flags(&envs_bench_estimate(1 << 40), gib16)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--batch 1099511627776:"), "{err}");
        let err = check_flags(&generate_estimate(100_000_000_000), gib16)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--bytes 100000000000: needs about 372.5 GiB"),
            "{err}"
        );
        // Exactly the memory available still fits; one byte more does not.
        let need = generate_estimate(1000)[0].0;
        check_flags(&generate_estimate(1000), need).unwrap();
        assert!(check_flags(&generate_estimate(1000), need - 1).is_err());
    }
}
