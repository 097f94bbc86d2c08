"""Execute notebooks in fresh kernels and export them to self-contained HTML."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat

from .recording import ENV_NOTEBOOK, ENV_RECORD

STRICT_ENV = "COURSEKIT_STRICT_CHECKS"


@contextmanager
def _environ(**values):
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = str(v)
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute_notebook(
    nb_or_path,
    *,
    cwd: str | os.PathLike | None = None,
    timeout: int = 600,
    env: dict | None = None,
    allow_errors: bool = False,
    name: str | None = None,
) -> tuple[nbformat.NotebookNode, float]:
    """Run every cell in a fresh ``python3`` kernel; return (executed notebook, seconds).

    ``timeout`` is per cell. ``env`` adds environment variables for the kernel. Raises
    ``nbclient.exceptions.CellExecutionError`` on the first failing cell unless ``allow_errors``.
    """
    from nbclient import NotebookClient

    if isinstance(nb_or_path, (str, os.PathLike)):
        path = Path(nb_or_path)
        nb = nbformat.read(path, as_version=4)
        name = name or path.name
        cwd = cwd or path.parent
    else:
        nb = nb_or_path
    extra = {ENV_NOTEBOOK: name or "notebook.ipynb", "TF_CPP_MIN_LOG_LEVEL": "3",
             "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors, record_timing=False,
        resources={"metadata": {"path": str(cwd or ".")}},
    )
    start = time.perf_counter()
    with _environ(**extra):
        client.execute()
    return nb, time.perf_counter() - start


def to_html(nb: nbformat.NotebookNode, *, header_html: str = "") -> str:
    """Self-contained HTML of a notebook: images embedded as data URIs; ``header_html`` first."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    if header_html:
        marker = '<main>' if '<main>' in body else '<body'
        if marker == '<main>':
            body = body.replace('<main>', '<main>' + header_html, 1)
        else:
            pos = body.index('>', body.index('<body')) + 1
            body = body[:pos] + header_html + body[pos:]
    return body


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def check_results(nb: nbformat.NotebookNode) -> dict[str, dict]:
    """The outcome of every ``check(...)`` displayed in an executed notebook: {exercise: meta}."""
    found: dict[str, dict] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("coursekit")
            if meta and "exercise" in meta:
                found[meta["exercise"]] = dict(meta)
    return found


def records_from_file(path) -> list[dict]:
    if not Path(path).exists():
        return []
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
