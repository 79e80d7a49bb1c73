//! ReLoRA's optimiser reset: after the adapters merge and restart, the optimiser's state
//! (Adam's moments) is pruned by magnitude instead of being zeroed, so the new adapters do not
//! inherit the old direction in full.
//!
//! Adam's moments are pruned together: the entries with the smallest first moment lose both
//! moments. Pruning each moment by its own magnitude can keep an entry's first moment while
//! zeroing its second, and the next step `m/√v` of such an entry is enormous (a toy ReLoRA run
//! diverged to update norms of 1e5 that way).

/// The indices of the `fraction` of `values` with the smallest magnitude (exactly
/// `⌊fraction·len⌋` of them; among equal magnitudes the earlier index goes first, so the
/// choice depends on nothing but the values), in no particular order.
pub fn smallest(values: &[f32], fraction: f64) -> Vec<usize> {
    let k = ((fraction.clamp(0.0, 1.0)) * values.len() as f64).floor() as usize;
    if k == 0 {
        return Vec::new();
    }
    let mut order: Vec<u32> = (0..values.len() as u32).collect();
    // NaN never reaches an optimiser's state (training stops on non-finite values); by bits,
    // larger magnitudes sort later for every finite value.
    let key = |i: &u32| (values[*i as usize].abs().to_bits(), *i);
    order.select_nth_unstable_by_key(k - 1, key);
    order[..k].iter().map(|&i| i as usize).collect()
}

/// Zero the `fraction` of `state`'s entries with the smallest magnitude. Returns how many.
pub fn prune_smallest(state: &mut [f32], fraction: f64) -> usize {
    let idx = smallest(state, fraction);
    for &i in &idx {
        state[i] = 0.0;
    }
    idx.len()
}

/// Prune Adam's moments of one tensor together (`moments[0]` the first, the rest alongside):
/// the `fraction` of entries with the smallest first moment lose every moment. Returns how
/// many entries were pruned.
pub fn prune_moments(moments: &mut [Vec<f32>], fraction: f64) -> usize {
    let Some(first) = moments.first() else {
        return 0;
    };
    let idx = smallest(first, fraction);
    for m in moments.iter_mut() {
        for &i in &idx {
            if let Some(v) = m.get_mut(i) {
                *v = 0.0;
            }
        }
    }
    idx.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroes_exactly_the_smallest_magnitudes() {
        let mut m = [0.5, -0.1, 2.0, 0.3, -3.0, 0.1, 0.0, 1.0];
        assert_eq!(prune_smallest(&mut m, 0.5), 4);
        // Smallest |x|: 0.0 (6), then 0.1 at 1 and 5 (tie: both), then 0.3 (3).
        assert_eq!(m, [0.5, 0.0, 2.0, 0.0, -3.0, 0.0, 0.0, 1.0]);
        let mut all = [1.0f32, -2.0];
        assert_eq!(prune_smallest(&mut all, 1.0), 2);
        assert_eq!(all, [0.0, 0.0]);
        let mut none = [1.0f32, -2.0];
        assert_eq!(prune_smallest(&mut none, 0.49), 0);
        assert_eq!(none, [1.0, -2.0]);
    }

    #[test]
    fn moments_are_pruned_together_by_the_first() {
        let mut ms = vec![vec![0.5, -0.1, 2.0, 0.01], vec![1e-9, 4.0, 1e-9, 9.0]];
        assert_eq!(prune_moments(&mut ms, 0.5), 2);
        // Entries 3 and 1 have the smallest first moments: both moments go, whatever the
        // second moment's size.
        assert_eq!(
            ms,
            vec![vec![0.5, 0.0, 2.0, 0.0], vec![1e-9, 0.0, 1e-9, 0.0]]
        );
    }

    #[test]
    fn ties_break_by_index() {
        let mut m = [1.0f32, -1.0, 1.0, 1.0];
        prune_smallest(&mut m, 0.5);
        assert_eq!(m, [0.0, 0.0, 1.0, 1.0]);
    }
}
