"""``claim``: the one way a notebook states a measured result.

A lesson that says "Euclidean beats cosine here" must be true of the figures it sits under. Write
it as a claim next to the figure::

    claim(ndcg["euclidean"] > ndcg["cosine"],
          f"Euclidean ranks better than cosine: nDCG@10 {ndcg['euclidean']:.3f} vs {ndcg['cosine']:.3f}")

- When the condition holds, the notebook shows "✓ statement".
- When it does not hold on the toy data (``DATA_SOURCE = "toy"``, the default), ``ClaimError`` is
  raised: the lesson no longer follows from the figures, and CI (nbval, ``coursekit build``) fails
  instead of teaching it. ``COURSEKIT_STRICT_CLAIMS=0`` turns this off for a run of the toy data
  at other sizes than the lesson's (a student's smaller run, a test's), where a claim may fail
  without the lesson being wrong.
- On real data the same claim may legitimately fail: the notebook shows a visible
  "✗ does not hold on this data: statement — discuss why" and goes on.

A comparison ("X beats Y", "X is about the same as Y", "X is no better than Y") is never a bare
inequality of two means: it goes through a statistical claim, which tests the paired per-user (or
per-seed) figures and shows the effect with its interval in the statement:

- :func:`claim_better` (``a`` beats ``b``: a two-sided paired test significant at ``alpha`` with
  the difference pointing the right way);
- :func:`claim_similar` (equivalence: two one-sided tests, the difference within ``±margin``);
- :func:`claim_not_better` (non-superiority: ``a`` is not better than ``b`` by ``margin`` or more);
- :func:`compare` for a table of several comparisons of one family, Holm-adjusted, whose
  ``claim_better`` uses the adjusted p-values.

``record_claims()`` at the end of a notebook records ``claims/total``, ``claims/failed`` and
``claims/statistical`` (how many went through the statistical claims).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .recording import record

if TYPE_CHECKING:
    from .stats import Comparison, Equivalence

# coursekit.stats imports scipy.stats (about a second): it is imported where a statistical claim
# is made, so that ``import coursekit`` stays light.

__all__ = ["Claim", "ClaimError", "Comparisons", "claim", "claim_better", "claim_counts", "claim_not_better",
           "claim_similar", "compare", "record_claims", "reset_claims", "skip_claim"]

CHECK, CROSS = "\u2713", "\u2717"
METADATA_KEY = "coursekit_claim"


class ClaimError(AssertionError):
    """A claim of the lesson that the toy data no longer supports."""


@dataclass(frozen=True)
class Claim:
    statement: str
    holds: bool | None  # None: not checked on this data (see skip_claim)
    strict: bool
    reason: str = ""
    test: dict | None = None  # statistical claims: {"p": the p-value decided on, "alpha": the level}

    def as_text(self) -> str:
        if self.holds is None:
            return f"\u2013 not checked on this data: {self.statement} ({self.reason})"
        if self.holds:
            return f"{CHECK} {self.statement}"
        return f"{CROSS} does not hold on this data: {self.statement} \u2014 discuss why"

    def as_html(self) -> str:
        if self.holds is None:
            return (f'<div class="coursekit-claim" data-holds="skipped" style="border-left:4px solid #8a6d00;'
                    f'background:#fef7e0;padding:4px 8px;margin:4px 0"><span style="color:#8a6d00;font-weight:bold">'
                    f'\u2013</span> <b>not checked on this data:</b> {html.escape(self.statement)} '
                    f'<i>({html.escape(self.reason)})</i></div>')
        colour, background = ("#1b7f3b", "#e6f4ea") if self.holds else ("#b3261e", "#fce8e6")
        label = "" if self.holds else "<b>does not hold on this data:</b> "
        tail = "" if self.holds else " &mdash; <i>discuss why</i>"
        mark = CHECK if self.holds else CROSS
        return (
            f'<div class="coursekit-claim" data-holds="{str(self.holds).lower()}" '
            f'style="border-left:4px solid {colour};background:{background};padding:4px 8px;margin:4px 0">'
            f'<span style="color:{colour};font-weight:bold">{mark}</span> {label}'
            f"{html.escape(self.statement)}{tail}</div>"
        )

    def __repr__(self) -> str:
        return self.as_text()


_counts = {"total": 0, "failed": 0, "statistical": 0, "skipped": 0}
_settings: dict = {"data_source": None}


def reset_claims(data_source: str | None = None) -> None:
    """Start counting afresh (``start_notebook`` calls it with the notebook's ``DATA_SOURCE``)."""
    _counts.update(total=0, failed=0, statistical=0, skipped=0)
    _settings["data_source"] = data_source


def _data_source() -> str:
    source = _settings["data_source"]
    if source is None:  # start_notebook was not told: read the parameters cell's variable
        try:
            from IPython import get_ipython

            ip = get_ipython()
            source = ip.user_ns.get("DATA_SOURCE") if ip is not None else None
        except ImportError:
            source = None
    return str(source or "toy")


STRICT_CLAIMS_ENV = "COURSEKIT_STRICT_CLAIMS"


def _strict() -> bool:
    """Claims are enforced on the generated toy data, whose figures the lesson was written from,
    unless ``COURSEKIT_STRICT_CLAIMS=0`` (toy data at other sizes than the lesson's, where a claim
    may fail without the lesson being wrong: it is then shown as not holding, like on real data)."""
    return _data_source() == "toy" and os.environ.get(STRICT_CLAIMS_ENV, "1").strip() != "0"


def claim(condition, statement: str, *, _statistical: bool = False, _test: dict | None = None) -> None:
    """State a measured result: show "✓ statement" when ``condition`` holds.

    ``statement`` is an f-string that shows the numbers the condition compares. When the condition
    is false, raises :class:`ClaimError` on toy data and shows a visible "does not hold on this
    data" line on any other data. Returns nothing (so a cell that ends with a claim shows it once);
    :func:`claim_counts` tells how many held.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("claim(condition, statement): the statement must be a non-empty string "
                        "(an f-string that shows the figures)")
    try:
        holds = bool(condition)
    except (TypeError, ValueError) as exc:  # e.g. a whole array: ambiguous truth value
        raise TypeError(f"claim(condition, statement): the condition must be one true/false value, "
                        f"got {type(condition).__name__} ({exc})") from None
    result = Claim(" ".join(statement.split()), holds, _strict(), test=_test)
    _counts["total"] += 1
    _counts["statistical"] += bool(_statistical)
    if not holds:
        _counts["failed"] += 1
        if result.strict:
            _show(result)
            raise ClaimError(
                f"the lesson claims '{result.statement}', but the toy data no longer supports it. "
                "Rewrite the sentence from the figures (or ask it as an open question); do not tune "
                "the data or the evaluation to make it hold."
            )
    _show(result)


def skip_claim(statement: str, reason: str) -> None:
    """Say visibly that a claim of the lesson is not checked on this data, and why (for example a
    figure that needs 30Music's sessions, on a data set without sessions). Counted in
    ``claims/skipped``, never in ``claims/failed``; never silent."""
    _check_statement(statement)
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError("skip_claim(statement, reason): say why the claim cannot be checked on this data")
    _counts["skipped"] += 1
    _show(Claim(" ".join(statement.split()), None, _strict(), " ".join(reason.split())))


def claim_counts() -> dict[str, int]:
    """{"total": claims made so far, "failed": those that did not hold, "statistical": those made
    through :func:`claim_better`, :func:`claim_similar` or :func:`claim_not_better`}."""
    return dict(_counts)


def record_claims() -> dict[str, int]:
    """Record ``claims/total``, ``claims/failed`` and ``claims/statistical`` (call once, at the end
    of a notebook), and ``claims/skipped`` when a claim was skipped on this data."""
    counts = claim_counts()
    for name in ("total", "failed", "statistical", "skipped"):
        if name != "skipped" or counts[name]:
            record(f"claims/{name}", counts[name])
    return counts


# --------------------------------------------------------------------------- statistical claims

def _check_statement(statement) -> None:
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("the statement must be a non-empty string (an f-string that shows the figures)")


def _joined(statement: str, detail: str) -> str:
    return f"{statement.rstrip().rstrip('.:;,')} ({detail})"


def claim_better(a, b, statement: str, *, test: str = "t", alpha: float = 0.05, over: str = "users",
                 higher_is_better: bool = True, n_boot: int = 5000, seed: int = 0, digits: int = 3) -> Comparison:
    """State that ``a`` beats ``b``: holds only when a two-sided paired test (``test``: "t",
    "wilcoxon" or "bootstrap") is significant at ``alpha`` and the mean difference points the right
    way (``higher_is_better``; False for losses, ranks, errors).

    ``a``, ``b``: paired per-user figures (one value per user, the same users in the same order),
    or per-seed figures (``over="seeds"``, both arms run on the same seeds). The statement is shown
    with the mean difference, its confidence interval, the test, its p-value and ``n``. Returns the
    :class:`~coursekit.stats.Comparison`.
    """
    from .stats import paired_comparison

    _check_statement(statement)
    result = paired_comparison(a, b, test=test, level=1 - alpha, over=over, n_boot=n_boot, seed=seed)
    claim(result.better(alpha, higher_is_better), _joined(statement, result.describe(digits)), _statistical=True,
          _test={"p": result.p, "alpha": alpha})
    return result


def claim_similar(a, b, margin: float, statement: str, *, alpha: float = 0.05, over: str = "users",
                  digits: int = 3) -> Equivalence:
    """State that ``a`` and ``b`` are about the same: an equivalence test (two one-sided paired
    t-tests, TOST) that the mean difference lies within ``(-margin, margin)`` at ``alpha``.

    Choose ``margin`` before looking, as the smallest difference that would matter (say the size of
    a gain the paper reports). A difference that is merely not significant is *not* similarity:
    with few users or seeds the test cannot confirm it, and the claim fails.
    """
    from .stats import equivalence_test

    _check_statement(statement)
    result = equivalence_test(a, b, margin, alpha=alpha, over=over, kind="similar")
    claim(result.holds(), _joined(statement, result.describe(digits)), _statistical=True,
          _test={"p": result.p_value, "alpha": alpha})
    return result


def claim_not_better(a, b, margin: float, statement: str, *, alpha: float = 0.05, over: str = "users",
                     higher_is_better: bool = True, digits: int = 3) -> Equivalence:
    """State that ``a`` is no better than ``b``: a one-sided paired t-test (non-superiority) that
    ``a`` does not beat ``b`` by ``margin`` or more (``higher_is_better=False``: by being lower).
    The statement shows ``a``'s advantage (mean(a - b), or mean(b - a) for lower-is-better
    figures) with its interval, which must stay below ``margin``."""
    from .stats import equivalence_test

    _check_statement(statement)
    if higher_is_better:
        result = equivalence_test(a, b, margin, alpha=alpha, over=over, kind="not_better")
    else:
        result = equivalence_test(b, a, margin, alpha=alpha, over=over, kind="not_better")
    claim(result.holds(), _joined(statement, result.describe(digits)), _statistical=True,
          _test={"p": result.p_value, "alpha": alpha})
    return result


class Comparisons:
    """Several paired comparisons of one family (one table), Holm-adjusted.

    ``scores``: {name: per-user (or per-seed) figures, the same users in the same order};
    ``pairs``: [(name_a, name_b), ...]. :meth:`table` shows every comparison with its difference,
    interval, raw and Holm-adjusted p-value; :meth:`claim_better` states one of them with the
    adjusted p-value (the table is what the reader compares, so the family is corrected as one).
    """

    def __init__(self, scores: dict, pairs, *, test: str = "t", alpha: float = 0.05, over: str = "users",
                 n_boot: int = 5000, seed: int = 0):
        from .stats import holm, paired_comparison

        self.scores, self.alpha, self.over = dict(scores), alpha, over
        self.pairs = [tuple(p) for p in pairs]
        if not self.pairs:
            raise ValueError("compare(scores, pairs): give at least one pair of names")
        unknown = sorted({n for p in self.pairs for n in p} - set(self.scores))
        if unknown:
            raise KeyError(f"no scores for {', '.join(map(repr, unknown))}; known: {', '.join(map(repr, self.scores))}")
        raw = [paired_comparison(self.scores[x], self.scores[y], test=test, level=1 - alpha, over=over,
                                 n_boot=n_boot, seed=seed) for x, y in self.pairs]
        adjusted = holm([c.p_value for c in raw]) if len(raw) > 1 else [None]
        self.results = {pair: replace(c, p_adjusted=None if a is None else float(a))
                        for pair, c, a in zip(self.pairs, raw, adjusted)}

    def __getitem__(self, pair) -> Comparison:
        return self.results[tuple(pair)]

    def table(self):
        """One row per comparison: means, difference, interval, p-value and Holm-adjusted p-value."""
        import pandas as pd

        rows = [{"a": x, "b": y, "mean a": c.mean_a, "mean b": c.mean_b, "difference": c.diff,
                 "ci low": c.ci_low, "ci high": c.ci_high, "p": c.p_value,
                 "p (Holm)": c.p if c.p_adjusted is not None else c.p_value,
                 f"significant at {self.alpha:g}": c.p < self.alpha} for (x, y), c in self.results.items()]
        return pd.DataFrame(rows)

    def claim_better(self, a: str, b: str, statement: str, *, higher_is_better: bool = True,
                     digits: int = 3) -> Comparison:
        _check_statement(statement)
        result = self.results.get((a, b))
        if result is None:
            raise KeyError(f"({a!r}, {b!r}) is not one of the pairs compared: {self.pairs}")
        claim(result.better(self.alpha, higher_is_better), _joined(statement, result.describe(digits)),
              _statistical=True, _test={"p": result.p, "alpha": self.alpha})
        return result


def compare(scores: dict, pairs, **kwargs) -> Comparisons:
    """:class:`Comparisons` of ``pairs`` of ``scores`` (see there); Holm-adjusted when more than one."""
    return Comparisons(scores, pairs, **kwargs)


def _show(result: Claim) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None:
        meta = {"statement": result.statement, "holds": result.holds}
        if result.holds is None:
            meta["reason"] = result.reason
        if result.test:
            meta.update(result.test)
        display({"text/plain": result.as_text(), "text/html": result.as_html()}, raw=True,
                metadata={METADATA_KEY: meta})
    else:
        print(result.as_text())
