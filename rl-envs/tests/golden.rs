//! Golden tests: replay trajectories recorded from gymnasium 1.4.0 (scripts/record_gym.py)
//! and match observations, rewards and end flags step by step within 1e-5.
//!
//! All trajectories of one environment run side by side as lanes of one batch: each lane is
//! set to its recorded initial state, then fed its recorded actions. A lane whose episode is
//! over keeps stepping (auto-reset) with action 0 and is no longer checked.

#![allow(clippy::unwrap_used)]

use eggroll_rl_envs::{make, Space};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(untagged)]
enum Action {
    Discrete(u32),
    Continuous(Vec<f32>),
}

#[derive(Deserialize)]
struct Trajectory {
    seed: u64,
    policy: String,
    initial_state: Vec<f64>,
    initial_obs: Vec<f32>,
    actions: Vec<Action>,
    observations: Vec<Vec<f32>>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

#[derive(Deserialize)]
struct Golden {
    env: String,
    gymnasium: String,
    max_episode_steps: usize,
    trajectories: Vec<Trajectory>,
}

const TOL: f64 = 1e-5;

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= TOL * want.abs().max(1.0)
}

fn load(name: &str) -> Golden {
    let path = format!("{}/tests/data/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check_row(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: width");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(f64::from(*g), f64::from(*w)),
            "{what}[{k}]: got {g}, gymnasium {w}\n got row {got:?}\nwant row {want:?}"
        );
    }
}

/// Replay every trajectory of `name`; returns (episodes ended by termination, by truncation).
fn replay(name: &str) -> (usize, usize) {
    let golden = load(name);
    assert_eq!(golden.env, name);
    assert_eq!(golden.gymnasium, "1.4.0");
    let lanes = golden.trajectories.len();
    let mut env = make(name, lanes).unwrap();
    assert_eq!(env.max_episode_steps(), golden.max_episode_steps);
    let (od, ad) = (env.obs_dim(), env.action_dim());
    let space = env.action_space();
    for (k, t) in golden.trajectories.iter().enumerate() {
        env.set_state(k, &t.initial_state).unwrap();
        let got = &env.observations()[k * od..(k + 1) * od];
        check_row(
            &format!("{name} seed {} initial obs", t.seed),
            got,
            &t.initial_obs,
        );
        assert_eq!(env.state(k).unwrap(), t.initial_state);
    }
    let horizon = golden
        .trajectories
        .iter()
        .map(|t| t.actions.len())
        .max()
        .unwrap();
    let (mut rew, mut term, mut trunc) = (vec![0.0; lanes], vec![false; lanes], vec![false; lanes]);
    let mut actions = vec![0.0f32; lanes * ad];
    let mut ends = (0, 0);
    for step in 0..horizon {
        for (k, t) in golden.trajectories.iter().enumerate() {
            let row = &mut actions[k * ad..(k + 1) * ad];
            match t.actions.get(step) {
                Some(Action::Discrete(a)) => {
                    assert!(matches!(space, Space::Discrete { .. }));
                    row[0] = *a as f32;
                }
                Some(Action::Continuous(a)) => row.copy_from_slice(a),
                None => row.fill(0.0),
            }
        }
        env.step(&actions, &mut rew, &mut term, &mut trunc).unwrap();
        for (k, t) in golden.trajectories.iter().enumerate() {
            if step >= t.actions.len() {
                continue;
            }
            let what = format!("{name} seed {} ({}) step {step}", t.seed, t.policy);
            assert_eq!(term[k], t.terminated[step], "{what}: terminated");
            assert_eq!(trunc[k], t.truncated[step], "{what}: truncated");
            assert!(
                close(f64::from(rew[k]), t.rewards[step]),
                "{what}: reward {} vs gymnasium {}",
                rew[k],
                t.rewards[step]
            );
            let ended = term[k] || trunc[k];
            let source = if ended {
                env.final_observations()
            } else {
                env.observations()
            };
            check_row(&what, &source[k * od..(k + 1) * od], &t.observations[step]);
            if ended {
                assert_eq!(step + 1, t.actions.len(), "{what}: episode ended early");
                if term[k] {
                    ends.0 += 1;
                } else {
                    ends.1 += 1;
                }
            }
        }
    }
    ends
}

#[test]
fn cartpole_matches_gymnasium() {
    let (terminated, truncated) = replay("CartPole-v1");
    assert!(terminated >= 1 && truncated >= 1);
}

#[test]
fn pendulum_matches_gymnasium() {
    let (terminated, truncated) = replay("Pendulum-v1");
    assert_eq!(terminated, 0);
    assert!(truncated >= 1);
}

#[test]
fn acrobot_matches_gymnasium() {
    let (terminated, truncated) = replay("Acrobot-v1");
    assert!(terminated >= 1 && truncated >= 1);
}

#[test]
fn mountain_car_matches_gymnasium() {
    let (terminated, truncated) = replay("MountainCar-v0");
    assert!(terminated >= 1 && truncated >= 1);
}

#[test]
fn mountain_car_continuous_matches_gymnasium() {
    let (terminated, truncated) = replay("MountainCarContinuous-v0");
    assert!(terminated >= 1 && truncated >= 1);
}
