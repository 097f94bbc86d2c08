"""Unit 3 exercises: independent correct answers pass, the package versions are refused ("write it
yourself"), wrong answers fail with hints in two steps, and the hidden parts of the solution give
partly right answers partial credit (run as the grader runs them, without a kernel)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.errors import DataError
from coursekit.grading.checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED, get_exercise, run_check
from coursekit.grading.grade import grading_specs
from coursekit.grading.scoring import hidden_cell_source, score_exercise
from ._exercise_helpers import assert_refused

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "03_visual_compatibility.ipynb"
EXERCISES = ["u3.read_features", "u3.hard_negatives", "u3.inner_model", "u3.pair_metrics"]


def _notebook(source: str, **names) -> dict:
    """A notebook-like namespace: ``source`` runs in it as a student's cell would."""
    ns = {"__name__": "__main__", "np": np, "DataError": DataError, **names}
    exec(compile(textwrap.dedent(source), "<ipython-input-1>", "exec"), ns)  # noqa: S102 - a notebook cell
    return ns


# --------------------------------------------------------------------------- independent answers

GOOD = {
    "u3.read_features": """
        def read_features(path, dim=4096):
            rec = np.dtype([("asin", "S10"), ("x", "<f4", (dim,))])
            n, rest = divmod(path.stat().st_size, rec.itemsize)
            if rest:
                raise DataError(f"the file ends inside record {n}", path=path)
            out = np.fromfile(path, dtype=rec)  # one allocation: the values are a view of it
            return out["x"], [a.decode("ascii") for a in out["asin"]]
    """,
    "u3.hard_negatives": """
        def hard_negatives(anchors, category, seed=0):
            rng = np.random.default_rng(seed)
            anchors, category = np.asarray(anchors), np.asarray(category)
            counts = np.bincount(category)
            order = np.argsort(category, kind="stable")
            first = np.cumsum(counts) - counts  # where each category's block starts in that order
            pos = np.empty(len(category), np.int64)
            pos[order] = np.arange(len(category))  # each item's place in the order
            c = category[anchors]
            k = (rng.random(len(anchors)) * (counts[c] - 1)).astype(np.int64)  # one of the other items
            k += k >= pos[anchors] - first[c]  # step over the anchor itself: no redraw needed
            return order[first[c] + k]
    """,
    "u3.pair_metrics": """
        def pair_metrics(labels, probs):
            y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
            neg = np.sort(p[~y])
            below, upto = np.searchsorted(neg, p[y], "left"), np.searchsorted(neg, p[y], "right")
            auc = (below + 0.5 * (upto - below)).sum() / (y.sum() * (~y).sum())
            return float(np.mean((p > 0.5) == y)), float(auc)
    """,
}

INNER_GOOD = """
    import keras
    import tensorflow as tf

    class InnerCompatibility(keras.Model):
        def __init__(self, feat_dim, style_dim=5):
            super().__init__()
            self.E1 = self.add_weight(shape=(feat_dim, style_dim), initializer="random_normal", name="E1")
            self.E2 = self.add_weight(shape=(feat_dim, style_dim), initializer="random_normal", name="E2")
            self.c = self.add_weight(shape=(), initializer="zeros", name="c")

        def call(self, inputs):
            x1, x2 = inputs
            return keras.ops.sigmoid(self.c + keras.ops.sum((x1 @ self.E1) * (x2 @ self.E2), axis=-1))
"""


def _good(exercise_id):
    if exercise_id == "u3.inner_model":
        pytest.importorskip("tensorflow")
        return _notebook(INNER_GOOD)["InnerCompatibility"]
    return _notebook(GOOD[exercise_id])[exercise_id.split(".")[1]]


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_independent_answer_passes(exercise_id):
    assert run_check(exercise_id, _good(exercise_id)).status == PASSED


# --------------------------------------------------------------------------- the package version is refused

def test_read_features_refuses_the_package_reader():
    from coursekit.datasets import amazon

    assert_refused("u3.read_features", amazon.read_image_features, "read_image_features")
    ns = _notebook("""
        from coursekit.datasets.amazon import read_image_features as reader
        def read_features(path, dim=4096):
            x, asins = reader(path, dim=dim)
            return x, list(asins)
    """)
    assert_refused("u3.read_features", ns["read_features"], "coursekit.datasets.amazon.read_image_features")
    ns = _notebook("""
        import coursekit.datasets.amazon as A
        def read_features(path, dim=4096):  # the package's record layout, read by hand
            rec = np.fromfile(path, dtype=A._record_dtype(dim))
            return rec["x"], [a.decode() for a in rec["asin"]]
    """)
    assert_refused("u3.read_features", ns["read_features"], "_record_dtype")


