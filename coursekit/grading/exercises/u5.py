"""Unit 5 exercises: id lookups, negative sampling, dot-product scores, sampled softmax loss.

Expected values come from NumPy references, never from the kit's own TensorFlow code.
"""

from __future__ import annotations

import numpy as np

from ..checks import exercise


def _tf():
    import tensorflow as tf

    return tf


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


@exercise("u5.lookups", title="id lookup layers: raw ids to embedding rows, unknown ids to row 0",
          hint="keras.layers.StringLookup(vocabulary=users, num_oov_indices=1) and "
               "keras.layers.IntegerLookup(vocabulary=products, num_oov_indices=1): vocabulary item i "
               "gets row i + 1, anything else row 0.")
def check_lookups(make_lookups):
    tf = _tf()
    users = np.array(["zed", "amy", "bob"])
    products = np.array([907, 12, 55], dtype=np.int64)
    user_lookup, product_lookup = make_lookups(users, products)
    got_u = _np(user_lookup(tf.constant(["amy", "nobody", "zed", "bob"])))
    assert got_u.tolist() == [2, 0, 1, 3], (
        f"users ['amy', 'nobody', 'zed', 'bob'] should map to [2, 0, 1, 3] (vocabulary order, unknown 0), "
        f"got {got_u.tolist()}")
    got_p = _np(product_lookup(tf.constant([[55, 907], [1, 12]], tf.int64)))
    assert got_p.tolist() == [[3, 1], [0, 2]], (
        f"products [[55, 907], [1, 12]] should map to [[3, 1], [0, 2]], got {got_p.tolist()}")


@exercise("u5.sample_candidates", title="candidates: the purchase in column 0, then sampled negatives",
          hint="Draw indices with tf.random.stateless_uniform((batch, n_negatives), seed, minval=0, "
               "maxval=len(products), dtype=tf.int64), tf.gather the product ids, and tf.concat the "
               "positives (reshaped to (batch, 1)) in front along axis 1.")
def check_sample_candidates(sample_candidates):
    tf = _tf()
    products = tf.constant(np.arange(100, 400, dtype=np.int64))
    positives = tf.constant([150, 151, 399, 100, 222], tf.int64)
    seed = tf.constant([3, 7], tf.int64)
    a = _np(sample_candidates(positives, products, 200, seed))
    b = _np(sample_candidates(positives, products, 200, seed))
    assert a.shape == (5, 201), f"expected shape (5, 201), got {a.shape}"
    assert a[:, 0].tolist() == [150, 151, 399, 100, 222], "column 0 must hold each row's purchased product"
    assert np.isin(a[:, 1:], np.arange(100, 400)).all(), "negatives must be products of the catalogue"
    assert np.array_equal(a, b), "the same seed must give the same candidates (use stateless random ops)"
    c = _np(sample_candidates(positives, products, 200, tf.constant([4, 7], tf.int64)))
    assert not np.array_equal(a[:, 1:], c[:, 1:]), "a different seed should give different negatives"
    assert not all(np.array_equal(a[0, 1:], a[i, 1:]) for i in range(1, 5)), \
        "each purchase should get its own negatives"
    assert len(np.unique(a[:, 1:])) > 200, "negatives should spread over the catalogue (uniform sampling)"


@exercise("u5.dot_scores", title="dot-product scores of users against their candidates",
          hint="Gather the user vectors (B, d) and the candidate vectors (B, C, d), then "
               "tf.einsum('bd,bcd->bc', u, p) (or tf.reduce_sum(u[:, None, :] * p, -1)).")
def check_dot_scores(dot_scores):
    tf = _tf()
    rng = np.random.default_rng(5)
    user_table = rng.normal(size=(6, 4)).astype(np.float32)
    product_table = rng.normal(size=(9, 4)).astype(np.float32)
    user_rows = np.array([0, 5, 2], np.int64)
    cand_rows = rng.integers(0, 9, size=(3, 7)).astype(np.int64)
    got = _np(dot_scores(tf.constant(user_table), tf.constant(product_table), tf.constant(user_rows),
                         tf.constant(cand_rows)))
    expected = np.einsum("bd,bcd->bc", user_table[user_rows], product_table[cand_rows])
    assert got.shape == (3, 7), f"expected shape (3, 7) (one score per candidate), got {got.shape}"
    assert np.allclose(got, expected, atol=1e-5), "scores should be <user vector, candidate vector>"


@exercise("u5.sampled_loss", title="softmax cross-entropy over 1 positive + N negatives, hits masked",
          hint="Set the logits of negatives equal to the row's positive to a very low number (tf.where), "
               "then tf.nn.sparse_softmax_cross_entropy_with_logits with label 0 for every row, and the mean.")
def check_sampled_loss(sampled_loss):
    tf = _tf()
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(4, 5)).astype(np.float32)
    positives = np.array([10, 11, 12, 13], np.int64)
    negatives = np.array([[20, 21, 22, 23], [11, 24, 25, 26], [27, 12, 12, 28], [29, 30, 31, 32]], np.int64)
    got = float(_np(sampled_loss(tf.constant(logits), tf.constant(positives), tf.constant(negatives))))
    z = logits.astype(np.float64).copy()
    z[:, 1:][negatives == positives[:, None]] = -np.inf
    expected = float(np.mean(np.log(np.exp(z).sum(1)) - z[:, 0]))
    unmasked = float(np.mean(np.log(np.exp(logits.astype(np.float64)).sum(1)) - logits[:, 0]))
    assert np.isfinite(got), "the loss is not finite: mask with a large negative number, not -inf minus -inf"
    assert not np.isclose(got, unmasked, atol=1e-5), "negatives equal to the positive must be masked"
    assert np.isclose(got, expected, atol=1e-5), f"expected mean cross-entropy {expected:.5f}, got {got:.5f}"
