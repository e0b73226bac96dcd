"""What a task is and what it needs, declared once: its `TaskSpec`."""

from __future__ import annotations

from dataclasses import dataclass


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
    """Reads a text corpus (task.source): `seqlab prepare` can prepare it, and `seqlab eval` can score a
    language-model (`lm`) run on it."""
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
