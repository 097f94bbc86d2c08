import numpy as np
import scipy.sparse as sp

from coursekit.ranking import mask_items, top_k


def test_top_k_matches_full_sort():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(50, 300))
    idx, vals = top_k(s, 7)
    expected = np.argsort(-s, axis=1)[:, :7]
    assert np.array_equal(idx, expected)
    assert np.allclose(vals, np.take_along_axis(s, expected, 1))


def test_masked_items_never_returned_and_padding():
    s = np.array([[0.5, 0.1, 0.9, 0.3]])
    masked = mask_items(s, sp.csr_matrix(np.array([[0, 0, 1, 0]])))
    idx, _ = top_k(masked, 3)
    assert idx.tolist() == [[0, 3, 1]]
    idx, vals = top_k(mask_items(s, np.array([[1, 1, 1, 0]], bool)), 3)
    assert idx.tolist() == [[3, -1, -1]] and np.isneginf(vals[0, 1:]).all()


def test_tie_break_orders_ties_without_changing_real_order():
    s = np.array([[0.0, 0.0, 0.0, 1.0, 0.0]])
    pop = np.array([0.1, 0.9, 0.5, 0.0, 0.3])
    idx, _ = top_k(s, 4, tie_break=pop)
    assert idx.tolist() == [[3, 1, 2, 4]]


# ---------------------------------------------------------------- MMR re-ranking

import pytest  # noqa: E402

from coursekit.ranking import mmr  # noqa: E402


def ref_mmr(scores, feats, k, lam):
    """Carbonell & Goldstein's greedy loop, one user and one candidate at a time."""
    norms = np.linalg.norm(feats, axis=1)

    def sim(i, j):
        if norms[i] == 0 or norms[j] == 0:
            return 0.0
        return float(sum(a * b for a, b in zip(feats[i], feats[j]))) / (norms[i] * norms[j])

    out = []
    for row in scores:
        picked, avail = [], [i for i in range(len(row)) if row[i] > -np.inf]
        while avail and len(picked) < k:
            def key(i):
                penalty = max(sim(i, j) for j in picked) if picked else 0.0
                return (lam * row[i] - (1 - lam) * penalty, row[i], -i)  # ties: relevance, then index
            best = max(avail, key=key)
            picked.append(best)
            avail.remove(best)
        out.append(picked + [-1] * (k - len(picked)))
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [0.0, 0.3, 0.7, 1.0])
def test_mmr_matches_slow_greedy_reference(seed, lam):
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 9, 25, 6
    s = rng.normal(size=(n_users, n_items))
    s[rng.random(s.shape) < 0.2] = -np.inf  # masked items are never picked
    s[0, 4:] = -np.inf  # a user with only 4 candidates: padded with -1
    feats = rng.normal(size=(n_items, 4))
    feats[7] = 0.0
    idx, vals = mmr(s, feats, k, lam)
    expected = ref_mmr(s, feats, k, lam)
    assert np.array_equal(idx, expected)
    assert idx[0, 4:].tolist() == [-1, -1] and np.isneginf(vals[0, 4:]).all()
    ok = idx >= 0
    assert np.array_equal(vals[ok], s[np.nonzero(ok)[0], idx[ok]])
    # one user per block gives the same lists
    assert np.array_equal(mmr(s, feats, k, lam, block_elems=1)[0], expected)


def test_mmr_lambda_one_is_plain_top_k():
    rng = np.random.default_rng(5)
    s = rng.normal(size=(40, 200))
    feats = rng.normal(size=(200, 8)).astype(np.float32)
    assert np.array_equal(mmr(s, feats, 10, 1.0)[0], top_k(s, 10)[0])
    # with ties: the lower item index first, like a stable sort
    t = rng.integers(0, 3, size=(40, 200)).astype(float)
    assert np.array_equal(mmr(t, feats, 10, 1.0)[0], np.argsort(-t, axis=1, kind="stable")[:, :10])


def test_mmr_pool_matches_reference_on_the_pool():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 12, size=(15, 60)).astype(float)  # many ties, also at the pool boundary
    feats = rng.normal(size=(60, 5))
    pool = 12
    idx, _ = mmr(s, feats, 5, 0.5, pool=pool)
    # the pool: the 12 best, ties broken towards the lower index; outside it scores are -inf
    order = np.argsort(-s, axis=1, kind="stable")[:, :pool]
    pooled = np.full_like(s, -np.inf)
    np.put_along_axis(pooled, order, np.take_along_axis(s, order, 1), 1)
    assert np.array_equal(idx, ref_mmr(pooled, feats, 5, 0.5))
    assert np.array_equal(mmr(s, feats, 5, 0.5, pool=pool, block_elems=1)[0], idx)


def test_mmr_hand_case_trades_relevance_for_diversity():
    # items 0 and 1 point the same way, item 2 is orthogonal to both
    feats = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    s = np.array([[0.9, 0.8, 0.5]])
    assert mmr(s, feats, 2, 1.0)[0].tolist() == [[0, 1]]
    # lambda 0.5: item 1 scores 0.4 - 0.5 = -0.1, item 2 scores 0.25 - 0 = 0.25
    assert mmr(s, feats, 2, 0.5)[0].tolist() == [[0, 2]]
    # lambda 0 on orthogonal items: every objective ties at 0, so relevance orders the picks
    feats = np.eye(3)
    assert mmr(np.array([[0.2, 1.0, 0.7]]), feats, 3, 0.0)[0].tolist() == [[1, 2, 0]]
    # equal objective and equal relevance: the lower item index first
    assert mmr(np.array([[1.0, 0.5, 0.5]]), feats, 3, 0.5)[0].tolist() == [[0, 1, 2]]


def test_mmr_rejects_bad_input():
    with pytest.raises(ValueError, match="lambda_"):
        mmr(np.zeros((1, 3)), np.eye(3), 2, 1.5)
    with pytest.raises(ValueError, match="NaN"):
        mmr(np.array([[np.nan, 0, 0]]), np.eye(3), 2)
    with pytest.raises(ValueError, match="item_features"):
        mmr(np.zeros((1, 3)), np.eye(4), 2)
