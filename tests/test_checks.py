"""The unit-1 checks pass the reference solutions and catch typical mistakes."""

import numpy as np
import pytest

from coursekit import features
from coursekit.grading.checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED, check, exercises, run_check
from coursekit.metrics import ndcg_at_k as pkg_ndcg
from coursekit.models import ContentRecommender


def good_topk(f, q, k):
    return ContentRecommender("cosine").fit(f).similar_items([q], k)[0][0]


def good_recommend(f, consumed, k):
    p = np.zeros((1, len(f)))
    p[0, consumed] = 1
    return ContentRecommender("cosine").fit(f).recommend(p, k)[0][0]


def todo(*args):
    raise NotImplementedError()


@pytest.mark.parametrize(
    "ex, good, bad",
    [
        ("u1.zscore", features.zscore, lambda x: (x - x.mean(0)) / x.std(0)),  # no guard -> NaN
        ("u1.cosine_topk", good_topk, lambda f, q, k: np.argsort(-(f @ f[q]))[:k]),  # not normalised
        ("u1.recommend", good_recommend, lambda f, c, k: np.argsort(-(f[c] @ f.T).mean(0))[:k]),
        ("u1.ndcg", lambda r, rel, k: pkg_ndcg(np.array([r]), [rel], k)[0],
         lambda r, rel, k: float(np.isin(r[:k], rel).sum()) / k),  # precision, not nDCG
    ],
)
def test_check_outcomes(ex, good, bad):
    assert run_check(ex, good).status == PASSED
    failed = run_check(ex, bad)
    assert failed.status in (FAILED, ERROR) and failed.hint
    assert run_check(ex, todo).status == NOT_ATTEMPTED


def test_crashing_student_code_is_reported_not_raised():
    res = run_check("u1.zscore", lambda x: 1 / 0)
    assert res.status == ERROR and "ZeroDivisionError" in res.message


def test_unit_one_has_four_exercises():
    assert [e.id for e in exercises("u1")] == ["u1.zscore", "u1.cosine_topk", "u1.recommend", "u1.ndcg"]


def test_strict_mode_raises(monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="u1.zscore"):
        check("u1.zscore", lambda x: x)
    monkeypatch.delenv("COURSEKIT_STRICT_CHECKS")
    assert check("u1.zscore", features.zscore).passed
    assert "[PASS] u1.zscore" in capsys.readouterr().out


def test_not_attempted_stops_the_notebook(capsys):
    with pytest.raises(NotImplementedError, match="u1.ndcg is not done yet"):
        check("u1.ndcg", todo)
    assert "[TODO] u1.ndcg" in capsys.readouterr().out


def test_unknown_exercise():
    with pytest.raises(KeyError, match="unknown exercise"):
        run_check("u1.nope", None)
