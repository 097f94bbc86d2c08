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


def _pool_lowest_index(s: np.ndarray, m: int) -> np.ndarray:
    """Column indices (rows, m), ascending, of each row's ``m`` highest scores; ties at the
    boundary go to the lower column index (so the pool does not depend on argpartition's order)."""
    kth = -np.partition(-s, m - 1, axis=1)[:, m - 1]
    above = s > kth[:, None]
    tie = s == kth[:, None]
    need = m - above.sum(axis=1)
    take = above | tie
    over = np.flatnonzero(tie.sum(axis=1) > need)  # rows whose boundary ties do not all fit
    if len(over):
        take[over] = above[over] | (tie[over] & (np.cumsum(tie[over], axis=1) <= need[over, None]))
    return np.nonzero(take)[1].reshape(len(s), m)


def mmr(scores: np.ndarray, item_features: np.ndarray, k: int, lambda_: float = 0.5, *,
        pool: int | None = None, block_elems: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximal Marginal Relevance re-ranking (Carbonell & Goldstein, 1998), greedy, all users at once.

    Each user's list is built one item at a time; step ``t`` picks, among the items not yet picked,

        argmax_i  lambda_ * scores[u, i] - (1 - lambda_) * max_{j already picked} sim(i, j)

    with ``sim`` the cosine similarity of the rows of ``item_features`` (a zero row has similarity
    0 with everything). The first pick has no penalty (the max over an empty set counts as 0), so
    it is the most relevant item whenever ``lambda_ > 0``. ``lambda_ = 1`` gives plain top-k;
    smaller values trade relevance for diversity. Relevance and similarity enter on their own
    scales: rescale ``scores`` first if they are not comparable to a cosine (e.g. raw dot products).

    Parameters
    ----------
    scores : float (n_users, n_items); ``-inf`` marks items that are never picked (masked with
        :func:`mask_items`, e.g. items already consumed). NaN and +inf are refused.
    item_features : float (n_items, d).
    k : list length (capped at n_items).
    lambda_ : in [0, 1].
    pool : optional: re-rank only each user's ``pool`` highest-scoring items (the usual practice
        on large catalogues: cost per user O(k * pool * d) instead of O(k * n_items * d)).
    block_elems : users are processed in blocks so that the (block, n_items) or (block, pool, d)
        work arrays hold about this many elements. The default keeps the per-step arrays near
        cache size (about 2**16 elements) while a block still has at least d / 4 users, so that
        each step's similarity product reads the features once for many users.

    Ties in the objective go to the more relevant item, then to the lower item index, so results
    are deterministic. Computed in float64 for float64 features, else float32.

    Returns
    -------
    indices : int64 (n_users, k), in pick order; ``-1`` where a user has fewer than k pickable items.
    values : float64 (n_users, k): ``scores`` of the picked items (``-inf`` in padded slots).
    """
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    x = np.asarray(item_features)
    n_users, n_items = s.shape
    if x.ndim != 2 or x.shape[0] != n_items:
        raise ValueError(f"item_features must be (n_items={n_items}, d), got shape {x.shape}")
    if not 0.0 <= lambda_ <= 1.0:
        raise ValueError(f"lambda_ must be in [0, 1], got {lambda_}")
    if np.isnan(s).any() or np.isposinf(s).any():
        raise ValueError("scores hold NaN or +inf; mark excluded items with -inf")
    k = int(min(k, n_items))
    idx = np.full((n_users, max(k, 0)), -1, np.int64)
    vals = np.full((n_users, max(k, 0)), -np.inf)
    if k <= 0 or n_users == 0:
        return idx, vals
    dt = np.float64 if x.dtype == np.float64 else np.float32
    f = x.astype(dt, copy=True)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    f /= np.where(norms == 0, 1, norms).astype(dt)
    if pool is not None and pool >= n_items:
        pool = None
    if pool is not None:
        pool = max(int(pool), k)
    try:  # scikit-learn's dependency: each step's products are small, and BLAS threads cost more
        from threadpoolctl import threadpool_limits  # than they save (measured: 10x the CPU time)
    except ImportError:  # pragma: no cover
        from contextlib import nullcontext as threadpool_limits
    with threadpool_limits(1, "blas"):
        _mmr_blocks(s, f, idx, vals, k, float(lambda_), pool, block_elems)
    return idx, vals


def _mmr_blocks(s, f, idx, vals, k, lam, pool, block_elems) -> None:
    """The greedy steps of :func:`mmr`, block of users by block, writing into ``idx`` and ``vals``."""
    n_users, n_items = s.shape
    dt = f.dtype.type
    if pool is not None:
        width = pool * f.shape[1]
    else:
        width = 4 * n_items
    if block_elems is None:
        per_user = pool if pool is not None else n_items
        block = max(-(-2**16 // per_user), f.shape[1] // 4, 1)
        block = min(block, max(1, 2**25 // max(1, width)))  # memory cap
    else:
        block = max(1, block_elems // max(1, width))
    for s0 in range(0, n_users, block):  # blocks bound memory; inside a block users are vectorised
        sb = s[s0:s0 + block]
        b = len(sb)
        if pool is None:
            cand, rel = None, sb.copy()
        else:
            cand = _pool_lowest_index(sb, pool)  # (b, pool), ascending item index
            rel = np.take_along_axis(sb, cand, axis=1)
            feats = f[cand]  # (b, pool, d)
        avail = rel > -np.inf
        relz = np.where(avail, rel, 0.0)
        # lam * relevance, -inf where the item cannot be picked (any more)
        lrel = np.where(avail, lam * relz, -np.inf)
        # penalty (1 - lam) * max similarity to the picked items: max commutes with the scaling by
        # (1 - lam) >= 0, so it is kept scaled; 0 before the first pick
        pen = np.zeros(rel.shape, dt)
        obj = np.empty(rel.shape)
        rows = np.arange(b)
        for t in range(k):  # k greedy steps; every step handles the whole block
            np.subtract(lrel, pen, out=obj)
            pos = np.argmax(obj, axis=1)  # first max: the lowest index among ties
            best = obj[rows, pos]
            alive = best > -np.inf  # rows with nothing left pick nothing (their updates are harmless)
            if not alive.any():
                break
            tied = np.count_nonzero(obj == best[:, None], axis=1) > 1
            if tied.any():  # ties in the objective go to the more relevant item, then the lower index
                tr = np.flatnonzero(tied & alive)
                pos[tr] = np.argmax(np.where(obj[tr] == best[tr, None], relz[tr], -np.inf), axis=1)
            items = pos if cand is None else cand[rows, pos]
            idx[s0 + rows[alive], t] = items[alive]
            vals[s0 + rows[alive], t] = rel[rows[alive], pos[alive]]
            lrel[rows, pos] = -np.inf
            if t == k - 1:
                break
            if cand is None:
                # (b, n_items), as (n_items, d) @ (d, b): the orientation OpenBLAS handles best here
                sim = (f @ f[items].T).T
            else:
                sim = np.matmul(feats, f[items][:, :, None])[:, :, 0]  # (b, pool)
            sim *= dt(1.0 - lam)
            if t == 0:
                pen[...] = sim
            else:
                np.maximum(pen, sim, out=pen)
