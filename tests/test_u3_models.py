"""Unit 3 models: Keras and PyTorch twins agree, the formulas hold, training learns."""

from __future__ import annotations

import numpy as np
import pytest

tf_compat = pytest.importorskip("coursekit.models.tf_compat")
torch_compat = pytest.importorskip("coursekit.models.torch_compat")

from coursekit.sampling.pairs import pair_accuracy, pair_auc  # noqa: E402


def _weights(d, k, seed=0):
    rng = np.random.default_rng(seed)
    return {"E1": rng.normal(0, 0.3, (d, k)).astype(np.float32),
            "E2": rng.normal(0, 0.3, (d, k)).astype(np.float32),
            "c": np.float32(0.7)}


@pytest.mark.parametrize("framework", [tf_compat, torch_compat])
def test_the_two_projections_start_small_random_and_different(framework):
    net = framework.StyleCompatibility("euclidean", style_dim=3, init_std=0.01, seed=2)._build(8)
    e1, e2 = (np.array(w.numpy() if framework is tf_compat else w.detach().numpy()) for w in (net.E1, net.E2))
    assert e1.shape == e2.shape == (8, 3) and 0.002 < e1.std() < 0.05 and 0.002 < e2.std() < 0.05
    assert not np.allclose(e1, e2)  # a Keras initializer object used twice would start E1 equal to E2


@pytest.mark.parametrize("kind", ["euclidean", "inner"])
def test_equal_weights_give_equal_outputs(kind):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 16)).astype(np.float32)
    pairs = rng.integers(0, 30, size=(50, 2))
    w = _weights(16, 4)
    tf_model = tf_compat.StyleCompatibility(kind, style_dim=4).set_weights(w)
    pt_model = torch_compat.StyleCompatibility(kind, style_dim=4).set_weights(w)
    p_tf = tf_model.predict_proba(x, pairs)
    p_pt = pt_model.predict_proba(x, pairs)
    s1, s2 = x[pairs[:, 0]] @ w["E1"], x[pairs[:, 1]] @ w["E2"]
    logit = w["c"] - ((s1 - s2) ** 2).sum(1) if kind == "euclidean" else w["c"] + (s1 * s2).sum(1)
    expected = 1 / (1 + np.exp(-logit.astype(np.float64)))
    assert p_tf.shape == p_pt.shape == (50,)
    np.testing.assert_allclose(p_tf, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p_pt, p_tf, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf_model.embed(x, 2), pt_model.embed(x, 2), rtol=1e-5, atol=1e-6)
    # and the weights come back out unchanged
    for name, value in tf_model.get_weights().items():
        np.testing.assert_array_equal(value, pt_model.get_weights()[name])


def _separable(n=240, d=64, seed=0):
    """Items in 6 styles; a pair is compatible when the styles match."""
    rng = np.random.default_rng(seed)
    style = rng.integers(0, 6, n)
    centres = rng.normal(0, 1, (6, d))
    x = np.maximum(centres[style] + rng.normal(0, 0.5, (n, d)), 0).astype(np.float32)
    x /= np.linalg.norm(x, axis=1).mean()
    pairs = rng.integers(0, n, (12000, 2))
    same = style[pairs[:, 0]] == style[pairs[:, 1]]
    pos = pairs[same][:1000]
    neg = pairs[~same][: len(pos)]
    pairs = np.concatenate([pos, neg])
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))].astype(np.float32)
    order = rng.permutation(len(pairs))
    return x, pairs[order], labels[order]


@pytest.mark.parametrize("framework", [tf_compat, torch_compat])
@pytest.mark.parametrize("kind", ["euclidean", "inner"])
def test_training_learns_style_compatibility(framework, kind):
    x, pairs, labels = _separable()
    tr, te = slice(0, 1500), slice(1500, None)
    model = framework.StyleCompatibility(kind, epochs=8, batch_size=256, learning_rate=3e-2, seed=0)
    model.fit(x, pairs[tr], labels[tr])
    p = model.predict_proba(x, pairs[te])
    assert pair_accuracy(labels[te], p) >= 0.85  # chance is 0.5
    assert pair_auc(labels[te], p) >= 0.9
    assert model.loss_history_[-1] < 0.6 * model.loss_history_[0]
    assert model.pairs_per_s_ > 0 and model.embed(x).shape == (len(x), 5)


def test_tf_training_is_reproducible_and_projections_agree():
    x, pairs, labels = _separable(seed=2)
    fits = [tf_compat.StyleCompatibility("euclidean", epochs=1, batch_size=512, projection=p, seed=4)
            .fit(x, pairs, labels) for p in ("catalogue", "catalogue", "gather")]
    a, b, c = (f.get_weights()["E1"] for f in fits)
    np.testing.assert_array_equal(a, b)  # same seed, same numbers
    np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-5)  # same gradients either way
    assert fits[0].projection_ == "catalogue" and fits[2].projection_ == "gather"


def test_keras_model_trains_with_model_fit_and_tf_data():
    x, pairs, labels = _separable(seed=3)
    net = tf_compat.InnerCompatibility(x.shape[1], 5, init_std=0.01)
    import keras

    net.compile(optimizer=keras.optimizers.Adam(3e-2), loss="binary_crossentropy")
    ds = tf_compat.make_dataset(x, pairs, labels, batch_size=256, shuffle=True)
    hist = net.fit(ds, epochs=5, verbose=0, shuffle=False)
    assert hist.history["loss"][-1] < 0.5


def test_errors_before_fit_and_bad_arguments():
    for framework in (tf_compat, torch_compat):
        with pytest.raises(RuntimeError, match="not fitted"):
            framework.StyleCompatibility().predict_proba(np.zeros((2, 3)), [[0, 1]])
        with pytest.raises(ValueError, match="kind"):
            framework.StyleCompatibility("cosine").fit(np.zeros((2, 3), np.float32), [[0, 1]], [1.0])


