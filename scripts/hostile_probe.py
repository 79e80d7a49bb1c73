#!/usr/bin/env python3
"""Hostile probes of a built `eggroll` binary: the defects of issue #13 and their classes.

Runs the binary the way a careless or hostile user would (mutated configs, damaged checkpoints,
kill -9 at random moments then resume, two processes on one run directory, odd data files, the
specific commands of the issue) and counts, per probe family, how many runs ended in a panic
or abort, lost data, silently corrupted results, or gave a message that does not name what is at
fault. Prints one table and exits non-zero if any bad outcome was seen.

    python3 scripts/hostile_probe.py target/release/eggroll [--seed 1] [--quick]

Not part of the test suite (it takes minutes and uses wall-clock kills); a tool to re-run the
probes after a change and quote the counts.
"""
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "target/release/eggroll"
SEED = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
QUICK = "--quick" in sys.argv
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EX = os.path.join(ROOT, "examples")
rng = random.Random(SEED)
results = defaultdict(Counter)
failures = []


def run(args, cwd, timeout=120, env=None):
    e = dict(os.environ, RAYON_NUM_THREADS="2")
    e.update(env or {})
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def classify(family, rc, err, must_name=None, label=""):
    """Count one run: panic/abort, clear error (naming `must_name` when given), or success."""
    if rc in (101, 134, -6, -11) or "panicked" in err or "memory allocation" in err:
        results[family]["panic/abort"] += 1
        failures.append(f"{family} {label}: rc {rc}: {err.strip()[-300:]}")
    elif rc == 0:
        results[family]["ok"] += 1
    elif must_name and not any(n in err for n in must_name):
        results[family]["unclear message"] += 1
        failures.append(f"{family} {label}: message names none of {must_name}: {err.strip()[-300:]}")
    else:
        results[family]["clear error"] += 1


