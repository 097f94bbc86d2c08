"""Unit 5: a catalogue of plausible wrong answers, each of which must lose points under the grader's
rule (visible check plus the solution's hidden parts, :func:`tests._exercise_helpers.hidden_points`).

Off-by-one rows and ranges, a Python loop over the rows where the text asks for TensorFlow ops on
the whole batch (the checks trace the function with ``tf.function`` and an unknown batch size),
NumPy instead of TensorFlow, answers of the right shape with the wrong values, the workshop's
``StaticHashTable`` with its default of -1, unsorted / sorted mix-ups, a missing mask or mean.
An independent right answer of each exercise gets full marks, so a grader that failed everything
would fail this test too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from ._exercise_helpers import hidden_points  # noqa: E402
from .test_u5_exercises import GOOD  # noqa: E402  (independent right answers)

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "05_fashion_retrieval_tf.ipynb"
NAMES = {"u5.lookups": "make_lookups", "u5.sample_candidates": "sample_candidates", "u5.dot_scores": "dot_scores",
         "u5.sampled_loss": "sampled_loss"}


def _points(exercise, answer):
    return hidden_points(SOLUTION, exercise, NAMES[exercise], answer, np=np, tf=tf, keras=keras)


# --------------------------------------------------------------------------- u5.lookups

def _users_layer(users):
    return keras.layers.StringLookup(vocabulary=[str(u) for u in users])


def lookups_sorted(users, products):  # the vocabulary sorted: rows no longer follow the given order
    return (keras.layers.StringLookup(vocabulary=sorted(map(str, users))),
            keras.layers.IntegerLookup(vocabulary=np.sort(np.asarray(products, np.int64))))


def lookups_mask_token(users, products):  # a mask token takes row 0 too: every id one row further
    return (keras.layers.StringLookup(vocabulary=[str(u) for u in users], mask_token=""),
            keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64), mask_token=0))


def lookups_two_oov_rows(users, products):  # two out-of-vocabulary rows: the first id lands on row 2
    return (keras.layers.StringLookup(vocabulary=[str(u) for u in users], num_oov_indices=2),
            keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64), num_oov_indices=2))


def lookups_static_hash_table(users, products):  # the workshop's table: unknown ids get -1, not row 0
    def table(keys, dtype):
        keys = tf.constant(keys, dtype)
        init = tf.lookup.KeyValueTensorInitializer(keys, tf.range(1, tf.size(keys, tf.int64) + 1, dtype=tf.int64))
        return tf.lookup.StaticHashTable(init, -1).lookup

    return table([str(u) for u in users], tf.string), table(np.asarray(products, np.int64), tf.int64)


def lookups_rows_from_zero(users, products):  # a hand-made table from row 0: the first id shares the unknown row
    def table(keys, dtype):
        keys = tf.constant(keys, dtype)
        init = tf.lookup.KeyValueTensorInitializer(keys, tf.range(tf.size(keys, tf.int64), dtype=tf.int64))
        return tf.lookup.StaticHashTable(init, 0).lookup

    return table([str(u) for u in users], tf.string), table(np.asarray(products, np.int64), tf.int64)


def lookups_string_products(users, products):  # product ids are integers: a StringLookup cannot read them
    return _users_layer(users), keras.layers.StringLookup(vocabulary=[str(p) for p in products])


def lookups_swapped(users, products):  # the two layers returned in the wrong order
    return keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64)), _users_layer(users)


def lookups_one_hot(users, products):  # right layers, wrong output: one-hot rows instead of row numbers
    return (keras.layers.StringLookup(vocabulary=[str(u) for u in users], output_mode="one_hot"),
            keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64), output_mode="one_hot"))


# --------------------------------------------------------------------------- u5.sample_candidates

def _with_positives(positives, negatives):
    return tf.concat([tf.cast(positives, tf.int64)[:, None], tf.cast(negatives, tf.int64)], axis=1)


def _shape(positives, n_negatives):
    return tf.stack([tf.shape(positives)[0], n_negatives])


def _positions(positives, products, n_negatives, seed, low=0, high_shift=0):
    n = tf.shape(products, out_type=tf.int64)[0]
    return tf.random.stateless_uniform(_shape(positives, n_negatives), seed, low, n - high_shift, tf.int64)


def candidates_last_never_drawn(positives, products, n_negatives, seed):  # maxval n - 1: maxval is excluded already
    return _with_positives(positives, tf.gather(products, _positions(positives, products, n_negatives, seed,
                                                                      high_shift=1)))


def candidates_first_never_drawn(positives, products, n_negatives, seed):  # minval 1, as if row 0 were reserved
    return _with_positives(positives, tf.gather(products, _positions(positives, products, n_negatives, seed, low=1)))


def candidates_python_loop(positives, products, n_negatives, seed):  # one draw per purchase in a Python loop
    rows = [tf.random.stateless_uniform((n_negatives,), seed + [0, i], 0, len(products), tf.int64)
            for i in range(len(positives))]
    return _with_positives(positives, tf.gather(products, tf.stack(rows)))


def candidates_numpy(positives, products, n_negatives, seed):  # NumPy's seeded generator: repeatable, not TensorFlow
    rng = np.random.default_rng(np.asarray(seed))
    idx = rng.integers(0, len(products), size=(len(positives), n_negatives))
    return _with_positives(positives, tf.gather(products, idx))


def candidates_stateful(positives, products, n_negatives, seed):  # tf.random.uniform ignores the seed it is given
    idx = tf.random.uniform(_shape(positives, n_negatives), 0, tf.shape(products, out_type=tf.int64)[0], tf.int64)
    return _with_positives(positives, tf.gather(products, idx))


def candidates_positions(positives, products, n_negatives, seed):  # positions returned instead of product ids
    return _with_positives(positives, _positions(positives, products, n_negatives, seed))


def candidates_shared(positives, products, n_negatives, seed):  # one draw for the whole batch
    row = tf.random.stateless_uniform((1, n_negatives), seed, 0, tf.shape(products, out_type=tf.int64)[0], tf.int64)
    return _with_positives(positives, tf.repeat(tf.gather(products, row), tf.shape(positives)[0], axis=0))


def candidates_positive_last(positives, products, n_negatives, seed):  # the purchase appended after the negatives
    neg = tf.gather(products, _positions(positives, products, n_negatives, seed))
    return tf.concat([neg, tf.cast(positives, tf.int64)[:, None]], axis=1)


def candidates_shape_only(positives, products, n_negatives, seed):  # the right shape, nothing drawn
    return tf.zeros(tf.stack([tf.shape(positives)[0], n_negatives + 1]), tf.int64)


# --------------------------------------------------------------------------- u5.dot_scores

def scores_shape_only(ut, pt, ur, cr):  # the right shape, no scores
    return tf.zeros(tf.shape(cr), tf.float32)


def scores_python_loop(ut, pt, ur, cr):  # one customer at a time
    return tf.stack([tf.linalg.matvec(tf.gather(pt, cr[b]), tf.gather(ut, ur[b])) for b in range(len(ur))])


def scores_numpy(ut, pt, ur, cr):  # NumPy on the tensors' values: right numbers, not TensorFlow
    return np.einsum("bd,bcd->bc", np.asarray(ut)[np.asarray(ur)], np.asarray(pt)[np.asarray(cr)])


def scores_squeezed(ut, pt, ur, cr):  # right for most batches, a batch of one loses its axes
    return tf.squeeze(tf.matmul(tf.gather(pt, cr), tf.gather(ut, ur)[:, :, None]))


def scores_wrong_axes(ut, pt, ur, cr):  # every customer against every row's candidates: (B, B, C)
    return tf.tensordot(tf.gather(ut, ur), tf.gather(pt, cr), [[1], [2]])


def scores_off_by_one(ut, pt, ur, cr):  # rows read as lookup rows, as if row 0 were the unknown id
    return tf.einsum("bd,bcd->bc", tf.gather(ut, tf.maximum(ur - 1, 0)), tf.gather(pt, tf.maximum(cr - 1, 0)))


def scores_cosine(ut, pt, ur, cr):  # the cosine instead of the dot product: lengths dropped
    u = tf.math.l2_normalize(tf.gather(ut, ur), -1)
    return tf.einsum("bd,bcd->bc", u, tf.math.l2_normalize(tf.gather(pt, cr), -1))


def scores_first_candidate_only(ut, pt, ur, cr):  # one score per customer, repeated along the candidates
    first = tf.reduce_sum(tf.gather(ut, ur) * tf.gather(pt, cr[:, 0]), -1)
    return tf.repeat(first[:, None], tf.shape(cr)[1], axis=1)


# --------------------------------------------------------------------------- u5.sampled_loss

def _ce(z):
    return tf.reduce_logsumexp(z, axis=1) - z[:, 0]


def _hits(positives, negatives):
    return tf.equal(tf.cast(negatives, tf.int64), tf.cast(positives, tf.int64)[:, None])


def loss_unmasked(logits, positives, negatives):  # accidental hits left in
    return tf.reduce_mean(_ce(tf.convert_to_tensor(logits)))


def loss_summed(logits, positives, negatives):  # added up over the rows instead of averaged
    z = tf.convert_to_tensor(logits)
    z = tf.concat([z[:, :1], tf.where(_hits(positives, negatives), -1e9, z[:, 1:])], axis=1)
    return tf.reduce_sum(_ce(z))


def loss_masked_to_zero(logits, positives, negatives):  # hits set to logit 0, which still counts
    z = tf.convert_to_tensor(logits)
    return tf.reduce_mean(_ce(tf.concat([z[:, :1], tf.where(_hits(positives, negatives), 0.0, z[:, 1:])], axis=1)))


def loss_masks_column_0(logits, positives, negatives):  # the comparison includes the positive's own column
    z = tf.convert_to_tensor(logits)
    cand = tf.concat([tf.cast(positives, tf.int64)[:, None], tf.cast(negatives, tf.int64)], axis=1)
    return tf.reduce_mean(_ce(tf.where(tf.equal(cand, tf.cast(positives, tf.int64)[:, None]), -1e9, z)))


def loss_wrong_row(logits, positives, negatives):  # broadcast the wrong way: every purchase against every row
    z = tf.convert_to_tensor(logits)
    hit = tf.equal(tf.cast(negatives, tf.int64), tf.cast(positives, tf.int64)[None, :])
    return tf.reduce_mean(_ce(tf.concat([z[:, :1], tf.where(hit, -1e9, z[:, 1:])], axis=1)))


def loss_label_last(logits, positives, negatives):  # the label taken as the last column
    z = tf.convert_to_tensor(logits)
    z = tf.concat([z[:, :1], tf.where(_hits(positives, negatives), -1e9, z[:, 1:])], axis=1)
    return tf.reduce_mean(tf.reduce_logsumexp(z, axis=1) - z[:, -1])


def loss_probabilities(logits, positives, negatives):  # the logits treated as probabilities (from_logits=False)
    z = tf.convert_to_tensor(logits)
    z = tf.concat([z[:, :1], tf.where(_hits(positives, negatives), -1e9, z[:, 1:])], axis=1)
    onehot = tf.one_hot(tf.zeros(tf.shape(z)[0], tf.int32), tf.shape(z)[1])
    return keras.losses.CategoricalCrossentropy(from_logits=False)(onehot, z)


def loss_per_row(logits, positives, negatives):  # the right per-row losses, never averaged
    z = tf.convert_to_tensor(logits)
    return _ce(tf.concat([z[:, :1], tf.where(_hits(positives, negatives), -1e9, z[:, 1:])], axis=1))


def loss_python_loop(logits, positives, negatives):  # right values, one row at a time
    rows = []
    for i in range(len(positives)):
        keep = tf.concat([[True], tf.not_equal(negatives[i], positives[i])], axis=0)
        rows.append(tf.reduce_logsumexp(tf.boolean_mask(logits[i], keep)) - logits[i, 0])
    return tf.reduce_mean(tf.stack(rows))


def loss_numpy(logits, positives, negatives):  # right values in NumPy: not TensorFlow, cannot be traced
    z = np.asarray(logits, np.float64).copy()
    z[:, 1:][np.asarray(negatives) == np.asarray(positives)[:, None]] = -np.inf
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[:, 0]))


WRONG = {
    "u5.lookups": [lookups_sorted, lookups_mask_token, lookups_two_oov_rows, lookups_static_hash_table,
                   lookups_rows_from_zero, lookups_string_products, lookups_swapped, lookups_one_hot],
    "u5.sample_candidates": [candidates_last_never_drawn, candidates_first_never_drawn, candidates_python_loop,
                             candidates_numpy, candidates_stateful, candidates_positions, candidates_shared,
                             candidates_positive_last, candidates_shape_only],
    "u5.dot_scores": [scores_shape_only, scores_python_loop, scores_numpy, scores_squeezed, scores_wrong_axes,
                      scores_off_by_one, scores_cosine, scores_first_candidate_only],
    "u5.sampled_loss": [loss_unmasked, loss_summed, loss_masked_to_zero, loss_masks_column_0, loss_wrong_row,
                        loss_label_last, loss_probabilities, loss_per_row, loss_python_loop, loss_numpy],
}
CASES = [(exercise, answer) for exercise, answers in WRONG.items() for answer in answers]


@pytest.mark.parametrize("exercise", list(WRONG))
def test_a_right_answer_gets_every_point(exercise):
    points, out_of = _points(exercise, GOOD[exercise])
    assert points == out_of, f"{exercise}: an independent right answer got {points} of {out_of}"


@pytest.mark.parametrize("exercise, answer", CASES, ids=[f"{e}-{a.__name__}" for e, a in CASES])
def test_a_wrong_answer_loses_points(exercise, answer):
    points, out_of = _points(exercise, answer)
    assert points < out_of, f"{exercise}: {answer.__name__} ({answer.__doc__ or ''}) got every point ({out_of})"


# what tracing costs: the traced part's point, plus the visible check's point where it carries one
TRACE_POINTS = {"u5.sample_candidates": 2, "u5.dot_scores": 1, "u5.sampled_loss": 2}
RIGHT_VALUES_WRONG_TOOLS = [("u5.sample_candidates", candidates_python_loop), ("u5.sample_candidates", candidates_numpy),
                            ("u5.dot_scores", scores_python_loop), ("u5.dot_scores", scores_numpy),
                            ("u5.sampled_loss", loss_python_loop), ("u5.sampled_loss", loss_numpy)]


@pytest.mark.parametrize("exercise, answer", RIGHT_VALUES_WRONG_TOOLS,
                         ids=[f"{e}-{a.__name__}" for e, a in RIGHT_VALUES_WRONG_TOOLS])
def test_loops_and_numpy_are_caught_by_the_trace_not_by_their_values(exercise, answer):
    """These answers compute the right numbers: only the traced check and hidden part fail them,
    which is what the text's "TensorFlow ops on the whole batch, no Python loop" asks for; NumPy's
    NotImplementedError on a traced tensor counts as a failure, not as an exercise left to do."""
    from coursekit.grading.checks import FAILED, run_check

    result = run_check(exercise, answer)
    assert result.status == FAILED and "inside tf.function" in result.message, result.as_text()
    points, out_of = _points(exercise, answer)
    assert points == out_of - TRACE_POINTS[exercise], f"{exercise}: {answer.__name__} got {points} of {out_of}"
