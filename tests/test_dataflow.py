"""Exercises that lean on each other (coursekit.grading.dataflow): found where a stuck student would
lose a later exercise, not found where the later exercise stands on its own. The course's own notebooks are
checked in tests/test_stuck_students.py."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursekit.cli import main
from coursekit.grading.dataflow import exercise_dependencies, statement_names
from coursekit.grading.release import ReleaseError, release

A = '# Exercise u9.a: scores\ndef score(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION'
A_CHECK = 'check("u9.a", score)'
B = '# Exercise u9.b: ranking\ndef rank(x):\n    ### BEGIN SOLUTION\n    return x.argsort()\n    ### END SOLUTION'


def notebook(*sources):
    return new_notebook(cells=[new_code_cell(s) for s in sources])


def found(nb):
    return [(d.exercise, d.dependent, d.cell, d.names) for d in exercise_dependencies(nb)]


def test_a_check_calling_an_earlier_exercise_is_found():
    nb = notebook(A, A_CHECK, B, 'check("u9.b", lambda x: rank(score(x)))')
    assert found(nb) == [("u9.a", "u9.b", 3, ("score",))]


def test_a_dependency_through_cells_in_between_is_found():
    nb = notebook(A, A_CHECK, "doubled = score(data)", "top = doubled[:3]", B.replace("x.argsort()", "top.argsort()"),
                  'check("u9.b", rank)')
    assert found(nb) == [("u9.a", "u9.b", 4, ("top",))]


def test_names_bound_again_from_clean_values_or_inside_functions_do_not_count():
    nb = notebook(A, A_CHECK, "doubled = score(data)", "doubled = features.score(data)",  # the package's version
                  "from coursekit.features import score\nfast = score(data)",  # imported again before it is read
                  B.replace("return x.argsort()", "top = doubled\n    return (x + fast + top).argsort()"),
                  'check("u9.b", rank)')
    assert found(nb) == []
    assert statement_names("def f(score):\n    return score + 1") == [({"f"}, set())]  # a parameter, not the global


def test_hidden_tests_and_markdown_are_left_out():
    hidden = 'check("u9.b", rank)\n### BEGIN HIDDEN TESTS\nassert rank(score(1)) == 0\n### END HIDDEN TESTS'
    nb = notebook(A, A_CHECK, B, hidden)
    nb.cells.insert(2, new_markdown_cell("We use `score(x)` below."))
    assert found(nb) == []


def test_release_refuses_tangled_exercises_and_names_the_file(tmp_path, capsys):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(notebook(A, A_CHECK, B, 'check("u9.b", lambda x: rank(score(x)))'), solutions / "09_x.ipynb")
    with pytest.raises(ReleaseError, match=r"09_x.ipynb.*\n.*cell 3 \(u9.b\) uses score from u9.a"):
        release(solutions, tmp_path / "notebooks")
    assert not (tmp_path / "notebooks").exists()
    assert main(["release", "--solutions", str(solutions), "--notebooks", str(tmp_path / "notebooks")]) == 2
    assert "a student stuck on u9.a could not do or check u9.b" in capsys.readouterr().err
