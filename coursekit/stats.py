"""Comparing two recommenders on the same users: paired tests and bootstrap confidence intervals.

Two models evaluated on the same test users give two per-user metric vectors ``a`` and ``b``
(for example HR@10, 0/1 per user). The users are the unit of replication, and each user's two
numbers are correlated (an easy user is easy for both models), so the right tools look at the
per-user differences ``a - b``:

- :func:`paired_t_test`: a t-test of mean(a - b) = 0 (``scipy.stats.ttest_rel``);
- :func:`wilcoxon_test`: the Wilcoxon signed-rank test of the differences (``scipy.stats.wilcoxon``),
  which does not assume normality (zero differences are dropped, the ``"wilcox"`` convention);
- :func:`bootstrap_ci`: a percentile bootstrap interval of a statistic of one vector, or of the
  mean difference of two paired vectors (users resampled with replacement, seeded, vectorised).

:func:`compare_models` runs all three and returns one small table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["TestResult", "paired_t_test", "wilcoxon_test", "bootstrap_ci", "compare_models"]


@dataclass(frozen=True)
class TestResult:
    """``statistic`` and two-sided ``p_value`` of a test on ``n`` pairs; ``mean_diff`` = mean(a - b)."""

    name: str
    statistic: float
    p_value: float
    n: int
    mean_diff: float

    def significant(self, alpha: float = 0.05) -> bool:
        return bool(self.p_value < alpha)


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired vectors must have the same length (one value per user), got {len(a)} and {len(b)}")
    keep = np.isfinite(a) & np.isfinite(b)  # users where either metric is undefined drop out of both
    if keep.sum() < 2:
        raise ValueError("need at least two users with a finite value in both vectors")
    return a[keep], b[keep]


def paired_t_test(a, b) -> TestResult:
    """Two-sided paired t-test of mean(a - b) = 0 over the users (``scipy.stats.ttest_rel``).

    ``a``, ``b``: float arrays (n_users,), the same users in the same order; NaN pairs are dropped.
    When every difference is equal (e.g. all zero) the test is undefined: p = 1 if the
    differences are all zero, else 0.
    """
    a, b = _paired(a, b)
    d = a - b
    if np.all(d == d[0]):
        return TestResult("paired t-test", 0.0 if d[0] == 0 else np.inf, 1.0 if d[0] == 0 else 0.0, len(d), float(d[0]))
    res = stats.ttest_rel(a, b)
    return TestResult("paired t-test", float(res.statistic), float(res.pvalue), len(d), float(d.mean()))


def wilcoxon_test(a, b) -> TestResult:
    """Two-sided Wilcoxon signed-rank test of the paired differences (``scipy.stats.wilcoxon``).

    Zero differences are dropped (users on whom the models agree carry no information about which
    is better); p = 1 when every difference is zero.
    """
    a, b = _paired(a, b)
    d = a - b
    if np.all(d == 0):
        return TestResult("Wilcoxon signed-rank", 0.0, 1.0, len(d), 0.0)
    res = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
    return TestResult("Wilcoxon signed-rank", float(res.statistic), float(res.pvalue), len(d), float(d.mean()))


def bootstrap_ci(a, b=None, *, statistic=np.mean, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0, batch: int = 250) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval: (estimate, low, high).

    With one vector: the interval of ``statistic(a)`` (default the mean). With two paired vectors:
    the interval of ``statistic(a - b)`` (users are resampled as pairs). ``statistic`` must take
    an array (n_resamples, n) and ``axis=1``, as numpy reductions do. Resamples are drawn in
    batches of ``batch`` rows (vectorised, memory bounded); seeded.
    """
    if b is None:
        x = np.asarray(a, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
    else:
        a_, b_ = _paired(a, b)
        x = a_ - b_
    if len(x) == 0:
        raise ValueError("nothing to bootstrap: no finite values")
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, n_boot, batch):
        m = min(batch, n_boot - start)
        idx = rng.integers(0, len(x), size=(m, len(x)))
        values.append(statistic(x[idx], axis=1))
    values = np.concatenate(values)
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(statistic(x)), float(low), float(high)


def compare_models(a, b, *, names=("a", "b"), n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Paired comparison of two per-user metric vectors: means with bootstrap CIs, the mean
    difference with its CI, and the paired t-test and Wilcoxon p-values, as a one-row-per-figure table."""
    a_, b_ = _paired(a, b)
    rows = []
    for name, x in zip(names, (a_, b_)):
        est, lo, hi = bootstrap_ci(x, n_boot=n_boot, seed=seed)
        rows.append({"figure": f"mean {name}", "value": est, "ci_low": lo, "ci_high": hi, "p_value": np.nan})
    est, lo, hi = bootstrap_ci(a_, b_, n_boot=n_boot, seed=seed)
    rows.append({"figure": f"mean {names[0]} - {names[1]}", "value": est, "ci_low": lo, "ci_high": hi, "p_value": np.nan})
    for test in (paired_t_test(a_, b_), wilcoxon_test(a_, b_)):
        rows.append({"figure": test.name, "value": test.statistic, "ci_low": np.nan, "ci_high": np.nan,
                     "p_value": test.p_value})
    return pd.DataFrame(rows)
