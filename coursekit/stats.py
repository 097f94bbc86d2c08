"""Comparing two recommenders on the same users: paired tests and bootstrap confidence intervals.

Two models evaluated on the same test users give two per-user metric vectors ``a`` and ``b``
(for example HR@10, 0/1 per user). The users are the unit of replication, and each user's two
numbers are correlated (an easy user is easy for both models), so the right tools look at the
per-user differences ``a - b``:

- :func:`paired_t_test`: a t-test of mean(a - b) = 0 (``scipy.stats.ttest_rel``);
- :func:`wilcoxon_test`: the Wilcoxon signed-rank test of the differences (``scipy.stats.wilcoxon``),
  which does not assume normality (zero differences are dropped, the ``"wilcox"`` convention);
- :func:`mcnemar_test`: McNemar's test of paired hit / miss outcomes (0/1 per user). It looks only
  at the *discordant* users (hit by one model, missed by the other): under the null hypothesis each
  of them is equally likely to favour either model. Exact binomial p-value when there are fewer
  than :data:`MCNEMAR_EXACT_BELOW` discordant users, else the chi-square statistic with Edwards'
  continuity correction, ``(|b - c| - 1)^2 / (b + c)``, on one degree of freedom;
- :func:`bootstrap_ci`: a percentile bootstrap interval of a statistic of one vector, or of the
  mean difference of two paired vectors (users resampled with replacement, seeded, vectorised).

:func:`compare_models` runs them and returns one small table; :func:`pairwise_comparison` compares
several pairs of models, one row per pair.

How the tests relate on 0/1 outcomes: the per-user differences are -1, 0 or +1, so the paired
t-test, the Wilcoxon test (which drops the zeros, and whose ranks are then all tied: a sign test)
and McNemar's test all weigh ``b - c``, the discordant users won by each model. Wilcoxon's normal
approximation equals McNemar's chi-square *without* continuity correction; the t-test also counts
the concordant users in its variance; McNemar's exact form stays valid with a handful of
discordant users, where the normal approximations do not. On graded scores (nDCG) only the t-test
and Wilcoxon apply: they also see *where* in the list a hit lands, which hit / miss ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["TestResult", "McNemarResult", "Comparison", "Equivalence", "paired_t_test", "wilcoxon_test",
           "mcnemar_test", "bootstrap_ci", "compare_models", "pairwise_comparison", "paired_comparison",
           "equivalence_test", "holm", "mean_interval", "MCNEMAR_EXACT_BELOW"]

MCNEMAR_EXACT_BELOW = 25
"""McNemar uses the exact binomial test when fewer users than this are discordant (a common rule:
below 25 the chi-square approximation is poor), the corrected chi-square otherwise."""


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


@dataclass(frozen=True)
class McNemarResult(TestResult):
    """:class:`TestResult` of McNemar's test, with the discordant counts and the method used.

    ``a_only``: users hit by ``a`` and missed by ``b``; ``b_only``: the reverse; ``method``:
    ``"exact"`` (binomial) or ``"chi2"`` (with or without continuity correction, see
    ``correction``). ``statistic`` is the chi-square value for ``"chi2"`` and ``a_only`` for
    ``"exact"``.
    """

    a_only: int = 0
    b_only: int = 0
    method: str = "exact"
    correction: bool = True

    @property
    def discordant(self) -> int:
        return self.a_only + self.b_only


def _binary(x: np.ndarray, what: str) -> np.ndarray:
    if not np.isin(x, (0.0, 1.0)).all():
        bad = x[~np.isin(x, (0.0, 1.0))][0]
        raise ValueError(f"McNemar's test needs hit / miss outcomes (0 or 1 per user); {what} holds {bad!r}. "
                         "For graded scores (nDCG, recall with several items) use paired_t_test or wilcoxon_test")
    return x.astype(bool)


def mcnemar_test(a, b, *, exact: bool | None = None, correction: bool = True) -> McNemarResult:
    """Two-sided McNemar test of paired 0/1 outcomes (for example HR@10 of two models per user).

    ``a``, ``b``: 0/1 arrays (n_users,), the same users in the same order; NaN pairs are dropped.
    Only the discordant users count: ``a_only`` (hit by ``a`` only) and ``b_only``; under the null
    hypothesis each discordant user favours either model with probability 1/2.

    ``exact=None`` (default) picks the exact binomial test when ``a_only + b_only`` <
    :data:`MCNEMAR_EXACT_BELOW` and the chi-square test otherwise; ``True`` / ``False`` force one.
    The exact two-sided p-value is ``min(1, 2 P(X <= min(a_only, b_only)))`` for
    X ~ Binomial(a_only + b_only, 1/2). The chi-square statistic is ``(|b - c| - 1)^2 / (b + c)``
    with Edwards' continuity correction (``correction=False``: ``(b - c)^2 / (b + c)``, which is
    the square of the Wilcoxon / sign-test z on 0/1 data), on one degree of freedom.
    With no discordant user the test has nothing to say: p = 1.
    """
    a, b = _paired(a, b)
    ha, hb = _binary(a, "a"), _binary(b, "b")
    n10, n01 = int(np.sum(ha & ~hb)), int(np.sum(~ha & hb))
    n_disc = n10 + n01
    mean_diff = float((a - b).mean())
    use_exact = n_disc < MCNEMAR_EXACT_BELOW if exact is None else bool(exact)
    if n_disc == 0:
        return McNemarResult("McNemar", 0.0, 1.0, len(a), mean_diff, n10, n01,
                             "exact" if use_exact else "chi2", correction)
    if use_exact:
        p = min(1.0, 2.0 * float(stats.binom.cdf(min(n10, n01), n_disc, 0.5)))
        return McNemarResult("McNemar (exact)", float(n10), p, len(a), mean_diff, n10, n01, "exact", correction)
    gap = max(abs(n10 - n01) - (1.0 if correction else 0.0), 0.0)
    chi2 = gap ** 2 / n_disc
    p = float(stats.chi2.sf(chi2, df=1))
    name = "McNemar (chi-square, corrected)" if correction else "McNemar (chi-square)"
    return McNemarResult(name, float(chi2), p, len(a), mean_diff, n10, n01, "chi2", correction)


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


def compare_models(a, b, *, names=("a", "b"), n_boot: int = 2000, seed: int = 0,
                   mcnemar: bool = False) -> pd.DataFrame:
    """Paired comparison of two per-user metric vectors: means with bootstrap CIs, the mean
    difference with its CI, and the paired t-test and Wilcoxon p-values, as a one-row-per-figure table.
    ``mcnemar=True`` adds a row with McNemar's test (the vectors must then be 0/1 hit / miss)."""
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
    if mcnemar:
        test = mcnemar_test(a_, b_)
        rows.append({"figure": test.name, "value": test.statistic, "ci_low": np.nan, "ci_high": np.nan,
                     "p_value": test.p_value})
    return pd.DataFrame(rows)


