#!/usr/bin/env python3
"""TRL's GRPOTrainer + peft LoRA on torch CPU: seconds per GRPO step, the peer of eggroll's GRPO.

Usage: python3 scripts/peer_trl_grpo.py HF_DIR [--steps 3] [--threads 2]

HF_DIR is a Hugging Face directory of SmolLM2 (`eggroll export models/SmolLM2-135M-Instruct.Q4_1.gguf
--out HF_DIR`). Needs torch, transformers, trl and peft from PyPI (in a venv). One step is the
shape of issue 15's target: 4 prompts × G = 8 completions sampled at temperature 1, up to 64 new
tokens, LoRA r 8 (α 16) on all linear layers, β = 0, the `dapo` loss, one iteration per batch;
the prompts are one- and two-step arithmetic questions in SmolLM2's ChatML, rewarded 1 when the
last number of the answer is right. Prints one JSON line per step and a summary (seconds per
step, excluding the first, which includes warm-up; peak RSS).
"""
import argparse
import json
import random
import re
import resource
import time

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer


def problems(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b, c = rng.randint(2, 60), rng.randint(2, 60), rng.randint(2, 9)
        if rng.random() < 0.5:
            q, ans = f"What is {a} + {b}?", a + b
        else:
            q, ans = f"Tom has {a} apples and buys {c} bags of {b} apples. How many apples does he have?", a + b * c
        prompt = f"<|im_start|>user\n{q} Give the number at the end.<|im_end|>\n<|im_start|>assistant\n"
        out.append({"prompt": prompt, "answer": str(ans)})
    return out


def reward(completions, answer, **_):
    scores = []
    for text, want in zip(completions, answer):
        nums = re.findall(r"-?\d+", text)
        scores.append(1.0 if nums and nums[-1] == want else 0.0)
    return scores


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self.t0 = [], None

    def on_step_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        dt = time.perf_counter() - self.t0
        self.times.append(dt)
        print(json.dumps({"step": state.global_step, "seconds": dt}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(a.model)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    data = Dataset.from_list(problems(4 * a.steps, 1))
    cfg = GRPOConfig(
        output_dir="/tmp/peer-trl-grpo",
        per_device_train_batch_size=32,
        num_generations=8,
        max_completion_length=64,
        temperature=1.0,
        learning_rate=1e-4,
        beta=0.0,
        loss_type="dapo",
        num_iterations=1,
        max_steps=a.steps,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
    )
    lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=cfg,
        train_dataset=data,
        processing_class=tok,
        peft_config=lora,
        callbacks=[timer],
    )
    trainer.train()
    steady = timer.times[1:] or timer.times
    print(
        json.dumps(
            {
                "peer": "trl GRPOTrainer + peft LoRA",
                "threads": a.threads,
                "steps": len(timer.times),
                "seconds_per_step": timer.times,
                "steady_mean_seconds": sum(steady) / len(steady),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
