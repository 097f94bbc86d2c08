"""Unit-4 checks: independent answers pass, the package's versions are refused, typical mistakes fail
with a helpful message, hints come only after failures, and the hidden parts give partial credit."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from coursekit.grading.checks import FAILED, PASSED, get_exercise, run_check
from coursekit.grading.delegation import MESSAGE
from ._exercise_helpers import hidden_points

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "04_music_cf.ipynb"
EXERCISES = ["u4.play_matrix", "u4.neighbours", "u4.knn_scores", "u4.als_step", "u4.paired_t"]


# --------------------------------------------------------------------------- independent good answers

def play_matrix(df):
    users, rows = np.unique(df["user_id"].to_numpy(), return_inverse=True)
    artists, cols = np.unique(df["artist_id"].to_numpy(), return_inverse=True)
    return sp.csr_matrix((df["plays"].to_numpy(float), (rows, cols)), shape=(len(users), len(artists))), users, artists


def _cosine_matrix(x):
    """Dense cosine similarity of the rows of ``x`` (an empty row has similarity 0 to all)."""
    d = x.toarray()
    n = np.linalg.norm(d, axis=1)
    u = d / np.where(n == 0, 1, n)[:, None]
    return u @ u.T


def top_neighbours(x, k):
    s = _cosine_matrix(x)
    np.fill_diagonal(s, -np.inf)
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(s, idx, axis=1)


def knn_scores(x, idx, sim):
    return np.einsum("uj,uji->ui", sim, x.toarray()[idx])


def paired_t(a, b):
    d = np.asarray(a, float) - np.asarray(b, float)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    return t, 2 * stats.t.sf(abs(t), len(d) - 1)


def als_step(w, y, reg):
    """Written apart from the package: per-user matrices by a gather and a segment sum."""
    w = sp.csr_matrix(w)
    f = y.shape[1]
    rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    yi = y[w.indices]
    a = np.zeros((w.shape[0], f, f))
    np.add.at(a, rows, w.data[:, None, None] * yi[:, :, None] * yi[:, None, :])
    a += y.T @ y + reg * np.eye(f)
    b = np.zeros((w.shape[0], f))
    np.add.at(b, rows, (1 + w.data)[:, None] * yi)
    return np.linalg.solve(a, b[:, :, None])[:, :, 0]


GOOD = {"u4.play_matrix": play_matrix, "u4.neighbours": top_neighbours, "u4.knn_scores": knn_scores,
        "u4.als_step": als_step, "u4.paired_t": paired_t}


def test_reference_solutions_pass():
    for name, fn in GOOD.items():
        result = run_check(name, fn)
        assert result.status == PASSED, result.as_text()


def test_points_and_declarations():
    assert {e: get_exercise(e).points for e in EXERCISES} == {
        "u4.play_matrix": 4, "u4.neighbours": 4, "u4.knn_scores": 3, "u4.als_step": 4, "u4.paired_t": 3}


# --------------------------------------------------------------------------- write it yourself

def via_interactions(df):
    from coursekit.interactions import Interactions

    inter = Interactions.from_frame(df, "user_id", "artist_id", "plays")
    return inter.matrix, inter.user_ids, inter.item_ids


def via_cosine_neighbours(x, k):
    import coursekit.models.knn as knn

    w = knn.cosine_neighbours(sp.csr_matrix(x), k).toarray()
    idx = np.argsort(-w, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(w, idx, axis=1)


def via_top_k(x, k):
    from coursekit.ranking import top_k

    s = _cosine_matrix(x)
    np.fill_diagonal(s, -np.inf)
    return top_k(s, k)


def via_user_knn(x, idx, sim):
    from coursekit.models.knn import UserKNN

    model = UserKNN(k=idx.shape[1])
    return model.score(np.arange(x.shape[0]))


def via_als_solve(w, y, reg):
    from coursekit.models.mf import als_solve

    return als_solve(w, y, reg)


def via_paired_t_test(a, b):
    from coursekit.stats import paired_t_test

    r = paired_t_test(a, b)
    return r.statistic, r.p_value


def via_ttest_rel(a, b):
    r = stats.ttest_rel(a, b)
    return r.statistic, r.pvalue


def via_ttest_1samp(a, b):
    r = stats.ttest_1samp(np.asarray(a) - np.asarray(b), 0.0)
    return r.statistic, r.pvalue


@pytest.mark.parametrize("exercise, answer", [
    ("u4.play_matrix", via_interactions),
    ("u4.neighbours", via_cosine_neighbours),
    ("u4.neighbours", via_top_k),
    ("u4.knn_scores", via_user_knn),
    ("u4.als_step", via_als_solve),
    ("u4.paired_t", via_paired_t_test),
    ("u4.paired_t", via_ttest_rel),
    ("u4.paired_t", via_ttest_1samp),
])
def test_the_package_version_is_refused(exercise, answer):
    res = run_check(exercise, answer)
    assert res.status == FAILED and MESSAGE in res.message, res.as_text()
    # outside the check the package works again (later cells of the notebook use it)
    a, b = np.array([1.0, 0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0, 0.0])
    assert stats.ttest_rel(a, b).pvalue == pytest.approx(paired_t(a, b)[1])


def test_handing_over_the_package_function_is_refused():
    from coursekit.stats import paired_t_test

    res = run_check("u4.paired_t", paired_t_test)
    assert res.status == FAILED and MESSAGE in res.message


# --------------------------------------------------------------------------- hints come after failures

def test_hints_only_after_failed_attempts():
    def todo(*args):
        raise NotImplementedError()

    def one_sided(a, b):
        t, p = paired_t(a, b)
        return t, p / 2

    ex = get_exercise("u4.paired_t")
    assert run_check("u4.paired_t", todo).hint == ""
    first = run_check("u4.paired_t", one_sided)
    assert first.status == FAILED and first.hint == ex.hints[0]
    second = run_check("u4.paired_t", one_sided)
    assert second.hint == ex.hints[1] != ex.hints[0]
    assert run_check("u4.paired_t", paired_t).hint == ""
    assert "hint" not in run_check("u4.play_matrix", todo).as_text()


def test_common_mistakes_fail_with_a_message():
    def dense_matrix(df):
        m, u, a = play_matrix(df)
        return m.toarray(), u, a

    res = run_check("u4.play_matrix", dense_matrix)
    assert res.status == FAILED and "scipy.sparse" in res.message

    def keeps_last_count(df):
        d = df.drop_duplicates(["user_id", "artist_id"], keep="last")
        return play_matrix(d)

    assert run_check("u4.play_matrix", keeps_last_count).status == FAILED

    def includes_self(x, k):
        s = _cosine_matrix(x)
        idx = np.argsort(-s, axis=1)[:, :k]
        return idx, np.take_along_axis(s, idx, axis=1)

    assert "own neighbour" in run_check("u4.neighbours", includes_self).message

    def unweighted(x, idx, sim):
        return x.toarray()[idx].sum(axis=1)

    assert "without their similarities" in run_check("u4.knn_scores", unweighted).message

    def unpaired(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        t = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        return t, 2 * stats.t.sf(abs(t), 2 * len(a) - 2)

    assert "unpaired" in run_check("u4.paired_t", unpaired).message


def test_one_sided_p_value_fails():
    # the check's p-value is about 2e-9: only a relative tolerance tells a one-sided p from a two-sided one
    def one_sided(a, b):
        t, p = paired_t(a, b)
        return t, p / 2

    res = run_check("u4.paired_t", one_sided)
    assert res.status == FAILED and "two-sided" in res.message


def _uses_outside_guard(tree, names):
    """Names of ``names`` loaded in ``tree`` outside a ``try: ... except NotImplementedError`` block."""
    import ast

    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def guarded(node):
        while node in parents:
            node, child = parents[node], node
            if isinstance(node, ast.Try) and child in node.body and any(
                    "NotImplementedError" in ast.unparse(h.type) for h in node.handlers if h.type is not None):
                return True
        return False

    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names and not guarded(n)}


def test_later_cells_never_need_an_unfinished_exercise():
    """A student stuck on one exercise can run the rest: after an exercise's check cell, the
    student's function is only used inside ``try: ... except NotImplementedError``."""
    import ast
    from pathlib import Path

    import nbformat

    from coursekit.grading.release import CHECK_RE, EXERCISE_RE

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "solutions" / "04_music_cf.ipynb", 4)
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    exercises = {}
    for i, src in code:
        match = EXERCISE_RE.search(src)
        if match:
            names = {n.name for n in ast.parse(src).body if isinstance(n, ast.FunctionDef)}
            exercises[match.group(1)] = (i, names)
    assert set(exercises) == set(EXERCISES)
    for exercise, (start, names) in exercises.items():
        for i, src in code:
            if i <= start:
                continue
            check = CHECK_RE.search(src)
            if check and check.group(1) == exercise:
                continue  # the check cell may fail while the exercise is not done
            loose = _uses_outside_guard(ast.parse(src), names)
            assert not loose, f"cell {i} uses {sorted(loose)} of {exercise} without a NotImplementedError guard"


