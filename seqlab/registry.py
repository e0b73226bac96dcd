"""Name -> model and task builders.

The table is static and lazy: each entry names its config schema (a dataclass, cheap
to import) and its builder as "module:function", imported only when something is
built, so `seqlab models` and `seqlab --help` never import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqlab.config.models import (
    EncoderConfig,
    GRUConfig,
    LSTMConfig,
    RNNConfig,
    Seq2SeqRNNConfig,
    Seq2SeqTransformerConfig,
    TransformerConfig,
)
from seqlab.config.tasks import (
    AssocRecallConfig,
    CopyConfig,
    FirstTokenConfig,
    RepeatConfig,
    ReverseConfig,
    SortConfig,
    TinyStoriesConfig,
    TinyStoriesMLMConfig,
    TinyStoriesSwapConfig,
)
from seqlab.errors import SeqlabError


@dataclass(frozen=True)
class Spec:
    """One registry entry."""

    config: type
    """Schema of its config group entries."""
    builder: str
    """"module:function" that builds it from its config."""
    summary: str
    """One line for `seqlab models` / `seqlab tasks`."""
    kind: str = "lm"
    """Models: the task kinds they can serve; tasks: the kind they are."""
    serves: tuple[str, ...] = ("lm", "classify", "seq2seq")
    """Models only: the task kinds it can serve (decoder-only models serve all three)."""

    def load_builder(self) -> Callable[..., Any]:
        module, _, attr = self.builder.partition(":")
        return getattr(importlib.import_module(module), attr)


MODELS: dict[str, Spec] = {
    "gru": Spec(
        GRUConfig,
        "seqlab.models.gru:build_gru",
        "GRU language model (Cho et al. 2014); impl=fused (nn.GRU) or scratch (seed equations)",
    ),
    "rnn": Spec(
        RNNConfig,
        "seqlab.models.rnn:build_rnn",
        "Elman RNN language model, tanh or relu, any depth; impl=fused (nn.RNN) or scratch",
    ),
    "lstm": Spec(
        LSTMConfig,
        "seqlab.models.lstm:build_lstm",
        "LSTM language model (Hochreiter & Schmidhuber 1997); impl=fused (nn.LSTM) or scratch",
    ),
    "transformer": Spec(
        TransformerConfig,
        "seqlab.models.transformer:build_transformer",
        "nanoGPT-style decoder-only transformer; attention=sdpa|manual, KV-cached generation",
        serves=("lm", "classify", "seq2seq", "mlm"),  # issue 16: causal=false reads both sides on mlm
    ),
    "seq2seq_rnn": Spec(
        Seq2SeqRNNConfig,
        "seqlab.models.seq2seq:build_seq2seq_rnn",
        "RNN/GRU/LSTM encoder -> decoder, attention=none|bahdanau|dot, optional Bi-RNN encoder",
        kind="seq2seq",
        serves=("seq2seq",),
    ),
    "seq2seq_transformer": Spec(
        Seq2SeqTransformerConfig,
        "seqlab.models.seq2seq:build_seq2seq_transformer",
        "transformer encoder (bidirectional) + decoder (causal self-attn, cross-attn, MLP)",
        kind="seq2seq",
        serves=("seq2seq",),
    ),
    # issue 16: the encoder-only family
    "encoder": Spec(
        EncoderConfig,
        "seqlab.models.encoder:build_encoder",
        "BERT-style encoder-only transformer: bidirectional blocks, masked-token and classification heads",
        kind="mlm",
        serves=("mlm", "sequence_classify"),
    ),
}

TASKS: dict[str, Spec] = {
    "tinystories": Spec(
        TinyStoriesConfig,
        "seqlab.tasks.tinystories:build_tinystories",
        "character-level language modelling on TinyStories (datasets.load_dataset)",
    ),
    "first_token": Spec(FirstTokenConfig, "seqlab.tasks.synthetic:build_synthetic",
                        "label = the first of T random symbols, read at the last position (seed 000)",
                        kind="classify"),
    "copy": Spec(CopyConfig, "seqlab.tasks.synthetic:build_synthetic",
                 "target = the source (T random symbols)", kind="seq2seq"),
    "reverse": Spec(ReverseConfig, "seqlab.tasks.synthetic:build_synthetic",
                    "target = the source reversed", kind="seq2seq"),
    "sort": Spec(SortConfig, "seqlab.tasks.synthetic:build_synthetic",
                 "target = the source sorted", kind="seq2seq"),
    "assoc_recall": Spec(AssocRecallConfig, "seqlab.tasks.synthetic:build_synthetic",
                         "k1 v1 ... kP vP q -> the value of key q", kind="seq2seq"),
    "repeat": Spec(RepeatConfig, "seqlab.tasks.synthetic:build_repeat",
                   "next character of a periodic string, the seed's 'abca abca ...' (seed 000)"),
    # issue 16: masked character modelling and a labelled task to fine-tune on
    "tinystories_mlm": Spec(TinyStoriesMLMConfig, "seqlab.tasks.mlm:build_tinystories_mlm",
                            "masked character modelling on TinyStories (15% selected, 80/10/10)", kind="mlm"),
    "tinystories_swap": Spec(TinyStoriesSwapConfig, "seqlab.tasks.word_swap:build_tinystories_swap",
                             "TinyStories window: real, or two words swapped? (labelled, for fine-tuning)",
                             kind="sequence_classify"),
}


def lookup(table: dict[str, Spec], name: str, what: str) -> Spec:
    """The entry called `name`, or a SeqlabError listing the known names."""
    try:
        return table[name]
    except KeyError:
        raise SeqlabError(
            f"unknown {what} '{name}'; known: {', '.join(sorted(table))}"
        ) from None


def build_model(model_cfg: Any, vocab_size: int):
    """Build the model `model_cfg.name` names, for a vocabulary of `vocab_size` tokens."""
    spec = lookup(MODELS, model_cfg.name, "model")
    return spec.load_builder()(model_cfg, vocab_size)


def build_task(task_cfg: Any):
    """Build the task `task_cfg.name` names."""
    spec = lookup(TASKS, task_cfg.name, "task")
    return spec.load_builder()(task_cfg)


def model_presets() -> list[tuple[str, str]]:
    """(preset, family) for every conf/model/*.yaml, read without composing."""
    import yaml

    from seqlab.config.paths import config_dir

    found = []
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        family = data.get("name") or next(
            (d for d in data.get("defaults", []) if isinstance(d, str) and d in MODELS), path.stem)
        found.append((path.stem, family))
    return found


def check_pairing(model_name: str, task: Any, model_cfg: Any = None) -> None:
    """Fail before training when the model cannot serve the task: `task` is a built task (or
    a task name); with `model_cfg`, a block_size too small for one example also fails."""
    spec = lookup(MODELS, model_name, "model")
    name = task if isinstance(task, str) else getattr(task, "name", type(task).__name__)
    kind = lookup(TASKS, task, "task").kind if isinstance(task, str) else task.kind
    if kind not in spec.serves:
        can = sorted(t for t, s in TASKS.items() if s.kind in spec.serves)
        raise SeqlabError(f"model '{model_name}' cannot serve task '{name}' ({kind}); it serves "
                          f"{'/'.join(spec.serves)} tasks: {', '.join(can)}")
    block = model_cfg.get("block_size") if model_cfg is not None else None
    if block is not None and hasattr(task, "context_length"):
        need = task.context_length(encoder_decoder="lm" not in spec.serves)
        if need > block:
            raise SeqlabError(f"task '{name}' needs {need} positions per example; model.block_size is "
                              f"{block}: raise model.block_size or lower task.length")
