"""Unit 5 exercises: id lookups, sampled candidates, dot-product scores, the sampled softmax loss.

Each exercise re-implements part of :mod:`coursekit.models.tf_retrieval`, which the rest of the
notebook uses: the lookup layers and the scores of :class:`~coursekit.models.tf_retrieval.TwoTower`
(and :meth:`TFRetrieval.score`), :func:`~coursekit.models.tf_retrieval.sample_candidates` (with
:func:`~coursekit.models.tf_retrieval.sample_negatives`, which draws the rows), and
:func:`~coursekit.models.tf_retrieval.sampled_softmax_loss`. Those are the ``delegates``: calling
them inside the exercise fails with "write it yourself". Expected values come from NumPy
references written here, never from the kit's TensorFlow code or the student's.

The three exercises on batches of tensors also run the student's function inside ``tf.function``
with an unknown batch size and without AutoGraph (:func:`_in_graph`), as a ``tf.data`` pipeline or
a Keras training step runs it: a Python loop over the rows, ``.numpy()`` or ``int()`` of a shape
cannot be traced there, which is how the checks enforce "no Python loop over the rows".
"""

from __future__ import annotations

import numpy as np

from ..checks import exercise

_MODULE = "coursekit.models.tf_retrieval"


def _tf():
    import tensorflow as tf

    return tf


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _in_graph(fn, specs, args, what: str):
    """``fn(*args)`` traced by ``tf.function`` with ``specs`` (the batch dimension unknown) and no
    AutoGraph, as NumPy; a failure to trace becomes an AssertionError that says why."""
    tf = _tf()
    try:
        traced = tf.function(fn, input_signature=list(specs), autograph=False)
        return _np(traced(*args))
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any tracing failure (NumPy on a traced tensor: NotImplementedError)
        detail = (str(exc).strip().splitlines() or [""])[0][:160]
        raise AssertionError(
            f"{what} must also run inside tf.function, where the batch size is unknown while the graph is "
            f"traced (a tf.data pipeline and a Keras training step run it that way); it failed there with "
            f"{type(exc).__name__}: {detail}. Work on whole tensors with TensorFlow ops: no Python loop over "
            "the rows, no .numpy() and no int() of a shape") from None


@exercise("u5.lookups", title="id lookup layers: raw ids to embedding rows, unknown ids to row 0", points=2,
          hints=("An embedding table wants row numbers, not ids. Keras has a preprocessing layer for string "
                 "ids and one for integer ids. Which row should the first id of the vocabulary get, which "
                 "row an id the layer has never seen, and does the order of the vocabulary matter?",
                 "Read the documentation of keras.layers.StringLookup: its arguments decide how many rows are "
                 "kept for unknown ids and whether a row is reserved for padding, and both shift where the "
                 "first id of the vocabulary lands. Its twin for integer ids takes the same arguments."),
          delegates=(f"{_MODULE}.TwoTower",))
def check_lookups(make_lookups):
    tf = _tf()
    users = np.array(["zed", "amy", "bob"])
    products = np.array([907, 12, 55], dtype=np.int64)
    got = make_lookups(users, products)
    assert isinstance(got, tuple) and len(got) == 2, "return two layers: (user_lookup, product_lookup)"
    user_lookup, product_lookup = got
    queries = ["amy", "nobody", "zed", "bob"]
    expected_u = [1 + users.tolist().index(q) if q in users else 0 for q in queries]
    got_u = _np(user_lookup(tf.constant(queries))).tolist()
    if got_u == [1 + sorted(users).index(q) if q in users else 0 for q in queries]:
        raise AssertionError("the customers were numbered in sorted order: keep the vocabulary's own order "
                             "(the i-th customer is row i + 1 of the embedding table)")
    assert got_u == expected_u, (
        f"customers {queries} should map to {expected_u} (vocabulary order from row 1, unknown ids to row 0), "
        f"got {got_u}")
    p_queries = np.array([[55, 907], [1, 12]], dtype=np.int64)
    pos = {int(p): i + 1 for i, p in enumerate(products)}
    expected_p = [[pos.get(int(p), 0) for p in row] for row in p_queries]
    got_p = _np(product_lookup(tf.constant(p_queries))).tolist()
    assert got_p == expected_p, (
        f"products {p_queries.tolist()} should map to {expected_p} (a (2, 2) input keeps its shape), got {got_p}")


