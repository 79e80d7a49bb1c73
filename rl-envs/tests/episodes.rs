//! Episode mechanics: auto-reset, terminated vs truncated, seeded resets, batching.

#![allow(clippy::unwrap_used)]

use std::f64::consts::PI;

use eggroll_rl_envs::envs::{CartPole, MountainCar};
use eggroll_rl_envs::{env_names, make, Batched, Space, VecEnv};

/// Step buffers for a batch of `n`.
fn bufs(n: usize) -> (Vec<f32>, Vec<bool>, Vec<bool>) {
    (vec![0.0; n], vec![false; n], vec![false; n])
}

/// Deterministic valid actions for step `t` of a batch.
fn actions(env: &dyn VecEnv, t: usize) -> Vec<f32> {
    let n = env.num_envs();
    match env.action_space() {
        Space::Discrete { n: k } => (0..n).map(|i| ((i * 31 + t * 17) / 7 % k) as f32).collect(),
        Space::Continuous { low, high } => (0..n * low.len())
            .map(|j| {
                let u = ((j * 37 + t * 11) % 101) as f32 / 100.0;
                low[0] + (high[0] - low[0]) * u
            })
            .collect(),
    }
}

#[test]
fn auto_reset_starts_a_fresh_episode_and_keeps_the_final_observation() {
    let mut env = Batched::<CartPole>::new(4).unwrap();
    env.reset(11);
    let (mut r, mut term, mut trunc) = bufs(4);
    // Always pushing right topples every pole within a few dozen steps.
    let mut ended = [false; 4];
    for _ in 0..200 {
        env.step(&[1.0; 4], &mut r, &mut term, &mut trunc).unwrap();
        for i in 0..4 {
            assert_eq!(r[i], 1.0);
            assert!(!trunc[i]);
            if term[i] && !ended[i] {
                ended[i] = true;
                let fin = &env.final_observations()[i * 4..i * 4 + 4];
                let out = fin[0].abs() > 2.4 || f64::from(fin[2].abs()) > 12.0 * 2.0 * PI / 360.0;
                assert!(out, "final observation {fin:?} is not terminal");
                let obs = &env.observations()[i * 4..i * 4 + 4];
                assert!(obs.iter().all(|v| v.abs() <= 0.05), "reset obs {obs:?}");
                let state = env.state(i).unwrap();
                assert!(state.iter().zip(obs).all(|(s, o)| *s as f32 == *o));
                assert_eq!(env.elapsed_steps(i), Some(0));
            }
        }
        if ended.iter().all(|e| *e) {
            break;
        }
    }
    assert!(ended.iter().all(|e| *e));
}

#[test]
fn pendulum_truncates_at_200_and_never_terminates() {
    let mut env = make("Pendulum-v1", 3).unwrap();
    assert_eq!(env.max_episode_steps(), 200);
    let (mut r, mut term, mut trunc) = bufs(3);
    for t in 1..=400 {
        env.step(&[0.5, -1.0, 2.0], &mut r, &mut term, &mut trunc)
            .unwrap();
        assert_eq!(term, [false; 3]);
        assert_eq!(trunc, [t % 200 == 0; 3], "step {t}");
        assert!(r.iter().all(|x| *x <= 0.0));
    }
}

/// MountainCar batch: lane `l` starts at rest at `start`, idles (action 1) for `l` steps, then
/// pushes along its velocity. Returns, per lane, the step (1-based) and flags of its first
/// episode end.
fn mountain_car_ends(start: f64) -> Vec<(usize, bool, bool)> {
    let n = 201;
    let mut env = Batched::<MountainCar>::new(n).unwrap();
    for l in 0..n {
        env.set_state(l, &[start, 0.0]).unwrap();
    }
    let (mut r, mut term, mut trunc) = bufs(n);
    let mut ends = vec![None; n];
    for t in 1..=200 {
        let acts: Vec<f32> = (0..n)
            .map(|l| match (t <= l, env.observations()[2 * l + 1] >= 0.0) {
                (true, _) => 1.0,
                (false, true) => 2.0,
                (false, false) => 0.0,
            })
            .collect();
        env.step(&acts, &mut r, &mut term, &mut trunc).unwrap();
        for l in 0..n {
            if (term[l] || trunc[l]) && ends[l].is_none() {
                ends[l] = Some((t, term[l], trunc[l]));
            }
        }
    }
    ends.into_iter().map(|e| e.unwrap()).collect()
}

