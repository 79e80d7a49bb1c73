//! Drawing classic-control episodes as animated GIFs.
//!
//! [`render_gif`] turns a recorded episode (the physical states from
//! `VecEnv::state`, and optionally the action taken in each) into a looping GIF drawn the
//! way gymnasium's `render_mode="rgb_array"` draws it: the same screen sizes (600×400 for
//! CartPole and MountainCar, 500×500 for Pendulum and Acrobot, times
//! [`RenderOptions::scale`]), geometry, colours and frame rates, plus a small action
//! read-out in the top-left corner. Pixels come from a small indexed rasteriser
//! ([`Canvas`]) with a fixed palette ([`Color`]); no anti-aliasing.

mod canvas;
mod encode;
mod scene;

use std::path::Path;

pub use canvas::{Canvas, Color, Point};

use crate::error::{Error, Result};
use scene::SceneSpec;

/// Largest frame side accepted, in pixels (keeps frames at a few megabytes at most).
pub const MAX_SIDE: usize = 8192;

/// How an episode is turned into a GIF.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOptions {
    /// Multiplies gymnasium's screen size (1.0 = 600×400 or 500×500); must be positive.
    pub scale: f64,
    /// Playback rate in states per second; `None` uses gymnasium's `render_fps` for the
    /// environment (CartPole 50, Pendulum 30, Acrobot 15, MountainCar 30).
    pub fps: Option<u32>,
    /// Most frames written: a longer episode keeps every k-th state (k as small as
    /// possible), each shown k times longer so playback keeps real time. Rates above
    /// 50 states/s also skip states, since GIF delays shorter than 2/100 s are unreliable.
    pub max_frames: usize,
    /// Draw the action read-out (when actions are given).
    pub show_action: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            scale: 1.0,
            fps: None,
            max_frames: 1000,
            show_action: true,
        }
    }
}

fn invalid(why: impl Into<String>) -> Error {
    Error::Config {
        origin: "render".into(),
        why: why.into(),
    }
}

/// Names of the environments that can be drawn (every registered one).
pub fn renderable_envs() -> Vec<&'static str> {
    scene::SCENES.iter().map(|s| s.name).collect()
}

fn lookup(env_name: &str) -> Result<&'static SceneSpec> {
    scene::find(env_name).ok_or_else(|| {
        let registered = eggroll_rl_envs::env_names();
        if registered.contains(&env_name) {
            invalid(format!(
                "environment '{env_name}' has no renderer; renderable: {}",
                renderable_envs().join(", ")
            ))
        } else {
            invalid(format!(
                "unknown environment '{env_name}'; registered: {}",
                registered.join(", ")
            ))
        }
    })
}

/// gymnasium's `render_fps` for `env_name` (the default playback rate).
pub fn native_fps(env_name: &str) -> Result<u32> {
    Ok(lookup(env_name)?.fps)
}

/// Frame size `(width, height)` in pixels of `env_name` at `scale`.
pub fn frame_size(env_name: &str, scale: f64) -> Result<(usize, usize)> {
    size_of(lookup(env_name)?, scale)
}

fn size_of(spec: &SceneSpec, scale: f64) -> Result<(usize, usize)> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(invalid(format!("scale must be positive, got {scale}")));
    }
    let side = |v: f64| (v * scale).round();
    let (w, h) = (side(spec.size.0), side(spec.size.1));
    let limit = MAX_SIDE as f64;
    if w < 16.0 || h < 16.0 || w > limit || h > limit {
        return Err(invalid(format!(
            "scale {scale} gives {w}×{h} pixels; sides must be 16..={MAX_SIDE}"
        )));
    }
    Ok((w as usize, h as usize))
}

fn check_state(spec: &SceneSpec, i: usize, state: &[f64]) -> Result<()> {
    if state.len() != spec.state_dim {
        return Err(invalid(format!(
            "state {i} has {} values; {} states have {}",
            state.len(),
            spec.name,
            spec.state_dim
        )));
    }
    Ok(())
}

fn check_action(i: usize, action: &[f32]) -> Result<()> {
    if action.len() != 1 {
        return Err(invalid(format!(
            "action {i} has {} values; the classic-control environments take 1",
            action.len()
        )));
    }
    Ok(())
}

/// Draw one frame of `env_name` in physical `state` at `scale`, with the action read-out
/// for `action` when given (a discrete action is its index as f32).
pub fn draw_frame(
    env_name: &str,
    state: &[f64],
    action: Option<&[f32]>,
    scale: f64,
) -> Result<Canvas> {
    let spec = lookup(env_name)?;
    let (w, h) = size_of(spec, scale)?;
    check_state(spec, 0, state)?;
    if let Some(a) = action {
        check_action(0, a)?;
    }
    let mut canvas = Canvas::new(w, h, Color::White);
    scene::draw(spec, &mut canvas, scale, state, action);
    Ok(canvas)
}

