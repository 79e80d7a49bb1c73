//! A tiny indexed-colour rasteriser: filled polygons, circles, thick lines and polylines on
//! a pixel grid whose palette is the fixed [`Color`] set, so frames go into a GIF as they are.
//!
//! Coordinates are continuous pixel units with the origin at the top-left corner and y
//! growing downwards; pixel `(c, r)` covers `[c, c+1) × [r, r+1)` and is painted when its
//! centre `(c + 0.5, r + 0.5)` lies inside the shape (half-open on the right and bottom
//! edges, so shapes that share an edge never overlap or leave a gap). Shapes with a
//! non-finite coordinate are skipped; everything is clipped to the canvas.

/// The colours a frame can hold; the discriminant is the GIF palette index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Color {
    /// Background (255, 255, 255).
    White = 0,
    /// Tracks, carts, outlines (0, 0, 0).
    Black,
    /// CartPole's pole (202, 152, 101).
    Pole,
    /// CartPole's axle (129, 132, 203).
    Axle,
    /// Pendulum's rod (204, 77, 77).
    Rod,
    /// Acrobot's links (0, 204, 204).
    Link,
    /// Acrobot's joints and MountainCar's flag (204, 204, 0).
    Yellow,
    /// MountainCar's wheels (128, 128, 128).
    Grey,
    /// Background of the action indicator (215, 215, 215).
    LightGrey,
    /// The chosen action in the indicator (40, 110, 200).
    Action,
}

impl Color {
    /// Every colour, in palette order.
    pub const ALL: [Color; 10] = [
        Color::White,
        Color::Black,
        Color::Pole,
        Color::Axle,
        Color::Rod,
        Color::Link,
        Color::Yellow,
        Color::Grey,
        Color::LightGrey,
        Color::Action,
    ];

    /// The colour's 8-bit RGB value.
    pub const fn rgb(self) -> [u8; 3] {
        match self {
            Color::White => [255, 255, 255],
            Color::Black => [0, 0, 0],
            Color::Pole => [202, 152, 101],
            Color::Axle => [129, 132, 203],
            Color::Rod => [204, 77, 77],
            Color::Link => [0, 204, 204],
            Color::Yellow => [204, 204, 0],
            Color::Grey => [128, 128, 128],
            Color::LightGrey => [215, 215, 215],
            Color::Action => [40, 110, 200],
        }
    }

    /// The colour with palette index `index`, if there is one.
    pub fn from_index(index: u8) -> Option<Color> {
        Color::ALL.get(usize::from(index)).copied()
    }

    /// The palette as `[r, g, b, r, g, b, ...]` in index order (what a GIF header holds).
    pub fn palette() -> Vec<u8> {
        Color::ALL.iter().flat_map(|c| c.rgb()).collect()
    }
}

/// A point in pixel units (x right, y down).
pub type Point = (f64, f64);

