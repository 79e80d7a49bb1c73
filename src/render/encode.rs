//! Animated GIF encoding of indexed [`Canvas`] frames, and the frame timing.
//!
//! Every frame shares the fixed global palette of [`Color`]s, so pixels go in as they are
//! (no colour quantisation). After the first frame only the rectangle that changed is
//! stored (disposal "keep"), which makes episodes of mostly-white frames small.
//! Delays are whole centiseconds (the GIF unit); they are chosen so that the running total
//! stays within half a centisecond of real time.

use std::borrow::Cow;

use gif::{DisposalMethod, Encoder, EncodingError, Frame, Repeat};

use super::canvas::{Canvas, Color};

/// Shortest delay browsers honour; shorter ones are commonly stretched to 10 cs.
const MIN_DELAY_CS: u64 = 2;

/// Keep every `step`-th state so that at most `max_frames` frames are written and no frame
/// lasts less than [`MIN_DELAY_CS`] at `fps`. `max_frames` and `fps` must be positive.
pub(crate) fn frame_step(states: usize, max_frames: usize, fps: u32) -> usize {
    let by_count = states.div_ceil(max_frames.max(1));
    let by_speed = (u64::from(fps) * MIN_DELAY_CS).div_ceil(100) as usize;
    by_count.max(by_speed).max(1)
}

/// The delay in centiseconds of written frame `j` when every `step`-th state of an episode
/// at `fps` is kept: the difference of the rounded times of frames `j + 1` and `j`.
pub(crate) fn delay_cs(j: usize, step: usize, fps: u32) -> u16 {
    let fps = u64::from(fps.max(1));
    // round(t * step * 100 / fps) in integers.
    let at = |t: u64| (2 * t * step as u64 * 100 + fps) / (2 * fps);
    let j = j as u64;
    u16::try_from(at(j + 1) - at(j)).unwrap_or(u16::MAX)
}

/// The smallest rectangle `(left, top, width, height)` holding every pixel that differs
/// between two equal-sized frames, or `None` when they are identical.
fn changed_rect(prev: &[u8], cur: &[u8], width: usize) -> Option<(usize, usize, usize, usize)> {
    let rows = prev.chunks_exact(width).zip(cur.chunks_exact(width));
    let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
    for (y, (a, b)) in rows.enumerate() {
        let Some(first) = a.iter().zip(b).position(|(p, q)| p != q) else {
            continue;
        };
        let last = a.iter().zip(b).rposition(|(p, q)| p != q).unwrap_or(first);
        x0 = x0.min(first);
        x1 = x1.max(last + 1);
        y0 = y0.min(y);
        y1 = y + 1;
    }
    (y0 != usize::MAX).then(|| (x0, y0, x1 - x0, y1 - y0))
}

/// An animated GIF being written into memory, frame by frame.
pub(crate) struct GifSink {
    encoder: Encoder<Vec<u8>>,
    previous: Option<Vec<u8>>,
    width: usize,
}

impl GifSink {
    /// A looping GIF of `width × height` frames (each at most `u16::MAX`).
    pub(crate) fn new(width: u16, height: u16) -> Result<Self, EncodingError> {
        let mut encoder = Encoder::new(Vec::new(), width, height, &Color::palette())?;
        encoder.set_repeat(Repeat::Infinite)?;
        Ok(GifSink {
            encoder,
            previous: None,
            width: usize::from(width),
        })
    }

    /// Append `canvas` (the size given to [`GifSink::new`]), shown for `delay` centiseconds.
    pub(crate) fn push(&mut self, canvas: &Canvas, delay: u16) -> Result<(), EncodingError> {
        let cur = canvas.indices();
        let (left, top, w, h) = match &self.previous {
            None => (0, 0, canvas.width(), canvas.height()),
            // An unchanged frame still needs its own delay: store one unchanged pixel.
            Some(prev) => changed_rect(prev, cur, self.width).unwrap_or((0, 0, 1, 1)),
        };
        let buffer: Vec<u8> = cur
            .chunks_exact(self.width)
            .skip(top)
            .take(h)
            .flat_map(|row| &row[left..left + w])
            .copied()
            .collect();
        // The rectangle lies inside a canvas whose sides fit in u16 (checked by `new`'s caller).
        let side = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        let frame = Frame {
            delay,
            dispose: DisposalMethod::Keep,
            left: side(left),
            top: side(top),
            width: side(w),
            height: side(h),
            buffer: Cow::Owned(buffer),
            ..Frame::default()
        };
        self.encoder.write_frame(&frame)?;
        match &mut self.previous {
            Some(prev) => prev.copy_from_slice(cur),
            None => self.previous = Some(cur.to_vec()),
        }
        Ok(())
    }

    /// The finished GIF file's bytes.
    pub(crate) fn finish(self) -> Result<Vec<u8>, EncodingError> {
        self.encoder.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_respects_frame_cap_and_speed() {
        assert_eq!(frame_step(500, 1000, 50), 1);
        assert_eq!(frame_step(1000, 1000, 30), 1);
        assert_eq!(frame_step(1001, 1000, 30), 2);
        assert_eq!(frame_step(2500, 1000, 30), 3);
        assert_eq!(frame_step(10, 1000, 60), 2);
        assert_eq!(frame_step(0, 1000, 30), 1);
    }

    #[test]
    fn delays_track_real_time() {
        for (fps, step) in [(30, 1), (50, 1), (15, 1), (30, 3), (7, 2)] {
            let n = 97;
            let total: u64 = (0..n).map(|j| u64::from(delay_cs(j, step, fps))).sum();
            let exact = n as f64 * step as f64 * 100.0 / f64::from(fps);
            assert!((total as f64 - exact).abs() <= 0.5, "{fps} {step}");
            assert!((0..n).all(|j| delay_cs(j, step, fps) >= 1));
        }
        assert_eq!(delay_cs(0, 1, 50), 2);
        assert_eq!(delay_cs(5, 1_000_000, 1), u16::MAX);
    }

    #[test]
    fn changed_rect_bounds_the_difference() {
        let a = vec![0u8; 6 * 4];
        let mut b = a.clone();
        assert_eq!(changed_rect(&a, &b, 6), None);
        b[6 + 4] = 1; // (4, 1)
        b[2 * 6 + 1] = 1; // (1, 2)
        assert_eq!(changed_rect(&a, &b, 6), Some((1, 1, 4, 2)));
    }
}
