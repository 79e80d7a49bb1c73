//! What each classic-control environment looks like: gymnasium's screen sizes, geometry,
//! colours and render frame rates, drawn onto a [`Canvas`] from the physical state.
//!
//! Scenes are laid out the way gymnasium's pygame renderers lay them out: in screen units
//! with the origin at the bottom-left and y pointing up (gymnasium flips its surface
//! vertically at the end); [`View`] maps those units onto the (scaled, y-down) canvas.

use std::f64::consts::FRAC_PI_2;

use eggroll_rl_envs::envs::{Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum};
use eggroll_rl_envs::Physics;

use super::canvas::{Canvas, Color, Point};

/// How an environment's actions are shown in the indicator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ActionKind {
    /// `n` choices, shown as `n` boxes left to right with the chosen one filled.
    Discrete(usize),
    /// One value in `[-bound, bound]`, shown as a bar growing left or right from the centre.
    Continuous(f64),
}

/// Which drawing routine an environment uses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    CartPole,
    Pendulum,
    Acrobot,
    /// Both MountainCar variants; they differ only in the flag's position.
    MountainCar {
        goal: f64,
    },
}

/// Everything needed to draw one environment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SceneSpec {
    /// Registered environment name.
    pub name: &'static str,
    kind: Kind,
    /// gymnasium's screen width and height at scale 1.
    pub size: (f64, f64),
    /// gymnasium's `metadata["render_fps"]`.
    pub fps: u32,
    /// Length of the state vector the scene reads.
    pub state_dim: usize,
    /// How actions are shown.
    pub action: ActionKind,
}

/// The drawable environments.
pub(crate) const SCENES: [SceneSpec; 5] = [
    SceneSpec {
        name: CartPole::NAME,
        kind: Kind::CartPole,
        size: (600.0, 400.0),
        fps: 50,
        state_dim: CartPole::STATE_DIM,
        action: ActionKind::Discrete(2),
    },
    SceneSpec {
        name: Pendulum::NAME,
        kind: Kind::Pendulum,
        size: (500.0, 500.0),
        fps: 30,
        state_dim: Pendulum::STATE_DIM,
        action: ActionKind::Continuous(2.0),
    },
    SceneSpec {
        name: Acrobot::NAME,
        kind: Kind::Acrobot,
        size: (500.0, 500.0),
        fps: 15,
        state_dim: Acrobot::STATE_DIM,
        action: ActionKind::Discrete(3),
    },
    SceneSpec {
        name: MountainCar::NAME,
        kind: Kind::MountainCar { goal: 0.5 },
        size: (600.0, 400.0),
        fps: 30,
        state_dim: MountainCar::STATE_DIM,
        action: ActionKind::Discrete(3),
    },
    SceneSpec {
        name: MountainCarContinuous::NAME,
        kind: Kind::MountainCar { goal: 0.45 },
        size: (600.0, 400.0),
        fps: 30,
        state_dim: MountainCarContinuous::STATE_DIM,
        action: ActionKind::Continuous(1.0),
    },
];

/// The scene of the environment called `name`, if it is drawable.
pub(crate) fn find(name: &str) -> Option<&'static SceneSpec> {
    SCENES.iter().find(|s| s.name == name)
}

/// Screen units (y up, origin bottom-left) onto a scaled canvas (y down).
struct View<'a> {
    canvas: &'a mut Canvas,
    scale: f64,
    height: f64,
}

impl View<'_> {
    fn map(&self, (x, y): Point) -> Point {
        (x * self.scale, self.height - y * self.scale)
    }

    fn polygon(&mut self, points: &[Point], color: Color) {
        let px: Vec<Point> = points.iter().map(|&p| self.map(p)).collect();
        self.canvas.fill_polygon(&px, color);
    }

    fn circle(&mut self, centre: Point, radius: f64, color: Color) {
        let c = self.map(centre);
        self.canvas.fill_circle(c, radius * self.scale, color);
    }

    /// Lines stay at least one pixel wide however small the scale.
    fn line_width(&self, width: f64) -> f64 {
        (width * self.scale).max(1.0)
    }

    fn line(&mut self, a: Point, b: Point, width: f64, color: Color) {
        let (a, b, w) = (self.map(a), self.map(b), self.line_width(width));
        self.canvas.thick_line(a, b, w, color);
    }

    fn polyline(&mut self, points: &[Point], width: f64, color: Color) {
        let px: Vec<Point> = points.iter().map(|&p| self.map(p)).collect();
        let w = self.line_width(width);
        self.canvas.polyline(&px, w, color);
    }
}

