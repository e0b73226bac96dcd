"""Autoregressive sampling for every model: the prompt once, then one token at a time.

Models carry their own state between calls (a hidden state for recurrent models), so
the prefix is never re-run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seqlab.models.modes import eval_mode


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0) -> torch.Tensor:
    """(N, V) logits scaled by 1/temperature, with everything outside top-k / nucleus at -inf."""
    logits = logits / temperature
    if 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (N, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the tokens before it already reach top_p (the first always stays).
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.inference_mode()  # cheaper than no_grad per step; the returned ids are never trained on
def generate(model: torch.nn.Module, prompt: torch.Tensor, max_new_tokens: int,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
             generator: torch.Generator | None = None,
             banned: Sequence[int] = ()) -> torch.Tensor:
    """Sample `max_new_tokens` ids after `prompt` (N, T0); returns (N, max_new_tokens).

    `temperature` 0 means greedy (the decoder of every decoder-only model: samples, the
    synthetic tasks' answers); `banned` ids (e.g. the unknown character) are never drawn.
    """
    with eval_mode(model):
        logits, state = model(prompt)
        new = []
        for i in range(max_new_tokens):
            last = logits[:, -1].float()  # (N, V)
            if banned:
                last[:, list(banned)] = float("-inf")
            if temperature == 0:
                token = last.argmax(-1, keepdim=True)
            else:
                probs = filter_logits(last, temperature, top_k, top_p).softmax(-1)
                token = torch.multinomial(probs.cpu(), 1, generator=generator).to(prompt.device)
            new.append(token)
            if i + 1 < max_new_tokens:  # the last token needs no forward pass
                logits, state = model(token, state)
    return torch.cat(new, dim=1)
