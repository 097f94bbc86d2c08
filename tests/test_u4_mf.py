"""Implicit-feedback ALS: the exact step against a per-user loop, conjugate gradient against the
exact step, the objective against a dense brute force, and the kit's model against ``implicit``."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit.evaluation import evaluate_model
from coursekit.grading.exercises.u4 import als_inputs, als_reference
from coursekit.interactions import Interactions
from coursekit.models.knn import Popularity, dense_top_n
from coursekit.models.mf import ImplicitALS, ImplicitLibraryALS, als_cg, als_loss, als_solve, confidence
from coursekit.ranking import mask_items, top_k


def test_exact_step_solves_every_users_normal_equations():
    w, y = als_inputs(n_users=50, n_items=35, f=6, seed=1)
    np.testing.assert_allclose(als_solve(w, y, 0.3), als_reference(w, y, 0.3), atol=1e-10)
    assert np.allclose(als_solve(w, y, 0.3)[3], 0.0)  # user 3 played nothing


def test_conjugate_gradient_reaches_the_exact_step():
    w, y = als_inputs(n_users=60, n_items=40, f=5, seed=2)
    exact = als_solve(w, y, 0.5)
    start = np.zeros_like(exact)
    few, many = als_cg(w, y, 0.5, start, steps=1), als_cg(w, y, 0.5, start, steps=5)  # 5 = f steps: exact in theory
    assert np.abs(many - exact).max() < 1e-3 < np.abs(few - exact).max()


def test_objective_against_a_dense_brute_force():
    w, y = als_inputs(n_users=20, n_items=15, f=3, seed=3)
    x = np.random.default_rng(0).normal(size=(20, 3))
    c, p = 1 + w.toarray(), (w.toarray() != 0).astype(float)
    brute = float((c * (p - x @ y.T) ** 2).sum() + 0.7 * ((x ** 2).sum() + (y ** 2).sum()))
    assert als_loss(w, x, y, 0.7) == pytest.approx(brute, rel=1e-10)


@pytest.fixture(scope="module")
def communities():
    """Two communities of users, each playing its own half of 40 artists (log-normal counts)."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(200), 8)
    items = rng.integers(0, 20, len(users)) + 20 * (users % 2)
    plays = np.round(rng.lognormal(2, 1, len(users))) + 1
    df = pd.DataFrame({"user_id": users, "item_id": items, "plays": plays}).groupby(
        ["user_id", "item_id"], as_index=False)["plays"].sum()
    return Interactions.from_frame(df, count_col="plays")


def test_every_sweep_lowers_the_exact_objective_and_cg_follows(communities):
    exact = ImplicitALS(factors=4, iterations=6, solver="exact", track_loss=True).fit(communities)
    cg = ImplicitALS(factors=4, iterations=6, track_loss=True).fit(communities)
    assert np.all(np.diff(exact.loss_) <= 1e-9), exact.loss_  # ALS with exact steps never goes up
    assert cg.loss_[-1] == pytest.approx(exact.loss_[-1], rel=0.02)


def test_kit_and_implicit_learn_the_communities_alike(communities):
    kit = ImplicitALS(factors=8, iterations=10).fit(communities)
    lib = ImplicitLibraryALS(factors=8, iterations=10).fit(communities)
    again = ImplicitLibraryALS(factors=8, iterations=10).fit(communities)
    np.testing.assert_array_equal(lib.item_factors_, again.item_factors_)  # seeded: the same model twice
    w = confidence(communities.matrix)
    assert als_loss(w, kit.user_factors_, kit.item_factors_, 0.1) == pytest.approx(
        als_loss(w, lib.user_factors_, lib.item_factors_, 0.1), rel=0.05)
    for model in (kit, lib):
        recs = model.recommend(communities.user_ids, n=5)
        assert ((recs // 20) == (communities.user_ids % 2)[:, None]).mean() > 0.85  # each user's own half (chance: 0.5)
        seen = communities.matrix[np.repeat(np.arange(communities.n_users), 5), communities.item_index(recs.ravel())]
        assert not np.asarray(seen).any()
    assert set(kit.similar_items([0], n=5).ravel()) <= set(range(20))


def test_dense_top_n_ranks_like_top_k():
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 4, (30, 25)).astype(float)  # many ties
    exclude = sp.random(30, 25, density=0.3, random_state=2, format="csr")
    tie_break = rng.random(25)
    np.testing.assert_array_equal(dense_top_n(scores, 7, exclude, tie_break),
                                  top_k(mask_items(scores, exclude), 7, tie_break=tie_break)[0])
    everything = sp.csr_matrix(np.ones((2, 25)))
    assert (dense_top_n(scores[:2], 3, everything) == -1).all()  # nothing left to recommend


def test_factor_models_go_through_the_evaluation(communities):
    hold = pd.DataFrame({"user_id": communities.user_ids[:40], "item_id": 20 * (communities.user_ids[:40] % 2) + 19})
    als = evaluate_model(ImplicitALS(factors=8).fit(communities), communities, hold, k=10)
    pop = evaluate_model(Popularity().fit(communities), communities, hold, k=10)
    assert als.recommended.shape == (40, 10) and als.mean["hr@10"] >= pop.mean["hr@10"]
    with pytest.raises(ValueError, match="solver"):
        ImplicitALS(solver="newton").fit(communities)
