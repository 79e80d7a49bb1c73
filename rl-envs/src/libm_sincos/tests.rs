use super::*;

/// A fixed pseudo-random stream of units in [0, 1).
fn units(seed: u64, n: usize) -> impl Iterator<Item = f64> {
    let mut state = seed;
    (0..n).map(move |_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn assert_same_as_c_library(xs: &[f64]) {
    let mut sin = vec![0.0; xs.len()];
    let mut cos = vec![0.0; xs.len()];
    sin_cos(xs, &mut sin, &mut cos);
    for ((x, s), c) in xs.iter().zip(&sin).zip(&cos) {
        assert_eq!(
            s.to_bits(),
            x.sin().to_bits(),
            "sin({x:e}): {s:e} vs {:e}",
            x.sin()
        );
        assert_eq!(
            c.to_bits(),
            x.cos().to_bits(),
            "cos({x:e}): {c:e} vs {:e}",
            x.cos()
        );
    }
}

#[test]
fn the_table_holds_what_the_c_library_returns_at_its_points() {
    let t = build_table();
    for i in 0..ENTRIES {
        let x = i as f64 / STEPS;
        assert_eq!(t.sin[i].to_bits(), x.sin().to_bits(), "sin({i}/128)");
        assert_eq!(t.cos[i].to_bits(), x.cos().to_bits(), "cos({i}/128)");
        // Residuals are below half a unit of the value they correct.
        assert!(
            t.sin_residual[i].abs() <= f64::EPSILON / 2.0 * t.sin[i].abs(),
            "{i}"
        );
        assert!(
            t.cos_residual[i].abs() <= f64::EPSILON / 2.0 * t.cos[i].abs(),
            "{i}"
        );
    }
}

#[test]
fn the_vector_path_runs_where_glibc_uses_its_fma_code() {
    // The kernel reproduces glibc 2.36's `__sin_fma`/`__cos_fma` (read from its machine code);
    // elsewhere the self-check may rightly send every call to the C library.
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        extern "C" {
            fn gnu_get_libc_version() -> *const std::ffi::c_char;
        }
        // SAFETY: glibc returns a static NUL-terminated string.
        let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
        if version.to_bytes() == b"2.36" {
            assert!(vectorised(), "the vector sin/cos disagrees with glibc 2.36");
        } else {
            eprintln!("glibc {version:?}: the vector path is used only where it agrees");
        }
    }
}

#[test]
fn every_bit_matches_the_c_library_over_the_fast_range_and_beyond() {
    // CartPole's angles, the whole fast range, the small range, tiny values, points next to
    // the table points and the range borders, and arguments that fall back.
    let mut xs: Vec<f64> = units(1, 200_000).map(|u| (u - 0.5) * 0.5).collect();
    xs.extend(units(2, 200_000).map(|u| (u - 0.5) * 2.0 * FAST_LIMIT));
    xs.extend(units(3, 50_000).map(|u| (u - 0.5) * 0.26));
    xs.extend(units(4, 20_000).map(|u| (2f64).powf(-40.0 + 38.0 * u) * (u - 0.5).signum()));
    for i in 0..=ENTRIES {
        for d in -64i64..=64 {
            let point = (i as f64 / STEPS).to_bits() as i64;
            xs.push(f64::from_bits((point + d).max(0) as u64));
            let mid = ((i as f64 + 0.5) / STEPS).to_bits() as i64;
            xs.push(f64::from_bits((mid + d) as u64));
        }
    }
    for border in [0.126, FAST_LIMIT, kernel::SIN_TINY, kernel::COS_TINY] {
        for d in -8i64..=8 {
            xs.push(f64::from_bits((border.to_bits() as i64 + d) as u64));
        }
    }
    xs.extend([
        0.0,
        -0.0,
        5e-324,
        1.0,
        3.0,
        1e6,
        f64::INFINITY,
        f64::NAN,
        -f64::NAN,
    ]);
    let negated: Vec<f64> = xs.iter().map(|x| -x).collect();
    xs.extend(negated);
    assert_same_as_c_library(&xs);
    // Lengths that leave a scalar tail.
    for n in 0..9 {
        assert_same_as_c_library(&xs[..n]);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn each_instruction_set_gives_the_c_library_bits_and_declines_unstable_lanes() {
    use wide::Isa;
    let t = build_table();
    let mut xs: Vec<f64> = units(5, 100_000)
        .map(|u| (u - 0.5) * 2.0 * FAST_LIMIT)
        .collect();
    let (probes, fast) = check_arguments();
    xs.extend(&probes);
    for isa in [Isa::Avx2Fma, Isa::Avx512] {
        if !isa.available() {
            continue;
        }
        let (mut sin, mut cos) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        // With the real slack and with one as wide as the values (every table lane declines,
        // and the C library gives the results): the same bits either way.
        for slack in [RESIDUAL_SLACK, 0.5] {
            // SAFETY: `isa` is available.
            unsafe { wide::run(isa, &t, &xs, &mut sin, &mut cos, slack) };
            for ((x, s), c) in xs.iter().zip(&sin).zip(&cos) {
                assert_eq!(s.to_bits(), x.sin().to_bits(), "{isa:?} sin({x:e})");
                assert_eq!(c.to_bits(), x.cos().to_bits(), "{isa:?} cos({x:e})");
            }
        }
        let lanes = |v: [f64; 4]| -> Vec<f64> {
            v.iter()
                .cycle()
                .take(if isa == Isa::Avx512 { 8 } else { 4 })
                .copied()
                .collect()
        };
        // SAFETY: `isa` is available.
        let declines = |v: [f64; 4], slack| unsafe { wide::declines(isa, &t, &lanes(v), slack) };
        // The self-check's fast-range probes all run on the vector path.
        let width = if isa == Isa::Avx512 { 8 } else { 4 };
        for v in probes[..fast].chunks(width) {
            // SAFETY: `isa` is available.
            assert!(
                !unsafe { wide::declines(isa, &t, v, RESIDUAL_SLACK) },
                "{isa:?} {v:?}"
            );
        }
        let table_lanes = [0.05, -0.2, 0.3, 0.7];
        assert!(declines(table_lanes, 0.5));
        assert!(!declines(table_lanes, RESIDUAL_SLACK));
        // Tiny arguments use no residual at all.
        assert!(!declines([1e-9, -2e-9, 0.0, 5e-324], 0.5));
        // One lane past the fast range (or NaN) sends the vector to the C library.
        assert!(declines([0.1, 0.2, 0.9, 0.3], RESIDUAL_SLACK));
        assert!(declines([0.1, 0.2, f64::NAN, 0.3], RESIDUAL_SLACK));
    }
}
