"""What a run should say before it starts: settings that are valid but probably not meant.

Each warning is one line, logged on the `seqlab` logger: Hydra's job logging (conf/config.yaml)
prints warnings on stderr and writes everything into the run folder's train.log, which also
gets the run's command line and folder, so the log says how the run was started.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from omegaconf import OmegaConf

log = logging.getLogger("seqlab")


def config_warnings(cfg: Any) -> list[str]:
    """One line per setting that trains something other than the user probably expects."""
    from seqlab.registry import MODELS, TASKS

    warnings = []
    model, task = MODELS.get(cfg.model.get("name")), TASKS.get(cfg.task.get("name"))
    language_model = model is not None and task is not None and task.kind == "lm" and "lm" in model.serves
    if language_model and cfg.model.get("causal", True) is False:
        warnings.append(f"model.causal=false on the language-model task '{cfg.task.name}': every position sees "
                        "the next character it predicts (the loss will look good and mean little)")
    block = OmegaConf.select(cfg, "model.block_size")
    seq_len = OmegaConf.select(cfg, "task.seq_len")
    if language_model and task.corpus and isinstance(block, int) and isinstance(seq_len, int) and seq_len < block:
        # A decoder trained on windows of seq_len never sees positions seq_len..block-1:
        # their embeddings stay random and free-text samples fall apart after seq_len characters.
        warnings.append(f"task.seq_len={seq_len} is shorter than model.block_size={block}: positions "
                        f"{seq_len}-{block - 1} never train and samples degrade after {seq_len} characters; "
                        f"train with task.seq_len={block} (or set model.block_size={seq_len})")
    return warnings


def announce_run(cfg: Any, run_dir: Any) -> None:
    """Log the command line and folder (train.log) and the config warnings (stderr and train.log)
    of a checked config (seqlab/launch/preflight.py)."""
    log.info("seqlab %s", " ".join(sys.argv[1:]))
    log.info("run folder: %s", run_dir)
    for line in config_warnings(cfg):
        log.warning(line)
