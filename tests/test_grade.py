"""Batch grading: points and partial credit, write-it-yourself, limits, written answers, by-question pages.

Kernels are slow, so each batch runs once per module: a batch of small unit-1 notebooks
(``tests/_grading_fixtures.py``: exercises worth 3/2/2/1 points with hidden parts, two written
questions), the same graded again with a filled-in written.csv, and two submissions of the real
unit-1 solution (all right; everything delegated to the package). Grading runs in bubblewrap
sandboxes where they work (``make test`` installs bubblewrap), else with ``--no-sandbox``; the
attacks a sandbox stops are in ``tests/test_hostile.py``.
"""

import csv
import html
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from coursekit.grading import sandbox as sb
from coursekit.grading.checks import get_exercise
from coursekit.grading.grade import exercise_order, grade_folder, grading_specs, hidden_tests

from . import _grading_fixtures as F

REPO = Path(__file__).resolve().parents[1]
NAME = F.SOLUTION.name
BUDGET = 40      # seconds per small submission (it needs about 6 s)
MEMORY_MB = 1200  # a small unit-1 kernel needs about 300 MB
MAX = sum(F.SMALL_POINTS.values())
EXERCISES = F.EXERCISES
SANDBOX = sb.unavailable() is None  # else graded with --no-sandbox (a warning on stderr)


def make_submissions(folder: Path, out: Path, solutions: Path, small) -> dict:
    """The batch; returns {student: (points per exercise, note)}."""
    folder.mkdir()
    ada = F.answered(small)  # everything right, both questions answered, figures included
    F.answer_question(ada, "u1.q1", "Colour, texture and shape; it misses the artist and the price.", image=True)
    q2 = next(i for i, c in enumerate(ada.cells) if "Question u1.q2" in c.source)
    ada.cells[q2 + 1:q2 + 1] = [
        nbformat.v4.new_markdown_cell("PCA keeps the directions of largest variance. My plot:"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.show()"),
    ]
    nbformat.write(ada, folder / "ada.ipynb")

    bob = F.answered(small)  # partly right: no zero-variance guard, no normalisation, precision for nDCG
    F.edit(bob, "# Exercise u1.zscore", "np.where(std == 0, 1.0, std)", "std")
    F.edit(bob, "# Exercise u1.cosine_topk", "unit = features / np.linalg.norm(features, axis=1, keepdims=True)",
           "unit = features")
    F.edit(bob, "# Exercise u1.ndcg", "/ ideal)", "/ k)")
    nbformat.write(bob, folder / "bob.ipynb")

    cy = F.answered(small)
    F.edit(cy, "from coursekit import check", "import numpy as np", "import nump as np")
    nbformat.write(cy, folder / "cy.ipynb")

    dee = F.answered(small)
    F.edit(dee, "# Exercise u1.recommend", '    """Indices (k,)', "    while True:\n        pass\n    \"\"\"Indices (k,)")
    nbformat.write(dee, folder / "dee.ipynb")

    nbformat.write(F.delegating(small), folder / "del.ipynb")

    eve = F.answered(small)
    for cell in eve.cells:
        cell.metadata = {}
    eve.metadata = {}
    nbformat.write(eve, folder / "eve.ipynb")

    (folder / "fay.ipynb").write_text("{ this is not a notebook")

    gus = F.answered(small)  # grows to 4 GB, 100 MB at a time, right after the imports
    F.add_cell_after(gus, "from coursekit import check", nbformat.v4.new_code_cell(
        "import time\n_hog = []\nfor _ in range(40):\n    _hog.append(np.ones(12_500_000))\n    time.sleep(0.05)"))
    nbformat.write(gus, folder / "gus.ipynb")

    hal = F.answered(small)  # knows where the grader keeps its files, and floods the output
    F.add_cell_after(hal, "from coursekit import check", nbformat.v4.new_code_cell("\n".join([
        "import pathlib",
        "for _ in range(50):",
        "    print('x' * 100_000)",
        f"pathlib.Path({str(solutions / NAME)!r}).write_text('{{}}')  # the hidden tests",
        f"pathlib.Path({str(out)!r}).mkdir(parents=True, exist_ok=True)",
        f"pathlib.Path({str(out / 'grades.csv')!r}).write_text('hal,9,9,9,9,36,8,hacked')",
        f"(pathlib.Path({str(out)!r}) / 'feedback').mkdir(exist_ok=True)",
        f"pathlib.Path({str(out / 'feedback' / 'ada.html')!r}).write_text('0 of 8')",
    ])))
    nbformat.write(hal, folder / "hal.ipynb")
    full = [3, 2, 2, 1]
    return {
        "ada": (full, ""),
        "bob": ([1, 1, 2, 0], ""),  # partial credit from the hidden parts
        "cy": ([0, 0, 0, 0], ""),
        "dee": ([3, 2, 0, 0], f"time limit of {BUDGET} s exceeded; the rest of the notebook was not run"),
        "del": ([0, 0, 0, 0], ""),
        "eve": (full, ""),
        "fay": ([0, 0, 0, 0], "malformed notebook (NotJSONError); open it in JupyterLab and save it again"),
        "gus": ([0, 0, 0, 0], f"memory limit of {MEMORY_MB} MB exceeded; the kernel was stopped and the rest was not run"),
        # in a sandbox the solution is not there to change; without one it is restored
        "hal": (full, "" if SANDBOX else
                f"the submission changed {NAME}; it was restored and did not affect grading"),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    solutions = root / "solutions"  # a copy: one submission tries to overwrite it
    solutions.mkdir()
    small = F.small_solution()
    nbformat.write(small, solutions / NAME)
    expected = make_submissions(root / "submissions", root / "out", solutions, small)
    start = time.monotonic()
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
        csv_path = grade_folder(root / "submissions", root / "out", jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB,
                                solutions=solutions, progress=False, sandbox=SANDBOX)
    return root, expected, csv_path, time.monotonic() - start


def _rows(path):
    return list(csv.reader(Path(path).open(encoding="utf-8")))


@pytest.mark.slow
def test_grades_csv_is_exact(graded):
    root, expected, csv_path, seconds = graded
    rows = _rows(csv_path)
    assert rows[0] == ["student", *EXERCISES, "total", "max", "notes"]
    want = [[s, *map(str, sc), str(sum(sc)), str(MAX), note] for s, (sc, note) in sorted(expected.items())]
    assert rows[1:] == want
    assert seconds < 150


@pytest.mark.slow
def test_delegating_and_partial_answers_are_explained_in_feedback(graded):
    root, _, _, _ = graded
    delegated = (root / "out" / "feedback" / "del.html").read_text()
    assert delegated.count("write it yourself; the package version is for the cells after this exercise") >= 4
    bob = (root / "out" / "feedback" / "bob.html").read_text()
    assert 'data-status="partial" data-points="1" data-max="3"' in bob
    assert "ordinary columns: passed; constant column stays 0: failed" in bob


@pytest.mark.slow
def test_submissions_cannot_change_the_grading_files(graded):
    root, _, _, _ = graded
    assert "hacked" not in (root / "out" / "grades.csv").read_text()
    assert "Question u1.q1" in (root / "solutions" / NAME).read_text()  # never reached, or restored
    ada = (root / "out" / "feedback" / "ada.html").read_text()
    assert f'data-points="{MAX}" data-max="{MAX}"' in ada  # written after every submission ran
    assert "output cut" in (root / "out" / "feedback" / "hal.html").read_text()


def test_output_is_capped_while_the_kernel_runs(tmp_path, monkeypatch):
    from coursekit.grading import run

    monkeypatch.setattr(run, "MAX_CELL_OUTPUT_CHARS", 50_000)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("for i in range(200):\n    print('y' * 1000)"),
        nbformat.v4.new_code_cell("print('after')"),
    ])
    problem, peak_mb = run.execute(nb, tmp_path, budget=60, memory_mb=2000)
    assert problem is None and 10 < peak_mb < 2000
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert 40_000 < text.count("y") <= 51_000  # 200,000 printed
    assert "output cut: more than 50,000 characters" in text
    assert nb.cells[1].outputs[0]["text"] == "after\n"


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    root, _, _, _ = graded
    small = nbformat.read(root / "solutions" / NAME, as_version=4)
    hidden = [l.strip() for code in hidden_tests(small).values() for l in code.splitlines() if len(l.strip()) > 10]
    assert len(hidden) >= 5
    files = sorted((root / "out" / "feedback").glob("*.html"))
    assert [f.stem for f in files] == ["ada", "bob", "cy", "dee", "del", "eve", "gus", "hal"]
    for f in files:
        text = f.read_text()
        for line in hidden:
            assert line not in text and html.escape(line) not in text, (f.name, line)
        assert "_ck_run" not in text and "coursekit_hidden" not in text
    for q in (root / "out" / "questions").glob("*.html"):  # nor do the pages by question
        text = q.read_text()
        assert not any(line in text or html.escape(line) in text for line in hidden)


# --------------------------------------------------------------------------- written answers

@pytest.mark.slow
def test_written_csv_lists_every_answer(graded):
    root, expected, _, _ = graded
    rows = _rows(root / "out" / "written.csv")
    assert rows[0] == ["student", "question", "max_points", "points", "comment", "answer"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [(s, q, m) for s in sorted(expected)
                                                      for q, m in (("u1.q1", "2"), ("u1.q2", "3"))]
    by_key = {(r[0], r[1]): r for r in rows[1:]}
    assert by_key["ada", "u1.q1"][3] == "" and by_key["ada", "u1.q1"][5].startswith("Colour, texture and shape")
    assert "[image]" in by_key["ada", "u1.q1"][5]
    assert by_key["ada", "u1.q2"][3] == "" and "PCA keeps the directions" in by_key["ada", "u1.q2"][5]
    assert "plt.plot([3, 1, 2])" in by_key["ada", "u1.q2"][5]  # the code cell the student added
    for (student, q), row in by_key.items():
        if student != "ada":  # templates left as they are (or no notebook at all): 0 filled in
            assert row[3] == "0" and row[5] == "", row


@pytest.mark.slow
def test_pages_by_question(graded):
    root, expected, _, _ = graded
    page = (root / "out" / "questions" / "u1.q2.html").read_text()
    assert page.index('id="ck-rubric"') < page.index('id="ck-model"') < page.index('id="ck-answers"')
    assert page.count('class="ck-criterion"') == 3
    assert page.count('class="ck-answer"') == len(expected)
    ada = page[page.index('id="answer-ada"'):page.index('id="answer-bob"')]
    assert "PCA keeps the directions of largest variance" in ada
    assert ada.count('<img src="data:image/png;base64,') == 1  # the student's own figure
    q1 = (root / "out" / "questions" / "u1.q1.html").read_text()
    assert q1[q1.index('id="answer-ada"'):].count('<img src="data:image/png;base64,') == 1  # pasted image


@pytest.fixture(scope="module")
def regraded(graded, tmp_path_factory):
    """A filled-in written.csv back through `coursekit grade --written` (the CLI, as an instructor runs it)."""
    root, _, _, _ = graded
    sub = tmp_path_factory.mktemp("written")
    folder = sub / "submissions"
    folder.mkdir()
    students = ["ada", "bob", "fay"]
    for s in students:
        (folder / f"{s}.ipynb").write_bytes((root / "submissions" / f"{s}.ipynb").read_bytes())
    points = {("ada", "u1.q1"): "1.5", ("ada", "u1.q2"): "3"}
    comments = {("ada", "u1.q1"): "Good; name the medium too."}
    rows = [r for r in _rows(root / "out" / "written.csv")[1:] if r[0] in students]
    filled = sub / "filled.csv"
    with filled.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "question", "max_points", "points", "comment", "answer"])
        for r in rows:
            writer.writerow([r[0], r[1], r[2], points.get((r[0], r[1]), r[3]), comments.get((r[0], r[1]), r[4]), r[5]])
    script = (
        "import sys; sys.path.insert(0, {repo!r})\n"
        "from tests import _grading_fixtures as F\n"
        "from coursekit.cli import main\n"
        "with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):\n"
        "    sys.exit(main(sys.argv[1:]))\n"
    ).format(repo=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", script, "grade", str(folder), "-o", str(sub / "out"), "--solutions",
         str(root / "solutions"), "--jobs", "2", "--timeout", str(BUDGET), "--memory-mb", str(MEMORY_MB),
         "--written", str(filled), *([] if SANDBOX else ["--no-sandbox"])],
        capture_output=True, text=True, timeout=300, cwd=sub)
    return sub, proc


@pytest.mark.slow
def test_written_round_trip_gives_exact_grades(regraded):
    sub, proc = regraded
    assert proc.returncode == 0, proc.stderr
    rows = _rows(sub / "out" / "grades.csv")
    assert rows == [
        ["student", *EXERCISES, "code", "u1.q1", "u1.q2", "written", "total", "max", "notes"],
        ["ada", "3", "2", "2", "1", "8", "1.5", "3", "4.5", "12.5", "13", ""],
        ["bob", "1", "1", "2", "0", "4", "0", "0", "0", "4", "13", ""],
        ["fay", "0", "0", "0", "0", "0", "0", "0", "0", "0", "13",
         "malformed notebook (NotJSONError); open it in JupyterLab and save it again"],
    ]
    feedback = (sub / "out" / "feedback" / "ada.html").read_text()
    assert 'data-question="u1.q1" data-points="1.5"' in feedback and "1.5 / 2" in feedback
    assert "<td class='ck-comment'>Good; name the medium too.</td>" in feedback
    assert "12.5 of 13</b> in total" in feedback
    page = (sub / "out" / "questions" / "u1.q1.html").read_text()
    assert 'data-student="ada" data-empty="false" data-points="1.5"' in page


@pytest.mark.slow
def test_grade_prints_one_line_per_notebook(regraded):
    sub, proc = regraded
    lines = proc.stdout.strip().splitlines()
    assert sorted(l.split(":")[0] for l in lines[:3]) == ["ada.ipynb", "bob.ipynb", "fay.ipynb"]
    assert next(l for l in lines if l.startswith("ada")).startswith("ada.ipynb: 8/8 points, ")
    assert next(l for l in lines if l.startswith("fay")).endswith("malformed notebook (NotJSONError); "
                                                                  "open it in JupyterLab and save it again")
    assert lines[3] == f"wrote {sub / 'out' / 'grades.csv'}" and len(lines) == 4
    if SANDBOX:
        assert proc.stderr == ""  # no kernel log noise
    else:
        assert proc.stderr.startswith("warning: --no-sandbox: submissions run as you") and proc.stderr.count("\n") == 1


# --------------------------------------------------------------------------- the real unit-1 solution

@pytest.fixture(scope="module")
def real_graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    solutions, folder = root / "solutions", root / "submissions"
    solutions.mkdir()
    folder.mkdir()
    (solutions / NAME).write_bytes(F.SOLUTION.read_bytes())
    solution = nbformat.read(F.SOLUTION, as_version=4)
    nbformat.write(F.answered(solution), folder / "right.ipynb")
    nbformat.write(F.delegating(solution), folder / "lazy.ipynb")
    with F.registry(delegates=F.U1_DELEGATES):
        specs = grading_specs(solution)
        csv_path = grade_folder(folder, root / "out", jobs=2, timeout=300, solutions=solutions, progress=False,
                                sandbox=SANDBOX)
    return specs, _rows(csv_path), exercise_order(solution)


@pytest.mark.slow
def test_real_unit_one_delegating_scores_zero_and_right_scores_full(real_graded):
    specs, rows, exercises = real_graded
    assert [s.id for s in specs] == exercises and set(EXERCISES) <= set(exercises)
    assert set(exercises) <= set(F.DELEGATING), "give every unit-1 exercise a delegating answer in the fixtures"
    points = [str(get_exercise(ex).points) for ex in exercises]
    total = str(sum(get_exercise(ex).points for ex in exercises))
    assert rows[1] == ["lazy", *["0"] * len(exercises), "0", total, ""]
    assert rows[2] == ["right", *points, total, total, ""]


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
            assert facts["summary"] and facts["points"] == sum(scores) and facts["max"] == MAX
            assert facts["statuses"].count("passed") == sum(s == m for s, m in zip(scores, F.SMALL_POINTS.values()))
            assert all(w > 0 for w in facts["widths"])


@pytest.mark.slow
@pytest.mark.browser
def test_question_page_in_browser(graded):
    from ._browser import chromium, open_page, question_facts

    root, expected, _, _ = graded
    with chromium() as driver:
        for qid, criteria, images in (("u1.q1", 2, 1), ("u1.q2", 3, 1)):
            open_page(driver, root / "out" / "questions" / f"{qid}.html")
            facts = question_facts(driver)
            assert facts["question"] == qid
            assert facts["students"] == sorted(expected)  # every student's answer, in order
            assert len(facts["criteria"]) == criteria and all(facts["criteria"])  # the rubric
            assert facts["model"].startswith("Model answer") and len(facts["model"]) > 50
            assert facts["answer_images"] == images and facts["images"] >= images
            assert all(w > 0 for w in facts["widths"])  # every image loaded
            assert facts["empty"] == sorted(s for s in expected if s != "ada")
