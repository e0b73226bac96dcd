"""Schemas for the `task` config group: one dataclass per task."""

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class TaskConfig:
    """Fields every task has."""

    name: str = MISSING
    """Registry key of the task (`seqlab tasks` lists them)."""
    seq_len: int = 20
    """Tokens per training example (the BPTT length for recurrent models)."""


@dataclass
class TinyStoriesConfig(TaskConfig):
    """Character-level language modelling on TinyStories."""

    name: str = "tinystories"
    source: str = "${oc.env:SEQLAB_TINYSTORIES,'roneneldan/TinyStories'}"
    """What `datasets.load_dataset` gets: a hub name or a local folder with train/validation files."""
    max_chars: int = 10_000_000
    """Use the first N characters of the train split (stories joined by a newline)."""
    val_max_chars: int | None = None
    """Cap on the validation text; None keeps the whole validation split."""
    cache_dir: str = "${oc.env:SEQLAB_CACHE,'~/.cache/seqlab'}"
    """Where encoded arrays are cached, keyed by source, split, max_chars and vocab."""
