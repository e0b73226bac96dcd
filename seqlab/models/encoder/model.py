"""Encoder-only transformer (BERT-style, Devlin et al. 2019; seed 004's "GPT vs BERT").

Token (+ position) embedding -> bidirectional encoder blocks (the encoder-decoder's, so
every token sees the whole sequence except padding) -> LayerNorm, then two heads:
    forward(idx, state=None, pad_mask=None) -> (B, T, V) masked-token logits, None
    classify(idx, pad_mask=None)            -> (B, num_classes) from the pooled output
`pad_mask` (B, T) is True at real tokens. The masked-token head is tied to the token
embedding unless tie_head=false; the classification head is a fresh Linear, which is what
`trainer.init_from` reports as new when an encoder pretrained with num_classes=0 (no
classification head) is fine-tuned.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.models.seq2seq.model import EncoderBlock
from seqlab.models.transformer.model import (
    TransformerLM,
    check_config,
    embedding_scale,
    position_table,
)

Tensor = torch.Tensor
POOLS = ("mean", "first")


class EncoderOnly(nn.Module):
    """Bidirectional transformer encoder with a masked-token head and a classification head."""

    def __init__(self, cfg: Any, vocab_size: int) -> None:
        super().__init__()
        check_config(cfg)
        if cfg.pool not in POOLS:
            raise SeqlabError(f"model.pool must be one of {', '.join(POOLS)}; got '{cfg.pool}'")
        if cfg.num_classes == 1 or cfg.num_classes < 0:
            raise SeqlabError(f"model.num_classes must be 0 (no classification head) or at least 2, "
                              f"got {cfg.num_classes}")
        self.block_size, self.pool = cfg.block_size, cfg.pool
        self.token_embedding = nn.Embedding(vocab_size, cfg.n_embd)
        self.embed_scale, self.position_embedding = embedding_scale(cfg), position_table(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([EncoderBlock(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, vocab_size, bias=False)
        if cfg.tie_head:
            self.lm_head.weight = self.token_embedding.weight
        # pretraining builds none: fine-tuning then reports it as new
        self.cls_head = nn.Linear(cfg.n_embd, cfg.num_classes) if cfg.num_classes else None
        self.apply(TransformerLM._init_weights)

    def encode(self, idx: Tensor, pad_mask: Tensor | None = None) -> Tensor:
        """(B, T) ids -> (B, T, C) final hidden states; padded keys get no attention weight."""
        if idx.size(1) > self.block_size:
            raise SeqlabError(f"{idx.size(1)} tokens exceed model.block_size ({self.block_size})")
        x = self.token_embedding(idx) * self.embed_scale
        if self.position_embedding is not None:
            x = x + self.position_embedding(torch.arange(idx.size(1), device=idx.device))
        x = self.drop(x)
        mask = None if pad_mask is None else pad_mask[:, None, None, :]  # (B, 1, 1, T): keys only
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x)

    def forward(self, idx: Tensor, state: Any = None, pad_mask: Tensor | None = None) -> tuple[Tensor, None]:
        """Masked-token logits (B, T, V); `state` is accepted for the common interface and unused."""
        return self.lm_head(self.encode(idx, pad_mask)), None

    def classify(self, idx: Tensor, pad_mask: Tensor | None = None) -> Tensor:
        """(B, num_classes) logits from the mean over real positions, or from position 0."""
        if self.cls_head is None:
            raise SeqlabError("this encoder has no classification head (model.num_classes=0)")
        h = self.encode(idx, pad_mask)
        if self.pool == "first":
            return self.cls_head(h[:, 0])
        if pad_mask is None:
            return self.cls_head(h.mean(1))
        weights = pad_mask.to(h.dtype)[:, :, None]  # (B, T, 1)
        return self.cls_head((h * weights).sum(1) / weights.sum(1).clamp(min=1.0))


def build_encoder(cfg: Any, vocab_size: int) -> EncoderOnly:
    """An encoder-only transformer from an EncoderConfig."""
    return EncoderOnly(cfg, vocab_size)
