//! Episode GIFs: they decode with the `gif` crate to the right size, frame count and timing,
//! the decoded pixels match the drawn frames, and the drawings put things where gymnasium
//! does (pole above the cart, pendulum up at theta = 0).

#![allow(clippy::unwrap_used)]

mod common;
use common::Scratch;
use std::f64::consts::FRAC_PI_2;

use eggroll::render::{draw_frame, encode_gif, render_gif, Canvas, Color, RenderOptions};

/// A decoded GIF: logical size, per-frame delays and fully composited index buffers.
struct Decoded {
    width: usize,
    height: usize,
    delays: Vec<u16>,
    frames: Vec<Vec<u8>>,
}

fn decode(bytes: &[u8]) -> Decoded {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let mut d = opts.read_info(bytes).unwrap();
    let (width, height) = (usize::from(d.width()), usize::from(d.height()));
    let mut screen = vec![0u8; width * height];
    let (mut delays, mut frames) = (vec![], vec![]);
    while let Some(f) = d.read_next_frame().unwrap() {
        let (l, t, w) = (
            usize::from(f.left),
            usize::from(f.top),
            usize::from(f.width),
        );
        for (r, row) in f.buffer.chunks_exact(w).enumerate() {
            let start = (t + r) * width + l;
            screen[start..start + w].copy_from_slice(row);
        }
        delays.push(f.delay);
        frames.push(screen.clone());
    }
    Decoded {
        width,
        height,
        delays,
        frames,
    }
}

fn cartpole_states(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let t = i as f64 * 0.05;
            vec![t.sin(), 0.0, 0.2 * (2.0 * t).sin(), 0.0]
        })
        .collect()
}

#[test]
fn gif_decodes_with_size_frames_and_pixels_of_the_drawn_frames() {
    let states = cartpole_states(12);
    let actions: Vec<Vec<f32>> = (0..11).map(|i| vec![(i % 2) as f32]).collect();
    let dir = Scratch::new("render", "gif");
    let path = dir.join("cartpole.gif");
    render_gif(
        "CartPole-v1",
        &states,
        &actions,
        &path,
        &RenderOptions::default(),
    )
    .unwrap();
    let g = decode(&std::fs::read(&path).unwrap());
    assert_eq!((g.width, g.height), (600, 400));
    assert_eq!(g.frames.len(), 12);
    // 50 fps: 2 cs a frame.
    assert!(g.delays.iter().all(|&d| d == 2), "{:?}", g.delays);
    for (i, frame) in g.frames.iter().enumerate() {
        let action = actions.get(i).map(Vec::as_slice);
        let drawn = draw_frame("CartPole-v1", &states[i], action, 1.0).unwrap();
        assert!(
            frame == drawn.indices(),
            "frame {i} differs from its drawing"
        );
    }
    // No temporary file is left beside the GIF.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn long_episodes_keep_every_kth_state_in_real_time() {
    let states: Vec<Vec<f64>> = (0..25).map(|i| vec![f64::from(i) * 0.2, 0.0]).collect();
    let opts = RenderOptions {
        scale: 0.25,
        fps: Some(20),
        max_frames: 10,
        show_action: false,
    };
    let g = decode(&encode_gif("Pendulum-v1", &states, &[], &opts).unwrap());
    assert_eq!((g.width, g.height), (125, 125));
    // ceil(25 / 10) = 3: states 0, 3, ..., 24, each shown 3 / 20 s.
    assert_eq!(g.frames.len(), 9);
    assert!(g.delays.iter().all(|&d| d == 15), "{:?}", g.delays);
    let drawn = draw_frame("Pendulum-v1", &states[24], None, 0.25).unwrap();
    assert!(g.frames[8] == drawn.indices());
}

#[test]
fn every_env_renders_and_unchanged_states_still_get_frames() {
    for name in eggroll_rl_envs::env_names() {
        let env = eggroll_rl_envs::make(name, 1).unwrap();
        let s = env.state(0).unwrap();
        let states = vec![s.clone(), s.clone(), s];
        let actions = vec![vec![0.0]; 3];
        let opts = RenderOptions {
            scale: 0.5,
            ..RenderOptions::default()
        };
        let g = decode(&encode_gif(name, &states, &actions, &opts).unwrap());
        assert_eq!(g.frames.len(), 3, "{name}");
        assert_eq!(g.frames[0], g.frames[2], "{name}");
    }
}

