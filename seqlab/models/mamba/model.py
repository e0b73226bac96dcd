"""A Mamba-2 language model in pure PyTorch (Dao & Gu 2024, "Transformers are SSMs").

Each head runs the selective state-space recurrence, with a scalar decay per head:

    h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T      h: (headdim, d_state) per head
    y_t = h_t C_t + D x_t

The scan is Mamba-2's SSD in its chunked "ssd_minimal" form: inside a chunk the outputs are
a masked (C B^T * decay) matrix times x, and only one state per chunk is carried forward.
Why SSD rather than Mamba-1's selective scan: with A a scalar per head, nearly all the work
is batched matmuls (what a CPU does fastest), while Mamba-1's per-channel A needs a
(B, T, d_inner, d_state) tensor scanned elementwise, memory-bound and far slower without
its CUDA kernel. `scan="sequential"` loops the recurrence over t (the reference); one token
with a state (generation) always takes that step.

Block (pre-norm, residual): RMSNorm -> in_proj to [z, x, B, C, dt] -> causal depthwise conv
(kernel d_conv) on [x, B, C] -> SiLU -> SSD (A = -exp(A_log), dt = softplus(dt + dt_bias),
D skip) -> RMSNorm(y * SiLU(z)) -> out_proj. One group of B, C shared by all heads; no MLP
(as in Mamba-2's LMs); final RMSNorm; the head is tied to the embedding (Mamba's default).
State per layer: (SSM state (B, nheads, headdim, d_state), conv tail (B, d_conv-1, conv width)).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.models.stack import CausalConv1d, StackLM

Tensor = torch.Tensor
LayerState = tuple[Tensor, Tensor]  # (SSM state (B, nh, P, N), conv tail (B, K-1, conv width))

SCANS = ("chunked", "sequential")


def segsum(x: Tensor) -> Tensor:
    """(..., L) -> (..., L, L): out[i, j] = x[j+1] + ... + x[i] for j <= i, -inf above the diagonal."""
    L = x.size(-1)
    x = x[..., None].expand(*x.shape, L)  # x[..., i, j] = x[i]
    ones = torch.ones(L, L, dtype=torch.bool, device=x.device)
    s = x.masked_fill(~ones.tril(-1), 0).cumsum(dim=-2)  # sums of x[j+1..i]: no differences taken
    return s.masked_fill(~ones.tril(), -math.inf)


def pad_time(t: Tensor, pad: int) -> Tensor:
    """Zeros appended along dim 1 (time)."""
    return F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad))


def ssd_chunked(X: Tensor, A: Tensor, B: Tensor, C: Tensor, chunk: int, h0: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
    """SSD: X (b, T, h, p) = dt * x, A (b, T, h) = dt * A, B, C (b, T, n), h0 (b, h, p, n).
    Returns y (b, T, h, p) without the D skip, and the final state (b, h, p, n)."""
    b, T, h, p = X.shape
    chunk = min(chunk, T)
    pad = -T % chunk  # padded steps have dt 0: no input, no decay, the final state is kept
    X, A, B, C = (pad_time(t, pad) for t in (X, A, B, C))
    c, n = (T + pad) // chunk, B.size(-1)
    X, B, C = X.view(b, c, chunk, h, p), B.view(b, c, chunk, n), C.view(b, c, chunk, n)
    A = A.view(b, c, chunk, h).permute(0, 3, 1, 2)  # (b, h, c, l)
    A_cum = A.cumsum(dim=-1)  # (b, h, c, l)
    # 1. within each chunk: y_l = sum_{s<=l} (C_l . B_s) exp(A_{s+1} + ... + A_l) X_s
    decay = torch.exp(segsum(A))  # (b, h, c, l, s)
    CB = torch.einsum("bcln,bcsn->bcls", C, B)  # (b, c, l, s)
    y_diag = torch.einsum("bhcls,bcshp->bclhp", decay * CB[:, None], X)
    # 2. each chunk's final state from its own inputs
    decay_to_end = torch.exp(A_cum[..., -1:] - A_cum)  # (b, h, c, l)
    states = torch.einsum("bcln,bclhp->bchpn", B, X * decay_to_end.permute(0, 2, 3, 1)[..., None])
    # 3. carry the states across chunks (a short recurrence, as a (c+1, c+1) matrix)
    h0 = X.new_zeros(b, h, p, n) if h0 is None else h0
    states = torch.cat([h0[:, None], states], dim=1)  # (b, c+1, h, p, n)
    decay_chunk = torch.exp(segsum(F.pad(A_cum[..., -1], (1, 0))))  # (b, h, c+1, c+1)
    states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final = states[:, :-1], states[:, -1]  # state entering each chunk; after the last
    # 4. the entering state's contribution to each output
    state_decay = torch.exp(A_cum).permute(0, 2, 3, 1)[..., None]  # (b, c, l, h, 1)
    y_off = torch.einsum("bcln,bchpn->bclhp", C, states) * state_decay
    return (y_diag + y_off).reshape(b, c * chunk, h, p)[:, :T], final


def ssm_sequential(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, h: Tensor | None = None
                   ) -> tuple[Tensor, Tensor]:
    """The recurrence stepped over t: x (b, T, h, p), dt (b, T, h), A (h,), B, C (b, T, n)."""
    b, T, nh, p = x.shape
    h = x.new_zeros(b, nh, p, B.size(-1)) if h is None else h  # (b, h, p, n)
    ys = []
    for t in range(T):
        dA = torch.exp(dt[:, t] * A)[..., None, None]  # (b, h, 1, 1)
        dBx = (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, None, None, :]  # (b, h, p, n)
        h = dA * h + dBx
        ys.append(torch.einsum("bhpn,bn->bhp", h, C[:, t]))
    return torch.stack(ys, dim=1), h  # (b, T, h, p), (b, h, p, n)


class Mamba2Mixer(nn.Module):
    """(B, T, d_model) -> (B, T, d_model) through in_proj, conv, SSD, gated RMSNorm, out_proj."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 headdim: int = 32, chunk_size: int = 64, scan: str = "chunked") -> None:
        super().__init__()
        if scan not in SCANS:
            raise SeqlabError(f"model.scan must be one of {', '.join(SCANS)}; got '{scan}'")
        self.d_inner, self.d_state, self.headdim = expand * d_model, d_state, headdim
        self.nheads, self.chunk_size, self.scan = self.d_inner // headdim, chunk_size, scan
        self.conv_dim = self.d_inner + 2 * d_state  # x, B, C go through the conv
        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + self.nheads, bias=False)
        self.conv = CausalConv1d(self.conv_dim, d_conv)
        # dt log-uniform in [1e-3, 1e-1] at init, stored through softplus's inverse (Mamba's init)
        dt = torch.exp(torch.rand(self.nheads) * math.log(100) + math.log(1e-3)).clamp(min=1e-4)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.empty(self.nheads).uniform_(1, 16).log())  # A = -exp(A_log)
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = nn.RMSNorm(self.d_inner, eps=1e-5)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, u: Tensor, state: LayerState | None = None) -> tuple[Tensor, LayerState]:
        b, T, _ = u.shape
        ssm, tail = state if state is not None else (None, None)
        z, xBC, dt = self.in_proj(u).split([self.d_inner, self.conv_dim, self.nheads], dim=-1)
        xBC, tail = self.conv(xBC, tail)
        x, B, C = F.silu(xBC).split([self.d_inner, self.d_state, self.d_state], dim=-1)
        x = x.reshape(b, T, self.nheads, self.headdim)  # (b, T, h, p)
        dt = F.softplus(dt + self.dt_bias)  # (b, T, h)
        A = -torch.exp(self.A_log)  # (h,)
        if self.scan == "sequential" or (T == 1 and ssm is not None):
            y, ssm = ssm_sequential(x, dt, A, B, C, ssm)
        else:
            y, ssm = ssd_chunked(x * dt[..., None], dt * A, B, C, self.chunk_size, ssm)
        y = y + x * self.D[:, None]  # (b, T, h, p)
        y = self.norm(y.reshape(b, T, self.d_inner) * F.silu(z))  # gated RMSNorm
        return self.out_proj(y), (ssm, tail)


