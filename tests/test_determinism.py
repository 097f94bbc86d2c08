"""Determinism: a second build of every solution notebook records the same figures.

The first build is the nbval run of ``solutions/`` in the same ``make test`` session (its records
land in the session file, see the root conftest); this test builds every notebook once more with
``coursekit build`` and compares every record that is not a timing (``*_s``), exactly.
"""

import os
from collections import defaultdict
from pathlib import Path

import pytest

from coursekit.recording import is_timing, read_records

REPO = Path(__file__).resolve().parents[1]


def _figures(records):
    out = defaultdict(list)
    for r in records:
        if not is_timing(r["name"]):
            out[(r["notebook"], r["name"])].append(r["value"])
    return dict(out)


def test_timings_are_told_apart_from_figures():
    assert is_timing("runtime_s") and is_timing("pairs_per_s") and is_timing("epoch_s")
    assert not is_timing("hr@10/userknn") and not is_timing("auc") and not is_timing("p_value/paired_t")


@pytest.mark.slow
@pytest.mark.after_notebooks
def test_second_build_records_identical_figures(tmp_path, monkeypatch):
    session = os.environ.get("COURSEKIT_TEST_RECORDS")
    first = _figures(read_records(session)) if session and Path(session).exists() else {}
    notebooks = {nb for nb, _ in first}
    if not notebooks:
        pytest.skip("no notebook ran in this session (run pytest with solutions/ and --nbval-lax)")
    from coursekit.build import build

    monkeypatch.delenv("COURSEKIT_RECORD", raising=False)  # keep the session file to the first build
    units = sorted(nb[:2] for nb in notebooks)
    results = build(REPO / "solutions", tmp_path, units, progress=False)
    assert all(r["ok"] for r in results), [(r["notebook"], r["error"]) for r in results if not r["ok"]]
    second = _figures(read_records(tmp_path / "records.jsonl"))
    assert set(second) == set(first), f"records differ in name: {sorted(set(first) ^ set(second))}"
    differ = {k: (first[k], second[k]) for k in first if first[k] != second[k]}
    assert not differ, f"figures changed between two builds (first, second): {differ}"
    assert len(first) >= 25  # the five units record at least this many figures
