"""Unit 1 exercises: z-score, cosine top-k, profile recommendation, nDCG@k."""

from __future__ import annotations

import numpy as np

from ..checks import exercise


def _rng():
    return np.random.default_rng(12345)


@exercise("u1.zscore", title="z-score normalisation with a zero-variance guard",
          hint="Use the mean and standard deviation of each column (axis=0); where the standard "
               "deviation is 0, divide by 1 instead so dead units stay 0 and never become NaN.")
def check_zscore(zscore):
    x = _rng().gamma(2.0, 1.5, size=(40, 7))
    x[:, 3] = 4.0  # a constant (dead) column
    original = x.copy()
    got = np.asarray(zscore(x), dtype=float)
    assert got.shape == x.shape, f"expected shape {x.shape}, got {got.shape}"
    assert np.isfinite(got).all(), "the result holds NaN or inf: guard the zero-variance column"
    std = original.std(axis=0)
    expected = (original - original.mean(axis=0)) / np.where(std == 0, 1.0, std)
    assert np.allclose(got, expected, atol=1e-5), "columns should have mean 0 and standard deviation 1"


@exercise("u1.cosine_topk", title="the k most similar artworks by cosine similarity",
          hint="Normalise the rows to unit length, take one matrix-vector product, set the query's "
               "own score to -inf, then np.argpartition(-scores, k) and sort only those k.")
def check_cosine_topk(cosine_top_k):
    rng = _rng()
    feats = rng.normal(size=(300, 12))
    feats[7] *= 50.0  # cosine must not care about length
    for query, k in ((7, 5), (0, 10), (299, 1)):
        got = np.asarray(cosine_top_k(feats, query, k))
        assert got.shape == (k,), f"expected {k} indices, got shape {got.shape}"
        assert query not in got, "the query itself should not be among its neighbours"
        unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        sims = unit @ unit[query]
        sims[query] = -np.inf
        expected = np.argsort(-sims, kind="stable")[:k]
        assert np.array_equal(got, expected), (
            f"query {query}: expected {expected.tolist()}, got {got.tolist()} (best first)"
        )


@exercise("u1.recommend", title="recommend from a user's profile, consumed items left out",
          hint="Score every artwork by its mean cosine similarity to the consumed artworks, set the "
               "consumed ones to -inf, and return the k best indices, best first.")
def check_recommend(recommend_for_profile):
    rng = _rng()
    feats = rng.normal(size=(200, 10))
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    for consumed, k in (([3, 17, 42], 10), ([5], 3), ([0, 1, 2, 3, 4, 5, 6], 20)):
        got = np.asarray(recommend_for_profile(feats, np.array(consumed), k))
        assert got.shape == (k,), f"expected {k} indices, got shape {got.shape}"
        assert not set(got.tolist()) & set(consumed), "consumed artworks must not be recommended"
        scores = (unit[consumed] @ unit.T).mean(axis=0)
        scores[consumed] = -np.inf
        expected = np.argsort(-scores, kind="stable")[:k]
        assert np.array_equal(got, expected), (
            f"profile {consumed}: expected {expected.tolist()[:5]}..., got {got.tolist()[:5]}..."
        )


def _ndcg_reference(recommended, relevant, k):
    relevant = set(relevant)
    dcg = sum(1.0 / np.log2(rank + 2) for rank, item in enumerate(recommended[:k]) if item in relevant)
    idcg = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / idcg if idcg > 0 else 0.0


@exercise("u1.ndcg", title="nDCG@k of one ranked list",
          hint="DCG adds 1/log2(rank + 1) for each relevant item in the first k ranks (rank from 1); "
               "divide by the DCG of an ideal list with min(|relevant|, k) hits at the top.")
def check_ndcg(ndcg_at_k):
    cases = [
        ([1, 2, 3, 4, 5], [1], 5, 1.0),
        ([9, 8, 1, 7, 6], [1], 5, 1.0 / np.log2(4)),
        ([9, 8, 7], [1, 2], 3, 0.0),
    ]
    for rec, rel, k, expected in cases:
        got = float(ndcg_at_k(np.array(rec), np.array(rel), k))
        assert abs(got - expected) < 1e-9, f"ndcg_at_k({rec}, {rel}, k={k}) should be {expected:.4f}, got {got:.4f}"
    rng = _rng()
    for _ in range(20):
        rec = rng.permutation(50)[:10]
        rel = rng.choice(50, size=rng.integers(1, 15), replace=False)
        k = int(rng.integers(1, 11))
        expected = _ndcg_reference(rec.tolist(), rel.tolist(), k)
        got = float(ndcg_at_k(rec, rel, k))
        assert abs(got - expected) < 1e-9, (
            f"with {len(rel)} relevant items and k={k}: expected {expected:.4f}, got {got:.4f} "
            "(is the ideal DCG computed over min(|relevant|, k) items?)"
        )
