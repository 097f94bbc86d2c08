"""``record``: the headline figures of a notebook (metrics, timings), as JSON lines.

The lowest layer of the notebook helpers: it imports nothing of coursekit. The session helpers
(``start_notebook``, ``record_runtime``) are in :mod:`coursekit.session`, claims in
:mod:`coursekit.claims`; both build on this module.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

ENV_RECORD = "COURSEKIT_RECORD"
ENV_NOTEBOOK = "COURSEKIT_NOTEBOOK"

_state: dict = {"notebook": None}  # the notebook's file name, set by coursekit.session.start_notebook


def set_notebook(name: str) -> None:
    """Name the running notebook for :func:`record` (``coursekit.start_notebook`` calls it)."""
    _state["notebook"] = Path(str(name)).name


def current_notebook() -> str:
    """File name of the running notebook: ``COURSEKIT_NOTEBOOK``, else the name given to
    :func:`start_notebook`, else what Jupyter tells the kernel, else ``"unknown"``."""
    name = os.environ.get(ENV_NOTEBOOK) or _state["notebook"]
    if not name:
        try:
            from IPython import get_ipython

            ip = get_ipython()
            name = ip.user_ns.get("__session__") if ip is not None else None
        except ImportError:
            name = None
    name = name or os.environ.get("JPY_SESSION_NAME") or "unknown"
    return Path(str(name)).name


def _jsonable(value):
    if hasattr(value, "item"):  # numpy and torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


RECORD_MIME = "application/vnd.coursekit.record+json"
"""The mime type of a record in a notebook's outputs: ``{"name": ..., "value": ...}``. Front ends
that do not know it show nothing for it; :func:`coursekit.glue.notebook_records` reads it back, so
an executed notebook carries its own figures (model answers quote them through placeholders)."""


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def record(name: str, value, *, quiet: bool = False):
    """Record a headline figure of the notebook (a metric, a timing).

    When ``COURSEKIT_RECORD`` names a file, one JSON line
    ``{"notebook": ..., "name": ..., "value": ...}`` is appended to it. In a notebook the value is
    shown ("[record] name = value"; nothing with ``quiet=True``) and kept, exact, in the cell's
    output (:data:`RECORD_MIME`), so that model answers can quote it (``{{name:.3f}}``, see
    :mod:`coursekit.glue`). Returns ``value`` so a cell can record and use a figure in one line.
    """
    v = _jsonable(value)
    path = os.environ.get(ENV_RECORD)
    if path:
        line = json.dumps({"notebook": current_notebook(), "name": str(name), "value": v})
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    text = f"[record] {name} = {f'{v:.4f}' if isinstance(v, float) else repr(v)}"
    if _in_kernel():
        from IPython.display import display

        bundle = {RECORD_MIME: {"name": str(name), "value": v}}
        if not quiet:
            bundle["text/plain"] = text
        display(bundle, raw=True)
    elif not quiet:
        print(text)
    return value


def is_timing(name: str) -> bool:
    """Whether a record is a timing (named ``*_s``: seconds, pairs per second, ...). Timings vary
    from run to run; every other record must be identical when a notebook runs twice."""
    return str(name).endswith("_s")


def read_records(path: str | os.PathLike) -> list[dict]:
    """The records of a ``COURSEKIT_RECORD`` file, in order."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
