"""Unit 3: a catalogue of plausible wrong answers, each fed to the grader's rule for its exercise
(the visible check and the solution's hidden parts), must lose points; the independent right
answers keep them all.

The catalogue holds the mistakes the exercise texts warn about (an off-by-one, a Python loop over
the anchors or the pairs, a second copy of the values, a table of every positive-negative pair, an
unsorted lookup) and the usual ones (a shape-only answer, bytes for strings, a missing sigmoid),
so a hidden part that stops enforcing its sentence of the text makes this test fail.
"""

from __future__ import annotations

import textwrap

import nbformat
import numpy as np
import pytest

from coursekit.errors import DataError
from coursekit.grading.grade import grading_specs

from ._exercise_helpers import hidden_points
from .test_u3_exercises import GOOD, INNER_GOOD, INNER_WRONG, SOLUTION

EXERCISES = ("u3.read_features", "u3.hard_negatives", "u3.inner_model", "u3.pair_metrics")

WRONG = {
    "u3.read_features": {
        "records counted from 1 (off-by-one)": GOOD["u3.read_features"].replace("record {n}", "record {n + 1}"),
        "a list of rows stacked at the end (loop, second copy)": """
            def read_features(path, dim=4096):
                rows, asins = [], []
                with open(path, "rb") as fh:
                    while True:
                        head = fh.read(10)
                        if not head:
                            break
                        body = fh.read(4 * dim)
                        if len(head) < 10 or len(body) < 4 * dim:
                            raise DataError(f"the file ends inside record {len(asins)}", path=path)
                        asins.append(head.decode("ascii"))
                        rows.append(np.frombuffer(body, "<f4"))
                return np.stack(rows), asins
        """,
        "the whole file read, then the values copied out": """
            def read_features(path, dim=4096):
                raw = np.fromfile(path, dtype=np.uint8)
                n, rest = divmod(len(raw), 10 + 4 * dim)
                if rest:
                    raise DataError(f"the file ends inside record {n}", path=path)
                rows = raw.reshape(n, 10 + 4 * dim)
                return rows[:, 10:].copy().view("<f4"), [bytes(r[:10]).decode("ascii") for r in rows]
        """,
        "big-endian floats": GOOD["u3.read_features"].replace('"<f4"', '">f4"'),
        "ASINs left as bytes": GOOD["u3.read_features"].replace('[a.decode("ascii") for a in out["asin"]]',
                                                                'list(out["asin"])'),
        "a cut file read without an error": GOOD["u3.read_features"].replace(
            "if rest:", "if False:").replace("np.fromfile(path, dtype=rec)", "np.fromfile(path, dtype=rec, count=n)"),
        "shape only: zeros": GOOD["u3.read_features"].replace('return out["x"]', 'return np.zeros_like(out["x"])'),
    },
    "u3.hard_negatives": {
        "the anchor may draw itself": """
            def hard_negatives(anchors, category, seed=0):
                rng = np.random.default_rng(seed)
                order = np.argsort(category, kind="stable")
                start = np.searchsorted(category[order], category[anchors], side="left")
                size = np.searchsorted(category[order], category[anchors], side="right") - start
                return order[start + (rng.random(len(anchors)) * size).astype(int)]
        """,
        "the last item of each category never drawn (off-by-one)": """
            def hard_negatives(anchors, category, seed=0):
                rng = np.random.default_rng(seed)
                anchors = np.asarray(anchors)
                order = np.argsort(category, kind="stable")
                start = np.searchsorted(category[order], category[anchors], side="left")
                size = np.searchsorted(category[order], category[anchors], side="right") - start
                other = order[start + (rng.random(len(anchors)) * (size - 1)).astype(int)]
                for _ in range(20):  # redraw in rounds; some anchors can only draw themselves
                    own = other == anchors
                    other[own] = order[start[own] + (rng.random(own.sum()) * (size[own] - 1)).astype(int)]
                return other
        """,
        "a Python loop over the anchors": """
            def hard_negatives(anchors, category, seed=0):
                rng = np.random.default_rng(seed)
                out = np.empty(len(anchors), np.int64)
                for k, a in enumerate(anchors):
                    out[k] = rng.choice(np.flatnonzero((category == category[a]) & (np.arange(len(category)) != a)))
                return out
        """,
        "np.vectorize over the anchors": GOOD["u3.hard_negatives"].replace(
            "k = (rng.random(len(anchors)) * (counts[c] - 1)).astype(np.int64)",
            "k = np.vectorize(lambda m: int(rng.random() * m))(counts[c] - 1).astype(np.int64)"),
        "any category": """
            def hard_negatives(anchors, category, seed=0):
                return (np.asarray(anchors) + 1) % len(category)
        """,
        "blocks searched in the unsorted codes": """
            def hard_negatives(anchors, category, seed=0):
                rng = np.random.default_rng(seed)
                anchors = np.asarray(anchors)
                start = np.searchsorted(category, category[anchors], side="left")
                size = np.maximum(np.searchsorted(category, category[anchors], side="right") - start, 1)
                other = start + (rng.random(len(anchors)) * size).astype(int)
                return np.where(other == anchors, (other + 1) % len(category), other)
        """,
        "the seed ignored": GOOD["u3.hard_negatives"].replace("default_rng(seed)", "default_rng(0)"),
        "a self draw replaced by the next item": GOOD["u3.hard_negatives"].replace(
            "k += k >= pos[anchors] - first[c]", "k = (k + (k == pos[anchors] - first[c])) % counts[c]").replace(
            "* (counts[c] - 1)", "* counts[c]"),
        "shape only: the anchors themselves": """
            def hard_negatives(anchors, category, seed=0):
                return np.array(anchors, dtype=np.int64)
        """,
    },
    "u3.inner_model": {
        **INNER_WRONG,  # the distance model, the seed's tensordot over the batch, no sigmoid
        "E1 on both sides": INNER_GOOD.replace("(x2 @ self.E2)", "(x2 @ self.E1)"),
        "one initializer object for both projections": INNER_GOOD.replace(
            'initializer="random_normal", name="E1"', 'initializer=init, name="E1"').replace(
            'initializer="random_normal", name="E2"', 'initializer=init, name="E2"').replace(
            "super().__init__()",
            "super().__init__()\n            init = keras.initializers.RandomNormal(stddev=0.01)"),
        "projections start at zero": INNER_GOOD.replace('initializer="random_normal"', 'initializer="zeros"'),
        "the bias starts at one half": INNER_GOOD.replace('initializer="zeros", name="c"',
                                                          'initializer=keras.initializers.Constant(0.5), name="c"'),
        "NumPy inside call: no gradient": INNER_GOOD.replace(
            "keras.ops.sum((x1 @ self.E1) * (x2 @ self.E2), axis=-1)",
            "np.sum((np.asarray(x1) @ np.asarray(self.E1)) * (np.asarray(x2) @ np.asarray(self.E2)), axis=-1)"),
        "shape only: one half for every row": INNER_GOOD.replace(
            "return keras.ops.sigmoid(self.c + keras.ops.sum((x1 @ self.E1) * (x2 @ self.E2), axis=-1))",
            "return keras.ops.zeros_like(x1[:, 0]) + 0.5 + 0 * self.c"),
    },
    "u3.pair_metrics": {
        "0.5 counted as compatible (off-by-one at the threshold)": GOOD["u3.pair_metrics"].replace("(p > 0.5)",
                                                                                                   "(p >= 0.5)"),
        "ties counted as losses": GOOD["u3.pair_metrics"].replace("(below + 0.5 * (upto - below))", "below"),
        "ranks counted from 0 (off-by-one)": """
            def pair_metrics(labels, probs):
                from scipy.stats import rankdata
                y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
                r = rankdata(p) - 1
                P, N = y.sum(), (~y).sum()
                return float(np.mean((p > 0.5) == y)), float((r[y].sum() - P * (P + 1) / 2) / (P * N))
        """,
        "a Python loop over the positives": """
            def pair_metrics(labels, probs):
                y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
                neg, wins = np.sort(p[~y]), 0.0
                for v in p[y]:
                    lo, hi = np.searchsorted(neg, v, "left"), np.searchsorted(neg, v, "right")
                    wins += lo + 0.5 * (hi - lo)
                return float(np.mean((p > 0.5) == y)), float(wins / (y.sum() * (~y).sum()))
        """,
        "a table of every positive-negative pair": """
            def pair_metrics(labels, probs):
                y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
                d = p[y][:, None] - p[~y][None, :]
                return float(np.mean((p > 0.5) == y)), float(((d > 0) + 0.5 * (d == 0)).mean())
        """,
        "unsorted: sorted scores beside unsorted labels": """
            def pair_metrics(labels, probs):
                y, p = np.asarray(labels) > 0.5, np.asarray(probs, dtype=float)
                ranks = np.arange(1, len(p) + 1)[np.argsort(np.argsort(-p))]  # ranks from the top, not the bottom
                P, N = y.sum(), (~y).sum()
                return float(np.mean((p > 0.5) == y)), float((ranks[y].sum() - P * (P + 1) / 2) / (P * N))
        """,
        "shape only: two halves": """
            def pair_metrics(labels, probs):
                return 0.5, 0.5
        """,
    },
}


