"""Paired tests and bootstrap intervals against scipy and hand-computed values."""

import numpy as np
import pytest
from scipy import stats as st

from coursekit.stats import (MCNEMAR_EXACT_BELOW, bootstrap_ci, compare_models, mcnemar_test, paired_t_test,
                             pairwise_comparison, wilcoxon_test)


def _pair(n=400, effect=0.05, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random(n) < 0.3  # easy users are easy for both models
    a = (base | (rng.random(n) < effect)).astype(float)
    b = base.astype(float)
    return a, b


def test_paired_t_matches_the_formula():
    a, b = _pair()
    d = a - b
    t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    res = paired_t_test(a, b)
    assert res.statistic == pytest.approx(t)
    assert res.p_value == pytest.approx(2 * st.t.sf(abs(t), len(d) - 1))
    assert res.n == len(a) and res.mean_diff == pytest.approx(d.mean())


def test_paired_test_sees_what_the_unpaired_misses():
    # the same users, a small consistent improvement: paired test significant, Welch's not
    rng = np.random.default_rng(1)
    user_level = rng.normal(0, 1, 200)
    a = user_level + 0.1 + rng.normal(0, 0.05, 200)
    b = user_level + rng.normal(0, 0.05, 200)
    assert paired_t_test(a, b).p_value < 1e-6
    assert st.ttest_ind(a, b).pvalue > 0.3


def test_wilcoxon_matches_scipy_and_drops_zeros():
    a, b = _pair(seed=2)
    res = wilcoxon_test(a, b)
    ref = st.wilcoxon(a, b, zero_method="wilcox")
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.statistic == pytest.approx(ref.statistic)
    same = wilcoxon_test(b, b)
    assert same.p_value == 1.0


def test_nan_pairs_are_dropped_and_lengths_must_match():
    a = np.array([1.0, np.nan, 0.0, 1.0, 1.0])
    b = np.array([0.0, 1.0, np.nan, 0.0, 1.0])
    assert paired_t_test(a, b).n == 3
    with pytest.raises(ValueError, match="same length"):
        paired_t_test([1, 2, 3], [1, 2])


def test_bootstrap_ci_covers_the_mean_and_is_seeded():
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.0, 500)
    est, lo, hi = bootstrap_ci(x, n_boot=1000, seed=0)
    assert est == pytest.approx(x.mean())
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.35 * se)
    assert hi == pytest.approx(x.mean() + 1.96 * se, abs=0.35 * se)
    assert bootstrap_ci(x, n_boot=1000, seed=0) == (est, lo, hi)
    assert bootstrap_ci(x, n_boot=1000, seed=1) != (est, lo, hi)


def test_bootstrap_of_paired_difference_excludes_zero_for_a_real_effect():
    a, b = _pair(effect=0.1, seed=4)
    est, lo, hi = bootstrap_ci(a, b, n_boot=1000)
    assert est == pytest.approx((a - b).mean())
    assert 0 < lo < est < hi


def test_compare_models_table():
    a, b = _pair(seed=5)
    table = compare_models(a, b, names=("knn", "pop"), n_boot=500)
    assert list(table["figure"]) == ["mean knn", "mean pop", "mean knn - pop", "paired t-test", "Wilcoxon signed-rank"]
    assert table["p_value"].iloc[3] == pytest.approx(paired_t_test(a, b).p_value)


def _hits(a_only, b_only, both=40, neither=60):
    """Two 0/1 vectors with the given discordant counts (shuffled so order does not matter)."""
    a = np.r_[np.ones(a_only), np.zeros(b_only), np.ones(both), np.zeros(neither)]
    b = np.r_[np.zeros(a_only), np.ones(b_only), np.ones(both), np.zeros(neither)]
    order = np.random.default_rng(a_only * 100 + b_only).permutation(len(a))
    return a[order], b[order]


@pytest.mark.parametrize("a_only, b_only", [(5, 0), (9, 3), (2, 11), (7, 7), (0, 1)])
def test_mcnemar_exact_matches_binomtest_on_discordant_pairs(a_only, b_only):
    a, b = _hits(a_only, b_only)
    res = mcnemar_test(a, b)
    assert res.method == "exact" and (res.a_only, res.b_only) == (a_only, b_only)
    # independent: scipy's two-sided exact binomial test of a_only successes in a_only + b_only trials
    assert res.p_value == pytest.approx(st.binomtest(a_only, a_only + b_only, 0.5).pvalue, rel=1e-12)
    assert res.n == len(a) and res.mean_diff == pytest.approx((a_only - b_only) / len(a))


def test_mcnemar_exact_by_hand():
    # 5 discordant users, all won by a: p = 2 * (1/2)^5
    assert mcnemar_test(*_hits(5, 0)).p_value == pytest.approx(2 / 32)
    # 6 vs 2 of 8: P(X <= 2) = (1 + 8 + 28) / 256, doubled
    assert mcnemar_test(*_hits(6, 2)).p_value == pytest.approx(2 * 37 / 256)


