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
        from sklearn.metrics.pairwise import euclidean_distances

        return -euclidean_distances(q, self.features_)

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