def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8 : 8 + n])
    return {k: b[8 + n + v["data_offsets"][0] : 8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}


def latest(d):
    return os.path.join(d, "checkpoints", "latest.safetensors")


def mutate_text(text):
    ops = [
        lambda t, i: t[:i] + t[i + 1 :],
        lambda t, i: t[:i] + rng.choice("0123456789-.=[]\"' e9xz") + t[i:],
        lambda t, i: t[:i] + t[i:].replace(t[i : i + 1], rng.choice(["1e39", "-1", "0", "nan", "99999999999"]), 1),
        lambda t, i: t + rng.choice(["\nbogus = 1\n", "\n[es]\nrank = 0\n", "\n[run]\nstop_metric = \"x\"\n"]),
    ]
    i = rng.randrange(max(1, len(text)))
    return rng.choice(ops)(text, i)


def probe_configs(tmp, n):
    for path in sorted(os.listdir(EX)):
        text = open(os.path.join(EX, path)).read()
        for k in range(n):
            m = text
            for _ in range(1 + rng.randrange(3)):
                m = mutate_text(m)
            cfg = os.path.join(tmp, f"m-{k}.toml")
            open(cfg, "w").write(m)
            out = os.path.join(tmp, f"m-run-{path}-{k}")
            rc, _, err = run(["train", cfg, "--out", out, "--stop-after", "1", "--set", "es.population=8"], tmp)
            classify("mutated configs", rc, err, ["config", "m-", "--set", "task", "data", "run directory"], path)
            shutil.rmtree(out, ignore_errors=True)


def probe_checkpoints(tmp, n):
    text = os.path.join(tmp, "text.txt")
    open(text, "w").write("to be or not to be, that is the question. " * 300)
    egg = os.path.join(tmp, "egg.toml")
    open(egg, "w").write(
        f'generations = 3\n[model]\nkind = "egg_gru"\nd_model = 8\nchunk_members = 4\n'
        f'[task]\nname = "text"\ndata = "{text}"\nwindow = 16\neval_bytes = 512\neval_streams = 2\n'
        f'[es]\npopulation = 8\nrank = 1\nshaping = "pair_sign"\n'
    )
    runs = {
        "digits": ["train", "--generations", "3", "--set", "es.population=16", "--set", "task.batch=8"],
        "cartpole": ["train", os.path.join(EX, "cartpole.toml"), "--generations", "2", "--set", "es.population=16"],
        "egg": ["train", egg],
    }
    for name, args in runs.items():
        d = os.path.join(tmp, f"ck-{name}")
        rc, _, err = run(args + ["--out", d], tmp)
        assert rc == 0, err
        good = open(latest(d), "rb").read()
        _, want, _ = run(["eval", d, "--json"], tmp)
        for k in range(n):
            b = bytearray(good)
            kind = rng.randrange(3)
            if kind == 0:
                b = b[: rng.randrange(len(b))]
            elif kind == 1:
                for _ in range(1 + rng.randrange(4)):
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            else:
                s = rng.randrange(len(b))
                b[s : s + 8] = bytes(rng.randrange(256) for _ in range(len(b[s : s + 8])))
            p = os.path.join(tmp, f"damaged-{name}-{k}.safetensors")
            open(p, "wb").write(bytes(b))
            rc, out, err = run(["eval", p, "--json"], tmp)
            if rc == 0 and out != want:
                results[f"damaged checkpoints"]["silent corruption"] += 1
                failures.append(f"damaged {name} {k}: evaluated to {out.strip()} instead of {want.strip()}")
            else:
                classify("damaged checkpoints", rc, err, [p, "damaged-"], name)
            os.remove(p)


def probe_kills(tmp, n):
    args = ["train", "--generations", "40", "--set", "es.population=64", "--set", "run.checkpoint_every=2", "--set", "task.batch=16"]
    straight = os.path.join(tmp, "kill-straight")
    rc, _, err = run(args + ["--out", straight], tmp)
    want = tensors(latest(straight))
    for k in range(n):
        d = os.path.join(tmp, f"kill-{k}")
        p = subprocess.Popen([BIN] + args + ["--out", d], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        if not os.path.exists(os.path.join(d, "checkpoints")):
            rc, _, err = run(args + ["--out", d], tmp)
        else:
            rc, _, err = run(args + ["--out", d, "--resume"], tmp)
        if rc != 0:
            classify("kill -9 + resume", rc, err, ["run directory", "checkpoint"], str(k))
        elif tensors(latest(d)) != want:
            results["kill -9 + resume"]["silent corruption"] += 1
            failures.append(f"kill {k}: resumed parameters differ from the straight run")
        else:
            results["kill -9 + resume"]["ok"] += 1
        lines = open(os.path.join(d, "metrics.jsonl")).read().splitlines()
        gens = [json.loads(l)["generation"] for l in lines]
        if gens != list(range(40)):
            results["kill -9 + resume"]["data loss"] += 1
            failures.append(f"kill {k}: metrics generations {gens[:5]}… ({len(gens)} lines)")


def probe_concurrent(tmp, n):
    args = ["train", "--generations", "30", "--set", "es.population=64", "--set", "run.checkpoint_every=5"]
    for k in range(n):
        d = os.path.join(tmp, f"conc-{k}")
        run(args + ["--out", d, "--stop-after", "5"], tmp)
        ps = [subprocess.Popen([BIN] + args + ["--out", d, "--resume"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [(p.wait(), p.stderr.read()) for p in ps]
        oks = sum(rc == 0 for rc, _ in outs)
        for rc, err in outs:
            if rc != 0:
                classify("two resumes at once", rc, err, ["in use by pid"], str(k))
        lines = open(os.path.join(d, "metrics.jsonl")).read().splitlines()
        if oks == 0 or len(lines) != 30:
            results["two resumes at once"]["data loss"] += 1
            failures.append(f"concurrent {k}: {oks} succeeded, {len(lines)} metrics lines")
        else:
            results["two resumes at once"]["ok"] += oks


def probe_issue_commands(tmp):
    dig = os.path.join(EX, "digits.toml")
    small = os.path.join(tmp, "small.txt")
    open(small, "w").write("abc " * 40)
    cases = [
        (["train", dig, "--out", "d1", "--set", "lr.value=1e39", "--set", "run.checkpoint_every=1"], ["lr.value"]),
        (["train", dig, "--out", "d1b", "--set", "lr.value=100", "--set", "optimizer.weight_decay=1e38", "--set", "run.checkpoint_every=1"], ["non-finite"]),
        (["train", dig, "--out", "d1c", "--set", "es.sigma=1e39"], ["es.sigma"]),
        (["train", os.path.join(EX, "regression.toml"), "--out", "d2", "--set", "es.population=1000000000"], ["es.population"]),
        (["bench", "lowrank", "--hidden", "1000000"], ["--hidden", "hidden"]),
        (["train", dig, "--out", "d3", "--set", "model.hidden=[100000000]"], ["model.hidden"]),
        (["train", dig, "--out", "d4", "--set", "task.batch=100000"], ["task.batch"]),
        (["train", dig, "--out", "d5", "--set", "run.stop_metric=\"eval_retrun\"", "--set", "run.stop_value=0.9"], ["stop_metric"]),
        (["train", dig, "--out", "d6", "--set", "run.stop_metric=\"eval_accuracy\"", "--set", "run.stop_value=nan"], ["stop_value"]),
        (["train", dig, "--out", "d7", "--set", "es.population=1", "--set", "es.antithetic=false"], ["es.population"]),
        (["train", dig, "--out", "d8", "--set", "es={population=2}"], ["es"]),
        (["train", dig, "--out", "d9", "--set", "es.sigma=1e400"], ["es.sigma"]),
        (["train", dig, "--out", "d10", "--set", "es.strategy=\"nope\""], ["es.strategy"]),
        (["--threads", "5000", "train", dig, "--out", "d11"], ["--threads"]),
        (["train", "--out", "d12", "--resume"], ["config.toml", "d12"]),
        (["eval", "nonexistent-run"], ["nonexistent-run"]),
        (["render", "d13", "--out", "somedir/"], ["d13", "somedir"]),
    ]
    for args, names in cases:
        rc, _, err = run(args, tmp, timeout=300)
        if rc == 0 and args[0] != "--threads":
            results["issue #13 commands"]["ok (should have been refused?)"] += 1
            failures.append(f"accepted: {' '.join(args)}")
        else:
            classify("issue #13 commands", rc, err, names, " ".join(args))
    # --seed above i64 and generate --bytes huge
    rc, _, err = run(["train", dig, "--out", "s1", "--seed", "18446744073709551615", "--generations", "1"], tmp)
    classify("issue #13 commands", rc, err, ["seed"], "--seed u64::MAX")
    egg_small = os.path.join(tmp, "egg-small.toml")
    open(egg_small, "w").write(
        f'[model]\nkind = "egg_gru"\nd_model = 8\n[task]\nname = "text"\ndata = "{small}"\nwindow = 8\n'
        f'[es]\npopulation = 4\nrank = 1\nshaping = "pair_sign"\n'
    )
    rc, _, err = run(["train", egg_small, "--out", "e1", "--generations", "1"], tmp)
    classify("issue #13 commands", rc, err, ["split"], "small EGG data")


def main():
    if not os.path.exists(BIN):
        sys.exit(f"{BIN}: no such binary (build with cargo build --release)")
    tmp = tempfile.mkdtemp(prefix="eggroll-probe-")
    try:
        n = 3 if QUICK else 1
        probe_issue_commands(tmp)
        probe_configs(tmp, 8 if QUICK else 40)
        probe_checkpoints(tmp, 15 if QUICK else 60)
        probe_kills(tmp, 3 if QUICK else 10)
        probe_concurrent(tmp, 2 if QUICK else 6)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = Counter()
    print(f"{'probe family':28} outcomes")
    for fam, c in results.items():
        total.update(c)
        print(f"{fam:28} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print(f"{'all':28} " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())) + f"  ({sum(total.values())} runs)")
    for f in failures:
        print("  !", f)
    bad = {"panic/abort", "silent corruption", "data loss", "unclear message"}
    sys.exit(1 if any(total[b] for b in bad) else 0)


if __name__ == "__main__":
    main()
