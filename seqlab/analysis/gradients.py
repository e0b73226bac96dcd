"""Gradient flow through time: ||dL_T/dh_t|| for t = 1..T, L_T the loss at the last step only.

Backpropagation through time multiplies the gradient by one step Jacobian
dh_{t+1}/dh_t per step back. For an Elman RNN with identity activation that Jacobian is
W_hh^T, so the norm changes like rho(W_hh)^(T-t): it vanishes for rho < 1 and explodes
for rho > 1 (exactly, when W_hh is a scaled orthogonal matrix). Gated cells replace it
with a data-dependent Jacobian that a trained model can keep near 1.

The measurement runs the scratch path (ScratchRecurrent stepping the project's own
cells), so every h_t is a tensor of the graph; a fused model's weights are copied into
its scratch twin first (the parameter names and layouts are the same). A recurrent family
that is not stepped on scratch cells (minGRU, minLSTM) declares a `trace` on its spec
instead: the function that returns its top layer's h_t as tensors of the graph.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.models.recurrent.shell import RecurrentLM, ScratchRecurrent


@dataclass
class Flow:
    """The measured gradient norms of one model."""

    label: str
    norms: list[float]
    """norms[t-1] = batch mean of ||dL_T/dh_t|| (top layer), t = 1..T."""
    layers: int = 1

    @property
    def factor(self) -> float:
        return decay_factor(self.norms)


def decay_factor(norms: list[float]) -> float:
    """Per-step factor going back in time, from a least-squares fit of log norm against t.

    < 1: the gradient shrinks by that factor per step back (vanishing); > 1: it grows.
    For norms = c * rho^(T-t) it returns rho exactly.
    """
    points = [(t, math.log(v)) for t, v in enumerate(norms, 1) if v > 0 and math.isfinite(v)]
    if len(points) < 2:
        return float("nan")
    mt = sum(t for t, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    slope = sum((t - mt) * (y - my) for t, y in points) / sum((t - mt) ** 2 for t, _ in points)
    return math.exp(-slope)


def scratch_twin(model: nn.Module, model_cfg: Any, vocab_size: int) -> nn.Module:
    """A copy of `model` on its family's scratch cells, holding the same weights (the registry
    says which families are recurrent and which config selects their scratch path; a family
    with a `trace` has none and is copied as it is)."""
    from seqlab.registry import MODELS, build_model, explicit_config, model_spec

    if not model_spec(model_cfg.name).recurrent:
        can = ", ".join(name for name, spec in MODELS.items() if spec.recurrent)
        raise SeqlabError(f"gradient flow needs a recurrent model ({can}), not {model_cfg.name}")
    twin = build_model(explicit_config(model_cfg), vocab_size)
    twin.load_state_dict(model.state_dict(), strict=True)
    return twin


def depth(model_cfg: Any) -> int:
    """Stacked layers: the config field the family's FLOP model names as its depth (else 1)."""
    from seqlab.registry import model_spec

    fm = model_spec(model_cfg.name).flops
    return int(model_cfg.get(fm.depth_field, 1)) if fm is not None else 1