/// `p` rotated counter-clockwise by `angle` radians, then moved by `origin`.
fn place(p: Point, angle: f64, origin: Point) -> Point {
    let (s, c) = angle.sin_cos();
    (origin.0 + p.0 * c - p.1 * s, origin.1 + p.0 * s + p.1 * c)
}

/// The corners of the box `[l, r] × [b, t]`, rotated by `angle` and moved by `origin`.
fn boxed(l: f64, r: f64, b: f64, t: f64, angle: f64, origin: Point) -> [Point; 4] {
    [(l, b), (l, t), (r, t), (r, b)].map(|p| place(p, angle, origin))
}

/// Draw `state` (and, if given, `action`) of the environment `spec` onto `canvas`, which
/// must be `spec.size` scaled by `scale` (rounded). The caller checks the state's length.
pub(crate) fn draw(
    spec: &SceneSpec,
    canvas: &mut Canvas,
    scale: f64,
    state: &[f64],
    action: Option<&[f32]>,
) {
    canvas.clear(Color::White);
    let height = canvas.height() as f64;
    let mut view = View {
        canvas,
        scale,
        height,
    };
    match spec.kind {
        Kind::CartPole => cartpole(&mut view, state),
        Kind::Pendulum => pendulum(&mut view, state),
        Kind::Acrobot => acrobot(&mut view, state),
        Kind::MountainCar { goal } => mountain_car(&mut view, state, goal),
    }
    if let Some(a) = action {
        indicator(&mut view, spec, a);
    }
}

/// CartPole-v1: a black cart on a track, a wooden pole hinged on a blue axle.
fn cartpole(v: &mut View<'_>, s: &[f64]) {
    let (x, theta) = (s[0], s[2]);
    let world_width = 2.4 * 2.0;
    let units = 600.0 / world_width;
    let (pole_w, pole_len) = (10.0, units * 1.0);
    let (cart_w, cart_h) = (50.0, 30.0);
    let cart_y = 100.0;
    let axle = (x * units + 300.0, cart_y + cart_h / 4.0);
    let cart = boxed(
        -cart_w / 2.0,
        cart_w / 2.0,
        -cart_h / 2.0,
        cart_h / 2.0,
        0.0,
        (axle.0, cart_y),
    );
    v.polygon(&cart, Color::Black);
    let (pl, pr) = (-pole_w / 2.0, pole_w / 2.0);
    let pole = boxed(pl, pr, pl, pole_len - pole_w / 2.0, -theta, axle);
    v.polygon(&pole, Color::Pole);
    v.circle(axle, pole_w / 2.0, Color::Axle);
    v.line((0.0, cart_y), (600.0, cart_y), 1.0, Color::Black);
}

/// Pendulum-v1: a red rod from a black pivot; theta = 0 points straight up.
fn pendulum(v: &mut View<'_>, s: &[f64]) {
    let units = 500.0 / (2.2 * 2.0);
    let centre = (250.0, 250.0);
    let (len, w) = (units, 0.2 * units);
    let angle = s[0] + FRAC_PI_2;
    v.polygon(
        &boxed(0.0, len, -w / 2.0, w / 2.0, angle, centre),
        Color::Rod,
    );
    v.circle(centre, w / 2.0, Color::Rod);
    v.circle(place((len, 0.0), angle, centre), w / 2.0, Color::Rod);
    v.circle(centre, 0.05 * units, Color::Black);
}

/// Acrobot-v1: two cyan links hanging from the centre, yellow joints, and the black line
/// (one link length above the pivot) the tip must swing above.
fn acrobot(v: &mut View<'_>, s: &[f64]) {
    let (t1, t2) = (s[0], s[1]);
    let bound = 1.0 + 1.0 + 0.2;
    let units = 500.0 / (bound * 2.0);
    let o = 250.0;
    v.line(
        (-bound * units + o, units + o),
        (bound * units + o, units + o),
        1.0,
        Color::Black,
    );
    let p0 = (o, o);
    let p1 = (o + units * t1.sin(), o - units * t1.cos());
    for (joint, angle) in [(p0, t1 - FRAC_PI_2), (p1, t1 + t2 - FRAC_PI_2)] {
        let link = boxed(0.0, units, -0.1 * units, 0.1 * units, angle, joint);
        v.polygon(&link, Color::Link);
        v.circle(joint, 0.1 * units, Color::Yellow);
    }
}

