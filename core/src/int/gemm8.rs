//! The int8 GEMM of the integer language model: `acc[r][o] = Σ_k x[r][k] · w[o][k]` on int8
//! operands, accumulated in i32, with the kernel chosen at run time like the float kernels:
//! AVX-512 VNNI `vpdpbusd` on 512-bit registers over packed weights where the CPU has it
//! ([`super::packed8`]), else AVX-VNNI `vpdpbusd` (or AVX-512 VNNI on 256-bit registers), else
//! AVX2 `vpmaddubsw` + `vpmaddwd`, else the portable loops. Every kernel gives the portable path's
//! bits: the sums are exact integer sums, so only overflow could make them differ, and each
//! kernel is built so that none of its intermediates saturates (see [`I8Kernel`]).

/// The environment variable that forces [`I8Kernel::detect`]'s choice (a [`I8Kernel::name`]).
pub const KERNEL_ENV: &str = "EGGROLL_INT8_KERNEL";

/// The int8 kernels, in the order [`I8Kernel::fastest`] prefers them (last first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum I8Kernel {
    /// Plain loops (auto-vectorised by the compiler).
    Portable,
    /// AVX2 `vpmaddubsw` with the sign trick: `|x|` (≤ 128, unsigned) times `sign(w, x)`
    /// (|·| ≤ 127), so each i16 pair sum is at most 2·128·127 = 32512 and never saturates;
    /// `vpmaddwd` by ones widens the pairs to i32. Needs `w` free of −128 (then `sign(w, x)`
    /// could not be negated): [`gemm_i8_with`] runs the portable path for such a `w`.
    Avx2,
    /// AVX-512 VNNI `vpdpbusd` on 256-bit registers (same arithmetic as [`I8Kernel::AvxVnni`]).
    Avx512Vnni,
    /// AVX-VNNI `vpdpbusd`: `(x + 128)` as u8 times `w`, summed by fours into i32 without
    /// saturation, minus `128·Σ_k w[o][k]` per output (wrapping i32 arithmetic, exact whenever
    /// the true result fits in i32, which is the portable path's own condition).
    AvxVnni,
    /// AVX-512 VNNI `vpdpbusd` on 512-bit registers, four bytes of a row broadcast against
    /// sixteen outputs (same arithmetic as [`I8Kernel::AvxVnni`]). It reads weights packed by
    /// [`super::PackedI8`]; [`gemm_i8_with`] packs them on each call, the model packs them
    /// once per update. (Through [`super::gemm_i8_packed`] the three 256-bit kernels above
    /// also run on packed weights, eight outputs per register.)
    Avx512VnniZmm,
}

impl I8Kernel {
    /// Every kernel, portable first.
    pub const ALL: [I8Kernel; 5] = [
        I8Kernel::Portable,
        I8Kernel::Avx2,
        I8Kernel::Avx512Vnni,
        I8Kernel::AvxVnni,
        I8Kernel::Avx512VnniZmm,
    ];

    /// The kernel [`gemm_i8`] runs: the fastest this CPU has, or the one the environment
    /// variable [`KERNEL_ENV`] names (to measure on one machine the path another machine
    /// takes); a name that is unknown or unavailable here is reported once on stderr and
    /// ignored. Decided once per process.
    pub fn detect() -> Self {
        static CHOSEN: std::sync::OnceLock<I8Kernel> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let best = I8Kernel::fastest();
            match std::env::var(KERNEL_ENV) {
                Ok(name) => match I8Kernel::from_name(&name) {
                    Some(k) if k.available() => k,
                    _ => {
                        eprintln!(
                            "{KERNEL_ENV}={name} is not one of {} available on this CPU; using {}",
                            I8Kernel::ALL
                                .iter()
                                .filter(|k| k.available())
                                .map(|k| k.name())
                                .collect::<Vec<_>>()
                                .join(", "),
                            best.name()
                        );
                        best
                    }
                },
                Err(_) => best,
            }
        })
    }

    /// The fastest kernel this CPU runs.
    pub fn fastest() -> Self {
        *I8Kernel::ALL
            .iter()
            .rev()
            .find(|k| k.available())
            .unwrap_or(&I8Kernel::Portable)
    }

    /// The kernel of a [`I8Kernel::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        I8Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this CPU has the instructions the kernel needs.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                I8Kernel::Portable => true,
                I8Kernel::Avx2 => has!("avx2"),
                I8Kernel::Avx512Vnni => has!("avx2") && has!("avx512vnni") && has!("avx512vl"),
                I8Kernel::AvxVnni => has!("avx2") && has!("avxvnni"),
                I8Kernel::Avx512VnniZmm => has!("avx512f") && has!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == I8Kernel::Portable
        }
    }

    /// A short name for reports (`avx512-vnni-zmm`, `avx-vnni`, `avx512-vnni`, `avx2`,
    /// `portable`).
    pub fn name(self) -> &'static str {
        match self {
            I8Kernel::Portable => "portable",
            I8Kernel::Avx2 => "avx2",
            I8Kernel::Avx512Vnni => "avx512-vnni",
            I8Kernel::AvxVnni => "avx-vnni",
            I8Kernel::Avx512VnniZmm => "avx512-vnni-zmm",
        }
    }
}

