"""`seqlab compare --tensorboard DIR`: runs trained without a logger, as one TensorBoard log folder.

Each run becomes a subfolder named after its run folder (a sweep's parent folder is
prefixed when two runs share a name), with every metrics.jsonl scalar under the same tags
the live TensorBoard tracker uses: `tensorboard --logdir DIR` overlays them.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.runs.reader import find_runs, load_run
from seqlab.tracking.base import TRACKING_EXTRA
from seqlab.tracking.run_files import scalars
from seqlab.tracking.tensorboard_tracker import LAYOUT


def run_labels(folders: list[Path]) -> list[str]:
    """Folder names, made unique with their parent's name where two runs share one."""
    names = [f.name for f in folders]
    return [f"{f.parent.name}/{f.name}" if names.count(f.name) > 1 else f.name for f in folders]


def export_tensorboard(paths: list[str], out: Path) -> Path:
    """Write the runs' curves under `out`, one subfolder per run; returns `out`."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SeqlabError(f"--tensorboard needs the tensorboard package: {TRACKING_EXTRA}") from None
    folders, _ = find_runs(paths)
    for folder, label in zip(folders, run_labels(folders)):
        run = load_run(folder, lambda message: None)  # compare has warned about gaps already
        with SummaryWriter(str(out / label)) as writer:
            writer.add_custom_scalars(LAYOUT)
            for record in run.records:
                for key, value in scalars(record).items():
                    writer.add_scalar(key, value, record["step"])
    print(f"wrote {len(folders)} run(s) as TensorBoard logs to {out} (tensorboard --logdir {out})")
    return out
