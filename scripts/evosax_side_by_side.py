#!/usr/bin/env python3
"""evosax on the same benchmark problems as `eggroll bench strategies`, for a side-by-side
table (not part of the Rust test suite, which needs no Python).

Usage:
    python3 -m venv /tmp/evosax && /tmp/evosax/bin/pip install evosax jax
    target/debug/eggroll bench strategies --json > /tmp/eggroll-strategies.json
    /tmp/evosax/bin/python scripts/evosax_side_by_side.py /tmp/eggroll-strategies.json
    /tmp/evosax/bin/python scripts/evosax_side_by_side.py --xnes-expm /tmp/eggroll-strategies.json

It reads eggroll's JSON (precision, budget, σ, every seed's optimum and the cells) and runs
evosax's implementation of each strategy with the same population size λ, the same initial
mean (0) and σ, on the same shifted problems (the optima from the JSON), in float64, counting
evaluations member by member as eggroll does; then prints both medians per cell. PGPE gets
eggroll's ClipUp settings (α = σ/5, max speed 2α); every other strategy evosax's defaults.
The "eggroll sampling" column says whether eggroll's members came in mirrored pairs (its
default for pgpe, cma_es and sep_cma_es; `eggroll bench strategies --no-mirrored` turns it off
for all but pgpe); evosax's samples independently (PGPE: symmetric pairs).
evosax has no CEM, so that row is eggroll's alone.

With --xnes-expm each xnes row gets a third column: evosax's xNES with the paper's
covariance update (Glasmachers et al. 2010), as eggroll's xnes has it. evosax 0.3.2 updates
B ← B ⊙ exp(η_B/2 · G_B) element by element instead of B ← B expm(η_B/2 · G_B), so B, which
starts diagonal, stays diagonal: its xNES is a separable NES with xNES's rates (it cannot
learn Rosenbrock's coupling). The corrected one samples x = μ + σ B z and takes the matrix
exponential; weights, learning rates, optimizer, and the mean and σ updates stay evosax's.
"""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from evosax.algorithms import CMA_ES, PGPE, SNES, Sep_CMA_ES, SimpleGA, xNES  # noqa: E402
from evosax.core.optimizer import clipup  # noqa: E402

ST_ARGMIN = -2.9035340277711776
ST_MIN = -39.16616570377142


def value(problem, y):
    """The unshifted function of y = x - shift (0 at y = 0), as eggroll defines it."""
    d = y.shape[-1]
    if problem == "sphere":
        return jnp.sum(y * y, -1)
    if problem == "rosenbrock":
        t = y + 1.0
        return jnp.sum(100.0 * (t[..., 1:] - t[..., :-1] ** 2) ** 2 + (1.0 - t[..., :-1]) ** 2, -1)
    if problem == "rastrigin":
        return 10.0 * d + jnp.sum(y * y - 10.0 * jnp.cos(2 * jnp.pi * y), -1)
    if problem == "ackley":
        sq = jnp.mean(y * y, -1)
        cs = jnp.mean(jnp.cos(2 * jnp.pi * y), -1)
        return jnp.maximum(-20.0 * jnp.exp(-0.2 * jnp.sqrt(sq)) - jnp.exp(cs) + 20.0 + jnp.e, 0.0)
    if problem == "griewank":
        i = jnp.arange(1, d + 1)
        return 1.0 + jnp.sum(y * y, -1) / 4000.0 - jnp.prod(jnp.cos(y / jnp.sqrt(i)), -1)
    if problem == "styblinski_tang":
        t = y + ST_ARGMIN
        return jnp.maximum(0.5 * jnp.sum(t**4 - 16 * t * t + 5 * t, -1) - d * ST_MIN, 0.0)
    raise ValueError(problem)


class XNESExpm(xNES):
    """evosax's xNES with the paper's full-covariance sampling and B update."""

    def _ask(self, key, state, params):
        z = jax.random.normal(key, (self.population_size, self.num_dims))
        return state.mean + state.std * z @ state.B.T, state.replace(z=z)

    def _tell(self, key, population, fitness, state, params):
        new = super()._tell(key, population, fitness, state, params)
        eye = jnp.eye(self.num_dims)
        grad_M = jnp.einsum("i,ijk->jk", fitness, jax.vmap(jnp.outer)(state.z, state.z) - eye)
        grad_B = grad_M - jnp.trace(grad_M) / self.num_dims * eye
        return new.replace(B=state.B @ jax.scipy.linalg.expm(0.5 * params.lr_B * grad_B))


def make(name, lam, dim, sigma):
    x0 = jnp.zeros(dim)
    if name == "pgpe":
        a = sigma / 5.0
        s = PGPE(lam, x0, optimizer=clipup(learning_rate=a, max_velocity=2 * a))
    elif name == "snes":
        s = SNES(lam, x0)
    elif name == "xnes":
        s = xNES(lam, x0)
    elif name == "xnes_expm":
        s = XNESExpm(lam, x0)
    elif name == "sep_cma_es":
        s = Sep_CMA_ES(lam, x0)
    elif name == "cma_es":
        s = CMA_ES(lam, x0)
    elif name == "ga":
        s = SimpleGA(lam, x0)
    else:
        return None
    params = s.default_params
    if hasattr(params, "std_init"):
        params = params.replace(std_init=jnp.asarray(sigma))
    return s, params


