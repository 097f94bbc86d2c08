"""Written questions, hidden parts and the scoring rule, without kernels (plus one quiet `coursekit build`)."""

import ast
import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from coursekit.errors import DataError
from coursekit.grading.checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED
from coursekit.grading.release import release_notebook
from coursekit.grading.scoring import (TAMPERED, ExerciseSpec, HiddenTests, Part, PartsError, check_call_args,
                                       grader_code, hidden_cell_source, parse_hidden, score_exercise)
from coursekit.grading.written import (QuestionError, extract_answers, instructor_markdown, parse_questions,
                                       question_problems, read_written, sanitize)

from . import _grading_fixtures as F

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small():
    return F.small_solution()


# --------------------------------------------------------------------------- questions

def test_questions_are_parsed_with_points_rubric_and_model_answer(small):
    q1, q2 = parse_questions(small)
    assert (q1.id, q1.points, q2.id, q2.points) == ("u1.q1", 2.0, "u1.q2", 3.0)
    assert q1.rubric == ((1.0, "Says what the features capture: colour, texture, shape, composition, from pixels."),
                         (1.0, "Names something they miss: artist, medium, price, story or style conventions."))
    assert q1.model_answer.startswith("A CNN turns pixels") and "BEGIN" not in q1.model_answer
    assert q1.prompt.startswith("**Question u1.q1** (2 points) Why is") and "RUBRIC" not in q1.prompt
    assert question_problems(small, "01_x.ipynb") == []


def test_release_keeps_question_and_points_drops_rubric_and_model_answer(small):
    student = release_notebook(small)
    cell = next(c for c in student.cells if "Question u1.q2" in c.source)
    assert cell.source == ("**Question u1.q2** (3 points) Why reduce each vector with PCA? When could it hurt?\n\n"
                           "_Write your answer here._")
    text = nbformat.writes(student)
    for gone in ("RUBRIC", "low-variance direction is lost", "(1 point)", "BEGIN SOLUTION"):
        assert gone not in text


@pytest.mark.parametrize("markdown, problem", [
    ("**Question u1.q9** (2 points) Why?\n### BEGIN RUBRIC\n- (1 point) a\n### END RUBRIC\n"
     "### BEGIN SOLUTION\nx\n### END SOLUTION", "the rubric has 1 criteria"),
    ("**Question u1.q9** (2 points) Why?\n### BEGIN RUBRIC\n- (1 point) a\n- (2 points) b\n### END RUBRIC\n"
     "### BEGIN SOLUTION\nx\n### END SOLUTION", "add up to 3, the question is worth 2"),
    ("**Question u1.q9** (2 points) Why?\n### BEGIN RUBRIC\n- (1 point) a\n- (1 point) b\n### END RUBRIC",
     "no model answer"),
    ("**Question u1.q9** (2 points) Why?\n### BEGIN RUBRIC\n- a (1 point)\n### END RUBRIC", "should read"),
    ("**Question u1.q9 (2 points)** Why?", "looks like a question"),
    ("**Question u2.q1** (2 points) Why?\n### BEGIN RUBRIC\n- (1 point) a\n- (1 point) b\n### END RUBRIC\n"
     "### BEGIN SOLUTION\nx\n### END SOLUTION", "should start with u1."),
])
def test_question_markup_problems(markdown, problem):
    nb = nbformat.v4.new_notebook(cells=[new_markdown_cell(markdown)])
    assert any(problem in p for p in question_problems(nb, "01_demo.ipynb")), question_problems(nb, "01_demo.ipynb")


def test_duplicate_question_ids_are_an_error():
    md = "**Question u1.q1** (1 point) a?\n\n**Question u1.q1** (1 point) b?"
    with pytest.raises(QuestionError, match="used twice"):
        parse_questions(nbformat.v4.new_notebook(cells=[new_markdown_cell(md)]))


def test_ungraded_questions_are_left_alone():
    nb = nbformat.v4.new_notebook(cells=[new_markdown_cell("**Question 7.** Try other metrics.")])
    assert parse_questions(nb) == [] and question_problems(nb) == []


# --------------------------------------------------------------------------- finding answers

def _answers(small, edit):
    nb = release_notebook(small)
    edit(nb)
    return extract_answers(nb, parse_questions(small), small)


def _cell(nb, text):
    return next(i for i, c in enumerate(nb.cells) if text in c.source)