def test_mcnemar_chi_square_with_continuity_correction():
    # Agresti, Categorical Data Analysis: approval ratings, 150 and 86 discordant of 1,600
    a, b = _hits(150, 86, both=794, neither=570)
    res = mcnemar_test(a, b)
    assert res.method == "chi2" and res.correction
    assert res.statistic == pytest.approx(63 ** 2 / 236)            # (|150 - 86| - 1)^2 / 236 = 16.82
    # independent: the same test as a two-sided normal test of the corrected z
    assert res.p_value == pytest.approx(2 * st.norm.sf(63 / np.sqrt(236)), rel=1e-9)
    plain = mcnemar_test(a, b, correction=False)
    assert plain.statistic == pytest.approx(64 ** 2 / 236)           # 17.36, Agresti's value
    # the chi-square p-value is close to the exact binomial one when many users are discordant
    assert res.p_value == pytest.approx(st.binomtest(150, 236, 0.5).pvalue, rel=0.15)


def test_mcnemar_switches_to_chi_square_at_the_documented_count():
    below = mcnemar_test(*_hits(MCNEMAR_EXACT_BELOW - 5, 4))
    at = mcnemar_test(*_hits(MCNEMAR_EXACT_BELOW - 4, 4))
    assert below.discordant == MCNEMAR_EXACT_BELOW - 1 and below.method == "exact"
    assert at.discordant == MCNEMAR_EXACT_BELOW and at.method == "chi2"
    assert mcnemar_test(*_hits(3, 1), exact=False).method == "chi2"
    assert mcnemar_test(*_hits(150, 86), exact=True).p_value == pytest.approx(st.binomtest(150, 236).pvalue)


def test_mcnemar_without_correction_is_wilcoxon_on_hits():
    # on 0/1 data Wilcoxon drops the ties and all ranks are tied: a sign test, McNemar's uncorrected z
    a, b = _hits(40, 22, both=300, neither=500)
    assert mcnemar_test(a, b, correction=False).p_value == pytest.approx(wilcoxon_test(a, b).p_value, rel=1e-9)
    # the paired t-test weighs the same b - c and agrees closely with many users
    assert paired_t_test(a, b).p_value == pytest.approx(mcnemar_test(a, b, correction=False).p_value, rel=0.05)


def test_mcnemar_and_t_test_disagree_with_few_discordant_users():
    a, b = _hits(5, 0, both=3, neither=12)  # 20 users
    assert paired_t_test(a, b).p_value < 0.05 < mcnemar_test(a, b).p_value


def test_mcnemar_edge_cases_and_errors():
    a = np.array([1.0, 0.0, 1.0, 0.0])
    res = mcnemar_test(a, a)
    assert res.p_value == 1.0 and res.discordant == 0
    assert mcnemar_test([1, 0, np.nan, 1], [0, 0, 1, np.nan]).n == 2  # NaN pairs dropped
    with pytest.raises(ValueError, match="0 or 1"):
        mcnemar_test([0.5, 1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        mcnemar_test([1, 0, 1], [1, 0])


def test_compare_models_optional_mcnemar_row():
    a, b = _pair(seed=6)
    table = compare_models(a, b, n_boot=200, mcnemar=True)
    assert table["figure"].iloc[-1].startswith("McNemar")
    assert table["p_value"].iloc[-1] == pytest.approx(mcnemar_test(a, b).p_value)
    assert len(compare_models(a, b, n_boot=200)) == 5  # unchanged without it


def test_pairwise_comparison_rows():
    a, b = _pair(effect=0.1, seed=7)
    c = (np.random.default_rng(8).random(len(a)) < 0.3).astype(float)
    scores = {"a": a * 0.5, "b": b * 0.7, "c": c}
    table = pairwise_comparison({"a": a, "b": b, "c": c}, [("a", "b"), ("b", "c")], scores=scores, n_boot=300)
    assert list(table["a"]) == ["a", "b"] and list(table["b"]) == ["b", "c"]
    row = table.iloc[0]
    mc = mcnemar_test(a, b)
    assert (row["a_only"], row["b_only"]) == (mc.a_only, mc.b_only)
    assert row["p_mcnemar"] == pytest.approx(mc.p_value) and row["p_t"] == pytest.approx(paired_t_test(a, b).p_value)
    assert row["diff"] == pytest.approx(a.mean() - b.mean()) and row["ci_low"] < row["diff"] < row["ci_high"]
    assert row["p_t_score"] == pytest.approx(paired_t_test(a * 0.5, b * 0.7).p_value)
    assert row["score_diff"] == pytest.approx((a * 0.5 - b * 0.7).mean())
