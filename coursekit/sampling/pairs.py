"""Item pairs for compatibility models: positives from ``also_bought``, random or hard negatives,
and a train/test split in which no pair appears on both sides.

Pairs are int64 arrays of shape (m, 2) holding row numbers of a feature matrix; labels are
float32 (m,) with 1 for a compatible pair and 0 for a negative. Everything is vectorised: loops
run over rejection rounds (a handful), never over pairs.
"""

from __future__ import annotations

import numpy as np

from ..metrics import pair_accuracy, pair_auc  # re-exported: the unit-3 metrics live in coursekit.metrics

__all__ = [
    "positive_pairs", "sample_negatives", "make_pairs", "split_pairs", "split_positives",
    "labelled_splits", "split_and_label", "pair_keys", "pair_accuracy", "pair_auc",
]


def pair_keys(pairs: np.ndarray, n_items: int, *, ordered: bool = True) -> np.ndarray:
    """One int64 key per pair: ``i * n_items + j`` (``ordered``) or of ``(min, max)`` otherwise."""
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if not ordered:
        p = np.sort(p, axis=1)
    return p[:, 0] * np.int64(n_items) + p[:, 1]


def positive_pairs(src, dst) -> np.ndarray:
    """Clean ``also_bought`` links into positive pairs.

    ``src``, ``dst`` : int arrays (m,) of rows, ``-1`` where a product has no features (see
    :meth:`coursekit.datasets.amazon.AmazonData.link_rows`).

    Returns int64 (p, 2): links whose two ends have features, without self pairs and without
    duplicates, sorted by (src, dst). Both directions of a link stay (the model has two
    projections, so ``(i, j)`` and ``(j, i)`` are different inputs); :func:`split_pairs` keeps
    them on the same side.
    """
    src = np.asarray(src, dtype=np.int64).ravel()
    dst = np.asarray(dst, dtype=np.int64).ravel()
    if src.shape != dst.shape:
        raise ValueError(f"src and dst differ in length: {src.shape} vs {dst.shape}")
    ok = (src >= 0) & (dst >= 0) & (src != dst)
    pairs = np.stack([src[ok], dst[ok]], axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def _draw_others(anchors: np.ndarray, n_items: int, groups, rng) -> np.ndarray:
    """One uniformly random item per anchor: from all items, or from the anchor's group."""
    if groups is None:
        return rng.integers(0, n_items, size=len(anchors))
    order = np.argsort(groups, kind="stable")  # rows grouped by category
    sorted_groups = groups[order]
    g = groups[anchors]
    start = np.searchsorted(sorted_groups, g, side="left")
    count = np.searchsorted(sorted_groups, g, side="right") - start
    return order[start + (rng.random(len(anchors)) * count).astype(np.int64)]


def sample_negatives(
    anchors,
    n_items: int,
    *,
    category=None,
    exclude=None,
    seed: int | np.random.Generator = 0,
    max_rounds: int = 50,
) -> np.ndarray:
    """One negative pair ``(anchor, other)`` per anchor.

    ``category`` : None for random negatives (``other`` uniform over all items), or an int array
        (n_items,) of sub-category codes for hard negatives (``other`` from the anchor's
        sub-category; anchors with code ``-1`` get none).
    ``exclude`` : int (e, 2) pairs that must not be drawn (the positives; both orders are excluded).

    No self pair, no excluded pair, no duplicate among the negatives: invalid draws are redrawn
    in vectorised rounds. Anchors that still lack a valid negative after ``max_rounds`` (a tiny
    sub-category) are dropped, so the result can be shorter than ``anchors``.

    Returns int64 (m, 2), in the order of ``anchors``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    anchors = np.asarray(anchors, dtype=np.int64).ravel()
    groups = None if category is None else np.asarray(category, dtype=np.int64)
    if groups is not None:
        if len(groups) != n_items:
            raise ValueError(f"category has {len(groups)} entries for {n_items} items")
    banned = np.empty(0, np.int64)
    if exclude is not None and len(exclude):
        ex = np.asarray(exclude, dtype=np.int64).reshape(-1, 2)
        banned = np.unique(np.concatenate([pair_keys(ex, n_items), pair_keys(ex[:, ::-1], n_items)]))
    valid_anchor = np.ones(len(anchors), bool) if groups is None else groups[anchors] >= 0
    other = np.full(len(anchors), -1, np.int64)
    todo = np.flatnonzero(valid_anchor)
    for _ in range(max_rounds):
        if not len(todo):
            break
        other[todo] = _draw_others(anchors[todo], n_items, groups, rng)
        keys = anchors * np.int64(n_items) + other
        bad = (other == anchors) | np.isin(keys, banned)
        bad[~valid_anchor] = False
        # duplicates: keep the first occurrence of each key among the accepted draws
        accepted = np.flatnonzero(valid_anchor & ~bad)
        _, first = np.unique(keys[accepted], return_index=True)
        dup = np.ones(len(accepted), bool)
        dup[first] = False
        bad[accepted[dup]] = True
        todo = np.flatnonzero(bad)
    ok = valid_anchor & (other >= 0)
    ok[todo] = False
    return np.stack([anchors[ok], other[ok]], axis=1)


def make_pairs(
    positives: np.ndarray,
    n_items: int,
    *,
    negatives: str = "random",
    category=None,
    exclude=None,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Labelled pairs: each positive ``(i, j)`` beside one negative ``(i, k)``.

    ``negatives="random"``: ``k`` uniform over all items. ``"hard"``: as in the seed, only
    positives inside one sub-category are kept and ``k`` comes from that same sub-category, so
    the category alone no longer separates the classes. The negative shares the positive's
    first item, so every item is seen as often in both classes (the seed drew both items of a
    negative at random, which lets popular items look compatible with anything).

    ``exclude`` : int (e, 2) pairs no negative may be (in either order); default: ``positives``.
    Pass every known positive (and the negatives of other splits) when ``positives`` is one
    split of them, so that no negative is a known link or repeats a pair of another split.

    Returns ``pairs`` int64 (m, 2) and ``labels`` float32 (m,) (1 then 0 for each anchor).
    """
    pos = np.asarray(positives, dtype=np.int64).reshape(-1, 2)
    if negatives == "hard":
        if category is None:
            raise ValueError("hard negatives need the category code of every item")
        cat = np.asarray(category, dtype=np.int64)
        pos = pos[(cat[pos[:, 0]] == cat[pos[:, 1]]) & (cat[pos[:, 0]] >= 0)]
    elif negatives == "random":
        cat = None
    else:
        raise ValueError(f"negatives must be 'random' or 'hard', not {negatives!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    banned = pos if exclude is None else np.concatenate([np.asarray(exclude, np.int64).reshape(-1, 2), pos])
    neg = sample_negatives(pos[:, 0], n_items, category=cat, exclude=banned, seed=rng)
    pairs = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos), np.float32), np.zeros(len(neg), np.float32)])
    return pairs, labels


