import numpy as np
import pytest
import scipy.sparse as sp

from coursekit.models import ContentRecommender
from coursekit.models.content import NotFittedError


@pytest.fixture
def feats():
    return np.random.default_rng(2).normal(size=(120, 8)).astype(np.float32)


def test_similar_items_cosine_matches_brute_force(feats):
    model = ContentRecommender("cosine").fit(feats)
    idx, scores = model.similar_items([3, 50], 6)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    for row, q in enumerate([3, 50]):
        sims = unit @ unit[q]
        sims[q] = -np.inf
        assert idx[row].tolist() == np.argsort(-sims)[:6].tolist()
        assert np.allclose(scores[row], np.sort(sims)[::-1][:6], atol=1e-5)


def test_similar_items_euclidean(feats):
    idx, scores = ContentRecommender("euclidean").fit(feats).similar_items([7], 4)
    d = np.linalg.norm(feats - feats[7], axis=1)
    d[7] = np.inf
    assert idx[0].tolist() == np.argsort(d)[:4].tolist()
    assert np.allclose(-scores[0], np.sort(d)[:4], atol=1e-4)


def test_recommend_mean_similarity_excludes_consumed(feats):
    profiles = sp.csr_matrix(([1.0] * 4, ([0, 0, 0, 1], [1, 2, 3, 9])), shape=(2, 120))
    model = ContentRecommender("cosine").fit(feats)
    idx, _ = model.recommend(profiles, 10)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    s0 = (unit[[1, 2, 3]] @ unit.T).mean(0)
    s0[[1, 2, 3]] = -np.inf
    assert idx[0].tolist() == np.argsort(-s0)[:10].tolist()
    assert 9 not in idx[1]


def test_not_fitted_and_bad_metric(feats):
    with pytest.raises(NotFittedError, match="fit"):
        ContentRecommender().similar_items([0])
    with pytest.raises(ValueError, match="metric"):
        ContentRecommender("manhattan").fit(feats)
