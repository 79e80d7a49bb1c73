//! The conformance suite of [`IntKernels`] backends, written once: every check compares a
//! backend with the CPU reference [`CpuInt`] **bit for bit** on seeded random cases (ragged
//! shapes that are no multiple of any tile size, extreme ±127 values at fan-in 1024, ranks 1–4,
//! σ shifts 1–8, pairs not starting at 0) and checks that invalid inputs are refused. Run it for a backend with
//! [`int_conformance_suite!`](crate::int_conformance_suite).

use super::{CpuInt, IntKernels, IntMatmul, NoiseSpec};
use crate::noise::hash32;

/// Deterministic int8-range values (−127..=127) for a case; `salt` picks the sequence.
pub fn values(n: usize, salt: u32) -> Vec<i16> {
    (0..n as u32)
        .map(|i| (hash32(i.wrapping_mul(0x9e37_79b9) ^ hash32(salt)) % 255) as i16 - 127)
        .collect()
}

fn weights(n: usize, salt: u32) -> Vec<i8> {
    values(n, salt).into_iter().map(|v| v as i8).collect()
}

/// Compare two results element by element; the error names the case, the first differing
/// index and how many differ.
pub fn compare<T: PartialEq + std::fmt::Debug>(
    case: &str,
    got: &[T],
    want: &[T],
) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{case}: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    let bad: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
    match bad.first() {
        None => Ok(()),
        Some(&i) => Err(format!(
            "{case}: {} of {} values differ, first at {i}: got {:?}, expected {:?}",
            bad.len(),
            got.len(),
            got[i],
            want[i]
        )),
    }
}

fn run<K: IntKernels, T>(k: &K, case: &str, r: Result<T, K::Error>) -> Result<T, String> {
    r.map_err(|e| format!("{} failed on {case}: {e}", k.name()))
}

fn cpu<T>(case: &str, r: crate::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("the CPU reference failed on {case}: {e}"))
}

/// One matmul case against the CPU.
fn matmul_case<K: IntKernels>(k: &K, m: IntMatmul<'_>) -> Result<(), String> {
    let case = format!(
        "matmul rows {} inp {} out {} noise {:?}",
        m.rows, m.inp, m.out, m.noise
    );
    let want = cpu(&case, CpuInt.perturbed_matmul(&m))?;
    let got = run(k, &case, k.perturbed_matmul(&m))?;
    compare(&case, &got, &want)
}

/// Plain `x·wᵀ` (no noise) on ragged shapes around the tile sizes.
pub fn check_matmul_plain<K: IntKernels>(k: &K) -> Result<(), String> {
    let shapes = [
        (1, 1, 1),
        (3, 17, 5),
        (66, 17, 5),
        (3, 130, 256),
        (66, 130, 1),
        (1, 1024, 5),
        (66, 1, 256),
    ];
    for (c, &(rows, inp, out)) in shapes.iter().enumerate() {
        let x = values(rows * inp, 2 * c as u32);
        let w = weights(out * inp, 2 * c as u32 + 1);
        matmul_case(k, IntMatmul::plain(&x, rows, &w, out, inp))?;
    }
    Ok(())
}

/// The perturbed matmul: ranks 1–4, σ shifts 1–8, odd row counts, pairs not starting at 0.
pub fn check_matmul_noise<K: IntKernels>(k: &K) -> Result<(), String> {
    let cases = [
        // rows, inp, out, rank, shift, first_pair
        (1, 1, 1, 1, 1, 0),
        (3, 17, 5, 2, 4, 7),
        (66, 130, 5, 1, 8, 3),
        (6, 17, 256, 3, 2, 1000),
        (3, 1024, 1, 4, 5, 0),
        (66, 17, 1, 4, 1, 12),
        (2, 130, 256, 2, 6, u32::MAX),
    ];
    for (c, &(rows, inp, out, rank, sigma_shift, first_pair)) in cases.iter().enumerate() {
        let x = values(rows * inp, 100 + 2 * c as u32);
        let w = weights(out * inp, 101 + 2 * c as u32);
        let noise = NoiseSpec {
            seed: 0x1234_5678_9abc_def0 ^ c as u64,
            param: 3 + c as u32,
            epoch: 11,
            first_pair,
            rank,
            sigma_shift,
        };
        matmul_case(
            k,
            IntMatmul::plain(&x, rows, &w, out, inp).with_noise(Some(&noise)),
        )?;
    }
    Ok(())
}

