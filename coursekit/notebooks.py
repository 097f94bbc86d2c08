"""Execute notebooks in fresh kernels and export them to self-contained HTML."""

from __future__ import annotations

import ast
import json
import re
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .errors import DataError
from .recording import ENV_NOTEBOOK, ENV_RECORD

STRICT_ENV = "COURSEKIT_STRICT_CHECKS"


def kernel_environment(**values) -> dict[str, str]:
    """The environment for a kernel process: this process's, with ``values`` set (``None``
    removes a variable). ``os.environ`` itself is never changed, so kernels started from two
    threads (the grader's ``--jobs``) cannot swap each other's variables."""
    return {k: str(v) for k, v in {**os.environ, **values}.items() if v is not None}


@dataclass
class KernelSession:
    """How to start a quiet kernel: ``NotebookClient(..., kernel_manager_class=...)`` and
    ``client.execute(**start_kwargs)``; the kernel process's own output goes to ``log``."""
    kernel_manager_class: type
    start_kwargs: dict
    log: str

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def kernel_session(folder: str | None = None, wrap=None, env: dict | None = None):
    """A kernel on IPC transport (Unix sockets in a private folder; no TCP ports, no "running over
    TCP without encryption" warning) whose process output (kernel log lines, C-level library
    noise) goes to a log file instead of the terminal. TCP where IPC is not available (Windows).

    ``folder``: where the sockets, the connection file and the log go (default: a new temporary
    folder); ``wrap(cmd) -> cmd``: wraps the kernel command (the grader's sandbox); ``env``: the
    environment of the kernel process (default: this process's)."""
    from jupyter_client.manager import AsyncKernelManager  # nbclient's own default: async all the way

    with tempfile.TemporaryDirectory(prefix="ck-kernel-") as tmp:
        folder = folder or tmp
        log_path = os.path.join(folder, "kernel.log")
        if os.name == "posix":
            socket_base = os.path.join(folder, "k")

            class IPCKernelManager(AsyncKernelManager):
                def __init__(self, **kwargs):
                    kwargs.setdefault("transport", "ipc")
                    kwargs.setdefault("ip", socket_base)
                    kwargs.setdefault("connection_file", os.path.join(folder, "kernel.json"))
                    super().__init__(**kwargs)

                def format_kernel_cmd(self, extra_arguments=None):
                    cmd = super().format_kernel_cmd(extra_arguments)
                    return wrap(cmd) if wrap is not None else cmd

            manager = IPCKernelManager
        else:  # pragma: no cover - no IPC transport on Windows
            manager = AsyncKernelManager
        with open(log_path, "wb") as log:
            start = {"stdout": log, "stderr": log}
            if env is not None:
                start["env"] = env
            yield KernelSession(manager, start, log_path)


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
    The kernel runs quietly (:func:`kernel_session`): nothing of it reaches the terminal.
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
    start = time.perf_counter()
    with kernel_session(env=kernel_environment(**extra)) as session:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors, record_timing=False,
            resources={"metadata": {"path": str(cwd or ".")}}, kernel_manager_class=session.kernel_manager_class,
        )
        client.execute(**session.start_kwargs)
    return nb, time.perf_counter() - start


PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


def parse_parameter(text: str) -> tuple[str, object]:
    """``"NAME=VALUE"`` -> (name, value): VALUE is a Python literal (``3``, ``0.5``, ``"real"``,
    ``[1, 2]``, ``True``) or else taken as a plain string (``DATA_SOURCE=real``). Never evaluated
    as code."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise DataError(f"parameter {text!r} is not NAME=VALUE", fix="write it as -p DATA_SOURCE=real")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = raw.strip()
    return name, value


def parameter_names(nb: nbformat.NotebookNode) -> tuple[int, list[str]]:
    """(index of the cell tagged ``parameters``, the names it assigns)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return index, []
            names = [t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                     for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                     if isinstance(t, ast.Name)]
            return index, names
    return -1, []


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict, name: str = "notebook") -> nbformat.NotebookNode:
    """Papermill-style: a cell tagged ``injected-parameters`` after the ``parameters`` cell that
    sets each name to its value. Unknown names are an error naming the notebook and the names it
    has (so a typo does not silently run the default)."""
    if not parameters:
        return nb
    index, known = parameter_names(nb)
    if index < 0:
        raise DataError("no cell tagged 'parameters'", path=name,
                        fix="tag the first code cell 'parameters' (View > Cell toolbar > Tags)")
    unknown = [k for k in parameters if k not in known]
    if unknown:
        raise DataError(f"unknown parameter {', '.join(unknown)}", path=name,
                        fix=f"use one of the names of its parameters cell: {', '.join(known)}")
    lines = ["# Parameters set by `coursekit build -p`"] + [f"{k} = {v!r}" for k, v in parameters.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = [INJECTED_TAG]
    nb.cells.insert(index + 1, cell)
    return nb


def to_html(nb: nbformat.NotebookNode, *, header_html: str = "", sanitize: bool = False,
            mathjax: str = "inline") -> str:
    """Self-contained HTML of a notebook that reads offline: images embedded as data URIs, math
    typeset by the kit's own MathJax (``mathjax``: "inline", or the URL of a bundle written with
    :func:`coursekit.mathjax.write_bundle`), no script or style fetched from a CDN;
    ``header_html`` first.

    ``sanitize=True`` (pages built from someone else's notebook, such as a student's feedback)
    passes the notebook's markdown and outputs through an allow-list (:mod:`coursekit.sanitize`):
    headings, lists, tables, figures and the kit's check and claim boxes stay; scripts, event
    handlers and remote loads go, so opening the page runs none of its code."""
    from nbconvert import HTMLExporter

    from .mathjax import script_tags
    from .sanitize import clean_html

    exporter = HTMLExporter(template_name="lab", sanitize_html=sanitize, filters={"clean_html": clean_html})
    body, _ = exporter.from_notebook_node(_without_records(nb))
    body = _offline(body, script_tags(mathjax))
    if header_html:
        marker = '<main>' if '<main>' in body else '<body'
        if marker == '<main>':
            body = body.replace('<main>', '<main>' + header_html, 1)
        else:
            pos = body.index('>', body.index('<body')) + 1
            body = body[:pos] + header_html + body[pos:]
    return body


_CDN_SCRIPT_RE = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.I)
_NB_MATHJAX_RE = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->\s*", re.S)
_MODULE_SCRIPT_RE = re.compile(r'<script type="module">(?:(?!</script>).)*?https?://(?:(?!</script>).)*?</script>\s*',
                               re.S)


def _offline(page: str, mathjax_tags: str) -> str:
    """nbconvert's page without anything it would fetch from a CDN (require.js, MathJax, mermaid),
    with the kit's MathJax in their place."""
    page = _NB_MATHJAX_RE.sub("", page)
    page = _CDN_SCRIPT_RE.sub("", page)
    page = _MODULE_SCRIPT_RE.sub("", page)
    return page.replace("</head>", mathjax_tags + "\n</head>", 1)


def _without_records(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without the machine-readable record bundles (``coursekit.record`` keeps each value
    in the outputs for placeholders; a page shows only the "[record] ..." text)."""
    from .recording import RECORD_MIME

    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and RECORD_MIME in data:
                data.pop(RECORD_MIME)
                if not data:
                    continue
            kept.append(out)
        cell["outputs"] = kept
    return nb


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
