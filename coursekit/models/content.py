"""Content-based recommendation from item feature vectors (unit 1, reused by the visual units)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..ranking import mask_items, top_k

METRICS = ("cosine", "euclidean")


class NotFittedError(RuntimeError):
    """Raised when a model is used before ``fit``."""


class ContentRecommender:
    """Similar items and user-profile recommendations from item features.

    Parameters
    ----------
    metric : "cosine" (similarity = cosine of the angle) or "euclidean" (similarity = minus the
        distance). Higher similarity is better for both.

    Attributes (after ``fit``)
    --------------------------
    features_ : float32 (n_items, d), L2-normalised rows for cosine.
    n_items_ : int
    """

    def __init__(self, metric: str = "cosine"):
        self.metric = metric

    def fit(self, features: np.ndarray) -> "ContentRecommender":
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        x = np.asarray(features, dtype=np.float32)
        if self.metric == "cosine":
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            x = x / np.where(norms == 0, 1.0, norms)
        self.features_ = x
        self.n_items_ = x.shape[0]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "features_"):
            raise NotFittedError("call fit(features) before asking for recommendations")

    def similarity(self, items) -> np.ndarray:
        """Similarity of the given item indices to every item: float (len(items), n_items)."""
        self._check_fitted()
        q = self.features_[np.asarray(items, dtype=np.int64)]
        if self.metric == "cosine":
            return q @ self.features_.T
        # Euclidean: ||q||^2 + ||x||^2 - 2 q.x in float64 (one BLAS product; sklearn's
        # euclidean_distances upcasts float32 input in small chunks and was 10-20 x slower here)
        x = self.features_.astype(np.float64)
        sq = np.einsum("ij,ij->i", x, x)
        rows = np.asarray(items, dtype=np.int64)
        d2 = sq[rows][:, None] + sq[None, :] - 2.0 * (x[rows] @ x.T)
        return -np.sqrt(np.maximum(d2, 0.0, out=d2), out=d2)

    def similar_items(self, items, k: int = 10, *, exclude_self: bool = True):
        """The ``k`` most similar items to each query item (the query itself left out).

        Returns ``(indices, scores)``, each (len(items), k), best first.
        """
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        sim = self.similarity(items).astype(np.float64)
        if exclude_self:
            sim[np.arange(len(items)), items] = -np.inf
        return top_k(sim, k)

    def score_users(self, profiles) -> np.ndarray:
        """Mean similarity of every item to each user's consumed items.

        ``profiles`` is a sparse or dense (n_users, n_items) matrix whose non-zeros are consumed
        items. Returns float64 (n_users, n_items). Users with an empty profile get all zeros.
        """
        self._check_fitted()
        p = sp.csr_matrix(profiles, dtype=np.float64)
        used = np.unique(p.indices)
        weights = p[:, used]
        counts = np.asarray(weights.sum(axis=1)).ravel()
        weights = sp.diags(1.0 / np.where(counts == 0, 1.0, counts)) @ weights
        return np.asarray(weights @ self.similarity(used), dtype=np.float64)

    def recommend(self, profiles, k: int = 10, *, exclude_consumed: bool = True):
        """Top-``k`` items per user by mean similarity to the profile, consumed items left out.

        Returns ``(indices, scores)``, each (n_users, k), best first.
        """
        scores = self.score_users(profiles)
        if exclude_consumed:
            scores = mask_items(scores, sp.csr_matrix(profiles))
        return top_k(scores, k)

    def explain(self, profiles, recommended):
        """"Because you bought X": the profile item that contributed most to each recommended score.

        A user's score of item ``i`` is the mean of ``similarity(i, j)`` over the items ``j`` of the
        profile (:meth:`score_users`), so the largest term, the most similar profile item, is the
        one that pushed ``i`` up most. ``profiles`` (n_users, n_items) as for :meth:`score_users`;
        ``recommended`` int (n_users, k) with ``-1`` padding.

        Returns ``(because, similarity)``, each (n_users, k): the profile item index (``-1`` for a
        padded slot or an empty profile; ties go to the lower index) and its similarity to the
        recommended item (NaN there). Vectorised over the (slot, profile item) pairs: the cost is
        k x (profile entries) x d, never a dense (users x k x n_items) array.
        """
        self._check_fitted()
        p = sp.csr_matrix(profiles, dtype=np.float64)
        p.sum_duplicates()
        rec = np.atleast_2d(np.asarray(recommended, dtype=np.int64))
        n_users, k = rec.shape
        if p.shape[0] != n_users:
            raise ValueError(f"profiles has {p.shape[0]} rows but recommended has {n_users}")
        because = np.full((n_users, k), -1, np.int64)
        best = np.full((n_users, k), np.nan)
        lengths = np.diff(p.indptr)
        # one (slot, profile item) pair per profile entry and slot: slot-major, items ascending
        slot_user = np.repeat(np.arange(n_users), k)
        slot_item = rec.ravel()
        per_slot = np.where(slot_item >= 0, lengths[slot_user], 0)
        if per_slot.sum() == 0:
            return because, best
        pair_slot = np.repeat(np.arange(n_users * k), per_slot)
        start = np.repeat(p.indptr[slot_user] - np.cumsum(per_slot) + per_slot, per_slot)
        pair_prof = p.indices[start + np.arange(per_slot.sum())]
        a = self.features_[slot_item[pair_slot]].astype(np.float64)
        b = self.features_[pair_prof].astype(np.float64)
        if self.metric == "cosine":
            sim = np.einsum("ij,ij->i", a, b)
        else:
            sim = -np.sqrt(np.maximum(np.einsum("ij,ij->i", a - b, a - b), 0.0))
        # per slot: the largest similarity, ties to the lower item index (lexsort by slot, -sim, item)
        order = np.lexsort((pair_prof, -sim, pair_slot))
        first = np.r_[True, pair_slot[order][1:] != pair_slot[order][:-1]]
        winners = order[first]
        slots = pair_slot[winners]
        because.ravel()[slots] = pair_prof[winners]
        best.ravel()[slots] = sim[winners]
        return because, best


def compare_settings(feature_sets: dict, profiles, relevant, k: int = 10, *,
                     metrics: tuple[str, ...] = METRICS, auc: bool = True, ci: float | None = 0.95):
    """Evaluate the profile recommender for every (feature set, metric) pair on one split.

    ``feature_sets`` maps a name to an item feature matrix (n_items, d); ``profiles`` and
    ``relevant`` are (n_users, n_items) matrices (sparse or dense) of the consumed and the held-out
    items. Every item a user has not consumed is a candidate. Returns ``(table, per_user)``:
    ``table`` is a DataFrame indexed by (features, metric) with precision@k, recall@k, nDCG@k
    (and AUC) averaged over the users and, with ``ci`` (a confidence level), the spread of nDCG@k
    and AUC: ``"ndcg@k ±"`` and ``"auc ±"``, the half-widths of their t intervals over the users
    (:func:`coursekit.metrics.mean_ci`); ``per_user[(features, metric)]`` holds the per-user
    nDCG@k (and AUC) arrays, for paired comparisons between settings.
    """
    import pandas as pd

    from .. import metrics as m

    past = sp.csr_matrix(profiles, dtype=bool)
    truth = m.as_relevance(relevant, past.shape[1])
    candidates = ~past.toarray() if auc else None
    rows, per_user = {}, {}
    for name, feats in feature_sets.items():
        for metric in metrics:
            scores = ContentRecommender(metric).fit(feats).score_users(past)
            recommended, _ = top_k(mask_items(scores, past), k)
            ndcg = m.ndcg_at_k(recommended, truth, k)
            row = {f"precision@{k}": np.nanmean(m.precision_at_k(recommended, truth, k)),
                   f"recall@{k}": np.nanmean(m.recall_at_k(recommended, truth, k))}
            per_user[(name, metric)] = {f"ndcg@{k}": ndcg}
            if auc:
                per_user[(name, metric)]["auc"] = m.auc_score(scores, truth, candidates)
            for figure, values in per_user[(name, metric)].items():
                if ci is None:
                    row[figure] = np.nanmean(values)
                else:
                    row[figure], row[f"{figure} \u00b1"] = m.mean_ci(values, ci)
            rows[(name, metric)] = row
    table = pd.DataFrame(rows).T.astype(float)
    table.index.names = ["features", "metric"]
    return table, per_user
