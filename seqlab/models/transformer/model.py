"""Decoder-only transformer in the style of nanoGPT (itself GPT-2), with KV-cached decoding.

The seed's model: token + position embedding -> blocks of causal self-attention and a GELU
MLP -> final LayerNorm -> a head tied to the token embedding (1 layer, 128 wide, 4 heads,
block 100: 222,592 parameters for a 92-character vocabulary).

The modern recipe (Llama; "Transformer++") is a set of switches on the same blocks:
pos_encoding=rope, norm_layer=rmsnorm, activation=swiglu, bias=false (conf/model/llama.yaml).

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

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, need_weights: bool = False,
                rope: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        """`rope`: (T, hs/2) cos and sin of the new tokens' positions; cached keys are already rotated."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
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


ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "swiglu": nn.SiLU}  # swiglu: SiLU on the gate branch


def ff_width(cfg: Any) -> int:
    """The MLP's hidden width: model.d_ff, or 4 * n_embd when it is null (GPT-2)."""
    return cfg.d_ff if cfg.d_ff is not None else 4 * cfg.n_embd


class MLP(nn.Module):
    """Position-wise feed-forward: widen to d_ff (4x by default), GELU or ReLU, project back;
    or SwiGLU (Shazeer 2020, Llama): W2(silu(W1 x) * W3 x) with W1 = c_fc, W3 = c_up, W2 = c_proj."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, ff_width(cfg), bias=cfg.bias)
        self.c_up = nn.Linear(cfg.n_embd, ff_width(cfg), bias=cfg.bias) if cfg.activation == "swiglu" else None
        self.act = ACTIVATIONS[cfg.activation]()
        self.c_proj = nn.Linear(ff_width(cfg), cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.c_fc(x))  # (B, T, d_ff)
        if self.c_up is not None:
            h = h * self.c_up(x)  # SwiGLU: the SiLU branch gates a linear one
        return self.dropout(self.c_proj(h))


RMS_EPS = 1e-5  # LayerNorm's default eps; Llama 2 and 3 use the same for RMSNorm


def norm_layer(cfg: Any) -> str:
    """model.norm_layer; a config saved before the field existed means LayerNorm."""
    return getattr(cfg, "norm_layer", "layernorm")


def make_norm(cfg: Any) -> nn.Module:
    """The norm `norm_layer` names: LayerNorm (with a bias unless bias=false) or RMSNorm (never one)."""
    if norm_layer(cfg) == "rmsnorm":
        return nn.RMSNorm(cfg.n_embd, eps=RMS_EPS)  # x / sqrt(mean(x²) + eps) * weight
    return nn.LayerNorm(cfg.n_embd, bias=cfg.bias)


class Block(nn.Module):
    """Attention then MLP, each with a residual connection; a norm before (pre) or after (post)."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.pre = cfg.norm == "pre"
        self.ln_1 = make_norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = make_norm(cfg)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None = None, need_weights: bool = False,
                rope: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        if self.pre:  # GPT-2: the residual stream itself is never normalised
            a, kv, att = self.attn(self.ln_1(x), past, need_weights, rope)
            x = x + a
            x = x + self.mlp(self.ln_2(x))
        else:  # Vaswani et al.: Add & Norm
            a, kv, att = self.attn(x, past, need_weights, rope)
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


class Rotary(nn.Module):
    """RoPE (Su et al. 2021): at position p, each pair (i, i + hs/2) of a head's q and k turns by
    the angle p * 10000^(-2i/hs), so q_m . k_n depends on m - n alone (the GPT-NeoX/Llama-HF
    half split; Meta's interleaved pairs are the same up to a fixed permutation of the head)."""

    def __init__(self, head_size: int, block_size: int, base: float = 10000.0) -> None:
        super().__init__()
        freq = base ** (-torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)  # (hs/2,)
        angle = torch.arange(block_size, dtype=torch.float32)[:, None] * freq  # (block, hs/2)
        self.register_buffer("cos", angle.cos(), persistent=False)  # not weights: kept out of checkpoints
        self.register_buffer("sin", angle.sin(), persistent=False)

    def forward(self, start: int, T: int) -> tuple[Tensor, Tensor]:
        return self.cos[start:start + T], self.sin[start:start + T]  # (T, hs/2) each


