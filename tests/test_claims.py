"""``coursekit.claim``: a measured statement holds, or the lesson stops (toy) / says so (real)."""

import json

import numpy as np
import pytest

import coursekit
from coursekit.claims import Claim, ClaimError, claim, claim_counts, record_claims, reset_claims


def test_a_claim_that_holds_is_shown_with_a_tick(capsys):
    reset_claims("toy")
    claim(0.21 > 0.12, f"Euclidean beats cosine: nDCG@10 {0.21:.3f} vs {0.12:.3f}")
    assert capsys.readouterr().out.strip() == "\u2713 Euclidean beats cosine: nDCG@10 0.210 vs 0.120"
    assert claim_counts() == {"total": 1, "failed": 0, "statistical": 0, "skipped": 0}


def test_a_false_claim_on_toy_data_raises(capsys):
    reset_claims("toy")
    with pytest.raises(ClaimError, match="no longer supports it"):
        claim(np.float64(0.1) > 0.2, "the model beats popularity")
    assert "does not hold on this data" in capsys.readouterr().out
    assert claim_counts() == {"total": 1, "failed": 1, "statistical": 0, "skipped": 0}
    assert issubclass(ClaimError, AssertionError)  # nbval and build report it as a failed cell


def test_claims_on_toy_data_at_other_sizes_can_be_shown_without_stopping(capsys, monkeypatch):
    monkeypatch.setenv("COURSEKIT_STRICT_CLAIMS", "0")
    reset_claims("toy")
    claim(False, "the model beats popularity")  # no ClaimError: the run goes on
    assert capsys.readouterr().out.startswith("\u2717 does not hold on this data: the model beats popularity")
    assert claim_counts()["failed"] == 1
    monkeypatch.setenv("COURSEKIT_STRICT_CLAIMS", "1")
    with pytest.raises(ClaimError):
        claim(False, "the model beats popularity")


def test_a_false_claim_on_real_data_is_shown_and_the_notebook_goes_on(capsys):
    reset_claims("real")
    claim(False, "retrieval beats user-kNN: HR@10 0.039 vs 0.042")
    claim(True, "retrieval beats popularity")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("\u2717 does not hold on this data: retrieval beats user-kNN: HR@10 0.039 vs 0.042"
                      " \u2014 discuss why")
    assert out[1].startswith("\u2713 ")
    assert claim_counts() == {"total": 2, "failed": 1, "statistical": 0, "skipped": 0}


def test_record_claims_writes_the_two_figures(tmp_path, monkeypatch):
    path = tmp_path / "rec.jsonl"
    monkeypatch.setenv("COURSEKIT_RECORD", str(path))
    monkeypatch.setenv("COURSEKIT_NOTEBOOK", "04_music_cf.ipynb")
    coursekit.start_notebook("04_music_cf.ipynb", seed=0, data_source="real")
    coursekit.claim(True, "a")
    coursekit.claim(False, "b")
    coursekit.claim(True, "c")
    assert record_claims() == {"total": 3, "failed": 1, "statistical": 0, "skipped": 0}
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert rows == [
        {"notebook": "04_music_cf.ipynb", "name": "claims/total", "value": 3},
        {"notebook": "04_music_cf.ipynb", "name": "claims/failed", "value": 1},
        {"notebook": "04_music_cf.ipynb", "name": "claims/statistical", "value": 0},
    ]


def test_start_notebook_resets_the_count():
    reset_claims("toy")
    claim(True, "x")
    coursekit.start_notebook("01_content_based_art.ipynb", seed=0, data_source="toy")
    assert claim_counts() == {"total": 0, "failed": 0, "statistical": 0, "skipped": 0}


@pytest.mark.parametrize("condition", [np.array([True, False]), np.array([1, 2])])
def test_an_ambiguous_condition_is_a_clear_error(condition):
    reset_claims("toy")
    with pytest.raises(TypeError, match="one true/false value"):
        claim(condition, "all users are better off")
    assert claim_counts()["total"] == 0


@pytest.mark.parametrize("statement", ["", "   ", None])
def test_a_claim_needs_a_statement(statement):
    with pytest.raises(TypeError, match="statement"):
        claim(True, statement)


