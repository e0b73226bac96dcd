"""Serving the generated tasks to any model: batches, loss masks, greedy decoding, metrics.

A classify task (first_token) feeds the source to a decoder-only model and reads the label
from the last position. A seq2seq task (copy, reverse, sort, assoc_recall) reaches a
decoder-only model as one sequence `source SEP target` with the loss on the target only,
and an encoder-decoder (its registry spec says so; the task is told by `bind_model`) as
the pair (source, `SEP target[:-1]` -> target). Batches are pairs either way, so the same
task serves both.

Length generalisation: training draws one length per batch from task.min_length..task.length
(no padding); each evaluated length is scored on its own test set, and the lengths above
task.length, never trained on, are averaged into val_unseen_acc (Delétang et al. 2023's score:
token accuracy, mean over the unseen lengths).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from seqlab.data.tokenizers.char import CharVocab
from seqlab.models.generate import generate
from seqlab.models.modes import eval_mode
from seqlab.tasks.base import Batch, PairBatch, Task
from seqlab.tasks.synthetic_data import SEP, ExampleSource

Tensor = torch.Tensor
log = logging.getLogger("seqlab")
EVAL_CHUNK = 500  # test examples per forward pass in evaluate


def as_sequence(batch: PairBatch, sep_id: int) -> Batch:
    """`source SEP target` for a decoder-only model: inputs seq[:-1], targets seq[1:] with
    -100 everywhere before the first target token (no loss on the source or on SEP)."""
    B, S = batch.source.shape
    sep = batch.source.new_full((B, 1), sep_id)
    seq = torch.cat([batch.source, sep, batch.target], dim=1)  # (B, S + 1 + Tt)
    targets = seq[:, 1:].clone()
    targets[:, :S] = -100
    return Batch(seq[:, :-1], targets)


def decoder_input(target: Tensor, start_id: int) -> Tensor:
    """Teacher forcing for an encoder-decoder: the decoder reads SEP y1 ... y_{T-1}."""
    return torch.cat([target.new_full((target.size(0), 1), start_id), target[:, :-1]], dim=1)


def task_loss(model: torch.nn.Module, batch: PairBatch, kind: str, sep_id: int,
              encoder_decoder: bool) -> Tensor:
    """Mean cross-entropy on the target tokens, with the model fed as `kind` requires."""
    if kind == "classify":
        logits, _ = model(batch.source)
        return F.cross_entropy(logits[:, -1].float(), batch.target[:, 0])
    if encoder_decoder:
        logits, _ = model(batch.source, decoder_input(batch.target, sep_id))
        return F.cross_entropy(logits.flatten(0, 1).float(), batch.target.flatten())
    seq = as_sequence(batch, sep_id)
    logits, _ = model(seq.inputs)
    return F.cross_entropy(logits.flatten(0, 1).float(), seq.targets.flatten(), ignore_index=-100)


@torch.no_grad()
def predict(model: torch.nn.Module, source: Tensor, steps: int, kind: str, sep_id: int,
            encoder_decoder: bool) -> Tensor:
    """Greedy output (B, steps) for a (B, S) source: argmax at each step, fed back."""
    if kind == "classify":
        return model(source)[0][:, -1:].argmax(-1)
    if encoder_decoder:
        return model.greedy(source, steps, sep_id)[0]
    prompt = torch.cat([source, source.new_full((source.size(0), 1), sep_id)], dim=1)
    return generate(model, prompt, steps, temperature=0)


def context_length(kind: str, source_len: int, target_len: int, encoder_decoder: bool) -> int:
    """Positions the model must hold for one example."""
    if kind == "classify":
        return source_len
    return max(source_len, target_len) if encoder_decoder else source_len + target_len


class SyntheticTask(Task):
    """A generated classify or seq2seq task with a fixed held-out test set per length."""

    headline = "val_seq_acc"

    def __init__(self, name: str, kind: str, data: ExampleSource, vocab: CharVocab, symbol_ids: Tensor,
                 facts: dict[str, Any]) -> None:
        self.name, self.kind, self.data, self.vocab = name, kind, data, vocab
        self.symbol_ids = symbol_ids  # symbol index -> vocab id
        self.sep_id = int(vocab.encode(SEP)[0])
        self.facts = facts
        self.skipped: list[int] = []
        self.acc_by_length: dict[int, float] = {}  # the last evaluation's val_acc per length

    def _batch(self, source: Tensor, target: Tensor) -> PairBatch:
        return PairBatch(self.symbol_ids[source], self.symbol_ids[target])

    def train_batch(self, batch_size: int, generator: torch.Generator) -> PairBatch:
        return self._batch(*self.data.train_examples(batch_size, generator))

    def loss(self, model: torch.nn.Module, batch: PairBatch) -> Tensor:
        return task_loss(model, batch, self.kind, self.sep_id, self.encoder_decoder)

    def context_length(self, length: int | None = None) -> int:
        src, tgt = self.data.test[length or self.data.length]
        return context_length(self.kind, src.size(1), tgt.size(1), self.encoder_decoder)

    def flop_lengths(self) -> tuple[int, int | None]:
        if not self.encoder_decoder:
            return super().flop_lengths()
        src, tgt = self.data.test[self.data.length]
        return src.size(1), tgt.size(1)

    def fits(self, length: int) -> bool:
        return self.block_size is None or self.context_length(length) <= self.block_size

    def _predict(self, model: torch.nn.Module, source: Tensor, steps: int) -> Tensor:
        return predict(model, source, steps, self.kind, self.sep_id, self.encoder_decoder)

    def bind_model(self, encoder_decoder: bool, block_size: int | None = None) -> None:
        """As Task's; lengths of task.eval_lengths the model cannot hold are skipped, said once here."""
        super().bind_model(encoder_decoder, block_size)
        far = [L for L in self.data.lengths if L != self.data.length and not self.fits(L)]
        if far and self.fits(self.data.length):  # else pair() refuses the run itself
            log.warning(f"task.eval_lengths {far} need up to {self.context_length(far[-1])} positions, more than "
                        f"model.block_size ({block_size}): they are not evaluated (raise model.block_size)")

    @property
    def unseen_lengths(self) -> list[int]:
        """The evaluated lengths above the longest trained one."""
        return [L for L in self.data.lengths if L > self.data.length]

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batch_size: int, num_batches: int | None,
                 device: torch.device) -> dict[str, float]:
        """val_loss (teacher forced), val_acc (token) and val_seq_acc (exact) of greedy outputs;
        with several lengths also each as val_*@L, and val_unseen_acc: the mean val_acc over the
        lengths above task.length (absent when one of them is skipped). Lengths the model cannot
        hold are skipped."""
        metrics: dict[str, float] = {}
        self.skipped = [L for L in self.data.lengths if L != self.data.length and not self.fits(L)]
        self.acc_by_length = {}
        with eval_mode(model):
            for L in [L for L in self.data.lengths if L not in self.skipped]:
                n = len(self.data.test[L][0]) if num_batches is None else min(len(self.data.test[L][0]),
                                                                               num_batches * batch_size)
                result = self._score(model, L, n, device)
                self.acc_by_length[L] = result["val_acc"]
                if L == self.data.length:
                    metrics.update(result)
                if len(self.data.lengths) > 1:
                    metrics.update({f"{k}@{L}": v for k, v in result.items()})
            if self.data.train is not None:  # a finite training set: its accuracy too, as seed 000 measured it
                metrics["train_acc"] = self._accuracy(model, *self.data.train, device)
        unseen = self.unseen_lengths
        if unseen and not set(unseen) & set(self.skipped):
            metrics["val_unseen_acc"] = sum(self.acc_by_length[L] for L in unseen) / len(unseen)
        return metrics

    def _accuracy(self, model: torch.nn.Module, src: Tensor, tgt: Tensor, device: torch.device) -> float:
        """Token accuracy of greedy outputs on (src, tgt) symbol ids."""
        right = 0.0
        for i in range(0, len(src), EVAL_CHUNK):
            b = self._batch(src[i:i + EVAL_CHUNK], tgt[i:i + EVAL_CHUNK]).to(device)
            right += (self._predict(model, b.source, b.target.size(1)) == b.target).float().mean(1).sum().item()
        return right / len(src)

    def _score(self, model: torch.nn.Module, length: int, n: int, device: torch.device) -> dict[str, float]:
        """Loss and accuracies over the first n test examples of one length."""
        src, tgt = self.data.test[length]
        loss_sum = tok = seq = 0.0
        for i in range(0, n, EVAL_CHUNK):
            b = self._batch(src[i:min(i + EVAL_CHUNK, n)], tgt[i:min(i + EVAL_CHUNK, n)]).to(device)
            loss_sum += self.loss(model, b).item() * len(b.source)
            right = self._predict(model, b.source, b.target.size(1)) == b.target
            tok += right.float().mean(1).sum().item()
            seq += right.all(1).sum().item()
        return {"val_loss": loss_sum / n, "val_acc": tok / n, "val_seq_acc": seq / n}

    def _decode(self, ids: Tensor) -> str:
        return self.vocab.decode(ids.tolist())

    @torch.no_grad()
    def examples(self, model: torch.nn.Module, n: int, device: torch.device) -> list[str]:
        """The first n test examples: source = target, the model's greedy output, right or not."""
        src, tgt = self.data.test[self.data.length]
        batch = self._batch(src[:n], tgt[:n]).to(device)
        with eval_mode(model):
            pred = self._predict(model, batch.source, batch.target.size(1))
        return [f"{self._decode(s)} {SEP} {self._decode(t)}   model: {self._decode(p)} "
                f"{'ok' if bool((p == t).all()) else 'WRONG'}"
                for s, t, p in zip(batch.source.cpu(), batch.target.cpu(), pred.cpu())]

    @torch.no_grad()
    def write_artifacts(self, model: torch.nn.Module, run_dir: Path, device: torch.device) -> None:
        """alignment.png: output x source attention of an attention encoder-decoder on test example 0."""
        if not self.encoder_decoder:
            return
        src, tgt = self.data.test[self.data.length]
        batch = self._batch(src[:1], tgt[:1]).to(device)
        with eval_mode(model):
            pred, weights = model.greedy(batch.source, batch.target.size(1), self.sep_id)
        if weights is not None:
            plot_alignment(weights[0], self._decode(batch.source[0].cpu()), self._decode(pred[0].cpu()),
                           Path(run_dir) / "alignment.png", f"{self.name}: target {self._decode(batch.target[0].cpu())}")

    def summary(self) -> dict[str, Any]:
        """Facts of the data, and the last evaluation's val_acc per length ({length: acc})."""
        return {"vocab_size": len(self.vocab), "kind": self.kind, **self.facts,
                "train_lengths": [self.data.min_length, self.data.length], "unseen_lengths": self.unseen_lengths,
                "val_acc_by_length": dict(self.acc_by_length), "skipped_eval_lengths": self.skipped}


def plot_alignment(weights: Tensor, source: str, output: str, path: Path, title: str = "") -> Path:
    """Heatmap of (len(output), len(source)) attention weights, rows summing to 1 (Bahdanau Fig. 3)."""
    from seqlab.plots import new_figure, save_figure

    w = weights.detach().float().cpu().numpy()
    side = min(max(0.22 * max(w.shape), 3.0), 12.0)
    fig, axes = new_figure(1, 1, (side + 1.2, side * w.shape[0] / max(w.shape[1], 1) + 1.0), dpi=100)
    ax = axes[0][0]
    im = ax.imshow(w, cmap="gray_r", vmin=0.0, vmax=1.0, aspect="equal")
    ax.set_xticks(range(len(source)), list(source), fontsize=7)
    ax.set_yticks(range(len(output)), list(output), fontsize=7)
    ax.set_xlabel("source position")
    ax.set_ylabel("output (greedy)")
    ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.7)
    return save_figure(fig, path)
