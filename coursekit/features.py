"""Feature processing for the visual units: concatenate, z-score, PCA."""

from __future__ import annotations

import numpy as np


def concat(*matrices: np.ndarray) -> np.ndarray:
    """Stack feature matrices side by side: (n, d1), (n, d2), ... -> (n, d1 + d2 + ...) float32."""
    n = {m.shape[0] for m in matrices}
    if len(n) != 1:
        raise ValueError(f"all matrices need the same number of rows, got {sorted(n)}")
    return np.hstack([np.asarray(m, dtype=np.float32) for m in matrices])


def zscore(x: np.ndarray) -> np.ndarray:
    """Standardise each column to mean 0 and standard deviation 1.

    Columns with zero variance (dead CNN units) are only centred, never divided by zero.
    Returns a new float32 array of the same shape.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return ((x - mean) / std).astype(np.float32)


def pca(x: np.ndarray, n_components: int, *, seed: int = 0) -> np.ndarray:
    """Project rows on their first ``n_components`` principal components (scikit-learn PCA)."""
    from sklearn.decomposition import PCA

    n_components = int(min(n_components, *x.shape))
    model = PCA(n_components=n_components, random_state=seed)
    return model.fit_transform(np.asarray(x, dtype=np.float32)).astype(np.float32)


def explained_variance(x: np.ndarray, n_components: int, *, seed: int = 0) -> np.ndarray:
    """Cumulative share of variance kept by the first 1..n_components components."""
    from sklearn.decomposition import PCA

    n_components = int(min(n_components, *x.shape))
    model = PCA(n_components=n_components, random_state=seed).fit(np.asarray(x, dtype=np.float32))
    return np.cumsum(model.explained_variance_ratio_)
