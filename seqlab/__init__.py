"""seqlab: a command-line experiment runner for sequence models.

From Python, `seqlab.load_run(path)` reads a run folder (seqlab/runs/api.py); importing
seqlab itself loads nothing heavy (no torch): the API is imported on first use.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_run"]


def __getattr__(name: str) -> Any:
    if name == "load_run":
        from seqlab.runs.api import load_run

        return load_run
    raise AttributeError(f"module 'seqlab' has no attribute '{name}'")