/// `acc[r·outs + o] = Σ_i x[r·k + i] · w[o·k + i]` for `rows × k` inputs and `outs × k`
/// weights (any int8 values), on the fastest kernel this CPU has.
pub fn gemm_i8(x: &[i8], rows: usize, w: &[i8], outs: usize, k: usize, acc: &mut [i32]) {
    gemm_i8_with(I8Kernel::detect(), x, rows, w, outs, k, acc);
}

/// [`gemm_i8`] on the given kernel; a kernel this CPU lacks (and [`I8Kernel::Avx2`] with a
/// −128 in `w`) runs the portable path, so the result is always the portable one.
///
/// # Panics
/// When a slice is shorter than its shape says.
pub fn gemm_i8_with(
    kernel: I8Kernel,
    x: &[i8],
    rows: usize,
    w: &[i8],
    outs: usize,
    k: usize,
    acc: &mut [i32],
) {
    // Saturating: a shape whose size overflows is longer than any slice.
    let size = |a: usize, b: usize| a.saturating_mul(b);
    assert!(
        x.len() >= size(rows, k) && w.len() >= size(outs, k) && acc.len() >= size(rows, outs),
        "gemm_i8: slices shorter than {rows}×{k}, {outs}×{k}, {rows}×{outs}"
    );
    if rows == 0 || outs == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if kernel.available() {
        use super::gemm8_x86 as simd;
        let (x, w, acc) = (&x[..rows * k], &w[..outs * k], &mut acc[..rows * outs]);
        // SAFETY (all arms): `available()` checked the CPU features each kernel is compiled
        // for, and the slices were cut to exactly their shapes above.
        match kernel {
            I8Kernel::Portable => {}
            I8Kernel::Avx2 if w.contains(&i8::MIN) => {}
            I8Kernel::Avx2 => return unsafe { simd::avx2_sign::gemm(x, rows, w, outs, k, acc) },
            I8Kernel::Avx512Vnni => {
                return unsafe { simd::avx512_vnni::gemm(x, rows, w, outs, k, acc) }
            }
            I8Kernel::AvxVnni => return unsafe { simd::avx_vnni::gemm(x, rows, w, outs, k, acc) },
            I8Kernel::Avx512VnniZmm => {
                let packed = super::PackedI8::for_kernel(kernel, w, outs, k);
                return super::gemm_i8_packed(x, rows, &packed, acc);
            }
        }
    }
    let _ = kernel;
    gemm_i8_portable(x, rows, w, outs, k, acc);
}

/// The portable reference of [`gemm_i8`] (plain loops).
pub fn gemm_i8_portable(x: &[i8], rows: usize, w: &[i8], outs: usize, k: usize, acc: &mut [i32]) {
    for r in 0..rows {
        let xr = &x[r * k..][..k];
        for o in 0..outs {
            acc[r * outs + o] = xr
                .iter()
                .zip(&w[o * k..][..k])
                .map(|(&p, &q)| p as i32 * q as i32)
                .sum();
        }
    }
}

