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

    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        _tile(ax, images, titles, i, fontsize=8, framed=highlight is not None and i < n and highlight[i])
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def _tile(ax, images: Sequence, titles: Sequence[str] | None, i: int, *, fontsize: int, framed: bool) -> None:
    """Draw image ``i`` (``None``: a placeholder) with its title on ``ax``, framed in green when
    ``framed``; an axis past the last image is switched off."""
    from .images import placeholder

    ax.set_xticks([])
    ax.set_yticks([])
    if i >= len(images):
        ax.axis("off")
        return
    img = images[i] if images[i] is not None else placeholder()
    ax.imshow(np.asarray(img), interpolation="nearest")
    if titles is not None:
        ax.set_title(str(titles[i]), fontsize=fontsize)
    if framed:
        for spine in ax.spines.values():
            spine.set_edgecolor("#1b7f3b")
            spine.set_linewidth(3)


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


def interval_bars(table, *, value: str = "mean", low: str = "ci low", high: str = "ci high", colors=None,
                  ylabel: str = "score", title: str | None = None, reference: dict | None = None, ylim=None,
                  ax=None):
    """Bars of ``table[value]`` (one per row, labelled by the index) with error bars from
    ``table[low]`` to ``table[high]`` (a confidence interval); ``reference``: {label: y} dashed
    horizontal lines (for example an untrained baseline). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 + 0.9 * len(table), 3.2))
    y = table[value].to_numpy(float)
    err = np.vstack([y - table[low].to_numpy(float), table[high].to_numpy(float) - y])
    ax.bar([str(i) for i in table.index], y, yerr=err, capsize=4, color=colors)
    for (label, level), style in zip((reference or {}).items(), ("--", ":", "-.")):
        ax.axhline(level, color="grey", ls=style, label=label)
    if reference:
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=30)
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def popularity_exposure(recommended: dict, popularity, *, n_bins: int = 10, k: int | None = None,
                        reference: dict | None = None, colors: dict | None = None, figsize=(10.5, 4.2)):
    """Where the recommendation slots go, against the catalogue's popularity (two panels).

    ``recommended``: {model name: int array (n_users, >= k) of item indices, -1 padding};
    ``popularity``: (n_items,) training popularity of each item (e.g. its number of users).
    Left: the share of all top-``k`` slots that lands in each popularity bin of the catalogue
    (:func:`coursekit.evaluation.popularity_bins`, least popular tenth first), one line per model,
    beside the share of the training interactions per bin (dashed) and an even spread (dotted); log
    scale, so a bin that gets no slot at all leaves a gap in its model's line.
    ``reference``: optional {label: item lists (n_rows, m), -1 padding} drawn on the left panel only
    (dash-dot), for example the held-out test items as an (n_users, 1) array.
    Right: log-log, how often each item is recommended against its popularity, one dot per item
    recommended at least once (items never recommended cannot be drawn; coverage counts them).
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from .evaluation import exposure_by_popularity, popularity_bins
    from .metrics import item_exposure

    pop = np.asarray(popularity, dtype=np.float64).ravel()
    colors = colors or {}
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    x = np.arange(1, n_bins + 1)
    for name, rec in recommended.items():
        rec = np.asarray(rec)[:, :k] if k is not None else np.asarray(rec)
        left.plot(x, exposure_by_popularity(rec, pop, n_bins), "o-", ms=4, label=name, color=colors.get(name))
        exposure = item_exposure(rec, len(pop))
        shown = (exposure > 0) & (pop > 0)
        right.loglog(pop[shown], exposure[shown], ".", ms=4, alpha=0.45, label=name, color=colors.get(name))
    for label, lists in (reference or {}).items():
        left.plot(x, exposure_by_popularity(np.asarray(lists), pop, n_bins), "-.", lw=1.2, label=label,
                  color=colors.get(label, "tab:purple"))
    listening = np.bincount(popularity_bins(pop, n_bins), weights=pop, minlength=n_bins) / max(pop.sum(), 1e-12)
    left.plot(x, listening, "k--", lw=1.2, label="training interactions")
    left.axhline(1 / n_bins, color="grey", ls=":", lw=1, label="even spread")
    left.set_yscale("log", nonpositive="mask")  # a share of 0 (no slot in that bin) is not drawn
    left.set(xlabel=f"popularity bin of the catalogue (1 = least popular 1/{n_bins})",
             ylabel="share of recommendation slots (log)", title="Where the top-k slots go", xticks=x)
    right.set(xlabel="popularity (training users)", ylabel="times recommended",
              title="Each recommended item: exposure vs popularity")
    handles, labels = left.get_legend_handles_labels()  # one legend for both panels, below them
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05 * ((len(labels) + 3) // 4) + 0.01, 1, 1))
    return fig


def because_grid(
    images: Sequence,
    because: Sequence,
    titles: Sequence[str] | None = None,
    because_titles: Sequence[str] | None = None,
    *,
    size: float = 1.4,
    suptitle: str | None = None,
    highlight: Sequence[bool] | None = None,
):
    """Recommendations (top row) above the item that explains each one ("because you bought").

    ``images`` and ``because`` are two equally long lists of images (PIL images or arrays;
    ``None`` is a placeholder): column ``i`` shows recommendation ``i`` and, below it, the profile
    item that contributed most to its score. ``highlight`` frames recommendations in green (e.g.
    hits). Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    n = len(images)
    if len(because) != n:
        raise ValueError(f"{n} recommendations but {len(because)} explanations")
    fig, axes = plt.subplots(2, max(n, 1), figsize=(size * max(n, 1), 2 * size + 0.6 + (0.3 if suptitle else 0)),
                             squeeze=False)
    for row, (pictures, labels) in enumerate(((images, titles), (because, because_titles))):
        for i, ax in enumerate(axes[row]):
            _tile(ax, pictures, labels, i, fontsize=7,
                  framed=row == 0 and highlight is not None and i < n and highlight[i])
    axes[0, 0].set_ylabel("recommended", fontsize=8)
    axes[1, 0].set_ylabel("because you\nbought", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def _spread_points(xy: np.ndarray, n: int) -> np.ndarray:
    """Indices of about ``n`` points of ``xy`` (m, 2) spread over the picture: the point nearest
    the centre of each occupied cell of a ceil(sqrt(n)) x ceil(sqrt(n)) grid (deterministic)."""
    if len(xy) == 0 or n <= 0:
        return np.empty(0, np.int64)
    side = max(1, int(np.ceil(np.sqrt(n))))
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    cell = np.floor((xy - lo) / np.where(hi > lo, hi - lo, 1.0) * side * (1 - 1e-9)).astype(np.int64)
    centre = lo + (cell + 0.5) * np.where(hi > lo, hi - lo, 1.0) / side
    dist = np.linalg.norm(xy - centre, axis=1)
    key = cell[:, 0] * side + cell[:, 1]
    order = np.lexsort((np.arange(len(xy)), dist, key))
    return np.sort(order[np.r_[True, key[order][1:] != key[order][:-1]]])


def embedding_map(
    xy,
    *,
    colour=None,
    images: Sequence | None = None,
    thumbnails: int = 40,
    thumb_size: float = 0.35,
    categorical: bool = True,
    colour_label: str | None = None,
    title: str | None = None,
    ax=None,
):
    """A 2-d map of items (e.g. t-SNE or PCA of their features) with some thumbnails on top.

    ``xy`` float (n, 2). ``colour``: a value per item, categories (``categorical=True``: one colour
    each, e.g. a toy style) or numbers (a colour bar labelled ``colour_label``); ``None`` draws
    every point in one colour. ``images``: a callable ``rows -> list of images`` or a list of n
    images; ``thumbnails`` of them, spread over the map, are drawn at their points, each framed in
    its point's colour. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    from .images import placeholder

    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must be (n, 2), got shape {xy.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 6.5))
    cmap = plt.get_cmap("tab20" if categorical else "viridis")
    if colour is None:
        colours = np.tile(np.array([[0.35, 0.45, 0.6, 1.0]]), (len(xy), 1))
        ax.scatter(xy[:, 0], xy[:, 1], s=10, c=colours, alpha=0.6, linewidths=0)
    elif categorical:
        codes = np.unique(np.asarray(colour), return_inverse=True)[1]
        colours = cmap(codes % cmap.N)
        ax.scatter(xy[:, 0], xy[:, 1], s=10, c=colours, alpha=0.7, linewidths=0)
    else:
        values = np.asarray(colour, dtype=np.float64)
        points = ax.scatter(xy[:, 0], xy[:, 1], s=10, c=values, cmap=cmap, alpha=0.7, linewidths=0)
        colours = points.to_rgba(values)
        bar = ax.figure.colorbar(points, ax=ax, fraction=0.04)
        if colour_label:
            bar.set_label(colour_label)
    if images is not None and thumbnails > 0:
        rows = _spread_points(xy, thumbnails)
        pictures = images(rows) if callable(images) else [images[r] for r in rows]
        for r, img in zip(rows, pictures):
            img = np.asarray(img if img is not None else placeholder())
            zoom = thumb_size * 72 / max(img.shape[:2])
            box = AnnotationBbox(OffsetImage(img, zoom=zoom), xy[r], frameon=True, pad=0.1,
                                 bboxprops={"edgecolor": colours[r], "linewidth": 1.5})
            ax.add_artist(box)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def _many_colours(n: int) -> np.ndarray:
    """``n`` RGBA colours, as distinct as the tab20, tab20b and tab20c palettes allow (then repeated)."""
    import matplotlib.pyplot as plt

    palette = np.concatenate([plt.get_cmap(name)(np.arange(20)) for name in ("tab20", "tab20b", "tab20c")])
    order = np.r_[np.arange(0, 60, 2), np.arange(1, 60, 2)]  # strong shades first, their light twins after
    return palette[order][np.arange(n) % 60]


