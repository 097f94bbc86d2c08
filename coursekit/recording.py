"""``record`` (headline figures of a notebook) and the notebook session helpers."""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

ENV_RECORD = "COURSEKIT_RECORD"
ENV_NOTEBOOK = "COURSEKIT_NOTEBOOK"

_state: dict = {"notebook": None, "start": None}


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


def record(name: str, value, *, quiet: bool = False):
    """Record a headline figure of the notebook (a metric, a timing).

    When ``COURSEKIT_RECORD`` names a file, one JSON line
    ``{"notebook": ..., "name": ..., "value": ...}`` is appended to it; the value is always shown.
    Returns ``value`` so a cell can record and use a figure in one line.
    """
    v = _jsonable(value)
    path = os.environ.get(ENV_RECORD)
    if path:
        line = json.dumps({"notebook": current_notebook(), "name": str(name), "value": v})
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    if not quiet:
        shown = f"{v:.4f}" if isinstance(v, float) else repr(v)
        print(f"[record] {name} = {shown}")
    return value


def is_timing(name: str) -> bool:
    """Whether a record is a timing (named ``*_s``: seconds, pairs per second, ...). Timings vary
    from run to run; every other record must be identical when a notebook runs twice."""
    return str(name).endswith("_s")


def read_records(path: str | os.PathLike) -> list[dict]:
    """The records of a ``COURSEKIT_RECORD`` file, in order."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def start_notebook(notebook: str, seed: int = 0, data_source: str | None = None) -> None:
    """Call once at the top of a unit: names the notebook for ``record``, starts the runtime
    clock, seeds Python's and NumPy's global generators, quiets TensorFlow's start-up logs and
    starts counting claims (``data_source``: the notebook's ``DATA_SOURCE``; claims are enforced
    on ``"toy"``, see :func:`coursekit.claim`)."""
    import numpy as np

    from .claims import reset_claims

    reset_claims(data_source)

    _state["notebook"] = Path(notebook).name
    _state["start"] = time.perf_counter()
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import matplotlib

        matplotlib.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "figure.max_open_warning": 50})
    except ImportError:
        pass


def elapsed() -> float:
    """Seconds since :func:`start_notebook`."""
    if _state["start"] is None:
        raise RuntimeError("call coursekit.start_notebook(...) first")
    return time.perf_counter() - _state["start"]


def record_runtime() -> None:
    """Record ``runtime_s``: seconds since :func:`start_notebook` (shown, not returned, so the
    last cell of a notebook prints it once)."""
    record("runtime_s", round(elapsed(), 2))
