"""Metrics cross-checked against slow, obviously-correct reference implementations."""

import numpy as np
import pytest
import scipy.sparse as sp

from coursekit import metrics as M


def ref_precision(rec, rel, k):
    return sum(1 for i in rec[:k] if i in rel) / k


def ref_recall(rec, rel, k):
    return sum(1 for i in rec[:k] if i in rel) / len(rel) if rel else np.nan


def ref_ndcg(rec, rel, k):
    if not rel:
        return np.nan
    dcg = sum(1 / np.log2(r + 2) for r, i in enumerate(rec[:k]) if i in rel)
    idcg = sum(1 / np.log2(r + 2) for r in range(min(len(rel), k)))
    return dcg / idcg


def ref_hr(rec, rel, k):
    return float(any(i in rel for i in rec[:k]))


def ref_mrr(rec, rel, k):
    for r, i in enumerate(rec[:k]):
        if i in rel:
            return 1 / (r + 1)
    return 0.0


def ref_auc(scores, rel, cand):
    pos = [s for i, s in enumerate(scores) if cand[i] and i in rel]
    neg = [s for i, s in enumerate(scores) if cand[i] and i not in rel]
    if not pos or not neg:
        return np.nan
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.fixture(params=range(8))
def case(request):
    rng = np.random.default_rng(request.param)
    n_users, n_items = 13, 40
    rec = np.array([rng.permutation(n_items)[:12] for _ in range(n_users)])
    rel = [set(rng.choice(n_items, size=rng.integers(0, 9), replace=False).tolist()) for _ in range(n_users)]
    return rec, rel, n_items, rng


@pytest.mark.parametrize("k", [1, 5, 10])
def test_top_k_metrics_match_reference(case, k):
    rec, rel, n_items, _ = case
    rel_lists = [sorted(r) for r in rel]
    pairs = [
        (M.precision_at_k, ref_precision), (M.recall_at_k, ref_recall), (M.ndcg_at_k, ref_ndcg),
        (M.hit_rate_at_k, ref_hr), (M.mrr_at_k, ref_mrr),
    ]
    for fast, slow in pairs:
        got = fast(rec, rel_lists, k)
        expected = np.array([slow(list(r), s, k) for r, s in zip(rec, rel)])
        np.testing.assert_allclose(got, expected, err_msg=fast.__name__, equal_nan=True)


def test_relevance_forms_agree(case):
    rec, rel, n_items, _ = case
    lists = [sorted(r) for r in rel]
    dense = np.zeros((len(rel), n_items), bool)
    for u, r in enumerate(rel):
        dense[u, list(r)] = True
    a = M.ndcg_at_k(rec, lists, 10)
    np.testing.assert_allclose(a, M.ndcg_at_k(rec, dense, 10), equal_nan=True)
    np.testing.assert_allclose(a, M.ndcg_at_k(rec, sp.csr_matrix(dense), 10), equal_nan=True)


def test_auc_matches_pairwise_reference_with_ties_and_candidates(case):
    _, rel, n_items, rng = case
    scores = rng.integers(0, 6, size=(len(rel), n_items)).astype(float)  # many ties
    cand = rng.random((len(rel), n_items)) < 0.7
    got = M.auc_score(scores, [sorted(r) for r in rel], cand)
    expected = [ref_auc(scores[u], rel[u], cand[u]) for u in range(len(rel))]
    np.testing.assert_allclose(got, expected, equal_nan=True)


def test_auc_perfect_and_reversed():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])
    assert M.auc_score(scores, [[0, 1]])[0] == 1.0
    assert M.auc_score(-scores, [[0, 1]])[0] == 0.0
    # -inf scores of candidates still rank (lowest), excluded items never count
    s = np.array([[-np.inf, 1.0, 5.0, 2.0]])
    assert M.auc_score(s, [[2]], np.array([[True, True, True, False]]))[0] == 1.0


def test_padding_and_known_values():
    rec = np.array([[4, -1, -1]])
    assert M.precision_at_k(rec, [[4]], 3)[0] == pytest.approx(1 / 3)
    assert M.ndcg_at_k(np.array([[9, 1]]), [[1]], 2)[0] == pytest.approx(1 / np.log2(3))
    # ideal DCG uses min(|relevant|, k) items: 3 relevant, k = 2, two hits at the top -> 1
    assert M.ndcg_at_k(np.array([[1, 2]]), [[1, 2, 3]], 2)[0] == pytest.approx(1.0)


def test_evaluate_rankings_keys():
    out = M.evaluate_rankings(np.array([[0, 1]]), [[1]], (1, 2), scores=np.array([[0.1, 0.9, 0.0]]))
    assert out["hr@1"] == 0.0 and out["hr@2"] == 1.0 and out["auc"] == 1.0
