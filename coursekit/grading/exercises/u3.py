"""Unit 3 exercises: the binary feature reader, hard negatives, the inner-product model, and
accuracy / AUC of pair predictions.

Every expected value is computed here independently of the package version each exercise
re-implements (declared in ``delegates``: those raise in the student's code while a check runs).

The solution's hidden tests also check what the exercise texts forbid, with the measuring helpers
of :mod:`coursekit.grading.enforce`: ``python_steps`` (how many Python steps the student's own
code runs: a loop over anchors or pairs runs one or more per element, vectorised code a fixed
handful) and ``peak_memory`` (the most memory a call held at once, as ``tracemalloc`` sees it:
NumPy's arrays included, so a second copy of the data or a positives x negatives table shows).
"""

from __future__ import annotations

import re
import struct
import tempfile
from pathlib import Path

import numpy as np

from ..checks import exercise


def _rng():
    return np.random.default_rng(31337)


@exercise("u3.read_features", title="stream the binary image features into one float32 array", points=4,
          hints=("The file has no header and every record has the same size (the ASIN's bytes plus the "
                 "bytes of its floats). What does the file size tell you about the number of records, "
                 "and what does it mean when the size is not a multiple of the record size?",
                 "Look up NumPy structured dtypes: one dtype can describe a whole record (a 10-byte string "
                 "field beside a little-endian float32 sub-array), so a single read fills many records at "
                 "once, straight into memory you allocated for the result."),
          delegates=("coursekit.datasets.amazon.read_image_features",
                     "coursekit.datasets.amazon._record_dtype"))
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
            assert re.search(r"record 2\b", str(exc)), f"the error should name the truncated record 2: {exc}"
        except NotImplementedError:
            raise
        except Exception as exc:
            raise AssertionError(f"a truncated file should raise coursekit.DataError, not "
                                 f"{type(exc).__name__}") from None
        else:
            raise AssertionError("a truncated file was read without an error")


@exercise("u3.hard_negatives", title="hard negatives from the anchor's own sub-category", points=4,
          hints=("Each anchor needs a random position inside the group of items that share its category. "
                 "If the items were sorted by category, where would each group start and how long would it "
                 "be? And what should happen when an anchor draws itself?",
                 "Look up np.searchsorted: on sorted category codes it finds, for many anchors at once, "
                 "the block of positions that holds each anchor's category. Rejection sampling handles "
                 "the anchors that drew themselves: draw those again, in rounds, never one anchor at a "
                 "time."),
          delegates=("coursekit.sampling.pairs.sample_negatives",
                     "coursekit.sampling.pairs._draw_others",
                     "coursekit.sampling.pairs.make_pairs"))
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


@exercise("u3.inner_model", title="the inner-product compatibility model in Keras", points=3,
          hints=("A Keras model creates its weights in __init__ (after the parent class's __init__) and "
                 "computes its output in call. What shapes must E1, E2 and c have, and what does "
                 "'one probability per row' ask of the inner product of two (batch, style_dim) matrices?",
                 "Look up keras.Model.add_weight and its initializers (small random values for the "
                 "projections, zeros for the scalar bias). A row-wise inner product is an element-wise "
                 "product summed over the style axis only: a tensor contraction such as tensordot also "
                 "sums over the batch."),
          delegates=("coursekit.models.tf_compat.InnerCompatibility",
                     "coursekit.models.tf_compat._Compatibility"))
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
        shape = tuple(getattr(model, name).shape)
        assert shape == np.shape(value), f"{name} should have shape {np.shape(value)}, got {shape}"
        getattr(model, name).assign(value)
    got = np.asarray(model((tf.constant(x1), tf.constant(x2))))
    assert got.shape == (b,), f"expected one probability per pair, shape ({b},), got {got.shape}"
    expected = 1 / (1 + np.exp(-(-0.3 + ((x1 @ e1) * (x2 @ e2)).sum(axis=1))))
    assert np.allclose(got, expected, atol=1e-5), (
        "probabilities differ from sigmoid(c + <x1 E1, x2 E2>), computed row by row")


@exercise("u3.pair_metrics", title="accuracy and AUC of pair predictions", points=4,
          hints=("Accuracy: which probabilities count as a 'compatible' prediction at the threshold 0.5, and "
                 "is 0.5 itself one? AUC: once all scores are ranked, how does the rank of a positive tell "
                 "how many negatives it beats, and how should equal scores count?",
                 "Look up the Mann-Whitney U statistic: the AUC is U divided by (positives x negatives), and "
                 "U follows from the ranks of the positives among all the scores (scipy.stats.rankdata gives "
                 "tied scores their average rank)."),
          delegates=("coursekit.metrics.pair_accuracy", "coursekit.metrics.pair_auc",
                     "coursekit.metrics.auc_score"))
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
        assert abs(float(acc) - exp_acc) < 1e-9, (
            f"accuracy: expected {exp_acc:.4f}, got {float(acc):.4f}"
            + (" (a probability of exactly 0.5 is not a 'compatible' prediction)" if ties else ""))
        assert abs(float(auc) - exp_auc) < 1e-9, (
            f"AUC: expected {exp_auc:.4f}, got {float(auc):.4f}" + (" (ties count one half)" if ties else ""))
