"""Unit 2 baselines that need no training: VisRank (content only), popularity and random.

Each scores profiles against the whole catalogue: ``score_profiles(indptr, items)`` takes a CSR
profile table (int64 ``indptr`` (n_profiles + 1,), int64 ``items``) and returns float32 scores
(n_profiles, n_items). Availability and profile exclusion are applied by the evaluation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _profile_matrix(indptr, items, n_items: int) -> sp.csr_matrix:
    indptr = np.asarray(indptr, np.int64)
    return sp.csr_matrix((np.ones(len(items), np.float32), np.asarray(items, np.int64), indptr),
                         shape=(len(indptr) - 1, n_items))


class _Fitted:
    def _check_fitted(self, attr: str):
        if not hasattr(self, attr):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(...) first")


class VisRank(_Fitted):
    """Content-based ranking: the mean cosine similarity of an item to the profile's items.

    ``fit(features)`` takes float (n_items, d) visual features (for example z-scored embeddings).
    """

    def fit(self, features: np.ndarray) -> "VisRank":
        f = np.asarray(features, np.float32)
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        self.features_ = f / np.where(norms > 0, norms, 1.0)
        return self

    def score_profiles(self, indptr, items) -> np.ndarray:
        self._check_fitted("features_")
        p = _profile_matrix(indptr, items, len(self.features_))
        counts = np.maximum(np.asarray(p.sum(1)).ravel(), 1.0)
        centroid = (p @ self.features_) / counts[:, None]  # mean of unit vectors
        return (centroid @ self.features_.T).astype(np.float32)


class PopularityRanker(_Fitted):
    """Non-personalised: items ranked by their number of training sales.

    One-of-a-kind artworks leave when sold, so among the artworks on offer the only ones with
    past sales are prints that keep selling; every other candidate ties at zero.
    ``fit(train_items, n_items)`` takes the int64 items of all training purchases.
    """

    def fit(self, train_items: np.ndarray, n_items: int) -> "PopularityRanker":
        self.scores_ = np.bincount(np.asarray(train_items, np.int64), minlength=n_items).astype(np.float32)
        return self

    def score_profiles(self, indptr, items) -> np.ndarray:
        self._check_fitted("scores_")
        return np.broadcast_to(self.scores_, (len(indptr) - 1, len(self.scores_))).copy()


class RandomRanker(_Fitted):
    """Uniformly random scores (seeded): the floor every model must clear."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, n_items: int) -> "RandomRanker":
        self.n_items_ = int(n_items)
        return self

    def score_profiles(self, indptr, items) -> np.ndarray:
        self._check_fitted("n_items_")
        rng = np.random.default_rng(self.seed)
        return rng.random((len(indptr) - 1, self.n_items_), dtype=np.float32)