/// The bytes of an animated GIF of an episode of `env_name`: one frame per kept state
/// (see [`RenderOptions::max_frames`]). `actions[i]`, when present, is the action taken in
/// `states[i]` (one value; a discrete action is its index as f32); `actions` may be shorter
/// than `states` (e.g. empty, or missing the final state's) and those frames show none.
pub fn encode_gif(
    env_name: &str,
    states: &[Vec<f64>],
    actions: &[Vec<f32>],
    opts: &RenderOptions,
) -> Result<Vec<u8>> {
    let spec = lookup(env_name)?;
    let (w, h) = size_of(spec, opts.scale)?;
    if states.is_empty() {
        return Err(invalid("no states to draw"));
    }
    if actions.len() > states.len() {
        return Err(invalid(format!(
            "{} actions for {} states; at most one action per state",
            actions.len(),
            states.len()
        )));
    }
    for (i, s) in states.iter().enumerate() {
        check_state(spec, i, s)?;
    }
    for (i, a) in actions.iter().enumerate() {
        check_action(i, a)?;
    }
    let fps = opts.fps.unwrap_or(spec.fps);
    if fps == 0 {
        return Err(invalid("fps must be positive"));
    }
    if opts.max_frames == 0 {
        return Err(invalid("max_frames must be positive"));
    }

    let gif_err = |e: gif::EncodingError| Error::Io {
        path: format!("<{env_name} GIF>"),
        error: std::io::Error::other(e),
    };
    let side = |v: usize| u16::try_from(v).map_err(|_| invalid("frame too large for GIF"));
    let mut sink = encode::GifSink::new(side(w)?, side(h)?).map_err(gif_err)?;
    let step = encode::frame_step(states.len(), opts.max_frames, fps);
    let mut canvas = Canvas::new(w, h, Color::White);
    for (j, i) in (0..states.len()).step_by(step).enumerate() {
        let action = actions
            .get(i)
            .filter(|_| opts.show_action)
            .map(Vec::as_slice);
        scene::draw(spec, &mut canvas, opts.scale, &states[i], action);
        sink.push(&canvas, encode::delay_cs(j, step, fps))
            .map_err(gif_err)?;
    }
    sink.finish().map_err(gif_err)
}

/// Write an animated GIF of an episode of `env_name` to `path` (atomically: a temporary
/// file beside it, then a rename; parent folders are created). See [`encode_gif`] for the
/// meaning of `states` and `actions`. An unknown environment is an error naming the
/// registered ones.
pub fn render_gif(
    env_name: &str,
    states: &[Vec<f64>],
    actions: &[Vec<f32>],
    path: &Path,
    opts: &RenderOptions,
) -> Result<()> {
    let bytes = encode_gif(env_name, states, actions, opts)?;
    eggroll_core::checkpoint::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_gymnasium_and_scale() {
        assert_eq!(frame_size("CartPole-v1", 1.0).unwrap(), (600, 400));
        assert_eq!(frame_size("Pendulum-v1", 0.5).unwrap(), (250, 250));
        assert_eq!(frame_size("Acrobot-v1", 2.0).unwrap(), (1000, 1000));
        assert_eq!(frame_size("MountainCar-v0", 1.0).unwrap(), (600, 400));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.01, 100.0] {
            assert!(frame_size("CartPole-v1", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn native_rates_are_gymnasiums() {
        assert_eq!(native_fps("CartPole-v1").unwrap(), 50);
        assert_eq!(native_fps("Pendulum-v1").unwrap(), 30);
        assert_eq!(native_fps("Acrobot-v1").unwrap(), 15);
        assert_eq!(native_fps("MountainCar-v0").unwrap(), 30);
        assert_eq!(native_fps("MountainCarContinuous-v0").unwrap(), 30);
    }

    #[test]
    fn bad_inputs_are_errors_naming_the_problem() {
        let opts = RenderOptions::default();
        let s = vec![vec![0.0; 4]; 3];
        let msg = |r: Result<Vec<u8>>| r.err().unwrap().to_string();
        assert!(msg(encode_gif("CartPole-v1", &[], &[], &opts)).contains("no states"));
        assert!(msg(encode_gif("CartPole-v1", &[vec![0.0; 2]], &[], &opts)).contains("state 0"));
        let too_many = vec![vec![1.0]; 4];
        assert!(msg(encode_gif("CartPole-v1", &s, &too_many, &opts)).contains("4 actions"));
        assert!(msg(encode_gif("CartPole-v1", &s, &[vec![]], &opts)).contains("action 0"));
        let zero_fps = RenderOptions {
            fps: Some(0),
            ..RenderOptions::default()
        };
        assert!(msg(encode_gif("CartPole-v1", &s, &[], &zero_fps)).contains("fps"));
        let zero_frames = RenderOptions {
            max_frames: 0,
            ..RenderOptions::default()
        };
        assert!(msg(encode_gif("CartPole-v1", &s, &[], &zero_frames)).contains("max_frames"));
        assert!(draw_frame("Pendulum-v1", &[0.0; 3], None, 1.0).is_err());
        assert!(draw_frame("Pendulum-v1", &[0.0; 2], Some(&[1.0, 2.0]), 1.0).is_err());
    }

    #[test]
    fn every_registered_env_is_renderable() {
        assert_eq!(renderable_envs().len(), eggroll_rl_envs::env_names().len());
        for name in eggroll_rl_envs::env_names() {
            assert!(lookup(name).is_ok(), "{name}");
        }
    }
}
