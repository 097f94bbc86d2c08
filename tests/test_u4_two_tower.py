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


@pytest.mark.parametrize("settings", [dict(loss="softmax", user_input="history"), dict(loss="softmax", hidden=0),
                                      dict(loss="bpr", user_input="history", weighting="log")],
                         ids=["softmax-history", "softmax-id-no-mlp", "bpr-history"])
def test_losses_and_towers_learn_the_groups(tiny, settings):
    settings = {**dict(dim=8, hidden=16, epochs=30, batch_size=32, learning_rate=0.05, patience=30, seed=1), **settings}
    m = TwoTowerModel(**settings).fit(tiny)
    recs = m.recommend(tiny.user_ids, n=5)
    assert (recs // 20 == (tiny.user_ids % 2)[:, None]).mean() > 0.8  # chance: 0.5
    again = TwoTowerModel(**settings).fit(tiny)
    np.testing.assert_array_equal(m.user_vectors_, again.user_vectors_)  # seeded, dropout included


def test_history_tower_reads_the_history_and_its_dropout(tiny):
    from coursekit.models.torch_two_tower import HistoryTower

    tower = HistoryTower(tiny.matrix.tocsr(), dim=4, hidden=0)
    users = torch.arange(3)
    row = tiny.matrix[0].tocsr()
    w = np.log1p(row.data) / np.log1p(row.data).sum()
    expected = w @ tower.embedding.weight.detach().numpy()[row.indices]
    np.testing.assert_allclose(tower(users)[0].detach().numpy(), expected, rtol=1e-5)
    gen = torch.Generator().manual_seed(0)
    dropped = tower(users, dropout=0.5, generator=gen).detach().numpy()
    assert np.isfinite(dropped).all() and not np.allclose(dropped[0], expected)


def test_early_stopping_on_a_given_validation_table(tiny):
    valid = pd.DataFrame({"user_id": tiny.user_ids[:40], "item_id": 20 * (tiny.user_ids[:40] % 2) + 3})
    valid = valid[np.asarray(tiny.matrix[np.arange(40), tiny.item_index(valid["item_id"])]).ravel() == 0]
    capped = TwoTowerModel(dim=8, hidden=0, loss="softmax", epochs=2, batch_size=32, learning_rate=0.01,
                           patience=5).fit(tiny, valid=valid)
    assert capped.stopped_at_cap_ and len(capped.history_) == 2  # validation may still improve: raise the cap
    stopped = TwoTowerModel(dim=8, hidden=0, loss="softmax", epochs=200, batch_size=32, learning_rate=0.05,
                            patience=3).fit(tiny, valid=valid)
    assert not stopped.stopped_at_cap_ and len(stopped.history_) == stopped.best_epoch_ + 3 < 200
    hr = [h["valid_hr"] for h in stopped.history_]
    assert hr[stopped.best_epoch_ - 1] == max(hr)  # the best epoch's weights are kept
    assert stopped.n_positives_ == tiny.nnz  # nothing held out of the training pairs
    with pytest.raises(ValueError, match="no column 'item_id'"):
        TwoTowerModel(epochs=1).fit(tiny, valid=valid.rename(columns={"item_id": "artist"}))
    with pytest.raises(ValueError, match="user_input"):
        TwoTowerModel(user_input="age").fit(tiny)
    assert TwoTowerModel().set_params(loss="bpr").get_params()["loss"] == "bpr"
