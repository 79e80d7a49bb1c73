//! `sin` and `cos` of many f64 at once, with the C library's bits, four or eight lanes at a time.
//!
//! The environments call the C library's `sin`/`cos` because numpy does, and a trajectory must
//! keep gymnasium's bits. One call each costs CartPole more than the rest of its step (8.4 of
//! 14.5 ns per step on the Zen 5 of the README's table). glibc's x86-64 `sin`/`cos` on a CPU with
//! AVX2 and FMA (its `__sin_fma`/`__cos_fma`) evaluate, for `|x| < 0.85546875`, a fixed
//! sequence of roundings: a Taylor polynomial below 0.126 (sine), otherwise a short polynomial
//! around the nearest `i/128` combined with a table of `sin`/`cos` at those points, each split
//! into a rounded value and a residual. [`sin_cos`] performs the same roundings in the same
//! order with AVX2 and FMA (four lanes) or AVX-512 (eight):
//!
//! - the polynomial coefficients are the C library's (they must be, to give its bits);
//! - the table's rounded values are `sin`/`cos` of `i/128` rounded to nearest, as the C
//!   library's are, computed here in double-double arithmetic (and tested to equal
//!   `f64::sin`/`f64::cos` of `i/128`, which return exactly them);
//! - the residuals are computed here too, and the C library's may differ from these in their
//!   last bits. Every step after the residual enters is monotone in it, so each lane is also
//!   evaluated with its residuals moved by ±[`RESIDUAL_SLACK`] of the value; where either end
//!   gives other bits (the slack is about 2⁻⁴⁷ of a result's last bit, so roughly once in 10¹³
//!   lanes), the lanes are done by the C library instead.
//!
//! Lanes outside the fast range (`|x| ≥ 0.85546875`, NaN, infinities) fall back to the C
//! library a vector at a time. [`sin_cos`] checks each width once against `f64::sin`/`f64::cos`
//! on a spread of arguments before it uses it, so a different C library (or a CPU without AVX2
//! and FMA, where glibc uses other code) gets the scalar calls.

// Off x86-64 only the scalar path exists.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code, unused_imports))]

use std::sync::OnceLock;

/// `sin(theta[i])` into `sin[i]` and `cos(theta[i])` into `cos[i]`, bit for bit what
/// `f64::sin`/`f64::cos` (the C library) return. `sin` and `cos` must be at least as long as
/// `theta`.
pub fn sin_cos(theta: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    let (sin, cos) = (&mut sin[..theta.len()], &mut cos[..theta.len()]);
    #[cfg(target_arch = "x86_64")]
    if let Some((isa, table)) = checked() {
        // SAFETY: `checked` returns only an instruction set this CPU has.
        unsafe { wide::run(isa, table, theta, sin, cos, RESIDUAL_SLACK) };
        return;
    }
    scalar(theta, sin, cos);
}

/// Whether [`sin_cos`] uses a vector path on this machine (AVX2 and FMA present, and the
/// self-check against the C library passed).
pub fn vectorised() -> bool {
    #[cfg(target_arch = "x86_64")]
    return checked().is_some();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The C library, one call each.
fn scalar(theta: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    for ((s, c), x) in sin.iter_mut().zip(cos.iter_mut()).zip(theta) {
        *s = x.sin();
        *c = x.cos();
    }
}

/// How far (relative to the table value) the C library's residuals may sit from ours and the
/// vector result still be trusted: 2⁻¹⁰⁰. Compared once, entry by entry, against exact
/// values: ours are within 2⁻¹⁰⁶·⁶ (double-double), glibc 2.36's within 2⁻¹⁰⁶·⁹, and the two
/// differ by at most 2⁻¹⁰⁶ of the value, six bits inside the slack.
const RESIDUAL_SLACK: f64 = 7.888_609_052_210_118e-31;

/// Arguments below this use the fast paths (glibc's `0x3feb6000` high-word bound).
const FAST_LIMIT: f64 = 0.855_468_75;

/// Table points per unit: the table holds `sin`/`cos` of `i / 128`.
const STEPS: f64 = 128.0;

/// Table entries: `i / 128` for `i` in `0..110` covers `|x| < FAST_LIMIT`.
const ENTRIES: usize = 110;

/// `sin`/`cos` at `i / 128`, each as a rounded value and its residual, one array per column so
/// that a gather per column fetches four lanes' entries.
struct Table {
    sin: [f64; ENTRIES],
    sin_residual: [f64; ENTRIES],
    cos: [f64; ENTRIES],
    cos_residual: [f64; ENTRIES],
}

/// The widest instruction set whose fast path agrees with the C library, and the table, found
/// once; `None` where no fast path is available or none agrees.
#[cfg(target_arch = "x86_64")]
fn checked() -> Option<(wide::Isa, &'static Table)> {
    static CHECKED: OnceLock<Option<(wide::Isa, Table)>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let table = build_table();
            [wide::Isa::Avx512, wide::Isa::Avx2Fma]
                .into_iter()
                .find(|&isa| isa.available() && agrees_with_c_library(isa, &table))
                .map(|isa| (isa, table))
        })
        .as_ref()
        .map(|(isa, table)| (*isa, table))
}

