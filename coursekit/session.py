"""The notebook session: ``start_notebook`` at the top of a unit, ``record_runtime`` at the end.

Layers, top down: this module uses :mod:`coursekit.claims` (the claim counters) and
:mod:`coursekit.recording` (``record``); neither imports it.
"""

from __future__ import annotations

import os
import random
import time

from .claims import reset_claims
from .recording import record, set_notebook

_clock: dict = {"start": None}


def start_notebook(notebook: str, seed: int = 0, data_source: str | None = None) -> None:
    """Call once at the top of a unit: names the notebook for ``record``, starts the runtime
    clock, seeds Python's and NumPy's global generators, quiets TensorFlow's start-up logs and
    starts counting claims (``data_source``: the notebook's ``DATA_SOURCE``; claims are enforced
    on ``"toy"``, see :func:`coursekit.claim`)."""
    import numpy as np

    reset_claims(data_source)

    set_notebook(notebook)
    _clock["start"] = time.perf_counter()
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
    if _clock["start"] is None:
        raise RuntimeError("call coursekit.start_notebook(...) first")
    return time.perf_counter() - _clock["start"]


def record_runtime() -> None:
    """Record ``runtime_s``: seconds since :func:`start_notebook` (shown, not returned, so the
    last cell of a notebook prints it once)."""
    record("runtime_s", round(elapsed(), 2))
