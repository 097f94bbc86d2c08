"""Performance budgets: notebooks within their unit's budget, kit paths faster than references."""

import json
import os
from pathlib import Path

import pytest

from coursekit.bench.notebooks import BUDGETS_S

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.bench


@pytest.mark.after_notebooks
def test_notebooks_within_budget():
    path = os.environ.get("COURSEKIT_TEST_RECORDS")
    records = []
    if path and Path(path).exists():
        records = [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
    runtimes = {r["notebook"]: r["value"] for r in records if r["name"] == "runtime_s"}
    if not runtimes:
        pytest.skip("no notebook ran in this session (run pytest with solutions/ and --nbval-lax)")
    # The exact budgets are checked by `coursekit bench --unit notebooks` on an idle machine
    # (docs/benchmarks.md). Here: 2x headroom, times the share of the machine the nbval run gives
    # away to the other pytest-xdist workers (on 2 cores with 2 workers a notebook's threads get
    # half the cores: unit 3 took 2.1x its idle time in `make test`).
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    factor = 2 * min(workers, os.cpu_count() or 1)
    over = {nb: (t, BUDGETS_S[nb[:2]]) for nb, t in runtimes.items() if t > factor * BUDGETS_S.get(nb[:2], 1e9)}
    assert not over, f"notebooks over {factor}x their budget (seconds, budget): {over}"
    assert set(runtimes) <= {p.name for p in (REPO / "solutions").glob("[0-9][0-9]_*.ipynb")}


def _bench_data_home(tmp_path: Path) -> Path | None:
    """A data home for the bench with the real ASOS and Last.fm-2k folders when they are found
    (linked, read-only) and the usual toy cache (linked, so toy data is generated once per machine),
    else None. Without the real files the unit 4 and 5 rows generate toy ASOS at the real size
    instead (about a minute, 2.7 GB peak)."""
    from coursekit.datasets._home import get_toy_home

    from .conftest import _real_home

    real = _real_home()
    if real is None or not (real / "asos").is_dir():
        return None
    home = tmp_path / "bench-home"
    home.mkdir()
    toy = get_toy_home()
    toy.mkdir(parents=True, exist_ok=True)
    (home / "toy").symlink_to(toy, target_is_directory=True)
    for name in ("asos", "lastfm2k"):
        if (real / name).is_dir():
            (home / name).symlink_to(real / name, target_is_directory=True)
    return home


@pytest.mark.slow
def test_kit_paths_beat_naive_references(tmp_path, monkeypatch):
    from coursekit import bench

    # the quick rows of every unit; units 4 and 5 on the real ASOS files when they are found (else
    # on toy data of the real size), units 1-3 on the toy data of the notebooks
    home = _bench_data_home(tmp_path)
    if home is not None:
        monkeypatch.setenv("COURSEKIT_DATA", str(home))
    rows = bench.run(["u1", "u2", "u3", "u4", "u5"], quick=True, progress=False)
    if home is not None:
        assert any("(real ASOS)" in r.size for r in rows if r.unit == "u5"), [(r.what, r.size) for r in rows]
    assert {r.unit for r in rows} == {"u1", "u2", "u3", "u4", "u5"}
    u2 = [r for r in rows if r.unit == "u2"]
    assert [f"sampling strategy {k}" for k in range(1, 7)] == [r.what for r in u2[:6]]
    # every strategy has a seed-style reference; the inventory replay agrees with its reference
    assert all(r.ratio is not None for r in u2[:6]) and "counts agree: True" in u2[-1].note
    # 2x headroom on a shared machine: a kit path may not take twice its reference's time. Most
    # rows are 5x-80,000x apart (docs/benchmarks.md); a few (MMR at unit-1 size, where both sides
    # spend their time in the same similarity products) are honestly close to 1x.
    slower = [(r.unit, r.what, r.ratio) for r in rows if r.ratio is not None and r.ratio < 0.5]
    assert not slower, f"kit more than 2x slower than its naive reference: {slower}"
    fast = [r for r in rows if r.ratio is not None and r.ratio >= 5]
    assert len(fast) >= 10, [(r.what, r.ratio) for r in rows]  # the vectorised paths stay far ahead
