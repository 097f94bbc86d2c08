"""Unit 1 hot path: content top-k over a catalogue of UGallery size (13,297 items)."""

from __future__ import annotations

import heapq

import numpy as np

from . import Row, measure, timed


def _seed_style_topk(features: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    # the seed: pairwise distances per query, then a Python heap over every item
    from sklearn.metrics import pairwise_distances

    out = []
    for q in queries:
        d = pairwise_distances(features[q].reshape(1, -1), features, metric="cosine")[0]
        heap: list = []
        for i in range(len(d)):
            if len(heap) < k:
                heapq.heappush(heap, (-d[i], i))
            else:
                heapq.heappushpop(heap, (-d[i], i))
        out.append([i for _, i in sorted(heap, reverse=True)])
    return out


def run(quick: bool = False) -> list[Row]:
    from ..models.content import ContentRecommender

    rng = np.random.default_rng(0)
    n, d, k = 13_297, 100, 10
    features = rng.normal(size=(n, d)).astype(np.float32)
    n_queries = 200 if quick else 2000
    n_ref = 20 if quick else 50
    queries = rng.choice(n, size=n_queries, replace=False)
    model = ContentRecommender("cosine").fit(features)
    (idx, _), kit_s, peak = measure(model.similar_items, queries, k, exclude_self=False)
    ref, ref_s = timed(_seed_style_topk, features, queries[:n_ref], k)
    agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(idx[:n_ref].tolist(), ref)])
    per_query_kit = kit_s / n_queries
    per_query_ref = ref_s / n_ref
    return [
        Row(
            "u1", "content top-10 (cosine), per query", f"{n:,} items x {d}-d, {n_queries} queries",
            per_query_kit, per_query_ref, peak,
            note=f"reference: seed-style heap loop on {n_ref} queries; top-10 agreement {agree:.2f}",
        )
    ]
