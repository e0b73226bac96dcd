"""TinyStories language modelling, loaded through `datasets.load_dataset`.

The same call reads the hub copy (`roneneldan/TinyStories`) or a local folder with
train/validation JSON files. The text is prepared once into flat token files in the cache
(seqlab/data/prepare.py: streamed, any size, `seqlab prepare` does it ahead of training)
and training reads them through `np.memmap`, so a run's memory does not grow with the corpus.
"""

from __future__ import annotations

from typing import Any

from seqlab.data.prepare import prepare
from seqlab.data.text_source import load_split_text
from seqlab.data.tokenizers.char import CharVocab
from seqlab.tasks.char_lm import CharLMTask

__all__ = ["build_tinystories", "load_split_text"]


def build_tinystories(cfg: Any) -> CharLMTask:
    """The task on the prepared token files of `cfg` (prepared now if not in the cache)."""
    entry = prepare(cfg)
    tokenizer = CharVocab.from_json(entry.meta["tokenizer"])
    train, val = entry.split_info("train"), entry.split_info("validation")
    facts = {"unknown_chars": val["unknown"], "train_chars": train["chars"], "val_chars": val["chars"],
             "train_bytes": train["bytes"], "val_bytes": val["bytes"]}
    return CharLMTask(entry.tokens("train"), entry.tokens("validation"), tokenizer, cfg.seq_len, facts=facts)
