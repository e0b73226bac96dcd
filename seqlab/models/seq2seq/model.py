"""Encoder-decoders: an RNN pair with optional attention, and a transformer encoder-decoder.

Both are declared `encoder_decoder` on their registry specs (tasks feed them (source, decoder
input) pairs) and share:
    forward(src, dec_in, src_mask=None, need_weights=False) -> (logits (B, T, V), attention (B, T, S) or None)
    greedy(src, steps, start_id, src_mask=None) -> (ids (B, steps), attention (B, steps, S) or None)
`src_mask` (B, S) is True at real source tokens; padded positions get no attention weight
(and the RNN encoder packs them away), so every row of the attention sums to 1 over the
real source positions.

seq2seq_rnn (Cho et al. 2014; Bahdanau et al. 2015): the decoder reads [y_{i-1}; c_i] where
    none:     c_i = c, the encoder's final state (the fixed-size bottleneck)
    bahdanau: e_ij = v . tanh(W s_{i-1} + U h_j),  a_i = softmax_j(e_i),  c_i = sum_j a_ij h_j
    dot:      e_ij = s_{i-1} . h_j (h_j projected to the decoder width if a Bi-RNN widens it)
and predicts y_i from [s_i; c_i].
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.errors import SeqlabError
from seqlab.models.transformer.model import (
    MLP,
    CausalSelfAttention,
    TransformerLM,
    check_config,
    embedding_scale,
    position_table,
    prefer_explicit_attention,
)

Tensor = torch.Tensor
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
ATTENTIONS = ("none", "bahdanau", "dot")


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last axis with masked-out (False) positions at exactly 0."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return F.softmax(scores.float(), dim=-1).to(scores.dtype)


class Seq2SeqRNN(nn.Module):
    """Embedding -> RNN encoder (optionally bidirectional) -> RNN decoder with attention."""

    def __init__(self, cfg: Any, vocab_size: int) -> None:
        super().__init__()
        if cfg.cell not in CELLS:
            raise SeqlabError(f"model.cell must be one of {', '.join(CELLS)}; got '{cfg.cell}'")
        if cfg.attention not in ATTENTIONS:
            raise SeqlabError(f"model.attention must be one of {', '.join(ATTENTIONS)}; got '{cfg.attention}'")
        E, H, L = cfg.embed_size, cfg.hidden_size, cfg.num_layers
        self.lstm, self.attention, self.num_layers = cfg.cell == "lstm", cfg.attention, L
        self.dirs = 2 if cfg.bidirectional else 1
        width = H * self.dirs  # encoder annotation width
        rnn = CELLS[cfg.cell]
        between = cfg.dropout if L > 1 else 0.0
        self.embedding = nn.Embedding(vocab_size, E)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = rnn(E, H, L, batch_first=True, bidirectional=cfg.bidirectional, dropout=between)
        self.bridge = nn.Linear(width, H)  # encoder final state -> decoder initial state, per layer
        self.bridge_c = nn.Linear(width, H) if self.lstm else None
        self.decoder = rnn(E + width, H, L, batch_first=True, dropout=between)
        if cfg.attention == "bahdanau":
            self.W = nn.Linear(H, cfg.attn_size, bias=False)  # query side
            self.U = nn.Linear(width, cfg.attn_size)  # key side, precomputed once per source
            self.v = nn.Linear(cfg.attn_size, 1, bias=False)
        elif cfg.attention == "dot":
            self.U = nn.Linear(width, H, bias=False) if width != H else nn.Identity()
        self.out = nn.Linear(H + width, vocab_size)

    def _merge(self, h: Tensor) -> Tensor:
        """(L * dirs, B, H) final states -> (L, B, dirs * H): both directions side by side."""
        B, H = h.size(1), h.size(2)
        return h.view(self.num_layers, self.dirs, B, H).transpose(1, 2).reshape(self.num_layers, B, -1)

    def encode(self, src: Tensor, src_mask: Tensor | None = None) -> dict[str, Any]:
        x = self.drop(self.embedding(src))
        if src_mask is not None and not bool(src_mask.all()):
            lengths = src_mask.sum(1).cpu()
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, final = self.encoder(packed)
            out = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))[0]
        else:
            out, final = self.encoder(x)
        h, c = final if self.lstm else (final, None)
        h = self._merge(h)  # (L, B, width)
        state = torch.tanh(self.bridge(h))
        if self.lstm:
            state = (state, self.bridge_c(self._merge(c)))
        keys = self.U(out) if self.attention != "none" else None
        return {"out": out, "keys": keys, "mask": src_mask, "context": h[-1], "state": state}

    def _attend(self, query: Tensor, enc: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """(B, H) decoder state -> context (B, width) and weights (B, S)."""
        if self.attention == "bahdanau":
            scores = self.v(torch.tanh(self.W(query)[:, None] + enc["keys"])).squeeze(-1)
        else:
            scores = (enc["keys"] @ query[:, :, None]).squeeze(-1)
        weights = masked_softmax(scores, enc["mask"])
        return (weights[:, None] @ enc["out"]).squeeze(1), weights

    def step(self, token: Tensor, state: Any, enc: dict[str, Any]) -> tuple[Tensor, Any, Tensor | None]:
        """One decoder step: (B,) previous token -> (B, V) logits, new state, (B, S) weights."""
        weights = None
        if self.attention == "none":
            ctx = enc["context"]
        else:
            top = (state[0] if self.lstm else state)[-1]  # s_{i-1} of the top layer
            ctx, weights = self._attend(top, enc)
        x = torch.cat([self.drop(self.embedding(token)), ctx], dim=-1)[:, None]
        out, state = self.decoder(x, state)
        return self.out(self.drop(torch.cat([out[:, 0], ctx], dim=-1))), state, weights

    def forward(self, src: Tensor, dec_in: Tensor, src_mask: Tensor | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits; the attention weights come for free (need_weights is ignored)."""
        enc = self.encode(src, src_mask)
        if self.attention == "none":  # the context is fixed: run the decoder fused over time
            ctx = enc["context"][:, None].expand(-1, dec_in.size(1), -1)
            out, _ = self.decoder(torch.cat([self.drop(self.embedding(dec_in)), ctx], dim=-1), enc["state"])
            return self.out(self.drop(torch.cat([out, ctx], dim=-1))), None
        state, logits, weights = enc["state"], [], []
        for i in range(dec_in.size(1)):
            step_logits, state, w = self.step(dec_in[:, i], state, enc)
            logits.append(step_logits)
            weights.append(w)
        return torch.stack(logits, 1), torch.stack(weights, 1)

    @torch.no_grad()
    def greedy(self, src: Tensor, steps: int, start_id: int, src_mask: Tensor | None = None
               ) -> tuple[Tensor, Tensor | None]:
        enc = self.encode(src, src_mask)
        token, state = src.new_full((src.size(0),), start_id), enc["state"]
        ids, weights = [], []
        for _ in range(steps):
            logits, state, w = self.step(token, state, enc)
            token = logits.argmax(-1)
            ids.append(token)
            weights.append(w)
        return torch.stack(ids, 1), (None if self.attention == "none" else torch.stack(weights, 1))


