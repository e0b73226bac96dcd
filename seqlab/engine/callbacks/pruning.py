"""A search trial's pruning: after each evaluation, the study's pruner may end the run early.

Opt-in: only a run whose config names a study (`study: DIR`, which `seqlab search` gives each
trial) has this callback; an ordinary run has none and pays nothing. A pruned run ends like a
completed one, after the evaluation's checkpoint, with status and stop_reason `pruned`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from seqlab.engine.callbacks import Callback
from seqlab.engine.distributed import all_agree

if TYPE_CHECKING:
    from seqlab.engine.trainer import Trainer

PRUNED = "pruned"


class TrialPruning(Callback):
    """Asks the study in `study` (seqlab/search/pruner.py) at each evaluation before the last
    whether this run goes on; all ranks stop together."""

    def __init__(self, study: Path) -> None:
        self.study = Path(study)

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if trainer.state.step >= trainer.tcfg.max_steps:  # the last evaluation: nothing left to save
            return
        prune = False
        if trainer.is_main:
            from seqlab.search.pruner import should_prune

            try:
                prune = should_prune(self.study, trainer.records)
            except (OSError, ValueError) as err:  # the study folder unreadable: the trial trains on
                warnings.warn(f"step {trainer.state.step}: the study in {self.study} could not be read "
                              f"({err}); this trial is not pruned", stacklevel=2)
        if all_agree(prune, trainer.dist):
            trainer.status = trainer.stop_reason = PRUNED
