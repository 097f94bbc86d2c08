"""Unit 5: the TF retrieval model, its sampling pipeline, early stopping, the SavedModel round trip.

The real-data figures are checked by running the whole notebook on the ASOS files (test_u5_real.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")

from coursekit.datasets.asos import load_asos  # noqa: E402
from coursekit.evaluation import evaluate_model, holdout_one_per_user  # noqa: E402
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
    return R.TFRetrieval(**{**R.TOY_CONFIG, "epochs": 5}).fit(train)


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


def test_top_k_rows_equals_tf_top_k_with_ties_and_masked_entries():
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 40, size=(64, 3000)).astype(np.float32)  # many ties
    scores[:, ::7] = -np.inf
    scores[3] = 5.0  # a row of equal scores: the lowest columns win
    values, cols = R.top_k_rows(tf.constant(scores), 10, width=64)
    ref = tf.math.top_k(tf.constant(scores), 10)
    assert np.array_equal(cols.numpy(), ref.indices.numpy())
    assert np.array_equal(values.numpy(), ref.values.numpy())
    assert cols.numpy()[3].tolist() == list(range(10))
    with pytest.raises(ValueError, match="more than"):
        R.top_k_rows(tf.constant(scores[:, :5]), 10)


def test_history_tower_sums_history_vectors_and_leaves_the_positive_out():
    users = np.array(["a", "b", "c"])
    products = np.array([10, 20, 30, 40], np.int64)
    rows, cols = np.array([0, 0, 0, 1]), np.array([0, 1, 3, 2])  # a bought 10, 20, 40; b bought 30; c nothing
    net = R.TwoTower(users, products, dim=3, user_tower="history", history=(rows, cols))
    net((tf.constant(users[:1]), tf.constant([[10]], tf.int64)))
    H = net.history_embedding.embeddings.numpy()  # row j + 1 is product j
    got = net.user_vectors(tf.constant(["a", "b", "c", "nobody"])).numpy()
    expected = np.stack([(H[1] + H[2] + H[4]) / np.sqrt(3), H[3], np.zeros(3), np.zeros(3)])
    assert np.allclose(got, expected, atol=1e-6)
    left_out = net.user_vectors(tf.constant(["a", "b"]), leave_out=tf.constant([2, 3], tf.int64)).numpy()
    assert np.allclose(left_out, np.stack([(H[1] + H[4]) / np.sqrt(2), np.zeros(3)]), atol=1e-6)
    with pytest.raises(ValueError, match="history"):
        R.TwoTower(users, products, user_tower="history")


def test_every_embedding_table_starts_from_its_own_draw():
    """A Keras initializer object used for two tables draws the same values twice: the product and
    history tables of one shape started equal until each got an initializer of its own."""
    users, products = np.array(["a", "b", "c"]), np.array([10, 20, 30, 40], np.int64)
    R.set_seed(0)
    net = R.TwoTower(users, products, dim=4, user_tower="both", history=(np.array([0]), np.array([1])))
    net((tf.constant(users[:1]), tf.constant([[10]], tf.int64)))
    P, H = net.product_embedding.embeddings.numpy(), net.history_embedding.embeddings.numpy()
    U = net.user_embedding.embeddings.numpy()
    assert not np.allclose(P, H) and not np.allclose(P[:4], U[:4])
    R.set_seed(0)
    again = R.TwoTower(users, products, dim=4, user_tower="both", history=(np.array([0]), np.array([1])))
    again((tf.constant(users[:1]), tf.constant([[10]], tf.int64)))
    assert np.array_equal(P, again.product_embedding.embeddings.numpy())  # and still seeded


def test_sampling_distribution_mixes_uniform_and_popularity():
    pop = np.array([99.0, 0.0, 0.0, 0.0])  # counts + 1: 100, 1, 1, 1
    q = np.exp(R.sampling_log_q(4, "popularity", pop, uniform_share=0.5))
    assert np.allclose(q, 0.5 / 4 + 0.5 * np.array([100, 1, 1, 1]) / 103) and np.isclose(q.sum(), 1)
    assert np.allclose(np.exp(R.sampling_log_q(4)), 0.25)
    p_pop = np.exp(R.sampling_log_q(4, "popularity", pop))
    draws = R.sample_negatives(4000, 4, tf.constant([1, 2], tf.int64), tf.constant(np.log(p_pop), tf.float32),
                               n_uniform=2000).numpy()
    assert abs(np.mean(draws == 0) - q[0]) < 0.03  # the mixture the log-q correction assumes
    assert abs(np.mean(draws[:2000] == 0) - 0.25) < 0.03 and np.mean(draws[2000:] == 0) > 0.9
    with pytest.raises(ValueError, match="sampler"):
        R.sampling_log_q(4, "zipf")


def test_holdout_one_per_user_hides_one_random_row_of_users_with_two_or_more():
    df = pd.DataFrame({"user_id": ["a"] * 5 + ["b"] + ["c"] * 2, "product_id": [1, 2, 3, 4, 5, 6, 7, 8]})
    rest, held = holdout_one_per_user(df, "user_id", "product_id", seed=1)
    assert sorted(held.user_id) == ["a", "c"] and len(rest) == 6
    assert set(zip(rest.user_id, rest.product_id)) | set(zip(held.user_id, held.product_id)) == \
        set(zip(df.user_id, df.product_id))
    again = holdout_one_per_user(df, "user_id", "product_id", seed=1)[1]
    assert again.equals(held)
    picks = {tuple(holdout_one_per_user(df, "user_id", "product_id", seed=s)[1].product_id) for s in range(30)}
    assert len(picks) > 5  # the held-out row is drawn, not always the first or last


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(toy):
    data, train = toy
    fit_df, val_df = holdout_one_per_user(data.train, "user_id", "product_id", seed=0)
    fit = Interactions.from_frame(fit_df, "user_id", "product_id", user_ids=data.users, item_ids=data.products)
    m = R.TFRetrieval(**{**R.TOY_CONFIG, "epochs": 25, "patience": 2}).fit(fit, valid=val_df)
    curve = [h["valid_hr@10"] for h in m.history_]
    best = int(np.argmax(curve)) + 1
    assert m.best_epoch_ == best and m.best_valid_hr_ == max(curve)
    assert len(curve) == 25 or len(curve) == best + 2  # stopped two epochs after the best
    assert m.stopped_early_ == (len(curve) - best >= 2)  # patience ran out (not merely the cap)
    capped = R.TFRetrieval(**{**R.TOY_CONFIG, "epochs": 2, "patience": 2}).fit(fit, valid=val_df)
    assert len(capped.history_) == 2 and not capped.stopped_early_  # still improving when the cap came
    assert not R.TFRetrieval(**{**R.TOY_CONFIG, "epochs": 1}).fit(fit).stopped_early_  # nothing to stop on
    # the kept weights are the best epoch's: the validation figure is recomputed independently
    again = evaluate_model(m, fit, val_df, 10, item_col="product_id").mean["hr@10"]
    assert again == pytest.approx(m.best_valid_hr_, abs=1e-12)


def test_history_tower_beats_free_user_vectors_on_toy_validation(toy):
    data, _ = toy
    fit_df, val_df = holdout_one_per_user(data.train, "user_id", "product_id", seed=0)
    fit = Interactions.from_frame(fit_df, "user_id", "product_id", user_ids=data.users, item_ids=data.products)
    hr = {t: R.TFRetrieval(**{**R.TOY_CONFIG, "user_tower": t}).fit(fit, valid=val_df).best_valid_hr_
          for t in ("embedding", "history")}
    assert hr["history"] >= 1.3 * hr["embedding"], hr


def test_catalogue_ranks_and_sampled_accuracy_agree(toy, fitted):
    data, train = toy
    ranks = fitted.catalogue_ranks(data.valid)
    rows, cols = train.user_index(data.valid.user_id.to_numpy()), train.item_index(data.valid.product_id.to_numpy())
    scores = fitted.score(rows)
    expected = (scores >= scores[np.arange(len(rows)), cols][:, None]).sum(axis=1) - 1
    assert np.array_equal(ranks, expected)
    acc = fitted.sampled_accuracy(data.valid, n_negatives=100)
    predicted = np.mean((1 - ranks / train.n_items) ** 100)
    assert abs(acc - predicted) < 4 * np.sqrt(acc * (1 - acc) / len(ranks))
    assert fitted.sampled_accuracy(data.valid, n_negatives=100, sampler="popularity") < acc
    won = fitted.sampled_accuracy(data.valid, n_negatives=100, per_purchase=True)
    assert won.shape == (len(data.valid),) and set(np.unique(won)) <= {0.0, 1.0}
    assert won.mean() == acc  # the same draws, one outcome per purchase