/// The MountainCar valley's height at `x`.
fn valley(x: f64) -> f64 {
    (3.0 * x).sin() * 0.45 + 0.55
}

/// MountainCar-v0 / MountainCarContinuous-v0: the valley curve, a black car with grey
/// wheels tilted along the slope, and a yellow flag at `goal`.
fn mountain_car(v: &mut View<'_>, s: &[f64], goal: f64) {
    let (min, max) = (-1.2, 0.6);
    let units = 600.0 / (max - min);
    let (car_w, car_h, clearance) = (40.0, 20.0, 10.0);
    let curve: Vec<Point> = (0..100)
        .map(|i| {
            let x = min + (max - min) * f64::from(i) / 99.0;
            ((x - min) * units, valley(x) * units)
        })
        .collect();
    v.polyline(&curve, 1.5, Color::Black);

    let pos = s[0];
    let angle = (3.0 * pos).cos();
    let origin = ((pos - min) * units, clearance + valley(pos) * units);
    let body = boxed(-car_w / 2.0, car_w / 2.0, 0.0, car_h, angle, origin);
    v.polygon(&body, Color::Black);
    for wx in [car_w / 4.0, -car_w / 4.0] {
        v.circle(place((wx, 0.0), angle, origin), car_h / 2.5, Color::Grey);
    }

    let flag_x = (goal - min) * units;
    let flag_y1 = valley(goal) * units;
    let flag_y2 = flag_y1 + 50.0;
    v.line((flag_x, flag_y1), (flag_x, flag_y2), 1.5, Color::Black);
    v.polygon(
        &[
            (flag_x, flag_y2),
            (flag_x, flag_y2 - 10.0),
            (flag_x + 25.0, flag_y2 - 5.0),
        ],
        Color::Yellow,
    );
}

