"""``coursekit export``: one HTML file a student uploads, with a summary of the checks on top."""

from __future__ import annotations

import html
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


def summary_html(rows: list[dict], heading: str = "Exercise summary") -> str:
    passed = sum(r["status"] == "passed" for r in rows)
    body = []
    for r in rows:
        hint = "" if r["status"] == "passed" else r["hint"]
        body.append(
            f'<tr class="ck-row" data-status="{html.escape(r["status"])}">'
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
        f"<b>{passed} of {len(rows)}</b> exercises passed.</p>"
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
    if execute:
        nb, _ = execute_notebook(nb, cwd=path.parent, timeout=timeout, allow_errors=True, name=path.name)
    output = Path(output) if output else path.with_suffix(".html")
    write_text_atomic(output, to_html(nb, header_html=summary_html(summarise(nb))))
    return output