# --------------------------------------------------------------------------- hidden parts: partial credit

def _score(exercise, name, answer):
    return hidden_points(SOLUTION, exercise, name, answer, np=np, sp=sp, pd=pd, stats=stats)


def _unsorted_neighbours(x, k):  # picks the right k but leaves them in argpartition's order
    s = _cosine_matrix(x)
    np.fill_diagonal(s, -np.inf)
    idx = np.argpartition(-s, k - 1, axis=1)[:, :k][:, ::-1]
    return idx, np.take_along_axis(s, idx, axis=1)


def _with_self(x, k):
    s = _cosine_matrix(x)
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(s, idx, axis=1)


def _first_seen_order(df):  # ids in order of appearance instead of sorted
    rows, users = pd.factorize(df["user_id"])
    cols, artists = pd.factorize(df["artist_id"])
    return sp.csr_matrix((df["plays"].to_numpy(float), (rows, cols)), shape=(len(users), len(artists))), users, artists


def _last_count(df):
    return play_matrix(df.drop_duplicates(["user_id", "artist_id"], keep="last"))


def _als_without_reg(w, y, reg):
    return als_step(w, y, 0.0)


def _dense_pivot(df):  # the seed's pitfall: a dense users x artists table first
    table = df.pivot_table(index="user_id", columns="artist_id", values="plays", aggfunc="sum", fill_value=0)
    return sp.csr_matrix(table.to_numpy(float)), table.index.to_numpy(), table.columns.to_numpy()