def test_hard_negatives_refuses_the_package_sampler():
    ns = _notebook("""
        from coursekit.sampling import pairs
        def hard_negatives(anchors, category, seed=0):
            return pairs.sample_negatives(anchors, len(category), category=category, seed=seed)[:, 1]
    """)
    assert_refused("u3.hard_negatives", ns["hard_negatives"], "sample_negatives")
    ns = _notebook("""
        from coursekit.sampling.pairs import _draw_others
        def hard_negatives(anchors, category, seed=0):
            return _draw_others(np.asarray(anchors), len(category), np.asarray(category), np.random.default_rng(seed))
    """)
    assert_refused("u3.hard_negatives", ns["hard_negatives"], "_draw_others")


def test_inner_model_refuses_the_package_class():
    tf_compat = pytest.importorskip("coursekit.models.tf_compat")
    assert_refused("u3.inner_model", tf_compat.InnerCompatibility, "InnerCompatibility")
    ns = _notebook("""
        from coursekit.models import tf_compat
        class InnerCompatibility(tf_compat.InnerCompatibility):  # a subclass is the package class
            pass
        def factory(feat_dim, style_dim=5):  # a function that builds the package model
            return tf_compat.InnerCompatibility(feat_dim, style_dim)
    """)
    assert_refused("u3.inner_model", ns["InnerCompatibility"], "InnerCompatibility")
    assert_refused("u3.inner_model", ns["factory"], "coursekit.models.tf_compat._Compatibility")
    # later cells get the package class back untouched
    net = tf_compat.InnerCompatibility(4, 2)
    assert net((np.ones((3, 4), np.float32), np.ones((3, 4), np.float32))).shape == (3,)


def test_pair_metrics_refuses_the_package_metrics():
    ns = _notebook("""
        from coursekit.sampling.pairs import pair_accuracy, pair_auc  # the re-exported names
        def pair_metrics(labels, probs):
            return pair_accuracy(labels, probs), pair_auc(labels, probs)
    """)
    assert_refused("u3.pair_metrics", ns["pair_metrics"], "pair_accuracy")
    ns = _notebook("""
        from coursekit import metrics
        def pair_metrics(labels, probs):  # accuracy by hand, AUC from the package's ranking AUC
            y = np.asarray(labels) > 0.5
            auc = metrics.auc_score(np.asarray(probs, float)[None, :], [np.flatnonzero(y)])[0]
            return float(np.mean((np.asarray(probs) > 0.5) == y)), float(auc)
    """)
    assert_refused("u3.pair_metrics", ns["pair_metrics"], "auc_score")


# --------------------------------------------------------------------------- wrong answers, hints in two steps

WRONG = {
    "u3.read_features": {
        "no error on a cut file": """
            def read_features(path, dim=4096):
                raw = open(path, "rb").read()
                rec = 10 + 4 * dim
                n = len(raw) // rec
                x = np.stack([np.frombuffer(raw[i * rec + 10:(i + 1) * rec], "<f4") for i in range(n)])
                return x, [raw[i * rec:i * rec + 10].decode() for i in range(n)]
        """,
        "big-endian floats": """
            def read_features(path, dim=4096):
                rec = np.fromfile(path, dtype=[("asin", "S10"), ("x", ">f4", (dim,))])
                return rec["x"].astype(np.float32), [a.decode() for a in rec["asin"]]
        """,
        "ASINs left as bytes": """
            def read_features(path, dim=4096):
                rec = np.fromfile(path, dtype=[("asin", "S10"), ("x", "<f4", (dim,))])
                return rec["x"], list(rec["asin"])
        """,
    },
    "u3.hard_negatives": {
        "the anchor may draw itself": """
            def hard_negatives(anchors, category, seed=0):
                rng = np.random.default_rng(seed)
                return np.array([rng.choice(np.flatnonzero(category == category[a])) for a in anchors])
        """,
        "any category": """
            def hard_negatives(anchors, category, seed=0):
                return (np.asarray(anchors) + 1) % len(category)
        """,
    },
    "u3.pair_metrics": {
        "ties counted as losses": """
            def pair_metrics(labels, probs):
                y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
                d = p[y][:, None] - p[~y][None, :]
                return float(np.mean((p > 0.5) == y)), float((d > 0).mean())
        """,
        "0.5 counted as compatible": """
            def pair_metrics(labels, probs):
                y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
                d = p[y][:, None] - p[~y][None, :]
                return float(np.mean((p >= 0.5) == y)), float(((d > 0) + 0.5 * (d == 0)).mean())
        """,
    },
}

INNER_WRONG = {
    "the distance model": INNER_GOOD.replace(
        "self.c + keras.ops.sum((x1 @ self.E1) * (x2 @ self.E2), axis=-1)",
        "self.c - keras.ops.sum((x1 @ self.E1 - x2 @ self.E2) ** 2, axis=-1)"),
    "the seed's tensordot over the batch": INNER_GOOD.replace(
        "keras.ops.sum((x1 @ self.E1) * (x2 @ self.E2), axis=-1)",
        "tf.tensordot(x1 @ self.E1, tf.transpose(x2 @ self.E2), 1)"),
    "no sigmoid": INNER_GOOD.replace("keras.ops.sigmoid(", "("),
}