/// Extreme ±127 inputs and weights at fan-in 1024 (int32 sums near their largest, of both
/// signs), with and without rank-4 noise.
pub fn check_matmul_extremes<K: IntKernels>(k: &K) -> Result<(), String> {
    let (rows, inp, out) = (3, 1024, 5);
    let mut x = vec![127i16; rows * inp];
    for v in &mut x[inp..2 * inp] {
        *v = -127;
    }
    // Third row alternates sign: sums near zero, where floor rounding of negatives shows.
    for (i, v) in x[2 * inp..].iter_mut().enumerate() {
        *v = if i % 2 == 0 { 127 } else { -127 };
    }
    let mut w = vec![127i8; out * inp];
    for v in &mut w[inp..2 * inp] {
        *v = -127;
    }
    w[2 * inp..].copy_from_slice(&weights(3 * inp, 77));
    matmul_case(k, IntMatmul::plain(&x, rows, &w, out, inp))?;
    let noise = NoiseSpec {
        seed: 5,
        param: 1,
        epoch: 0,
        first_pair: 9,
        rank: 4,
        sigma_shift: 1,
    };
    matmul_case(
        k,
        IntMatmul::plain(&x, rows, &w, out, inp).with_noise(Some(&noise)),
    )
}

/// Invalid inputs (wrong lengths, out-of-range values, zero rank, possible overflow) are
/// reported as errors, and empty batches give empty results.
pub fn check_rejects_invalid<K: IntKernels>(k: &K) -> Result<(), String> {
    let noise = NoiseSpec {
        seed: 1,
        param: 0,
        epoch: 0,
        first_pair: 0,
        rank: 0,
        sigma_shift: 1,
    };
    let bad: [(&str, bool); 4] = [
        (
            "short x",
            k.perturbed_matmul(&IntMatmul::plain(&[1, 2, 3], 2, &[1, 2], 1, 2))
                .is_err(),
        ),
        (
            "x = 128",
            k.perturbed_matmul(&IntMatmul::plain(&[128, 0], 1, &[1, 2], 1, 2))
                .is_err(),
        ),
        (
            "rank 0",
            k.perturbed_matmul(
                &IntMatmul::plain(&[1, 2], 1, &[1, 2], 1, 2).with_noise(Some(&noise)),
            )
            .is_err(),
        ),
        (
            "fan-in 2^18",
            k.perturbed_matmul(&IntMatmul::plain(
                &vec![0; 1 << 18],
                1,
                &vec![0; 1 << 18],
                1,
                1 << 18,
            ))
            .is_err(),
        ),
    ];
    if let Some((what, _)) = bad.iter().find(|(_, refused)| !refused) {
        return Err(format!("{} accepted an invalid input: {what}", k.name()));
    }
    let empty = run(
        k,
        "empty batch",
        k.perturbed_matmul(&IntMatmul::plain(&[], 0, &[1, 2], 1, 2)),
    )?;
    compare("empty batch", &empty, &[])
}

/// Define one `#[test]` per integer conformance check for a backend expression.
///
/// `int_conformance_suite!(optional: EXPR)` takes an `Option<&Kernels>` instead: with `None`
/// (no device on this machine, see [`crate::gpu_skip`]) every test passes without checking.
#[macro_export]
macro_rules! int_conformance_suite {
    (optional: $k:expr) => {
        #[test]
        fn int_conformance_matmul_plain() {
            if let Some(k) = $k {
                $crate::int::conformance::check_matmul_plain(k).unwrap();
            }
        }
        #[test]
        fn int_conformance_matmul_noise() {
            if let Some(k) = $k {
                $crate::int::conformance::check_matmul_noise(k).unwrap();
            }
        }
        #[test]
        fn int_conformance_matmul_extremes() {
            if let Some(k) = $k {
                $crate::int::conformance::check_matmul_extremes(k).unwrap();
            }
        }
        #[test]
        fn int_conformance_rejects_invalid() {
            if let Some(k) = $k {
                $crate::int::conformance::check_rejects_invalid(k).unwrap();
            }
        }
    };
    ($k:expr) => {
        $crate::int_conformance_suite!(optional: ::core::option::Option::Some(&$k));
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;

    /// A backend that is right except for one deliberate error in the perturbed matmul.
    struct Wrong;

    impl IntKernels for Wrong {
        type Error = CoreError;
        fn name(&self) -> String {
            "wrong".into()
        }
        fn perturbed_matmul(&self, m: &IntMatmul<'_>) -> crate::Result<Vec<i32>> {
            let mut acc = CpuInt.perturbed_matmul(m)?;
            // Off by one in the last row's correction only: noise-free results stay right.
            if m.noise.is_some() {
                if let Some(v) = acc.last_mut() {
                    *v += 1;
                }
            }
            Ok(acc)
        }
    }

    crate::int_conformance_suite!(CpuInt);

    #[test]
    fn checks_report_mismatches() {
        assert!(check_matmul_plain(&Wrong).is_ok());
        let e = check_matmul_noise(&Wrong).unwrap_err();
        assert!(e.contains("1 of") && e.contains("first at"), "{e}");
        assert!(check_matmul_extremes(&Wrong).is_err());
    }

    #[test]
    fn values_cover_the_int8_range() {
        let v = values(10_000, 3);
        assert!(v.iter().all(|x| (-127..=127).contains(x)));
        assert!(v.contains(&127) && v.contains(&-127));
        assert!(compare("c", &[1, 2], &[1, 3]).is_err());
        assert!(compare("c", &[1], &[1, 3]).is_err());
    }
}