def run_seeds(name, problem, dim, lam, seeds, shifts, budget, sigma):
    """Every evaluation's value, in order, for each seed (seeds × evaluations); one compiled
    program per cell, vmapped over the seeds."""
    s, params = make(name, lam, dim, sigma)
    gens = budget // lam

    def one(seed_key, shift):
        f = lambda x: value(problem, x - shift)  # noqa: E731
        k_init, k_pop, k_run = jax.random.split(seed_key, 3)
        if name == "ga":
            pop0 = sigma * jax.random.normal(k_pop, (lam, dim))
            state = s.init(k_init, pop0, f(pop0), params)
            first, n = f(pop0), gens - 1
        else:
            state = s.init(k_init, jnp.zeros(dim), params)
            first, n = jnp.zeros((0,)), gens

        def step(state, k):
            ka, kt = jax.random.split(k)
            pop, state = s.ask(ka, state, params)
            fit = f(pop)
            state, _ = s.tell(kt, pop, fit, state, params)
            return state, fit

        _, fits = jax.lax.scan(step, state, jax.random.split(k_run, n))
        return jnp.concatenate([first, fits.reshape(-1)])

    keys = jnp.stack([jax.random.key_data(jax.random.key(seed)) for seed in range(seeds)])
    wrapped = lambda kd, sh: one(jax.random.wrap_key_data(kd), sh)  # noqa: E731
    return np.asarray(jax.jit(jax.vmap(wrapped))(keys, shifts))


def evosax_cell(name, c, report):
    """(reached, median evaluations, median best) of evosax's `name` on cell `c`, as text."""
    prec, per_dim, sigma = report["precision"], report["budget_per_dim"], report["sigma"]
    problem, dim, lam = c["problem"], c["dim"], c["population"]
    shifts = jnp.asarray(np.stack([np.array(o)[:dim] for o in report["optima"][: c["seeds"]]]))
    evals, bests = [], []
    for v in run_seeds(name, problem, dim, lam, c["seeds"], shifts, per_dim * dim, sigma):
        v = np.where(np.isfinite(v), v, np.inf)
        best = np.minimum.accumulate(v)
        hit = np.nonzero(best <= prec)[0]
        evals.append(hit[0] + 1 if len(hit) else np.inf)
        bests.append(best[-1])
    med = sorted(evals)[len(evals) // 2]
    reached = f"{sum(np.isfinite(evals))}/{len(evals)}"
    return reached, "-" if not np.isfinite(med) else str(int(med)), f"{sorted(bests)[len(bests) // 2]:.3e}"


def main():
    ap = argparse.ArgumentParser(description="evosax beside `eggroll bench strategies --json`")
    ap.add_argument("report", help="eggroll's JSON")
    ap.add_argument("--xnes-expm", action="store_true", help="also run xNES with the paper's B update (xnes rows)")
    args = ap.parse_args()
    report = json.load(open(args.report))
    prec, per_dim, sigma = report["precision"], report["budget_per_dim"], report["sigma"]
    print(f"precision f <= {prec:g}; budget {per_dim} evaluations per dimension; σ = {sigma}")
    head = f"{'strategy':<11} {'problem':<16} {'D':>4} {'λ':>4} {'eggroll sampling':>16} | {'eggroll reached':>15} {'evals':>7} {'best':>10} | {'evosax reached':>14} {'evals':>7} {'best':>10}"
    if args.xnes_expm:
        head += f" | {'+expm reached':>14} {'evals':>7} {'best':>10}"
    print(head)
    for c in report["cells"]:
        name, problem, dim, lam = c["strategy"], c["problem"], c["dim"], c["population"]
        ours = "skipped" if c["skipped"] else f"{c['reached']}/{c['seeds']}"
        oe = "-" if c["median_evaluations"] is None else str(c["median_evaluations"])
        ob = "" if c["skipped"] else f"{c['median_best']:.3e}"
        theirs, te, tb = "n/a", "", ""
        if make(name, lam, dim, sigma) is not None and not c["skipped"]:
            theirs, te, tb = evosax_cell(name, c, report)
        sampling = "mirrored" if c.get("mirrored") else "plain"
        line = f"{name:<11} {problem:<16} {dim:>4} {lam:>4} {sampling:>16} | {ours:>15} {oe:>7} {ob:>10} | {theirs:>14} {te:>7} {tb:>10}"
        if args.xnes_expm and name == "xnes" and not c["skipped"]:
            line += " | {:>14} {:>7} {:>10}".format(*evosax_cell("xnes_expm", c, report))
        print(line, flush=True)


if __name__ == "__main__":
    main()
