"""Decoder-only transformer in the style of nanoGPT (itself GPT-2), with KV-cached decoding.

The seed's model: token + position embedding -> blocks of causal self-attention and a GELU
MLP -> final LayerNorm -> a head tied to the token embedding (1 layer, 128 wide, 4 heads,
block 100: 222,592 parameters for a 92-character vocabulary).

Like every seqlab model, `forward(idx, state)` returns `(logits, state)`; here the state
is a `KVCache`, so generation feeds one new token at a time and never re-runs the prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.errors import SeqlabError

Tensor = torch.Tensor


@dataclass
class KVCache:
    """Keys and values of every layer for the tokens seen so far (positions 0..length-1)."""

    ids: Tensor
    """(B, Tc) the tokens the cache was computed from: kept to re-prefill past block_size."""
    k: list[Tensor]
    """Per layer (B, nh, Tc, hs)."""
    v: list[Tensor]
    """Per layer (B, nh, Tc, hs)."""

    @property
    def length(self) -> int:
        """Cached tokens; also the absolute position of the next one."""
        return self.ids.size(1)


def causal_mask(T: int, S: int, device: torch.device) -> Tensor:
    """(T, S) True where query i (at position S - T + i) may see key j: j <= S - T + i."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)


def causal_bias(T: int, S: int, device: torch.device) -> Tensor:
    """(T, S) 0 where causal_mask is True, -inf elsewhere: added to the scores in one op."""
    return torch.zeros(T, S, device=device).masked_fill(~causal_mask(T, S, device), float("-inf"))


def prefer_explicit_attention(x: Tensor) -> bool:
    """Whether to skip scaled_dot_product_attention for the explicit matmul-softmax path.

    Under CPU bf16 autocast, PyTorch's CPU flash kernel has a slow backward (27 ms vs 3.5 ms
    per layer at B 32, T 100, 4 heads of 32: benchmarks/bench_attention.py), so the explicit
    path, equal up to rounding, is the fast one there. In fp32 the two are even on CPU.
    """
    return x.device.type == "cpu" and torch.is_autocast_enabled("cpu")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each token sees itself, the cache and earlier tokens
    (with `causal=false`: every token of the context, later ones included)."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.manual = cfg.attention == "manual"
        self.causal = cfg.causal
        # None keeps SDPA's own 1/sqrt(hs); 1.0 is the "forgot to scale" ablation
        self.scale = None if cfg.attn_scale else 1.0
        # q, k, v for all heads in one matmul, then the output projection
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.attn_bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.attn_bias)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, need_weights: bool = False
                ) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, nh, S, hs), S = Tc + T
        S = k.size(2)
        att = None
        if self.manual or need_weights or prefer_explicit_attention(x):
            scale = (1.0 / math.sqrt(k.size(-1))) if self.scale is None else self.scale
            scores = (q @ k.transpose(-2, -1)) * scale  # (B, nh, T, S)
            if self.causal:
                scores = scores + causal_bias(T, S, x.device)
            att = F.softmax(scores, dim=-1)  # fp32 under autocast
            y = self.attn_dropout(att) @ v  # (B, nh, T, hs)
        else:
            # is_causal aligns the mask top-left, right only without a cache; one new query
            # sees every key, so needs no mask; several new queries after a cache need one.
            mask = None if not self.causal or S == T or T == 1 else causal_mask(T, S, x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.causal and S == T,
                                               dropout_p=self.dropout if self.training else 0.0,
                                               scale=self.scale)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads: (B, T, C)
        return self.resid_dropout(self.c_proj(y)), (k, v), att


ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def ff_width(cfg: Any) -> int:
    """The MLP's hidden width: model.d_ff, or 4 * n_embd when it is null (GPT-2)."""
    return cfg.d_ff if cfg.d_ff is not None else 4 * cfg.n_embd