@exercise("u5.sample_candidates", title="candidates: the purchase in column 0, then sampled negatives", points=4,
          hints=("Each row is one purchase: the bought product first, then n_negatives products drawn from the "
                 "catalogue for that purchase alone. Which TensorFlow random ops give the same numbers every "
                 "time they get the same seed? And is it easier to draw product ids, or positions in the "
                 "catalogue that you then translate into ids?",
                 "Look up tf.random.stateless_uniform: it draws integers as well as floats, a whole tensor "
                 "of them in one call, and its maxval is excluded. Which values must a position into a "
                 "catalogue of n products take?"),
          delegates=(f"{_MODULE}.sample_candidates", f"{_MODULE}.sample_negatives"))
def check_sample_candidates(sample_candidates):
    tf = _tf()
    catalogue = np.arange(100, 400, dtype=np.int64)
    positives = np.array([150, 151, 399, 100, 222], np.int64)
    seed = tf.constant([3, 7], tf.int64)
    a = _np(sample_candidates(tf.constant(positives), tf.constant(catalogue), 200, seed))
    b = _np(sample_candidates(tf.constant(positives), tf.constant(catalogue), 200, seed))
    assert a.shape == (5, 201), f"expected shape (5, 201): one row per purchase, 1 + 200 columns; got {a.shape}"
    assert a[:, 0].tolist() == positives.tolist(), "column 0 must hold each row's purchased product"
    assert np.isin(a[:, 1:], catalogue).all(), \
        "negatives must be product ids of the catalogue (did you return positions instead of ids?)"
    assert np.array_equal(a, b), "the same seed must give the same candidates (use stateless random ops)"
    c = _np(sample_candidates(tf.constant(positives), tf.constant(catalogue), 200, tf.constant([4, 7], tf.int64)))
    assert not np.array_equal(a[:, 1:], c[:, 1:]), "a different seed should give different negatives"
    assert not all(np.array_equal(a[0, 1:], a[i, 1:]) for i in range(1, 5)), \
        "each purchase should get its own negatives"
    # uniform over 300 products: 1,000 draws leave about 300 * exp(-1000 / 300) ~ 11 products undrawn
    assert len(np.unique(a[:, 1:])) > 250, "negatives should spread over the whole catalogue (uniform sampling)"
    counts = np.bincount(np.searchsorted(catalogue, a[:, 1:].ravel()), minlength=len(catalogue))
    assert counts[:150].sum() > 350 and counts[150:].sum() > 350, \
        "negatives should be drawn uniformly from the whole catalogue, first half and second half alike"
    small = np.array([4, 8, 15], np.int64)  # 3 products, 600 draws: each one is drawn, the first and the last too
    drawn = _np(sample_candidates(tf.constant(positives), tf.constant(small), 120, seed))[:, 1:]
    assert set(np.unique(drawn).tolist()) == set(small.tolist()), (
        f"from the catalogue {small.tolist()} the negatives drew only {sorted(set(np.unique(drawn).tolist()))}: "
        "every product, the first and the last included, must be possible (check the range of the positions)")
    graph = _in_graph(lambda pos, cat, s: sample_candidates(pos, cat, 200, s),
                      [tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64), tf.TensorSpec([2], tf.int64)],
                      (tf.constant(positives), tf.constant(catalogue), seed), "sample_candidates")
    assert graph.shape == (5, 201) and graph[:, 0].tolist() == positives.tolist(), \
        "inside tf.function the candidates lost their shape or column 0"


