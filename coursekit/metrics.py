"""Ranking metrics shared by every unit: one definition each, per user, vectorised.

Conventions
-----------
``recommended`` is an int array (n_users, >= k) of item indices, best first; ``-1`` pads short
lists. ``relevant`` says which items are relevant for each user: a scipy sparse matrix
(n_users, n_items), a boolean array of that shape, or a list of index arrays (one per user).
Every function returns one value per user (float64); average with ``np.nanmean``. Users with no
relevant item get NaN where the metric is undefined (recall, nDCG, AUC).

Definitions (standard):
- precision@k = hits in the top k / k
- recall@k = hits in the top k / |relevant|
- hit rate@k = 1 if any hit in the top k
- nDCG@k = DCG@k / IDCG@k with DCG = sum of 1/log2(rank + 1) over hits (rank from 1) and IDCG the
  DCG of min(|relevant|, k) hits in the first ranks
- MRR@k = 1 / rank of the first hit within the top k (0 when none)
- AUC = the probability that a relevant candidate scores above a non-relevant one (ties count
  one half), over all candidate items of the user

Beyond accuracy (what a list does to users and the catalogue; see :func:`beyond_accuracy`):
- catalogue coverage@k = share of the catalogue's items that appear in at least one top-k list
  (one number for all users)
- intra-list diversity@k = mean pairwise distance of the items of a list (cosine distance
  1 - cos by default), per user
- novelty@k = mean self-information -log2 p(i) of the items of a list, where p(i) is the item's
  smoothed share of the training interactions (:func:`popularity_share`), per user
- mean popularity@k and popularity lift = (mean popularity of the list - mean popularity of the
  user's history) / mean popularity of the history, per user
- Gini of exposure@k = the Gini coefficient of how often each catalogue item is recommended
  (0: every item equally often; near 1: a few items take every slot), one number

Spread: a table that compares models or settings shows, beside each per-user mean, the half-width
of its confidence interval over the users (:func:`mean_ci`, :func:`mean_ci_table`): the same users
score every setting, so the users (or queries) are what varies from one evaluation to the next.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_relevance", "hits_at_k", "precision_at_k", "recall_at_k", "hit_rate_at_k", "ndcg_at_k",
    "mrr_at_k", "auc_score", "evaluate_rankings", "pair_accuracy", "pair_auc",
    "item_popularity", "popularity_share", "item_exposure", "catalog_coverage", "intra_list_diversity",
    "novelty", "mean_popularity", "popularity_lift", "gini", "gini_coefficient", "beyond_accuracy",
    "mean_ci", "mean_ci_table",
]


def as_relevance(relevant, n_items: int | None = None) -> sp.csr_matrix:
    """Relevance as a boolean CSR matrix (n_users, n_items) from any accepted form."""
    if sp.issparse(relevant):
        m = sp.csr_matrix(relevant, dtype=bool)
    elif isinstance(relevant, np.ndarray) and relevant.ndim == 2:
        m = sp.csr_matrix(relevant.astype(bool))
    else:
        lists = [np.asarray(r, dtype=np.int64).ravel() for r in relevant]
        lengths = np.array([len(r) for r in lists], dtype=np.int64)
        cols = np.concatenate(lists) if lists else np.empty(0, np.int64)
        needed = int(cols.max()) + 1 if len(cols) else 0
        n_items = max(n_items or 0, needed)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        m = sp.csr_matrix((np.ones(len(cols), bool), cols, indptr), shape=(len(lists), n_items))
        m.sum_duplicates()
    if n_items is not None and m.shape[1] < n_items:
        m = sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_items))
    return m


def hits_at_k(recommended, relevant, k: int) -> np.ndarray:
    """Boolean (n_users, k): whether the item at each of the first k ranks is relevant."""
    rec = np.asarray(recommended, dtype=np.int64)[:, :k]
    n_items = max(int(rec.max()) + 1 if rec.size else 0, 1)
    rel = as_relevance(relevant, n_items)
    if rel.shape[0] != rec.shape[0]:
        raise ValueError(f"{rec.shape[0]} recommendation rows but {rel.shape[0]} relevance rows")
    rows = np.repeat(np.arange(rec.shape[0]), rec.shape[1])
    valid = rec.ravel() >= 0
    hits = np.zeros(rec.size, dtype=bool)
    hits[valid] = np.asarray(rel[rows[valid], rec.ravel()[valid]]).ravel()
    out = hits.reshape(rec.shape)
    if out.shape[1] < k:  # lists shorter than k count as misses
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])))
    return out


def _n_relevant(relevant, n_rows: int) -> np.ndarray:
    rel = as_relevance(relevant)
    return np.asarray(rel.sum(axis=1)).ravel().astype(np.float64)


def precision_at_k(recommended, relevant, k: int) -> np.ndarray:
    return hits_at_k(recommended, relevant, k).sum(axis=1) / float(k)


def recall_at_k(recommended, relevant, k: int) -> np.ndarray:
    n_rel = _n_relevant(relevant, len(recommended))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits_at_k(recommended, relevant, k).sum(axis=1) / n_rel, np.nan)


def hit_rate_at_k(recommended, relevant, k: int) -> np.ndarray:
    return hits_at_k(recommended, relevant, k).any(axis=1).astype(np.float64)


def ndcg_at_k(recommended, relevant, k: int) -> np.ndarray:
    hits = hits_at_k(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts
    n_rel = _n_relevant(relevant, len(recommended))
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(n_rel, k).astype(np.int64)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, dcg / idcg, np.nan)


def mrr_at_k(recommended, relevant, k: int) -> np.ndarray:
    hits = hits_at_k(recommended, relevant, k)
    first = hits.argmax(axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


def auc_score(scores: np.ndarray, relevant, candidates=None) -> np.ndarray:
    """Per-user AUC of dense ``scores`` (n_users, n_items) over the candidate items.

    ``candidates`` (boolean array or sparse matrix, same shape) restricts the items each user is
    ranked among (for example the artworks available at purchase time, without the profile);
    ``None`` means all items. Relevant items outside the candidates are ignored. Ties count 1/2.
    NaN for users without a relevant or without a non-relevant candidate.
    """
    s = np.asarray(scores, dtype=np.float64)
    n_users, n_items = s.shape
    rel = as_relevance(relevant, n_items).toarray()
    if candidates is None:
        cand = np.ones_like(rel)
    elif sp.issparse(candidates):
        cand = candidates.toarray().astype(bool)
    else:
        cand = np.asarray(candidates, dtype=bool)
    pos = rel & cand
    # excluded items go strictly below every candidate, then ranks are shifted down by their count
    s = np.where(np.isneginf(s), np.finfo(np.float64).min / 2, s)
    s = np.where(cand, s, -np.inf)
    from scipy.stats import rankdata  # scipy.stats takes ~1 s to import: only when AUC is asked for

    ranks = rankdata(s, axis=1, method="average")
    n_excl = (~cand).sum(axis=1)
    n_pos = pos.sum(axis=1)
    n_neg = cand.sum(axis=1) - n_pos
    rank_sum = np.where(pos, ranks, 0).sum(axis=1) - n_pos * n_excl
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def evaluate_rankings(recommended, relevant, ks=(10,), *, scores=None, candidates=None) -> dict[str, float]:
    """Mean of every metric at each k (and AUC when ``scores`` are given), as a flat dict."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"precision@{k}"] = float(np.nanmean(precision_at_k(recommended, relevant, k)))
        out[f"recall@{k}"] = float(np.nanmean(recall_at_k(recommended, relevant, k)))
        out[f"ndcg@{k}"] = float(np.nanmean(ndcg_at_k(recommended, relevant, k)))
        out[f"hr@{k}"] = float(np.nanmean(hit_rate_at_k(recommended, relevant, k)))
        out[f"mrr@{k}"] = float(np.nanmean(mrr_at_k(recommended, relevant, k)))
    if scores is not None:
        out["auc"] = float(np.nanmean(auc_score(scores, relevant, candidates)))
    return out