def _wrong_cases():
    for ex, answers in WRONG.items():
        for name in answers:
            yield ex, name
    for name in INNER_WRONG:
        yield "u3.inner_model", name


@pytest.mark.parametrize("exercise_id, mistake", list(_wrong_cases()))
def test_a_wrong_answer_fails_with_the_first_then_the_second_hint(exercise_id, mistake):
    if exercise_id == "u3.inner_model":
        pytest.importorskip("tensorflow")
        answer = _notebook(INNER_WRONG[mistake])["InnerCompatibility"]
    else:
        answer = _notebook(WRONG[exercise_id][mistake])[exercise_id.split(".")[1]]
    hints = get_exercise(exercise_id).hints
    first = run_check(exercise_id, answer)
    assert first.status in (FAILED, ERROR) and first.hint == hints[0]
    second = run_check(exercise_id, answer)
    assert second.status in (FAILED, ERROR) and second.hint == hints[1]
    assert run_check(exercise_id, _good(exercise_id)).hint == ""  # passed: no hint


def test_inner_model_not_attempted():
    pytest.importorskip("tensorflow")
    ns = _notebook("""
        import keras
        class InnerCompatibility(keras.Model):
            def __init__(self, feat_dim, style_dim=5):
                super().__init__()
                raise NotImplementedError()
    """)
    assert run_check("u3.inner_model", ns["InnerCompatibility"]).status == NOT_ATTEMPTED


# --------------------------------------------------------------------------- hidden parts: partial credit

@pytest.fixture(scope="module")
def specs():
    return {s.id: s for s in grading_specs(nbformat.read(SOLUTION, as_version=4))}


def _notebook_state():
    """What the hidden tests read from the notebook, built small: items, categories, splits, a model."""
    rng = np.random.default_rng(0)
    category = rng.integers(0, 5, size=300)
    positives = np.unique(rng.integers(0, 300, size=(800, 2)), axis=0)
    positives = positives[positives[:, 0] != positives[:, 1]]
    labels = (rng.random(2000) < 0.5).astype(np.float32)

    class Model:
        def predict_proba(self, features, pairs):
            return np.clip(0.5 + 0.3 * (labels - 0.5) + rng.normal(0, 0.3, len(pairs)), 0, 1).astype(np.float32)

    return {"category": category, "positives": positives, "X": None,
            "splits": {"random": {"test": (np.zeros((2000, 2), np.int64), labels)}},
            "models": {("euclidean", "random"): Model()}}


def _grade(spec, student_source, **names):
    """Run the grader's cell for one exercise after the student's cell; return (points, pieces)."""
    ns = _notebook(student_source, **_notebook_state(), **names)
    exec(compile(hidden_cell_source(spec).replace("_ck_run.report()", ""), "<grader>", "exec"), ns)  # noqa: S102
    report = ns["_ck_run"].result
    return score_exercise(spec, report).points, report["pieces"]


def _parts_passed(pieces):
    return {name for name, status in pieces.items() if status == PASSED and name != "setup"}


VALUES, ASINS = "float32 values of 1,000 records in file order, more than one read", "the ASINs as str, in file order"
CUT = "a file cut inside an ASIN or inside the values raises DataError naming the record, counted from 0"
ONCE = "the values are allocated once, never held twice while reading"
OTHER = "every anchor gets another item of its own sub-category"
UNIFORM, SEEDED = "each other item of the category is equally likely", "the seed decides the draws"
NO_LOOP = "no Python loop over the anchors: 100 and 10,000 anchors run about as many Python lines"
ACCURACY = "accuracy at the threshold 0.5, where 0.5 itself is not compatible"
AUC, TIES = "AUC of scores without ties, as scikit-learn computes it", "AUC of tied scores, ties counting one half"
BY_RANKS = "no loop over pairs and no table of every positive-negative pair"

