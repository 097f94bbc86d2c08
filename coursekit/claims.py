"""``claim``: the one way a notebook states a measured result.

A lesson that says "Euclidean beats cosine here" must be true of the figures it sits under. Write
it as a claim next to the figure::

    claim(ndcg["euclidean"] > ndcg["cosine"],
          f"Euclidean ranks better than cosine: nDCG@10 {ndcg['euclidean']:.3f} vs {ndcg['cosine']:.3f}")

- When the condition holds, the notebook shows "✓ statement".
- When it does not hold on the toy data (``DATA_SOURCE = "toy"``, the default), ``ClaimError`` is
  raised: the lesson no longer follows from the figures, and CI (nbval, ``coursekit build``) fails
  instead of teaching it.
- On real data the same claim may legitimately fail: the notebook shows a visible
  "✗ does not hold on this data: statement — discuss why" and goes on.

``record_claims()`` at the end of a notebook records ``claims/total`` and ``claims/failed``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["Claim", "ClaimError", "claim", "claim_counts", "record_claims", "reset_claims"]

CHECK, CROSS = "\u2713", "\u2717"
METADATA_KEY = "coursekit_claim"


class ClaimError(AssertionError):
    """A claim of the lesson that the toy data no longer supports."""


@dataclass(frozen=True)
class Claim:
    statement: str
    holds: bool
    strict: bool

    def as_text(self) -> str:
        if self.holds:
            return f"{CHECK} {self.statement}"
        return f"{CROSS} does not hold on this data: {self.statement} \u2014 discuss why"

    def as_html(self) -> str:
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


_counts = {"total": 0, "failed": 0}
_settings: dict = {"data_source": None}


def reset_claims(data_source: str | None = None) -> None:
    """Start counting afresh (``start_notebook`` calls it with the notebook's ``DATA_SOURCE``)."""
    _counts.update(total=0, failed=0)
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


def _strict() -> bool:
    """Claims are enforced on the generated toy data, whose figures the lesson was written from."""
    return _data_source() == "toy"


def claim(condition, statement: str) -> None:
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
    result = Claim(" ".join(statement.split()), holds, _strict())
    _counts["total"] += 1
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


def claim_counts() -> dict[str, int]:
    """{"total": claims made so far, "failed": those that did not hold}."""
    return dict(_counts)


def record_claims() -> dict[str, int]:
    """Record ``claims/total`` and ``claims/failed`` (call once, at the end of a notebook)."""
    from .recording import record

    counts = claim_counts()
    record("claims/total", counts["total"])
    record("claims/failed", counts["failed"])
    return counts


def _show(result: Claim) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None  # type: ignore[assignment]
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": result.as_text(), "text/html": result.as_html()}, raw=True,
                metadata={METADATA_KEY: {"statement": result.statement, "holds": result.holds}})
    else:
        print(result.as_text())
