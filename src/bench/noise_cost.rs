//! What regenerating the forward's noise costs on its own, and the ceiling it puts on b/a.
//!
//! The CPU forward regenerates, for every antithetic pair and layer, `A` and `B` (`r·(a+b)`
//! normals) and the bias noise (`a` normals). Timing exactly that work, spread over the same
//! threads, says how much of the gap between (a) and (b) is noise generation at all.

use eggroll_core::noise::{fill_normals, StreamKey};
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// Cost of the forward's noise regeneration, measured alone.
#[derive(Clone, Debug, Serialize)]
pub struct NoiseCost {
    /// Normals one population forward regenerates.
    pub normals_per_forward: u64,
    /// Seconds to generate them on all threads (best of the repetitions).
    pub seconds_per_forward: f64,
    /// Nanoseconds per normal per thread.
    pub ns_per_normal_per_thread: f64,
    /// `inference / (inference + seconds_per_forward)`: the highest b/a possible while the
    /// noise is regenerated, even if every other step of the correction were free.
    pub forward_ceiling: f64,
}

/// Time generating `streams × layers` streams of `per_stream` normals, as the forward does.
pub fn measure(
    streams: u32,
    layers: usize,
    per_stream: usize,
    inference_seconds: f64,
    min_seconds: f64,
) -> NoiseCost {
    let jobs = streams as usize * layers;
    let run = || {
        (0..jobs).into_par_iter().for_each_init(
            || vec![0.0f32; per_stream],
            |buf, job| {
                let key = StreamKey::new(7, (job % layers) as u32, 1, (job / layers) as u32);
                fill_normals(key, 0, 1.0, buf);
                std::hint::black_box(&buf[0]);
            },
        )
    };
    run();
    let (mut best, start, mut reps) = (f64::INFINITY, Instant::now(), 0);
    while reps < 3 || (start.elapsed().as_secs_f64() < min_seconds && reps < 1000) {
        let t = Instant::now();
        run();
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    let normals = (jobs * per_stream) as u64;
    NoiseCost {
        normals_per_forward: normals,
        seconds_per_forward: best,
        ns_per_normal_per_thread: best * 1e9 * rayon::current_num_threads() as f64 / normals as f64,
        forward_ceiling: inference_seconds / (inference_seconds + best),
    }
}