/// Narrow int8-range values held as i16 (−128..=127) to i8 (the forward's activations).
pub fn narrow_i8(src: &[i16], dst: &mut [i8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s as i8;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `n` pseudo-random int8 values from `seed`.
    pub(in crate::int) fn fill(n: usize, seed: u32) -> Vec<i8> {
        (0..n as u32)
            .map(|i| crate::noise::hash32(i ^ seed.wrapping_mul(0x9e37_79b9)) as u8 as i8)
            .collect()
    }

    fn check_all(x: &[i8], rows: usize, w: &[i8], outs: usize, k: usize, what: &str) {
        let mut want = vec![7; rows * outs];
        gemm_i8_portable(x, rows, w, outs, k, &mut want);
        for kernel in I8Kernel::ALL {
            let mut got = vec![-7; rows * outs];
            gemm_i8_with(kernel, x, rows, w, outs, k, &mut got);
            assert_eq!(got, want, "{} on {what} {rows}×{outs}×{k}", kernel.name());
        }
    }

    #[test]
    fn hand_computed_case() {
        let x = [1i8, 2, 3, -4, 5, 6];
        let w = [1i8, 0, -1, 2, 2, 2, 127, -127, 0];
        let mut acc = [0i32; 6];
        gemm_i8(&x, 2, &w, 3, 3, &mut acc);
        assert_eq!(acc, [-2, 12, -127, -10, 14, -1143]);
    }

    #[test]
    fn every_kernel_matches_portable_on_random_ragged_shapes() {
        let mut seed = 1;
        for rows in [1, 2, 3, 4, 5, 7, 9, 64] {
            for outs in [1, 2, 3, 4, 5, 11, 64] {
                for k in [0, 1, 31, 32, 33, 64, 100, 129, 256] {
                    seed += 1;
                    let x = fill(rows * k, seed);
                    // w keeps to −127..=127, the model's range, so the AVX2 kernel runs.
                    let w: Vec<i8> = fill(outs * k, seed + 9999)
                        .into_iter()
                        .map(|v| v.max(-127))
                        .collect();
                    check_all(&x, rows, &w, outs, k, "random");
                }
            }
        }
    }

    #[test]
    fn extreme_values_are_exact() {
        // −128 and 127 everywhere, in every mixture of signs, at a fan-in where an i16 pair
        // sum of u8·i8 products could saturate if a kernel let it.
        let (rows, outs, k) = (5, 7, 1024);
        for (xa, xb, wa, wb) in [
            (-128i8, -128i8, -128i8, -128i8),
            (127, 127, 127, 127),
            (-128, 127, 127, -128),
            (-128, -128, 127, 127),
            (127, -128, -127, -127),
        ] {
            let x: Vec<i8> = (0..rows * k)
                .map(|i| if i % 3 == 0 { xa } else { xb })
                .collect();
            let w: Vec<i8> = (0..outs * k)
                .map(|i| if i % 5 == 0 { wa } else { wb })
                .collect();
            check_all(&x, rows, &w, outs, k, "extremes");
        }
        let x = vec![-128i8; 1024];
        let w = vec![-128i8; 1024];
        let mut acc = [0];
        gemm_i8(&x, 1, &w, 1, 1024, &mut acc);
        assert_eq!(acc[0], 128 * 128 * 1024);
    }

    #[test]
    fn detect_names_an_available_kernel() {
        let k = I8Kernel::fastest();
        assert!(k.available() && I8Kernel::Portable.available());
        assert!(I8Kernel::detect().available());
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            assert_ne!(k, I8Kernel::Portable, "AVX2 present but not chosen");
        }
        for k in I8Kernel::ALL {
            assert_eq!(I8Kernel::from_name(k.name()), Some(k));
        }
        assert_eq!(I8Kernel::from_name("avx3"), None);
    }

    #[test]
    fn narrow_keeps_the_int8_range() {
        let mut d = [0i8; 4];
        narrow_i8(&[-128, -1, 0, 127], &mut d);
        assert_eq!(d, [-128, -1, 0, 127]);
    }
}
