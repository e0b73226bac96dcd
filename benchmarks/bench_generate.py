"""Generation speed of the transformer: KV cache vs re-running the context (prints, asserts nothing).

Cached: `seqlab.models.generate.generate` (the prompt once, then one token per call, the
model's KVCache as the state). Uncached: nanoGPT's loop, every step running the model on
idx[:, -block_size:]. Same random-init model, batch 1, greedy, median of repeats, alternated.

    OMP_NUM_THREADS=2 python benchmarks/bench_generate.py [--tokens 500] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from seqlab.config.compose import compose
from seqlab.models.generate import generate
from seqlab.registry import build_model


@torch.no_grad()
def generate_uncached(model: torch.nn.Module, idx: torch.Tensor, max_new_tokens: int,
                      block_size: int) -> torch.Tensor:
    """nanoGPT's generate: crop to the last block_size tokens, run them all, take the last logits."""
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -block_size:])
        idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="transformer_8l",
                        help="model config (conf/model/<name>.yaml) to build (default: %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=86,
                        help="vocabulary size, about TinyStories' characters (default: %(default)s)")
    parser.add_argument("--tokens", type=int, default=500,
                        help="new tokens to generate per run (default: %(default)s)")
    parser.add_argument("--prompt-len", type=int, default=1,
                        help="prompt length in tokens (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs of each method; the median is reported (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads; 0 keeps torch's default / OMP_NUM_THREADS (default: %(default)s)")
    parser.add_argument("--attention", choices=["sdpa", "manual"], default=None,
                        help="override model.attention (default: the config's)")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = [f"model={args.model}"] + ([f"model.attention={args.attention}"] if args.attention else [])
    cfg = compose(overrides).model
    torch.manual_seed(0)
    model = build_model(cfg, args.vocab_size).to(args.device).eval()
    prompt = torch.randint(0, args.vocab_size, (1, args.prompt_len), device=args.device)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.model}: {cfg.n_layer} layers, n_embd {cfg.n_embd}, {cfg.n_head} heads, block "
          f"{cfg.block_size}, {params:,} parameters, attention={cfg.attention}; "
          f"{args.tokens} tokens from a {args.prompt_len}-token prompt, batch 1, "
          f"{torch.get_num_threads()} threads, {args.device}")

    runs = {
        "kv cache": lambda: generate(model, prompt, args.tokens, temperature=0),
        "uncached": lambda: generate_uncached(model, prompt, args.tokens, cfg.block_size),
    }
    for fn in runs.values():  # warm-up: first-call allocations and kernel choice
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):  # alternate, so a noisy neighbour hurts both alike
        for name, fn in runs.items():
            times[name].append(seconds(fn))
    rate = {name: args.tokens / statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"  {name:9s} {rate[name]:8.0f} tokens/s  (median {statistics.median(ts):.3f} s; "
              f"runs {', '.join(f'{t:.3f}' for t in ts)})")
    best = min(times["uncached"]) / min(times["kv cache"])  # contention only ever adds time
    print(f"  speed-up  {rate['kv cache'] / rate['uncached']:.2f}x (medians), {best:.2f}x (best runs)")


if __name__ == "__main__":
    main()
