"""Name -> what a model family or task is and what it can do, declared once.

The table is static and lazy: each entry names its config schema (a dataclass, cheap
to import) and its builder as "module:function", imported only when something is
built, so `seqlab models` and `seqlab --help` never import torch. Everything the
engine, the tasks and the analyses need to know about a family or a task is a field
here: nothing downstream asks a model or a task what it is (no hasattr, no name
comparisons), so wrapping a model (DDP, torch.compile) changes no answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seqlab.config.models import (
    BigramConfig,
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
    ParityConfig,
    RepeatConfig,
    ReverseConfig,
    SortConfig,
    TinyStoriesConfig,
    TinyStoriesMLMConfig,
    TinyStoriesSwapConfig,
)
from seqlab.errors import SeqlabError

TASK_KINDS = ("lm", "classify", "seq2seq")
"""lm: next token over one sequence; classify: one label per sequence; seq2seq: source -> target.
(The encoder-only family serves `mlm`, masked tokens, and `sequence_classify`, a label read
from the whole sequence: kinds a decoder-only model serves only partly.)"""


def load(target: str) -> Callable[..., Any]:
    """The object a "module:function" string names, imported on first use."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class FlopModel:
    """How `seqlab flops`, flops.json, MFU and reproduce's scheduler count a family."""

    report: str
    """"module:function": (model_cfg, vocab_size, seq_len, batch, h0_grad) -> FlopReport."""
    width_fields: tuple[str, ...]
    """Config fields that take the width D when `seqlab flops --plot` compares families."""
    depth_field: str
    """Config field that takes the depth L there."""
    overrides: tuple[tuple[str, Any], ...] = ()
    """Further config values for that comparison (e.g. no position table)."""
    plot_generate: bool = False
    """Plot the generation FLOPs too (they differ from training's shape: the KV cache)."""
    pairs: bool = False
    """Counts (source, decoder input) pairs: its report also takes `target_len`, and the scaling
    plot, which compares one sequence of T tokens across families, leaves it out."""


@dataclass(frozen=True)
class ModelSpec:
    """One model family."""

    config: type
    """Schema of its conf/model/ entries."""
    builder: str
    """"module:function" (model_cfg, vocab_size) -> nn.Module."""
    summary: str
    """One line for `seqlab models`."""
    serves: tuple[str, ...] = TASK_KINDS
    """Task kinds it can serve (a decoder-only model serves all three)."""
    encoder_decoder: bool = False
    """Takes (source, decoder input) pairs and decodes with `greedy`; else one sequence."""
    bounded_context: bool = False
    """Holds at most model.block_size positions."""
    recurrent: bool = False
    """A recurrent LM whose scratch cells `seqlab gradients` can follow through time."""
    attention_maps: bool = False
    """Can return its attention weights (`seqlab attention`)."""
    explicit_impl: tuple[tuple[str, Any], ...] = ()
    """Config values selecting the implementation whose every matmul FlopCounterMode sees
    (scratch cells, manual attention); the same weights load into it."""
    flops: FlopModel | None = None
    """Its FLOP model; None: no flops.json, no MFU, and `seqlab flops` says so."""

    def build(self, model_cfg: Any, vocab_size: int) -> Any:
        return load(self.builder)(model_cfg, vocab_size)


@dataclass(frozen=True)
class TaskSpec:
    """One task."""

    config: type
    """Schema of its conf/task/ entries."""
    builder: str
    """"module:function" (task_cfg) -> Task."""
    summary: str
    """One line for `seqlab tasks`."""
    kind: str = "lm"
    """Which models can serve it: one of TASK_KINDS."""
    corpus: bool = False
    """Reads a text corpus (task.source) that `seqlab eval` can score a run on."""
    window_field: str | None = "seq_len"
    """Config field with the tokens per training window (`seqlab flops`, reproduce's costs)."""
    vocab_hint: int = 86
    """Vocabulary size assumed before any data is read (TinyStories' characters + unknown)."""
    vocab_size: str | None = None
    """"module:function" (task_cfg) -> the vocabulary size its config fixes (generated symbols);
    None: vocab_hint."""
    example_lengths: str | None = None
    """"module:function" (task_cfg) -> (source, target) tokens of one example, for a task of
    pairs: FLOPs counted from the config alone (`seqlab flops`, reproduce's costs)."""


