"""Unit-5 checks: independent answers pass, the package's versions are refused, typical mistakes fail
with a helpful message, hints come only after failures, and the hidden parts give partial credit."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import keras  # noqa: E402

from coursekit.grading.checks import FAILED, NOT_ATTEMPTED, PASSED, get_exercise, run_check  # noqa: E402
from coursekit.grading.delegation import MESSAGE  # noqa: E402
from coursekit.models import tf_retrieval as R  # noqa: E402
from ._exercise_helpers import hidden_points  # noqa: E402

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "05_fashion_retrieval_tf.ipynb"
EXERCISES = ["u5.lookups", "u5.sample_candidates", "u5.dot_scores", "u5.sampled_loss"]


# --------------------------------------------------------------------------- independent good answers

def make_lookups(users, products):
    return (keras.layers.StringLookup(vocabulary=list(map(str, users))),
            keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64)))


def sample_candidates(positives, products, n_negatives, seed):  # traceable: no int() of a shape
    n = tf.shape(products, out_type=tf.int64)[0]
    u = tf.random.stateless_uniform(tf.stack([tf.shape(positives)[0], n_negatives]), tf.cast(seed, tf.int64))
    pos = tf.minimum(tf.cast(tf.floor(u * tf.cast(n, tf.float32)), tf.int64), n - 1)
    return tf.concat([tf.cast(positives, tf.int64)[:, None], tf.gather(products, pos)], axis=1)


def dot_scores(user_table, product_table, user_rows, cand_rows):
    u = tf.gather(user_table, user_rows)[:, None, :]
    return tf.reduce_sum(u * tf.gather(product_table, cand_rows), axis=-1)


def sampled_loss(logits, positives, negatives):  # log-sum-exp by hand, hits removed with -inf
    z = tf.convert_to_tensor(logits, tf.float32)
    pos, neg = tf.cast(tf.convert_to_tensor(positives), tf.int64), tf.cast(tf.convert_to_tensor(negatives), tf.int64)
    hit = tf.concat([tf.zeros_like(pos[:, None], tf.bool), tf.equal(neg, pos[:, None])], axis=1)
    z = tf.where(hit, tf.constant(-np.inf, tf.float32), z)
    return tf.reduce_mean(tf.reduce_logsumexp(z, axis=1) - z[:, 0])


GOOD = {"u5.lookups": make_lookups, "u5.sample_candidates": sample_candidates, "u5.dot_scores": dot_scores,
        "u5.sampled_loss": sampled_loss}


def test_reference_solutions_pass():
    for name, fn in GOOD.items():
        result = run_check(name, fn)
        assert result.status == PASSED, result.as_text()


def test_points_and_declarations():
    assert {e: get_exercise(e).points for e in EXERCISES} == {
        "u5.lookups": 2, "u5.sample_candidates": 4, "u5.dot_scores": 3, "u5.sampled_loss": 4}
    assert "coursekit.models.tf_retrieval.sample_negatives" in get_exercise("u5.sample_candidates").delegates


# --------------------------------------------------------------------------- write it yourself

def via_two_tower(users, products):
    net = R.TwoTower(users, products, dim=2)
    return net.user_lookup, net.product_lookup


def via_sample_candidates(positives, products, n_negatives, seed):
    return R.sample_candidates(positives, products, n_negatives, seed)


def via_sample_negatives(positives, products, n_negatives, seed):
    from coursekit.models.tf_retrieval import sample_negatives as draw

    b = int(tf.shape(positives)[0])
    rows = tf.reshape(draw(b * n_negatives, int(tf.shape(products)[0]), seed), (b, n_negatives))
    return tf.concat([tf.cast(positives, tf.int64)[:, None], tf.gather(products, rows)], axis=1)


def via_two_tower_call(user_table, product_table, user_rows, cand_rows):
    net = R.TwoTower(np.arange(user_table.shape[0]).astype(str), np.arange(product_table.shape[0]),
                     dim=int(user_table.shape[1]), use_bias=False)
    return net((tf.as_string(user_rows), tf.cast(cand_rows, tf.int64)))


def via_tfretrieval_score(user_table, product_table, user_rows, cand_rows):
    m = R.TFRetrieval()
    m.net_ = object()  # looks fitted
    m.user_vectors_, m.product_vectors_ = np.asarray(user_table), np.asarray(product_table)
    m.product_bias_ = np.zeros(product_table.shape[0], np.float32)
    return np.take_along_axis(m.score(np.asarray(user_rows)), np.asarray(cand_rows), axis=1)


def via_sampled_softmax_loss(logits, positives, negatives):
    import coursekit.models.tf_retrieval as kit

    return kit.sampled_softmax_loss(logits, positives, negatives)


@pytest.mark.parametrize("exercise, answer", [
    ("u5.lookups", via_two_tower),
    ("u5.sample_candidates", via_sample_candidates),
    ("u5.sample_candidates", via_sample_negatives),
    ("u5.sample_candidates", R.sample_candidates),
    ("u5.dot_scores", via_two_tower_call),
    ("u5.dot_scores", via_tfretrieval_score),
    ("u5.sampled_loss", via_sampled_softmax_loss),
    ("u5.sampled_loss", R.sampled_softmax_loss),
])
def test_the_package_version_is_refused(exercise, answer):
    res = run_check(exercise, answer)
    assert res.status == FAILED and MESSAGE in res.message, res.as_text()
    # outside the check the package works again (later cells of the notebook use it)
    logits = tf.constant([[1.0, 0.0, 0.0]])
    got = float(R.sampled_softmax_loss(logits, tf.constant([1], tf.int64), tf.constant([[2, 3]], tf.int64)))
    assert got == pytest.approx(float(sampled_loss(logits, [1], [[2, 3]])), rel=1e-6)
    net = R.TwoTower(np.array(["a"]), np.array([5]), dim=2)
    assert net.product_lookup(tf.constant([5, 6], tf.int64)).numpy().tolist() == [1, 0]


# --------------------------------------------------------------------------- hints come after failures

def test_hints_only_after_failed_attempts():
    def todo(*args):
        raise NotImplementedError()

    def summed(logits, positives, negatives):
        return 4 * sampled_loss(logits, positives, negatives)

    ex = get_exercise("u5.sampled_loss")
    assert run_check("u5.sampled_loss", todo).hint == ""
    first = run_check("u5.sampled_loss", summed)
    assert first.status == FAILED and first.hint == ex.hints[0]
    second = run_check("u5.sampled_loss", summed)
    assert second.hint == ex.hints[1] != ex.hints[0]
    assert run_check("u5.sampled_loss", sampled_loss).hint == ""
    assert "hint" not in run_check("u5.lookups", todo).as_text()
    assert run_check("u5.dot_scores", todo).status == NOT_ATTEMPTED


# --------------------------------------------------------------------------- typical mistakes

def _stateful(positives, products, n_negatives, seed):  # ignores the seed: not repeatable
    idx = np.random.default_rng().integers(0, int(tf.shape(products)[0]), (int(tf.shape(positives)[0]), n_negatives))
    return tf.concat([tf.cast(positives, tf.int64)[:, None], tf.gather(products, idx)], axis=1)


def _positions(positives, products, n_negatives, seed):  # forgets to turn positions into product ids
    idx = tf.random.stateless_uniform((int(tf.shape(positives)[0]), n_negatives), seed, 0,
                                      int(tf.shape(products)[0]), tf.int64)
    return tf.concat([tf.cast(positives, tf.int64)[:, None], idx], axis=1)


def _shared(positives, products, n_negatives, seed):  # one draw for the whole batch
    idx = tf.random.stateless_uniform((1, n_negatives), seed, 0, int(tf.shape(products)[0]), tf.int64)
    neg = tf.repeat(tf.gather(products, idx), int(tf.shape(positives)[0]), axis=0)
    return tf.concat([tf.cast(positives, tf.int64)[:, None], neg], axis=1)


def _first_half(positives, products, n_negatives, seed):  # only ever draws from half the catalogue
    idx = tf.random.stateless_uniform(tf.stack([tf.shape(positives)[0], n_negatives]), seed, 0,
                                      tf.shape(products, out_type=tf.int64)[0] // 2, tf.int64)
    return tf.concat([tf.cast(positives, tf.int64)[:, None], tf.gather(products, idx)], axis=1)


def _sorted_lookups(users, products):
    return (keras.layers.StringLookup(vocabulary=sorted(map(str, users))),
            keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64)))


def _string_products(users, products):  # product ids are integers: a StringLookup cannot read them
    return (keras.layers.StringLookup(vocabulary=list(map(str, users))),
            keras.layers.StringLookup(vocabulary=[str(p) for p in products]))


def _masked_lookups(users, products):  # a mask token shifts every row by one
    return (keras.layers.StringLookup(vocabulary=list(map(str, users)), mask_token=""),
            keras.layers.IntegerLookup(vocabulary=np.asarray(products, np.int64), mask_token=0))


def _unmasked(logits, positives, negatives):
    z = np.asarray(logits, np.float64)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[:, 0]))


def _masks_column_0_too(logits, positives, negatives):
    cand = tf.concat([tf.cast(positives, tf.int64)[:, None], tf.cast(negatives, tf.int64)], axis=1)
    z = tf.where(tf.equal(cand, tf.cast(positives, tf.int64)[:, None]), -1e9, logits)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.zeros(tf.shape(z)[0], tf.int64), z))


def _wrong_axes(ut, pt, ur, cr):
    return tf.tensordot(tf.gather(ut, ur), tf.gather(pt, cr), [[1], [2]])


def _squeezed(ut, pt, ur, cr):  # right for most batches, but squeezes a batch of one away
    return tf.squeeze(tf.matmul(tf.gather(pt, cr), tf.gather(ut, ur)[:, :, None]))


@pytest.mark.parametrize("exercise, answer, words", [
    ("u5.lookups", _sorted_lookups, "sorted order"),
    ("u5.lookups", _masked_lookups, "should map to"),
    ("u5.sample_candidates", _stateful, "same seed"),
    ("u5.sample_candidates", _positions, "positions instead of ids"),
    ("u5.sample_candidates", _shared, "its own negatives"),
    ("u5.sample_candidates", _first_half, "whole catalogue"),
    ("u5.dot_scores", _wrong_axes, "one score per candidate"),
    ("u5.sampled_loss", _unmasked, "must be masked"),
    ("u5.sampled_loss", _masks_column_0_too, "expected mean cross-entropy"),
    ("u5.sampled_loss", lambda lg, p, n: 4 * sampled_loss(lg, p, n), "do not add them up"),
])
def test_common_mistakes_fail_with_a_message(exercise, answer, words):
    res = run_check(exercise, answer)
    assert res.status == FAILED and words in res.message, res.as_text()


def test_a_string_lookup_for_integer_products_fails():
    assert run_check("u5.lookups", _string_products).status != PASSED


def test_later_cells_never_need_an_unfinished_exercise():
    """A student stuck on one exercise can run the rest: after an exercise's cell, its function is
    used only by its own check cell (the rest of the notebook calls the package)."""
    from coursekit.grading.release import CHECK_RE, EXERCISE_RE

    nb = nbformat.read(SOLUTION, as_version=4)
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    exercises = {}
    for i, src in code:
        match = EXERCISE_RE.search(src)
        if match:
            exercises[match.group(1)] = (i, {n.name for n in ast.parse(src).body if isinstance(n, ast.FunctionDef)})
    assert set(exercises) == set(EXERCISES)
    for exercise, (start, names) in exercises.items():
        for i, src in code:
            check = CHECK_RE.search(src)
            if i <= start or (check and check.group(1) == exercise):
                continue
            used = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name) and n.id in names}
            assert not used, f"cell {i} uses {sorted(used)} of {exercise}"
        check_cell = next(src for i, src in code if i > start and CHECK_RE.search(src))
        assert CHECK_RE.search(check_cell).group(1) == exercise
        # the check cell holds the check and its hidden tests only: nothing later depends on it
        visible = check_cell.split("### BEGIN HIDDEN TESTS")[0]
        assert [l for l in visible.splitlines() if l.strip() and not l.startswith("#")] == \
            [f'check("{exercise}", {sorted(names)[0]})'], check_cell


# --------------------------------------------------------------------------- hidden parts: partial credit

def _score(exercise, name, answer):
    return hidden_points(SOLUTION, exercise, name, answer, np=np, tf=tf, keras=keras)


def _right_users_only(users, products):
    return keras.layers.StringLookup(vocabulary=list(map(str, users))), _string_products(users, products)[1]


def _right_products_only(users, products):
    return _sorted_lookups(users, products)


def _same_shape_wrong_values(ut, pt, ur, cr):  # the tables mixed up: candidates read from the user table
    return tf.reduce_sum(tf.gather(ut, ur)[:, None, :] * tf.gather(ut, tf.minimum(cr, ut.shape[0] - 1)), -1)


@pytest.mark.parametrize("exercise, name, answer, expected", [
    ("u5.lookups", "make_lookups", make_lookups, 2),
    ("u5.lookups", "make_lookups", _right_users_only, 1),
    ("u5.lookups", "make_lookups", _right_products_only, 1),
    ("u5.lookups", "make_lookups", _masked_lookups, 0),
    ("u5.sample_candidates", "sample_candidates", sample_candidates, 4),
    ("u5.sample_candidates", "sample_candidates", _first_half, 2),
    ("u5.sample_candidates", "sample_candidates", _stateful, 1),
    ("u5.sample_candidates", "sample_candidates", _shared, 1),
    ("u5.sample_candidates", "sample_candidates", _positions, 1),
    ("u5.sample_candidates", "sample_candidates", via_sample_candidates, 0),
    ("u5.dot_scores", "dot_scores", dot_scores, 3),
    ("u5.dot_scores", "dot_scores", _squeezed, 2),
    ("u5.dot_scores", "dot_scores", _same_shape_wrong_values, 0),
    ("u5.dot_scores", "dot_scores", _wrong_axes, 0),
    ("u5.sampled_loss", "sampled_loss", sampled_loss, 4),
    ("u5.sampled_loss", "sampled_loss", _unmasked, 1),
    ("u5.sampled_loss", "sampled_loss", _masks_column_0_too, 0),
    ("u5.sampled_loss", "sampled_loss", via_sampled_softmax_loss, 0),
])
def test_partial_credit_for_partly_right_answers(exercise, name, answer, expected):
    points, out_of = _score(exercise, name, answer)
    assert points == expected, f"{exercise}: {points} of {out_of}, expected {expected}"
