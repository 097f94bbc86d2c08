"""Two-tower model mechanics on a tiny data set: determinism, BPR option, recommend, errors."""

import numpy as np
import pandas as pd
import pytest

from coursekit.interactions import Interactions

torch = pytest.importorskip("torch")
from coursekit.models.torch_two_tower import TwoTowerModel  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    # two groups of users, each buying from its own half of the catalogue
    users = np.repeat(np.arange(120), 6)
    group = users % 2
    items = rng.integers(0, 20, len(users)) + 20 * group
    return Interactions.from_frame(pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates())


def test_same_seed_same_model_and_learns_groups(tiny):
    a = TwoTowerModel(dim=8, hidden=16, epochs=25, batch_size=64, learning_rate=0.03, patience=25, seed=3).fit(tiny)
    b = TwoTowerModel(dim=8, hidden=16, epochs=25, batch_size=64, learning_rate=0.03, patience=25, seed=3).fit(tiny)
    np.testing.assert_array_equal(a.user_vectors_, b.user_vectors_)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    recs = a.recommend(tiny.user_ids, n=5)
    same_half = (recs // 20 == (tiny.user_ids % 2)[:, None]).mean()
    assert same_half > 0.8
    seen = tiny.matrix[np.repeat(np.arange(tiny.n_users), 5), tiny.item_index(recs.ravel())]
    assert not np.asarray(seen).any()


def test_bpr_option_and_scores(tiny):
    m = TwoTowerModel(dim=8, hidden=16, loss="bpr", epochs=25, batch_size=64, learning_rate=0.03, patience=25).fit(tiny)
    s = m.score([0, 1])
    assert s.shape == (2, tiny.n_items) and s.dtype == np.float64
    assert (s[0, :20].mean() > s[0, 20:].mean()) and (s[1, 20:].mean() > s[1, :20].mean())
    assert m.similar_items([0], n=5).shape == (1, 5)


def test_errors(tiny):
    with pytest.raises(RuntimeError, match="fit"):
        TwoTowerModel().score([0])
    with pytest.raises(ValueError, match="loss"):
        TwoTowerModel(loss="hinge").fit(tiny)


def test_threads_are_restored(tiny):
    before = torch.get_num_threads()
    TwoTowerModel(dim=4, hidden=8, epochs=1, n_threads=1).fit(tiny)
    assert torch.get_num_threads() == before


def test_side_features_are_concatenated(tiny):
    rng = np.random.default_rng(1)
    user_f = rng.normal(size=(tiny.n_users, 3)).astype(np.float32)
    item_f = (np.arange(tiny.n_items) >= 20).astype(np.float32)[:, None]  # which half of the catalogue
    m = TwoTowerModel(dim=4, hidden=8, epochs=2, batch_size=128).fit(tiny, user_features=user_f, item_features=item_f)
    assert m.item_tower_.mlp[0].in_features == 4 + 1 and m.user_tower_.mlp[0].in_features == 4 + 3
    assert m.user_vectors_.shape == (tiny.n_users, 4) and m.item_vectors_.shape == (tiny.n_items, 4)


def _with_counts():
    rng = np.random.default_rng(5)
    users = np.repeat(np.arange(60), 12)
    items = (rng.permutation(np.tile(np.arange(30), 24))[: len(users)])
    plays = rng.zipf(1.6, len(users)).clip(max=200)
    df = pd.DataFrame({"user_id": users, "item_id": items, "plays": plays})
    return Interactions.from_frame(df.groupby(["user_id", "item_id"], as_index=False)["plays"].sum(),
                                   count_col="plays")


def test_min_share_is_the_seeds_positive_rule():
    inter = _with_counts()
    dense = inter.matrix.toarray().astype(np.float64)
    share = dense / dense.sum(axis=1, keepdims=True)
    expected = int(((share >= 0.1) & (dense > 0)).sum())
    assert 0 < expected < inter.nnz  # the rule drops some played pairs here
    args = dict(dim=4, hidden=8, epochs=1, batch_size=256, valid_fraction=0.0, seed=0)
    assert TwoTowerModel(min_share=0.1, **args).fit(inter).n_positives_ == expected
    assert TwoTowerModel(**args).fit(inter).n_positives_ == inter.nnz  # default: every played pair
    # with a validation split, the hidden items are drawn from all pairs before the filter
    m = TwoTowerModel(min_share=0.1, dim=4, hidden=8, epochs=1, batch_size=256, valid_fraction=0.5, seed=0).fit(inter)
    n_valid = int(round(0.5 * inter.n_users))
    assert expected - n_valid <= m.n_positives_ <= expected
    assert TwoTowerModel(dim=4, hidden=8, epochs=1, valid_fraction=0.5, seed=0).fit(inter).n_positives_ == inter.nnz - n_valid


def test_min_share_must_be_a_share():
    with pytest.raises(ValueError, match="min_share"):
        TwoTowerModel(min_share=1.5).fit(_with_counts())