def scratch_states(model: RecurrentLM, idx: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(logits, the top layer's h_1..h_T) of a model on scratch cells, each h_t recorded as its
    cell returns it."""
    core: ScratchRecurrent = model.core
    states: list[torch.Tensor] = []
    step = core.cell

    def recording_cell(x: torch.Tensor, state: Any, *params: Any) -> tuple[Any, Any]:
        new, extras = step(x, state, *params)
        states.append(new[0] if core.cell_state else new)  # h_t (the LSTM's c_t is not h)
        return new, extras

    core.cell = recording_cell  # an instance attribute: the original model is untouched
    logits, _ = model(idx)
    return logits, states[-idx.shape[1]:]  # layers run one after another: the last T are the top's


def gradient_norms(model: nn.Module, tokens: torch.Tensor, trace: str | None = None) -> list[float]:
    """Batch mean of ||dL_T/dh_t|| for the top layer's h_1..h_T; tokens is (B, T+1).
    `model` runs on scratch cells (`scratch_twin` of a fused model, or `spectral_rnn`), or
    `trace` ("module:function", the family's ModelSpec.trace) returns its hidden states."""
    from seqlab.models.spec import load

    # float64: a vanilla RNN's gradient at t = 1 underflows float32 for T = 100; eval: no dropout
    twin = copy.deepcopy(model).double().eval()
    T = tokens.shape[1] - 1
    logits, top = (load(trace) if trace else scratch_states)(twin, tokens[:, :T])
    # Sum over the batch so each sequence's gradient is that of its own loss L_T.
    loss = nn.functional.cross_entropy(logits[:, -1], tokens[:, T], reduction="sum")
    grads = torch.autograd.grad(loss, top)
    return torch.stack([g.norm(dim=-1) for g in grads]).mean(dim=1).tolist()


def random_tokens(vocab_size: int, batch: int, seq_len: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, seq_len + 1), generator=g)


def read_text(path: Path, max_chars: int = 2_000_000) -> str:
    """A plain text file, or a .jsonl with a `text` field per line (TinyStories' layout)."""
    path = Path(path)
    if not path.is_file():
        raise SeqlabError(f"--text: no such file '{path}'")
    if path.suffix != ".jsonl":
        return path.read_text(encoding="utf-8", errors="replace")[:max_chars]
    parts, size = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                parts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                raise SeqlabError(f"--text: '{path}' is not JSON lines with a 'text' field") from None
            size += len(parts[-1])
            if size >= max_chars:
                break
    return "\n".join(parts)


def text_tokens(ids: Any, batch: int, seq_len: int, seed: int = 0) -> torch.Tensor:
    """`batch` windows of seq_len + 1 ids at random offsets of an encoded text."""
    ids = torch.as_tensor(ids.astype("int64"))
    if len(ids) < seq_len + 2:
        raise SeqlabError(f"--text has {len(ids)} characters; --seq-len {seq_len} needs more")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - seq_len - 1, (batch,), generator=g)
    return torch.stack([ids[s:s + seq_len + 1] for s in starts.tolist()])


def spectral_rnn(vocab_size: int, radius: float, activation: str = "tanh", embed: int = 64,
                 hidden: int = 256, orthogonal: bool = False, bias: bool = True, seed: int = 0) -> RecurrentLM:
    """A one-layer scratch Elman LM whose W_hh has spectral radius `radius`.

    `orthogonal`: W_hh = radius * Q with Q orthogonal, so every singular value is `radius`
    and (with identity activation) ||dL_T/dh_t|| = rho^(T-t) ||dL_T/dh_T|| exactly; else
    the default random init rescaled, whose rate tends to rho only over many steps.
    """
    from seqlab.models.recurrent.rnn import ACTIVATIONS, elman_cell

    acts = {**ACTIVATIONS, "identity": lambda v: v}
    if activation not in acts:
        raise SeqlabError(f"--activation must be one of {', '.join(acts)}, got '{activation}'")
    torch.manual_seed(seed)
    core = ScratchRecurrent(elman_cell(acts[activation]), 1, embed, hidden, 1, bias)
    with torch.no_grad():
        w = core.weight_hh_l0
        if orthogonal:
            nn.init.orthogonal_(w)
            w.mul_(radius)
        else:
            w.mul_(radius / torch.linalg.eigvals(w).abs().max())
    return RecurrentLM(vocab_size, embed, hidden, core)


class Inputs:
    """Where the token sequences come from: random ids, or windows of a text file."""

    def __init__(self, batch: int, seq_len: int, seed: int = 0, text: Path | None = None,
                 vocab_size: int = 86) -> None:
        if seq_len < 1 or batch < 1:
            raise SeqlabError("--seq-len and --batch-size must be at least 1")
        self.batch, self.seq_len, self.seed, self.vocab_size = batch, seq_len, seed, vocab_size
        self.text = read_text(text) if text is not None else None
        self._vocab = None

    def vocab(self) -> Any:
        """The text's own character vocabulary, for random-init models reading real text."""
        from seqlab.data.tokenizers.char import CharVocab

        if self.text is not None and self._vocab is None:
            self._vocab = CharVocab.from_text(self.text)
        return self._vocab

    def tokens(self, vocab: Any = None) -> torch.Tensor:
        """(B, T+1) ids; the same windows (same seed) for every model."""
        if self.text is None:
            size = len(vocab) if vocab is not None else self.vocab_size
            return random_tokens(size, self.batch, self.seq_len, self.seed)
        vocab = vocab if vocab is not None else self.vocab()
        return text_tokens(vocab.encode(self.text), self.batch, self.seq_len, self.seed)


def split_models(overrides: list[str]) -> tuple[list[str], list[str]]:
    """`model=rnn,gru` (or repeated model=...) -> the model names, and the other overrides."""
    names = [n for o in overrides if o.startswith("model=") for n in o[6:].split(",") if n]
    return names, [o for o in overrides if not o.startswith("model=")]


def measure(overrides: list[str], inputs: Inputs, runs: list[Path] = (), which: str = "last",
            with_init: bool = False, seed: int = 0) -> list[Flow]:
    """Flows of each `model=` config at random init, then of each trained run folder."""
    from omegaconf import OmegaConf

    from seqlab.config.compose import compose
    from seqlab.registry import build_model, explicit_config
    from seqlab.runs.checkpoint import load_checkpoint

    names, rest = split_models(overrides)
    vocab = inputs.vocab()
    flows = []
    for name in names:
        cfg = compose([f"model={name}", *rest])
        torch.manual_seed(seed)
        size = len(vocab) if vocab is not None else inputs.vocab_size
        model = scratch_twin(build_model(cfg.model, size), cfg.model, size)
        flows.append(_flow(name, model, cfg.model, inputs.tokens(vocab)))
    for run in runs:
        ckpt = load_checkpoint(run, which)
        model_cfg = OmegaConf.create(ckpt.meta["config"]["model"])
        label = f"{model_cfg.name} (step {ckpt.meta.get('step', '?')})"
        if with_init:  # the same config freshly initialised, on the same sequences
            torch.manual_seed(seed)
            fresh = build_model(explicit_config(model_cfg), len(ckpt.vocab))
            flows.append(_flow(f"{model_cfg.name} (init)", fresh, model_cfg, inputs.tokens(ckpt.vocab)))
        trained = scratch_twin(ckpt.model, model_cfg, len(ckpt.vocab))
        flows.append(_flow(label, trained, model_cfg, inputs.tokens(ckpt.vocab)))
    return flows


def _flow(label: str, model: nn.Module, model_cfg: Any, tokens: torch.Tensor) -> Flow:
    """The flow of one model (a scratch twin, or a family with a `trace`) on `tokens`."""
    from seqlab.registry import model_spec

    return Flow(label, gradient_norms(model, tokens, model_spec(model_cfg.name).trace), depth(model_cfg))


def sweep_spectral(inputs: Inputs, radii: list[float], activation: str = "tanh", orthogonal: bool = False,
                   embed: int = 64, hidden: int = 256, seed: int = 0) -> tuple[list[Flow], dict[str, float]]:
    """Flows of Elman RNNs with W_hh rescaled to each spectral radius; label -> rho for the plot."""
    vocab = inputs.vocab()
    size = len(vocab) if vocab is not None else inputs.vocab_size
    flows, reference = [], {}
    for rho in radii:
        label = f"rnn {activation} rho={rho:g}"
        model = spectral_rnn(size, rho, activation, embed, hidden, orthogonal, seed=seed)
        flows.append(Flow(label, gradient_norms(model, inputs.tokens(vocab))))
        reference[label] = rho
    return flows, reference


def plot_flows(flows: list[Flow], path: Path, title: str, reference: dict[str, float] | None = None,
               styles: dict[str, str] | None = None) -> Path:
    """All models' ||dL_T/dh_t|| against t on one log-scale figure.

    `reference`: label -> rho, drawn as a dotted rho^(T-t) line through that curve's h_T.
    `styles`: label -> line style (e.g. dashed for the random-init twins of trained runs).
    """
    from seqlab.plots import new_figure, save_figure

    fig, axes = new_figure(1, 1, (8, 4.8))
    ax = axes[0][0]
    colors: dict[str, str] = {}
    for flow in flows:
        family = flow.label.split(" (")[0]  # "gru (init)" and "gru (step 1000)" share a colour
        color = colors.setdefault(family, f"C{len(colors)}")
        T = len(flow.norms)
        ax.semilogy(range(1, T + 1), flow.norms, (styles or {}).get(flow.label, "-"), color=color, lw=1.8,
                    label=f"{flow.label}: x{flow.factor:.3f}/step")
        if reference and flow.label in reference:
            rho = reference[flow.label]
            ax.semilogy(range(1, T + 1), [flow.norms[-1] * rho ** (T - t) for t in range(1, T + 1)],
                        ":", color=color, lw=1, label=f"rho^(T-t), rho={rho:g}")
    ax.set_xlabel("t (time step; the loss is at t = T)")
    ax.set_ylabel("||dL_T / dh_t||  (batch mean)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def save_numbers(flows: list[Flow], path: Path, info: dict[str, Any]) -> Path:
    """The norms and factors as JSON beside the figure, for comparisons across runs."""
    data = {**info, "models": [{"label": f.label, "layers": f.layers, "factor_per_step": f.factor,
                                "norms": f.norms} for f in flows]}
    path = Path(path)
    path.write_text(json.dumps(data, indent=1))
    return path


def flows_table(flows: list[Flow]) -> Any:
    """A rich table of the numbers behind the plot."""
    from rich.table import Table

    table = Table(title="||dL_T/dh_t||, L_T = loss at the last step (top layer's h_t)")
    for name in ("model", "layers", "t = T", "t = T-10", "t = 1", "factor / step", "half-life (steps)"):
        table.add_column(name, justify="left" if name == "model" else "right")
    for f in flows:
        T, k = len(f.norms), f.factor
        half = ("flat" if abs(k - 1) < 1e-3 else "grows" if k > 1
                else f"{math.log(0.5) / math.log(k):.1f}" if k > 0 else "-")
        mid = f"{f.norms[T - 11]:.3g}" if T > 10 else "-"
        table.add_row(f.label, str(f.layers), f"{f.norms[-1]:.3g}", mid, f"{f.norms[0]:.3g}",
                      f"{k:.4f}", half)
    return table