class MLP(nn.Module):
    """Position-wise feed-forward: widen to d_ff (4x by default), GELU or ReLU, project back."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, ff_width(cfg), bias=cfg.bias)
        self.act = ACTIVATIONS[cfg.activation]()
        self.c_proj = nn.Linear(ff_width(cfg), cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """Attention then MLP, each with a residual connection; LayerNorm before (pre) or after (post)."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.pre = cfg.norm == "pre"
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, need_weights: bool = False
                ) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        if self.pre:  # GPT-2: the residual stream itself is never normalised
            a, kv, att = self.attn(self.ln_1(x), past, need_weights)
            x = x + a
            x = x + self.mlp(self.ln_2(x))
        else:  # Vaswani et al.: Add & Norm
            a, kv, att = self.attn(x, past, need_weights)
            x = self.ln_1(x + a)
            x = self.ln_2(x + self.mlp(x))
        return x, kv, att


class SinusoidalPositions(nn.Module):
    """Fixed codes PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...) (Vaswani et al. 2017)."""

    def __init__(self, block_size: int, n_embd: int) -> None:
        super().__init__()
        pos = torch.arange(block_size, dtype=torch.float32)[:, None]  # (block, 1)
        freq = torch.exp(torch.arange(0, n_embd, 2, dtype=torch.float32) * (-math.log(10000.0) / n_embd))
        pe = torch.zeros(block_size, n_embd)
        pe[:, 0::2] = torch.sin(pos * freq)
        pe[:, 1::2] = torch.cos(pos * freq)[:, : n_embd // 2]
        self.register_buffer("pe", pe, persistent=False)  # not a weight: kept out of checkpoints

    def forward(self, pos: Tensor) -> Tensor:
        return self.pe[pos]  # (T, C)


def embedding_scale(cfg: Any) -> float:
    """Fixed sinusoids have unit amplitude and would drown N(0, 0.02) token embeddings:
    with them, scale the embeddings by sqrt(n_embd), as Vaswani et al. do."""
    return math.sqrt(cfg.n_embd) if cfg.pos_encoding == "sinusoidal" else 1.0


def position_table(cfg: Any) -> nn.Module | None:
    """The position encoding `cfg.pos_encoding` names: a learned table, fixed sinusoids or none."""
    if cfg.pos_encoding == "learned":
        return nn.Embedding(cfg.block_size, cfg.n_embd)
    if cfg.pos_encoding == "sinusoidal":
        return SinusoidalPositions(cfg.block_size, cfg.n_embd)
    return None


def check_config(cfg: Any) -> None:
    """Reject settings no transformer can have, with one line naming the key."""
    for key in ("n_layer", "n_head", "n_embd", "block_size"):
        if getattr(cfg, key) < 1:
            raise SeqlabError(f"model.{key} must be positive, got {getattr(cfg, key)}")
    if cfg.n_embd % cfg.n_head:
        raise SeqlabError(f"model.n_embd ({cfg.n_embd}) must be a multiple of model.n_head ({cfg.n_head})")
    if not 0 <= cfg.dropout < 1:
        raise SeqlabError(f"model.dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.d_ff is not None and cfg.d_ff < 1:
        raise SeqlabError(f"model.d_ff must be positive (or null for 4 * n_embd), got {cfg.d_ff}")
    for key, known in (("attention", ("sdpa", "manual")), ("pos_encoding", ("learned", "sinusoidal", "none")),
                       ("norm", ("pre", "post")), ("activation", tuple(ACTIVATIONS))):
        if getattr(cfg, key) not in known:
            raise SeqlabError(f"model.{key} must be one of {', '.join(known)}; got '{getattr(cfg, key)}'")


class TransformerLM(nn.Module):
    """Token (+ position) embedding -> blocks -> LayerNorm -> head (tied unless tie_head=false).

    Decoding past block_size: positions are absolute (0..block_size-1), so the cache cannot
    slide one token at a time. When a new token would make the context longer than
    block_size, the context is cut to its last max(block_size // 2, 1) tokens (that
    token included) and the cache is recomputed from them (a re-prefill, one pass per
    block_size // 2 new tokens); decoding then goes on one token at a time until the
    context is full again. `forward` without a state on more than block_size tokens
    follows the same policy, so every token's logits are those of `model(context)` on
    the context this policy gives it, however the tokens are split across calls.
    """

    def __init__(self, cfg: Any, vocab_size: int) -> None:
        super().__init__()
        check_config(cfg)
        self.block_size = cfg.block_size
        self.token_embedding = nn.Embedding(vocab_size, cfg.n_embd)
        # Fixed sinusoids have amplitude 1 and would drown N(0, 0.02) token embeddings:
        # scale those by sqrt(n_embd), as Vaswani et al. do.
        self.embed_scale = math.sqrt(cfg.n_embd) if cfg.pos_encoding == "sinusoidal" else 1.0
        if cfg.pos_encoding == "learned":
            self.position_embedding = nn.Embedding(cfg.block_size, cfg.n_embd)
        elif cfg.pos_encoding == "sinusoidal":
            self.position_embedding = SinusoidalPositions(cfg.block_size, cfg.n_embd)
        else:
            self.position_embedding = None  # order comes from the causal mask alone
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, vocab_size, bias=False)
        if cfg.tie_head:
            self.lm_head.weight = self.token_embedding.weight  # weight tying (Press & Wolf 2017)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)  # GPT-2's init
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def forward(self, idx: Tensor, state: KVCache | None = None) -> tuple[Tensor, KVCache]:
        """(B, T) ids after the cached ones -> (B, T, V) logits and the grown cache."""
        if idx.size(1) + (state.length if state is not None else 0) <= self.block_size:
            return self._run(idx, state)[:2]  # training, and most decoding steps: it all fits
        cache, logits, done = state, [], 0
        while done < idx.size(1):
            prefix = idx[:, :0]
            if cache is not None and cache.length >= self.block_size:  # full: re-prefill
                keep = max(self.block_size // 2, 1) - 1  # + the next token = block_size // 2
                prefix, cache = cache.ids[:, cache.length - keep:], None
            room = self.block_size - prefix.size(1) - (cache.length if cache is not None else 0)
            chunk = idx[:, done:done + room]
            out, cache, _ = self._run(torch.cat([prefix, chunk], dim=1), cache)
            logits.append(out[:, prefix.size(1):])
            done += chunk.size(1)
        return torch.cat(logits, dim=1), cache

    def _run(self, idx: Tensor, cache: KVCache | None, need_weights: bool = False
             ) -> tuple[Tensor, KVCache, list[Tensor | None]]:
        """One pass over idx (B, T) at positions cache.length.. (at most block_size in all)."""
        start = cache.length if cache is not None else 0
        x = self.token_embedding(idx) * self.embed_scale  # (B, T, C)
        if self.position_embedding is not None:
            pos = torch.arange(start, start + idx.size(1), device=idx.device)  # (T,)
            x = x + self.position_embedding(pos)  # (T, C) broadcast over B
        x = self.drop(x)
        ks, vs, maps = [], [], []
        for i, block in enumerate(self.blocks):
            past = (cache.k[i], cache.v[i]) if cache is not None else None
            x, (k, v), att = block(x, past, need_weights)
            ks.append(k)
            vs.append(v)
            maps.append(att)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        ids = idx if cache is None else torch.cat([cache.ids, idx], dim=1)
        return logits, KVCache(ids, ks, vs), maps

    @torch.no_grad()
    def attention_maps(self, idx: Tensor) -> list[Tensor]:
        """Per layer (B, nh, T, T) attention weights of the forward pass on idx (B, T).

        Computed with the explicit softmax whatever `attention` says; before attention
        dropout, so call it in eval mode to see what the model actually uses.
        """
        if idx.size(1) > self.block_size:
            raise SeqlabError(f"{idx.size(1)} tokens do not fit the block size ({self.block_size})")
        return self._run(idx, None, need_weights=True)[2]


def build_transformer(cfg: Any, vocab_size: int) -> TransformerLM:
    """A transformer language model from a TransformerConfig."""
    return TransformerLM(cfg, vocab_size)
