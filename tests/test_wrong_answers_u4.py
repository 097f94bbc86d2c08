"""A catalogue of plausible wrong answers to every unit-4 exercise: each one loses points.

The answers are the mistakes the exercise texts warn about — an off-by-one, a Python loop where
the text asks for array operations, a dense matrix where it asks for a sparse one, neighbours left
unsorted, and an answer of the right shape with the wrong numbers — scored the way the grader scores
them (the visible check and the solution's hidden parts, :func:`tests._exercise_helpers.hidden_points`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from ._exercise_helpers import hidden_points
from .test_u4_exercises import _cosine_matrix, als_step, knn_scores, paired_t, play_matrix, top_neighbours

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "04_music_cf.ipynb"


# --------------------------------------------------------------------------- u4.play_matrix

def matrix_one_based(df):  # off-by-one: ids numbered from 1, an empty first row and column
    users, rows = np.unique(df["user_id"].to_numpy(), return_inverse=True)
    artists, cols = np.unique(df["artist_id"].to_numpy(), return_inverse=True)
    m = sp.csr_matrix((df["plays"].to_numpy(float), (rows + 1, cols + 1)), shape=(len(users) + 1, len(artists) + 1))
    return m, users, artists


def matrix_by_iterrows(df):  # right numbers, a loop over the rows
    users, artists = np.unique(df["user_id"].to_numpy()), np.unique(df["artist_id"].to_numpy())
    m = sp.lil_matrix((len(users), len(artists)))
    for _, row in df.iterrows():
        m[np.searchsorted(users, row["user_id"]), np.searchsorted(artists, row["artist_id"])] += row["plays"]
    return m.tocsr(), users, artists


def matrix_by_pivot_table(df):  # right numbers, a dense users x artists table on the way
    table = df.pivot_table(index="user_id", columns="artist_id", values="plays", aggfunc="sum", fill_value=0)
    return sp.csr_matrix(table.to_numpy(float)), table.index.to_numpy(), table.columns.to_numpy()


def matrix_in_first_seen_order(df):  # unsorted ids
    rows, users = pd.factorize(df["user_id"])
    cols, artists = pd.factorize(df["artist_id"])
    return sp.csr_matrix((df["plays"].to_numpy(float), (rows, cols)), shape=(len(users), len(artists))), users, artists


def matrix_of_zeros(df):  # the right shape and ids, no plays
    users, artists = np.unique(df["user_id"].to_numpy()), np.unique(df["artist_id"].to_numpy())
    return sp.csr_matrix((len(users), len(artists))), users, artists


# --------------------------------------------------------------------------- u4.neighbours

def neighbours_skipping_the_first(x, k):  # off-by-one: "the first of each row is the user itself"
    s = _cosine_matrix(x)
    idx = np.argsort(-s, axis=1, kind="stable")[:, 1:k + 1]
    return idx, np.take_along_axis(s, idx, axis=1)


def neighbours_by_loop(x, k):  # right numbers, a loop over users
    s = _cosine_matrix(x)
    idx, sim = [], []
    for u in range(s.shape[0]):
        row = s[u].copy()
        row[u] = -np.inf
        best = np.argsort(-row, kind="stable")[:k]
        idx.append(best)
        sim.append(row[best])
    return np.array(idx), np.array(sim)


def neighbours_unguarded(x, k):  # dense division: a user without plays gives NaN
    d = x.toarray()
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = d / np.linalg.norm(d, axis=1, keepdims=True)
    s = unit @ unit.T
    np.fill_diagonal(s, -np.inf)
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(s, idx, axis=1)


def neighbours_unsorted(x, k):  # argpartition's k, never sorted
    s = _cosine_matrix(x)
    np.fill_diagonal(s, -np.inf)
    idx = np.argpartition(-s, k - 1, axis=1)[:, :k][:, ::-1]
    return idx, np.take_along_axis(s, idx, axis=1)


def neighbours_of_zeros(x, k):
    n = x.shape[0]
    return (np.arange(n)[:, None] + np.arange(1, k + 1)) % n, np.zeros((n, k))


# --------------------------------------------------------------------------- u4.knn_scores

def scores_of_the_next_user(x, idx, sim):  # off-by-one: the row after each neighbour's
    return np.einsum("uj,uji->ui", sim, x.toarray()[(idx + 1) % x.shape[0]])


def scores_by_loop(x, idx, sim):  # right numbers, a loop over users
    d = x.toarray()
    out = np.zeros(d.shape)
    for u in range(d.shape[0]):
        out[u] = sim[u] @ d[idx[u]]
    return out


def scores_unweighted(x, idx, sim):
    return x.toarray()[idx].sum(axis=1)


def scores_of_zeros(x, idx, sim):
    return np.zeros(x.shape)


# --------------------------------------------------------------------------- u4.als_step

def als_confidence_minus_one(w, y, reg):  # off-by-one: c - 1 on the right-hand side instead of c
    w = sp.csr_matrix(w)
    f = y.shape[1]
    a = (w @ (y[:, :, None] * y[:, None, :]).reshape(len(y), -1)).reshape(-1, f, f) + y.T @ y + reg * np.eye(f)
    return np.linalg.solve(a, (w @ y)[:, :, None])[:, :, 0]


def als_by_loop(w, y, reg):  # right numbers, a loop over users
    w = sp.csr_matrix(w)
    out = np.zeros((w.shape[0], y.shape[1]))
    for u in range(w.shape[0]):
        cols, conf = w.indices[w.indptr[u]:w.indptr[u + 1]], w.data[w.indptr[u]:w.indptr[u + 1]]
        a = y.T @ y + (y[cols].T * conf) @ y[cols] + reg * np.eye(y.shape[1])
        out[u] = np.linalg.solve(a, ((1 + conf)[:, None] * y[cols]).sum(axis=0))
    return out


def als_without_regularisation(w, y, reg):
    return als_step(w, y, 0.0)


def als_unweighted(w, y, reg):  # every played pair with confidence 1 (plain ridge regression on 0/1)
    ones = sp.csr_matrix(w)
    ones.data = np.full_like(ones.data, 1e-12)
    return als_step(ones, y, reg)


def als_of_zeros(w, y, reg):
    return np.zeros((w.shape[0], y.shape[1]))


# --------------------------------------------------------------------------- u4.paired_t

def t_with_ddof_0(a, b):  # off-by-one: n instead of n - 1
    d = np.asarray(a, float) - np.asarray(b, float)
    t = d.mean() / (d.std() / np.sqrt(len(d)))
    return t, 2 * stats.t.sf(abs(t), len(d))


def t_unpaired(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    t = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return t, 2 * stats.t.sf(abs(t), 2 * len(a) - 2)


def t_one_sided(a, b):
    t, p = paired_t(a, b)
    return t, p / 2


def t_of_nothing(a, b):
    return 0.0, 1.0


CATALOGUE = [
    ("u4.play_matrix", "play_matrix", matrix_one_based, "off-by-one"),
    ("u4.play_matrix", "play_matrix", matrix_by_iterrows, "loop"),
    ("u4.play_matrix", "play_matrix", matrix_by_pivot_table, "dense"),
    ("u4.play_matrix", "play_matrix", matrix_in_first_seen_order, "unsorted"),
    ("u4.play_matrix", "play_matrix", matrix_of_zeros, "shape-only"),
    ("u4.neighbours", "top_neighbours", neighbours_skipping_the_first, "off-by-one"),
    ("u4.neighbours", "top_neighbours", neighbours_by_loop, "loop"),
    ("u4.neighbours", "top_neighbours", neighbours_unguarded, "dense without a guard"),
    ("u4.neighbours", "top_neighbours", neighbours_unsorted, "unsorted"),
    ("u4.neighbours", "top_neighbours", neighbours_of_zeros, "shape-only"),
    ("u4.knn_scores", "knn_scores", scores_of_the_next_user, "off-by-one"),
    ("u4.knn_scores", "knn_scores", scores_by_loop, "loop"),
    ("u4.knn_scores", "knn_scores", scores_unweighted, "unweighted"),
    ("u4.knn_scores", "knn_scores", scores_of_zeros, "shape-only"),
    ("u4.als_step", "als_step", als_confidence_minus_one, "off-by-one"),
    ("u4.als_step", "als_step", als_by_loop, "loop"),
    ("u4.als_step", "als_step", als_without_regularisation, "no regularisation"),
    ("u4.als_step", "als_step", als_unweighted, "unweighted"),
    ("u4.als_step", "als_step", als_of_zeros, "shape-only"),
    ("u4.paired_t", "paired_t", t_with_ddof_0, "off-by-one"),
    ("u4.paired_t", "paired_t", t_unpaired, "unpaired"),
    ("u4.paired_t", "paired_t", t_one_sided, "one-sided"),
    ("u4.paired_t", "paired_t", t_of_nothing, "shape-only"),
]
GOOD = {"u4.play_matrix": play_matrix, "u4.neighbours": top_neighbours, "u4.knn_scores": knn_scores,
        "u4.als_step": als_step, "u4.paired_t": paired_t}


def _score(exercise, name, answer):
    return hidden_points(SOLUTION, exercise, name, answer, np=np, sp=sp, pd=pd, stats=stats)


@pytest.mark.parametrize("exercise, name, answer, kind", CATALOGUE,
                         ids=[f"{ex}-{kind}" for ex, _, _, kind in CATALOGUE])
def test_every_wrong_answer_loses_points(exercise, name, answer, kind):
    points, out_of = _score(exercise, name, answer)
    assert points < out_of, f"{exercise}: the {kind} answer {answer.__name__} earned all {out_of} points"


@pytest.mark.parametrize("exercise", sorted(GOOD))
def test_the_right_answers_earn_everything(exercise):
    name = next(n for ex, n, _, _ in CATALOGUE if ex == exercise)
    points, out_of = _score(exercise, name, GOOD[exercise])
    assert points == out_of, f"{exercise}: a right answer earned {points} of {out_of}"


def test_every_exercise_has_two_value_parts_and_the_whole_catalogue():
    """Each exercise has at least two hidden parts, and the catalogue tries off-by-one, loop (where
    the text forbids loops) and shape-only answers on each."""
    import nbformat

    from coursekit.grading.grade import grading_specs

    specs = {s.id: s for s in grading_specs(nbformat.read(SOLUTION, as_version=4))}
    assert set(specs) == set(GOOD)
    for exercise, spec in specs.items():
        assert len(spec.hidden.parts) >= 2, f"{exercise} has {len(spec.hidden.parts)} hidden part(s)"
        kinds = {kind for ex, _, _, kind in CATALOGUE if ex == exercise}
        assert {"off-by-one", "shape-only"} <= kinds and ("loop" in kinds or exercise == "u4.paired_t"), kinds
