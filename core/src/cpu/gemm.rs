//! Safe wrapper around the blocked SIMD single-precision GEMM of `matrixmultiply`.

/// A row-major or strided matrix view: `data[r*row_stride + c*col_stride]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    /// Backing slice.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn max_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
        }
    }
}

/// `c = alpha·a·b` into uninitialised `c` (dense row-major, exactly `a.rows × b.cols`), which
/// is returned initialised: with beta = 0 `matrixmultiply` writes every element of C without
/// reading it (its documented contract: "if β is zero, then C does not need to be
/// initialized"), so a layer's output needs no zeroing pass before its GEMM.
pub fn sgemm_into<'c>(
    alpha: f32,
    a: MatRef<'_>,
    b: MatRef<'_>,
    c: &'c mut [std::mem::MaybeUninit<f32>],
) -> &'c mut [f32] {
    let (m, n) = (a.rows, b.cols);
    assert_eq!(c.len(), m * n, "sgemm_into: output size");
    if m == 0 || n == 0 {
        // SAFETY: an empty slice has no elements to initialise.
        return unsafe { &mut *(c as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) };
    }
    check_operands(a, b);
    // SAFETY: as in `sgemm` for the operands; C is written, never read, with beta = 0, every
    // one of its m·n elements (also when k = 0: C is then set to zeros), after which the
    // slice is initialised and `MaybeUninit<f32>` has the layout of `f32`.
    unsafe {
        raw_sgemm(alpha, a, b, 0.0, c.as_mut_ptr().cast());
        &mut *(c as *mut [std::mem::MaybeUninit<f32>] as *mut [f32])
    }
}

/// Panics unless `a·b` is defined and every index of `a` and `b` is in bounds.
fn check_operands(a: MatRef<'_>, b: MatRef<'_>) {
    let k = a.cols;
    assert_eq!(k, b.rows, "sgemm: inner dimensions differ");
    assert!(
        k == 0 || a.max_index() < a.data.len(),
        "sgemm: a out of bounds"
    );
    assert!(
        k == 0 || b.max_index() < b.data.len(),
        "sgemm: b out of bounds"
    );
}

/// `matrixmultiply::sgemm` on checked views, C dense row-major.
///
/// # Safety
/// `a` and `b` must have passed [`check_operands`], `a.rows`, `b.cols` must be non-zero and
/// `c` must be valid for `a.rows × b.cols` writes (and reads unless `beta` is 0).
unsafe fn raw_sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: *mut f32) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // SAFETY: the caller's contract.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c,
            n as isize,
            1,
        );
    }
}

/// `c = alpha·a·b + beta·c` with `c` dense row-major (`a.rows × b.cols`).
///
/// Panics if the shapes disagree: callers inside the crate size their buffers themselves.
pub fn sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: &mut [f32]) {
    let (m, n) = (a.rows, b.cols);
    assert!(c.len() >= m * n, "sgemm: output too small");
    if m == 0 || n == 0 {
        return;
    }
    check_operands(a, b);
    // SAFETY: every index the kernel touches was bounds-checked (max index of a and b, and c
    // holds m*n elements with row stride n); the slices do not alias (c is &mut).
    unsafe { raw_sgemm(alpha, a, b, beta, c.as_mut_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product_matches_hand_computation() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3x2
        let mut c = [1.0; 4];
        sgemm(
            1.0,
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&b, 3, 2),
            1.0,
            &mut c,
        );
        assert_eq!(c, [5.0, 6.0, 11.0, 12.0]);
        let mut ct = [0.0; 9];
        // aᵀ·a: 3x3
        let av = MatRef::row_major(&a, 2, 3);
        sgemm(1.0, av.t(), av, 0.0, &mut ct);
        assert_eq!(ct[0], 17.0);
        assert_eq!(ct[4], 29.0);
        let mut raw = [std::mem::MaybeUninit::<f32>::uninit(); 4];
        let out = sgemm_into(
            2.0,
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&b, 3, 2),
            &mut raw,
        );
        assert_eq!(out, [8.0, 10.0, 20.0, 22.0]);
        let mut empty_k = [std::mem::MaybeUninit::<f32>::uninit(); 4];
        let zeros = sgemm_into(
            1.0,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 2),
            &mut empty_k,
        );
        assert_eq!(zeros, [0.0; 4]);
    }
}
