//! The accumulated update of a run, `W_final − W_initial`, from its two checkpoints: how many
//! parameters are trained, how many changed, and the numerical rank of every matrix's change.
//! A low-rank adapter trained alone gives rank ≤ r; ES with EGGROLL sums N rank-r terms per
//! generation, and merging adapters (ReLoRA, PeriodicLoRA) sums one per restart.

use crate::error::{Error, Result};
use eggroll_core::checkpoint::Checkpoint;
use eggroll_llm::baselines::numerical_rank;
use std::path::Path;

/// Matrices with more than this many elements are not decomposed (the rank would take
/// minutes): their rank is reported as unknown.
const MAX_RANK_ELEMENTS: usize = 1 << 20;

/// At most this many matrices are decomposed, spread evenly over the checkpoint's order (a
/// 576-column Gram matrix takes seconds by Jacobi, and SmolLM2 has 210 projections); the
/// others' ranks are reported as unknown and the report says how many were ranked.
const MAX_RANKED_MATRICES: usize = 16;

/// One matrix's change.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixUpdate {
    /// The parameter's name.
    pub name: String,
    /// Its shape (rows, columns).
    pub shape: (usize, usize),
    /// Numerical rank of the change (`None`: too large to decompose here).
    pub rank: Option<usize>,
}

/// What changed between two checkpoints of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateStats {
    /// Trained parameters (elements of the checkpoints' `params.*` tensors).
    pub trainable: u64,
    /// Elements whose value changed.
    pub changed: u64,
    /// Every matrix parameter's change.
    pub matrices: Vec<MatrixUpdate>,
}

/// Compare the parameters of checkpoints `initial` and `last`; ranks count singular values
/// above `rank_tolerance` times the largest.
pub fn measure(initial: &Path, last: &Path, rank_tolerance: f64) -> Result<UpdateStats> {
    let (a, b) = (Checkpoint::load(initial)?, Checkpoint::load(last)?);
    let mut stats = UpdateStats::default();
    // Every matrix's change, in the order of `stats.matrices` (ranked after the scan).
    let mut deltas = Vec::new();
    for (name, (shape, before)) in a.tensors.iter().filter(|(n, _)| n.starts_with("params.")) {
        let Some((shape_b, after)) = b.tensors.get(name) else {
            return Err(Error::RunDir {
                dir: last.display().to_string(),
                why: format!("has no tensor {name}, which {} has", initial.display()),
            });
        };
        if shape_b != shape {
            return Err(Error::RunDir {
                dir: last.display().to_string(),
                why: format!("tensor {name} is {shape_b:?} here but {shape:?} at the start"),
            });
        }
        stats.trainable += before.len() as u64;
        let delta: Vec<f32> = after.iter().zip(before).map(|(x, y)| x - y).collect();
        stats.changed += delta.iter().filter(|d| **d != 0.0).count() as u64;
        if let [rows, cols] = shape[..] {
            stats.matrices.push(MatrixUpdate {
                name: name.trim_start_matches("params.").to_string(),
                shape: (rows, cols),
                rank: None,
            });
            deltas.push(delta);
        }
    }
    for i in ranked_indices(stats.matrices.len(), MAX_RANKED_MATRICES) {
        let m = &mut stats.matrices[i];
        if deltas[i].len() <= MAX_RANK_ELEMENTS {
            m.rank = Some(numerical_rank(
                &deltas[i],
                m.shape.0,
                m.shape.1,
                rank_tolerance,
            ));
        }
    }
    Ok(stats)
}

/// `min(count, max)` indices spread evenly over `0..count` (all of them when `count ≤ max`).
fn ranked_indices(count: usize, max: usize) -> Vec<usize> {
    if count <= max {
        return (0..count).collect();
    }
    (0..max).map(|k| k * count / max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_changes_and_ranks_of_matrices() {
        let dir = std::env::temp_dir().join(format!("eggroll-update-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut a = Checkpoint::default();
        a.insert("params.w", vec![3, 2], vec![0.0; 6]);
        a.insert("params.b", vec![2], vec![1.0, 1.0]);
        a.insert("optim.0.w", vec![3, 2], vec![0.0; 6]);
        let mut b = a.clone();
        // A rank-one change of w (outer product of (1, 2, 3) and (1, -1)), one bias moved.
        b.insert(
            "params.w",
            vec![3, 2],
            vec![1.0, -1.0, 2.0, -2.0, 3.0, -3.0],
        );
        b.insert("params.b", vec![2], vec![1.0, 0.5]);
        let (pa, pb) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
        a.save_atomic(&pa).unwrap();
        b.save_atomic(&pb).unwrap();
        let s = measure(&pa, &pb, 1e-3).unwrap();
        assert_eq!((s.trainable, s.changed), (8, 7));
        assert_eq!(
            s.matrices,
            vec![MatrixUpdate {
                name: "w".into(),
                shape: (3, 2),
                rank: Some(1)
            }]
        );
        let mut c = Checkpoint::default();
        c.insert("params.b", vec![2], vec![1.0, 1.0]);
        c.save_atomic(&pb).unwrap();
        let e = measure(&pa, &pb, 1e-3).unwrap_err().to_string();
        assert!(e.contains("params.w"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn ranked_matrices_are_spread_evenly_and_capped() {
        assert_eq!(ranked_indices(3, 16), vec![0, 1, 2]);
        let r = ranked_indices(210, 16);
        assert_eq!(r.len(), 16);
        assert_eq!((r[0], r[1], r[15]), (0, 13, 196));
        assert!(r.windows(2).all(|w| w[0] < w[1]));
    }
}
