"""Paired tests and bootstrap intervals against scipy and hand-computed values."""

import numpy as np
import pytest
from scipy import stats as st

from coursekit.stats import bootstrap_ci, compare_models, paired_t_test, wilcoxon_test


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
