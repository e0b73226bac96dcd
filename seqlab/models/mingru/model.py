"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", arXiv 2410.01201).

Both gates see only the input x_t, never h_{t-1}, so every layer is a diagonal linear
recurrence h_t = a_t * h_{t-1} + b_t whose coefficients come from one matmul over the
whole sequence, and training scans it in parallel (seqlab/models/mingru/scan.py):

    minGRU   z_t = sigma(k_z),  h~_t = g(k_h)                   a_t = 1 - z_t,  b_t = z_t * h~_t
    minLSTM  f_t = sigma(k_f),  i_t = sigma(k_i),  h~_t = g(k_h)
             f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)   a_t = f'_t,     b_t = i'_t * h~_t

with [k_z, k_h] (or [k_f, k_i, k_h]) = Linear(x_t) and g(x) = x + 0.5 (x >= 0), sigma(x)
(x < 0), the paper's positive candidate of its log-space form.

`scan="parallel"` computes the coefficients once and runs the chunked scan; `"sequential"`
is the paper's sequential mode, `step` applied token by token (projections included);
one token with a state (generation) always takes `step`.

The language model is the paper's: embedding -> layers of [RMSNorm or LayerNorm -> causal
depthwise conv (kernel 4; d_conv 0 drops it) -> minGRU/minLSTM of width expand * n_embd ->
Linear back to n_embd -> residual] and optionally [norm -> GELU MLP 4x -> residual] ->
final norm -> a head tied to the embedding. The state is, per layer, (h (B, H), conv tail
(B, d_conv - 1, n_embd) or None): fixed size, whatever the length of the prefix.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.models.mingru.scan import chunked_scan
from seqlab.models.stack import CausalConv1d, StackLM

Tensor = torch.Tensor
LayerState = tuple[Tensor, Tensor | None]  # (h (B, H), conv tail (B, K-1, C) or None)

SCANS = ("parallel", "sequential")
NORMS = {"rmsnorm": nn.RMSNorm, "layernorm": nn.LayerNorm}


def g(x: Tensor) -> Tensor:
    """The positive candidate activation: x + 0.5 for x >= 0, sigma(x) below (continuous at 0).
    Written relu(x) + sigma(min(x, 0)): on CPU torch.where is several times slower."""
    return F.relu(x) + torch.sigmoid(x.clamp(max=0))


def log_g(x: Tensor) -> Tensor:
    """log g(x), computed without overflow for either sign (relu keeps the unused branch finite)."""
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


class MinRNN(nn.Module):
    """One minGRU/minLSTM layer: (B, T, d_in) inputs and a (B, H) state -> (B, T, H) outputs."""

    n_gates: int  # H-wide blocks of pre-activations the cell needs

    def __init__(self, d_in: int, d_hidden: int, scan: str = "parallel") -> None:
        super().__init__()
        if scan not in SCANS:
            raise SeqlabError(f"model.scan must be one of {', '.join(SCANS)}; got '{scan}'")
        self.d_hidden, self.scan = d_hidden, scan
        self.proj = nn.Linear(d_in, self.n_gates * d_hidden)  # every gate's pre-activation

    def coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        """(a, b) of h_t = a_t h_{t-1} + b_t from the pre-activations k (..., n_gates * H)."""
        raise NotImplementedError

    def log_coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        """(log a, log b): the same coefficients in log space, for Heinsen's scan."""
        raise NotImplementedError

    def pre(self, x: Tensor) -> Tensor:
        """Gate pre-activations; fp32 under bf16/fp16 autocast, so the scan keeps its digits."""
        k = self.proj(x)
        return k.float() if k.dtype in (torch.float16, torch.bfloat16) else k

    def step(self, x_t: Tensor, h: Tensor) -> Tensor:
        """One token: (B, d_in), (B, H) -> (B, H)."""
        a_t, b_t = self.coefficients(self.pre(x_t))
        return a_t * h + b_t

    def forward(self, x: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        T = x.size(1)
        if self.scan == "sequential" or (T == 1 and h is not None):
            h = 0.0 if h is None else h  # h_0 = 0
            hs = []
            for x_t in x.unbind(1):
                h = self.step(x_t, h)  # (B, H)
                hs.append(h)
            out = torch.stack(hs, dim=1)  # (B, T, H)
        else:
            a, b = self.coefficients(self.pre(x))  # (B, T, H) each
            out = chunked_scan(a, b, h)  # (B, T, H)
        return out, out[:, -1].clone()  # a copy: the state must not keep `out` alive


class MinGRU(MinRNN):
    """minGRU: h_t = (1 - z_t) * h_{t-1} + z_t * h~_t."""

    n_gates = 2

    def coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_z, k_h = k.chunk(2, dim=-1)
        z = torch.sigmoid(k_z)
        return 1 - z, z * g(k_h)

    def log_coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_z, k_h = k.chunk(2, dim=-1)
        return -F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h)