/// Compare the fast path with the C library on a spread of arguments: every table point and
/// its neighbourhood, both polynomial ranges and their borders, tiny and special values.
#[cfg(target_arch = "x86_64")]
fn agrees_with_c_library(isa: wide::Isa, table: &Table) -> bool {
    let (probes, _) = check_arguments();
    let mut sin = vec![0.0; probes.len()];
    let mut cos = vec![0.0; probes.len()];
    // SAFETY: the caller checked that `isa` is available.
    unsafe { wide::run(isa, table, &probes, &mut sin, &mut cos, RESIDUAL_SLACK) };
    probes
        .iter()
        .zip(sin.iter().zip(&cos))
        .all(|(x, (s, c))| s.to_bits() == x.sin().to_bits() && c.to_bits() == x.cos().to_bits())
}

/// The self-check's arguments (a few thousand, both signs), and how many of them come first
/// in whole vectors of fast-range arguments only: an argument that falls back to the C library
/// (and takes its vector with it) never hides a fast one.
fn check_arguments() -> (Vec<f64>, usize) {
    let mut xs = vec![
        0.0, 1e-300, 5e-324, 1e-9, 3e-9, 1.4e-8, 1.5e-8, 0.125, 0.126, 0.1261,
    ];
    xs.extend([
        FAST_LIMIT,
        f64::from_bits(FAST_LIMIT.to_bits() - 1),
        1.0,
        f64::NAN,
    ]);
    for i in 0..=ENTRIES as u64 {
        let point = i as f64 / STEPS;
        xs.extend([
            point,
            point + 0.5 / STEPS,
            point + 0.37 / STEPS,
            point - 0.21 / STEPS,
        ]);
    }
    // A fixed pseudo-random sweep of [0, FAST_LIMIT) and of the small range.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..2048 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
        xs.extend([unit * FAST_LIMIT, unit * 0.3]);
    }
    let negated: Vec<f64> = xs.iter().map(|x| -x).collect();
    xs.extend(negated);
    let (mut fast, rest): (Vec<f64>, Vec<f64>) = xs.into_iter().partition(|x| x.abs() < FAST_LIMIT);
    // Whole vectors of the widest width (eight lanes; four divides it).
    while fast.len() % 8 != 0 {
        fast.push(fast[0]);
    }
    let n = fast.len();
    fast.extend(rest);
    (fast, n)
}

/// `sin`/`cos` of `i/128` in double-double arithmetic (Taylor series, error about 2⁻¹⁰⁴
/// relative), split into rounded value and residual.
fn build_table() -> Table {
    let mut t = Table {
        sin: [0.0; ENTRIES],
        sin_residual: [0.0; ENTRIES],
        cos: [0.0; ENTRIES],
        cos_residual: [0.0; ENTRIES],
    };
    for i in 0..ENTRIES {
        let x = i as f64 / STEPS;
        let (s, c) = (taylor(x, 1), taylor(x, 0));
        (t.sin[i], t.sin_residual[i]) = (s.hi, s.lo);
        (t.cos[i], t.cos_residual[i]) = (c.hi, c.lo);
    }
    t
}

/// `Σ (−1)^m x^(2m+first) / (2m+first)!` in double-double: `first = 1` gives `sin x`,
/// `first = 0` gives `cos x` (for `0 ≤ x < 1`, where the terms fall fast).
fn taylor(x: f64, first: u32) -> DoubleDouble {
    let x2 = x * x; // exact: x = i/128 has at most 7 significant bits
    let mut term = DoubleDouble::from(if first == 1 { x } else { 1.0 });
    let mut terms = Vec::new();
    let mut n = first;
    while term.hi != 0.0 && term.hi.abs() > 1e-40 {
        terms.push(term);
        term = term.mul_f64(-x2).div_f64(f64::from((n + 1) * (n + 2)));
        n += 2;
    }
    // Smallest terms first.
    terms
        .iter()
        .rev()
        .fold(DoubleDouble::from(0.0), |sum, t| sum.add(*t))
}

