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
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_relevance", "hits_at_k", "precision_at_k", "recall_at_k", "hit_rate_at_k", "ndcg_at_k",
    "mrr_at_k", "auc_score", "evaluate_rankings", "pair_accuracy", "pair_auc",
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