#[test]
fn terminated_and_truncated_are_independent_flags() {
    let ends = mountain_car_ends(-0.5);
    // Pumping straight away reaches the goal well before the limit: terminated only.
    let (t, term, trunc) = ends[0];
    assert!(t < 200 && term && !trunc, "{t} {term} {trunc}");
    // Idling all along never reaches it: truncated only, at exactly 200.
    assert_eq!(ends[200], (200, false, true));
    // Some start and idle time make the goal coincide with the limit: both flags at once,
    // as gymnasium reports them.
    let both = (0..50)
        .map(|k| -0.6 + 0.004 * f64::from(k))
        .any(|start| mountain_car_ends(start).contains(&(200, true, true)));
    assert!(both, "no start/idle time ends exactly at the limit");
}

#[test]
fn seeded_resets_are_deterministic_and_per_env() {
    for name in env_names() {
        let mut a = make(name, 5).unwrap();
        let mut b = make(name, 5).unwrap();
        a.reset(10);
        b.reset(10);
        assert_eq!(a.observations(), b.observations(), "{name}");
        let mut c = make(name, 1).unwrap();
        c.reset(13);
        let od = a.obs_dim();
        assert_eq!(
            &a.observations()[3 * od..4 * od],
            c.observations(),
            "{name}: seed + i"
        );
        b.reset(11);
        assert_ne!(a.observations(), b.observations(), "{name}: seeds differ");
        // Re-seeding restarts the episode streams.
        let (mut r, mut term, mut trunc) = bufs(5);
        let first = a.observations().to_vec();
        for t in 0..300 {
            a.step(&actions(a.as_ref(), t), &mut r, &mut term, &mut trunc)
                .unwrap();
        }
        a.reset(10);
        assert_eq!(a.observations(), &first[..], "{name}: reset(10) again");
    }
}

#[test]
fn initial_states_follow_gymnasium_distributions() {
    let n = 600;
    for name in env_names() {
        let mut env = make(name, n).unwrap();
        env.reset(99);
        for i in 0..n {
            let s = env.state(i).unwrap();
            let ok = match name {
                "CartPole-v1" => s.iter().all(|v| (-0.05..0.05).contains(v)),
                "Acrobot-v1" => s
                    .iter()
                    .all(|v| (-0.1..=0.1).contains(v) && *v == f64::from(*v as f32)),
                "Pendulum-v1" => (-PI..PI).contains(&s[0]) && (-1.0..1.0).contains(&s[1]),
                _ => (-0.6..-0.4).contains(&s[0]) && s[1] == 0.0,
            };
            assert!(ok, "{name} env {i}: {s:?}");
        }
        assert!(env.state(n).is_none());
    }
}

