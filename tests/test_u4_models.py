"""Unit-4 targets on toy 30Music data: user-kNN >= 2 x popularity, the two-tower model beats popularity."""

import numpy as np
import pytest

from coursekit.datasets.music30 import load_music30
from coursekit.evaluation import evaluate_model, holdout_top_items
from coursekit.interactions import Interactions
from coursekit.models.knn import ItemKNN, Popularity, UserKNN


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    data = load_music30("toy", data_home=tmp_path_factory.mktemp("home"), n_users=1500, n_artists=1200)
    train_df, test = holdout_top_items(data.user_artist_counts(), item_col="artist_id", count_col="plays", seed=0)
    return Interactions.from_frame(train_df, "user_id", "artist_id", "plays"), test


def _hr(model, split):
    train, test = split
    return evaluate_model(model.fit(train), train, test, k=10, item_col="artist_id")


def test_user_knn_doubles_popularity(split):
    pop = _hr(Popularity(), split).mean["hr@10"]
    knn = _hr(UserKNN(k=50, scaling="log"), split)
    assert knn.mean["hr@10"] >= 2 * pop, (knn.mean, pop)
    assert len(knn.per_user) == len(split[1])
    assert _hr(ItemKNN(k=50, scaling="log"), split).mean["hr@10"] >= 2 * pop


def test_two_tower_beats_popularity(split):
    from coursekit.models.torch_two_tower import TwoTowerModel

    pop = _hr(Popularity(), split).mean["hr@10"]
    model = TwoTowerModel(epochs=12, patience=2, seed=0)
    res = _hr(model, split)
    assert res.mean["hr@10"] >= 1.5 * pop, (res.mean, pop)
    assert model.best_epoch_ == 1 + int(np.nanargmax([h["valid_hr"] for h in model.history_]))
    assert model.user_vectors_.shape == (split[0].n_users, model.dim)
    np.testing.assert_allclose(np.linalg.norm(model.item_vectors_, axis=1), 1, atol=1e-5)  # cosine loss
