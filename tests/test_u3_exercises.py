"""Unit 3 checks: they pass on correct solutions and fail on the seed's mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.datasets.amazon import read_image_features
from coursekit.grading.checks import FAILED, NOT_ATTEMPTED, PASSED, run_check
from coursekit.sampling.pairs import pair_accuracy, pair_auc


def _read(path, dim):
    return read_image_features(path, dim=dim)


def _hard(anchors, category, seed):
    rng = np.random.default_rng(seed)
    out = np.empty(len(anchors), np.int64)
    for k, a in enumerate(anchors):  # a slow but correct reference is fine in a test
        choices = np.flatnonzero((category == category[a]) & (np.arange(len(category)) != a))
        out[k] = rng.choice(choices)
    return out


def test_read_features_check():
    assert run_check("u3.read_features", _read).status == PASSED

    def no_error(path, dim):  # reads whole records only and says nothing about the rest
        raw = open(path, "rb").read()
        rec = 10 + 4 * dim
        n = len(raw) // rec
        x = np.stack([np.frombuffer(raw[i * rec + 10:(i + 1) * rec], "<f4") for i in range(n)])
        return x, [raw[i * rec:i * rec + 10].decode() for i in range(n)]

    assert run_check("u3.read_features", no_error).status == FAILED

    def big_endian(path, dim):
        x, a = _read(path, dim)
        return x.byteswap(), a

    assert run_check("u3.read_features", big_endian).status == FAILED


def test_hard_negatives_check():
    assert run_check("u3.hard_negatives", _hard).status == PASSED

    def self_allowed(anchors, category, seed):  # the seed could pick the anchor itself
        rng = np.random.default_rng(seed)
        return np.array([rng.choice(np.flatnonzero(category == category[a])) for a in anchors])

    assert run_check("u3.hard_negatives", self_allowed).status == FAILED

    def any_category(anchors, category, seed):
        return (np.asarray(anchors) + 1) % len(category)

    assert run_check("u3.hard_negatives", any_category).status == FAILED


def test_inner_model_check():
    tf_compat = pytest.importorskip("coursekit.models.tf_compat")
    assert run_check("u3.inner_model", tf_compat.InnerCompatibility).status == PASSED
    assert run_check("u3.inner_model", tf_compat.EuclideanCompatibility).status == FAILED
    import keras
    import tensorflow as tf

    class SeedStyle(tf_compat.InnerCompatibility):  # tensordot over the whole batch
        def score(self, s1, s2):
            return self.c + tf.tensordot(s1, tf.transpose(s2), 1)

    assert run_check("u3.inner_model", SeedStyle).status != PASSED

    class NotDone(keras.Model):
        def __init__(self, d, k):
            raise NotImplementedError()

    assert run_check("u3.inner_model", NotDone).status == NOT_ATTEMPTED


def test_pair_metrics_check():
    assert run_check("u3.pair_metrics", lambda y, p: (pair_accuracy(y, p), pair_auc(y, p))).status == PASSED

    def strict_ties(y, p):  # ties counted as losses
        y, p = np.asarray(y) > 0.5, np.asarray(p)
        d = p[y][:, None] - p[~y][None, :]
        return pair_accuracy(y, p), float((d > 0).mean())

    assert run_check("u3.pair_metrics", strict_ties).status == FAILED
