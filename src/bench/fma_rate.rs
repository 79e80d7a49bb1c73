//! The FMA units' issue rate: the f32 ceiling no kernel passes, beside the GEMM peak.
//!
//! Every bench states its figures against the GEMM peak it measures (`peak.rs`), which is what
//! the blocked GEMM reaches, not what the CPU can issue. On the 2-core Intel Xeon of 2026-12-08
//! that peak was 206–267 GFLOP/s while the FMA units issued about 450: the gap is the GEMM's,
//! and a figure "at the GEMM peak" is not at the machine's limit there.

use rayon::prelude::*;
use std::time::Instant;

/// Independent chains per thread: more than FMA latency × ports (4 cycles × 2) in flight.
const CHAINS: usize = 12;

/// Steps of every chain per thread and timing (about 0.1 s on a 2 GHz core).
const STEPS: usize = 16_000_000;

/// Timed runs; the best counts.
const RUNS: usize = 3;

/// f32 GFLOP/s of [`CHAINS`] independent FMA chains per rayon thread, all threads at once
/// (`rayon::broadcast`), in the widest vectors the CPU has (AVX-512, else AVX2 with FMA); the
/// best of [`RUNS`]. `None` where the CPU has no vector FMA.
pub fn fma_issue_rate() -> Option<f64> {
    let (lanes, run) = chains()?;
    let threads = rayon::current_num_threads();
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let t = Instant::now();
        let sums = rayon::broadcast(|_| run());
        std::hint::black_box(sums.into_par_iter().sum::<f32>());
        best = best.min(t.elapsed().as_secs_f64());
    }
    Some((threads * STEPS * CHAINS * lanes * 2) as f64 / best / 1e9)
}

/// Lanes per vector and the chains' loop for this CPU.
fn chains() -> Option<(usize, fn() -> f32)> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected.
            return Some((16, || unsafe { chains_avx512() }));
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: AVX2 and FMA were detected.
            return Some((8, || unsafe { chains_avx2() }));
        }
    }
    None
}

/// [`CHAINS`] chains `a ← a·b + c` of 16 lanes for [`STEPS`] steps; their sum.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chains_avx512() -> f32 {
    use std::arch::x86_64::*;
    let (b, c) = (
        _mm512_set1_ps(std::hint::black_box(0.999_999)),
        _mm512_set1_ps(1e-6),
    );
    let mut a = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..STEPS {
        for x in a.iter_mut() {
            *x = _mm512_fmadd_ps(*x, b, c);
        }
    }
    _mm512_reduce_add_ps(
        a.into_iter()
            .fold(_mm512_setzero_ps(), |s, x| _mm512_add_ps(s, x)),
    )
}

/// [`chains_avx512`] in 8-lane AVX2 vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chains_avx2() -> f32 {
    use std::arch::x86_64::*;
    let (b, c) = (
        _mm256_set1_ps(std::hint::black_box(0.999_999)),
        _mm256_set1_ps(1e-6),
    );
    let mut a = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..STEPS {
        for x in a.iter_mut() {
            *x = _mm256_fmadd_ps(*x, b, c);
        }
    }
    let s = a
        .into_iter()
        .fold(_mm256_setzero_ps(), |s, x| _mm256_add_ps(s, x));
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds eight floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chains_compute_what_they_say_and_the_rate_is_a_rate() {
        let Some((lanes, run)) = chains() else {
            eprintln!("skipped: no vector FMA on this CPU");
            assert!(fma_issue_rate().is_none());
            return;
        };
        // Each lane follows a ← a·b + c from 1 (the fixed point is c / (1 − b) = 1): 1.
        let want = (CHAINS * lanes) as f32;
        assert!((run() - want).abs() < 1e-3 * want, "{}", run());
        let rate = fma_issue_rate().expect("the CPU has FMA");
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
}