class MultiHeadAttention(nn.Module):
    """Queries from x, keys and values from `memory` (x itself for self-attention), with a mask."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        C = cfg.n_embd
        self.n_head, self.dropout, self.manual = cfg.n_head, cfg.dropout, cfg.attention == "manual"
        self.scale = None if cfg.attn_scale else 1.0  # None: 1/sqrt(head size)
        self.q = nn.Linear(C, C, bias=cfg.attn_bias)
        self.kv = nn.Linear(C, 2 * C, bias=cfg.attn_bias)
        self.c_proj = nn.Linear(C, C, bias=cfg.attn_bias)
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, memory: Tensor, mask: Tensor | None, need_weights: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        """mask broadcasts to (B, nh, T, S), True where a query may see a key; weights (B, nh, T, S)."""
        B, T, C = x.shape
        S, nh = memory.size(1), self.n_head
        q = self.q(x).view(B, T, nh, C // nh).transpose(1, 2)  # (B, nh, T, hs)
        k, v = (t.view(B, S, nh, C // nh).transpose(1, 2) for t in self.kv(memory).split(C, dim=2))
        att = None
        if self.manual or need_weights or prefer_explicit_attention(x):
            scale = k.size(-1) ** -0.5 if self.scale is None else self.scale
            att = masked_softmax((q @ k.transpose(-2, -1)) * scale, mask)
            y = self.attn_dropout(att) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale,
                                               dropout_p=self.dropout if self.training else 0.0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C))), att


class EncoderBlock(nn.Module):
    """Bidirectional self-attention (padding masked) then the MLP, pre- or post-norm."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.pre = cfg.norm == "pre"
        self.ln_1, self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias), nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn, self.mlp = MultiHeadAttention(cfg), MLP(cfg)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        if self.pre:
            h = self.ln_1(x)
            x = x + self.attn(h, h, mask)[0]
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, x, mask)[0])
        return self.ln_2(x + self.mlp(x))


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder, MLP; each with a residual."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.pre = cfg.norm == "pre"
        self.ln_1, self.ln_2, self.ln_3 = (nn.LayerNorm(cfg.n_embd, bias=cfg.bias) for _ in range(3))
        self.attn, self.cross, self.mlp = CausalSelfAttention(cfg), MultiHeadAttention(cfg), MLP(cfg)

    def forward(self, x: Tensor, memory: Tensor, mask: Tensor | None, need_weights: bool = False
                ) -> tuple[Tensor, Tensor | None]:
        if self.pre:
            x = x + self.attn(self.ln_1(x))[0]
            c, att = self.cross(self.ln_2(x), memory, mask, need_weights)
            x = x + c
            return x + self.mlp(self.ln_3(x)), att
        x = self.ln_1(x + self.attn(x)[0])
        c, att = self.cross(x, memory, mask, need_weights)
        x = self.ln_2(x + c)
        return self.ln_3(x + self.mlp(x)), att


