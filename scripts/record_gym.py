"""Record gymnasium 1.4.0 classic-control trajectories as golden data for eggroll-rl-envs.

This script installs nothing itself. Run it from the repository root as

    python3 -m venv /tmp/gymenv && /tmp/gymenv/bin/pip install gymnasium==1.4.0 && \
        /tmp/gymenv/bin/python scripts/record_gym.py

It writes one JSON file per environment to rl-envs/tests/data/<env id>.json. Each file holds a
few single-episode trajectories, each played from a seeded reset with a seeded policy (random
actions, or a simple heuristic with random exploration so that some episodes end by
termination and some by truncation). A trajectory records the initial physical state
(`env.unwrapped.state`, full f64 precision), the initial observation, and per step: the action,
the observation, the reward and the terminated/truncated flags. The Rust test
rl-envs/tests/golden.rs starts from the initial state, replays the actions and compares.

Observations and continuous actions are f32 values written with 9 significant digits (enough to
round-trip an f32); rewards and states are written in full. The script checks that every
environment has at least one trajectory ending by termination and one ending by truncation.
"""

import json
import os
import sys

import gymnasium as gym
import numpy as np

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rl-envs", "tests", "data")


def f32(v):
    """An f32 value as a short JSON float that round-trips to the same f32."""
    return float(f"{float(v):.9g}")


def explore(rng, eps, greedy, random_action):
    """Take `random_action()` with probability eps, else `greedy`."""
    return random_action() if rng.random() < eps else greedy


def discrete(n):
    return lambda rng: int(rng.integers(n))


def box(low, high):
    return lambda rng: np.array([rng.uniform(low, high)], dtype=np.float32)


# Policies: (name, f(obs, rng) -> action). Seeded per trajectory.
POLICIES = {
    "random2": lambda o, rng: discrete(2)(rng),
    "random3": lambda o, rng: discrete(3)(rng),
    "cartpole_balance": lambda o, rng: explore(
        rng, 0.05, int(o[2] + 0.5 * o[3] + 0.01 * o[0] + 0.05 * o[1] > 0), lambda: discrete(2)(rng)
    ),
    "acrobot_pump": lambda o, rng: explore(rng, 0.1, 2 if o[5] > 0 else 0, lambda: discrete(3)(rng)),
    "car_follow_velocity": lambda o, rng: explore(rng, 0.1, 2 if o[1] >= 0 else 0, lambda: discrete(3)(rng)),
    "torque_in_range": lambda o, rng: box(-2.0, 2.0)(rng),
    "torque_clipped": lambda o, rng: box(-3.5, 3.5)(rng),
    "force_follow_velocity": lambda o, rng: explore(
        rng,
        0.2,
        np.array([1.2 if o[1] >= 0 else -0.9], dtype=np.float32),
        lambda: box(-1.5, 1.5)(rng),
    ),
    "force_random_wide": lambda o, rng: box(-1.2, 1.2)(rng),
}

# (env id, [(seed, policy name), ...]).
PLAN = [
    ("CartPole-v1", [(0, "random2"), (1, "random2"), (2, "cartpole_balance")]),
    ("Pendulum-v1", [(0, "torque_in_range"), (1, "torque_clipped")]),
    ("Acrobot-v1", [(0, "random3"), (1, "acrobot_pump"), (2, "acrobot_pump")]),
    ("MountainCar-v0", [(0, "random3"), (1, "car_follow_velocity")]),
    ("MountainCarContinuous-v0", [(0, "force_follow_velocity"), (1, "force_random_wide")]),
]


def action_json(a):
    if isinstance(a, np.ndarray):
        return [f32(v) for v in a]
    return int(a)


def record(env_id, seed, policy_name):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(1000 + seed)
    policy = POLICIES[policy_name]
    traj = {
        "seed": seed,
        "policy": policy_name,
        "initial_state": [float(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64)],
        "initial_obs": [f32(v) for v in obs],
        "actions": [],
        "observations": [],
        "rewards": [],
        "terminated": [],
        "truncated": [],
    }
    while True:
        action = policy(obs, rng)
        obs, reward, terminated, truncated, _ = env.step(action)
        traj["actions"].append(action_json(action))
        traj["observations"].append([f32(v) for v in obs])
        traj["rewards"].append(float(f"{float(reward):.12g}"))
        traj["terminated"].append(bool(terminated))
        traj["truncated"].append(bool(truncated))
        if terminated or truncated:
            break
    env.close()
    return traj


def main():
    if gym.__version__ != "1.4.0":
        sys.exit(f"expected gymnasium 1.4.0, found {gym.__version__}")
    os.makedirs(OUT_DIR, exist_ok=True)
    for env_id, runs in PLAN:
        trajectories = [record(env_id, seed, pol) for seed, pol in runs]
        ends = {("terminated" if t["terminated"][-1] else "truncated") for t in trajectories}
        if ends != {"terminated", "truncated"} and env_id != "Pendulum-v1":
            sys.exit(f"{env_id}: trajectories end only by {ends}; adjust PLAN")
        spec = gym.spec(env_id)
        doc = {
            "env": env_id,
            "gymnasium": gym.__version__,
            "numpy": np.__version__,
            "max_episode_steps": spec.max_episode_steps,
            "trajectories": trajectories,
        }
        path = os.path.join(OUT_DIR, f"{env_id}.json")
        with open(path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        lengths = [len(t["actions"]) for t in trajectories]
        print(f"{env_id}: {len(trajectories)} trajectories, steps {lengths}, ends {sorted(ends)} -> {path}")


if __name__ == "__main__":
    main()
