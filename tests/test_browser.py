"""Exported pages rendered in headless Chromium: summary table and every image loaded, offline."""

from pathlib import Path

import pytest

from coursekit.grading.export import export_notebook

from ._browser import chromium, open_page, page_facts

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser


def test_exported_solution_renders_with_summary_and_images(tmp_path):
    page = export_notebook(REPO / "solutions" / "01_content_based_art.ipynb", tmp_path / "u1.html",
                           execute=False)
    with chromium() as driver:
        open_page(driver, page)
        facts = page_facts(driver)
    assert facts["summary"] and facts["passed"] == 4 and facts["total"] == 4
    assert facts["statuses"] == ["passed"] * 4
    assert len(facts["widths"]) >= 8 and all(w > 0 for w in facts["widths"])


def test_exported_student_notebook_shows_not_attempted(tmp_path):
    page = export_notebook(REPO / "notebooks" / "01_content_based_art.ipynb", tmp_path / "s.html",
                           execute=False)
    with chromium() as driver:
        open_page(driver, page)
        facts = page_facts(driver)
    assert facts["passed"] == 0 and facts["statuses"] == ["not attempted"] * 4
