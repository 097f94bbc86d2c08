"""evaluate_model and the hold-out protocols."""

import numpy as np
import pandas as pd
import pytest

from coursekit import DataError
from coursekit.evaluation import (evaluate_model, exposure_by_popularity, holdout_top_items, leave_last_session_out,
                                 mean_table, popularity_bins)
from coursekit.interactions import Interactions
from coursekit.models.knn import Popularity, UserKNN


def _train_test():
    train = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "c", "d"],
                          "item_id": [1, 2, 1, 3, 2, 3, 1]})
    test = pd.DataFrame({"user_id": ["a", "b", "b", "c", "e"], "item_id": [3, 2, 9, 4, 1]})
    return Interactions.from_frame(train), test


def test_evaluate_popularity_by_hand():
    train, test = _train_test()
    # popularity: 1 (3 users) > 2 = 3 (2 users; tie -> lower column, item 2 first) > 4? (4 is not in train)
    res = evaluate_model(Popularity().fit(train), train, test, k=1)
    # users a, b, c are evaluated (e is unknown to train, d has no test item)
    assert list(res.per_user["user"]) == ["a", "b", "c"]
    # a saw 1, 2 -> recommends 3 (hit); b saw 1, 3 -> 2 (hit, relevant {2, 9}); c saw 2, 3 -> 1 (miss)
    np.testing.assert_array_equal(res.per_user["hr@1"], [1, 1, 0])
    np.testing.assert_allclose(res.per_user["recall@1"], [1, 0.5, 0])
    np.testing.assert_allclose(res.per_user["ndcg@1"], [1, 1, 0])
    assert res.mean["hr@1"] == pytest.approx(2 / 3)
    assert res.k == 1
    # the scored lists are kept, as columns of train: item 3 -> column 2, item 2 -> 1, item 1 -> 0
    np.testing.assert_array_equal(res.recommended, [[2], [1], [0]])


class _ScoreOnly:
    """Any object with score(user_rows): the generic dense path."""

    def __init__(self, model):
        self.model = model

    def score(self, rows):
        return self.model.score(rows)


def test_generic_score_path_equals_kit_path():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user_id": rng.integers(0, 80, 600), "item_id": rng.integers(0, 50, 600)})
    train_df, test_df = df.iloc[:500], df.iloc[500:]
    train = Interactions.from_frame(train_df)
    model = UserKNN(k=10).fit(train)
    fast = evaluate_model(model, train, test_df, k=5, batch_size=7)
    slow = evaluate_model(_ScoreOnly(model), train, test_df, k=5, batch_size=1000)
    pd.testing.assert_frame_equal(fast.per_user, slow.per_user)
    assert fast.mean["hr@5"] > 0
    np.testing.assert_array_equal(fast.recommended, slow.recommended)
    # the lists behind the metrics: the model's own top 5 of each evaluated user, seen items left out
    rows = train.user_index(fast.per_user["user"])
    np.testing.assert_array_equal(fast.recommended, model.top_n(rows, 5, train.matrix[rows]))
    assert fast.recommended.shape == (len(fast.per_user), 5) and fast.recommended.dtype == np.int64


def test_users_argument_and_bad_columns():
    train, test = _train_test()
    res = evaluate_model(Popularity().fit(train), train, test, k=2, users=["c"])
    assert list(res.per_user["user"]) == ["c"]
    with pytest.raises(DataError, match="'artist'"):
        evaluate_model(Popularity().fit(train), train, test, item_col="artist")