def _answer(exercise_id: str, source: str):
    ns = {"__name__": "__main__", "np": np, "DataError": DataError}
    exec(compile(textwrap.dedent(source), "<ipython-input-1>", "exec"), ns)  # noqa: S102 - a notebook cell
    return ns["InnerCompatibility" if exercise_id == "u3.inner_model" else exercise_id.split(".")[1]]


def _modules(exercise_id: str) -> dict:
    """What the solution's imports bind for the hidden tests."""
    modules = {"np": np, "DataError": DataError}
    if exercise_id == "u3.inner_model":
        modules["tf"] = pytest.importorskip("tensorflow")
    return modules


def _points(exercise_id: str, source: str) -> tuple[int, int]:
    name = "InnerCompatibility" if exercise_id == "u3.inner_model" else exercise_id.split(".")[1]
    return hidden_points(SOLUTION, exercise_id, name, _answer(exercise_id, source), **_modules(exercise_id))


def test_every_exercise_has_a_catalogue_and_two_hidden_parts_or_more():
    specs = {s.id: s for s in grading_specs(nbformat.read(SOLUTION, as_version=4))}
    assert set(WRONG) == set(EXERCISES) and all(len(WRONG[ex]) >= 6 for ex in EXERCISES)
    assert all(len(specs[ex].hidden.parts) >= 2 for ex in EXERCISES)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_independent_right_answer_keeps_every_point(exercise_id):
    source = INNER_GOOD if exercise_id == "u3.inner_model" else GOOD[exercise_id]
    points, maximum = _points(exercise_id, source)
    assert points == maximum


@pytest.mark.parametrize("exercise_id, mistake", [(ex, m) for ex in EXERCISES for m in WRONG[ex]])
def test_a_wrong_answer_loses_points(exercise_id, mistake):
    points, maximum = _points(exercise_id, WRONG[exercise_id][mistake])
    assert points < maximum, f"{exercise_id} gives '{mistake}' all {maximum} points"