_RECURRENT = dict(recurrent=True, explicit_impl=(("impl", "scratch"),))


def _recurrent_flops(family: str) -> FlopModel:
    return FlopModel(f"seqlab.flops.recurrent:{family}_flops", ("embed_size", "hidden_size"), "num_layers")


MODELS: dict[str, ModelSpec] = {
    "bigram": ModelSpec(
        BigramConfig, "seqlab.models.bigram:build_bigram",
        "bigram baseline: next-token logits from the current token alone (a V x V table)"),
    "gru": ModelSpec(
        GRUConfig, "seqlab.models.gru:build_gru",
        "GRU language model (Cho et al. 2014); impl=fused (nn.GRU) or scratch (seed equations)",
        flops=_recurrent_flops("gru"), **_RECURRENT),
    "rnn": ModelSpec(
        RNNConfig, "seqlab.models.rnn:build_rnn",
        "Elman RNN language model, tanh or relu, any depth; impl=fused (nn.RNN) or scratch",
        flops=_recurrent_flops("rnn"), **_RECURRENT),
    "lstm": ModelSpec(
        LSTMConfig, "seqlab.models.lstm:build_lstm",
        "LSTM language model (Hochreiter & Schmidhuber 1997); impl=fused (nn.LSTM) or scratch",
        flops=_recurrent_flops("lstm"), **_RECURRENT),
    "transformer": ModelSpec(
        TransformerConfig, "seqlab.models.transformer:build_transformer",
        "nanoGPT-style decoder-only transformer; attention=sdpa|manual, KV-cached generation",
        serves=(*TASK_KINDS, "mlm"),  # causal=false reads both sides: masked-token modelling
        bounded_context=True, attention_maps=True, explicit_impl=(("attention", "manual"),),
        flops=FlopModel("seqlab.flops.transformer:transformer_flops", ("n_embd",), "n_layer",
                        overrides=(("n_head", 1), ("block_size", 10**9), ("pos_encoding", "none")),
                        plot_generate=True)),
    "seq2seq_rnn": ModelSpec(
        Seq2SeqRNNConfig, "seqlab.models.seq2seq:build_seq2seq_rnn",
        "RNN/GRU/LSTM encoder -> decoder, attention=none|bahdanau|dot, optional Bi-RNN encoder",
        serves=("seq2seq",), encoder_decoder=True,
        flops=FlopModel("seqlab.flops.seq2seq_rnn:seq2seq_rnn_flops", ("embed_size", "attn_size", "hidden_size"),
                        "num_layers", pairs=True)),
    "seq2seq_transformer": ModelSpec(
        Seq2SeqTransformerConfig, "seqlab.models.seq2seq:build_seq2seq_transformer",
        "transformer encoder (bidirectional) + decoder (causal self-attn, cross-attn, MLP)",
        serves=("seq2seq",), encoder_decoder=True, bounded_context=True, explicit_impl=(("attention", "manual"),),
        flops=FlopModel("seqlab.flops.seq2seq_transformer:seq2seq_transformer_flops", ("n_embd",), "n_layer",
                        overrides=(("n_head", 1), ("block_size", 10**9), ("pos_encoding", "none")), pairs=True)),
    "encoder": ModelSpec(
        EncoderConfig, "seqlab.models.encoder:build_encoder",
        "BERT-style encoder-only transformer: bidirectional blocks, masked-token and classification heads",
        serves=("mlm", "sequence_classify"), bounded_context=True, explicit_impl=(("attention", "manual"),),
        flops=FlopModel("seqlab.flops.encoder:encoder_flops_report", ("n_embd",), "n_layer",
                        overrides=(("n_head", 1), ("block_size", 10**9), ("pos_encoding", "none")))),
}

_SYNTHETIC = "seqlab.tasks.synthetic:build_synthetic"
_SYMBOLS = dict(window_field="length", vocab_size="seqlab.tasks.synthetic_data:config_vocab_size")
_PAIRS = dict(kind="seq2seq", example_lengths="seqlab.tasks.synthetic_data:example_lengths", **_SYMBOLS)

