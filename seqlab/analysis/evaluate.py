"""`seqlab eval`: a trained language-model run scored on any TinyStories-shaped text source.

The text is read with the loader training uses (seqlab.tasks.tinystories), encoded with
the checkpoint's vocabulary and cut into the windows CharLMTask evaluates, so pointing it
at the run's own source, split and batch count reproduces the run's validation loss.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqlab.config.validate import PRECISIONS
from seqlab.errors import SeqlabError

SPLITS = ("validation", "test", "train")


def parse_batches(batches: str | int | None) -> int | None:
    """'all' -> None (the whole split, in order); 'N' -> N evenly spaced batches."""
    if isinstance(batches, int):
        value = batches
    elif str(batches).strip().lower() == "all":
        return None
    else:
        try:
            value = int(str(batches))
        except ValueError:
            raise SeqlabError(f"--batches must be a positive number or 'all', got '{batches}'") from None
    if value < 1:
        raise SeqlabError(f"--batches must be a positive number or 'all', got '{batches}'")
    return value


def eval_command(run: Path, source: str | None, split: str, checkpoint: str, batches: str | None,
                 fmt: str, device: str, precision: str | None = None) -> dict[str, Any]:
    """Evaluate RUN's checkpoint on SOURCE's SPLIT, print the result, and return it.

    `batches=None` uses the run's own trainer.eval_batches and `precision=None` its
    trainer.precision (what its evaluations used).
    """
    if split not in SPLITS:
        raise SeqlabError(f"--split must be one of {', '.join(SPLITS)}, got '{split}'")
    if checkpoint not in ("last", "best"):
        raise SeqlabError(f"--checkpoint must be last or best, got '{checkpoint}'")
    if fmt not in ("text", "json"):
        raise SeqlabError(f"--format must be text or json, got '{fmt}'")
    if precision is not None and precision not in PRECISIONS:
        raise SeqlabError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    from seqlab.engine.device import resolve_device
    from seqlab.engine.precision import check_precision
    from seqlab.registry import TASKS
    from seqlab.runs.checkpoint import load_checkpoint

    dev = resolve_device(device)
    ckpt = load_checkpoint(run, checkpoint, dev)
    config = ckpt.meta.get("config") or {}
    task_cfg, trainer = config.get("task") or {}, config.get("trainer") or {}
    task_name = task_cfg.get("name", "?")
    spec = TASKS.get(task_name)
    if spec is None or not spec.corpus or spec.kind != "lm":
        kind = spec.kind if spec else "unknown"
        raise SeqlabError(f"seqlab eval scores language-model runs on text; '{run}' is a {task_name} "
                          f"({kind}) run: its own evaluation is in metrics.jsonl")
    num_batches = parse_batches(batches if batches is not None else trainer.get("eval_batches", 100))
    setting = "--precision" if precision else "the run's trainer.precision"
    precision = precision or trainer.get("precision", "fp32")
    check_precision(precision, dev, setting)
    source = source or task_cfg["source"]
    seq_len, batch_size = int(task_cfg["seq_len"]), int(trainer.get("batch_size", 32))
    # The same caps as training, so the run's own split gives the very same array.
    limit = task_cfg.get("max_chars") if split == "train" else task_cfg.get("val_max_chars")
    result = score(ckpt.model, ckpt.vocab, source, split, limit, seq_len, batch_size, num_batches, dev, precision)
    result = {"run": str(run), "checkpoint": checkpoint, "step": ckpt.meta.get("step"), **result}
    print_result(result, fmt)
    return result


def score(model: Any, vocab: Any, source: str, split: str, limit: int | None, seq_len: int,
          batch_size: int, num_batches: int | None, device: Any, precision: str = "fp32") -> dict[str, Any]:
    """Loss and bits per char of `model` on one split of `source` (CharLMTask windows)."""
    import torch

    from seqlab.data.text_files import split_text
    from seqlab.engine.precision import autocast
    from seqlab.tasks.char_lm import CharLMTask

    text = split_text(source, split, limit)  # a folder or hub name, or one file that is the split
    data = vocab.encode(text)
    if len(data) < seq_len + 2:
        raise SeqlabError(f"split '{split}' of '{source}' has {len(data)} tokens; one window of "
                          f"seq_len={seq_len} needs at least {seq_len + 2}")
    # CharLMTask evaluates its validation array; the train array is unused here.
    task = CharLMTask(data, data, vocab, seq_len)
    with autocast(precision, torch.device(device)):
        metrics = task.evaluate(model, batch_size, num_batches, device)
    last = len(data) - seq_len - 1
    windows = last // seq_len + 1 if num_batches is None else min(num_batches * batch_size, last + 1)
    return {
        "source": source, "split": split, "batches": "all" if num_batches is None else num_batches,
        "batch_size": batch_size, "seq_len": seq_len, "precision": precision, "loss": metrics["val_loss"], "bpc": metrics["val_bpc"],
        "bpb": metrics["val_bpb"], "unknown_chars": vocab.count_unknown(data), "split_chars": len(text),
        "tokens": windows * seq_len,
    }


def print_result(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":  # one line: easy to collect from many runs with a shell loop
        print(json.dumps(result))
        return
    how = ("the whole split once, in order" if result["batches"] == "all"
           else f"{result['batches']} evenly spaced batches")
    share = result["unknown_chars"] / max(result["split_chars"], 1)
    print(f"run          {result['run']} ({result['checkpoint']} checkpoint, step {result['step']})")
    print(f"data         {result['source']}, split {result['split']}: {how} "
          f"(batch {result['batch_size']}, seq_len {result['seq_len']})")
    print(f"loss         {result['loss']:.4f} nats/token")
    print(f"bits/char    {result['bpc']:.4f}")
    print(f"bits/byte    {result['bpb']:.4f}")
    print(f"unknown      {result['unknown_chars']:,} of {result['split_chars']:,} characters ({share:.3%})")
    print(f"tokens       {result['tokens']:,} evaluated")