def test_answer_in_place_of_the_template(small):
    def edit(nb):
        F.answer_question(nb, "u1.q1", "Texture and colour.\n\nNot the artist.", image=True)
    answers = _answers(small, edit)
    assert answers["u1.q1"].text == "Texture and colour.\n\nNot the artist.\n\n![sketch](attachment:sketch.png)"
    assert answers["u1.q1"].excerpt() == "Texture and colour. Not the artist. [image]"
    assert '<img src="data:image/png;base64,' in answers["u1.q1"].to_html()
    assert answers["u1.q2"].empty and not answers["u1.q1"].empty


def test_answer_in_cells_added_below_with_the_template_left(small):
    def edit(nb):
        i = _cell(nb, "Question u1.q2")
        nb.cells[i + 1:i + 1] = [new_markdown_cell("My answer: variance."), new_code_cell("print(42)"),
                                 new_markdown_cell("")]
    answer = _answers(small, edit)["u1.q2"]
    assert answer.text == "" and [c.source for c in answer.cells] == ["My answer: variance.", "print(42)"]
    assert answer.excerpt() == "My answer: variance. print(42)"


def test_answer_found_by_its_prompt_when_the_id_is_broken(small):
    def edit(nb):
        i = _cell(nb, "Question u1.q1")
        nb.cells[i].source = nb.cells[i].source.replace("**Question u1.q1** (2 points) ", "Q1 ").replace(
            "_Write your answer here._", "Because of the filters.")
    answer = _answers(small, edit)["u1.q1"]
    assert answer.found and answer.text == "Because of the filters."


def test_two_questions_in_one_cell_keep_their_own_answers():
    md = ("**Question u1.q1** (1 point) First?\n\n### BEGIN SOLUTION\nA.\n### END SOLUTION\n\n"
          "**Question u1.q2** (1 point) Second?\n\n### BEGIN SOLUTION\nB.\n### END SOLUTION")
    sol = nbformat.v4.new_notebook(cells=[new_markdown_cell(md), new_code_cell("x = 1")])
    sub = release_notebook(sol)
    sub.cells[0].source = sub.cells[0].source.replace("_Write your answer here._", "one", 1)
    sub.cells.insert(1, new_markdown_cell("two, added below"))
    answers = extract_answers(sub, parse_questions(sol), sol)
    assert answers["u1.q1"].text == "one" and answers["u1.q1"].cells == []
    assert answers["u1.q2"].text == "" and [c.source for c in answers["u1.q2"].cells] == ["two, added below"]


def test_missing_question_is_an_empty_answer(small):
    def edit(nb):
        del nb.cells[_cell(nb, "Question u1.q2")]
    answers = _answers(small, edit)
    assert not answers["u1.q2"].found and answers["u1.q2"].empty


def test_student_html_is_sanitised():
    dirty = ('<p onclick="x()">hi<script>alert(1)</script><img src="https://tracker/x.png">'
             '<img src="data:image/png;base64,AAAA"><a href="javascript:alert(1)">l</a></p>')
    clean = sanitize(dirty)
    assert "<script" not in clean and "onclick" not in clean and "javascript:" not in clean
    assert "https://tracker" not in clean and "[image not embedded]" in clean
    assert '<img src="data:image/png;base64,AAAA">' in clean


# --------------------------------------------------------------------------- the filled-in written.csv

STUDENTS = ["ada", "bob"]
GOOD = [["student", "question", "max_points", "points", "answer"],
        ["ada", "u1.q1", "2", "1.5", "text"], ["ada", "u1.q2", "3", "3", ""],
        ["bob", "u1.q1", "2", "0", ""], ["bob", "u1.q2", "3", "0", ""]]


def _write(tmp_path, rows, name="filled.csv"):
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_filled_csv_is_read(tmp_path, small):
    points = read_written(_write(tmp_path, GOOD), STUDENTS, parse_questions(small))
    assert points == {("ada", "u1.q1"): 1.5, ("ada", "u1.q2"): 3.0, ("bob", "u1.q1"): 0.0, ("bob", "u1.q2"): 0.0}
    reordered = [["points", "question", "student"]] + [[r[3], r[1], r[0]] for r in GOOD[1:]]  # columns moved
    assert read_written(_write(tmp_path, reordered), STUDENTS, parse_questions(small)) == points


def _bad(row_index, column, value):
    rows = [list(r) for r in GOOD]
    rows[row_index][column] = value
    return rows


