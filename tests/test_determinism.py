"""Determinism: running a solution notebook again records the figures its committed outputs hold.

The solutions are committed executed (``coursekit build --save``), and every ``coursekit.record``
leaves its value in the outputs (:func:`coursekit.glue.notebook_records`). The nbval run of
``solutions/`` in the same ``make test`` session executes them once more from scratch, on another
day and often another machine, and its records land in the session file (see the root conftest).
This test compares the two, figure by figure: an unseeded random step, or a committed notebook
left behind by a code change, shows up as a figure that moved. Timings (``*_s``) are left out.
The tolerance (relative 1e-6) only absorbs the last digits of floating-point sums: an unseeded
draw moves a metric by far more.
"""

import math
import os
from pathlib import Path

import nbformat
import pytest

from coursekit.glue import notebook_records
from coursekit.recording import is_timing, read_records

REPO = Path(__file__).resolve().parents[1]


def _figures(pairs):
    return {k: v for k, v in pairs if not is_timing(k[1])}


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
            or not isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def test_timings_are_told_apart_from_figures():
    assert is_timing("runtime_s") and is_timing("pairs_per_s") and is_timing("epoch_s")
    assert not is_timing("hr@10/userknn") and not is_timing("auc") and not is_timing("p_value/paired_t")


def test_a_moved_figure_is_seen_and_float_noise_is_not():
    assert _same(0.7361234567, 0.7361234567 * (1 + 1e-9)) and _same(3, 3) and _same("a", "a")
    assert not _same(0.7361, 0.7362) and not _same(True, 1) and not _same(None, 0.0) and not _same(3, 4)


@pytest.mark.slow
@pytest.mark.after_notebooks
def test_a_fresh_run_records_the_committed_figures():
    session = os.environ.get("COURSEKIT_TEST_RECORDS")
    records = read_records(session) if session and Path(session).exists() else []
    fresh = _figures(((r["notebook"], r["name"]), r["value"]) for r in records)  # the last value wins
    notebooks = sorted({nb for nb, _ in fresh})
    if not notebooks:
        pytest.skip("no notebook ran in this session (run pytest with solutions/ and --nbval-lax)")
    committed = {}
    for name in notebooks:
        path = REPO / "solutions" / name
        assert path.exists(), f"records of {name}, which is not a solution notebook"
        nb = nbformat.read(path, as_version=4)
        committed.update(_figures(((name, k), v) for k, v in notebook_records(nb).items()))
    missing, extra = sorted(set(committed) - set(fresh)), sorted(set(fresh) - set(committed))
    assert not missing and not extra, f"recorded only in the committed notebook: {missing}; only now: {extra}"
    moved = {k: (committed[k], fresh[k]) for k in committed if not _same(committed[k], fresh[k])}
    assert not moved, f"figures that moved (committed, this run): {moved}"
    assert len(committed) >= 25  # the five units record at least this many figures
