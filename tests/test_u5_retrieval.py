"""Unit 5: the TF retrieval model, its sampling pipeline, the SavedModel round trip, real-data figures."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from coursekit.datasets.asos import load_asos  # noqa: E402
from coursekit.evaluation import evaluate_model  # noqa: E402
from coursekit.interactions import Interactions  # noqa: E402
from coursekit.models import tf_retrieval as R  # noqa: E402
from coursekit.models.knn import Popularity  # noqa: E402

TOY = dict(n_users=1500, n_products=600)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    data = load_asos("toy", seed=0, data_home=tmp_path_factory.mktemp("home"), **TOY)
    train = Interactions.from_frame(data.train, "user_id", "product_id", user_ids=data.users,
                                    item_ids=data.products)
    return data, train


@pytest.fixture(scope="module")
def fitted(toy):
    data, train = toy
    return R.TFRetrieval(**R.TOY_CONFIG).fit(train)


def test_sampled_softmax_loss_matches_a_numpy_reference_and_masks_hits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 6)).astype(np.float32)
    pos = np.array([10, 11, 12, 13], np.int64)
    neg = np.array([20, 11, 21, 22, 23], np.int64)  # the second negative is row 1's positive
    lq = rng.normal(size=(4, 6)).astype(np.float32)
    got = float(R.sampled_softmax_loss(tf.constant(logits), tf.constant(pos), tf.constant(neg), tf.constant(lq)))
    z = (logits - lq).astype(np.float64)
    z[1, 2] = -np.inf  # masked accidental hit
    expected = np.mean(np.log(np.exp(z).sum(1)) - z[:, 0])
    assert got == pytest.approx(expected, rel=1e-5)


def test_sampled_hits_counts_ties_as_misses():
    logits = tf.constant([[1.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 5.0, -1.0]])
    pos = tf.constant([1, 2, 3], tf.int64)
    neg = tf.constant([7, 8], tf.int64)
    assert R.sampled_hits(logits, pos, neg).numpy().tolist() == [0.0, 1.0, 0.0]
    neg_hit = tf.constant([3, 8], tf.int64)  # row 2: its positive drawn as a negative is ignored
    assert R.sampled_hits(logits, pos, neg_hit).numpy().tolist() == [0.0, 1.0, 1.0]


def test_pipeline_is_seeded_and_popularity_sampling_follows_counts():
    users = np.array(["a", "b", "c", "d"] * 50)
    bought = np.tile(np.array([5, 6, 7, 8], np.int64), 50)
    catalogue = np.arange(1, 11, dtype=np.int64)
    pop = np.zeros(10)
    pop[0] = 1000.0
    a = list(R.purchase_batches(users, bought, catalogue, n_negatives=50, batch_size=64, seed=3))
    b = list(R.purchase_batches(users, bought, catalogue, n_negatives=50, batch_size=64, seed=3))
    assert len(a) == 4 and a[0][2].shape == (50,) and a[0][3].shape == (64, 51)
    for x, y in zip(a, b):
        assert all(np.array_equal(p.numpy(), q.numpy()) for p, q in zip(x, y))
    negs = np.concatenate([x[2].numpy() for x in R.purchase_batches(
        users, bought, catalogue, n_negatives=500, batch_size=64, sampler="popularity", popularity=pop)])
    assert np.mean(negs == 1) > 0.95  # product 1 holds 1001 / 1010 of the mass
    assert set(np.unique(negs)) <= set(catalogue)


def test_fit_twice_gives_identical_vectors(toy):
    _, train = toy
    a = R.TFRetrieval(dim=8, epochs=1, seed=1).fit(train)
    b = R.TFRetrieval(dim=8, epochs=1, seed=1).fit(train)
    assert np.array_equal(a.product_vectors_, b.product_vectors_)


def test_toy_retrieval_beats_popularity_by_half(toy, fitted):
    data, train = toy
    pop = evaluate_model(Popularity().fit(train), train, data.valid, 10, item_col="product_id").mean["hr@10"]
    ours = evaluate_model(fitted, train, data.valid, 10, item_col="product_id").mean["hr@10"]
    assert ours >= 1.5 * pop, (ours, pop)


def test_top_n_agrees_with_dense_scores(toy, fitted):
    _, train = toy
    rows = np.arange(50)
    got = fitted.top_n(rows, 10, train.matrix[rows])
    scores = fitted.score(rows).astype(np.float64)
    scores[train.matrix[rows].nonzero()] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert np.array_equal(got, expected)


def test_recommend_leaves_out_purchases_and_similar_items_leave_out_the_query(toy, fitted):
    data, train = toy
    users = data.users[:20]
    ids, scores = fitted.recommend(users)
    assert ids.shape == (20, 10) and np.all(np.diff(scores, axis=1) <= 0)
    bought = data.train.groupby("user_id").product_id.apply(set)
    assert not any(set(row) & bought[u] for u, row in zip(users, ids.tolist()))
    sim, sim_scores = fitted.similar_items(data.products[:5])
    assert not np.any(sim == data.products[:5, None]) and np.all(sim_scores <= 1.0 + 1e-5)


def test_savedmodel_round_trip_returns_the_in_memory_top_k(toy, fitted, tmp_path):
    data, _ = toy
    path = fitted.export(tmp_path / "retrieval")
    loaded = R.load_exported(path)
    assert set(loaded.signatures) == {"recommend", "similar_items"}
    users = np.append(data.users[:7], "no-such-user")
    out = loaded.signatures["recommend"](user_id=tf.constant(users))
    ids, scores = fitted.recommend(users)
    assert np.array_equal(out["product_ids"].numpy(), ids) and np.array_equal(out["scores"].numpy(), scores)
    top_counts = np.sort(toy[1].item_popularity())[::-1][:10]  # an unknown user gets the most popular
    assert np.allclose(out["scores"].numpy()[-1], np.log1p(top_counts), rtol=1e-6)
    out = loaded.signatures["similar_items"](product_id=tf.constant(data.products[:7]))
    ids, scores = fitted.similar_items(data.products[:7])
    assert np.array_equal(out["product_ids"].numpy(), ids) and np.array_equal(out["scores"].numpy(), scores)


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        R.TFRetrieval().score([0])


@pytest.mark.real_data
def test_real_data_figures(real_data_home):
    data = load_asos("real", data_home=real_data_home)
    train = Interactions.from_frame(data.train, "user_id", "product_id", user_ids=data.users,
                                    item_ids=data.products)
    model = R.TFRetrieval(**R.REAL_CONFIG).fit(train)
    assert model.epoch_s_ <= 10.0
    pop = evaluate_model(Popularity().fit(train), train, data.valid, 10, item_col="product_id").mean["hr@10"]
    ours = evaluate_model(model, train, data.valid, 10, item_col="product_id").mean["hr@10"]
    assert ours > pop, (ours, pop)
    assert model.sampled_accuracy(data.valid, n_negatives=100) > 0.075
