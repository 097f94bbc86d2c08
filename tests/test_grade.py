"""Batch grading of a folder of unit-1 submissions into an exact grades.csv."""

import csv
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.grade import grade_folder, hidden_tests
from coursekit.grading.release import BEGIN_SOLUTION, END_SOLUTION, _replace_regions, BEGIN_HIDDEN, END_HIDDEN

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "01_content_based_art.ipynb"
EXERCISES = ["u1.zscore", "u1.cosine_topk", "u1.recommend", "u1.ndcg"]
BUDGET = 90


def _answered() -> nbformat.NotebookNode:
    """What a student who solved everything submits: solutions filled in, no hidden tests."""
    nb = nbformat.read(SOLUTION, as_version=4)
    for cell in nb.cells:
        src = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, lambda ind: [], "x")
        cell.source = "\n".join(l for l in src.splitlines() if l.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _edit(nb, marker, old, new):
    cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source)
    assert old in cell.source, (marker, old)
    cell.source = cell.source.replace(old, new)


def make_submissions(folder: Path) -> dict:
    folder.mkdir()
    full = _answered()
    nbformat.write(full, folder / "ada.ipynb")

    wrong = _answered()
    _edit(wrong, "# Exercise u1.zscore", "np.where(std == 0, 1.0, std)", "std")
    _edit(wrong, "# Exercise u1.ndcg", "/ ideal)", "/ k)")
    nbformat.write(wrong, folder / "bob.ipynb")

    broken = _answered()
    _edit(broken, "coursekit.start_notebook", "import numpy as np", "import nump as np")
    nbformat.write(broken, folder / "cy.ipynb")

    looping = _answered()
    _edit(looping, "# Exercise u1.recommend", '    """Indices (k,)', "    while True:\n        pass\n    \"\"\"Indices (k,)")
    nbformat.write(looping, folder / "dee.ipynb")

    stripped = _answered()
    for cell in stripped.cells:
        cell.metadata = {}
    stripped.metadata = {}
    nbformat.write(stripped, folder / "eve.ipynb")

    (folder / "fay.ipynb").write_text("{ this is not a notebook")
    return {
        "ada": ([1, 1, 1, 1], ""),
        "bob": ([0, 1, 1, 0], ""),
        "cy": ([0, 0, 0, 0], ""),
        "dee": ([1, 1, 0, 0], f"time limit of {BUDGET} s exceeded; the rest of the notebook was not run"),
        "eve": ([1, 1, 1, 1], ""),
        "fay": ([0, 0, 0, 0], "malformed notebook (NotJSONError); open it in JupyterLab and save it again"),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    expected = make_submissions(root / "submissions")
    import time

    start = time.monotonic()
    csv_path = grade_folder(root / "submissions", root / "out", jobs=2, timeout=BUDGET,
                            solutions=REPO / "solutions", progress=False)
    return root, expected, csv_path, time.monotonic() - start


@pytest.mark.slow
def test_grades_csv_is_exact(graded):
    root, expected, csv_path, seconds = graded
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["student", *EXERCISES, "total", "max", "notes"]
    want = [[s, *map(str, sc), str(sum(sc)), "4", note] for s, (sc, note) in sorted(expected.items())]
    assert rows[1:] == want
    assert seconds < 180


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    root, expected, _, _ = graded
    hidden = [l.strip() for code in hidden_tests(nbformat.read(SOLUTION, as_version=4)).values()
              for l in code.splitlines() if len(l.strip()) > 10]
    assert hidden
    files = sorted((root / "out" / "feedback").glob("*.html"))
    assert [f.stem for f in files] == ["ada", "bob", "cy", "dee", "eve"]
    for f in files:
        text = f.read_text()
        import html as _html

        for line in hidden:
            assert line not in text and _html.escape(line) not in text, (f.name, line)
        assert "_ck_status" not in text
    ada = (root / "out" / "feedback" / "ada.html").read_text()
    assert 'data-passed="4" data-total="4"' in ada


@pytest.mark.slow
@pytest.mark.browser
def test_feedback_renders_in_browser(graded):
    from ._browser import chromium, open_page, page_facts

    root, expected, _, _ = graded
    with chromium() as driver:
        for student in ("ada", "bob", "dee"):
            open_page(driver, root / "out" / "feedback" / f"{student}.html")
            facts = page_facts(driver)
            scores, _ = expected[student]
            assert facts["summary"] and facts["passed"] == sum(scores) and facts["total"] == 4
            assert facts["statuses"].count("passed") == sum(scores)
            assert all(w > 0 for w in facts["widths"])
        assert len(facts["widths"]) >= 2  # dee's figures before the loop are embedded
