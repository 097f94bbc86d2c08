"""Unit 4 exercises: the sparse play-count matrix, cosine neighbours, weighted votes, the paired t-test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from ..checks import exercise


def _rng():
    return np.random.default_rng(404)


@exercise("u4.play_matrix", title="a sparse user x artist play-count matrix",
          hint="Map ids to rows and columns with np.unique(..., return_inverse=True), then build "
               "scipy.sparse.csr_matrix((plays, (rows, cols)), shape=...); CSR sums duplicate "
               "(row, column) pairs for you.")
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


@exercise("u4.neighbours", title="the k most cosine-similar users of every user",
          hint="Divide each row by its length (skip zero rows), multiply by the transpose to get "
               "all cosines, set the diagonal to -inf, then np.argpartition(-sim, k - 1, axis=1)[:, :k] "
               "and sort only those k per row.")
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


@exercise("u4.knn_scores", title="similarity-weighted votes of the neighbours",
          hint="score[u] = sum over j of sim[u, j] * X[idx[u, j]]: build a sparse (n_users x n_users) "
               "weight matrix W with W[u, idx[u, j]] = sim[u, j] and return (W @ X) as a dense array.")
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


@exercise("u4.paired_t", title="the paired t-test from the per-user differences",
          hint="d = a - b; t = mean(d) / (std(d, ddof=1) / sqrt(n)); the two-sided p-value is "
               "2 * scipy.stats.t.sf(|t|, df=n - 1).")
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
