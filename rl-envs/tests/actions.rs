//! Bad input and clipping: wrong sizes, invalid discrete actions, NaN actions, out-of-box
//! continuous actions, bad `set_state` calls.

#![allow(clippy::unwrap_used)]

use eggroll_core::CoreError;
use eggroll_rl_envs::{env_names, make, VecEnv};

/// Rewards, terminated and truncated of one step.
type Outcome = (Vec<f32>, Vec<bool>, Vec<bool>);

fn step(env: &mut dyn VecEnv, actions: &[f32]) -> Result<Outcome, CoreError> {
    let n = env.num_envs();
    let (mut r, mut term, mut trunc) = (vec![0.0; n], vec![false; n], vec![false; n]);
    env.step(actions, &mut r, &mut term, &mut trunc)?;
    Ok((r, term, trunc))
}

fn snapshot(env: &dyn VecEnv) -> (Vec<f32>, Vec<Vec<f64>>) {
    let states = (0..env.num_envs()).map(|i| env.state(i).unwrap()).collect();
    (env.observations().to_vec(), states)
}

#[test]
fn wrong_action_length_is_a_shape_error() {
    for name in env_names() {
        let mut env = make(name, 3).unwrap();
        let err = step(env.as_mut(), &[0.0; 2]).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::Shape {
                    expected: 3,
                    got: 2,
                    ..
                }
            ),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn wrong_output_lengths_are_shape_errors() {
    let mut env = make("CartPole-v1", 3).unwrap();
    let (mut r, mut term, mut trunc) = (vec![0.0; 2], vec![false; 3], vec![false; 3]);
    assert!(env.step(&[0.0; 3], &mut r, &mut term, &mut trunc).is_err());
    let mut r = vec![0.0; 3];
    let mut trunc = vec![false; 4];
    assert!(env.step(&[0.0; 3], &mut r, &mut term, &mut trunc).is_err());
}

#[test]
fn invalid_discrete_actions_name_the_env_and_change_nothing() {
    for (name, bad) in [
        ("CartPole-v1", 2.0),
        ("Acrobot-v1", 3.0),
        ("MountainCar-v0", -1.0),
    ] {
        for value in [
            bad,
            0.5,
            1.5,
            1e-7,
            0.999_999_9,
            -0.5,
            f32::INFINITY,
            f32::NAN,
        ] {
            let mut env = make(name, 4).unwrap();
            env.reset(1);
            let before = snapshot(env.as_ref());
            let err = step(env.as_mut(), &[0.0, 1.0, value, 0.0])
                .unwrap_err()
                .to_string();
            assert!(err.contains("env 2"), "{name} {value}: {err}");
            assert_eq!(snapshot(env.as_ref()), before, "{name}: batch changed");
        }
    }
}

#[test]
fn nan_continuous_action_names_the_env() {
    for name in ["Pendulum-v1", "MountainCarContinuous-v0"] {
        let mut env = make(name, 5).unwrap();
        let before = snapshot(env.as_ref());
        let err = step(env.as_mut(), &[0.0, 0.1, 0.2, f32::NAN, 0.0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("env 3") && err.contains("NaN"),
            "{name}: {err}"
        );
        assert_eq!(snapshot(env.as_ref()), before);
        assert!(step(env.as_mut(), &[0.0, 0.0, f32::INFINITY, 0.0, 0.0]).is_err());
    }
}

#[test]
fn pendulum_clips_torque_for_dynamics_and_cost() {
    let mut env = make("Pendulum-v1", 3).unwrap();
    for i in 0..3 {
        env.set_state(i, &[0.7, -0.3]).unwrap();
    }
    let (r, _, _) = step(env.as_mut(), &[2.0, 10.0, 1.0]).unwrap();
    assert_eq!(r[0], r[1], "cost uses the clipped torque");
    assert_ne!(r[0], r[2]);
    assert_eq!(
        env.state(0),
        env.state(1),
        "dynamics use the clipped torque"
    );
    assert_ne!(env.state(0), env.state(2));
}

#[test]
fn continuous_mountain_car_clips_force_but_penalises_raw_action() {
    let mut env = make("MountainCarContinuous-v0", 2).unwrap();
    for i in 0..2 {
        env.set_state(i, &[-0.5, 0.0]).unwrap();
    }
    let (r, _, _) = step(env.as_mut(), &[1.0, 5.0]).unwrap();
    assert_eq!(env.state(0), env.state(1), "force is clipped to 1");
    assert!(
        (r[0] - -0.1).abs() < 1e-6 && (r[1] - -2.5).abs() < 1e-6,
        "{r:?}"
    );
}

#[test]
fn set_state_validates_its_input() {
    let mut env = make("Acrobot-v1", 2).unwrap();
    assert!(env.set_state(2, &[0.0; 4]).is_err());
    assert!(matches!(
        env.set_state(0, &[0.0; 3]),
        Err(CoreError::Shape {
            expected: 4,
            got: 3,
            ..
        })
    ));
    assert!(env.set_state(1, &[0.0, f64::NAN, 0.0, 0.0]).is_err());
    env.set_state(1, &[0.5, -0.25, 1.0, 2.0]).unwrap();
    assert_eq!(env.state(1).unwrap(), vec![0.5, -0.25, 1.0, 2.0]);
    let obs = &env.observations()[6..12];
    assert_eq!(obs[0], 0.5f64.cos() as f32);
    assert_eq!(obs[5], 2.0);
}
