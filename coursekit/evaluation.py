"""Offline evaluation of recommenders: hold-out protocols and per-user ranking metrics.

- :func:`evaluate_model` ranks the catalogue for each test user (seen training items excluded) and
  returns HR@k, recall@k and nDCG@k per user and on average, computed in user batches so memory
  stays bounded. Any object with ``score(user_rows) -> (len, n_items)`` works; kit models that have
  ``top_n`` use their sparse path (same rankings, no dense score matrix).
  The result keeps the top-k lists behind the metrics (``EvalResult.recommended``), so
  beyond-accuracy figures (:mod:`coursekit.metrics`: coverage, novelty, popularity) describe the
  very lists that were scored; :func:`exposure_by_popularity` spreads them over popularity bins
  of the catalogue (:func:`popularity_bins`).
- :func:`holdout_top_items` is the seed's protocol (users with more than ``min_items`` items hide
  one of their ``top`` most played items), seeded; :func:`leave_last_session_out` hides the items
  of each user's last session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import DataError
from .interactions import Interactions
from .metrics import hit_rate_at_k, ndcg_at_k, recall_at_k
from .ranking import mask_items, top_k

__all__ = ["EvalResult", "evaluate_model", "exposure_by_popularity", "holdout_top_items", "popularity_bins",
           "leave_last_session_out", "holdout_one_per_user", "mean_table"]


@dataclass
class EvalResult:
    """Per-user metrics (DataFrame with columns ``user``, ``hr@k``, ``recall@k``, ``ndcg@k``, in the
    order of the evaluated users) and their means (dict with the same metric names).

    ``recommended``: int64 (n_users, k), each evaluated user's top-k list as column indices of the
    training interactions, best first, one row per row of ``per_user`` (``-1`` only where the
    catalogue ran out); the lists the metrics were computed on, for
    :func:`coursekit.metrics.beyond_accuracy` and friends. ``None`` when built by hand."""

    per_user: pd.DataFrame
    mean: dict
    k: int
    recommended: np.ndarray | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        means = ", ".join(f"{k}={v:.4f}" for k, v in self.mean.items())
        return f"EvalResult({len(self.per_user):,} users; {means})"


def _popularity_tie_break(train: Interactions) -> np.ndarray:
    from .models.knn import popularity_tie_break

    return popularity_tie_break(train.item_popularity())


def evaluate_model(model, train: Interactions, test: pd.DataFrame, k: int = 10, *, user_col: str = "user_id",
                   item_col: str = "item_id", users=None, batch_size: int = 2048) -> EvalResult:
    """HR@k, recall@k and nDCG@k of ``model`` on the (user, item) pairs of ``test``.

    Parameters
    ----------
    model : fitted on ``train``; a kit model (``top_n``) or any object with ``score(user_rows)``
        returning dense float scores (len(user_rows), train.n_items).
    train : the training interactions; their items are the catalogue and each user's training items
        are never recommended.
    test : DataFrame with ``user_col`` and ``item_col``: the relevant items of each user. Test items
        absent from the catalogue stay relevant (they count in recall's denominator) but cannot be hit.
    users : original user ids to evaluate (default: every test user known to ``train``).
    batch_size : users scored at once.

    Returns an :class:`EvalResult` (with the top-k lists in ``recommended``); ties in scores are
    broken by training popularity.
    """
    for col in (user_col, item_col):
        if col not in test.columns:
            raise DataError(f"column {col!r} not found (columns: {list(test.columns)})", where="test table",
                            fix="pass user_col= and item_col= naming the test table's columns")
    if users is None:
        test_users = pd.unique(test[user_col].to_numpy())
        known = train._user_index.get_indexer(test_users) >= 0
        users = np.asarray(test_users)[known]
        try:
            users = np.sort(users)
        except TypeError:
            pass
    users = np.asarray(users)
    rows = train.user_index(users)
    # relevance: catalogue items keep their columns, unknown test items get extra columns
    t = test[test[user_col].isin(pd.Index(users))]
    eval_index = pd.Index(users)
    r = eval_index.get_indexer(t[user_col].to_numpy())
    c = train._item_index.get_indexer(t[item_col].to_numpy())
    unknown = c < 0
    if unknown.any():
        _, extra = np.unique(t[item_col].to_numpy()[unknown].astype(str), return_inverse=True)
        c = c.copy()
        c[unknown] = train.n_items + extra
    n_cols = int(max(train.n_items, c.max() + 1 if len(c) else 0))
    relevant = sp.csr_matrix((np.ones(len(r), bool), (r, c)), shape=(len(users), n_cols))
    relevant.sum_duplicates()

    tie_break = None
    recs = np.empty((len(rows), k), dtype=np.int64)
    for start in range(0, len(rows), batch_size):
        b = rows[start:start + batch_size]
        seen = train.matrix[b]
        if hasattr(model, "top_n"):
            recs[start:start + len(b)] = model.top_n(b, k, seen)
        else:
            if tie_break is None:
                tie_break = _popularity_tie_break(train)
            scores = np.asarray(model.score(b), dtype=np.float64)
            if scores.shape != (len(b), train.n_items):
                raise ValueError(f"model.score returned shape {scores.shape}, expected {(len(b), train.n_items)}")
            recs[start:start + len(b)] = top_k(mask_items(scores, seen), k, tie_break=tie_break)[0]
    per_user = pd.DataFrame({
        "user": users,
        f"hr@{k}": hit_rate_at_k(recs, relevant, k),
        f"recall@{k}": recall_at_k(recs, relevant, k),
        f"ndcg@{k}": ndcg_at_k(recs, relevant, k),
    })
    mean = {name: float(np.nanmean(per_user[name])) for name in per_user.columns[1:]}
    return EvalResult(per_user, mean, k, recs)


def mean_table(per_user: dict, *, level: float = 0.95) -> pd.DataFrame:
    """Means over users with the half-width of their t confidence interval, one row per model
    (:func:`coursekit.stats.mean_table`)."""
    from .stats import mean_table as _mean_table

    return _mean_table(per_user, level=level)


def popularity_bins(popularity, n_bins: int = 10) -> np.ndarray:
    """The popularity bin of every item, int64 (n_items,): items sorted by ``popularity``
    (n_items,), least popular first (ties by item index), cut into ``n_bins`` bins of (nearly)
    equal size. Bin 0 holds the least popular tenth of the catalogue when ``n_bins=10``, bin
    ``n_bins - 1`` the most popular tenth."""
    pop = np.asarray(popularity, dtype=np.float64).ravel()
    n_items = len(pop)
    if not 1 <= n_bins <= max(n_items, 1):
        raise ValueError(f"n_bins must be between 1 and the number of items ({n_items}), got {n_bins}")
    order = np.lexsort((np.arange(n_items), pop))  # least popular first, then lower index
    bins = np.empty(n_items, dtype=np.int64)
    bins[order] = np.arange(n_items) * n_bins // n_items
    return bins


def exposure_by_popularity(recommended, popularity, n_bins: int = 10) -> np.ndarray:
    """Share of all recommendation slots that go to each popularity bin (:func:`popularity_bins`).

    ``recommended`` is int (n_users, k) of item indices, ``-1`` padding ignored. Returns float64
    (n_bins,) summing to 1, least popular bin first (all zeros when nothing is recommended). A
    recommender that spread its slots evenly over the catalogue gives ``1 / n_bins`` in every bin;
    the share of the training interactions per bin is
    ``np.bincount(popularity_bins(pop, n_bins), weights=pop) / pop.sum()``.
    """
    pop = np.asarray(popularity, dtype=np.float64).ravel()
    bins = popularity_bins(pop, n_bins)
    rec = np.asarray(recommended, dtype=np.int64)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-d (n_users, k), got shape {rec.shape}")
    if rec.size and (rec.max() >= len(pop) or rec.min() < -1):
        raise ValueError(f"recommended holds indices outside the catalogue of {len(pop)} items")
    counts = np.bincount(bins[rec[rec >= 0]], minlength=n_bins).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def holdout_top_items(df: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id",
                      count_col: str = "count", *, min_items: int = 10, top: int = 6,
                      seed: int = 0, users=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seed's protocol: each user with MORE than ``min_items`` distinct items hides one item
    drawn uniformly from their ``top`` most-played items (ties by item id).

    ``df`` holds one row per (user, item) (duplicates are summed first). Returns ``(train, test)``;
    ``test`` has one row per qualified user. (The seed drew with ``randrange(1, topk)``, which never
    hides the favourite and picks among ranks 2-6 only: here all ``top`` ranks are eligible.)
    ``users``: optional ids; only these users may qualify (for example the test users, to carve a
    validation split from a training table by hiding one more item of each). Vectorised; seeded.
    """
    g = df.groupby([user_col, item_col], sort=False, as_index=False)[count_col].sum()
    g = g.sort_values([user_col, count_col, item_col], ascending=[True, False, True], kind="mergesort")
    g = g.reset_index(drop=True)
    rank = g.groupby(user_col, sort=False).cumcount().to_numpy()
    n_items = g.groupby(user_col, sort=False)[item_col].transform("size").to_numpy()
    qualified = n_items > min_items
    if users is not None:
        qualified &= g[user_col].isin(pd.Index(np.asarray(users))).to_numpy()
    rng = np.random.default_rng(seed)
    users = np.unique(g[user_col].to_numpy())
    pick = rng.integers(0, top, size=len(users))  # one draw per user, in sorted user order
    user_pos = pd.Index(users).get_indexer(g[user_col].to_numpy())
    hide = qualified & (rank == np.minimum(pick[user_pos], n_items - 1))
    return g[~hide].reset_index(drop=True), g[hide].reset_index(drop=True)


def leave_last_session_out(events: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id",
                           session_col: str = "session_id", time_col: str = "timestamp", *,
                           min_sessions: int = 2, count_col: str = "count") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hide each user's last session (latest ``time_col``; ties by session id).

    ``events`` has one row per play (or per (session, item) with ``count_col``). Users with at least
    ``min_sessions`` sessions contribute their last session's items to ``test``; everything else
    (all other users' sessions too) goes to ``train``. Returns ``(train, test)`` aggregated to one
    row per (user, item) with the summed ``count_col``; test items already in a user's train part
    are dropped from test (they are not new to that user).
    """
    ev = events
    if count_col not in ev.columns:
        ev = ev.assign(**{count_col: 1.0})
    sess = ev.groupby([user_col, session_col], sort=False, as_index=False)[time_col].min()
    sess = sess.sort_values([user_col, time_col, session_col], kind="mergesort")
    n_sess = sess.groupby(user_col)[session_col].transform("size")
    last = sess[(sess.groupby(user_col).cumcount(ascending=False) == 0) & (n_sess >= min_sessions)]
    key = pd.MultiIndex.from_frame(ev[[user_col, session_col]])
    is_test = key.isin(pd.MultiIndex.from_frame(last[[user_col, session_col]]))
    agg = lambda part: part.groupby([user_col, item_col], as_index=False)[count_col].sum()  # noqa: E731
    train, test = agg(ev[~is_test]), agg(ev[is_test])
    overlap = pd.MultiIndex.from_frame(test[[user_col, item_col]]).isin(
        pd.MultiIndex.from_frame(train[[user_col, item_col]]))
    return train, test[~overlap].reset_index(drop=True)


def holdout_one_per_user(df: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id", *,
                         min_items: int = 2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A validation split carved from training rows: every user with at least ``min_items`` rows
    hides one of them, drawn uniformly (seeded). Returns ``(rest, held_out)``, rows in their order.

    For data without timestamps (the ASOS files): the test file stays untouched for the final
    figures, and every choice (epochs, learning rates, neighbour counts) is made on ``held_out``.
    Users with fewer rows keep them all in ``rest``, so every user of ``held_out`` is in ``rest``.
    Vectorised (one sort); ``item_col`` is only checked to exist.
    """
    for col in (user_col, item_col):
        if col not in df.columns:
            raise DataError(f"column {col!r} not found (columns: {list(df.columns)})", where="interaction table",
                            fix="pass user_col= and item_col= naming the table's columns")
    if min_items < 2:
        raise ValueError(f"min_items must be at least 2 (a user keeps one row in rest), got {min_items}")
    codes = pd.factorize(df[user_col].to_numpy())[0]
    key = np.random.default_rng(seed).random(len(df))
    order = np.lexsort((key, codes))  # by user, then by the random key
    first = order[np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]] if len(df) else order
    n_rows = np.bincount(codes) if len(df) else np.zeros(0, np.int64)
    hide = np.zeros(len(df), dtype=bool)
    hide[first[n_rows[codes[first]] >= min_items]] = True
    return df[~hide].reset_index(drop=True), df[hide].reset_index(drop=True)
