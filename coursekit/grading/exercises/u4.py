"""Unit 4 exercises: the sparse play-count matrix, cosine neighbours, weighted votes, the paired t-test.

Each exercise re-implements part of the package, which the rest of the notebook uses: the matrix
of :class:`coursekit.interactions.Interactions`, the neighbour search of
:func:`coursekit.models.knn.cosine_neighbours`, the votes of :class:`coursekit.models.knn.UserKNN`
and :func:`coursekit.stats.paired_t_test` (with scipy's ``ttest_rel``, which it wraps). Those are
the ``delegates``: calling them inside the exercise fails with "write it yourself". Expected values
are computed here with plain NumPy (or scipy for the t-test), never with the student's code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from ..checks import exercise


def _rng():
    return np.random.default_rng(404)


@exercise("u4.play_matrix", title="a sparse user x artist play-count matrix", points=2,
          hints=("Every user id needs a row number and every artist id a column number, in sorted id "
                 "order, without a loop. And what should happen when one (user, artist) pair appears "
                 "in several rows of the table?",
                 "np.unique can also tell you where each row's id sits among the sorted unique ids "
                 "(read about its return_inverse option). A scipy.sparse CSR matrix can be built "
                 "from values with their (row, column) coordinates, and it adds up values that share "
                 "a coordinate."),
          delegates=("coursekit.interactions.Interactions",))
def check_play_matrix(play_matrix):
    rng = _rng()
    df = pd.DataFrame({
        "user_id": rng.choice([7, 3, 11, 42, 5], size=60),
        "artist_id": rng.choice(np.arange(100, 140, 3), size=60),
        "plays": rng.integers(1, 9, size=60),
    })
    got = play_matrix(df)
    assert isinstance(got, tuple) and len(got) == 3, "return (matrix, user_ids, artist_ids)"
    m, users, artists = got
    assert sp.issparse(m), f"the matrix should be a scipy.sparse matrix, got {type(m).__name__}"
    users, artists = np.asarray(users), np.asarray(artists)
    exp_users, exp_artists = np.unique(df["user_id"]), np.unique(df["artist_id"])
    assert np.array_equal(users, exp_users), f"user ids should be sorted unique ids {exp_users.tolist()}"
    assert np.array_equal(artists, exp_artists), "artist ids should be the sorted unique artist ids"
    assert m.shape == (len(exp_users), len(exp_artists)), f"expected shape {(len(exp_users), len(exp_artists))}, got {m.shape}"
    dense = np.zeros(m.shape)
    np.add.at(dense, (np.searchsorted(exp_users, df["user_id"]), np.searchsorted(exp_artists, df["artist_id"])),
              df["plays"])
    assert np.allclose(m.toarray(), dense), "entries should be the summed plays of each (user, artist) pair"


def _small_counts(seed=0):
    rng = np.random.default_rng(seed)
    dense = (rng.random((30, 25)) < 0.25) * rng.gamma(2.0, 2.0, (30, 25))
    dense[4] = 0.0  # a user with no plays left after the hold-out
    return sp.csr_matrix(dense)


@exercise("u4.neighbours", title="the k most cosine-similar users of every user", points=3,
          hints=("A cosine is the dot product of two rows scaled to length 1, so one matrix product "
                 "gives every pair at once. Which entry of each row must never be picked, and what "
                 "should a user without plays get instead of a division by zero?",
                 "Scale the rows with a sparse diagonal matrix of inverse lengths (0 where a length is "
                 "0), multiply by the transpose, push the diagonal below every cosine (minus "
                 "infinity), let np.argpartition pick k columns per row, then sort just those k "
                 "(np.take_along_axis reads values at the picked columns)."),
          delegates=("coursekit.models.knn.cosine_neighbours", "coursekit.models.knn.sparse_top_k",
                     "coursekit.ranking.top_k"))
def check_neighbours(top_neighbours):
    x = _small_counts()
    for k in (1, 5):
        got = top_neighbours(x, k)
        assert isinstance(got, tuple) and len(got) == 2, "return (indices, similarities)"
        idx, sim = (np.asarray(a) for a in got)
        assert idx.shape == (30, k) and sim.shape == (30, k), f"expected two arrays of shape (30, {k})"
        d = x.toarray()
        norms = np.linalg.norm(d, axis=1)
        unit = d / np.where(norms == 0, 1, norms)[:, None]
        full = unit @ unit.T
        np.fill_diagonal(full, -np.inf)
        assert not (idx == np.arange(30)[:, None]).any(), "a user must not be their own neighbour"
        expected_sim = -np.sort(-full, axis=1)[:, :k]
        assert np.allclose(sim, expected_sim, atol=1e-6), "similarities should be the k largest cosines, best first"
        assert np.allclose(np.take_along_axis(full, idx, axis=1), sim, atol=1e-6), \
            "indices and similarities do not match: sim[u, j] should be cos(u, idx[u, j])"


@exercise("u4.knn_scores", title="similarity-weighted votes of the neighbours", points=2,
          hints=("Each user's score row is a weighted sum of other users' rows of the play matrix. "
                 "Which single matrix product computes weighted sums of rows, and what goes in the "
                 "left-hand matrix?",
                 "Build a sparse users x users weight matrix holding sim[u, j] in row u, column "
                 "idx[u, j] (np.repeat gives the row number of every entry of idx), multiply it with "
                 "the play matrix and return the product as a dense array."),
          delegates=("coursekit.models.knn.UserKNN",))
def check_knn_scores(knn_scores):
    x = _small_counts(1)
    rng = _rng()
    idx = np.argsort(rng.random((30, 30)), axis=1)[:, :4]
    sim = rng.random((30, 4))
    res = knn_scores(x, idx, sim)
    got = np.asarray(res.toarray() if sp.issparse(res) else res, dtype=float)
    assert got.shape == x.shape, f"expected shape {x.shape}, got {got.shape}"
    d = x.toarray()
    expected = np.einsum("uj,uji->ui", sim, d[idx])
    unweighted = d[idx].sum(axis=1)
    if np.allclose(got, unweighted):
        raise AssertionError("the neighbours' rows were summed without their similarities: weight each row by sim")
    assert np.allclose(got, expected, atol=1e-6), "score[u, i] should be sum_j sim[u, j] * X[idx[u, j], i]"


@exercise("u4.paired_t", title="the paired t-test from the per-user differences", points=2,
          hints=("Work with one number per user, the difference of the two scores. t compares their "
                 "mean with the standard error of that mean; how many degrees of freedom do n "
                 "differences leave, and does 'two-sided' count one tail or both?",
                 "The standard error is the sample standard deviation (ddof=1, not numpy's default) "
                 "over the square root of n. stats.t.sf gives the upper tail of Student's t beyond "
                 "a value: take it beyond the absolute value of t and count both tails."),
          delegates=("coursekit.stats.paired_t_test", "scipy.stats.ttest_rel", "scipy.stats.ttest_1samp"))
def check_paired_t(paired_t):
    rng = _rng()
    base = rng.random(300) < 0.3
    a = (base | (rng.random(300) < 0.08)).astype(float)
    b = (base & (rng.random(300) < 0.9)).astype(float)
    got = paired_t(a, b)
    assert isinstance(got, tuple) and len(got) == 2, "return (t, p_value)"
    ref = stats.ttest_rel(a, b)
    assert np.isclose(got[0], ref.statistic, rtol=1e-6), \
        f"t should be {ref.statistic:.4f}, got {got[0]:.4f} (did you use the unpaired formula or ddof=0?)"
    # p is about 2e-9 here: a relative tolerance only (np.isclose's default atol=1e-8 would let a
    # one-sided p, half the right value, pass)
    assert np.isclose(got[1], ref.pvalue, rtol=1e-6, atol=0.0), \
        f"p should be {ref.pvalue:.3g}, got {got[1]:.3g} (two-sided: twice the tail beyond |t|)"
