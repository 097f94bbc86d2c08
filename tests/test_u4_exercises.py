"""Unit-4 checks: the model solutions pass, typical mistakes fail with a helpful message."""

import numpy as np
import scipy.sparse as sp
from scipy import stats

from coursekit.grading.checks import FAILED, NOT_ATTEMPTED, PASSED, run_check


def play_matrix(df):
    users, rows = np.unique(df["user_id"].to_numpy(), return_inverse=True)
    artists, cols = np.unique(df["artist_id"].to_numpy(), return_inverse=True)
    return sp.csr_matrix((df["plays"].to_numpy(float), (rows, cols)), shape=(len(users), len(artists))), users, artists


def top_neighbours(x, k):
    d = x.toarray()
    n = np.linalg.norm(d, axis=1)
    u = d / np.where(n == 0, 1, n)[:, None]
    s = u @ u.T
    np.fill_diagonal(s, -np.inf)
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(s, idx, axis=1)


def knn_scores(x, idx, sim):
    return np.einsum("uj,uji->ui", sim, x.toarray()[idx])


def paired_t(a, b):
    r = stats.ttest_rel(a, b)
    return r.statistic, r.pvalue


def test_reference_solutions_pass():
    for name, fn in [("u4.play_matrix", play_matrix), ("u4.neighbours", top_neighbours),
                     ("u4.knn_scores", knn_scores), ("u4.paired_t", paired_t)]:
        result = run_check(name, fn)
        assert result.status == PASSED, result.as_text()


def test_not_attempted():
    def todo(*args):
        raise NotImplementedError()

    assert run_check("u4.paired_t", todo).status == NOT_ATTEMPTED


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
        d = x.toarray()
        n = np.linalg.norm(d, axis=1)
        u = d / np.where(n == 0, 1, n)[:, None]
        s = u @ u.T
        idx = np.argsort(-s, axis=1)[:, :k]
        return idx, np.take_along_axis(s, idx, axis=1)

    assert "own neighbour" in run_check("u4.neighbours", includes_self).message

    def unweighted(x, idx, sim):
        return x.toarray()[idx].sum(axis=1)

    assert "without their similarities" in run_check("u4.knn_scores", unweighted).message

    def unpaired(a, b):
        r = stats.ttest_ind(a, b)
        return r.statistic, r.pvalue

    assert "unpaired" in run_check("u4.paired_t", unpaired).message


def test_one_sided_p_value_fails():
    # the check's p-value is about 2e-9: only a relative tolerance tells a one-sided p from a two-sided one
    def one_sided(a, b):
        r = stats.ttest_rel(a, b)
        return r.statistic, r.pvalue / 2

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
    assert set(exercises) == {"u4.play_matrix", "u4.neighbours", "u4.knn_scores", "u4.paired_t"}
    for exercise, (start, names) in exercises.items():
        for i, src in code:
            if i <= start:
                continue
            check = CHECK_RE.search(src)
            if check and check.group(1) == exercise:
                continue  # the check cell may fail while the exercise is not done
            loose = _uses_outside_guard(ast.parse(src), names)
            assert not loose, f"cell {i} uses {sorted(loose)} of {exercise} without a NotImplementedError guard"