TASKS: dict[str, TaskSpec] = {
    "tinystories": TaskSpec(
        TinyStoriesConfig, "seqlab.tasks.tinystories:build_tinystories",
        "language modelling on TinyStories: characters, bytes or BPE tokens (datasets.load_dataset)",
        corpus=True),
    "first_token": TaskSpec(FirstTokenConfig, _SYNTHETIC,
                            "label = the first of T random symbols, read at the last position (seed 000)",
                            kind="classify", **_SYMBOLS),
    "parity": TaskSpec(ParityConfig, _SYNTHETIC, "label = parity of T random bits (odd count of ones)",
                       kind="classify", **_SYMBOLS),
    "copy": TaskSpec(CopyConfig, _SYNTHETIC, "target = the source (T random symbols)", **_PAIRS),
    "reverse": TaskSpec(ReverseConfig, _SYNTHETIC, "target = the source reversed", **_PAIRS),
    "sort": TaskSpec(SortConfig, _SYNTHETIC, "target = the source sorted", **_PAIRS),
    "assoc_recall": TaskSpec(AssocRecallConfig, _SYNTHETIC, "k1 v1 ... kP vP q -> the value of key q",
                             **_PAIRS),
    "repeat": TaskSpec(RepeatConfig, "seqlab.tasks.synthetic:build_repeat",
                       "next character of a periodic string, the seed's 'abca abca ...' (seed 000)"),
    "tinystories_mlm": TaskSpec(TinyStoriesMLMConfig, "seqlab.tasks.mlm:build_tinystories_mlm",
                                "masked character modelling on TinyStories (15% selected, 80/10/10)", kind="mlm"),
    "tinystories_swap": TaskSpec(TinyStoriesSwapConfig, "seqlab.tasks.word_swap:build_tinystories_swap",
                                 "TinyStories window: real, or two words swapped? (labelled, for fine-tuning)",
                                 kind="sequence_classify"),
}


def _lookup(table: dict[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise SeqlabError(f"unknown {what} '{name}'; known: {', '.join(sorted(table))}") from None


def model_spec(name: str) -> ModelSpec:
    """The family called `name`, or a SeqlabError listing the known ones."""
    return _lookup(MODELS, name, "model")


def task_spec(name: str) -> TaskSpec:
    """The task called `name`, or a SeqlabError listing the known ones."""
    return _lookup(TASKS, name, "task")


def build_model(model_cfg: Any, vocab_size: int) -> Any:
    """Build the model `model_cfg.name` names, for a vocabulary of `vocab_size` tokens."""
    return model_spec(model_cfg.name).build(model_cfg, vocab_size)


def build_task(task_cfg: Any) -> Any:
    """Build the task `task_cfg.name` names."""
    return load(task_spec(task_cfg.name).builder)(task_cfg)


def explicit_config(model_cfg: Any) -> Any:
    """`model_cfg` with its family's explicit implementation (same weights, every matmul visible)."""
    from omegaconf import OmegaConf

    return OmegaConf.merge(OmegaConf.create(model_cfg), dict(model_spec(model_cfg.name).explicit_impl))


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


def pair(model_cfg: Any, task: Any) -> ModelSpec:
    """Check that the model can serve the built `task` and tell the task how it is fed.

    Fails before any weights exist when the task's kind is not served, or when one example
    needs more positions than a bounded model holds; returns the model's spec.
    """
    spec = model_spec(model_cfg.name)
    check_serves(model_cfg.name, task.name, task.kind)
    task.bind_model(spec.encoder_decoder, model_cfg.block_size if spec.bounded_context else None)
    need = task.context_length()
    if spec.bounded_context and need is not None and need > model_cfg.block_size:
        raise SeqlabError(f"task '{task.name}' needs {need} positions per example; model.block_size is "
                          f"{model_cfg.block_size}: raise model.block_size or lower task.length")
    return spec


def check_serves(model_name: str, task_name: str, kind: str | None = None) -> None:
    """A SeqlabError when the model family cannot serve the task's kind."""
    spec = model_spec(model_name)
    kind = kind or task_spec(task_name).kind
    if kind not in spec.serves:
        can = sorted(t for t, s in TASKS.items() if s.kind in spec.serves)
        raise SeqlabError(f"model '{model_name}' cannot serve task '{task_name}' ({kind}); it serves "
                          f"{'/'.join(spec.serves)} tasks: {', '.join(can)}")