/// An unevaluated sum `hi + lo` with `|lo| ≤ ulp(hi)/2`.
#[derive(Clone, Copy, Debug)]
struct DoubleDouble {
    hi: f64,
    lo: f64,
}

impl From<f64> for DoubleDouble {
    fn from(hi: f64) -> Self {
        Self { hi, lo: 0.0 }
    }
}

impl DoubleDouble {
    /// `a + b` exactly, as a normalised pair (Knuth's two-sum).
    fn two_sum(a: f64, b: f64) -> Self {
        let s = a + b;
        let bb = s - a;
        Self {
            hi: s,
            lo: (a - (s - bb)) + (b - bb),
        }
    }

    fn add(self, other: Self) -> Self {
        let s = Self::two_sum(self.hi, other.hi);
        let t = Self::two_sum(self.lo, other.lo);
        let hi = Self::two_sum(s.hi, s.lo + t.hi);
        Self::two_sum(hi.hi, hi.lo + t.lo)
    }

    fn mul_f64(self, b: f64) -> Self {
        let p = self.hi * b;
        let e = self.hi.mul_add(b, -p); // exact error of the product
        Self::two_sum(p, e + self.lo * b)
    }

    fn div_f64(self, b: f64) -> Self {
        let q = self.hi / b;
        let r = self.add(Self::from(q).mul_f64(-b));
        Self::two_sum(q, r.hi / b)
    }
}

/// The fast path, compiled for each instruction set it runs on.
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::{__m256d, __m512d};

    use super::{kernel, Table};

    /// Which instruction set [`run`] uses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) enum Isa {
        /// Four lanes.
        Avx2Fma,
        /// Eight lanes.
        Avx512,
    }

    impl Isa {
        /// Whether this CPU has the instructions.
        pub(super) fn available(self) -> bool {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            match self {
                Isa::Avx2Fma => avx2,
                Isa::Avx512 => avx2 && is_x86_feature_detected!("avx512f"),
            }
        }
    }

    /// [`kernel::sin_cos`] with `isa`.
    ///
    /// # Safety
    /// `isa` must be available; `sin` and `cos` as long as `theta`.
    pub(super) unsafe fn run(
        isa: Isa,
        table: &Table,
        theta: &[f64],
        sin: &mut [f64],
        cos: &mut [f64],
        slack: f64,
    ) {
        // SAFETY: the caller guarantees the features of `isa`.
        unsafe {
            match isa {
                Isa::Avx2Fma => avx2(table, theta, sin, cos, slack),
                Isa::Avx512 => avx512(table, theta, sin, cos, slack),
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2(table: &Table, theta: &[f64], sin: &mut [f64], cos: &mut [f64], slack: f64) {
        // SAFETY: compiled for and called with AVX2 and FMA.
        unsafe { kernel::sin_cos::<__m256d>(table, theta, sin, cos, slack) }
    }

    #[target_feature(enable = "avx2,fma,avx512f")]
    unsafe fn avx512(table: &Table, theta: &[f64], sin: &mut [f64], cos: &mut [f64], slack: f64) {
        // SAFETY: compiled for and called with AVX-512F.
        unsafe { kernel::sin_cos::<__m512d>(table, theta, sin, cos, slack) }
    }

    /// Whether the fast path declines the vector `x` (as long as `isa`'s vectors).
    ///
    /// # Safety
    /// `isa` must be available.
    #[cfg(test)]
    pub(super) unsafe fn declines(isa: Isa, table: &Table, x: &[f64], slack: f64) -> bool {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn four(table: &Table, x: &[f64; 4], slack: f64) -> bool {
            // SAFETY: compiled for AVX2 and FMA; `x` holds four lanes.
            unsafe { kernel::lanes(table, _mm256_loadu_pd(x.as_ptr()), slack).is_none() }
        }
        #[target_feature(enable = "avx2,fma,avx512f")]
        unsafe fn eight(table: &Table, x: &[f64; 8], slack: f64) -> bool {
            // SAFETY: compiled for AVX-512F; `x` holds eight lanes.
            unsafe { kernel::lanes(table, _mm512_loadu_pd(x.as_ptr()), slack).is_none() }
        }
        use std::arch::x86_64::{_mm256_loadu_pd, _mm512_loadu_pd};
        // SAFETY: the caller guarantees `isa`.
        unsafe {
            match isa {
                Isa::Avx2Fma => four(table, x.try_into().expect("four lanes"), slack),
                Isa::Avx512 => eight(table, x.try_into().expect("eight lanes"), slack),
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod kernel;
#[cfg(target_arch = "x86_64")]
mod simd;

#[cfg(test)]
mod tests;