PARTLY_RIGHT = {
    # (exercise, source, expected points, parts passed)
    "records counted from 1": (
        "u3.read_features", GOOD["u3.read_features"].replace("record {n}", "record {n + 1}"), 3, {VALUES, ASINS, ONCE}),
    "ASINs left as bytes": (
        "u3.read_features", GOOD["u3.read_features"].replace('[a.decode("ascii") for a in out["asin"]]',
                                                             'list(out["asin"])'), 3, {VALUES, CUT, ONCE}),
    "no error on a cut file, rows stacked from a list": (
        "u3.read_features", WRONG["u3.read_features"]["no error on a cut file"], 2, {VALUES, ASINS}),
    "a self draw replaced by the next item": (
        "u3.hard_negatives", """
        def hard_negatives(anchors, category, seed=0):
            rng = np.random.default_rng(seed)
            anchors = np.asarray(anchors)
            order = np.argsort(category, kind="stable")
            pos = np.empty(len(category), np.int64)
            pos[order] = np.arange(len(category))
            start = np.searchsorted(category[order], category[anchors], side="left")
            size = np.searchsorted(category[order], category[anchors], side="right") - start
            pick = start + (rng.random(len(anchors)) * size).astype(int)
            own = pick == pos[anchors]
            pick[own] = start[own] + (pick[own] - start[own] + 1) % size[own]  # biased: never redrawn
            return order[pick]
        """, 3, {OTHER, SEEDED, NO_LOOP}),
    "the seed ignored": (
        "u3.hard_negatives", GOOD["u3.hard_negatives"].replace("default_rng(seed)", "default_rng(0)"), 3,
        {OTHER, UNIFORM, NO_LOOP}),
    "right, with a loop over the anchors": (
        "u3.hard_negatives", WRONG["u3.hard_negatives"]["the anchor may draw itself"].replace(
            "np.array([rng.choice(np.flatnonzero(category == category[a])) for a in anchors])",
            "np.array([rng.choice(np.flatnonzero((category == category[a]) & (np.arange(len(category)) != a)))"
            " for a in anchors])"), 3, {OTHER, UNIFORM, SEEDED}),
    "ordinal ranks: ties broken by position": (
        "u3.pair_metrics", """
        def pair_metrics(labels, probs):
            y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
            ranks = np.empty(len(p))
            ranks[np.argsort(p, kind="stable")] = np.arange(1, len(p) + 1)
            P, N = y.sum(), (~y).sum()
            return float(np.mean((p > 0.5) == y)), float((ranks[y].sum() - P * (P + 1) / 2) / (P * N))
        """, 3, {ACCURACY, AUC, BY_RANKS}),
    "0.5 counted as compatible, every pair in a table": (
        "u3.pair_metrics", WRONG["u3.pair_metrics"]["0.5 counted as compatible"], 2, {AUC, TIES}),
}


@pytest.mark.parametrize("mistake", list(PARTLY_RIGHT))
def test_a_partly_right_answer_gets_partial_credit(specs, mistake):
    exercise_id, source, points, passed = PARTLY_RIGHT[mistake]
    got, pieces = _grade(specs[exercise_id], source)
    assert (got, _parts_passed(pieces)) == (points, passed)
    assert 0 < got < specs[exercise_id].points


@pytest.mark.parametrize("exercise_id", ["u3.read_features", "u3.hard_negatives", "u3.pair_metrics"])
def test_the_grader_gives_an_independent_answer_full_points(specs, exercise_id):
    got, pieces = _grade(specs[exercise_id], GOOD[exercise_id])
    assert got == specs[exercise_id].points, pieces


INITIAL = "E1 and E2 start small, random and different, c starts as a scalar zero"
ROWS = "one probability per row, sigmoid(c + <x1 E1, x2 E2>), for a single row and for a batch"
GRADIENTS = "the gradients of the log-loss with respect to E1, E2 and c, as computed by hand"
INNER_PARTLY = {
    "weights start at zero": (INNER_GOOD.replace('initializer="random_normal"', 'initializer="zeros"'), 2,
                              {ROWS, GRADIENTS}),
    "numpy inside call: no gradient": (INNER_GOOD.replace(
        "keras.ops.sum((x1 @ self.E1) * (x2 @ self.E2), axis=-1)",
        "np.sum((np.asarray(x1) @ np.asarray(self.E1)) * (np.asarray(x2) @ np.asarray(self.E2)), axis=-1)"),
        2, {INITIAL, ROWS}),
    "the seed's tensordot": (INNER_WRONG["the seed's tensordot over the batch"], 1, {INITIAL}),
}


def test_the_inner_model_parts(specs):
    tf = pytest.importorskip("tensorflow")
    spec = specs["u3.inner_model"]
    assert _grade(spec, INNER_GOOD, tf=tf)[0] == spec.points
    for mistake, (source, points, passed) in INNER_PARTLY.items():
        got, pieces = _grade(spec, source, tf=tf)
        assert (got, _parts_passed(pieces)) == (points, passed), mistake


def test_the_grader_refuses_the_package_in_every_part(specs):
    ns_source = """
        from coursekit.sampling.pairs import pair_accuracy, pair_auc
        def pair_metrics(labels, probs):
            return pair_accuracy(labels, probs), pair_auc(labels, probs)
    """
    got, pieces = _grade(specs["u3.pair_metrics"], ns_source)
    assert got == 0 and all(s == FAILED for name, s in pieces.items() if name != "setup")
