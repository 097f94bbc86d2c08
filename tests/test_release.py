"""Release: markers, sync with solutions/, no hidden tests leak (a fresh student notebook run whole:
tests/test_stuck_students.py)."""

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit.grading.release import ReleaseError, exercise_ids, release, release_notebook, student_source

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))


def test_solution_region_becomes_prompt_with_indentation():
    src = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert student_source(src, "code") == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )


def test_hidden_tests_removed_and_markdown_answers_replaced():
    src = 'check("u1.x", f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS'
    assert student_source(src, "code") == 'check("u1.x", f)'
    md = "**Q.** Why?\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"
    assert student_source(md, "markdown") == "**Q.** Why?\n\n_Write your answer here._"


def test_rubric_dropped_question_and_points_kept():
    md = ("**Question u1.q3** (2 points) Which is better?\n\n### BEGIN RUBRIC\n- (1 point) names one\n"
          "- (1 point) quotes the table\n### END RUBRIC\n\n### BEGIN SOLUTION\nThe first.\n### END SOLUTION")
    assert student_source(md, "markdown") == "**Question u1.q3** (2 points) Which is better?\n\n_Write your answer here._"
    with pytest.raises(ReleaseError, match="never closed"):
        student_source("**Question u1.q3** (1 point) Why?\n### BEGIN RUBRIC\n- (1 point) a", "markdown", "nb")


@pytest.mark.parametrize("src", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                 "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_errors(src):
    with pytest.raises(ReleaseError, match="cell 3"):
        student_source(src, "code", "nb.ipynb, cell 3")


def test_release_clears_outputs_and_keeps_parameters_tag():
    nb = new_notebook(cells=[new_code_cell("SEED = 0", metadata={"tags": ["parameters"]}),
                             new_markdown_cell("text"), new_code_cell("1 + 1")])
    nb.cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"})]
    nb.cells[2].execution_count = 1
    nb.metadata["kernelspec"] = {"name": "my-private-env", "display_name": "x"}
    out = release_notebook(nb)
    assert out.cells[2].outputs == [] and out.cells[2].execution_count is None
    assert out.cells[0].metadata["tags"] == ["parameters"]
    assert out.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[2].outputs  # the solution is untouched


def test_release_writes_and_check_detects_drift(tmp_path):
    sol, stu = tmp_path / "solutions", tmp_path / "notebooks"
    sol.mkdir()
    nb = new_notebook(cells=[new_code_cell("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION")])
    nbformat.write(nb, sol / "01_demo.ipynb")
    assert release(sol, stu, check=True).out_of_sync == [stu / "01_demo.ipynb"]
    assert release(sol, stu).written == [stu / "01_demo.ipynb"]
    assert release(sol, stu, check=True).out_of_sync == []
    (stu / "01_demo.ipynb").write_text((stu / "01_demo.ipynb").read_text().replace("x = 1", "x = 3"))
    assert release(sol, stu, check=True).out_of_sync == [stu / "01_demo.ipynb"]
    nbformat.write(nb, stu / "09_orphan.ipynb")
    assert stu / "09_orphan.ipynb" in release(sol, stu, check=True).out_of_sync


def test_repository_notebooks_are_in_sync():
    result = release(REPO / "solutions", REPO / "notebooks", check=True)
    assert result.out_of_sync == [], "run `coursekit release` and commit notebooks/"


def _hidden_lines(nb) -> list[str]:
    lines = []
    for cell in nb.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S):
            lines += [l.strip() for l in block.splitlines() if len(l.strip()) > 12]
    return lines


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_no_solution_or_hidden_test_in_student_notebook(solution):
    nb = nbformat.read(solution, as_version=4)
    student_text = (REPO / "notebooks" / solution.name).read_text()
    assert "BEGIN SOLUTION" not in student_text and "HIDDEN TESTS" not in student_text
    assert "BEGIN RUBRIC" not in student_text
    hidden = _hidden_lines(nb)
    assert hidden, f"{solution.name} has no hidden tests"
    for line in hidden:
        assert line not in student_text, f"hidden test leaked: {line}"
    assert len(exercise_ids(nb)) >= 4
