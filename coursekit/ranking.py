"""Top-k selection shared by every recommender: argpartition, then a sort of the k winners."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def mask_items(scores: np.ndarray, exclude, value: float = -np.inf) -> np.ndarray:
    """Return a copy of ``scores`` (n_users, n_items) with excluded entries set to ``value``.

    ``exclude`` is a boolean array of the same shape or a sparse matrix whose non-zeros are the
    entries to exclude (for example the items each user already consumed).
    """
    out = np.array(scores, dtype=np.float64, copy=True)
    if exclude is None:
        return out
    if sp.issparse(exclude):
        rows, cols = exclude.nonzero()
        out[rows, cols] = value
    else:
        out[np.asarray(exclude, dtype=bool)] = value
    return out


def top_k(scores: np.ndarray, k: int, *, tie_break: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest-scoring columns of each row, best first.

    Parameters
    ----------
    scores : float array (n_rows, n_items); ``-inf`` marks items that must not be returned.
    k : how many items per row (capped at n_items).
    tie_break : optional float array (n_items,) in [0, 1): a secondary key added at a scale below
        the smallest score gap, so ties resolve deterministically (for example by popularity) and
        argpartition stays fast on rows of mostly tied scores.

    Returns
    -------
    indices : int64 (n_rows, k); ``-1`` where a row has fewer than k items with a finite score.
    values : float64 (n_rows, k); ``-inf`` in those slots.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n_items = s.shape[1]
    k = int(min(k, n_items))
    if k <= 0:
        return np.empty((s.shape[0], 0), np.int64), np.empty((s.shape[0], 0))
    if tie_break is not None:
        finite = np.isfinite(s)
        spread = np.abs(s[finite]).max() if finite.any() else 1.0
        s = s + (np.asarray(tie_break, dtype=np.float64) * 1e-9 * max(spread, 1e-12))[None, :]
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1)
    idx[~np.isfinite(vals)] = -1
    return idx, vals
