"""Visual clusters of artworks: z-score, PCA, then KMeans chosen by silhouette over restarts; a 2-d
map of the artworks and how well it keeps each artwork's neighbourhood."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import zscore


@dataclass
class VisualClusters:
    """Result of :func:`visual_clusters`.

    labels : int64 (n_items,) cluster of each item, in ``0..n_clusters-1``.
    reduced : float32 (n_items, n_components) the z-scored, PCA-reduced features.
    centers : float32 (n_clusters, n_components) centroids of the chosen run.
    silhouettes : float64 (n_restarts,) silhouette of each restart; ``best`` the chosen one.
    """

    labels: np.ndarray
    reduced: np.ndarray
    centers: np.ndarray
    silhouettes: np.ndarray
    best: int

    @property
    def n_clusters(self) -> int:
        return len(self.centers)

    def members(self, cluster: int) -> np.ndarray:
        """Items of one cluster, closest to the centroid first (int64)."""
        idx = np.flatnonzero(self.labels == cluster)
        d = ((self.reduced[idx] - self.centers[cluster]) ** 2).sum(1)
        return idx[np.argsort(d, kind="stable")]


def visual_clusters(
    embeddings: np.ndarray,
    *,
    n_components: int = 200,
    n_clusters: int = 100,
    n_restarts: int = 5,
    seed: int = 0,
    silhouette_sample: int | None = 5000,
    max_iter: int = 300,
) -> VisualClusters:
    """Cluster items by their visual embeddings (float (n_items, d)).

    Standardise each dimension (:func:`coursekit.features.zscore`), keep ``n_components`` principal
    components, run KMeans ``n_restarts`` times with different seeds and keep the run with the
    highest silhouette coefficient (computed on a seeded sample of ``silhouette_sample`` items, or
    on all items when ``None``; the full computation is quadratic in the number of items).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from sklearn.decomposition import PCA

    z = zscore(embeddings)
    n_components = int(min(n_components, *z.shape))
    # the covariance solver is exact and much faster than a full SVD when items outnumber dimensions
    solver = "covariance_eigh" if z.shape[0] > z.shape[1] else "auto"
    x = PCA(n_components, svd_solver=solver, random_state=seed).fit_transform(z).astype(np.float32)
    n_clusters = int(min(n_clusters, len(x) - 1))
    sample = None if silhouette_sample is None or silhouette_sample >= len(x) else int(silhouette_sample)
    best, best_model, scores = -1, None, []
    for r in range(n_restarts):  # a handful of restarts; each KMeans run is vectorised
        model = KMeans(n_clusters=n_clusters, n_init=1, max_iter=max_iter, random_state=seed + r).fit(x)
        score = silhouette_score(x, model.labels_, sample_size=sample, random_state=seed)
        scores.append(score)
        if best_model is None or score > scores[best]:
            best, best_model = r, model
    return VisualClusters(
        labels=best_model.labels_.astype(np.int64),
        reduced=x,
        centers=best_model.cluster_centers_.astype(np.float32),
        silhouettes=np.asarray(scores, dtype=np.float64),
        best=best,
    )


def map_2d(x: np.ndarray, *, method: str = "pca", seed: int = 0, max_iter: int = 500) -> np.ndarray:
    """float32 (n, 2) coordinates of the rows of ``x`` (n, d) for a picture.

    ``"pca"``: the two directions of largest variance (linear, keeps the global layout, instant).
    ``"tsne"``: scikit-learn's t-SNE, seeded and initialised by PCA: keeps local neighbourhoods
    rather than distances, and costs tens of seconds for a few thousand items on two cores.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"x must be (n, d) with n >= 3, got shape {x.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(x).astype(np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(x) - 1) / 3)
        return TSNE(2, init="pca", perplexity=perplexity, max_iter=max_iter, random_state=seed
                    ).fit_transform(x).astype(np.float32)
    raise ValueError(f"unknown method {method!r}: use 'pca' or 'tsne'")


def neighbour_agreement(x: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean share of each item's ``k`` nearest neighbours in ``x`` (Euclidean, the item itself left
    out) that carry its label: how well a space (for example a 2-d map) keeps the clusters."""
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    if len(labels) != len(x):
        raise ValueError(f"{len(x)} rows but {len(labels)} labels")
    if not 1 <= k < len(x):
        raise ValueError(f"k must be in 1..{len(x) - 1}, got {k}")
    # k + 1 neighbours, then drop the item itself wherever it appears (exact duplicates may come first)
    idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)
    own = idx == np.arange(len(x))[:, None]
    keep = ~own
    keep[~own.any(axis=1), -1] = False  # the item itself was not among them: drop the farthest
    neighbours = idx[keep].reshape(len(x), k)
    return float((labels[neighbours] == labels[:, None]).mean())
