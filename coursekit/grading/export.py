"""``coursekit export``: one HTML file a student uploads: a summary of the checks on top, the
executed notebook below, and the notebook itself embedded, so the file is a gradable submission.

The notebook (outputs cleared) is embedded at the end of the page as
``<script type="application/json" id="coursekit-notebook" data-sha256="...">`` holding
``{"format": 1, "name": ..., "sha256": ..., "notebook": "<the .ipynb text>"}``; ``<``, ``>`` and
``&`` are written as JSON escapes so the block cannot close itself. :func:`read_exported` gives the
notebook back after checking it against its sha256 (an edited or truncated file is refused) and the
statuses the summary claims; ``coursekit grade`` re-runs the notebook and shows the claims only
beside its own result.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import nbformat

from ..errors import DataError
from ..notebooks import check_results, execute_notebook, to_html, write_text_atomic
from .checks import NOT_ATTEMPTED, PASSED, get_exercise
from .release import exercise_ids

STATUS_STYLE = {
    "passed": "background:#e6f4ea;color:#1b7f3b",
    "failed": "background:#fce8e6;color:#b3261e",
    "error": "background:#fce8e6;color:#b3261e",
    "not attempted": "background:#fef7e0;color:#8a6d00",
}


def summarise(nb: nbformat.NotebookNode) -> list[dict]:
    """One row per exercise of the notebook: id, title, points, status, message, and the hint the
    check showed (none when not attempted or passed; the second hint after a second failure)."""
    results = check_results(nb)
    rows = []
    for ex_id in exercise_ids(nb):
        try:
            ex = get_exercise(ex_id)
            title, points = ex.title, ex.points
        except KeyError:
            title, points = "", 1
        res = results.get(ex_id, {})
        status = res.get("status", NOT_ATTEMPTED)
        rows.append({
            "exercise": ex_id,
            "title": title,
            "points": points,
            "status": status,
            "message": res.get("message", "" if res else "the check did not run"),
            "hint": res.get("hint", "") if status not in (PASSED, NOT_ATTEMPTED) else "",
        })
    return rows


def questions_at_template(nb: nbformat.NotebookNode) -> list[str]:
    """The graded written questions whose block still shows the answer template
    (``_Write your answer here._``), in order."""
    from .release import ANSWER_PROMPT
    from .written import _blocks

    left = []
    for cell in nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        lines = cell.get("source", "").splitlines()
        for qid, start, end in _blocks(cell.get("source", "")):
            if qid and any(l.strip() == ANSWER_PROMPT for l in lines[start:end]) and qid not in left:
                left.append(qid)
    return left


def summary_html(rows: list[dict], heading: str = "Exercise summary", template: list[str] | None = None) -> str:
    passed = sum(r["status"] == "passed" for r in rows)
    left = ""
    if template:
        left = ('<p id="ck-template" data-questions="' + html.escape(" ".join(template)) + '">'
                f"<b>{len(template)} written question(s) still show the answer template</b> "
                f"({html.escape(', '.join(template))}): replace <i>Write your answer here.</i> with your answer "
                "(or delete that line if you answered in a cell below it).</p>")
    body = []
    for r in rows:
        hint = "" if r["status"] == "passed" else r["hint"]
        body.append(
            f'<tr class="ck-row" data-exercise="{html.escape(r["exercise"])}" data-status="{html.escape(r["status"])}">'
            f"<td><code>{html.escape(r['exercise'])}</code></td><td>{html.escape(r['title'])}</td>"
            f"<td>{r.get('points', 1)}</td>"
            f'<td class="ck-status" style="{STATUS_STYLE.get(r["status"], "")}">{html.escape(r["status"])}</td>'
            f"<td>{html.escape(r['message'])}</td><td>{html.escape(hint)}</td></tr>"
        )
    return (
        '<section id="coursekit-summary" style="font-family:sans-serif;margin:1em 2em;'
        'padding:1em;border:1px solid #ccc;border-radius:6px">'
        f'<h2 style="margin-top:0">{html.escape(heading)}</h2>'
        f'<p id="ck-score" data-passed="{passed}" data-total="{len(rows)}">'
        f"<b>{passed} of {len(rows)}</b> exercises passed.</p>{left}"
        '<table id="ck-table" style="border-collapse:collapse" border="1" cellpadding="4">'
        "<thead><tr><th>exercise</th><th>title</th><th>points</th><th>status</th><th>message</th><th>hint</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></section>"
    )


def export_notebook(path, output=None, *, execute: bool = True, timeout: int = 600) -> Path:
    """Execute ``path`` (unless ``execute=False``), then write HTML with the check summary on top."""
    path = Path(path)
    if not path.exists():
        raise DataError("notebook not found", path=path, fix="give the path of your .ipynb file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # malformed JSON, wrong format
        raise DataError(f"not a readable notebook ({type(exc).__name__})", path=path,
                        fix="open it in JupyterLab and save it again") from None
    submitted = nbformat.from_dict(nb)
    if execute:
        nb, _ = execute_notebook(nb, cwd=path.parent, timeout=timeout, allow_errors=True, name=path.name)
    output = Path(output) if output else path.with_suffix(".html")
    page = to_html(nb, header_html=summary_html(summarise(nb), template=questions_at_template(submitted)))
    write_text_atomic(output, embed_notebook(page, submitted, path.name))
    return output


# --------------------------------------------------------------------------- the embedded notebook

SCRIPT_ID = "coursekit-notebook"
_SCRIPT_RE = re.compile(r'<script type="application/json" id="' + SCRIPT_ID + r'"([^>]*)>(.*?)</script>', re.S)
_ROW_RE = re.compile(r'<tr class="ck-row"(?: data-exercise="([^"]*)")? data-status="([^"]*)">\s*<td><code>([^<]*)</code>')


class ExportError(ValueError):
    """An exported HTML that cannot be graded (says why, in one line)."""


def _notebook_text(nb: nbformat.NotebookNode) -> str:
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nbformat.writes(nb)


def embed_notebook(page: str, nb: nbformat.NotebookNode, name: str) -> str:
    """``page`` with the notebook (outputs cleared) and its sha256 in a JSON script block."""
    text = _notebook_text(nb)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    payload = json.dumps({"format": 1, "name": name, "sha256": digest, "notebook": text})
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    block = (f'<script type="application/json" id="{SCRIPT_ID}" data-sha256="{digest}" '
             f'data-name="{html.escape(name)}">{payload}</script>')
    pos = page.rfind("</body>")
    return page[:pos] + block + "\n" + page[pos:] if pos >= 0 else page + block


def read_exported(path) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """(the embedded notebook, {exercise: status} the page's summary claims). Raises
    :class:`ExportError` when there is no embedded notebook or it does not match its sha256."""
    try:
        page = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ExportError(f"cannot read the HTML ({exc.strerror or exc})") from None
    return parse_exported(page)


def parse_exported(page: str) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """:func:`read_exported` of a page's text."""
    matches = list(_SCRIPT_RE.finditer(page))
    match = matches[-1] if matches else None  # the exporter writes its block last
    if match is None:
        raise ExportError("no notebook embedded in this HTML: hand in the file `coursekit export` writes "
                          "(or the .ipynb)")
    attributes, body = match.groups()
    try:
        payload = json.loads(body)
        text, claimed_digest = payload["notebook"], payload["sha256"]
        if not isinstance(text, str) or not isinstance(claimed_digest, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ExportError("the notebook embedded in this HTML is damaged (not the JSON `coursekit export` "
                          "writes); export it again") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    attribute = re.search(r'data-sha256="([0-9a-f]{64})"', attributes)
    if digest != claimed_digest or attribute is None or attribute.group(1) != digest:
        raise ExportError("the notebook embedded in this HTML does not match its sha256 (the file was changed "
                          "after export); export it again")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise ExportError(f"the notebook embedded in this HTML is not readable ({type(exc).__name__}); "
                          "export it again") from None
    summary = page[:page.find("</section>") + 1] if "</section>" in page else ""
    claimed = {}
    for exercise, status, code in _ROW_RE.findall(summary):
        claimed.setdefault(html.unescape(exercise or code), html.unescape(status))
    return nb, claimed