/// A small action read-out in the top-left corner: boxes for discrete actions, a signed
/// bar for continuous ones. Values that are not a valid action fill nothing.
fn indicator(v: &mut View<'_>, spec: &SceneSpec, action: &[f32]) {
    let top = spec.size.1 - 10.0;
    let Some(&a) = action.first() else { return };
    let a = f64::from(a);
    match spec.action {
        ActionKind::Discrete(n) => {
            let (side, gap) = (14.0, 4.0);
            for k in 0..n {
                let x0 = 10.0 + k as f64 * (side + gap);
                let chosen = a == k as f64;
                let color = if chosen {
                    Color::Action
                } else {
                    Color::LightGrey
                };
                v.polygon(
                    &boxed(x0, x0 + side, top - side, top, 0.0, (0.0, 0.0)),
                    color,
                );
            }
        }
        ActionKind::Continuous(bound) => {
            let (centre, half) = (60.0, 50.0);
            let (b, t) = (top - 11.0, top - 3.0);
            v.polygon(
                &boxed(centre - half, centre + half, b, t, 0.0, (0.0, 0.0)),
                Color::LightGrey,
            );
            if a.is_finite() {
                let end = centre + (a / bound).clamp(-1.0, 1.0) * half;
                let (l, r) = (centre.min(end), centre.max(end));
                v.polygon(&boxed(l, r, b, t, 0.0, (0.0, 0.0)), Color::Action);
            }
            v.line((centre, top - 14.0), (centre, top), 1.0, Color::Black);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(name: &str, state: &[f64], action: Option<&[f32]>) -> Canvas {
        let spec = find(name).unwrap();
        let mut c = Canvas::new(spec.size.0 as usize, spec.size.1 as usize, Color::White);
        draw(spec, &mut c, 1.0, state, action);
        c
    }

    fn count(c: &Canvas, color: Color) -> usize {
        c.indices().iter().filter(|&&i| i == color as u8).count()
    }

    #[test]
    fn every_registered_env_has_a_scene_with_its_state_width() {
        for name in eggroll_rl_envs::env_names() {
            let spec = find(name).unwrap_or_else(|| panic!("no scene for {name}"));
            let env = eggroll_rl_envs::make(name, 1).unwrap();
            assert_eq!(spec.state_dim, env.state_dim(), "{name}");
        }
    }

    #[test]
    fn place_rotates_counter_clockwise_then_translates() {
        let p = place((1.0, 0.0), FRAC_PI_2, (10.0, 20.0));
        assert!((p.0 - 10.0).abs() < 1e-12 && (p.1 - 21.0).abs() < 1e-12);
    }

    #[test]
    fn cartpole_moves_right_with_x() {
        let a = render(CartPole::NAME, &[0.0; 4], None);
        let b = render(CartPole::NAME, &[1.0, 0.0, 0.0, 0.0], None);
        // Cart body row (y-up 109.5 => row 290), beside the pole; the cart spans 275..325
        // at x = 0 and 400..450 at x = 1.
        assert_eq!(a.color_at(285, 290), Some(Color::Black));
        assert_eq!(a.color_at(410, 290), Some(Color::White));
        assert_eq!(b.color_at(410, 290), Some(Color::Black));
        assert_eq!(b.color_at(285, 290), Some(Color::White));
    }

    #[test]
    fn pendulum_rod_follows_theta() {
        // theta = pi/2: the rod points left (gymnasium's convention, counter-clockwise).
        let c = render(Pendulum::NAME, &[FRAC_PI_2, 0.0], None);
        assert_eq!(c.color_at(180, 250), Some(Color::Rod));
        assert_eq!(c.color_at(320, 250), Some(Color::White));
        assert_eq!(c.color_at(250, 180), Some(Color::White));
    }

    #[test]
    fn acrobot_hangs_down_at_rest_and_has_a_goal_line() {
        let c = render(Acrobot::NAME, &[0.0; 4], None);
        // Links straight down from the centre (rows below 250), nothing above.
        assert_eq!(c.color_at(250, 300), Some(Color::Link));
        assert_eq!(c.color_at(250, 400), Some(Color::Link));
        assert_eq!(c.color_at(250, 200), Some(Color::White));
        // Second joint one link length (113.6 px) below the pivot.
        assert_eq!(c.color_at(250, 364), Some(Color::Yellow));
        // The goal line one link length above the pivot (y-up 363.6 -> row 136).
        assert_eq!(c.color_at(10, 136), Some(Color::Black));
    }

    #[test]
    fn mountain_car_draws_flag_car_and_curve() {
        let c = render(MountainCar::NAME, &[-0.5, 0.0], None);
        let cont = render(MountainCarContinuous::NAME, &[-0.5, 0.0], None);
        assert!(count(&c, Color::Yellow) > 100);
        assert!(count(&c, Color::Grey) > 100);
        // The flags differ: 0.5 vs 0.45.
        assert_ne!(c, cont);
        // The curve through the centre of column 0.
        let units = 600.0 / 1.8;
        let row = 400.0 - valley(-1.2 + 0.5 / units) * units;
        assert_eq!(c.color_at(0, row as usize), Some(Color::Black));
        assert_eq!(c.color_at(0, row as usize + 4), Some(Color::White));
    }

    #[test]
    fn indicator_marks_the_action() {
        let none = render(CartPole::NAME, &[0.0; 4], None);
        let left = render(CartPole::NAME, &[0.0; 4], Some(&[0.0]));
        let right = render(CartPole::NAME, &[0.0; 4], Some(&[1.0]));
        assert_eq!(count(&none, Color::Action), 0);
        assert_eq!(left.color_at(15, 15), Some(Color::Action));
        assert_eq!(left.color_at(33, 15), Some(Color::LightGrey));
        assert_eq!(right.color_at(15, 15), Some(Color::LightGrey));
        assert_eq!(right.color_at(33, 15), Some(Color::Action));
        let invalid = render(CartPole::NAME, &[0.0; 4], Some(&[7.0]));
        assert_eq!(count(&invalid, Color::Action), 0);

        let push = render(Pendulum::NAME, &[0.0; 2], Some(&[1.0]));
        let pull = render(Pendulum::NAME, &[0.0; 2], Some(&[-5.0]));
        // +1 of 2 fills a quarter bar to the right of the centre (x 60..85).
        assert_eq!(push.color_at(80, 20), Some(Color::Action));
        assert_eq!(push.color_at(40, 20), Some(Color::LightGrey));
        // -5 is clipped to the full bar on the left.
        assert_eq!(pull.color_at(12, 20), Some(Color::Action));
        assert_eq!(pull.color_at(80, 20), Some(Color::LightGrey));
    }
}