def pairwise_comparison(hits: dict, pairs, *, scores: dict | None = None, n_boot: int = 2000,
                        seed: int = 0) -> pd.DataFrame:
    """One row per pair of models: the paired tests side by side.

    ``hits``: {model name: 0/1 array (n_users,)}, the same users in the same order for every
    model (for example per-user HR@10). ``pairs``: iterable of (name_a, name_b). ``scores``:
    optional {model name: graded per-user scores} (for example nDCG@10) for a second paired t-test.

    Columns: ``a``, ``b``, ``hr_a``, ``hr_b``, ``diff`` (mean a - b) with its bootstrap interval
    ``ci_low`` / ``ci_high``, ``a_only`` / ``b_only`` (discordant users), ``p_mcnemar``,
    ``mcnemar_method``, ``p_t`` and ``p_wilcoxon`` (on the 0/1 vectors), and with ``scores``
    ``score_diff``, ``p_t_score``, ``p_wilcoxon_score``.
    """
    rows = []
    for name_a, name_b in pairs:
        a, b = _paired(hits[name_a], hits[name_b])
        mc = mcnemar_test(a, b)
        est, lo, hi = bootstrap_ci(a, b, n_boot=n_boot, seed=seed)
        row = {"a": name_a, "b": name_b, "hr_a": float(a.mean()), "hr_b": float(b.mean()), "diff": est,
               "ci_low": lo, "ci_high": hi, "a_only": mc.a_only, "b_only": mc.b_only,
               "p_mcnemar": mc.p_value, "mcnemar_method": mc.method,
               "p_t": paired_t_test(a, b).p_value, "p_wilcoxon": wilcoxon_test(a, b).p_value}
        if scores is not None:
            sa, sb = _paired(scores[name_a], scores[name_b])
            row.update(score_diff=float((sa - sb).mean()), p_t_score=paired_t_test(sa, sb).p_value,
                       p_wilcoxon_score=wilcoxon_test(sa, sb).p_value)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- what claims are made of

TESTS = ("t", "wilcoxon", "bootstrap")


