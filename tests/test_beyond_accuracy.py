"""Beyond-accuracy metrics (coverage, diversity, novelty, popularity, Gini) against slow references."""

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from coursekit import metrics as M

# ---------------------------------------------------------------- slow, obviously-correct references


def valid_items(row):
    return [int(i) for i in row if i >= 0]


def ref_coverage(rec, n_items):
    return len({i for row in rec for i in valid_items(row)}) / n_items


def ref_ild(rec, feats, metric="cosine"):
    out = []
    for row in rec:
        items = valid_items(row)
        dists = []
        for a, b in itertools.combinations(range(len(items)), 2):
            x, y = feats[items[a]], feats[items[b]]
            if metric == "cosine":
                nx, ny = math.sqrt(sum(v * v for v in x)), math.sqrt(sum(v * v for v in y))
                cos = 0.0 if nx == 0 or ny == 0 else sum(p * q for p, q in zip(x, y)) / (nx * ny)
                dists.append(1 - cos)
            else:
                dists.append(math.sqrt(sum((p - q) ** 2 for p, q in zip(x, y))))
        out.append(sum(dists) / len(dists) if dists else float("nan"))
    return np.array(out)


def ref_novelty(rec, counts, smoothing=1.0):
    total = sum(counts) + smoothing * len(counts)
    out = []
    for row in rec:
        items = valid_items(row)
        info = [-math.log2((counts[i] + smoothing) / total) for i in items]
        out.append(sum(info) / len(info) if info else float("nan"))
    return np.array(out)


def ref_mean_pop(rec, counts):
    out = []
    for row in rec:
        items = valid_items(row)
        out.append(sum(counts[i] for i in items) / len(items) if items else float("nan"))
    return np.array(out)


def ref_lift(rec, hist, counts):
    out = []
    for row, h in zip(rec, hist):
        items = valid_items(row)
        if not items or not h:
            out.append(float("nan"))
            continue
        r = sum(counts[i] for i in items) / len(items)
        p = sum(counts[i] for i in h) / len(h)
        out.append((r - p) / p if p > 0 else float("nan"))
    return np.array(out)


def ref_gini(values):
    # mean absolute difference over all ordered pairs / (2 * mean): the textbook definition
    n = len(values)
    mean = sum(values) / n
    if mean == 0:
        return float("nan")
    return sum(abs(a - b) for a in values for b in values) / (2 * n * n * mean)


# ---------------------------------------------------------------- random cases


@pytest.fixture(params=range(6))
def case(request):
    rng = np.random.default_rng(request.param)
    n_users, n_items, d = 17, 30, 5
    rec = np.array([rng.permutation(n_items)[:10] for _ in range(n_users)])
    # short lists: pad some rows with -1, one row with a single item, one empty
    cut = rng.integers(0, 11, size=n_users)
    cut[0], cut[1] = 1, 0
    rec[np.arange(10)[None, :] >= cut[:, None]] = -1
    feats = rng.normal(size=(n_items, d))
    feats[3] = 0.0  # a zero vector
    counts = rng.integers(0, 6, size=n_items).astype(float)
    counts[[0, 5]] = 0  # items nobody interacted with
    hist = [sorted(rng.choice(n_items, size=rng.integers(0, 6), replace=False).tolist()) for _ in range(n_users)]
    return rec, feats, counts, hist, n_items