class Seq2SeqTransformer(nn.Module):
    """Shared token embedding (+ positions) -> encoder blocks; decoder blocks -> tied head.

    `alignment` weights are the last decoder layer's cross-attention, averaged over heads.
    """

    def __init__(self, cfg: Any, vocab_size: int) -> None:
        super().__init__()
        check_config(cfg)
        self.block_size = cfg.block_size
        self.token_embedding = nn.Embedding(vocab_size, cfg.n_embd)
        self.embed_scale, self.position_embedding = embedding_scale(cfg), position_table(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList([EncoderBlock(cfg) for _ in range(cfg.n_layer)])
        self.ln_enc = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.decoder = nn.ModuleList([DecoderBlock(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, vocab_size, bias=False)
        if cfg.tie_head:
            self.lm_head.weight = self.token_embedding.weight
        self.apply(TransformerLM._init_weights)

    def _embed(self, idx: Tensor) -> Tensor:
        if idx.size(1) > self.block_size:
            raise SeqlabError(f"{idx.size(1)} tokens exceed model.block_size ({self.block_size})")
        x = self.token_embedding(idx) * self.embed_scale
        if self.position_embedding is not None:
            x = x + self.position_embedding(torch.arange(idx.size(1), device=idx.device))
        return self.drop(x)

    def encode(self, src: Tensor, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        mask = None if src_mask is None else src_mask[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(src)
        for block in self.encoder:
            x = block(x, mask)
        return self.ln_enc(x), mask

    def decode(self, dec_in: Tensor, memory: Tensor, mask: Tensor | None, need_weights: bool = False
               ) -> tuple[Tensor, Tensor | None]:
        x, att = self._embed(dec_in), None
        for i, block in enumerate(self.decoder):
            x, att = block(x, memory, mask, need_weights and i == len(self.decoder) - 1)
        return self.lm_head(self.ln_f(x)), (None if att is None else att.mean(1))

    def forward(self, src: Tensor, dec_in: Tensor, src_mask: Tensor | None = None,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        memory, mask = self.encode(src, src_mask)
        return self.decode(dec_in, memory, mask, need_weights)

    @torch.no_grad()
    def greedy(self, src: Tensor, steps: int, start_id: int, src_mask: Tensor | None = None
               ) -> tuple[Tensor, Tensor]:
        memory, mask = self.encode(src, src_mask)
        ids = src.new_full((src.size(0), 1), start_id)
        for i in range(steps):  # the decoder re-reads its prefix: short targets, no cache needed
            logits, att = self.decode(ids, memory, mask, need_weights=i == steps - 1)
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return ids[:, 1:], att


def build_seq2seq_rnn(cfg: Any, vocab_size: int) -> Seq2SeqRNN:
    return Seq2SeqRNN(cfg, vocab_size)


def build_seq2seq_transformer(cfg: Any, vocab_size: int) -> Seq2SeqTransformer:
    return Seq2SeqTransformer(cfg, vocab_size)