@pytest.mark.parametrize("exercise, name, answer, expected", [
    ("u4.play_matrix", "play_matrix", play_matrix, 4),
    ("u4.play_matrix", "play_matrix", _first_seen_order, 2),  # fails the check and the sorted text ids
    ("u4.play_matrix", "play_matrix", lambda df: (play_matrix(df)[0].toarray(),) + play_matrix(df)[1:], 1),
    ("u4.play_matrix", "play_matrix", _dense_pivot, 3),  # right numbers, a dense table on the way
    ("u4.play_matrix", "play_matrix", _last_count, 1),
    ("u4.neighbours", "top_neighbours", top_neighbours, 4),
    ("u4.neighbours", "top_neighbours", _unsorted_neighbours, 2),
    ("u4.neighbours", "top_neighbours", _with_self, 1),
    ("u4.knn_scores", "knn_scores", knn_scores, 3),
    ("u4.knn_scores", "knn_scores", lambda x, idx, sim: x.toarray()[idx].sum(axis=1), 1),
    ("u4.als_step", "als_step", als_step, 4),
    ("u4.als_step", "als_step", _als_without_reg, 1),
    ("u4.paired_t", "paired_t", paired_t, 3),
    ("u4.paired_t", "paired_t", lambda a, b: (paired_t(a, b)[0], paired_t(a, b)[1] / 2), 1),
    ("u4.paired_t", "paired_t", lambda a, b: stats.ttest_rel(a, b)[:2], 0),
])
def test_partial_credit_for_partly_right_answers(exercise, name, answer, expected):
    points, out_of = _score(exercise, name, answer)
    assert points == expected, f"{exercise}: {points} of {out_of}, expected {expected}"