/// An indexed-colour image of [`Color`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A `width × height` canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: Color) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![background as u8; width * height],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Palette indices, row by row from the top.
    pub fn indices(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour of pixel `(x, y)` (column, row from the top); `None` outside the canvas.
    pub fn color_at(&self, x: usize, y: usize) -> Option<Color> {
        if x >= self.width || y >= self.height {
            return None;
        }
        Color::from_index(self.pixels[y * self.width + x])
    }

    /// Paint every pixel with `color`.
    pub fn clear(&mut self, color: Color) {
        self.pixels.fill(color as u8);
    }

    /// Paint the pixels of row `row` whose centres lie in `[x0, x1)`.
    fn span(&mut self, row: usize, x0: f64, x1: f64, color: Color) {
        // Centre c + 0.5 >= x0  <=>  c >= x0 - 0.5; clamp before converting to an index.
        let w = self.width as f64;
        let c0 = (x0 - 0.5).ceil().clamp(0.0, w) as usize;
        let c1 = (x1 - 0.5).ceil().clamp(0.0, w) as usize;
        if c0 < c1 {
            let base = row * self.width;
            self.pixels[base + c0..base + c1].fill(color as u8);
        }
    }

    /// Rows whose centres lie in `[y0, y1]`, clipped to the canvas.
    fn rows(&self, y0: f64, y1: f64) -> std::ops::Range<usize> {
        let h = self.height as f64;
        let r0 = (y0 - 0.5).ceil().clamp(0.0, h) as usize;
        let r1 = ((y1 - 0.5).floor() + 1.0).clamp(0.0, h) as usize;
        r0..r1.max(r0)
    }

    /// Fill the polygon with vertices `points` (any winding; even-odd rule for
    /// self-intersecting outlines).
    pub fn fill_polygon(&mut self, points: &[Point], color: Color) {
        if points.len() < 3 || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
            return;
        }
        let (ymin, ymax) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        let mut xs: Vec<f64> = Vec::with_capacity(points.len());
        for row in self.rows(ymin, ymax) {
            let yc = row as f64 + 0.5;
            xs.clear();
            for (i, &(xa, ya)) in points.iter().enumerate() {
                let (xb, yb) = points[(i + 1) % points.len()];
                if (ya <= yc) != (yb <= yc) {
                    xs.push(xa + (yc - ya) * (xb - xa) / (yb - ya));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                self.span(row, pair[0], pair[1], color);
            }
        }
    }

    /// Fill the disc of radius `radius` around `centre`.
    pub fn fill_circle(&mut self, centre: Point, radius: f64, color: Color) {
        let (cx, cy) = centre;
        if !(cx.is_finite() && cy.is_finite() && radius.is_finite()) || radius <= 0.0 {
            return;
        }
        for row in self.rows(cy - radius, cy + radius) {
            let dy = row as f64 + 0.5 - cy;
            let half = (radius * radius - dy * dy).max(0.0).sqrt();
            self.span(row, cx - half, cx + half, color);
        }
    }

    /// Fill the axis-aligned rectangle with corners `(x0, y0)` and `(x1, y1)`.
    pub fn fill_rect(&mut self, (x0, y0): Point, (x1, y1): Point, color: Color) {
        self.fill_polygon(&[(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color);
    }

    /// A straight segment `width` pixels thick with square (butt) ends.
    pub fn thick_line(&mut self, a: Point, b: Point, width: f64, color: Color) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy);
        if len.is_nan() || len == 0.0 {
            self.fill_circle(a, width / 2.0, color);
            return;
        }
        let (nx, ny) = (-dy / len * width / 2.0, dx / len * width / 2.0);
        self.fill_polygon(
            &[
                (a.0 + nx, a.1 + ny),
                (b.0 + nx, b.1 + ny),
                (b.0 - nx, b.1 - ny),
                (a.0 - nx, a.1 - ny),
            ],
            color,
        );
    }

    /// Connected thick segments through `points`, with round joints between them.
    pub fn polyline(&mut self, points: &[Point], width: f64, color: Color) {
        for pair in points.windows(2) {
            self.thick_line(pair[0], pair[1], width, color);
        }
        if points.len() > 2 {
            for &p in &points[1..points.len() - 1] {
                self.fill_circle(p, width / 2.0, color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(c: &Canvas, color: Color) -> usize {
        c.indices().iter().filter(|&&i| i == color as u8).count()
    }

    #[test]
    fn palette_indices_round_trip() {
        for (i, c) in Color::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            assert_eq!(Color::from_index(i as u8), Some(*c));
        }
        assert_eq!(Color::from_index(Color::ALL.len() as u8), None);
        assert_eq!(Color::palette().len(), 3 * Color::ALL.len());
    }

    #[test]
    fn rect_covers_exactly_its_pixel_centres() {
        let mut c = Canvas::new(10, 8, Color::White);
        c.fill_rect((2.0, 1.0), (5.0, 4.0), Color::Black);
        for y in 0..8 {
            for x in 0..10 {
                let inside = (2..5).contains(&x) && (1..4).contains(&y);
                let want = if inside { Color::Black } else { Color::White };
                assert_eq!(c.color_at(x, y), Some(want), "({x},{y})");
            }
        }
    }

    #[test]
    fn adjacent_rects_neither_overlap_nor_gap() {
        let mut c = Canvas::new(10, 4, Color::White);
        c.fill_rect((0.0, 0.0), (4.3, 4.0), Color::Black);
        c.fill_rect((4.3, 0.0), (10.0, 4.0), Color::Rod);
        assert_eq!(count(&c, Color::White), 0);
        assert_eq!(count(&c, Color::Black), 16);
    }

    #[test]
    fn circle_is_round_and_centred() {
        let mut c = Canvas::new(21, 21, Color::White);
        c.fill_circle((10.5, 10.5), 5.0, Color::Yellow);
        let n = count(&c, Color::Yellow) as f64;
        let area = std::f64::consts::PI * 25.0;
        assert!((n - area).abs() < 0.1 * area, "{n} vs {area}");
        assert_eq!(c.color_at(10, 10), Some(Color::Yellow));
        assert_eq!(c.color_at(10, 14), Some(Color::Yellow));
        assert_eq!(c.color_at(10, 16), Some(Color::White));
        assert_eq!(c.color_at(4, 10), Some(Color::White));
        assert_eq!(c.color_at(14, 14), Some(Color::White));
    }

    #[test]
    fn diagonal_thick_line_hits_its_path_and_nothing_far_away() {
        let mut c = Canvas::new(20, 20, Color::White);
        c.thick_line((2.0, 2.0), (18.0, 18.0), 1.0, Color::Black);
        for k in 3..17 {
            assert_eq!(c.color_at(k, k), Some(Color::Black), "diagonal {k}");
        }
        assert_eq!(c.color_at(15, 3), Some(Color::White));
        assert_eq!(c.color_at(0, 0), Some(Color::White));
        // A one-pixel-wide line leaves no column gaps.
        for x in 3..17 {
            assert!((0..20).any(|y| c.color_at(x, y) == Some(Color::Black)));
        }
    }

    #[test]
    fn polyline_joins_segments() {
        let mut c = Canvas::new(20, 20, Color::White);
        c.polyline(&[(2.0, 10.5), (10.0, 10.5), (10.0, 2.0)], 3.0, Color::Black);
        assert_eq!(c.color_at(5, 10), Some(Color::Black));
        assert_eq!(c.color_at(10, 5), Some(Color::Black));
        assert_eq!(c.color_at(10, 10), Some(Color::Black));
        assert_eq!(c.color_at(15, 10), Some(Color::White));
    }

    #[test]
    fn shapes_outside_or_non_finite_are_clipped_or_skipped() {
        let mut c = Canvas::new(8, 8, Color::White);
        c.fill_rect((-100.0, -100.0), (1e12, 2.0), Color::Black);
        assert_eq!(count(&c, Color::Black), 16);
        c.clear(Color::White);
        c.fill_polygon(&[(0.0, 0.0), (f64::NAN, 5.0), (5.0, 5.0)], Color::Black);
        c.fill_circle((4.0, 4.0), f64::INFINITY, Color::Black);
        c.thick_line((f64::NAN, 0.0), (3.0, 3.0), 2.0, Color::Black);
        c.fill_circle((-50.0, -50.0), 3.0, Color::Black);
        assert_eq!(count(&c, Color::Black), 0);
        assert_eq!(c.color_at(8, 0), None);
    }

    #[test]
    fn triangle_fill_follows_its_edges() {
        let mut c = Canvas::new(10, 10, Color::White);
        // Right triangle with the hypotenuse on the diagonal x = y.
        c.fill_polygon(&[(0.0, 0.0), (10.0, 10.0), (0.0, 10.0)], Color::Black);
        for y in 0..10 {
            for x in 0..10 {
                let want = if x < y { Color::Black } else { Color::White };
                if x != y {
                    assert_eq!(c.color_at(x, y), Some(want), "({x},{y})");
                }
            }
        }
    }
}