def cluster_scatter(xy, labels, *, highlight: Sequence[int] | None = None, title: str | None = None, ax=None):
    """A 2-d map of items (e.g. PCA or t-SNE of their features) coloured by cluster.

    ``xy`` float (n, 2), ``labels`` int (n,) cluster of each item. Without ``highlight`` every
    cluster gets its own colour; with ``highlight`` (a few cluster ids) those are drawn on top in
    colour, labelled at their mean position, and every other item in light grey. Returns the figure.
    """
    import matplotlib.pyplot as plt

    xy = np.asarray(xy, dtype=np.float64)
    labels = np.asarray(labels)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(labels) != len(xy):
        raise ValueError(f"xy must be (n, 2) with one label per row, got {xy.shape} and {labels.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5.5))
    codes, inverse = np.unique(labels, return_inverse=True)
    colours = _many_colours(len(codes))
    if highlight is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=5, c=colours[inverse], alpha=0.7, linewidths=0)
    else:
        shown = np.isin(labels, list(highlight))
        ax.scatter(xy[~shown, 0], xy[~shown, 1], s=4, c="#d0d0d0", alpha=0.6, linewidths=0, label="other clusters")
        strong = plt.get_cmap("tab10")(np.arange(10))
        for n, c in enumerate(highlight):
            member = labels == c
            colour = strong[n % 10]
            ax.scatter(xy[member, 0], xy[member, 1], s=9, color=colour, alpha=0.9, linewidths=0, label=f"cluster {c}")
            if member.any():
                centre = xy[member].mean(axis=0)
                ax.annotate(str(c), centre, fontsize=9, weight="bold", ha="center", va="center", color="black",
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "alpha": 0.85})
        ax.legend(frameon=False, fontsize=7, loc="best", markerscale=1.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    return ax.figure