def test_html_is_escaped_and_marked():
    ok = Claim("a < b & c", True, True).as_html()
    assert 'data-holds="true"' in ok and "a &lt; b &amp; c" in ok and "\u2713" in ok
    bad = Claim("x", False, False).as_html()
    assert 'data-holds="false"' in bad and "does not hold on this data" in bad and "discuss why" in bad


# --------------------------------------------------------------------------- statistical claims

from scipy import stats as sp_stats  # noqa: E402

from coursekit.claims import Comparisons, claim_better, claim_not_better, claim_similar, compare  # noqa: E402
from coursekit.stats import equivalence_test, holm, paired_comparison  # noqa: E402


def _pair(n=400, gap=0.05, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random(n)
    return base + gap + rng.normal(0, 0.1, n), base


def test_claim_better_holds_on_a_clear_gain_and_shows_effect_ci_and_test(capsys):
    reset_claims("toy")
    a, b = _pair(gap=0.05)
    result = claim_better(a, b, "the model beats the baseline")
    out = capsys.readouterr().out
    assert out.startswith("\u2713 the model beats the baseline (difference +0.0")
    assert "95% CI [" in out and "paired t-test p" in out and "400 users" in out
    # the interval is the t interval of the differences, computed here independently
    d = a - b
    low, high = sp_stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sp_stats.sem(d))
    assert result.ci_low == pytest.approx(low) and result.ci_high == pytest.approx(high)
    assert result.p_value == pytest.approx(sp_stats.ttest_rel(a, b).pvalue)
    assert claim_counts() == {"total": 1, "failed": 0, "statistical": 1, "skipped": 0}


def test_claim_better_fails_on_a_bare_lead_that_is_not_significant(capsys):
    reset_claims("toy")
    rng = np.random.default_rng(3)
    a, b = rng.random(50), rng.random(50)
    a = a + (b.mean() - a.mean()) + 0.002  # a leads by 0.002: a bare inequality would "hold"
    assert a.mean() > b.mean()
    with pytest.raises(ClaimError):
        claim_better(a, b, "a beats b")
    assert claim_counts()["failed"] == 1


def test_claim_better_in_the_wrong_direction_fails_even_when_significant():
    reset_claims("real")
    a, b = _pair(gap=-0.05)
    result = claim_better(a, b, "a beats b")
    assert result.p_value < 1e-6 and not result.better()
    assert claim_counts()["failed"] == 1
    reset_claims("real")
    assert claim_better(a, b, "a has the lower error", higher_is_better=False).better(higher_is_better=False)
    assert claim_counts()["failed"] == 0


@pytest.mark.parametrize("test", ["wilcoxon", "bootstrap"])
def test_claim_better_with_other_tests(test, capsys):
    reset_claims("toy")
    a, b = _pair(gap=0.05)
    result = claim_better(a, b, "a beats b", test=test)
    assert result.p_value < 0.001 and result.ci_low > 0
    assert {"wilcoxon": "Wilcoxon", "bootstrap": "bootstrap"}[test] in capsys.readouterr().out


def test_bootstrap_p_value_follows_the_data():
    a, b = _pair(gap=0.0, seed=5)
    c = paired_comparison(a, b, test="bootstrap", seed=1)
    assert c.p_value > 0.05 and c.ci_low < 0 < c.ci_high
    # and is seeded: the same call gives the same figures
    assert c == paired_comparison(a, b, test="bootstrap", seed=1)


def test_over_seeds_is_said_in_the_statement(capsys):
    reset_claims("toy")
    claim_better([0.74, 0.75, 0.73, 0.76, 0.75], [0.70, 0.71, 0.70, 0.72, 0.70], "guided beats random", over="seeds")
    assert "5 seeds" in capsys.readouterr().out


