"""``coursekit build``: execute solution notebooks in fresh kernels, export HTML and an index."""

from __future__ import annotations

import html
import json
import os
import tempfile
import traceback
from pathlib import Path

import nbformat

from .errors import DataError
from .glue import PlaceholderError, fill_notebook, notebook_records
from .mathjax import write_bundle
from .notebooks import execute_notebook, inject_parameters, to_html, write_text_atomic
from .recording import ENV_RECORD, read_records
from .results import RESULTS_DIR


def solution_paths(solutions: Path, units: list[str] | None) -> list[Path]:
    """The solution notebooks ``NN_*.ipynb`` of ``solutions``, only ``units`` (["01", "04"]) when given."""
    paths = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    if units:
        paths = [p for p in paths if p.name[:2] in units]
    if not paths:
        raise DataError("no solution notebooks found", path=solutions,
                        fix="run from the repository root, or pass --solutions")
    return paths


def _index_html(results: list[dict]) -> str:
    rows = []
    for r in results:
        figures = ", ".join(
            f"{html.escape(k)} = {v:.4g}" if isinstance(v, (int, float)) else f"{html.escape(k)} = {html.escape(str(v))}"
            for k, v in r["records"].items()
        )
        link = f'<a href="{html.escape(r["html"])}">{html.escape(r["notebook"])}</a>' if r["html"] else html.escape(r["notebook"])
        status = "ok" if r["ok"] else f"failed: {html.escape(r['error'])}"
        rows.append(f"<tr><td>{link}</td><td>{r['seconds']:.1f}</td><td>{status}</td><td>{figures}</td></tr>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>coursekit build</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}</style></head><body>"
        "<h1>Course units</h1><table id='units'><tr><th>notebook</th><th>runtime (s)</th>"
        "<th>status</th><th>recorded figures</th></tr>" + "".join(rows) + "</table></body></html>"
    )


def build(
    solutions: Path = Path("solutions"),
    out: Path = Path("build"),
    units: list[str] | None = None,
    *,
    timeout: int = 600,
    save: bool = False,
    progress: bool = True,
    parameters: dict | None = None,
    keep_notebooks: bool = False,
) -> list[dict]:
    """Execute each solution notebook and write ``out/html/<name>.html`` and ``out/html/index.html``.

    ``parameters`` ({name: value}) override the notebooks' ``parameters`` cells, papermill-style
    (``coursekit build --unit 05 -p DATA_SOURCE=real``); every name must exist in every selected
    notebook, checked before anything runs. Records go to ``out/records.jsonl`` and, when
    ``COURSEKIT_RECORD`` is set, to that file too. Returns one dict per notebook: notebook,
    seconds, ok, error, html, records. With ``progress``, one line per notebook is printed as it
    finishes (the kernels themselves stay quiet). In the HTML, model answers and rubrics of
    written questions show as boxes instead of their ``### BEGIN ...`` markers, and their
    placeholders (``{{hr@10/als:.3f}}``, :mod:`coursekit.glue`) show the figures of this run; a
    placeholder that names no record fails the notebook on the default (toy) parameters and shows
    as "not recorded" with ``parameters``. ``keep_notebooks``: each entry also holds the executed
    notebook under ``"executed"``.
    """
    from .grading.written import instructor_view

    paths = solution_paths(Path(solutions), units)
    if parameters and save:
        raise DataError("--save with -p would store another data set's outputs in the solutions",
                        path=solutions, fix="drop --save when overriding parameters")
    notebooks = {}
    for path in paths:  # read and parametrise every notebook first: a typo fails before any run
        nb = nbformat.read(path, as_version=4)
        notebooks[path] = inject_parameters(nb, parameters or {}, name=str(path))
    html_dir = Path(out) / "html"
    html_dir.mkdir(parents=True, exist_ok=True)
    bundle = write_bundle(html_dir / "mathjax")  # math typesets offline: one copy for every page
    mathjax = f"{bundle.parent.name}/{bundle.name}"
    user_record = os.environ.get(ENV_RECORD)
    results = []
    for path in paths:
        fd, rec_name = tempfile.mkstemp(prefix="records.", suffix=".jsonl")
        os.close(fd)
        entry = {"notebook": path.name, "seconds": 0.0, "ok": True, "error": "", "html": "", "records": {}}
        try:
            nb, seconds = execute_notebook(
                notebooks[path], cwd=path.parent, name=path.name, timeout=timeout,
                env={ENV_RECORD: rec_name, "COURSEKIT_STRICT_CHECKS": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
            )
            entry["seconds"] = seconds
            if save:
                nbformat.write(nb, path)
            if parameters:
                entry["parameters"] = dict(parameters)
        except Exception as exc:  # report and go on with the other notebooks
            entry["ok"] = False
            entry["error"] = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
            nb = getattr(exc, "nb", None)
            if progress:  # the failing cell and its traceback: what it takes to fix it
                traceback.print_exc()
        records = read_records(rec_name)
        os.unlink(rec_name)
        entry["records"] = {r["name"]: r["value"] for r in records}
        if records:
            lines = "".join(json.dumps(r) + "\n" for r in records)
            for target in filter(None, [user_record, str(Path(out) / "records.jsonl")]):
                with open(target, "a", encoding="utf-8") as fh:
                    fh.write(lines)
        if entry["ok"]:
            try:
                filled = fill_notebook(nb, {**notebook_records(nb), **entry["records"]},
                                       results_dir=Path(solutions).resolve().parent / RESULTS_DIR,
                                       unit=path.name[:2], missing="mark" if parameters else "raise")
            except PlaceholderError as exc:
                entry["ok"], entry["error"] = False, str(exc)
            else:
                target = html_dir / (path.stem + ".html")
                write_text_atomic(target, to_html(instructor_view(filled), mathjax=mathjax))
                entry["html"] = target.name
        if keep_notebooks and nb is not None:
            entry["executed"] = nb
        if progress:
            status = "ok" if entry["ok"] else f"FAILED: {entry['error']}"
            print(f"{path.name}: {entry['seconds']:.1f} s, {status}", flush=True)
        results.append(entry)
    write_text_atomic(html_dir / "index.html", _index_html(results))
    return results