def mean_ci(values, level: float = 0.95) -> tuple[float, float]:
    """:func:`coursekit.stats.mean_ci`: the mean and the half-width of its t interval."""
    from .stats import mean_ci as _mean_ci

    return _mean_ci(values, level)


def mean_ci_table(per_row: dict, level: float = 0.95):
    """:func:`coursekit.stats.mean_table`: means with a ``"<figure> ±"`` column each."""
    from .stats import mean_table

    return mean_table(per_row, level=level)


def pair_accuracy(labels, probs, threshold: float = 0.5) -> float:
    """Share of pairs (or any binary predictions) whose ``probs > threshold`` matches the 0/1 label."""
    y = np.asarray(labels).ravel() > 0.5
    return float(np.mean((np.asarray(probs).ravel() > threshold) == y))


def pair_auc(labels, scores) -> float:
    """ROC AUC of binary labels: the chance a positive scores above a negative (ties count 1/2).

    The same definition as :func:`auc_score`, for one flat list of scored pairs.
    """
    y = np.asarray(labels).ravel() > 0.5
    s = np.asarray(scores, dtype=np.float64).ravel()
    return float(auc_score(s[None, :], [np.flatnonzero(y)])[0])


# --------------------------------------------------------------------------- beyond accuracy

def _top(recommended, k: int | None, n_items: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(items, valid): the first ``k`` columns of ``recommended`` as int64 and where they are not -1."""
    rec = np.asarray(recommended, dtype=np.int64)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-d (n_users, k), got shape {rec.shape}")
    if k is not None:
        rec = rec[:, :k]
    valid = rec >= 0
    if (rec < -1).any():
        raise ValueError("recommended holds negative indices other than the -1 padding")
    if n_items is not None and rec.size and rec.max() >= n_items:
        raise ValueError(f"recommended holds item {int(rec.max())} but the catalogue has {n_items} items")
    return rec, valid


def _mean_over_list(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(valid, values, 0.0).sum(axis=1) / n, np.nan)


def item_popularity(history, n_items: int | None = None) -> np.ndarray:
    """Popularity of each item: how many users hold it in ``history``, float64 (n_items,).

    ``history`` is any relevance form (sparse or boolean (n_users, n_items), or index lists);
    repeated interactions of one user with one item count once.
    """
    rel = as_relevance(history, n_items)
    return np.bincount(rel.indices, minlength=rel.shape[1]).astype(np.float64)


def popularity_share(popularity, smoothing: float = 1.0) -> np.ndarray:
    """An item's share of the interactions, additively smoothed, float64 (n_items,) summing to 1.

    ``p(i) = (c_i + smoothing) / (sum_j c_j + smoothing * n_items)`` for popularity counts ``c``
    (n_items,) (e.g. from :func:`item_popularity`): the chance that a random training interaction
    is with item ``i``. The default Laplace smoothing (1) gives items nobody interacted with a small
    positive share, so their self-information is large but finite; ``smoothing=0`` leaves their share
    at 0 (self-information +inf).
    """
    c = np.asarray(popularity, dtype=np.float64).ravel()
    if (c < 0).any() or not np.isfinite(c).all():
        raise ValueError("popularity counts must be finite and non-negative")
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    total = c.sum() + smoothing * len(c)
    if total <= 0:
        raise ValueError("every popularity count is 0: use smoothing > 0")
    return (c + smoothing) / total


def item_exposure(recommended, n_items: int, k: int | None = None) -> np.ndarray:
    """How many of the top-``k`` lists hold each item: int64 (n_items,) (padding -1 ignored)."""
    rec, valid = _top(recommended, k, n_items)
    return np.bincount(rec[valid], minlength=n_items).astype(np.int64)


def catalog_coverage(recommended, n_items: int, k: int | None = None) -> float:
    """Share of the catalogue's ``n_items`` items recommended to at least one user (in a top ``k``).

    ``recommended`` int (n_users, >= k), -1 padding. One float in [0, 1] for all users together.
    """
    if n_items <= 0:
        raise ValueError("n_items must be positive")
    return float((item_exposure(recommended, n_items, k) > 0).sum() / n_items)


def intra_list_diversity(recommended, item_features, k: int | None = None, *, metric: str = "cosine",
                         block_elems: int = 2**22) -> np.ndarray:
    """Mean pairwise distance between the items of each list, float64 (n_users,).

    Parameters
    ----------
    recommended : int (n_users, >= k), best first, -1 padding (ignored).
    item_features : float (n_items, d), the space the distance is measured in (e.g. CNN features).
    metric : ``"cosine"``: cosine distance ``1 - cos(x_i, x_j)`` in [0, 2] (a zero feature vector
        has cosine 0 with everything, so distance 1); ``"euclidean"``: ``||x_i - x_j||``.

    Each unordered pair of distinct positions counts once: ``ILD = sum_{a<b} dist / (m (m-1) / 2)``
    for a list of ``m`` valid items. Lists of fewer than two items have no pair: NaN.
    Computed in blocks of users (``block_elems`` bounds the (block, k, d) gather).
    """
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    x = np.asarray(item_features)
    if x.ndim != 2:
        raise ValueError(f"item_features must be 2-d (n_items, d), got shape {x.shape}")
    rec, valid = _top(recommended, k, x.shape[0])
    n_users, m = rec.shape
    out = np.full(n_users, np.nan)
    if m < 2 or n_users == 0:
        return out
    upper = np.triu(np.ones((m, m), bool), 1)
    step = max(1, block_elems // max(1, m * x.shape[1]))
    for s in range(0, n_users, step):  # blocks of users bound the memory; each block is vectorised
        r, v = rec[s:s + step], valid[s:s + step]
        f = x[np.where(v, r, 0)].astype(np.float64)  # (b, m, d)
        if metric == "cosine":
            norms = np.linalg.norm(f, axis=2, keepdims=True)
            f = f / np.where(norms == 0, 1.0, norms)
            dist = np.clip(1.0 - f @ f.transpose(0, 2, 1), 0.0, 2.0)
        else:
            sq = (f * f).sum(axis=2)
            dist = np.sqrt(np.maximum(sq[:, :, None] + sq[:, None, :] - 2.0 * (f @ f.transpose(0, 2, 1)), 0.0))
        pairs = v[:, :, None] & v[:, None, :] & upper
        n_pairs = pairs.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s:s + step] = np.where(n_pairs > 0, np.where(pairs, dist, 0.0).sum(axis=(1, 2)) / n_pairs, np.nan)
    return out


def novelty(recommended, popularity, k: int | None = None, *, smoothing: float = 1.0) -> np.ndarray:
    """Mean self-information of each list's items, float64 (n_users,), in bits.

    ``novelty = mean over the list of -log2 p(i)`` with ``p`` the smoothed interaction share of
    :func:`popularity_share` (``popularity``: counts (n_items,), e.g. :func:`item_popularity` of the
    training interactions). Long-tail items are novel (high), blockbusters are not. Empty lists: NaN.
    """
    p = popularity_share(popularity, smoothing)
    rec, valid = _top(recommended, k, len(p))
    with np.errstate(divide="ignore"):
        info = -np.log2(p)
    return _mean_over_list(info[np.where(valid, rec, 0)], valid)


def mean_popularity(recommended, popularity, k: int | None = None) -> np.ndarray:
    """Mean ``popularity`` (n_items,) of the items of each list, float64 (n_users,); NaN when empty."""
    pop = np.asarray(popularity, dtype=np.float64).ravel()
    rec, valid = _top(recommended, k, len(pop))
    return _mean_over_list(pop[np.where(valid, rec, 0)], valid)


def popularity_lift(recommended, history, popularity, k: int | None = None) -> np.ndarray:
    """Popularity lift of each list against the user's history, float64 (n_users,).

    ``lift = (mean popularity of the list - mean popularity of the history) / mean popularity of
    the history`` (Abdollahpouri et al.'s Delta GAP, per user): 0 means the recommender keeps the
    user's taste for popular items, > 0 pushes more popular items than the user consumes.
    ``history`` is any relevance form (n_users rows); NaN for users whose history is empty or has
    mean popularity 0, or whose list is empty.
    """
    pop = np.asarray(popularity, dtype=np.float64).ravel()
    hist = as_relevance(history, len(pop)).astype(np.float64)
    rec_pop = mean_popularity(recommended, pop, k)
    if hist.shape[0] != len(rec_pop):
        raise ValueError(f"{len(rec_pop)} recommendation rows but {hist.shape[0]} history rows")
    n_hist = np.asarray(hist.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        hist_pop = np.where(n_hist > 0, (hist @ pop) / n_hist, np.nan)
        return np.where(hist_pop > 0, (rec_pop - hist_pop) / hist_pop, np.nan)


def gini_coefficient(values) -> float:
    """Gini coefficient of non-negative ``values`` (n,): 0 when all are equal, (n - 1) / n when one
    holds everything. ``G = sum_i (2 i - n - 1) x_(i) / (n sum x)`` over the ascending order
    statistics ``x_(1) <= ... <= x_(n)``. NaN when every value is 0."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if (x < 0).any():
        raise ValueError("the Gini coefficient needs non-negative values")
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def gini(recommended, n_items: int, k: int | None = None) -> float:
    """Gini coefficient of item exposure: how unequally the top-``k`` slots of all users are spread
    over the ``n_items`` catalogue items (items never recommended count with exposure 0)."""
    return gini_coefficient(item_exposure(recommended, n_items, k))


def beyond_accuracy(recommended, n_items: int, ks=(10,), *, popularity=None, history=None,
                    item_features=None, smoothing: float = 1.0) -> dict[str, float]:
    """The beyond-accuracy figures at each k as a flat dict (means over users, NaN ignored).

    Always ``coverage@k`` and ``gini@k``; with ``popularity`` (counts, n_items) or ``history`` (the
    training interactions, from which the popularity is counted) also ``novelty@k`` and
    ``mean_popularity@k``; with both a history and a popularity ``popularity_lift@k``; with
    ``item_features`` ``ild@k`` (cosine distance).
    """
    if popularity is None and history is not None:
        popularity = item_popularity(history, n_items)

    def mean(values) -> float:  # NaN (no warning) when every user is NaN, e.g. ILD@1
        values = np.asarray(values)
        return float(np.nanmean(values)) if (~np.isnan(values)).any() else float("nan")

    out: dict[str, float] = {}
    for k in ks:
        out[f"coverage@{k}"] = catalog_coverage(recommended, n_items, k)
        out[f"gini@{k}"] = gini(recommended, n_items, k)
        if popularity is not None:
            out[f"novelty@{k}"] = mean(novelty(recommended, popularity, k, smoothing=smoothing))
            out[f"mean_popularity@{k}"] = mean(mean_popularity(recommended, popularity, k))
        if popularity is not None and history is not None:
            out[f"popularity_lift@{k}"] = mean(popularity_lift(recommended, history, popularity, k))
        if item_features is not None:
            out[f"ild@{k}"] = mean(intra_list_diversity(recommended, item_features, k))
    return out