def test_holdout_top_items_follows_the_protocol():
    rng = np.random.default_rng(1)
    rows = []
    for u in range(40):
        n = 5 if u % 4 == 0 else 15  # every fourth user has too few artists
        for a in range(n):
            rows.append((u, a, int(rng.integers(1, 100))))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "count"])
    train, test = holdout_top_items(df, seed=3)
    assert set(test["user_id"]) == {u for u in range(40) if u % 4}
    assert len(test) == test["user_id"].nunique()
    assert len(train) + len(test) == len(df)
    for _, r in test.iterrows():
        counts = df[df.user_id == r.user_id].sort_values(["count", "item_id"], ascending=[False, True])
        assert r.item_id in counts.item_id.iloc[:6].to_list()
    picked_ranks = [list(df[df.user_id == r.user_id].sort_values(["count", "item_id"], ascending=[False, True])
                         .item_id).index(r.item_id) for _, r in test.iterrows()]
    assert 0 in picked_ranks  # the favourite can be hidden too (the seed's randrange(1, 6) never did)
    again = holdout_top_items(df, seed=3)[1]
    pd.testing.assert_frame_equal(test, again)
    assert not holdout_top_items(df, seed=4)[1].equals(test)



def test_holdout_top_items_users_carves_a_validation_split():
    rng = np.random.default_rng(2)
    rows = [(u, a, int(rng.integers(1, 100))) for u in range(30) for a in range(12 if u % 3 else 8)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "count"])
    train, test = holdout_top_items(df, seed=0)
    assert set(test["user_id"]) == {u for u in range(30) if u % 3}
    # one more item of each test user, from what is left of their top 6, and nobody else's
    fit, valid = holdout_top_items(train, min_items=0, seed=1, users=test["user_id"])
    assert set(valid["user_id"]) == set(test["user_id"]) and len(valid) == len(test)
    assert not set(zip(valid.user_id, valid.item_id)) & set(zip(test.user_id, test.item_id))
    assert len(fit) + len(valid) == len(train)
    for _, r in valid.iterrows():
        left = train[train.user_id == r.user_id].sort_values(["count", "item_id"], ascending=[False, True])
        assert r.item_id in left.item_id.iloc[:6].to_list()
    # without users= every user with more than min_items items would qualify
    assert holdout_top_items(train, min_items=0, seed=1)[1]["user_id"].nunique() == 30
    # users= only restricts: the qualified users' draws are the same as without it
    all_users = holdout_top_items(train, min_items=0, seed=1)[1]
    pd.testing.assert_frame_equal(all_users[all_users.user_id.isin(test.user_id)].reset_index(drop=True), valid)

def test_leave_last_session_out():
    ev = pd.DataFrame({
        "user_id": [1, 1, 1, 1, 2, 2],
        "session_id": [10, 10, 11, 11, 20, 20],
        "timestamp": [5, 5, 9, 9, 1, 1],
        "item_id": ["x", "y", "y", "z", "x", "w"],
    })
    train, test = leave_last_session_out(ev)
    # user 1: last session 11 holds y (already in train -> dropped) and z; user 2 has one session only
    assert test[["user_id", "item_id"]].values.tolist() == [[1, "z"]]
    assert sorted(map(tuple, train[["user_id", "item_id"]].values.tolist())) == [(1, "x"), (1, "y"), (2, "w"), (2, "x")]


# --------------------------------------------------------------------------- popularity bins and exposure

def test_popularity_bins_and_exposure_by_hand():
    pop = np.array([5.0, 1.0, 3.0, 3.0, 0.0])
    # least popular first, ties by index: item 4 (0), 1 (1), 2 (3), 3 (3), 0 (5)
    np.testing.assert_array_equal(popularity_bins(pop, 5), [4, 1, 2, 3, 0])
    np.testing.assert_array_equal(popularity_bins(pop, 2), [1, 0, 0, 1, 0])  # bins of 3 and 2 items
    rec = np.array([[0, 2], [0, -1], [3, 0]])  # -1 pads a short list
    np.testing.assert_allclose(exposure_by_popularity(rec, pop, 5), [0, 0, 1 / 5, 1 / 5, 3 / 5])
    np.testing.assert_allclose(exposure_by_popularity(rec, pop, 1), [1.0])
    np.testing.assert_array_equal(exposure_by_popularity(np.full((2, 3), -1), pop, 5), np.zeros(5))