@pytest.mark.parametrize("rows, message", [
    (_bad(2, 3, ""), r"row 3 \(student ada, question u1.q2\): points are empty"),
    (_bad(4, 3, "two"), r"row 5 \(student bob, question u1.q2\): points 'two' are not a number"),
    (_bad(1, 3, "2.5"), r"row 2 \(student ada, question u1.q1\): points 2.5 are outside 0 to 2"),
    (_bad(1, 3, "-1"), r"row 2 .*outside 0 to 2"),
    (_bad(1, 3, "nan"), r"row 2 .*outside 0 to 2"),
    (_bad(3, 0, "bobby"), r"row 4 \(student bobby, question u1.q1\): no submission from student 'bobby'"),
    (_bad(3, 1, "u1.q7"), r"row 4 .*unknown question 'u1.q7'"),
    (_bad(1, 2, "4"), r"row 2 .*max_points 4 is not the question's 2 points"),
    (GOOD + [["bob", "u1.q2", "3", "1", ""]], r"row 6 .*a second row for this answer \(the first is row 5\)"),
    (GOOD[:-1], r"1 answer\(s\) have no row: bob / u1.q2"),
    ([["name", "question", "score"]] + GOOD[1:], r"row 1: no column student, points"),
    ([], r"the file is empty"),
])
def test_malformed_filled_csv_names_the_row(tmp_path, small, rows, message):
    path = _write(tmp_path, rows)
    with pytest.raises(DataError, match=message) as err:
        read_written(path, STUDENTS, parse_questions(small))
    assert str(path) in str(err.value) and "Fix:" in str(err.value)


def test_missing_or_binary_csv(tmp_path, small):
    with pytest.raises(DataError, match="file not found"):
        read_written(tmp_path / "nope.csv", STUDENTS, parse_questions(small))
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(DataError, match="not a readable CSV"):
        read_written(tmp_path / "bin.csv", STUDENTS, parse_questions(small))


# --------------------------------------------------------------------------- hidden parts and the rule

def test_hidden_region_splits_into_setup_and_parts():
    hidden = parse_hidden(F.ZSCORE_HIDDEN, "u1.zscore")
    assert hidden.setup == "_x = np.array([[1.0, 5.0], [3.0, 5.0]])"
    assert [(p.name, p.points) for p in hidden.parts] == [("ordinary columns", 1), ("constant column stays 0", 1)]
    assert hidden.parts[1].code == "assert np.allclose(zscore(_x)[:, 1], [0.0, 0.0])"
    assert not hidden.gate and parse_hidden("assert f(1) == 2").gate and not parse_hidden("").gate


@pytest.mark.parametrize("code, message", [
    ("# part: no points\nassert 1", "should read"),
    ("# part: (2 points)\nassert 1", "should read"),
    ("# part: a (1 point)\nassert 1\n# part: a (1 point)\nassert 1", "two hidden parts are named 'a'"),
])
def test_malformed_parts(code, message):
    with pytest.raises(PartsError, match=message):
        parse_hidden(code, "u1.x")


def test_parts_may_not_exceed_the_exercise_points():
    spec = ExerciseSpec("u1.x", 2, hidden=HiddenTests("", (Part("a", 2, "pass"), Part("b", 1, "pass"))))
    with pytest.raises(PartsError, match="add up to 3 points, more than the exercise's 2"):
        spec.validate()


PARTS = ExerciseSpec("u1.x", 4, hidden=HiddenTests("setup()", (Part("a", 1, "1"), Part("b", 2, "2"))),
                     check_args="f")
GATE = ExerciseSpec("u1.y", 3, hidden=HiddenTests("assert f(1)"), check_args="f")


def _report(visible, **pieces):
    return {"exercise": "u1.x", "visible": visible, "message": "", "pieces": pieces}


@pytest.mark.parametrize("spec, report, points, status", [
    # with parts: check worth 4 - 3 = 1, each part its own points
    (PARTS, _report(PASSED, setup=PASSED, a=PASSED, b=PASSED), 4, PASSED),
    (PARTS, _report(FAILED, setup=PASSED, a=PASSED, b=PASSED), 3, "partial"),
    (PARTS, _report(PASSED, setup=PASSED, a=FAILED, b=PASSED), 3, "partial"),
    (PARTS, _report(FAILED, setup=PASSED, a=FAILED, b=PASSED), 2, "partial"),
    (PARTS, _report(PASSED, setup=ERROR, a=PASSED, b=PASSED), 1, "partial"),  # a failed setup fails every part
    (PARTS, _report(FAILED, setup=PASSED, a=FAILED, b=ERROR), 0, FAILED),
    (PARTS, _report(NOT_ATTEMPTED, setup=PASSED, a=NOT_ATTEMPTED, b=NOT_ATTEMPTED), 0, NOT_ATTEMPTED),
    (PARTS, None, 0, "not run"),
    # without parts: all or nothing (what grading was before points)
    (GATE, _report(PASSED, **{"hidden tests": PASSED}), 3, PASSED),
    (GATE, _report(PASSED, **{"hidden tests": FAILED}), 0, "failed hidden tests"),
    (GATE, _report(ERROR, **{"hidden tests": PASSED}), 0, ERROR),
    (ExerciseSpec("u1.z", 2, check_args="f"), _report(PASSED), 2, PASSED),
    # changed objects under the grader: nothing counts
    (PARTS, {**_report(PASSED, setup=PASSED, a=PASSED, b=PASSED), "tampered": ["numpy.allclose changed"]}, 0, TAMPERED),
])
def test_scoring_rule(spec, report, points, status):
    score = score_exercise(spec, report)
    assert (score.points, score.status) == (points, status)


