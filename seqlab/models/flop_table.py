"""The shape of a FLOP report: one row per model component, totals, conventions.

Every family's FLOP model (seqlab/models/<family>/flops.py, named on its registry spec) fills
these rows; `seqlab flops`, flops.json, MFU and reproduce's scheduler read them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

CONVENTIONS = [
    "an (A×B)(B×C) matmul counts 2·A·B·C FLOPs (half multiplies, half adds); only matmuls are counted",
    "excluded: biases, LayerNorm, softmax, masking, nonlinearities, gate arithmetic, dropout, "
    "the loss and the embedding lookup (0 FLOPs: a table read)",
    "backward = 2 × forward per matmul (input gradient + weight gradient); training = forward + backward",
    "generate: T tokens fed one at a time (RNN: hidden state; transformer: KV cache, step t attends to t positions)",
    "sequential: matmuls on the critical path; matmuls that can run side by side count once",
    "FLOPs are for the whole batch (B sequences of T tokens); sequential counts do not grow with B",
]


@dataclass
class Row:
    """One component: FLOPs (whole batch), sequential matmuls, parameters."""

    component: str
    key: str
    params: int = 0
    forward: int = 0
    backward: int = 0
    generate: int = 0
    seq_forward: int = 0
    seq_backward: int = 0
    seq_generate: int = 0
    in_total: bool = True  # False for the "needed" causal row, shown for comparison only
    measured_forward: int | None = None
    measured_training: int | None = None

    @property
    def training(self) -> int:
        return self.forward + self.backward

    @property
    def seq_training(self) -> int:
        return self.seq_forward + self.seq_backward

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "training": self.training, "seq_training": self.seq_training}


@dataclass
class FlopReport:
    """The FLOP table of one model config at one (T, B)."""

    model: str
    seq_len: int
    batch: int
    vocab_size: int
    dims: dict[str, int]
    rows: list[Row]
    formulas: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured: dict[str, Any] | None = None
    target_len: int | None = None
    """Decoder tokens per pair for an encoder-decoder (seq_len is then the source's); None: one sequence."""

    @property
    def tokens(self) -> int:
        """Tokens per example, as the engine counts them: the sequence, or source + decoder input."""
        return self.seq_len + (self.target_len or 0)

    @property
    def total(self) -> Row:
        rows = [r for r in self.rows if r.in_total]
        sums = {f: sum(getattr(r, f) for r in rows) for f in
                ("params", "forward", "backward", "generate", "seq_forward", "seq_backward", "seq_generate")}
        meas = self.measured or {}
        return Row("total", "total", **sums, measured_forward=meas.get("forward"),
                   measured_training=meas.get("training"))

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "seq_len": self.seq_len, "target_len": self.target_len, "batch": self.batch,
                "vocab_size": self.vocab_size, "dims": self.dims, "conventions": CONVENTIONS,
                "rows": [r.to_dict() for r in self.rows], "total": self.total.to_dict(),
                "formulas": self.formulas, "notes": self.notes, "measured": self.measured}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def n(x: float) -> str:
    """1,234,567: FLOP counts in formulas and notes."""
    return f"{x:,.0f}"


def pair_lengths(seq_len: int, target_len: int | None) -> tuple[int, int, str]:
    """An encoder-decoder's source length S, decoder length T (default: S) and the note saying so."""
    T = target_len or seq_len
    return seq_len, T, (f"S = {seq_len} source and T = {T} decoder tokens per pair"
                        + ("" if target_len else " (T = S unless --target-len says otherwise)"))
