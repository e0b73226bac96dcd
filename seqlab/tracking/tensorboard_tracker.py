"""TensorBoard: event files in the run folder's tb/.

Tags are the metrics.jsonl keys themselves (`train_loss`, `val_loss`, `lr`, ...), so a
sweep's runs line up tag by tag under `tensorboard --logdir SWEEP_DIR`. The Custom Scalars
tab draws loss.png's chart (train and validation loss in one plot); the HParams tab gets
the resolved config with the summary's metrics; samples go to the Text tab.
"""

from __future__ import annotations

from typing import Any

from seqlab.tracking.base import Tracker
from seqlab.tracking.run_files import flat_config, scalars, step_samples

# loss.png's two curves in one chart (TensorBoard's own smoothing stands in for the EMA).
LAYOUT = {"loss": {"train and validation loss": ["Multiline", ["train_loss", "val_loss"]]}}
SUMMARY_PREFIX = "summary/"


def hparam_value(value: Any) -> int | float | str | bool:
    """TensorBoard's hparams take numbers, strings and bools; anything else as text."""
    return value if isinstance(value, int | float | str | bool) else str(value)


def markdown_block(text: str) -> str:
    """Indented four spaces: TensorBoard renders text as markdown, this keeps it verbatim."""
    return "\n".join("    " + line for line in text.splitlines())


class TensorBoardTracker(Tracker):
    name = "tensorboard"
    package = "tensorboard"

    writer: Any = None

    def start(self, trainer: Any) -> None:
        from torch.utils.tensorboard import SummaryWriter

        step = trainer.state.step
        # A resumed run redoes the steps after its checkpoint: hide what the first try logged there.
        self.writer = SummaryWriter(str(trainer.run.path / self.cfg.log_dir), purge_step=step + 1 if step else None)
        if not step:
            self.writer.add_custom_scalars(LAYOUT)

    def log(self, trainer: Any, record: dict[str, Any]) -> None:
        for key, value in scalars(record).items():
            self.writer.add_scalar(key, value, record["step"])

    def evaluated(self, trainer: Any, metrics: dict[str, float]) -> None:
        if self.cfg.samples:
            text = step_samples(trainer.run.samples, trainer.state.step)
            if text:
                self.writer.add_text("samples", markdown_block(text), trainer.state.step)

    def finish(self, trainer: Any, summary: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        final = {SUMMARY_PREFIX + k: v for k, v in scalars(summary).items()}
        config = {k: hparam_value(v) for k, v in flat_config(trainer.cfg).items()}
        for event in hparams(config, final):  # the HParams plugin's three events: its experiment, start, end
            self.writer.file_writer.add_summary(event)
        for key, value in final.items():  # the HParams table reads these tags
            self.writer.add_scalar(key, value, trainer.state.step)
        self.writer.close()

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - already failing; nothing more to say
                pass