@dataclass(frozen=True)
class _PairedEffect:
    """The paired figures every comparison reports: both means, mean(a - b), its interval, p, n."""

    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


def _p_text(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}" if p < 0.01 else f"p = {p:.3f}"


@dataclass(frozen=True)
class Comparison(_PairedEffect):
    """A paired comparison of ``a`` against ``b``: the means, the mean difference ``diff`` =
    mean(a - b) with its ``level`` confidence interval, and the two-sided ``p_value`` of ``test``
    over ``n`` pairs (``over``: what a pair is, "users" or "seeds").

    The interval matches the test: a t interval for the t-test, a percentile bootstrap interval
    (pairs resampled) for the bootstrap and for Wilcoxon, whose own effect is not a mean.
    ``p_adjusted`` is the Holm-adjusted p-value when the comparison is one of a family
    (:func:`holm`), else equal to ``p_value``.
    """

    test: str
    level: float = 0.95
    over: str = "users"
    p_adjusted: float | None = None

    @property
    def p(self) -> float:
        return self.p_value if self.p_adjusted is None else self.p_adjusted

    def better(self, alpha: float = 0.05, higher_is_better: bool = True) -> bool:
        """``a`` is better than ``b``: significant at ``alpha`` (two-sided, adjusted when in a
        family) and the difference points the right way."""
        right_way = self.diff > 0 if higher_is_better else self.diff < 0
        return bool(right_way and self.p < alpha)

    def describe(self, digits: int = 3) -> str:
        """"difference +0.011, 95 % CI [+0.003, +0.019], paired t-test p = 0.008 (Holm), 1,234 users"."""
        f = f"+.{digits}f"
        holm_text = " (Holm-adjusted)" if self.p_adjusted is not None else ""
        return (f"difference {self.diff:{f}}, {self.level:.0%} CI [{self.ci_low:{f}}, {self.ci_high:{f}}], "
                f"{_TEST_NAMES[self.test]} {_p_text(self.p)}{holm_text}, {self.n:,} {self.over}")


@dataclass(frozen=True)
class Equivalence(_PairedEffect):
    """Two one-sided paired t-tests (TOST) of |mean(a - b)| < ``margin``: ``p_value`` is the
    larger of the two one-sided p-values; the (1 - 2 alpha) interval ``ci_low``..``ci_high`` lies
    inside (-margin, margin) exactly when both tests reject at ``alpha``. ``kind`` "similar"
    tests both sides; "not_better" only that mean(a - b) < margin (a non-superiority test)."""

    margin: float
    alpha: float = 0.05
    over: str = "users"
    kind: str = "similar"

    def holds(self) -> bool:
        return bool(self.p_value < self.alpha)

    def describe(self, digits: int = 3) -> str:
        f = f"+.{digits}f"
        level = 1 - 2 * self.alpha
        if self.kind == "similar":
            bound = f"within \u00b1{self.margin:.{digits}f}"
            test = "equivalence test (TOST)"
        else:
            bound = f"below +{self.margin:.{digits}f}"
            test = "non-superiority test"
        what = "difference" if self.kind == "similar" else "advantage"
        return (f"{what} {self.diff:{f}}, {level:.0%} CI [{self.ci_low:{f}}, {self.ci_high:{f}}] {bound}, "
                f"{test} {_p_text(self.p_value)}, {self.n:,} {self.over}")


_TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test", "bootstrap": "paired bootstrap"}


def _t_interval(d: np.ndarray, level: float) -> tuple[float, float]:
    n = len(d)
    se = d.std(ddof=1) / np.sqrt(n)
    if se == 0:
        return float(d.mean()), float(d.mean())
    q = stats.t.ppf(0.5 + level / 2, df=n - 1)
    return float(d.mean() - q * se), float(d.mean() + q * se)


def mean_ci(values, level: float = 0.95) -> tuple[float, float]:
    """The mean of the finite ``values`` (one figure per user, per query or per seed) and the
    half-width of its ``level`` t confidence interval, ``t(level, n - 1) * sd / sqrt(n)`` with the
    sample standard deviation: the mean is ``mean ± half-width``. NaN values (users where the
    metric is undefined) are left out; fewer than two values give a NaN half-width."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) < 2:
        return float(x.mean()), float("nan")
    low, high = _t_interval(x, level)
    return float(x.mean()), float((high - low) / 2)


def mean_interval(x, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): :func:`mean_ci` as an interval; at least two finite values."""
    mean, half = mean_ci(x, level)
    if not np.isfinite(half):
        raise ValueError("need at least two finite values for an interval")
    return mean, mean - half, mean + half


