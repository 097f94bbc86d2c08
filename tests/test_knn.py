"""Popularity / UserKNN / ItemKNN against brute-force dense references."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit import DataError
from coursekit.interactions import Interactions
from coursekit.models.knn import (ItemKNN, Popularity, UserKNN, fill_by_order, popularity_tie_break,
                                  sparse_top_k)


def _random_interactions(n_users=60, n_items=40, density=0.12, seed=0):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density) * rng.integers(1, 5, (n_users, n_items))
    rows, cols = np.nonzero(dense)
    df = pd.DataFrame({"user_id": [f"u{r:03d}" for r in rows], "item_id": cols * 10, "count": dense[rows, cols]})
    return Interactions.from_frame(df, count_col="count"), dense.astype(float)


def _cosine(a):
    norms = np.linalg.norm(a, axis=1)
    norms[norms == 0] = 1
    an = a / norms[:, None]
    return an @ an.T


def _user_knn_scores(dense, k):
    sim = _cosine(dense)
    np.fill_diagonal(sim, 0)
    out = np.zeros_like(dense)
    for u in range(len(dense)):  # reference: loop over users, full sort of neighbours
        order = sorted(range(len(dense)), key=lambda v: (-sim[u, v], v))[:k]
        order = [v for v in order if sim[u, v] > 0]
        out[u] = sim[u, order] @ dense[order]
    return out


def test_user_knn_scores_match_brute_force():
    inter, dense = _random_interactions()
    model = UserKNN(k=5).fit(inter)
    np.testing.assert_allclose(model.score(np.arange(inter.n_users)), _user_knn_scores(dense, 5), rtol=1e-5, atol=1e-6)
    assert model.neighbours_.shape == (60, 60)
    assert np.diff(model.neighbours_.indptr).max() <= 5
    assert model.neighbours_.diagonal().sum() == 0  # nobody is their own neighbour


def test_item_knn_scores_match_brute_force():
    inter, dense = _random_interactions()
    model = ItemKNN(k=4).fit(inter)
    sim = _cosine(dense.T)
    np.fill_diagonal(sim, 0)
    pop = (dense > 0).sum(axis=0)
    w = np.zeros_like(sim)
    for i in range(len(sim)):
        order = sorted(range(len(sim)), key=lambda j: (-sim[i, j], -pop[j], j))[:4]
        order = [j for j in order if sim[i, j] > 0]
        w[i, order] = sim[i, order]
    np.testing.assert_allclose(model.score(np.arange(inter.n_users)), dense @ w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", [Popularity(), UserKNN(k=3), UserKNN(k=20, scaling="log"), ItemKNN(k=5)])
def test_sparse_top_n_equals_dense_top_k(model):
    inter, _ = _random_interactions(seed=1)
    model.fit(inter)
    rows = np.arange(inter.n_users)
    for exclude in (inter.matrix, None):
        fast = model.top_n(rows, 12, exclude)
        slow = model.top_n_dense(rows, 12, exclude)
        np.testing.assert_array_equal(fast, slow)


def test_recommend_returns_original_ids_and_excludes_seen():
    inter, dense = _random_interactions()
    model = UserKNN(k=10).fit(inter)
    users = np.array(["u005", "u001", "u042"])
    recs = model.recommend(users, n=7)
    assert recs.shape == (3, 7)
    assert set(np.unique(recs)) <= set(inter.item_ids)
    for u, row in zip(users, recs):
        seen = set(inter.item_ids[dense[int(u[1:])] > 0])
        assert not seen & set(row)
        assert len(set(row)) == 7
    with_seen = model.recommend(users, n=7, exclude_seen=False)
    assert any(set(r) & set(inter.item_ids[dense[int(u[1:])] > 0]) for u, r in zip(users, with_seen))


def test_popularity_recommends_most_popular_unseen():
    df = pd.DataFrame({"user_id": ["a", "b", "c", "c", "a", "b", "d"], "item_id": ["x", "x", "x", "y", "y", "z", "w"]})
    model = Popularity().fit(Interactions.from_frame(df))
    np.testing.assert_array_equal(model.recommend(["a", "d"], n=2), [["w", "z"], ["x", "y"]])
    # x (3 users) > y (2) > z, w (1 each; ties go to the lower column: w before z)


def test_short_catalogue_pads_with_none():
    df = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": [1, 2, 1]})
    recs = Popularity().fit(Interactions.from_frame(df)).recommend(["a", "b"], n=2)
    assert recs[0].tolist() == [None, None] and recs[1].tolist() == [2, None]


def test_errors_before_fit_and_for_unknown_users():
    with pytest.raises(RuntimeError, match="fit"):
        UserKNN().recommend(["a"])
    inter, _ = _random_interactions()
    with pytest.raises(DataError, match="'nobody'"):
        UserKNN(k=3).fit(inter).recommend(["nobody"])
    with pytest.raises(ValueError):
        UserKNN(similarity="pearson").fit(inter)


def test_sparse_top_k_against_sort():
    rng = np.random.default_rng(3)
    m = sp.random(50, 200, density=0.05, random_state=4, format="csr")
    m.data = np.round(m.data * 4)  # many ties
    m.eliminate_zeros()
    tb = popularity_tie_break(rng.random(200))
    idx, vals = sparse_top_k(m, 6, tb)
    dense = m.toarray()
    for r in range(50):
        cand = np.flatnonzero(dense[r])
        expected = sorted(cand, key=lambda j: (-dense[r, j], -tb[j]))[:6]
        got = [j for j in idx[r] if j >= 0]
        assert got == expected
        np.testing.assert_array_equal(vals[r, :len(got)], dense[r, got])


def test_fill_by_order_skips_excluded_and_listed():
    lists = np.array([[3, -1, -1], [-1, -1, -1], [1, 2, 3]])
    exclude = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]))
    got = fill_by_order(lists, np.array([4, 0, 3, 1, 2]), exclude)
    np.testing.assert_array_equal(got, [[3, 4, 1], [0, 3, 1], [1, 2, 3]])


def test_popularity_tie_break_is_a_rank_in_unit_interval():
    tb = popularity_tie_break(np.array([5, 1, 5, 0]))
    assert np.all((tb >= 0) & (tb < 1))
    assert list(np.argsort(-tb)) == [0, 2, 1, 3]
