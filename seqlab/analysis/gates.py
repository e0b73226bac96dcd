"""The seed homework's two-unit GRU explorer, computed with the project's own `gru_cell`.

Index 0 of the input and hidden state carries data; index 1 is a control channel that
only drives the gates. As in the seed, the reset gate reads the control through
W_xr[0,1] and W_hr[0,1], the update gate through W_xz[0,1] and W_hz[0,1], and the
new content reads the data through W_xn[0,0] and W_hn[0,0]; every other weight and
all biases are zero. So for the data unit:

    r = sigma(W_xr x1 + W_hr h1)     z = sigma(W_xz x1 + W_hz h1)
    n = tanh(W_xn x0 + r W_hn h0)    h_new = (1 - z) n + z h0
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError
from seqlab.plots import new_figure, save_figure


@dataclass(frozen=True)
class GateSettings:
    """Inputs and the six non-zero weights of the two-unit GRU (seed defaults)."""

    x0: float = 0.0
    """Input x[0], the data channel."""
    x1: float = 2.0
    """Input x[1], the control channel (the seed keeps it high, 2.0)."""
    h0: float = 0.0
    """Previous hidden h[0], the data channel."""
    h1: float = 0.0
    """Previous hidden h[1], the control channel."""
    w_xr: float = 3.0
    w_hr: float = 3.0
    w_xz: float = -3.0
    w_hz: float = -3.0
    w_xn: float = 3.0
    w_hn: float = 3.0


@dataclass(frozen=True)
class Preset:
    summary: str
    settings: GateSettings


# The seed's four exercises. Weights are the seed's answers; the data values are picked
# so each picture shows the behaviour (e.g. equal data for the difference).
_BASE = GateSettings()
PRESETS: dict[str, Preset] = {
    "sum": Preset("attenuated sum: n = tanh(3 x0 + 3 r h0), z ~ 0 so h_new ~ n",
                  replace(_BASE, x0=0.2, h0=0.1)),
    "difference": Preset("attenuated difference: W_hn = -3, so n ~ 0 when x0 = h0",
                         replace(_BASE, x0=1.0, h0=1.0, w_hn=-3.0)),
    "memory": Preset("perfect memory: W_xz = W_hz = 3, z ~ 1 so h_new ~ h0",
                     replace(_BASE, x0=1.0, h0=-0.5, w_xz=3.0, w_hz=3.0)),
    "input-only": Preset("input only: W_xr = W_hr = -3, r ~ 0 so n ignores h0",
                         replace(_BASE, x0=0.3, h0=1.5, w_xr=-3.0, w_hr=-3.0)),
}

LABELS = ("x[0]\ninput", "h[0]\nold h", "r[0]\nreset", "z[0]\nupdate", "n[0]\ncontent",
          "h_new[0]\nnew h")
KEYS = ("x0", "h0", "r0", "z0", "n0", "h_new0")
COLORS = ("tab:blue", "tab:gray", "lightblue", "lightgreen", "orange", "tab:red")


def get_preset(name: str) -> GateSettings:
    """The settings of preset `name`, or a SeqlabError naming the presets."""
    try:
        return PRESETS[name].settings
    except KeyError:
        raise SeqlabError(f"unknown preset '{name}'; known: {', '.join(PRESETS)}") from None


def settings_for(preset: str | None = None, **values: float | None) -> GateSettings:
    """A preset (or the seed defaults) with the given non-None values replaced."""
    base = get_preset(preset) if preset else GateSettings()
    return replace(base, **{k: float(v) for k, v in values.items() if v is not None})


def gru_weights(s: GateSettings) -> tuple[Any, Any]:
    """w_ih and w_hh of shape (6, 2), stacked r, z, n like torch.nn.GRU."""
    import torch

    w_ih, w_hh = torch.zeros(6, 2), torch.zeros(6, 2)
    # rows 0-1: reset, 2-3: update, 4-5: new content; row 0/2/4 is the data unit
    w_ih[0, 1], w_hh[0, 1] = s.w_xr, s.w_hr
    w_ih[2, 1], w_hh[2, 1] = s.w_xz, s.w_hz
    w_ih[4, 0], w_hh[4, 0] = s.w_xn, s.w_hn
    return w_ih, w_hh


def gate_values(s: GateSettings) -> dict[str, float]:
    """x[0], h[0], r[0], z[0], n[0] and the new h[0] for one step of the two-unit GRU."""
    import torch

    from seqlab.models.recurrent.gru import gru_cell

    x = torch.tensor([[s.x0, s.x1]])
    h = torch.tensor([[s.h0, s.h1]])
    with torch.no_grad():
        h_new, (r, z, n) = gru_cell(x, h, *gru_weights(s))  # no biases, as in the seed
    return {"x0": s.x0, "h0": s.h0, "r0": r[0, 0].item(), "z0": z[0, 0].item(),
            "n0": n[0, 0].item(), "h_new0": h_new[0, 0].item()}


def _draw(ax: Any, values: dict[str, float], title: str) -> None:
    vals = [values[k] for k in KEYS]
    top = max(2.0, 1.2 * max(abs(v) for v in vals))
    bars = ax.bar(range(len(vals)), vals, color=COLORS, edgecolor="black", lw=0.5)
    for bar, v in zip(bars, vals):
        # the value just outside the bar's end, so small bars stay readable
        ax.text(bar.get_x() + bar.get_width() / 2, v + (0.06 if v >= 0 else -0.06) * top, bar_label(v),
                ha="center", va="bottom" if v >= 0 else "top", fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylim(-top, top)
    ax.set_xticks(range(len(vals)), LABELS, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def bar_label(v: float) -> str:
    """3 decimals; a gate that rounds to 0 or ±1 without being it shows its distance instead
    (0.999994 -> '1-6e-06', 0.0000453 -> '4.5e-05'): a gate nearly shut never reads shut."""
    text = f"{v:.3f}"
    if v != 0 and abs(v) < 0.0005:
        return f"{v:.1e}"
    if abs(v) != 1 and text.lstrip("-") == "1.000":
        return f"1-{1 - v:.0e}" if v > 0 else f"-(1-{1 + v:.0e})"
    return text


def describe(s: GateSettings) -> str:
    return (f"x=({s.x0:g}, {s.x1:g}) h=({s.h0:g}, {s.h1:g})  W_xr,W_hr={s.w_xr:g},{s.w_hr:g}  "
            f"W_xz,W_hz={s.w_xz:g},{s.w_hz:g}  W_xn,W_hn={s.w_xn:g},{s.w_hn:g}")


def plot_gates(s: GateSettings, path: Path, title: str = "") -> Path:
    """One bar chart of the data unit's values, with each value written on its bar."""
    fig, axes = new_figure(1, 1, (8, 4.2))
    _draw(axes[0][0], gate_values(s), (title + "\n" if title else "") + describe(s))
    return save_figure(fig, path)


