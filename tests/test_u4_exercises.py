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
