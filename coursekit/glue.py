"""Placeholders: model answers and rubrics quote measured figures from the run, never by hand.

In the spirit of myst-nb's ``glue``: a notebook records a figure with :func:`coursekit.record`
(``record("hr@10/retrieval", hr, quiet=True)`` when it should not be printed), and any markdown
cell quotes it::

    Retrieval finds a test purchase for {{hr@10/retrieval:.1%}} of customers, user-kNN for
    {{hr@10/userknn:.1%}}; on the real ASOS data {{real::hr@10/retrieval:.4f}}.

- ``{{name}}`` or ``{{name:format}}`` (a Python format spec): the value recorded under ``name`` in
  the same run of the notebook (read back from its outputs, :func:`notebook_records`);
- ``{{source::name:format}}``: the value recorded when the unit last ran on another data set,
  read from its committed results page ``docs/results/NN-source.md`` (:mod:`coursekit.results`).

``coursekit build`` fills them in the HTML it writes (a placeholder that names no record fails the
build on toy data), ``coursekit grade`` in the rubric and model answer of each question page,
``coursekit release`` in whatever markdown students see. A number in a model answer or rubric that
is neither a placeholder nor listed as a fixed constant (``<!-- fixed: 0.05, 0.7151 -->``: a
significance level, a figure quoted from a paper) fails the test suite
(``tests/test_model_answers.py``, :func:`hand_written_figures`).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from .recording import RECORD_MIME

__all__ = ["PLACEHOLDER_RE", "fill", "fill_notebook", "hand_written_figures", "notebook_records"]

PLACEHOLDER_RE = re.compile(r"\{\{\s*(?:(?P<source>[A-Za-z0-9_-]+)::)?(?P<name>[^:{}\s]+)(?::(?P<format>[^{}]*?))?\s*\}\}")
FIXED_RE = re.compile(r"<!--\s*fixed:(?P<numbers>.*?)-->", re.S)
FIGURE_RE = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+)(?:\s?%)?(?![\w])")
CODE_RE = re.compile(r"`[^`]*`")
REFERENCE_RE = re.compile(r"(?:[Ss]ection|\u00a7|[Tt]able|[Ff]ig(?:ure)?\.?|[Ee]q(?:uation)?\.?|[Cc]hapter|[Cc]h\.|"
                          r"[Uu]nit|[Cc]ell|[Vv]ersion|v)\s*\d+(?:\.\d+)*")


class PlaceholderError(KeyError):
    """A placeholder names a figure the run did not record."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


def notebook_records(nb: nbformat.NotebookNode) -> dict[str, object]:
    """{name: value} of every :func:`coursekit.record` in an executed notebook's outputs (the last
    one wins when a name is recorded twice)."""
    found: dict[str, object] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = out.get("data", {}).get(RECORD_MIME)
            if isinstance(data, dict) and "name" in data:
                found[str(data["name"])] = data.get("value")
    return found


def _format(value, spec: str | None) -> str:
    if value is None:
        return "n/a"
    if not spec:
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    try:
        return format(value, spec)
    except (ValueError, TypeError) as exc:
        raise PlaceholderError(f"cannot format {value!r} with '{spec}' ({exc})") from None


def fill(text: str, records: dict[str, object], *, results_dir: str | Path | None = None, unit: str | None = None,
         missing: str = "raise") -> str:
    """``text`` with every placeholder replaced by its figure.

    ``records``: {name: value} of this run; ``results_dir`` and ``unit`` ("04") locate the results
    pages that ``{{source::name}}`` reads. ``missing``: "raise" (:class:`PlaceholderError` naming
    the placeholder) or "mark" (shown as "⟨name: not recorded⟩" so a reader sees the gap).
    """
    pages: dict[str, dict] = {}

    def value_of(match: re.Match) -> str:
        source, name, spec = match.group("source"), match.group("name"), match.group("format")
        values = records
        if source:
            if source not in pages:
                pages[source] = _page_records(results_dir, unit, source)
            values = pages[source]
        if name not in values:
            where = f"the results page of unit {unit} on '{source}'" if source else "this run"
            if missing == "raise":
                raise PlaceholderError(f"placeholder {match.group(0)} names no figure recorded in {where}; "
                                       f"record it with coursekit.record({name!r}, value) or fix the name")
            return f"\u27e8{name}: not recorded\u27e9"
        return _format(values[name], spec)

    return PLACEHOLDER_RE.sub(value_of, text)


def _page_records(results_dir, unit, source) -> dict:
    from .results import read_results_page, results_path

    if results_dir is None or unit is None:
        return {}
    path = results_path(unit, source, results_dir)
    if not path.exists():
        return {}
    return read_results_page(path)["records"]


def fill_notebook(nb: nbformat.NotebookNode, records: dict | None = None, *, results_dir=None, unit=None,
                  missing: str = "raise") -> nbformat.NotebookNode:
    """A copy of ``nb`` whose markdown cells have their placeholders filled (``records``: default
    the notebook's own, :func:`notebook_records`)."""
    nb = nbformat.from_dict(nb)
    records = notebook_records(nb) if records is None else records
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown" and "{{" in cell.source:
            cell.source = fill(cell.source, records, results_dir=results_dir, unit=unit, missing=missing)
    return nb


def _number(text: str) -> float | None:
    text = text.replace(",", "").replace("%", "").strip()
    try:
        return float(text)
    except ValueError:
        return None


def hand_written_figures(text: str) -> list[str]:
    """The figures in ``text`` written by hand: decimals (0.736, .72), percentages (17.5 %) and
    numbers with thousands separators (29,696) that are not inside a placeholder, inline code or
    a ``<!-- fixed: ... -->`` list of constants. Plain small integers (top 10, 5 seeds, 2 points)
    are counts and settings, not measured figures, and pass; so do references ("section 5.2",
    "Table 2")."""
    fixed = {n for m in FIXED_RE.finditer(text) for n in map(_number, FIGURE_RE.findall(m.group("numbers")))
             if n is not None}
    body = FIXED_RE.sub(" ", text)
    body = PLACEHOLDER_RE.sub(" ", body)
    body = CODE_RE.sub(" ", body)
    body = REFERENCE_RE.sub(" ", body)  # "section 5.2", "Table 2": references, not figures
    found = []
    for match in FIGURE_RE.finditer(body):
        token = match.group(0)
        is_figure = "." in token or "%" in token or "," in token
        if not is_figure:
            continue
        value = _number(token)
        if value is not None and value in fixed:
            continue
        found.append(token)
    return found