def test_exposure_by_popularity_against_a_slow_reference():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n_items, n_bins = int(rng.integers(10, 60)), int(rng.integers(1, 10))
        pop = rng.integers(0, 6, n_items).astype(float)  # many ties
        rec = rng.integers(-1, n_items, size=(int(rng.integers(1, 30)), int(rng.integers(1, 8))))
        ranked = sorted(range(n_items), key=lambda i: (pop[i], i))  # least popular first
        size = {item: pos * n_bins // n_items for pos, item in enumerate(ranked)}
        counts = np.zeros(n_bins)
        for item in rec.ravel():
            if item >= 0:
                counts[size[item]] += 1
        expected = counts / counts.sum() if counts.sum() else counts
        np.testing.assert_allclose(exposure_by_popularity(rec, pop, n_bins), expected)
        sizes = np.bincount(popularity_bins(pop, n_bins), minlength=n_bins)
        assert sizes.max() - sizes.min() <= 1  # (nearly) equal bins


@pytest.mark.parametrize("args, message", [
    ((np.array([[0]]), np.ones(3), 0), "n_bins"),
    ((np.array([[0]]), np.ones(3), 4), "n_bins"),
    ((np.array([[3]]), np.ones(3), 2), "outside the catalogue"),
    ((np.array([0, 1]), np.ones(3), 2), "2-d"),
])
def test_exposure_by_popularity_errors(args, message):
    with pytest.raises(ValueError, match=message):
        exposure_by_popularity(*args)


def test_popularity_exposure_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.plots import popularity_exposure

    pop = np.array([5.0, 1.0, 3.0, 3.0, 0.0, 9.0, 2.0, 4.0, 1.0, 7.0])
    recs = {"a": np.array([[5, 9], [5, 0]]), "b": np.array([[4, 1], [-1, 8]])}
    fig = popularity_exposure(recs, pop, n_bins=5, reference={"held out": np.array([[2], [-1]])})
    left, right = fig.axes
    shares = {line.get_label(): line.get_ydata() for line in left.get_lines()}
    np.testing.assert_allclose(shares["a"], exposure_by_popularity(recs["a"], pop, 5))
    np.testing.assert_allclose(shares["held out"], [0, 0, 1, 0, 0])
    np.testing.assert_allclose(shares["training interactions"], [1 / 35, 3 / 35, 6 / 35, 9 / 35, 16 / 35])
    # right panel: one dot per recommended item with popularity > 0 (item 4 has none)
    dots = {line.get_label(): line.get_xydata() for line in right.get_lines()}
    assert sorted(map(tuple, dots["a"])) == [(5.0, 1.0), (7.0, 1.0), (9.0, 2.0)]
    assert sorted(map(tuple, dots["b"])) == [(1.0, 1.0), (1.0, 1.0)]
    assert [t.get_text() for t in fig.legends[0].get_texts()][:3] == ["a", "b", "held out"]
    plt.close(fig)


def test_mean_table_gives_means_and_t_interval_half_widths_by_hand():
    a = pd.DataFrame({"hr@10": [1.0, 0.0, 1.0, 1.0], "ndcg@10": [0.5, 0.0, np.nan, 1.0]})
    table = mean_table({"a": a, "b": pd.Series([0.0, 0.0, 1.0, 1.0], name="hr@10")}, level=0.95)
    assert list(table.index) == ["a", "b"]
    assert list(table.columns) == ["hr@10", "hr@10 \u00b1", "ndcg@10", "ndcg@10 \u00b1"]
    # hr@10 of a: mean 0.75, sd 0.5, n 4, t(0.975, 3) = 3.182446: half-width 3.182446 * 0.5 / 2
    assert table.loc["a", "hr@10"] == 0.75 and table.loc["a", "hr@10 \u00b1"] == pytest.approx(0.7956116, rel=1e-6)
    # the NaN user is dropped: mean 0.5 over 3, sd 0.5, t(0.975, 2) = 4.302653
    assert table.loc["a", "ndcg@10"] == 0.5
    assert table.loc["a", "ndcg@10 \u00b1"] == pytest.approx(4.302653 * 0.5 / np.sqrt(3), rel=1e-6)
    assert np.isnan(table.loc["b", "ndcg@10"])  # b has no ndcg column
