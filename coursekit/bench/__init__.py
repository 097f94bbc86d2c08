"""``coursekit bench``: every hot path of the kit beside a seed-style naive reference.

Each unit has a module ``coursekit/bench/uN.py`` with ``run(quick: bool) -> list[Row]``. A row
compares the kit's implementation with a naive reference on the same inputs in the same process.
"""

from __future__ import annotations

import gc
import importlib
import os
import time
import tracemalloc
from dataclasses import asdict, dataclass
from typing import Callable

UNITS = ("u1", "u2", "u3", "u4", "u5", "notebooks", "grading")


@dataclass
class Row:
    unit: str
    what: str
    size: str
    kit_s: float
    ref_s: float | None = None
    peak_mb: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ref_s is None or self.kit_s <= 0:
            return None
        return self.ref_s / self.kit_s

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def measure(fn: Callable, *args, repeat: int = 1, trace: bool = True, **kwargs):
    """Run ``fn``; return (result, best seconds of ``repeat`` untraced runs, peak MiB).

    The peak comes from one more run under tracemalloc (tracing slows allocation-heavy code
    two-fold, so it never overlaps the timed runs); ``trace=False`` skips it and returns None.
    tracemalloc sees NumPy's buffers and Python objects, not memory allocated by torch or
    TensorFlow; rows that need those say so in their note.
    """
    result, best = timed(fn, *args, repeat=repeat, **kwargs)
    peak = None
    if trace:
        gc.collect()
        tracemalloc.start()
        try:
            fn(*args, **kwargs)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    return result, best, peak


def timed(fn: Callable, *args, repeat: int = 1, **kwargs):
    """(result, best seconds of ``repeat`` runs), without memory tracing."""
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return result, best


def run(units=UNITS, *, quick: bool = False, progress: bool = True) -> list[Row]:
    # TensorFlow (units 1, 3, 5) prints start-up logs unless told before its first import
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows: list[Row] = []
    for unit in units:
        try:
            module = importlib.import_module(f"coursekit.bench.{unit}")
        except ModuleNotFoundError:
            continue
        if progress:
            print(f"[bench] {unit} ...", flush=True)
        rows.extend(module.run(quick=quick))
    return rows


def format_table(rows: list[Row]) -> str:
    """A Markdown table of the rows."""
    lines = [
        "| unit | what | size | kit (s) | reference (s) | ratio | peak MiB | note |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ref = f"{r.ref_s:.3f}" if r.ref_s is not None else "-"
        ratio = f"{r.ratio:.1f}x" if r.ratio is not None else "-"
        peak = f"{r.peak_mb:.0f}" if r.peak_mb is not None else "-"
        lines.append(f"| {r.unit} | {r.what} | {r.size} | {r.kit_s:.3f} | {ref} | {ratio} | {peak} | {r.note} |")
    return "\n".join(lines)
