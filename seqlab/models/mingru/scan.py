"""Scans of the diagonal linear recurrence h_t = a_t * h_{t-1} + b_t that minGRU and minLSTM
reduce to (0 <= a_t <= 1, elementwise over the hidden units), along dim 1 of (B, T, H) tensors.

* `chunked_scan`: the fast parallel form. Chunks of `chunk` steps are scanned side by side
  (one vectorised op per step inside a chunk), a short pass over chunk boundaries carries
  each chunk's final state into the next, and every chunk adds (its running product of a)
  * (its carry). Only products of the a_t <= 1 and sums are formed, never a division, so
  gates at 0 or 1 underflow harmlessly to the exact limit. The backward pass is the same scan
  run backwards in time (g_t = dh_t + a_{t+1} g_{t+1}), so autograd stores no per-step graph.
* `log_space_scan`: Heinsen (2023), log h_t = a*_t + logcumsumexp(log b - a*)_t with
  a* = cumsum(log a): the reference. On CPU torch.logcumsumexp is ~10x slower than the
  chunked scan, and with a* in the thousands (gates near 0) log h loses digits to
  cancellation in fp32, which the linear-space chunked scan does not.
* `sequential_scan`: the loop over t with autograd, the plainest statement of the recurrence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

CHUNK = 64
"""Steps per chunk: ~2*64 + T/64 vectorised steps per scan instead of T."""


def _blocked(a: Tensor, b: Tensor, h0: Tensor, chunk: int, reverse: bool) -> Tensor:
    """h_t = a_t h_{t-1} + b_t with h_{-1} = h0 (reverse: h_t = a_t h_{t+1} + b_t, h_T = h0),
    without autograd; (B, T, H) with T % chunk == 0."""
    B, T, H = a.shape
    nc, L = T // chunk, chunk
    av, bv = a.view(B, nc, L, H), b.view(B, nc, L, H)
    steps = range(L - 1, -1, -1) if reverse else range(L)  # within a chunk, in scan order
    chunks = range(nc - 1, -1, -1) if reverse else range(nc)
    h_loc = torch.empty_like(bv)  # (B, nc, L, H) each chunk scanned from a zero state
    a_cum = torch.empty_like(av) if nc > 1 else None  # (B, nc, L, H) prod of a so far in the chunk
    h = h_loc[:, :, steps[0]].copy_(bv[:, :, steps[0]])
    h[:, chunks[0]].addcmul_(av[:, chunks[0], steps[0]], h0)  # h0 enters the first chunk only
    p = a_cum[:, :, steps[0]].copy_(av[:, :, steps[0]]) if a_cum is not None else None
    for t in steps[1:]:
        h = torch.addcmul(bv[:, :, t], av[:, :, t], h, out=h_loc[:, :, t])
        if a_cum is not None:
            p = torch.mul(p, av[:, :, t], out=a_cum[:, :, t])
    if a_cum is None:
        return h_loc.view(B, T, H)
    carry = torch.zeros_like(h_loc[:, :, 0])  # (B, nc, H) true state entering each chunk
    c, end = carry[:, chunks[0]], steps[-1]
    for prev, k in zip(chunks, chunks[1:]):
        c = torch.addcmul(h_loc[:, prev, end], a_cum[:, prev, end], c, out=carry[:, k])
    h_loc.addcmul_(a_cum, carry[:, :, None])
    return h_loc.view(B, T, H)


def _scan(a: Tensor, b: Tensor, h0: Tensor, chunk: int, reverse: bool = False) -> Tensor:
    """`_blocked` for any T: shorter sequences use one chunk, others are padded at the end."""
    T = a.size(1)
    if T <= chunk:
        return _blocked(a.contiguous(), b.contiguous(), h0, T, reverse)
    pad = -T % chunk
    if pad:  # a = b = 0 after the sequence: no effect either way
        a, b = F.pad(a, (0, 0, 0, pad)), F.pad(b, (0, 0, 0, pad))
    return _blocked(a.contiguous(), b.contiguous(), h0, chunk, reverse)[:, :T]


class ChunkedScan(torch.autograd.Function):
    """Autograd of the scan: saves a and h, and scans the gradients backwards in time."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor, chunk: int) -> Tensor:
        h = _scan(a, b, h0, chunk)  # (B, T, H)
        ctx.save_for_backward(a, h, h0)
        ctx.chunk = chunk
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        a, h, h0 = ctx.saved_tensors
        a_next = torch.empty_like(a)  # a_{t+1}, and 0 after the end
        a_next[:, :-1], a_next[:, -1] = a[:, 1:], 0
        g = _scan(a_next, dh, torch.zeros_like(h0), ctx.chunk, reverse=True)  # dL/db_t
        grad_a = torch.empty_like(g)  # dL/da_t = g_t * h_{t-1}
        torch.mul(g[:, 1:], h[:, :-1], out=grad_a[:, 1:])
        torch.mul(g[:, 0], h0, out=grad_a[:, 0])
        return grad_a, g, a[:, 0] * g[:, 0], None


def chunked_scan(a: Tensor, b: Tensor, h0: Tensor | None = None, chunk: int = CHUNK) -> Tensor:
    """(B, T, H) states h_t = a_t h_{t-1} + b_t from (B, T, H) a, b and (B, H) h0 (default 0)."""
    h0 = a.new_zeros(a.size(0), a.size(2)) if h0 is None else h0
    return ChunkedScan.apply(a, b, h0.to(a.dtype), chunk)


def log_space_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """Heinsen's scan: the same h_t from log a_t and log b_t (b_t > 0); h0 may have any sign."""
    a_star = log_a.cumsum(dim=1)  # (B, T, H) log prod_{s<=t} a_s
    h = (a_star + torch.logcumsumexp(log_b - a_star, dim=1)).exp()
    return h if h0 is None else h + a_star.exp() * h0[:, None]


def sequential_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The recurrence stepped over t in Python (autograd records every step)."""
    h = a.new_zeros(a.size(0), a.size(2)) if h0 is None else h0
    hs = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):
        h = a_t * h + b_t  # (B, H)
        hs.append(h)
    return torch.stack(hs, dim=1)  # (B, T, H)