def test_grader_cell_is_valid_python_and_repeats_the_check():
    spec = ExerciseSpec("u1.zscore", 3, ("coursekit.features.zscore",), parse_hidden(F.ZSCORE_HIDDEN), "zscore")
    source = hidden_cell_source(spec)
    ast.parse(source)
    assert "grade_check('u1.zscore', ('coursekit.features.zscore',), zscore)" in source
    assert source.count("_ck_run.ok(") == 3  # setup and two parts
    guarded = grader_code(spec)  # what the guard runs: the same, with the objects it took before student code
    ast.parse(guarded)
    assert "_ck_grade_check('u1.zscore', ('coursekit.features.zscore',), zscore)" in guarded
    assert "with _ck_wiy(('coursekit.features.zscore',)) as _ck_guard:" in guarded
    assert "_ck_guard.refuse_handed_over(zscore)" in guarded and guarded.count("_ck_run.ok(") == 3
    assert guarded.endswith("_ck_r = _ck_run.result\n") and "import" not in guarded
    assert check_call_args('# x\ncheck("u1.a", f, data, k=3)\n', "u1.a") == "f, data, k=3"
    assert check_call_args('check("u1.b", f)', "u1.a") is None


# --------------------------------------------------------------------------- instructor pages

def test_model_answer_and_rubric_become_boxes():
    md = instructor_markdown(F.Q1)
    assert "BEGIN" not in md and "END" not in md
    assert '<div class="ck-rubric"' in md and '<div class="ck-model-answer"' in md
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(md)
    assert "<h3>" not in rendered  # no "### BEGIN SOLUTION" heading
    box = rendered[rendered.index('class="ck-model-answer"'):]
    assert "<p><strong>Model answer</strong></p>" in box and "<p>A CNN turns pixels" in box


@pytest.mark.slow
def test_build_prints_one_line_per_notebook_and_shows_boxes(tmp_path):
    sol = tmp_path / "solutions"
    sol.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        new_code_cell('DATA_SOURCE = "toy"\nSEED = 0', metadata={"tags": ["parameters"]}),
        new_markdown_cell(F.Q1), new_code_cell("import sys\nprint('hello', file=sys.stderr)")])
    nbformat.write(nb, sol / "01_demo.ipynb")
    proc = subprocess.run([sys.executable, "-m", "coursekit.cli", "build", "--solutions", str(sol),
                           "--out", str(tmp_path / "b")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and re.fullmatch(r"01_demo\.ipynb: \d+\.\d s, ok", lines[0]), lines
    assert lines[1] == f"HTML in {tmp_path / 'b' / 'html'}"
    assert proc.stderr == ""  # no kernel log lines (TCP warning), no progress bar
    page = (tmp_path / "b" / "html" / "01_demo.html").read_text()
    assert "BEGIN SOLUTION" not in page and "BEGIN RUBRIC" not in page
    assert 'class="ck-model-answer"' in page and 'class="ck-rubric"' in page
    assert "### BEGIN SOLUTION" in (sol / "01_demo.ipynb").read_text()  # the solution keeps its markers


def test_export_lists_the_written_questions_still_at_the_template(tmp_path):
    from coursekit.grading.export import export_notebook, questions_at_template
    from coursekit.grading.release import release_notebook

    student = release_notebook(F.small_solution())
    assert questions_at_template(student) == ["u1.q1", "u1.q2"]
    F.answer_question(student, "u1.q1", "Colour and texture; it misses the artist.")
    assert questions_at_template(student) == ["u1.q2"]
    nbformat.write(student, tmp_path / "mine.ipynb")
    page = export_notebook(tmp_path / "mine.ipynb", tmp_path / "mine.html", execute=False).read_text()
    assert 'id="ck-template" data-questions="u1.q2"' in page and "still show the answer template" in page