def test_claim_similar_is_a_tost_that_needs_evidence():
    a, b = _pair(gap=0.0, n=2000, seed=2)
    reset_claims("toy")
    result = claim_similar(a, b, 0.02, "a and b are about the same")
    d = a - b
    se = sp_stats.sem(d)
    p_upper = sp_stats.t.cdf((d.mean() - 0.02) / se, len(d) - 1)
    p_lower = sp_stats.t.sf((d.mean() + 0.02) / se, len(d) - 1)
    assert result.p_value == pytest.approx(max(p_upper, p_lower))
    assert -0.02 < result.ci_low < result.ci_high < 0.02
    # with a handful of users the same zero difference cannot be shown to be small: the claim fails
    reset_claims("toy")
    with pytest.raises(ClaimError):
        claim_similar(a[:6], b[:6], 0.02, "a and b are about the same")
    # and a real gap larger than the margin fails too
    reset_claims("toy")
    a2, b2 = _pair(gap=0.05, n=2000)
    with pytest.raises(ClaimError):
        claim_similar(a2, b2, 0.02, "a and b are about the same")


def test_claim_not_better_is_one_sided():
    reset_claims("toy")
    a, b = _pair(gap=-0.03, n=1000)  # a is clearly worse: certainly not better by 0.01
    result = claim_not_better(a, b, 0.01, "a is no better than b")
    assert result.holds() and result.kind == "not_better"
    reset_claims("toy")
    a, b = _pair(gap=0.03, n=1000)  # a is better by 0.03: "no better" must fail
    with pytest.raises(ClaimError):
        claim_not_better(a, b, 0.01, "a is no better than b")
    # for losses the direction flips: a's error is higher by 0.03, so a's error is no lower than b's
    reset_claims("toy")
    assert claim_not_better(a, b, 0.01, "a's error is no lower than b's", higher_is_better=False).holds()
    reset_claims("toy")
    with pytest.raises(ClaimError, match="advantage"):
        claim_not_better(b, a, 0.01, "b's error is no lower than a's", higher_is_better=False)


def test_holm_matches_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # monotone: never below a smaller p
    assert holm([]).shape == (0,)


def test_a_family_uses_holm_adjusted_p_values(capsys):
    rng = np.random.default_rng(7)
    base = rng.random(300)
    scores = {"a": base + 0.02 + rng.normal(0, 0.1, 300), "b": base + rng.normal(0, 0.1, 300),
              "c": base + rng.normal(0, 0.1, 300)}
    family = compare(scores, [("a", "b"), ("a", "c"), ("b", "c")])
    assert isinstance(family, Comparisons)
    table = family.table()
    raw = table["p"].to_numpy()
    assert table["p (Holm)"].to_numpy() == pytest.approx(holm(raw))
    reset_claims("real")
    family.claim_better("a", "b", "a beats b")
    assert "Holm-adjusted" in capsys.readouterr().out
    with pytest.raises(KeyError, match="not one of the pairs"):
        family.claim_better("c", "a", "c beats a")
    with pytest.raises(KeyError, match="no scores for 'd'"):
        compare(scores, [("a", "d")])


def test_record_claims_counts_statistical_claims(tmp_path, monkeypatch):
    path = tmp_path / "rec.jsonl"
    monkeypatch.setenv("COURSEKIT_RECORD", str(path))
    coursekit.start_notebook("02_curatornet.ipynb", seed=0, data_source="toy")
    a, b = _pair()
    coursekit.claim(True, "plain")
    coursekit.claim_better(a, b, "a beats b")
    assert record_claims() == {"total": 2, "failed": 0, "statistical": 1, "skipped": 0}
    names = [json.loads(l)["name"] for l in path.read_text().splitlines()]
    assert names == ["claims/total", "claims/failed", "claims/statistical"]


def test_equivalence_needs_a_positive_margin():
    with pytest.raises(ValueError, match="margin"):
        equivalence_test([1, 2, 3], [1, 2, 3], 0)


def test_a_skipped_claim_is_visible_and_counted_apart(capsys):
    reset_claims("lastfm")
    coursekit.skip_claim("a session ends with the artist it started with", "needs 30Music's sessions")
    out = capsys.readouterr().out
    assert out.startswith("\u2013 not checked on this data: a session ends") and "30Music" in out
    assert claim_counts() == {"total": 0, "failed": 0, "statistical": 0, "skipped": 1}
    with pytest.raises(TypeError, match="say why"):
        coursekit.skip_claim("x", "")
    html_ = Claim("x", None, False, "needs sessions").as_html()
    assert 'data-holds="skipped"' in html_ and "needs sessions" in html_
