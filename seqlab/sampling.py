"""Text in, text out: encode a prompt, generate, decode. Used by training and `seqlab sample`."""

from __future__ import annotations

import torch

from seqlab.data.tokenizers.char import CharVocab
from seqlab.errors import SeqlabError
from seqlab.models.generate import generate


def check_sampling_args(max_new_tokens: int, temperature: float, top_k: int, top_p: float,
                        num_samples: int = 1) -> None:
    """Reject impossible sampling settings with one clear message."""
    if max_new_tokens <= 0:
        raise SeqlabError(f"--max-new-tokens must be positive, got {max_new_tokens}")
    if temperature <= 0:
        raise SeqlabError(f"--temperature must be positive, got {temperature}")
    if top_k < 0:
        raise SeqlabError(f"--top-k must be 0 (off) or positive, got {top_k}")
    if not 0 < top_p <= 1:
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
    new = generate(model, ids, max_new_tokens, temperature, top_k, top_p, generator,
                   banned=vocab.banned_ids)  # the tokenizer names its unsampled ids
    return [prompt + vocab.decode(row.tolist()) for row in new.cpu()]
