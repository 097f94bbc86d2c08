"""Helpers the per-unit exercise tests share: a refused delegation, and the grader's points for an
answer run against a solution notebook's hidden parts."""

from __future__ import annotations

from pathlib import Path

import nbformat

from coursekit.grading.checks import FAILED, PASSED, run_check
from coursekit.grading.delegation import MESSAGE, write_it_yourself
from coursekit.grading.grade import grading_specs
from coursekit.grading.scoring import score_exercise, status_of


def assert_refused(exercise_id: str, answer, package_name: str) -> None:
    """The visible check fails ``answer`` with the write-it-yourself message naming ``package_name``."""
    result = run_check(exercise_id, answer)
    assert result.status == FAILED, result
    assert result.message.startswith(MESSAGE), result.message
    assert package_name in result.message, result.message


def hidden_points(solution: Path, exercise: str, name: str, answer, **modules) -> tuple[int, int]:
    """(points, maximum) the grader's rule gives ``answer``: the visible check and the solution's
    hidden parts, run here in a plain namespace (``answer`` bound to ``name``, plus ``modules``)
    with the exercise's delegates guarded as the grader does."""
    spec = next(s for s in grading_specs(nbformat.read(solution, as_version=4)) if s.id == exercise)
    assert spec.hidden.parts, f"{exercise} has no hidden parts"
    pieces, namespace = {}, {**modules, name: answer}
    with write_it_yourself(spec.delegates, namespace=namespace):
        for piece, code in [("setup", spec.hidden.setup)] + [(p.name, p.code) for p in spec.hidden.parts]:
            try:
                exec(compile(code, f"<hidden {exercise} {piece}>", "exec"), namespace)  # noqa: S102 (test only)
                pieces[piece] = PASSED
            except BaseException as exc:  # noqa: BLE001  (the grader records any failure)
                pieces[piece] = status_of(exc)
    report = {"visible": run_check(exercise, answer).status, "message": "", "pieces": pieces}
    return score_exercise(spec, report).points, spec.points