def mean_table(per_row: dict, *, level: float = 0.95) -> pd.DataFrame:
    """A table of means with their spread, one row per model or setting (tuples as names make a
    MultiIndex). ``per_row`` maps a name to ``{figure: per-user values}``, to a DataFrame of
    per-user figures (one column per figure, e.g. ``EvalResult.per_user[["hr@10", "ndcg@10"]]``)
    or to a named Series. Each figure becomes two columns: its mean and ``"<figure> ±"``, the
    half-width of its ``level`` t interval (:func:`mean_ci`)."""
    rows = {}
    for name, figures in per_row.items():
        if isinstance(figures, pd.Series):
            figures = figures.to_frame()
        columns = figures.items() if isinstance(figures, (pd.DataFrame, dict)) else dict(figures).items()
        row = {}
        for figure, values in columns:
            row[figure], row[f"{figure} \u00b1"] = mean_ci(np.asarray(values, dtype=np.float64), level)
        rows[name] = row
    return pd.DataFrame(rows).T.astype(float)


def paired_comparison(a, b, *, test: str = "t", level: float = 0.95, over: str = "users", n_boot: int = 5000,
                      seed: int = 0) -> Comparison:
    """Compare ``a`` with ``b`` pair by pair (per user, or per seed when both arms ran on the same
    seeds): the mean difference, its interval and a two-sided p-value.

    ``test``: ``"t"`` (:func:`paired_t_test`, t interval), ``"wilcoxon"`` (:func:`wilcoxon_test`,
    bootstrap interval of the mean difference) or ``"bootstrap"`` (pairs resampled ``n_boot``
    times, seeded; percentile interval; p-value = twice the smaller share of resampled mean
    differences on either side of 0, at least 1 / n_boot).
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    a_, b_ = _paired(a, b)
    d = a_ - b_
    if test == "t":
        p = paired_t_test(a_, b_).p_value
        low, high = _t_interval(d, level)
    else:
        _, low, high = bootstrap_ci(a_, b_, n_boot=n_boot, level=level, seed=seed)
        if test == "wilcoxon":
            p = wilcoxon_test(a_, b_).p_value
        else:
            rng = np.random.default_rng(seed)
            means = np.concatenate([d[rng.integers(0, len(d), size=(min(500, n_boot - s), len(d)))].mean(axis=1)
                                    for s in range(0, n_boot, 500)])
            p = 1.0 if np.all(d == 0) else float(max(min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean())),
                                                    1 / n_boot))
    return Comparison(float(a_.mean()), float(b_.mean()), float(d.mean()), low, high, float(p), len(d), test,
                      level, over)


def equivalence_test(a, b, margin: float, *, alpha: float = 0.05, over: str = "users",
                     kind: str = "similar") -> Equivalence:
    """TOST: is the paired mean difference within ``(-margin, margin)`` (``kind="similar"``), or
    below ``margin`` (``kind="not_better"``: a is no better than b by ``margin`` or more)?

    Each one-sided test is a paired t-test shifted by the margin; the result holds when every
    test it needs rejects at ``alpha``. The interval shown is the (1 - 2 alpha) t interval, the one
    that lies inside the margins exactly when the tests reject.
    """
    if not margin > 0:
        raise ValueError(f"the margin must be positive, got {margin!r}")
    if kind not in ("similar", "not_better"):
        raise ValueError(f"kind must be 'similar' or 'not_better', got {kind!r}")
    a_, b_ = _paired(a, b)
    d = a_ - b_
    n, mean = len(d), float(d.mean())
    se = d.std(ddof=1) / np.sqrt(n)
    if se == 0:
        p_upper = 0.0 if mean < margin else 1.0
        p_lower = 0.0 if mean > -margin else 1.0
    else:
        p_upper = float(stats.t.cdf((mean - margin) / se, df=n - 1))   # H0: diff >= margin
        p_lower = float(stats.t.sf((mean + margin) / se, df=n - 1))    # H0: diff <= -margin
    p = max(p_lower, p_upper) if kind == "similar" else p_upper
    low, high = _t_interval(d, 1 - 2 * alpha)
    return Equivalence(float(a_.mean()), float(b_.mean()), mean, low, high, p, n, float(margin), alpha, over, kind)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error rate):
    sort ascending, multiply the i-th smallest (0-based) by (m - i), carry the running maximum,
    cap at 1; returned in the input order. Reject where the adjusted p-value < alpha."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return out
