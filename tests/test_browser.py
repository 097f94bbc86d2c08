"""Exported pages rendered in headless Chromium: summary table and every image loaded, offline."""

from pathlib import Path

import pytest

import nbformat

from coursekit.grading.export import export_notebook
from coursekit.grading.release import exercise_ids

from ._browser import chromium, open_page, page_facts

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser
N_U1 = len(exercise_ids(nbformat.read(REPO / "solutions" / "01_content_based_art.ipynb", as_version=4)))


def test_exported_solution_renders_with_summary_and_images(tmp_path):
    page = export_notebook(REPO / "solutions" / "01_content_based_art.ipynb", tmp_path / "u1.html",
                           execute=False)
    with chromium() as driver:
        open_page(driver, page)
        facts = page_facts(driver)
    assert N_U1 >= 5
    assert facts["summary"] and facts["passed"] == N_U1 and facts["total"] == N_U1
    assert facts["statuses"] == ["passed"] * N_U1
    assert len(facts["widths"]) >= 8 and all(w > 0 for w in facts["widths"])


def test_exported_student_notebook_shows_not_attempted(tmp_path):
    page = export_notebook(REPO / "notebooks" / "01_content_based_art.ipynb", tmp_path / "s.html",
                           execute=False)
    with chromium() as driver:
        open_page(driver, page)
        facts = page_facts(driver)
    assert facts["passed"] == 0 and facts["statuses"] == ["not attempted"] * N_U1
