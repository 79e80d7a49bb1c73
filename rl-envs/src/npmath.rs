//! numpy-exact scalar helpers.
//!
//! gymnasium's dynamics run on numpy scalars, and a few numpy scalar operations are not what
//! the obvious Rust expression computes: `np.float64(x) ** 2` calls the C library's `pow`
//! (which differs from `x * x` in the last bit for about one value in a thousand), and `%`
//! follows Python's sign convention. These helpers reproduce them bit for bit, so that chaotic
//! dynamics (Acrobot, an open-loop CartPole) stay on gymnasium's trajectory.

use std::hint::black_box;

/// `np.float64(x) ** 2`: the C library's `pow(x, 2.0)`. The exponent goes through
/// `black_box` so that the compiler cannot rewrite the call into `x * x`.
#[inline]
pub fn pow2(x: f64) -> f64 {
    x.powf(black_box(2.0))
}

/// `np.float32(x) ** 2`: the C library's `powf(x, 2.0f)`.
#[inline]
pub fn pow2_f32(x: f32) -> f32 {
    x.powf(black_box(2.0))
}

/// Python's / numpy's floating modulus: the result takes the sign of the divisor.
#[inline]
pub fn py_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 {
        if (m < 0.0) != (b < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0_f64.copysign(b)
    }
}

/// `np.clip(x, lo, hi)` for a scalar: `minimum(maximum(x, lo), hi)`.
#[inline]
pub fn np_clip(x: f64, lo: f64, hi: f64) -> f64 {
    let y = if x < lo { lo } else { x };
    if y > hi {
        hi
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn py_mod_follows_divisor_sign() {
        assert_eq!(py_mod(-1.0, 3.0), 2.0);
        assert_eq!(py_mod(1.0, -3.0), -2.0);
        assert_eq!(py_mod(7.5, 2.0), 1.5);
        assert_eq!(py_mod(-4.0, 2.0).to_bits(), 0.0_f64.to_bits());
    }

    #[test]
    fn pow2_is_close_to_square() {
        for &x in &[0.0, 1.5, -14.507_981_556_969_81, 3.3e7] {
            let p = pow2(x);
            assert!((p - x * x).abs() <= f64::EPSILON * x * x);
        }
        assert_eq!(pow2_f32(3.0), 9.0);
    }

    #[test]
    fn clip_bounds() {
        assert_eq!(np_clip(9.0, -8.0, 8.0), 8.0);
        assert_eq!(np_clip(-9.0, -8.0, 8.0), -8.0);
        assert_eq!(np_clip(0.5, -8.0, 8.0), 0.5);
    }
}