def _split(x, pairs, labels, n_valid=500):
    return (pairs[n_valid:], labels[n_valid:]), (pairs[:n_valid], labels[:n_valid])


@pytest.mark.parametrize("framework", [tf_compat, torch_compat])
def test_validation_keeps_the_best_epoch(framework):
    x, pairs, labels = _separable(seed=4)
    train, valid = _split(x, pairs, labels)
    params = dict(epochs=8, batch_size=256, learning_rate=0.1, seed=1)
    model = framework.StyleCompatibility("euclidean", **params).fit(x, *train, validation=valid)
    assert len(model.val_loss_) == len(model.val_auc_) == 8
    best = int(np.argmin(model.val_loss_)) + 1
    assert model.best_epoch_ == best
    # the weights kept are those of that epoch: a fresh fit stopped there gives the same model
    again = framework.StyleCompatibility("euclidean", **{**params, "epochs": best}).fit(x, *train)
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(value, again.get_weights()[name], rtol=1e-6, atol=1e-7)
    p = model.predict_proba(x, valid[0])
    y = valid[1]
    expected_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert model.best_val_loss_ == pytest.approx(expected_loss, rel=1e-4)
    assert model.best_val_auc_ == pytest.approx(pair_auc(y, p), abs=1e-6)
    assert not hasattr(again, "val_loss_")  # no validation, no validation attributes
    assert model.stopped_at_cap_  # no patience: the cap ended the fit, whatever the curve did


@pytest.mark.parametrize("framework", [tf_compat, torch_compat])
def test_patience_stops_training_and_a_fit_says_when_its_cap_stopped_it(framework):
    x, pairs, labels = _separable(seed=5)
    train, valid = _split(x, pairs, labels)

    def fit(epochs, learning_rate):
        return framework.StyleCompatibility("euclidean", epochs=epochs, batch_size=256, learning_rate=learning_rate,
                                            patience=2, seed=0).fit(x, *train, validation=valid)

    # a learning rate far too high: the validation loss stops improving early
    model = fit(30, 3.0)
    run = len(model.val_loss_)
    assert run == model.best_epoch_ + 2 < 30
    assert min(model.val_loss_[model.best_epoch_:]) >= model.best_val_loss_
    assert len(model.loss_history_) == run
    assert not model.stopped_at_cap_
    # patience that runs out exactly at the cap is an early stop, not the cap
    capped = fit(run, 3.0)
    assert not capped.stopped_at_cap_ and capped.best_epoch_ == model.best_epoch_
    # a small learning rate and a cap of 3 epochs: the validation loss is still falling at the cap
    slow = fit(3, 0.003)
    assert len(slow.val_loss_) == 3 and slow.best_epoch_ == 3 and slow.stopped_at_cap_


def test_select_on_validation_picks_the_lowest_validation_loss():
    x, pairs, labels = _separable(seed=6)
    train, valid = _split(x, pairs, labels)
    rates = (3.0, 0.03, 0.0003)
    best, table = tf_compat.select_on_validation(
        lambda lr: tf_compat.StyleCompatibility("inner", epochs=4, batch_size=256, learning_rate=lr, seed=0),
        x, train, valid, rates)
    assert table["learning_rate"].tolist() == list(rates)
    assert list(table.columns) == ["learning_rate", "best_epoch", "epochs_run", "stopped_at_cap", "valid_loss",
                                   "valid_auc"]
    assert table["stopped_at_cap"].tolist() == [True] * 3  # no patience: every fit ran to its cap
    assert best.learning_rate == rates[int(table["valid_loss"].idxmin())]
    assert best.best_val_loss_ == table["valid_loss"].min()
    assert best.learning_rate == 0.03  # too high diverges, too low barely moves from chance
    by_auc, table_auc = tf_compat.select_on_validation(
        lambda lr: tf_compat.StyleCompatibility("inner", epochs=4, batch_size=256, learning_rate=lr,
                                                select_by="auc", seed=0), x, train, valid, rates)
    assert by_auc.best_val_auc_ == table_auc["valid_auc"].max()


def test_bad_validation_arguments():
    x, pairs, labels = _separable(seed=7)
    with pytest.raises(ValueError, match="select_by"):
        tf_compat.StyleCompatibility(epochs=1, select_by="accuracy").fit(x, pairs, labels, validation=(pairs, labels))
    with pytest.raises(ValueError, match="validation"):
        torch_compat.StyleCompatibility(epochs=1).fit(x, pairs, labels, validation=(pairs, labels[:-1]))


def test_pair_batches_one_permutation_per_epoch():
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 50, size=(23, 2))
    labels = np.arange(23, dtype=np.float32)  # the label tells which row a batch holds
    batches = list(tf_compat.pair_batches(pairs, labels, batch_size=5, seed=10, epochs=3))
    assert [len(b[2]) for b in batches] == [5, 5, 5, 5, 3] * 3
    for epoch in range(3):
        rows = np.concatenate([b[2].numpy() for b in batches[5 * epoch: 5 * epoch + 5]]).astype(int)
        np.testing.assert_array_equal(rows, np.random.default_rng(10 + epoch).permutation(23))
        i = np.concatenate([b[0].numpy() for b in batches[5 * epoch: 5 * epoch + 5]])
        np.testing.assert_array_equal(i, pairs[rows, 0])
    unshuffled = list(tf_compat.pair_batches(pairs, batch_size=10, shuffle=False))
    assert len(unshuffled) == 3 and len(unshuffled[0]) == 2  # (i, j) without labels
    with pytest.raises(ValueError, match="epochs"):
        tf_compat.pair_batches(pairs, labels, epochs=0)