def test_coverage_and_gini_match_reference(case):
    rec, _, _, _, n_items = case
    for k in (1, 5, 10):
        assert M.catalog_coverage(rec, n_items, k) == pytest.approx(ref_coverage(rec[:, :k], n_items))
        exposure = [sum(1 for row in rec[:, :k] for i in row if i == j) for j in range(n_items)]
        assert M.item_exposure(rec, n_items, k).tolist() == exposure
        assert M.gini(rec, n_items, k) == pytest.approx(ref_gini(exposure))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ild_matches_reference(case, metric):
    rec, feats, _, _, _ = case
    got = M.intra_list_diversity(rec, feats, 10, metric=metric)
    np.testing.assert_allclose(got, ref_ild(rec, feats.tolist(), metric), rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isnan(got[0]) and np.isnan(got[1])  # one item: no pair; empty list
    # tiny blocks give the same answer (the blocking is only about memory)
    np.testing.assert_allclose(M.intra_list_diversity(rec, feats, 10, metric=metric, block_elems=1), got,
                               equal_nan=True)


def test_novelty_popularity_and_lift_match_reference(case):
    rec, _, counts, hist, n_items = case
    for smoothing in (1.0, 0.5):
        np.testing.assert_allclose(M.novelty(rec, counts, 10, smoothing=smoothing),
                                   ref_novelty(rec, counts.tolist(), smoothing), equal_nan=True)
    np.testing.assert_allclose(M.mean_popularity(rec, counts, 10), ref_mean_pop(rec, counts.tolist()),
                               equal_nan=True)
    np.testing.assert_allclose(M.popularity_lift(rec, hist, counts, 10), ref_lift(rec, hist, counts.tolist()),
                               equal_nan=True)
    dense = np.zeros((len(hist), n_items), bool)
    for u, h in enumerate(hist):
        dense[u, h] = True
    np.testing.assert_allclose(M.popularity_lift(rec, sp.csr_matrix(dense), counts, 10),
                               M.popularity_lift(rec, hist, counts, 10), equal_nan=True)


def test_item_popularity_counts_users_once():
    hist = sp.csr_matrix(np.array([[2, 0, 1], [1, 0, 0], [0, 0, 5]]))
    assert M.item_popularity(hist).tolist() == [2.0, 0.0, 2.0]
    assert M.item_popularity([[0], [0, 2]], n_items=4).tolist() == [2.0, 0.0, 1.0, 0.0]


# ---------------------------------------------------------------- hand-computed cases


def test_coverage_hand_cases():
    full = np.array([[0, 1], [2, 3]])
    assert M.catalog_coverage(full, 4) == 1.0  # every item recommended to someone
    assert M.catalog_coverage(full, 8) == 0.5
    assert M.catalog_coverage(np.array([[1, 1], [1, -1]]), 4) == 0.25
    assert M.catalog_coverage(full, 4, k=1) == 0.5
    with pytest.raises(ValueError, match="catalogue has 3 items"):
        M.catalog_coverage(full, 3)


def test_ild_hand_cases():
    feats = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    # orthogonal: 1; opposite: 2; same direction (different length): 0; zero vector: 1
    got = M.intra_list_diversity(np.array([[0, 1], [0, 2], [0, 3], [0, 4], [2, -1]]), feats)
    np.testing.assert_allclose(got[:4], [1.0, 2.0, 0.0, 1.0])
    assert np.isnan(got[4])  # a list of one item has no pair
    # three items: pairs (0,1)=1, (0,2)=2, (1,2)=1 -> 4/3
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), feats)[0] == pytest.approx(4 / 3)
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), feats, k=2)[0] == pytest.approx(1.0)
    assert M.intra_list_diversity(np.array([[0, 3]]), feats, metric="euclidean")[0] == pytest.approx(1.0)


def test_novelty_hand_cases():
    counts = np.array([3.0, 1.0, 0.0, 0.0])  # 4 interactions over 4 items
    # Laplace smoothing: shares (4, 2, 1, 1) / 8 -> self-information 1, 2, 3, 3 bits
    np.testing.assert_allclose(M.popularity_share(counts), [0.5, 0.25, 0.125, 0.125])
    np.testing.assert_allclose(M.novelty(np.array([[0, -1], [0, 1], [2, 3]]), counts), [1.0, 1.5, 3.0])
    # no smoothing: shares 3/4, 1/4, 0, 0; unseen items have infinite self-information
    got = M.novelty(np.array([[1], [2]]), counts, smoothing=0)
    assert got[0] == pytest.approx(2.0) and np.isposinf(got[1])
    assert np.isnan(M.novelty(np.array([[-1, -1]]), counts)[0])


def test_popularity_hand_cases():
    counts = np.array([10.0, 2.0, 4.0, 0.0])
    rec = np.array([[0, 2], [1, 3]])
    np.testing.assert_allclose(M.mean_popularity(rec, counts), [7.0, 1.0])
    # user 0 consumed item 1 (pop 2): lift (7 - 2) / 2; user 1 consumed items 0 and 2 (mean 7)
    np.testing.assert_allclose(M.popularity_lift(rec, [[1], [0, 2]], counts), [2.5, (1 - 7) / 7])
    # an empty history or one of zero popularity: NaN
    assert np.isnan(M.popularity_lift(rec, [[], [3]], counts)).all()


def test_gini_hand_cases():
    assert M.gini_coefficient([5, 5, 5, 5]) == 0.0  # all tied: perfect equality
    assert M.gini_coefficient([0, 0, 0, 8]) == pytest.approx(3 / 4)  # one item takes everything
    assert M.gini_coefficient([1, 3]) == pytest.approx(0.25)
    assert np.isnan(M.gini_coefficient([0, 0]))
    # exposure over the catalogue: items 0 and 1 twice each, items 2 and 3 never
    assert M.gini(np.array([[0, 1], [1, 0]]), 4) == pytest.approx(0.5)
    assert M.gini(np.array([[0, 1], [2, 3]]), 4) == 0.0
    with pytest.raises(ValueError):
        M.gini_coefficient([1, -1])


def test_beyond_accuracy_summary():
    rec = np.array([[0, 1], [2, -1]])
    hist = [[0], [0, 3]]
    feats = np.eye(4)
    out = M.beyond_accuracy(rec, 4, (1, 2), history=hist, item_features=feats)
    assert out["coverage@2"] == 0.75 and out["coverage@1"] == 0.5
    pop = M.item_popularity(hist, 4)  # [2, 0, 0, 1]
    assert out["mean_popularity@2"] == pytest.approx(np.mean([1.0, 0.0]))
    assert out["novelty@2"] == pytest.approx(np.nanmean(M.novelty(rec, pop, 2)))
    assert out["ild@2"] == pytest.approx(1.0)  # user 0: orthogonal pair; user 1: one item (NaN)
    assert set(out) >= {"gini@2", "popularity_lift@2"}
    assert set(M.beyond_accuracy(rec, 4)) == {"coverage@10", "gini@10"}