#[test]
fn many_blocks_match_single_env_batches_through_auto_resets() {
    let n = 600; // three blocks, the last partial
    for name in env_names() {
        let mut big = make(name, n).unwrap();
        big.reset(3);
        let mut small: Vec<_> = [0, 255, 256, 511, 599]
            .iter()
            .map(|&i| {
                let mut e = make(name, 1).unwrap();
                e.reset(3 + i as u64);
                (i, e)
            })
            .collect();
        let (mut r, mut term, mut trunc) = bufs(n);
        let (mut r1, mut term1, mut trunc1) = bufs(1);
        let (od, ad) = (big.obs_dim(), big.action_dim());
        for t in 0..250 {
            let acts = actions(big.as_ref(), t);
            big.step(&acts, &mut r, &mut term, &mut trunc).unwrap();
            for (i, e) in small.iter_mut() {
                let i = *i;
                e.step(
                    &acts[i * ad..(i + 1) * ad],
                    &mut r1,
                    &mut term1,
                    &mut trunc1,
                )
                .unwrap();
                assert_eq!(
                    (r[i], term[i], trunc[i]),
                    (r1[0], term1[0], trunc1[0]),
                    "{name} env {i} step {t}"
                );
                assert_eq!(&big.observations()[i * od..(i + 1) * od], e.observations());
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let run = |threads: usize, name: &str| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut env = make(name, 1000).unwrap();
            env.reset(5);
            let (mut r, mut term, mut trunc) = bufs(1000);
            let mut trace = Vec::new();
            for t in 0..120 {
                env.step(&actions(env.as_ref(), t), &mut r, &mut term, &mut trunc)
                    .unwrap();
                trace.extend(r.iter().map(|x| x.to_bits()));
                trace.extend(term.iter().chain(&trunc).map(|&b| u32::from(b)));
                trace.extend(env.observations().iter().map(|x| x.to_bits()));
            }
            trace
        })
    };
    for name in env_names() {
        assert!(run(1, name) == run(2, name), "{name}");
    }
}

#[test]
fn spaces_and_limits_are_gymnasium_s() {
    let expect = [
        ("CartPole-v1", 4, Space::Discrete { n: 2 }, 500),
        (
            "Pendulum-v1",
            3,
            Space::Continuous {
                low: vec![-2.0],
                high: vec![2.0],
            },
            200,
        ),
        ("Acrobot-v1", 6, Space::Discrete { n: 3 }, 500),
        ("MountainCar-v0", 2, Space::Discrete { n: 3 }, 200),
        (
            "MountainCarContinuous-v0",
            2,
            Space::Continuous {
                low: vec![-1.0],
                high: vec![1.0],
            },
            999,
        ),
    ];
    assert_eq!(env_names().len(), expect.len());
    for (name, od, space, limit) in expect {
        let env = make(name, 2).unwrap();
        assert_eq!(env.obs_dim(), od, "{name}");
        assert_eq!(env.observation_space().dim(), od, "{name}");
        assert_eq!(env.action_dim(), space.dim(), "{name}");
        assert_eq!(env.action_space(), space, "{name}");
        assert_eq!(env.max_episode_steps(), limit, "{name}");
    }
}

#[test]
fn every_auto_reset_draws_from_the_documented_stream() {
    use eggroll_rl_envs::rng::ResetRng;
    use eggroll_rl_envs::Physics;
    // More than one block and more finished lanes per step than one group of hashed streams.
    let n = 600;
    let seed = 41;
    let mut env = Batched::<CartPole>::new(n).unwrap();
    env.reset(seed);
    let (mut r, mut term, mut trunc) = bufs(n);
    let mut episodes = vec![0u32; n];
    let mut resets = 0;
    for t in 0..120 {
        let a: Vec<f32> = (0..n).map(|i| ((i + t / 9) % 2) as f32).collect();
        env.step(&a, &mut r, &mut term, &mut trunc).unwrap();
        for i in 0..n {
            if term[i] || trunc[i] {
                episodes[i] += 1;
                resets += 1;
                let mut state = [0.0; 4];
                CartPole::reset(
                    &mut ResetRng::new(seed + i as u64, CartPole::RESET_SALT, episodes[i]),
                    &mut state,
                );
                assert_eq!(
                    env.state(i).unwrap(),
                    state,
                    "env {i} episode {}",
                    episodes[i]
                );
                let mut obs = [0.0; 4];
                CartPole::observe(&state, &mut obs);
                assert_eq!(&env.observations()[i * 4..i * 4 + 4], &obs);
            }
        }
    }
    assert!(resets > 1000, "{resets} resets");
}