def split_pairs(
    pairs: np.ndarray,
    labels: np.ndarray,
    *,
    test_size: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split labelled pairs into train and test so that no pair is on both sides.

    The unit of the split is the unordered pair ``{i, j}``: ``(i, j)`` and ``(j, i)`` (and any
    repeat) always land on the same side, so the test set never asks about a link the model was
    trained on. Rows are shuffled.

    Returns ``train_pairs, train_labels, test_pairs, test_labels``.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    labels = np.asarray(labels, dtype=np.float32).ravel()
    if len(pairs) != len(labels):
        raise ValueError(f"{len(pairs)} pairs but {len(labels)} labels")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    n = int(pairs.max()) + 1 if len(pairs) else 1
    keys = pair_keys(pairs, n, ordered=False)
    uniq, group = np.unique(keys, return_inverse=True)
    rng = np.random.default_rng(seed)
    is_test_group = np.zeros(len(uniq), bool)
    is_test_group[rng.permutation(len(uniq))[: int(round(test_size * len(uniq)))]] = True
    test = is_test_group[group]
    order = rng.permutation(len(pairs))
    tr, te = order[~test[order]], order[test[order]]
    return pairs[tr], labels[tr], pairs[te], labels[te]


def split_positives(
    positives: np.ndarray,
    *,
    test_size: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a share of the positive pairs: ``(kept, held_out)``.

    As in :func:`split_pairs`, the unit of the split is the unordered pair, so ``(i, j)`` and
    ``(j, i)`` land on the same side. Split the positives *before* drawing negatives: then
    random and hard negatives can be attached to the same held-out positives, and a model trained
    with one kind of negative can be tested on the other without ever having seen a test link.
    Call it again on ``kept`` to carve a validation split out of the training positives.
    """
    pos = np.asarray(positives, dtype=np.int64).reshape(-1, 2)
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    n = int(pos.max()) + 1 if len(pos) else 1
    uniq, group = np.unique(pair_keys(pos, n, ordered=False), return_inverse=True)
    held_group = np.zeros(len(uniq), bool)
    held_group[np.random.default_rng(seed).permutation(len(uniq))[: int(round(test_size * len(uniq)))]] = True
    held = held_group[group]
    return pos[~held], pos[held]


def labelled_splits(
    splits: dict,
    n_items: int,
    *,
    negatives: str = "random",
    category=None,
    seed: int = 0,
) -> dict:
    """Attach negatives to positives that are already split: ``{name: (pairs, labels)}``.

    ``splits`` maps split names to positive pairs, e.g. ``{"train": ..., "valid": ..., "test":
    ...}`` from :func:`split_positives`. Each split gets :func:`make_pairs` (random or hard
    negatives); no negative is a known positive of *any* split, and no negative repeats a pair
    already used in an earlier split (in either order), so nothing a model trains on reappears
    in validation or test. Rows of each split are shuffled.
    """
    rng = np.random.default_rng(seed)
    every_positive = np.concatenate([np.asarray(p, np.int64).reshape(-1, 2) for p in splits.values()])
    used = every_positive
    out = {}
    for name, pos in splits.items():
        pairs, labels = make_pairs(pos, n_items, negatives=negatives, category=category, exclude=used, seed=rng)
        used = np.concatenate([used, pairs[labels == 0]])
        order = rng.permutation(len(pairs))
        out[name] = (pairs[order], labels[order])
    return out


def split_and_label(
    positives: np.ndarray,
    n_items: int,
    *,
    category=None,
    seed: int = 0,
    test_size: float = 0.2,
    valid_size: float = 0.2,
    negatives=("random", "hard"),
) -> dict:
    """The unit-3 protocol for one seed: split the positives, then attach negatives of each kind.

    ``test_size`` of the positive links (by unordered pair) is held out for testing with
    ``seed``; ``valid_size`` of the rest is carved out for validation with ``seed + 1``; then
    :func:`labelled_splits` attaches ``negatives`` (each of "random", "hard") to the three
    splits with ``seed``. Returns ``{negatives: {"train" | "valid" | "test": (pairs, labels)}}``.
    Every kind of negative shares the same held-out links, so a model trained with one kind can
    be tested on the other; a new seed draws a new split and new negatives.
    """
    rest, test = split_positives(positives, test_size=test_size, seed=seed)
    train, valid = split_positives(rest, test_size=valid_size, seed=seed + 1)  # carved from training only
    parts = {"train": train, "valid": valid, "test": test}
    return {kind: labelled_splits(parts, n_items, negatives=kind, category=category, seed=seed) for kind in negatives}
