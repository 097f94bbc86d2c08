"""Unit 3 exercises: the binary feature reader, hard negatives, the inner-product model, and
accuracy / AUC of pair predictions."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np

from ..checks import exercise


def _rng():
    return np.random.default_rng(31337)


@exercise("u3.read_features", title="stream the binary image features into one float32 array",
          hint="A record is 10 + 4 * dim bytes: compute the number of records from the file size "
               "(raise coursekit.DataError naming the record when it does not divide), allocate "
               "np.empty((n, dim), np.float32) once, then fill it record by record or with a "
               "structured dtype [('asin', 'S10'), ('x', '<f4', (dim,))].")
def check_read_features(read_features):
    from ...errors import DataError

    rng = _rng()
    dim = 6
    asins = ["B000000001", "0123456789", "B00ZZZ9999", "B000000004"]
    x = rng.normal(size=(len(asins), dim)).astype(np.float32)
    blob = b"".join(a.encode("ascii") + struct.pack(f"<{dim}f", *row) for a, row in zip(asins, x))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.b"
        path.write_bytes(blob)
        got_x, got_asins = read_features(path, dim)
        got_x = np.asarray(got_x)
        assert got_x.shape == x.shape, f"expected an array of shape {x.shape}, got {got_x.shape}"
        assert got_x.dtype == np.float32, f"expected float32 values, got {got_x.dtype}"
        assert [str(a) for a in got_asins] == asins, f"expected ASINs {asins}, got {list(got_asins)}"
        assert np.array_equal(got_x, x), "the values differ: read little-endian float32 ('<f4')"
        cut = Path(tmp) / "cut.b"
        cut.write_bytes(blob[: 2 * (10 + 4 * dim) + 17])
        try:
            read_features(cut, dim)
        except DataError as exc:
            assert "record 2" in str(exc), f"the error should name the truncated record 2: {exc}"
        except NotImplementedError:
            raise
        except Exception as exc:
            raise AssertionError(f"a truncated file should raise coursekit.DataError, not "
                                 f"{type(exc).__name__}") from None
        else:
            raise AssertionError("a truncated file was read without an error")


@exercise("u3.hard_negatives", title="hard negatives from the anchor's own sub-category",
          hint="Sort the items by category; for each anchor take the start and the size of its "
               "category's block (np.searchsorted), draw a random offset in it, and redraw the "
               "anchors that drew themselves until none is left.")
def check_hard_negatives(hard_negatives):
    rng = _rng()
    category = rng.integers(0, 4, size=60)
    category[[5, 6]] = 7  # a category of exactly two items
    anchors = np.concatenate([rng.integers(0, 60, size=400), [5, 6, 5, 6]])
    got = np.asarray(hard_negatives(anchors, category, 0))
    assert got.shape == anchors.shape, f"expected one negative per anchor, shape {anchors.shape}, got {got.shape}"
    assert np.issubdtype(got.dtype, np.integer), f"expected integer item indices, got {got.dtype}"
    assert ((got >= 0) & (got < 60)).all(), "negatives must be item indices in [0, n_items)"
    assert (got != anchors).all(), "an anchor was paired with itself"
    assert (category[got] == category[anchors]).all(), "a negative comes from another sub-category"
    assert (got[-4:] == [6, 5, 6, 5]).all(), "in a two-item category the negative must be the other item"
    again = np.asarray(hard_negatives(anchors, category, 0))
    assert np.array_equal(got, again), "the same seed should give the same negatives"
    per_anchor = {}
    for a, g in zip(anchors.tolist(), got.tolist()):
        per_anchor.setdefault(a, set()).add(g)
    assert max(len(v) for v in per_anchor.values()) > 1, "negatives should be random, not fixed per anchor"


@exercise("u3.inner_model", title="the inner-product compatibility model in Keras",
          hint="Subclass keras.Model, call super().__init__() (not super(OtherClass, self)), create "
               "E1, E2 with add_weight and c as a scalar, and in call return "
               "sigmoid(c + reduce_sum(x1 @ E1 * x2 @ E2, axis=-1)) - one value per row.")
def check_inner_model(model_class):
    import tensorflow as tf

    rng = _rng()
    d, k, b = 9, 3, 5
    model = model_class(d, k)
    x1 = rng.normal(size=(b, d)).astype(np.float32)
    x2 = rng.normal(size=(b, d)).astype(np.float32)
    model((tf.constant(x1), tf.constant(x2)))
    e1 = rng.normal(0, 0.5, size=(d, k)).astype(np.float32)
    e2 = rng.normal(0, 0.5, size=(d, k)).astype(np.float32)
    for name, value in (("E1", e1), ("E2", e2), ("c", np.float32(-0.3))):
        assert hasattr(model, name), f"the model needs a weight named {name}"
        getattr(model, name).assign(value)
    got = np.asarray(model((tf.constant(x1), tf.constant(x2))))
    assert got.shape == (b,), f"expected one probability per pair, shape ({b},), got {got.shape}"
    expected = 1 / (1 + np.exp(-(-0.3 + ((x1 @ e1) * (x2 @ e2)).sum(axis=1))))
    assert np.allclose(got, expected, atol=1e-5), (
        "probabilities differ from sigmoid(c + <x1 E1, x2 E2>), computed row by row")


@exercise("u3.pair_metrics", title="accuracy and AUC of pair predictions",
          hint="Accuracy: mean of (prob > 0.5) == label. AUC: rank all scores (ties get their "
               "average rank, scipy.stats.rankdata), then (sum of positive ranks - P(P+1)/2) / (P N).")
def check_pair_metrics(pair_metrics):
    rng = _rng()
    for n, ties in ((50, False), (200, True)):
        y = (rng.random(n) < 0.4).astype(np.float32)
        p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.25, n), 0, 1)
        if ties:
            p = np.round(p, 1)
        acc, auc = pair_metrics(y, p)
        exp_acc = float(np.mean((p > 0.5) == (y == 1)))
        pos, neg = p[y == 1], p[y == 0]
        diff = pos[:, None] - neg[None, :]
        exp_auc = float(((diff > 0) + 0.5 * (diff == 0)).mean())  # every (positive, negative) pair
        assert abs(float(acc) - exp_acc) < 1e-9, f"accuracy: expected {exp_acc:.4f}, got {float(acc):.4f}"
        assert abs(float(auc) - exp_auc) < 1e-9, (
            f"AUC: expected {exp_auc:.4f}, got {float(auc):.4f}" + (" (ties count one half)" if ties else ""))
