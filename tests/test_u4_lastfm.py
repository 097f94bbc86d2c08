"""Unit 4 on the public Last.fm-2k play counts: the whole notebook, run once (skipped without the data).

One execution serves two checks, to keep CI time down: the issue's bar (the tuned two-tower model
reaches HR@10 >= 2 x popularity and >= 0.8 x implicit's ALS, every figure recorded, the notebook
within its 300-second budget with 2x headroom for a shared machine) and the committed results page
``docs/results/04-lastfm.md`` (every figure within its tolerance, every claim with the same verdict;
:func:`coursekit.results.compare_results`). Regenerate the page with
``COURSEKIT_DATA=... coursekit results --unit 04 -p DATA_SOURCE=lastfm`` when the unit changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 300  # the unit on Last.fm-2k, on an idle machine
pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture
def lastfm_home(real_data_home, monkeypatch):
    if not (real_data_home / "lastfm2k" / "user_artists.dat").exists():
        pytest.skip(f"Last.fm-2k not found in {real_data_home / 'lastfm2k'}; set COURSEKIT_REAL_DATA to a folder "
                    "holding lastfm2k/ (coursekit data fetch lastfm2k)")
    monkeypatch.setenv("COURSEKIT_DATA", str(real_data_home))
    monkeypatch.delenv("COURSEKIT_RECORD", raising=False)  # the session's records are for toy runs
    monkeypatch.delenv("COURSEKIT_STRICT_CHECKS", raising=False)
    return real_data_home


def test_unit_04_on_lastfm_meets_the_bar_and_matches_its_results_page(lastfm_home, tmp_path):
    from coursekit.build import build
    from coursekit.results import compare_results, notebook_claims, read_results_page, results_path

    page = read_results_page(results_path("04", "lastfm", REPO / "docs" / "results"))
    (entry,) = build(REPO / "solutions", tmp_path, ["04"], timeout=1800, parameters={"DATA_SOURCE": "lastfm"},
                     keep_notebooks=True, progress=False)
    assert entry["ok"], entry["error"]
    records = entry["records"]
    tt, als, pop = records["hr@10/two_tower"], records["hr@10/als"], records["hr@10/popularity"]
    assert tt >= 2 * pop, f"two-tower HR@10 {tt:.4f} is {tt / pop:.2f} x popularity {pop:.4f} (need 2 x)"
    assert tt >= 0.8 * als, f"two-tower HR@10 {tt:.4f} is {tt / als:.2f} x implicit's ALS {als:.4f} (need 0.8 x)"
    assert records["hr@10/userknn"] > pop and records["train/stopped_at_cap"] == 0
    assert records["claims/statistical"] >= 2 and records["claims/skipped"] >= 1  # the session protocol says so
    assert records["runtime_s"] <= 2 * BUDGET_S, f"{records['runtime_s']:.0f} s (budget {BUDGET_S} s, 2x headroom)"
    moved = compare_results(page, {"records": records, "claims": notebook_claims(entry["executed"])})
    assert not moved, "the run left docs/results/04-lastfm.md:\n" + "\n".join(moved)
