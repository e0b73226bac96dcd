"""Text in, text out: encode a prompt, generate, decode. Used by training and `seqlab sample`."""

from __future__ import annotations

import math
from typing import Any

import torch

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.models.generate import generate


def check_sampling_args(max_new_tokens: int, temperature: float, top_k: int, top_p: float,
                        num_samples: int = 1) -> None:
    """Reject impossible sampling settings with one clear message (nan and inf included)."""
    if max_new_tokens <= 0:
        raise SeqlabError(f"--max-new-tokens must be positive, got {max_new_tokens}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise SeqlabError(f"--temperature must be a finite number >= 0 (0: greedy, the most likely token "
                          f"each time), got {temperature}")
    if top_k < 0:
        raise SeqlabError(f"--top-k must be 0 (off) or positive, got {top_k}")
    if not (math.isfinite(top_p) and 0 < top_p <= 1):
        raise SeqlabError(f"--top-p must be in (0, 1], got {top_p}")
    if num_samples <= 0:
        raise SeqlabError(f"--num-samples must be positive, got {num_samples}")


def encode_prompt(vocab: CharVocab, prompt: str, allow_unknown: bool = False) -> torch.Tensor:
    """(1, T) ids of the prompt; an empty prompt starts a new story (a newline)."""
    unknown = vocab.unknown(prompt)
    if unknown and not allow_unknown:
        shown = ", ".join(repr(c) for c in unknown)
        raise SeqlabError(
            f"the prompt has characters the model's vocabulary lacks: {shown} "
            "(pass --allow-unknown to map them to the unknown id)"
        )
    text = prompt if prompt else "\n"
    return torch.from_numpy(vocab.encode(text).astype("int64"))[None]


def sample_texts(model: torch.nn.Module, vocab: CharVocab, prompt: str, num_samples: int,
                 max_new_tokens: int, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int | None = None, device: torch.device | str = "cpu",
                 allow_unknown: bool = False) -> list[str]:
    """`num_samples` continuations of `prompt` (prompt included), drawn as one batch."""
    ids = encode_prompt(vocab, prompt, allow_unknown).to(device).repeat(num_samples, 1)
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    new = generate(FiniteLogits(model, temperature), ids, max_new_tokens, temperature, top_k, top_p, generator,
                   banned=vocab.banned_ids)  # the tokenizer names its unsampled ids
    return [prompt + vocab.decode(row.tolist()) for row in new.cpu()]


DIVERGED = "the run's weights overflow (it likely diverged: train again with a lower trainer.lr)"


def check_finite_weights(model: torch.nn.Module, where: str) -> None:
    """Refuse weights with nan or inf in them: nothing sampled from them would mean anything."""
    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise SeqlabError(f"{where} has non-finite weights (nan or inf in {len(bad)} tensor(s), e.g. {bad[0]}): "
                          f"{DIVERGED}, or sample an earlier checkpoint of it")


class FiniteLogits(torch.nn.Module):
    """The model, with the logits of every call checked: non-finite ones (weights that overflow),
    also once divided by the temperature, are one clear error instead of torch.multinomial's, or
    of greedy decoding picking noise."""

    def __init__(self, model: torch.nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        self.inner, self.temperature = model, temperature

    def forward(self, *args: Any) -> Any:
        logits, state = self.inner(*args)
        scaled = logits.float() / self.temperature if self.temperature > 0 else logits
        if not torch.isfinite(scaled).all():
            raise SeqlabError(f"the model's outputs are not finite (nan or inf logits): {DIVERGED}")
        return logits, state