#[test]
fn unknown_env_is_an_error_listing_the_registered_ones() {
    let dir = Scratch::new("render", "unknown");
    let err = render_gif(
        "CartPole-v0",
        &[vec![0.0; 4]],
        &[],
        &dir.join("never.gif"),
        &RenderOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("CartPole-v0"), "{err}");
    for name in eggroll_rl_envs::env_names() {
        assert!(err.contains(name), "{err}");
    }
    assert!(!dir.join("never.gif").exists());
}

fn column_has(c: &Canvas, x: usize, rows: std::ops::Range<usize>, color: Color) -> bool {
    rows.into_iter().all(|y| c.color_at(x, y) == Some(color))
}

#[test]
fn upright_pole_stands_straight_above_the_cart() {
    for x in [0.0, -1.5, 2.0] {
        let c = draw_frame("CartPole-v1", &[x, 0.0, 0.0, 0.0], None, 1.0).unwrap();
        let cx = (300.0 + x * 125.0) as usize;
        // Axle at y-up 107.5 (row 292), pole to y-up 227.5 (row 172).
        assert!(column_has(&c, cx, 175..285, Color::Pole), "x = {x}");
        assert!(column_has(&c, cx - 4, 175..285, Color::Pole), "x = {x}");
        assert_eq!(c.color_at(cx - 6, 200), Some(Color::White));
        assert_eq!(c.color_at(cx + 6, 200), Some(Color::White));
        assert_eq!(c.color_at(cx, 165), Some(Color::White));
        assert_eq!(c.color_at(cx, 292), Some(Color::Axle));
    }
    // Leaning right (positive theta) moves the tip to the right of the axle.
    let c = draw_frame("CartPole-v1", &[0.0, 0.0, 0.2, 0.0], None, 1.0).unwrap();
    let tip_x = 300.0 + 115.0 * 0.2f64.sin();
    let tip_row = 400.0 - (107.5 + 115.0 * 0.2f64.cos());
    assert_eq!(
        c.color_at(tip_x as usize, tip_row as usize),
        Some(Color::Pole)
    );
    assert_eq!(c.color_at(300, 180), Some(Color::White));
}

#[test]
fn pendulum_points_up_at_zero_and_down_at_pi() {
    let up = draw_frame("Pendulum-v1", &[0.0, 0.0], None, 1.0).unwrap();
    assert!(column_has(&up, 250, 150..240, Color::Rod));
    assert!(column_has(&up, 250, 270..400, Color::White));
    let down = draw_frame("Pendulum-v1", &[std::f64::consts::PI, 0.0], None, 1.0).unwrap();
    assert!(column_has(&down, 250, 260..350, Color::Rod));
    assert!(column_has(&down, 250, 100..230, Color::White));
    assert_ne!(up, down);
    let side = draw_frame("Pendulum-v1", &[FRAC_PI_2, 0.0], None, 1.0).unwrap();
    assert_eq!(side.color_at(200, 250), Some(Color::Rod));
}

#[test]
fn a_frame_differs_when_the_state_differs() {
    let cases: [(&str, Vec<f64>, Vec<f64>); 5] = [
        ("CartPole-v1", vec![0.0; 4], vec![0.1, 0.0, 0.0, 0.0]),
        ("Pendulum-v1", vec![0.0, 0.0], vec![0.05, 0.0]),
        ("Acrobot-v1", vec![0.0; 4], vec![0.0, 0.3, 0.0, 0.0]),
        ("MountainCar-v0", vec![-0.5, 0.0], vec![-0.45, 0.0]),
        ("MountainCarContinuous-v0", vec![-0.5, 0.0], vec![0.3, 0.0]),
    ];
    for (name, a, b) in cases {
        let fa = draw_frame(name, &a, None, 1.0).unwrap();
        let fb = draw_frame(name, &b, None, 1.0).unwrap();
        assert_ne!(fa, fb, "{name}");
        // Velocities are not drawn.
        let mut v = a.clone();
        let last = v.len() - 1;
        v[last] = 3.0;
        assert_eq!(fa, draw_frame(name, &v, None, 1.0).unwrap(), "{name}");
    }
}
