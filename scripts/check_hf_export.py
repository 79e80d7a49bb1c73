#!/usr/bin/env python3
"""Independent check of eggroll's Hugging Face export with `transformers` (not part of the
Rust test suite, which needs no Python).

Usage:
    python3 -m venv /tmp/hf && /tmp/hf/bin/pip install torch transformers safetensors numpy
    cargo build -p eggroll-llm --profile test --example export_hf
    target/debug/examples/export_hf models/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smol-hf \
        /tmp/smol-logits.json "The capital of France is" "12 + 345 = 357" ...
    /tmp/hf/bin/python scripts/check_hf_export.py /tmp/smol-hf /tmp/smol-logits.json

The example writes the HF directory and, for each prompt, eggroll's token ids, the logits of
every position and 6 greedy tokens. This script loads the directory with
`AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` and asserts:

  (a) greedy decoding of "The capital of France is" gives [7042, 30, 198, 198, 504, 2988]
      (" Paris.\\n\\nThe") and, for every prompt, the same 6 tokens as eggroll;
  (b) the largest absolute difference between transformers' and eggroll's logits, over every
      position of every prompt, is below --tol (default 1e-3; printed;
      SmolLM2-135M f32, transformers 5.24 / torch 2.15 CPU: 6.9e-5);
  (c) the tokenizer gives eggroll's ids for every prompt, "12 + 345 = 357" gives
      [33, 34, 1232, 216, 35, 36, 37, 446, 216, 35, 37, 39], decoding gives the text back,
      and the chat template renders SmolLM2's ChatML prompt.

Exits non-zero on the first failed assertion; prints the figures otherwise.
"""

import argparse
import json
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FRANCE = "The capital of France is"
FRANCE_GREEDY = [7042, 30, 198, 198, 504, 2988]
DIGITS = "12 + 345 = 357"
DIGITS_IDS = [33, 34, 1232, 216, 35, 36, 37, 446, 216, 35, 37, 39]
CHAT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("hf_dir")
    ap.add_argument("logits_json")
    ap.add_argument("--tol", type=float, default=1e-3)
    args = ap.parse_args()

    rows = json.load(open(args.logits_json))
    tok = AutoTokenizer.from_pretrained(args.hf_dir)
    model = AutoModelForCausalLM.from_pretrained(
        args.hf_dir, dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()

    # (c) tokenizer
    got = tok(DIGITS, add_special_tokens=False)["input_ids"]
    assert got == DIGITS_IDS, f"{DIGITS!r}: {got} != {DIGITS_IDS}"
    for r in rows:
        ids = tok(r["text"], add_special_tokens=False)["input_ids"]
        assert ids == r["ids"], f"tokenizer ids of {r['text']!r}: {ids} != eggroll {r['ids']}"
        back = tok.decode(ids)
        assert back == r["text"], f"decode: {back!r} != {r['text']!r}"
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == CHAT, f"chat template renders {chat!r}"
    print(f"tokenizer: ids equal on {len(rows) + 1} strings, chat template ok")

    # (b) logits, (a) greedy
    worst = 0.0
    for r in rows:
        ids = torch.tensor([r["ids"]])
        with torch.no_grad():
            hf = model(ids).logits[0].numpy()
        ours = np.array(r["logits"], dtype=np.float32)
        assert hf.shape == ours.shape, f"{hf.shape} != {ours.shape}"
        diff = float(np.abs(hf - ours).max())
        rel = diff / float(np.abs(ours).max())
        worst = max(worst, diff)
        print(
            f"{r['text']!r}: {len(r['ids'])} positions, max |Δlogit| {diff:.3e} "
            f"(relative to max |logit| {rel:.2e}), argmax equal at every position: "
            f"{bool((hf.argmax(-1) == ours.argmax(-1)).all())}"
        )
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=6, do_sample=False, attention_mask=torch.ones_like(ids))
        greedy = out[0, ids.shape[1]:].tolist()
        assert greedy == r["greedy"], f"greedy of {r['text']!r}: {greedy} != eggroll {r['greedy']}"
        if r["text"] == FRANCE:
            assert greedy == FRANCE_GREEDY, f"{greedy} != {FRANCE_GREEDY}"
            print(f"greedy {FRANCE!r} -> {greedy} = {tok.decode(greedy)!r}")
    assert worst < args.tol, f"max |Δlogit| {worst} ≥ {args.tol}"
    print(f"OK: max |Δlogit| over all prompts {worst:.3e} < {args.tol}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
