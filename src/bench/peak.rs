//! Machine figures a benchmark reports against: the CPU's measured GEMM peak and the
//! process's peak resident memory (reset between phases through /proc).

use eggroll_core::cpu::{sgemm, MatRef};
use rayon::prelude::*;
use std::time::Instant;

/// Measured f32 GEMM throughput of this machine (GFLOP/s) on `size`³ with all threads, using the
/// same kernel and row-block split as the CPU backend; the best of a few repetitions.
pub fn gemm_peak_gflops(size: usize) -> f64 {
    let a: Vec<f32> = (0..size * size).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..size * size).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; size * size];
    let block = 128;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        c.par_chunks_mut(block * size)
            .enumerate()
            .for_each(|(i, cb)| {
                let rows = cb.len() / size;
                let av =
                    MatRef::row_major(&a[i * block * size..(i * block + rows) * size], rows, size);
                sgemm(1.0, av, MatRef::row_major(&b, size, size), 0.0, cb);
            });
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (size as f64).powi(3) / best / 1e9
}

/// Reset the kernel's peak-RSS counter for this process (Linux); false where unsupported.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process in bytes since start or the last reset (Linux VmHWM).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
