"""Training speed of every model, side by side in one process (prints numbers, asserts nothing).

For batch 32, T 100 (hidden 256 / n_embd 128), per model:
  * seqlab: the engine's `train_step` on the registry's model and the task's batches;
  * bare: a hand-written PyTorch loop of the same architecture (nn.RNN/GRU/LSTM, or a
    minimal nanoGPT-style transformer), no seqlab code at all;
  * MFU of each against a fp32 matmul peak measured in the same run.
Alternatives: every model in bf16 mixed precision (trainer.precision=bf16); recurrent models
also with the scratch cell, a hoisted input projection for the GRU and torch.compile of the
fused model, to show why the default is the default.

    python benchmarks/bench_models.py [--steps 20] [--repeats 3] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from seqlab.config.compose import compose
from seqlab.data.tokenizers.char import CharVocab
from seqlab.engine.peak import measure_matmul_peak
from seqlab.engine.step import train_step
from seqlab.flops import flops_per_token
from seqlab.registry import build_model
from seqlab.tasks.char_lm import CharLMTask

B, T, V = 32, 100, 86


class BareRecurrent(nn.Module):
    def __init__(self, kind: type[nn.RNNBase], embed: int, hidden: int) -> None:
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(V, embed), kind(embed, hidden, batch_first=True), nn.Linear(hidden, V)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.emb(x))[0])


class BareBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads, self.ln1, self.ln2 = heads, nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in self.qkv(self.ln1(x)).split(d, 2))
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class BareTransformer(nn.Module):
    def __init__(self, layers: int, d: int = 128, heads: int = 4) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, d), nn.Embedding(T, d)
        self.blocks, self.ln = nn.Sequential(*[BareBlock(d, heads) for _ in range(layers)]), nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.tok(x) + self.pos(torch.arange(x.size(1))))
        return self.ln(h) @ self.tok.weight.T


def bare_tokens_per_s(model: nn.Module, data: torch.Tensor, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen, offsets = torch.Generator().manual_seed(0), torch.arange(T + 1)

    def step() -> None:
        chunk = data[torch.randint(0, len(data) - T, (B,), generator=gen)[:, None] + offsets].long()
        loss = F.cross_entropy(model(chunk[:, :-1]).flatten(0, 1), chunk[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * B * T / (time.perf_counter() - start)


def seqlab_tokens_per_s(model: nn.Module, task: CharLMTask, steps: int, precision: str = "fp32") -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    train_step(model, task, task.train_batch(B, gen), opt, 1.0, precision)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, task, task.train_batch(B, gen), opt, 1.0, precision)
    return steps * B * T / (time.perf_counter() - start)


class HoistedGRU(nn.Module):
    """One matmul for every step's input projection, then only W_hh inside the loop."""

    def __init__(self, embed: int, hidden: int) -> None:
        super().__init__()
        self.emb, self.head = nn.Embedding(V, embed), nn.Linear(hidden, V)
        self.w_ih, self.w_hh = nn.Linear(embed, 3 * hidden), nn.Linear(hidden, 3 * hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gi = self.w_ih(self.emb(x))  # (B, T, 3H) in one matmul
        h, outs = gi.new_zeros(x.size(0), self.w_hh.in_features), []
        for t in range(x.size(1)):
            ir, iz, inn = gi[:, t].chunk(3, -1)
            hr, hz, hn = self.w_hh(h).chunk(3, -1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            n = torch.tanh(inn + r * hn)
            h = n + z * (h - n)
            outs.append(h)
        return self.head(torch.stack(outs, 1))


def median(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement; medians are reported")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the fused recurrent models")
    args = parser.parse_args()
    torch.manual_seed(0)
    vocab = CharVocab("".join(chr(33 + i) for i in range(V - 1)))
    data = torch.randint(0, V - 1, (200_000,), dtype=torch.int32)
    task = CharLMTask(data.numpy(), data[:5000].numpy(), vocab, T)
    peak = measure_matmul_peak(torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, measured fp32 matmul peak "
          f"{peak / 1e9:.0f} GFLOP/s; batch {B}, T {T}, tokens/s (median of {args.repeats})")
    print(f"{'model':<16}{'seqlab':>10}{'bare':>10}{'ratio':>8}{'MFU':>8}   alternatives")
    bare_arch = {"rnn": lambda: BareRecurrent(nn.RNN, 64, 256), "gru": lambda: BareRecurrent(nn.GRU, 64, 256),
                 "lstm": lambda: BareRecurrent(nn.LSTM, 64, 256), "transformer_8l": lambda: BareTransformer(8)}
    for preset, bare in bare_arch.items():
        cfg = compose([f"model={preset}", f"task.seq_len={T}"])
        ours_runs, plain_runs = [], []
        for _ in range(args.repeats):  # alternated, so drifts in machine speed hit both alike
            ours_runs.append(seqlab_tokens_per_s(build_model(cfg.model, V), task, args.steps))
            plain_runs.append(bare_tokens_per_s(bare(), data, args.steps))
        ours, plain = statistics.median(ours_runs), statistics.median(plain_runs)
        mfu = ours * flops_per_token(cfg.model, V, T)["training"] / peak
        # trainer.precision=bf16: autocast, fp32 weights (MFU above is against the fp32 peak)
        bf16 = median(lambda: seqlab_tokens_per_s(build_model(cfg.model, V), task, args.steps, "bf16"), args.repeats)
        extra = [f"bf16 {bf16:,.0f} ({bf16 / ours:.2f}x)"]
        if preset != "transformer_8l":
            scratch = compose([f"model={preset}", "model.impl=scratch"]).model
            steps = max(3, args.steps // 4)
            extra.append(f"scratch {median(lambda: seqlab_tokens_per_s(build_model(scratch, V), task, steps), args.repeats):,.0f}")
            if preset == "gru":
                extra.append(f"hoisted {median(lambda: bare_tokens_per_s(HoistedGRU(64, 256), data, steps), args.repeats):,.0f}")
            if args.compile:
                compiled = torch.compile(build_model(cfg.model, V))
                seqlab_tokens_per_s(compiled, task, 2)  # compile outside the timing
                extra.append(f"compiled {median(lambda: seqlab_tokens_per_s(compiled, task, args.steps), args.repeats):,.0f}")
        print(f"{preset:<16}{ours:>10,.0f}{plain:>10,.0f}{ours / plain:>8.2f}{100 * mfu:>7.1f}%   {', '.join(extra)}",
              flush=True)


if __name__ == "__main__":
    main()
