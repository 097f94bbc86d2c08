"""Plots shared by the units: image grids and metric comparisons (matplotlib)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def image_grid(
    images: Sequence,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 6,
    size: float = 1.8,
    suptitle: str | None = None,
    highlight: Sequence[bool] | None = None,
):
    """Show images (PIL images or arrays; ``None`` becomes a placeholder) in a grid with titles.

    ``highlight`` draws a green frame around the images marked True (for example hits among
    recommendations). Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from .images import placeholder

    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        img = images[i] if images[i] is not None else placeholder()
        ax.imshow(np.asarray(img), interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
        if highlight is not None and highlight[i]:
            for spine in ax.spines.values():
                spine.set_edgecolor("#1b7f3b")
                spine.set_linewidth(3)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def metric_bars(table, *, metrics: Sequence[str] | None = None, title: str | None = None, ax=None):
    """Grouped bar chart of a results table: one group per metric, one bar per row (model).

    ``table`` is a pandas DataFrame indexed by model name with one column per metric.
    """
    import matplotlib.pyplot as plt

    cols = list(metrics or table.columns)
    n_models = len(table.index)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.3 * len(cols), 3.2))
    width = 0.8 / max(n_models, 1)
    x = np.arange(len(cols))
    for i, (name, row) in enumerate(table[cols].iterrows()):
        ax.bar(x + i * width - 0.4 + width / 2, row.values.astype(float), width, label=str(name))
    ax.set_xticks(x)
    ax.set_xticklabels(cols)
    ax.set_ylabel("score")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure
