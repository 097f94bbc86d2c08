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


def _add_cell_after(nb, marker, source):
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


MEMORY_MB = 1200  # a unit-1 kernel needs about 400 MB


def make_submissions(folder: Path, out: Path, solutions: Path) -> dict:
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

    hog = _answered()  # grows to 4 GB, 100 MB at a time, right after the imports
    _add_cell_after(hog, "coursekit.start_notebook",
                    "import time\n_hog = []\nfor _ in range(40):\n"
                    "    _hog.append(np.ones(12_500_000))\n    time.sleep(0.05)")
    nbformat.write(hog, folder / "gus.ipynb")

    tamper = _answered()  # knows where the grader keeps its files, and floods the output
    solution = solutions / SOLUTION.name
    _add_cell_after(tamper, "coursekit.start_notebook", "\n".join([
        "import pathlib",
        f"pathlib.Path({str(solution)!r}).write_text('{{}}')  # the hidden tests",
        f"pathlib.Path({str(out)!r}).mkdir(parents=True, exist_ok=True)",
        f"pathlib.Path({str(out / 'grades.csv')!r}).write_text('hal,9,9,9,9,36,4,hacked')",
        f"(pathlib.Path({str(out)!r}) / 'feedback').mkdir(exist_ok=True)",
        f"pathlib.Path({str(out / 'feedback' / 'ada.html')!r}).write_text('0 of 4')",
        "for _ in range(50):",
        "    print('x' * 100_000)",
    ]))
    nbformat.write(tamper, folder / "hal.ipynb")
    return {
        "ada": ([1, 1, 1, 1], ""),
        "bob": ([0, 1, 1, 0], ""),
        "cy": ([0, 0, 0, 0], ""),
        "dee": ([1, 1, 0, 0], f"time limit of {BUDGET} s exceeded; the rest of the notebook was not run"),
        "eve": ([1, 1, 1, 1], ""),
        "fay": ([0, 0, 0, 0], "malformed notebook (NotJSONError); open it in JupyterLab and save it again"),
        "gus": ([0, 0, 0, 0], f"memory limit of {MEMORY_MB} MB exceeded; the kernel was stopped and the rest was not run"),
        "hal": ([1, 1, 1, 1], f"the submission changed {SOLUTION.name}; it was restored and did not affect grading"),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    solutions = root / "solutions"  # a copy: one submission tries to overwrite it
    solutions.mkdir()
    (solutions / SOLUTION.name).write_bytes(SOLUTION.read_bytes())
    expected = make_submissions(root / "submissions", root / "out", solutions)
    import time

    start = time.monotonic()
    csv_path = grade_folder(root / "submissions", root / "out", jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB,
                            solutions=solutions, progress=False)
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
def test_submissions_cannot_change_the_grading_files(graded):
    root, _, _, _ = graded
    assert (root / "solutions" / SOLUTION.name).read_bytes() == SOLUTION.read_bytes()  # restored
    assert "hacked" not in (root / "out" / "grades.csv").read_text()
    ada = (root / "out" / "feedback" / "ada.html").read_text()
    assert 'data-passed="4" data-total="4"' in ada  # written after every submission ran
    assert "output cut" in (root / "out" / "feedback" / "hal.html").read_text()


def test_output_is_capped_while_the_kernel_runs(tmp_path, monkeypatch):
    from coursekit.grading import grade

    monkeypatch.setattr(grade, "MAX_CELL_OUTPUT_CHARS", 50_000)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("for i in range(200):\n    print('y' * 1000)"),
        nbformat.v4.new_code_cell("print('after')"),
    ])
    problem, peak_mb = grade._execute(nb, tmp_path, budget=60, memory_mb=2000)
    assert problem is None and 10 < peak_mb < 2000
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert 40_000 < text.count("y") <= 51_000  # 200,000 printed
    assert "output cut: more than 50,000 characters" in text
    assert nb.cells[1].outputs[0]["text"] == "after\n"


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    root, expected, _, _ = graded
    hidden = [l.strip() for code in hidden_tests(nbformat.read(SOLUTION, as_version=4)).values()
              for l in code.splitlines() if len(l.strip()) > 10]
    assert hidden
    files = sorted((root / "out" / "feedback").glob("*.html"))
    assert [f.stem for f in files] == ["ada", "bob", "cy", "dee", "eve", "gus", "hal"]
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