@exercise("u5.dot_scores", title="dot-product scores of users against their candidates", points=3,
          hints=("A score is the dot product of a customer's vector with a candidate product's vector. Look the "
                 "vectors up first: what shape do the customer vectors have, what shape the candidate vectors, "
                 "and along which axis do you sum?",
                 "This is a batched dot product: for each row b, the C candidate vectors of b against the "
                 "single vector of customer b. Read how tf.einsum names every axis with a letter and sums "
                 "the letters that are missing from the output."),
          delegates=(f"{_MODULE}.TwoTower", f"{_MODULE}.TFRetrieval.score"))
def check_dot_scores(dot_scores):
    tf = _tf()
    rng = np.random.default_rng(5)
    user_table = rng.normal(size=(6, 4)).astype(np.float32)
    product_table = rng.normal(size=(9, 4)).astype(np.float32)
    user_rows = np.array([0, 5, 2], np.int64)
    cand_rows = rng.integers(0, 9, size=(3, 7)).astype(np.int64)
    got = _np(dot_scores(tf.constant(user_table), tf.constant(product_table), tf.constant(user_rows),
                         tf.constant(cand_rows)))
    u = user_table[user_rows].astype(np.float64)
    expected = np.array([[u[b] @ product_table[c] for c in cand_rows[b]] for b in range(len(user_rows))])
    assert got.shape == (3, 7), f"expected shape (3, 7) (one score per candidate), got {got.shape}"
    assert np.allclose(got, expected, atol=1e-5), "scores should be <user vector, candidate vector>"
    graph = _in_graph(dot_scores, [tf.TensorSpec([None, 4]), tf.TensorSpec([None, 4]), tf.TensorSpec([None], tf.int64),
                                   tf.TensorSpec([None, None], tf.int64)],
                      (tf.constant(user_table), tf.constant(product_table), tf.constant(user_rows),
                       tf.constant(cand_rows)), "dot_scores")
    assert np.allclose(graph, expected, atol=1e-5), "inside tf.function the scores came out different"


@exercise("u5.sampled_loss", title="softmax cross-entropy over 1 positive + N negatives, hits masked", points=4,
          hints=("This is a classification over 1 + N classes whose right answer is always column 0. Which "
                 "negatives must not count as wrong answers, and what does a softmax do with a logit that is "
                 "very negative?",
                 "Look up tf.where, which picks element by element from one of two tensors: it can replace "
                 "exactly the logits of the accidental hits and leave the others alone. What remains is an "
                 "ordinary classification loss whose label is 0 in every row."),
          delegates=(f"{_MODULE}.sampled_softmax_loss",))
def check_sampled_loss(sampled_loss):
    tf = _tf()
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(4, 5)).astype(np.float32)
    positives = np.array([10, 11, 12, 13], np.int64)
    negatives = np.array([[20, 21, 22, 23], [11, 24, 25, 26], [27, 12, 12, 28], [29, 30, 31, 32]], np.int64)
    got = float(_np(sampled_loss(tf.constant(logits), tf.constant(positives), tf.constant(negatives))))
    z = logits.astype(np.float64)
    keep = np.concatenate([np.ones((4, 1), bool), negatives != positives[:, None]], axis=1)
    per_row = [np.log(np.exp(z[i][keep[i]]).sum()) - z[i, 0] for i in range(4)]
    expected = float(np.mean(per_row))
    unmasked = float(np.mean(np.log(np.exp(z).sum(1)) - z[:, 0]))
    assert np.isfinite(got), "the loss is not finite: mask with a large negative number, not -inf minus -inf"
    assert not np.isclose(got, unmasked, atol=1e-5), "negatives equal to the positive must be masked"
    assert not np.isclose(got, float(np.sum(per_row)), atol=1e-4), "average the rows' losses, do not add them up"
    assert np.isclose(got, expected, atol=1e-5), f"expected mean cross-entropy {expected:.5f}, got {got:.5f}"
    graph = _in_graph(sampled_loss, [tf.TensorSpec([None, 5]), tf.TensorSpec([None], tf.int64),
                                     tf.TensorSpec([None, 4], tf.int64)],
                      (tf.constant(logits), tf.constant(positives), tf.constant(negatives)), "sampled_loss")
    assert np.isclose(float(graph), expected, atol=1e-5), "inside tf.function the loss came out different"