class MambaBlock(nn.Module):
    """x + dropout(mixer(RMSNorm(x)))."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(cfg.n_embd, eps=1e-5)
        self.mixer = Mamba2Mixer(cfg.n_embd, cfg.d_state, cfg.d_conv, cfg.expand, cfg.headdim,
                                 cfg.chunk_size, cfg.scan)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, state: LayerState | None = None) -> tuple[Tensor, LayerState]:
        y, state = self.mixer(self.norm(x), state)
        return x + self.drop(y), state


def check_config(cfg: Any) -> None:
    """Reject settings no Mamba model can have, with one line naming the key."""
    for key in ("n_embd", "n_layer", "d_state", "d_conv", "expand", "headdim", "chunk_size"):
        if getattr(cfg, key) < 1:
            raise SeqlabError(f"model.{key} must be positive, got {getattr(cfg, key)}")
    if (cfg.expand * cfg.n_embd) % cfg.headdim:
        raise SeqlabError(f"model.headdim ({cfg.headdim}) must divide expand * n_embd "
                          f"({cfg.expand * cfg.n_embd})")
    if not 0 <= cfg.dropout < 1:
        raise SeqlabError(f"model.dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.scan not in SCANS:
        raise SeqlabError(f"model.scan must be one of {', '.join(SCANS)}; got '{cfg.scan}'")


class MambaLM(StackLM):
    """Embedding -> MambaBlocks -> RMSNorm -> tied head; state: one LayerState per layer."""

    def __init__(self, cfg: Any, vocab_size: int) -> None:
        check_config(cfg)
        super().__init__(vocab_size, cfg.n_embd, cfg.dropout,
                         lambda: nn.ModuleList(MambaBlock(cfg) for _ in range(cfg.n_layer)),
                         lambda: nn.RMSNorm(cfg.n_embd, eps=1e-5))


def build_mamba(cfg: Any, vocab_size: int) -> MambaLM:
    """A Mamba-2 language model from a MambaConfig."""
    return MambaLM(cfg, vocab_size)
