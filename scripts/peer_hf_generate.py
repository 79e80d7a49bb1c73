#!/usr/bin/env python3
"""Hugging Face transformers' batched greedy `generate` on the same batch `eggroll bench llm` decodes.

Usage: python3 scripts/peer_hf_generate.py HF_DIR [--batch 64] [--prompt-tokens 80] [--new-tokens 32]

HF_DIR is a Hugging Face directory of the model (`eggroll export models/SmolLM2-135M-Instruct.Q4_1.gguf
--out HF_DIR` writes one from the same GGUF). Needs torch and transformers (from PyPI, in a venv).
The prompts are the token ids `eggroll bench llm` uses ((s*7919 + i*104729 + 13) mod vocab for
sequence s, position i), so both sides do the same work: every sequence generates exactly
--new-tokens tokens (no EOS stop). Prints one JSON line: prefill tokens/s (a generate of one
token), decode tokens/s excluding the prefill, and the whole generate's new tokens/s.
"""
import argparse
import json
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--prompt-tokens", type=int, default=80)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    ids = torch.tensor(
        [[(s * 7919 + i * 104729 + 13) % vocab for i in range(a.prompt_tokens)] for s in range(a.batch)]
    )
    mask = torch.ones_like(ids)

    def gen(n):
        t = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                do_sample=False, pad_token_id=0,
            )
        assert out.shape[1] == a.prompt_tokens + n
        return time.perf_counter() - t

    gen(1)  # warm-up
    prefill = gen(1)
    whole = gen(a.new_tokens)
    decode = max(whole - prefill, 1e-9)
    print(json.dumps({
        "peer": "transformers generate", "torch": torch.__version__, "threads": a.threads,
        "batch": a.batch, "prompt_tokens": a.prompt_tokens, "new_tokens": a.new_tokens,
        "prefill_tokens_per_s": a.batch * a.prompt_tokens / prefill,
        "decode_tokens_per_s": a.batch * (a.new_tokens - 1) / decode,
        "new_tokens_per_s": a.batch * a.new_tokens / whole,
        "seconds": whole,
    }))


if __name__ == "__main__":
    main()
