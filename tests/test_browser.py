"""Exported pages rendered in headless Chromium: summary table and every image loaded, offline."""

from pathlib import Path

import pytest

import nbformat

from coursekit.grading.export import export_notebook
from coursekit.grading.release import exercise_ids

from ._browser import (assert_reads_like_a_notebook, chromium, offline, open_page, page_facts,
                       rendering_facts)

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


def test_exported_and_built_pages_typeset_math_offline(tmp_path):
    """The kit's own pages: an exported notebook (MathJax inline: one file) and a built unit
    (one MathJax copy beside the pages), opened with the network cut."""
    from coursekit.mathjax import write_bundle
    from coursekit.notebooks import to_html, write_text_atomic

    exported = export_notebook(REPO / "solutions" / "05_fashion_retrieval_tf.ipynb", tmp_path / "u5.html",
                               execute=False)
    nb = nbformat.read(REPO / "solutions" / "05_fashion_retrieval_tf.ipynb", as_version=4)
    bundle = write_bundle(tmp_path / "build" / "mathjax")
    built = write_text_atomic(tmp_path / "build" / "05.html", to_html(nb, mathjax=f"mathjax/{bundle.name}"))
    with chromium() as driver:
        offline(driver)
        for page in (exported, built):
            open_page(driver, page)
            facts = rendering_facts(driver)
            assert_reads_like_a_notebook(facts, boxes=True)
            assert len(facts["claims"]) >= 10, page.name
