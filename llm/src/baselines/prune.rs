//! ReLoRA's optimiser reset: after the adapters merge and restart, the optimiser's state
//! (Adam's moments) is pruned by magnitude instead of being zeroed, so the step does not jump
//! and the new adapters do not inherit the old direction in full.

/// Zero the `fraction` of `state`'s entries with the smallest magnitude (exactly
/// `⌊fraction·len⌋` of them; among equal magnitudes the earlier index goes first, so the result
/// does not depend on anything but the values). Returns how many were zeroed.
pub fn prune_smallest(state: &mut [f32], fraction: f64) -> usize {
    let k = ((fraction.clamp(0.0, 1.0)) * state.len() as f64).floor() as usize;
    if k == 0 {
        return 0;
    }
    let mut order: Vec<u32> = (0..state.len() as u32).collect();
    let key = |i: &u32| (state[*i as usize].abs().to_bits(), *i);
    // NaN never reaches an optimiser's state (the loop stops on non-finite updates); by bits,
    // larger magnitudes sort later for every finite value.
    order.select_nth_unstable_by_key(k - 1, key);
    for &i in &order[..k] {
        state[i as usize] = 0.0;
    }
    k
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
    fn ties_break_by_index() {
        let mut m = [1.0f32, -1.0, 1.0, 1.0];
        prune_smallest(&mut m, 0.5);
        assert_eq!(m, [0.0, 0.0, 1.0, 1.0]);
    }
}
