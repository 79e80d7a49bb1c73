//! Run [`eggroll_cubecl::bench_lowrank`] from the command line:
//! `bench_lowrank [HIDDEN LAYERS POPULATION RANK [REPEATS [full]]]`; prints one line of JSON.
//! With the `cuda` feature, `EGGROLL_CUBECL_CUDA=INDEX` runs on that CUDA device instead of
//! the default Vulkan one.

use eggroll_cubecl::{bench_lowrank, BenchConfig, Cubecl};
use std::process::ExitCode;

fn parse(args: &[String]) -> Result<BenchConfig, String> {
    let mut cfg = BenchConfig::default();
    let num = |i: usize, name: &str| -> Result<Option<usize>, String> {
        args.get(i)
            .map(|a| {
                a.parse::<usize>()
                    .map_err(|_| format!("{name} must be a whole number, got `{a}`"))
            })
            .transpose()
    };
    if let Some(v) = num(0, "HIDDEN")? {
        cfg.hidden = v;
    }
    if let Some(v) = num(1, "LAYERS")? {
        cfg.layers = v;
    }
    if let Some(v) = num(2, "POPULATION")? {
        cfg.population = u32::try_from(v).map_err(|_| "POPULATION is too large".to_string())?;
    }
    if let Some(v) = num(3, "RANK")? {
        cfg.rank = u32::try_from(v).map_err(|_| "RANK is too large".to_string())?;
    }
    if let Some(v) = num(4, "REPEATS")? {
        cfg.repeats = v;
    }
    cfg.full_rank = args.get(5).is_some_and(|a| a == "full");
    Ok(cfg)
}

/// The device to measure: CUDA when asked for (and built in), else the default Vulkan one.
fn open() -> Result<Cubecl, eggroll_cubecl::CubeclError> {
    #[cfg(feature = "cuda")]
    if let Ok(index) = std::env::var("EGGROLL_CUBECL_CUDA") {
        let index = index.parse::<usize>().map_err(|_| {
            eggroll_core::CoreError::invalid("EGGROLL_CUBECL_CUDA", "must be a device index")
        })?;
        return Cubecl::cuda(index);
    }
    Cubecl::new()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = || -> Result<String, String> {
        let cfg = parse(&args)?;
        let gpu = open().map_err(|e| e.to_string())?;
        let report = bench_lowrank(&gpu, &cfg).map_err(|e| e.to_string())?;
        Ok(report.to_json())
    };
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_lowrank: {e}");
            ExitCode::FAILURE
        }
    }
}