def apply_rope(x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
    """(B, nh, T, hs) queries or keys rotated: (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos)."""
    cos, sin = (t.to(x.dtype) for t in rope)  # (T, hs/2): stay in x's dtype under autocast
    x1, x2 = x.chunk(2, dim=-1)  # (B, nh, T, hs/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def embedding_scale(cfg: Any) -> float:
    """Fixed sinusoids have unit amplitude and would drown N(0, 0.02) token embeddings:
    with them, scale the embeddings by sqrt(n_embd), as Vaswani et al. do."""
    return math.sqrt(cfg.n_embd) if cfg.pos_encoding == "sinusoidal" else 1.0


def position_table(cfg: Any) -> nn.Module | None:
    """The position table `cfg.pos_encoding` names: learned or fixed sinusoids; None for none and rope."""
    if cfg.pos_encoding == "learned":
        return nn.Embedding(cfg.block_size, cfg.n_embd)
    if cfg.pos_encoding == "sinusoidal":
        return SinusoidalPositions(cfg.block_size, cfg.n_embd)
    return None


CHOICES = {"attention": ("sdpa", "manual"), "pos_encoding": ("learned", "sinusoidal", "none", "rope"),
           "norm": ("pre", "post"), "norm_layer": ("layernorm", "rmsnorm"), "activation": tuple(ACTIVATIONS)}
DECODER_ONLY = {"pos_encoding": "rope", "norm_layer": "rmsnorm", "activation": "swiglu"}
"""Values only the decoder-only transformer implements (and its FLOP model counts)."""


def check_config(cfg: Any, decoder_only: bool = False) -> None:
    """Reject settings no transformer can have, with one line naming the key. The encoder and
    the encoder-decoder (decoder_only=False) refuse rope, rmsnorm and swiglu."""
    for key in ("n_layer", "n_head", "n_embd", "block_size"):
        if getattr(cfg, key) < 1:
            raise SeqlabError(f"model.{key} must be positive, got {getattr(cfg, key)}")
    if cfg.n_embd % cfg.n_head:
        raise SeqlabError(f"model.n_embd ({cfg.n_embd}) must be a multiple of model.n_head ({cfg.n_head})")
    if not 0 <= cfg.dropout < 1:
        raise SeqlabError(f"model.dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.d_ff is not None and cfg.d_ff < 1:
        raise SeqlabError(f"model.d_ff must be positive (or null for 4 * n_embd), got {cfg.d_ff}")
    for key, known in CHOICES.items():
        value = norm_layer(cfg) if key == "norm_layer" else getattr(cfg, key)
        known = tuple(k for k in known if decoder_only or k != DECODER_ONLY.get(key))
        if value not in known:
            only = " (the decoder-only transformer's: model=transformer or model=llama)" \
                if value == DECODER_ONLY.get(key) else ""
            raise SeqlabError(f"model.{key} must be one of {', '.join(known)}; got '{value}'{only}")
    if cfg.pos_encoding == "rope" and (cfg.n_embd // cfg.n_head) % 2:
        raise SeqlabError(f"model.pos_encoding=rope rotates pairs: the head size n_embd / n_head "
                          f"({cfg.n_embd // cfg.n_head}) must be even")


class TransformerLM(nn.Module):
    """Token (+ position) embedding -> blocks -> final norm -> head (tied unless tie_head=false).

    Decoding past block_size: positions are absolute (0..block_size-1), so the cache cannot
    slide one token at a time. When a new token would make the context longer than
    block_size, the context is cut to its last max(block_size // 2, 1) tokens (that
    token included) and the cache is recomputed from them (a re-prefill, one pass per
    block_size // 2 new tokens); decoding then goes on one token at a time until the
    context is full again. `forward` without a state on more than block_size tokens
    follows the same policy, so every token's logits are those of `model(context)` on
    the context this policy gives it, however the tokens are split across calls. RoPE keeps
    the policy: after a re-prefill the kept tokens sit at positions 0.. again, which changes
    no score (they depend on offsets only) and keeps cached == uncached decoding.
    """

    def __init__(self, cfg: Any, vocab_size: int) -> None:
        super().__init__()
        check_config(cfg, decoder_only=True)
        self.block_size = cfg.block_size
        self.token_embedding = nn.Embedding(vocab_size, cfg.n_embd)
        # none and rope: no table (order from the causal mask alone, or from rotating q and k)
        self.embed_scale, self.position_embedding = embedding_scale(cfg), position_table(cfg)
        self.rotary = Rotary(cfg.n_embd // cfg.n_head, cfg.block_size) if cfg.pos_encoding == "rope" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = make_norm(cfg)
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
        rope = self.rotary(start, idx.size(1)) if self.rotary is not None else None  # (T, hs/2) cos, sin
        ks, vs, maps = [], [], []
        for i, block in enumerate(self.blocks):
            past = (cache.k[i], cache.v[i]) if cache is not None else None
            x, (k, v), att = block(x, past, need_weights, rope)
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
