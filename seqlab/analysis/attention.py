"""Attention patterns of a trained transformer: one heatmap per (layer, head)."""

from __future__ import annotations

from pathlib import Path

import torch

from seqlab.errors import SeqlabError

SHOWN = {"\n": "\u23ce", " ": "\u2423"}  # ⏎ and ␣: invisible characters made visible as tick labels


def plot_attention(maps: list[torch.Tensor], tokens: list[str], path: Path, title: str = "") -> Path:
    """Grid of heatmaps (rows: layers, columns: heads) of the first batch row of `maps`, under
    `title` (what model read which text).

    maps: per layer (B, nh, T, T) weights; query positions down, key positions across,
    both labelled with `tokens` (T characters).
    """
    from seqlab.plots import new_figure, save_figure

    n_layer, n_head = len(maps), maps[0].size(1)
    T = len(tokens)
    labels = [SHOWN.get(c, c) for c in tokens]
    side = min(max(0.12 * T, 3.0), 10.0)  # inches per heatmap: room for one label per character
    fontsize = min(max(0.8 * side * 72 / T, 3.0), 8.0)  # a label no taller than its cell (72 pt/inch)
    fig, axes = new_figure(n_layer, n_head, (side * n_head + 1, side * n_layer + 0.5), dpi=100,
                                layout="constrained")
    for layer, att in enumerate(maps):
        weights = att[0].detach().float().cpu().numpy()  # (nh, T, T)
        for head in range(n_head):
            ax = axes[layer][head]
            im = ax.imshow(weights[head], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_title(f"layer {layer} head {head}", fontsize=9)
            ax.set_xticks(range(T), labels, fontsize=fontsize)
            ax.set_yticks(range(T), labels, fontsize=fontsize)
            ax.tick_params(length=0)
            if head == 0:
                ax.set_ylabel("query")
            if layer == n_layer - 1:
                ax.set_xlabel("key")
    bar = fig.colorbar(im, ax=axes, shrink=0.6)
    bar.set_label("attention weight (each query's row sums to 1)")
    fig.suptitle(title or f"attention weights: {n_layer} layer(s) x {n_head} head(s)", fontsize=10)
    return save_figure(fig, path)


def attention_for_run(run_dir: Path, text: str, out_path: Path, device: str = "cpu") -> Path:
    """Plot the attention of the run's checkpointed model on `text`; returns the PNG's path."""
    from seqlab.registry import model_spec
    from seqlab.runs.checkpoint import load_checkpoint
    from seqlab.sampling import encode_prompt

    ckpt = load_checkpoint(run_dir, device=device)
    model = ckpt.model
    name = ckpt.meta["config"]["model"]["name"]
    if not model_spec(name).attention_maps:
        raise SeqlabError(f"model {name} has no attention to show")
    ids = encode_prompt(ckpt.vocab, text).to(device)  # (1, T)
    if ids.size(1) > model.block_size:
        raise SeqlabError(f"the text has {ids.size(1)} characters; the model sees at most "
                          f"{model.block_size} (its block_size)")
    model.eval()
    maps = model.attention_maps(ids)
    tokens = [ckpt.vocab.decode([i]) for i in ids[0].tolist()]
    shown = text if len(text) <= 40 else text[:37] + "..."
    title = (f"{Path(run_dir).name}: attention of {name} ({len(maps)} layer(s) x {maps[0].size(1)} head(s)) "
             f"on {shown!r}; rows: query, columns: the keys it attends to")
    return plot_attention(maps, tokens, out_path, title)
