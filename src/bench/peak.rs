//! Machine figures a benchmark reports against: the CPU's measured GEMM peak and the
//! process's peak resident memory (reset between phases through /proc).

pub use eggroll_core::cpu::cpu_description;
use eggroll_core::cpu::{packed_gemm_nt, sgemm, MatRef};
use rayon::prelude::*;
use std::time::Instant;

/// Square sizes the GEMM peak is measured at.
const PEAK_SIZES: [usize; 3] = [512, 1024, 1536];

/// Timed repetitions per size (after one untimed warm-up).
const PEAK_REPS: usize = 5;

/// This machine's f32 GEMM peak as a benchmark states it: the best throughput over several
/// sizes and repetitions, with the spread of the sizes' bests, and the CPU it ran on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GemmPeak {
    /// Best GFLOP/s over every size and repetition: the figure "fraction of peak" divides by.
    pub gflops: f64,
    /// The lowest of the per-size bests (how much the figure depends on the size).
    pub low_gflops: f64,
    /// Best GFLOP/s of `matrixmultiply`'s blocked GEMM (the backend's kernel where the CPU
    /// lacks AVX-512, and for a vocabulary head).
    pub blocked_gflops: f64,
    /// Best GFLOP/s of the backend's packed AVX-512 `x·Wᵀ` (`None` without AVX-512F).
    pub packed_gflops: Option<f64>,
    /// Sizes measured (`n³` each).
    pub sizes: Vec<usize>,
    /// The CPU's model name (`/proc/cpuinfo`) and the vector features the kernels used.
    pub cpu: String,
    /// What the FMA units issue on every thread at once ([`super::fma_rate`]): the f32
    /// ceiling above the GEMM's peak. `None` without vector FMA.
    pub fma_gflops: Option<f64>,
}

impl GemmPeak {
    /// Measure with all threads, using the same kernel and row-block split as the CPU backend.
    pub fn measure() -> Self {
        let blocked: Vec<f64> = PEAK_SIZES.iter().map(|&n| gemm_gflops(n)).collect();
        let packed: Option<Vec<f64>> = PEAK_SIZES.iter().map(|&n| packed_gflops(n)).collect();
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        // Per size, the faster of the two kernels: the backend takes the packed one where it can.
        let bests: Vec<f64> = match &packed {
            Some(p) => blocked.iter().zip(p).map(|(a, b)| a.max(*b)).collect(),
            None => blocked.clone(),
        };
        GemmPeak {
            gflops: max(&bests),
            low_gflops: bests.iter().copied().fold(f64::INFINITY, f64::min),
            blocked_gflops: max(&blocked),
            packed_gflops: packed.as_deref().map(max),
            sizes: PEAK_SIZES.to_vec(),
            cpu: cpu_description(),
            fma_gflops: super::fma_rate::fma_issue_rate(),
        }
    }
}

impl std::fmt::Display for GemmPeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GEMM peak {:.1} GFLOP/s (per-size bests {:.1}–{:.1} at {:?}³, {} reps) on {}",
            self.gflops, self.low_gflops, self.gflops, self.sizes, PEAK_REPS, self.cpu
        )?;
        if let Some(packed) = self.packed_gflops {
            write!(
                f,
                " (packed AVX-512 x·Wᵀ {packed:.1}, matrixmultiply {:.1})",
                self.blocked_gflops
            )?;
        }
        if let Some(fma) = self.fma_gflops {
            write!(
                f,
                "; the FMA units issue {fma:.0} GFLOP/s (the GEMM peak is {:.0}% of it)",
                100.0 * self.gflops / fma
            )?;
        }
        Ok(())
    }
}

/// What to print after a "fraction of peak": nothing at or below 1, else why it is above.
pub fn fraction_note(fraction: f64) -> &'static str {
    if fraction > 1.0 {
        " (above 1: the measured GEMM kernel at its sizes is slower than this phase's own \
         kernel and shape, so the peak is a lower bound here, not the machine's ceiling)"
    } else {
        ""
    }
}

/// Best GFLOP/s of `size`³ over [`PEAK_REPS`] timed repetitions.
fn gemm_gflops(size: usize) -> f64 {
    let a: Vec<f32> = (0..size * size).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..size * size).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; size * size];
    let block = 128;
    let best = best_seconds(|| {
        c.par_chunks_mut(block * size)
            .enumerate()
            .for_each(|(i, cb)| {
                let rows = cb.len() / size;
                let av =
                    MatRef::row_major(&a[i * block * size..(i * block + rows) * size], rows, size);
                sgemm(1.0, av, MatRef::row_major(&b, size, size), 0.0, cb);
            });
    });
    2.0 * (size as f64).powi(3) / best / 1e9
}

/// The fastest of [`PEAK_REPS`] timed runs of `f`, after one untimed warm-up.
fn best_seconds(mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for rep in 0..=PEAK_REPS {
        let t = Instant::now();
        f();
        if rep > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    best
}

/// Best GFLOP/s of `size`³ through the backend's packed `x·Wᵀ` (W packed once per call, the
/// same 128-row chunks), or `None` where the CPU lacks it.
fn packed_gflops(size: usize) -> Option<f64> {
    let x: Vec<f32> = (0..size * size).map(|i| (i % 7) as f32 * 0.1).collect();
    let w: Vec<f32> = (0..size * size).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut taken = true;
    let best = best_seconds(|| {
        taken &= std::hint::black_box(packed_gemm_nt(&x, size, &w, size, size, 128)).is_some();
    });
    if !taken {
        return None;
    }
    Some(2.0 * (size as f64).powi(3) / best / 1e9)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_above_one_says_why() {
        assert_eq!(fraction_note(0.93), "");
        assert_eq!(fraction_note(1.0), "");
        assert!(fraction_note(1.2).contains("lower bound"));
    }
}
