"""Unit 4 exercises: the sparse play-count matrix, cosine neighbours, weighted votes, an ALS step,
the paired t-test.

Each exercise re-implements part of the package, which the rest of the notebook uses: the matrix
of :class:`coursekit.interactions.Interactions`, the neighbour search of
:func:`coursekit.models.knn.cosine_neighbours`, the votes of :class:`coursekit.models.knn.UserKNN`,
the half-step of :func:`coursekit.models.mf.als_solve` and :func:`coursekit.stats.paired_t_test`
(with scipy's ``ttest_rel``, which it wraps). Those are the ``delegates``: calling them inside the
exercise fails with "write it yourself". Expected values are computed here with plain NumPy (or
scipy for the t-test), never with the student's code.

The texts of the exercises forbid Python loops (and, for the play matrix, a dense matrix): the
visible checks read the student's function for loops
(:func:`coursekit.grading.enforce.python_loops`) and the hidden parts also measure memory, so an answer that builds the matrix with ``iterrows`` or a
dense ``pivot_table`` loses points even though its numbers are right.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from ..checks import exercise
from ..enforce import assert_no_python_loop

def _rng():
    return np.random.default_rng(404)


def big_play_table(n_users: int = 6000, n_artists: int = 5000, n_rows: int = 30000, seed: int = 7) -> pd.DataFrame:
    """A play table whose dense user x artist matrix would take n_users x n_artists x 8 bytes (240
    MB here) while a sparse one needs well under 1 MB: every user and artist appears."""
    rng = np.random.default_rng(seed)
    users = np.concatenate([np.arange(n_users), rng.integers(0, n_users, n_rows - n_users)])
    artists = np.concatenate([np.arange(n_artists), rng.integers(0, n_artists, n_rows - n_artists)])
    return pd.DataFrame({"user_id": users * 3 + 1, "artist_id": rng.permutation(artists) * 7 + 2,
                         "plays": rng.integers(1, 50, n_rows)})


@exercise("u4.play_matrix", title="a sparse user x artist play-count matrix", points=4,
          hints=("Every user id needs a row number and every artist id a column number, in sorted id "
                 "order, without a loop. And what should happen when one (user, artist) pair appears "
                 "in several rows of the table?",
                 "Look up the return_inverse option of np.unique: it gives every row of the table the "
                 "position of its id among the sorted unique ids. A sparse matrix built from (value, "
                 "(row, column)) triples adds up the values that share a coordinate."),
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
    assert_no_python_loop(play_matrix, "the rows of the table")


def _small_counts(seed=0):
    rng = np.random.default_rng(seed)
    dense = (rng.random((30, 25)) < 0.25) * rng.gamma(2.0, 2.0, (30, 25))
    dense[4] = 0.0  # a user with no plays left after the hold-out
    return sp.csr_matrix(dense)


def cosine_reference(x) -> np.ndarray:
    """Dense cosine similarity of the rows of ``x`` with a loop-free NumPy formula (0 for empty rows)."""
    d = np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)
    norms = np.linalg.norm(d, axis=1)
    unit = d / np.where(norms == 0, 1, norms)[:, None]
    return unit @ unit.T


@exercise("u4.neighbours", title="the k most cosine-similar users of every user", points=4,
          hints=("A cosine is the dot product of two rows scaled to length 1, so one matrix product "
                 "gives every pair at once. Which entry of each row must never be picked, and what "
                 "should a user without plays get instead of a division by zero?",
                 "Look up np.argpartition: it finds the k largest entries of every row without sorting "
                 "the whole row, but leaves those k in no particular order, and the exercise asks for "
                 "the most similar first."),
          delegates=("coursekit.models.knn.cosine_neighbours", "coursekit.models.knn.sparse_top_k",
                     "coursekit.ranking.top_k"))
def check_neighbours(top_neighbours):
    x = _small_counts()
    for k in (1, 5):
        got = top_neighbours(x, k)
        assert isinstance(got, tuple) and len(got) == 2, "return (indices, similarities)"
        idx, sim = (np.asarray(a) for a in got)
        assert idx.shape == (30, k) and sim.shape == (30, k), f"expected two arrays of shape (30, {k})"
        full = cosine_reference(x)
        np.fill_diagonal(full, -np.inf)
        assert not (idx == np.arange(30)[:, None]).any(), "a user must not be their own neighbour"
        expected_sim = -np.sort(-full, axis=1)[:, :k]
        assert np.allclose(sim, expected_sim, atol=1e-6), "similarities should be the k largest cosines, best first"
        assert np.allclose(np.take_along_axis(full, idx, axis=1), sim, atol=1e-6), \
            "indices and similarities do not match: sim[u, j] should be cos(u, idx[u, j])"
    assert_no_python_loop(top_neighbours, "users")


@exercise("u4.knn_scores", title="similarity-weighted votes of the neighbours", points=3,
          hints=("Each user's score row is a weighted sum of other users' rows of the play matrix. "
                 "Which single matrix product computes weighted sums of rows, and what goes in the "
                 "left-hand matrix?",
                 "The left-hand matrix is users x users and almost empty: row u holds the similarity "
                 "sim[u, j] in the column of its neighbour idx[u, j] and zeros elsewhere. scipy.sparse "
                 "builds such a matrix from its non-zero values and their coordinates."),
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
    assert_no_python_loop(knn_scores, "users or neighbours")


def als_reference(weights, other, reg) -> np.ndarray:
    """The ALS user step solved user by user from the normal equations (a loop: the reference)."""
    w = sp.csr_matrix(weights, dtype=np.float64)
    y = np.asarray(other, dtype=np.float64)
    f = y.shape[1]
    out = np.zeros((w.shape[0], f))
    for u in range(w.shape[0]):
        cols, conf = w.indices[w.indptr[u]:w.indptr[u + 1]], w.data[w.indptr[u]:w.indptr[u + 1]]
        a = y.T @ y + (y[cols].T * conf) @ y[cols] + reg * np.eye(f)
        out[u] = np.linalg.solve(a, ((1 + conf)[:, None] * y[cols]).sum(axis=0))
    return out


def als_inputs(n_users: int = 40, n_items: int = 30, f: int = 4, seed: int = 0):
    """A small confidence matrix (c - 1 = 2 log(1 + plays) on played pairs; user 3 played nothing)
    and item factors."""
    rng = np.random.default_rng(seed)
    plays = (rng.random((n_users, n_items)) < 0.2) * rng.integers(1, 60, (n_users, n_items))
    plays[3] = 0
    w = sp.csr_matrix(2.0 * np.log1p(plays))
    return w, rng.normal(0, 0.5, (n_items, f))


@exercise("u4.als_step", title="one ALS step: every user's vector from the artists' vectors", points=4,
          hints=("Each user's vector solves its own small linear system (the normal equations above). "
                 "Which part of the matrix is the same for every user, and which part comes only from "
                 "the artists that user played?",
                 "np.linalg.solve solves a whole stack of systems at once when it gets an array of "
                 "shape (n_users, f, f) and one of shape (n_users, f, 1). The per-user sums over played "
                 "artists are sums of weighted outer products y_i y_i^T: a sparse matrix product can add "
                 "them up for all users together."),
          delegates=("coursekit.models.mf.als_solve", "coursekit.models.mf.als_cg", "coursekit.models.mf.ImplicitALS",
                     "coursekit.models.mf.ImplicitLibraryALS"))
def check_als_step(als_step):
    w, y = als_inputs()
    got = als_step(w, y, 0.5)
    got = np.asarray(got.toarray() if sp.issparse(got) else got, dtype=float)
    assert got.shape == (w.shape[0], y.shape[1]), f"expected one row of {y.shape[1]} factors per user, got {got.shape}"
    expected = als_reference(w, y, 0.5)
    without_reg = als_reference(w, y, 0.0)
    if np.allclose(got, without_reg, atol=1e-6) and not np.allclose(expected, without_reg, atol=1e-6):
        raise AssertionError("the regularisation is missing: add reg times the identity to every user's matrix")
    assert np.allclose(got, expected, atol=1e-6), \
        "x_u should solve (Y'Y + Y'(C_u - I)Y + reg I) x_u = Y'C_u p_u for every user u"
    assert_no_python_loop(als_step, "users")


@exercise("u4.paired_t", title="the paired t-test from the per-user differences", points=3,
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