def grid_settings() -> list[tuple[str, GateSettings]]:
    """Every preset with the control input high (2.0), then the same with it at 0."""
    high = [(name, p.settings) for name, p in PRESETS.items()]
    return high + [(f"{name}, x[1]=0", replace(s, x1=0.0)) for name, s in high]


def plot_grid(path: Path) -> tuple[Path, list[tuple[str, dict[str, float]]]]:
    """The four presets (top row) and the same with the control off (bottom row)."""
    cases = grid_settings()
    fig, axes = new_figure(2, len(PRESETS), (4.6 * len(PRESETS), 8.4))
    rows = []
    for i, (name, s) in enumerate(cases):
        values = gate_values(s)
        rows.append((name, values))
        _draw(axes[i // len(PRESETS)][i % len(PRESETS)], values,
              f"{name}\nx=({s.x0:g}, {s.x1:g}) h0={s.h0:g}")
    fig.suptitle("Two-unit GRU (seed homework): control input x[1]=2 (top) vs x[1]=0 (bottom)", fontsize=11)
    return save_figure(fig, path), rows


def values_table(rows: list[tuple[str, dict[str, float]]]) -> Any:
    """A rich table: one row per case, one column per quantity."""
    from rich.table import Table

    table = Table(title="two-unit GRU, data unit (index 0)")
    table.add_column("case")
    for label in LABELS:
        table.add_column(label.split("\n")[0], justify="right")
    for name, values in rows:
        table.add_row(name, *(f"{values[k]:.3f}" for k in KEYS))
    return table
