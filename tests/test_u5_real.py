"""Unit 5 on the real ASOS purchases: the whole notebook, built from the command line with
``-p DATA_SOURCE=real`` (skipped when the real files are absent).

The only real-data notebook run of unit 5 in the suite. Checks the issue's bar: the retrieval model
reaches HR@10 >= 1.25 x popularity on the test purchases, and the whole notebook runs within its
5-minute budget (asserted here with 2x headroom for a shared machine; ``coursekit bench`` times it
against the exact budget).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coursekit.bench.u5 import REAL_NOTEBOOK_BUDGET_S

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture
def asos_home(real_data_home):
    from coursekit.datasets.asos import FILES

    missing = [name for name, _ in FILES.values() if not (real_data_home / "asos" / name).exists()]
    if missing:
        pytest.skip(f"real ASOS data not found in {real_data_home / 'asos'} (missing {missing[0]}); "
                    "set COURSEKIT_DATA to a folder holding asos/")
    return real_data_home


def test_notebook_05_on_real_asos_data(asos_home, tmp_path):
    env = {**os.environ, "COURSEKIT_DATA": str(asos_home)}
    env.pop("COURSEKIT_RECORD", None)  # keep the session's records (toy budgets, determinism) to toy runs
    env.pop("COURSEKIT_STRICT_CHECKS", None)
    out = tmp_path / "build"
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "build", "--unit", "05", "--out", str(out), "-p", "DATA_SOURCE=real"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=4 * REAL_NOTEBOOK_BUDGET_S,
    )
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    records = {}
    for line in (out / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        records[r["name"]] = r["value"]

    ours, pop, knn = records["hr@10/retrieval"], records["hr@10/popularity"], records["hr@10/userknn"]
    assert ours >= 1.25 * pop, f"retrieval HR@10 {ours:.4f} is {ours / pop:.2f} x popularity {pop:.4f} (need 1.25 x)"
    assert knn > pop  # the baselines ran on the real data, not on toy
    assert records["epochs"] >= 1 and records["claims/total"] >= 4
    assert seconds <= 2 * REAL_NOTEBOOK_BUDGET_S, (
        f"the real-data notebook took {seconds:.0f} s (budget {REAL_NOTEBOOK_BUDGET_S} s, 2x headroom here)")
    html = (out / "html" / "05_fashion_retrieval_tf.html").read_text()
    assert "does not hold on this data" in html or records["claims/failed"] == 0  # a failed claim is shown
