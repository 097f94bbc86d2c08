"""Unit 2: a catalogue of plausible wrong answers to every exercise loses points (issue 24).

Each wrong answer (``tests/_u2_answers.py``: off-by-one, a Python loop where the text forbids it, a
dense copy where the text asks for sparse, shape-only, or a wrong rule) is graded as the grader
grades it, the visible check and the solution's hidden parts, and must score below the maximum,
passing exactly the hidden parts listed for it. Unit 2 returns nothing sorted, so no "unsorted"
answer applies. Every exercise has at least two hidden parts that check values.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from coursekit.grading.checks import PASSED
from coursekit.grading.grade import grading_specs
from ._exercise_helpers import hidden_points
from ._u2_answers import EXERCISES, GOOD, PARTS, WRONG, answer

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "02_curatornet.ipynb"
CASES = [(e, m) for e in EXERCISES for m in WRONG[e]]


def _points(exercise_id, source):
    return hidden_points(SOLUTION, exercise_id, exercise_id.split(".")[1], answer(exercise_id, source),
                         np=np, torch=torch)


@pytest.fixture(scope="module")
def specs():
    return {s.id: s for s in grading_specs(nbformat.read(SOLUTION, as_version=4))}


def test_the_catalogue_covers_every_exercise_and_kind(specs):
    assert list(specs) == EXERCISES
    kinds = {e: {w.kind for w in WRONG[e].values()} for e in EXERCISES}
    for e in EXERCISES:
        assert {"off-by-one", "shape-only", "rule"} <= kinds[e] or e == "u2.bpr_loss", (e, kinds[e])
        assert "loop" in kinds[e], e  # every exercise text forbids a Python loop
        assert [p.name for p in specs[e].hidden.parts] == list(PARTS[e].values()), e
        assert len(specs[e].hidden.parts) >= 2
    assert "dense" in kinds["u2.sample_profile_items"]  # the one exercise whose text asks for sparse


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_independent_answer_gets_full_points(exercise_id):
    got, most = _points(exercise_id, GOOD[exercise_id])
    assert got == most


@pytest.mark.parametrize("exercise_id, mistake", CASES, ids=[f"{e}: {m}" for e, m in CASES])
def test_a_wrong_answer_loses_points(specs, exercise_id, mistake):
    wrong = WRONG[exercise_id][mistake]
    spec = specs[exercise_id]
    got, most = _points(exercise_id, wrong.source)
    names = PARTS[exercise_id]
    parts = {p.name: p.points for p in spec.hidden.parts}
    expected = sum(parts[names[letter]] for letter in wrong.parts_passed)
    expected += 0 if wrong.visible_fails else spec.points - spec.hidden.part_points
    assert got == expected < most, (mistake, got, expected)


def test_the_visible_check_catches_the_wrong_rules_it_is_meant_to():
    """Loops and dense copies pass the visible check (small inputs) and lose points in the hidden
    parts; every other wrong answer already fails the visible check."""
    from coursekit.grading.checks import run_check

    for exercise_id, mistake in CASES:
        wrong = WRONG[exercise_id][mistake]
        status = run_check(exercise_id, answer(exercise_id, wrong.source)).status
        assert (status != PASSED) == wrong.visible_fails, (exercise_id, mistake, status)