class MinLSTM(MinRNN):
    """minLSTM: h_t = f'_t * h_{t-1} + i'_t * h~_t with f' + i' = 1."""

    n_gates = 3

    @staticmethod
    def log_ratio(k_f: Tensor, k_i: Tensor) -> Tensor:
        """log i_t - log f_t = softplus(-k_f) - softplus(-k_i); f' = sigma(-it), i' = sigma(it)."""
        return F.softplus(-k_f) - F.softplus(-k_i)

    def coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, k_h = k.chunk(3, dim=-1)
        i_prime = torch.sigmoid(self.log_ratio(k_f, k_i))
        return 1 - i_prime, i_prime * g(k_h)  # f' = 1 - i'

    def log_coefficients(self, k: Tensor) -> tuple[Tensor, Tensor]:
        k_f, k_i, k_h = k.chunk(3, dim=-1)
        d = self.log_ratio(k_f, k_i)
        return -F.softplus(d), -F.softplus(-d) + log_g(k_h)


class MLP(nn.Module):
    """Position-wise feed-forward: Linear to 4x, GELU, Linear back, dropout."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.c_fc, self.c_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.c_proj(F.gelu(self.c_fc(x))))


class MinRNNBlock(nn.Module):
    """x + out_proj(cell(conv(norm(x)))), then x + MLP(norm(x)) when `mlp`."""

    def __init__(self, cell: type[MinRNN], cfg: Any, d_conv: int) -> None:
        super().__init__()
        d, hidden = cfg.n_embd, cfg.expand * cfg.n_embd
        self.norm_1 = NORMS[cfg.norm](d)
        self.conv = CausalConv1d(d, d_conv) if d_conv else None
        self.cell = cell(d, hidden, cfg.scan)
        self.out_proj = nn.Linear(hidden, d, bias=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.norm_2 = NORMS[cfg.norm](d) if cfg.mlp else None
        self.mlp = MLP(d, cfg.dropout) if cfg.mlp else None

    def forward(self, x: Tensor, state: LayerState | None = None) -> tuple[Tensor, LayerState]:
        h, tail = state if state is not None else (None, None)
        u = self.norm_1(x)  # (B, T, C)
        if self.conv is not None:
            u, tail = self.conv(u, tail)
        y, h = self.cell(u, h)  # (B, T, H), (B, H)
        x = x + self.drop(self.out_proj(y))  # (B, T, C)
        if self.mlp is not None:
            x = x + self.mlp(self.norm_2(x))
        return x, (h, tail)


def check_config(cfg: Any) -> None:
    """Reject settings no minGRU/minLSTM model can have, with one line naming the key."""
    for key in ("n_layer", "n_embd", "expand"):
        if getattr(cfg, key) < 1:
            raise SeqlabError(f"model.{key} must be positive, got {getattr(cfg, key)}")
    if not 0 <= cfg.dropout < 1:
        raise SeqlabError(f"model.dropout must be in [0, 1), got {cfg.dropout}")
    for key, known in (("scan", SCANS), ("norm", tuple(NORMS))):
        if getattr(cfg, key) not in known:
            raise SeqlabError(f"model.{key} must be one of {', '.join(known)}; got '{getattr(cfg, key)}'")


class MinRNNLM(StackLM):
    """Embedding -> MinRNNBlocks -> final norm -> tied head; state: one LayerState per layer."""

    def __init__(self, cell: type[MinRNN], cfg: Any, vocab_size: int) -> None:
        check_config(cfg)
        d_conv = getattr(cfg, "d_conv", 4)
        if d_conv < 0:
            raise SeqlabError(f"model.d_conv must be 0 (no conv) or positive, got {d_conv}")
        super().__init__(vocab_size, cfg.n_embd, cfg.dropout,
                         lambda: nn.ModuleList(MinRNNBlock(cell, cfg, d_conv) for _ in range(cfg.n_layer)),
                         lambda: NORMS[cfg.norm](cfg.n_embd))


def build_mingru(cfg: Any, vocab_size: int) -> MinRNNLM:
    """A minGRU language model from a MinGRUConfig."""
    return MinRNNLM(MinGRU, cfg, vocab_size)


def build_minlstm(cfg: Any, vocab_size: int) -> MinRNNLM:
    """A minLSTM language model from a MinLSTMConfig."""
    return MinRNNLM(MinLSTM, cfg, vocab_size)
