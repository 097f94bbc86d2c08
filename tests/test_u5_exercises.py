"""Unit 5 checks: the kit's implementations pass, typical mistakes fail with the right message."""

from __future__ import annotations

import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from coursekit.grading.checks import run_check  # noqa: E402
from coursekit.models import tf_retrieval as R  # noqa: E402


def _lookups(users, products):
    return keras.layers.StringLookup(vocabulary=users), keras.layers.IntegerLookup(vocabulary=products)


def _dot(ut, pt, ur, cr):
    return tf.einsum("bd,bcd->bc", tf.gather(ut, ur), tf.gather(pt, cr))


def test_reference_solutions_pass():
    assert run_check("u5.lookups", _lookups).passed
    assert run_check("u5.sample_candidates", R.sample_candidates).passed
    assert run_check("u5.dot_scores", _dot).passed
    assert run_check("u5.sampled_loss", R.sampled_softmax_loss).passed


def test_typical_mistakes_fail():
    no_oov = run_check("u5.lookups", lambda u, p: (keras.layers.StringLookup(vocabulary=u, num_oov_indices=0,
                                                                             mask_token=None),
                                                   keras.layers.IntegerLookup(vocabulary=p)))
    assert not no_oov.passed

    def shared(pos, products, n, seed):  # one draw for the whole batch: not the seed's per-purchase layout
        idx = tf.random.stateless_uniform((1, n), seed, 0, tf.shape(products, out_type=tf.int64)[0], tf.int64)
        neg = tf.repeat(tf.gather(products, idx), tf.shape(pos)[0], axis=0)
        return tf.concat([pos[:, None], neg], axis=1)

    assert "its own negatives" in run_check("u5.sample_candidates", shared).as_text()
    wrong_axes = run_check("u5.dot_scores", lambda ut, pt, ur, cr: tf.tensordot(tf.gather(ut, ur),
                                                                                 tf.gather(pt, cr), [[1], [2]]))
    assert not wrong_axes.passed

    def unmasked(logits, pos, neg):
        labels = tf.zeros(tf.shape(logits)[0], tf.int64)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))

    assert "must be masked" in run_check("u5.sampled_loss", unmasked).as_text()
