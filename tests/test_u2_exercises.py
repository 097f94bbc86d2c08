"""Unit 2 exercises: independent correct answers pass, the package versions are refused ("write it
yourself"), wrong answers fail with hints in two steps, delegating answers score nothing in the
grader's cells, and no cell after an exercise needs the student's answer. (The catalogue of wrong
answers and their partial credit: test_wrong_answers_u2.py.)"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.grading.checks import ERROR, FAILED, PASSED, get_exercise, run_check
from coursekit.grading.grade import grading_specs
from coursekit.grading.release import EXERCISE_RE
from coursekit.grading.scoring import hidden_cell_source, score_exercise
from ._exercise_helpers import assert_refused
from ._u2_answers import EXERCISES, GOOD, WRONG
from ._u2_answers import answer as _answer

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "02_curatornet.ipynb"


def _notebook(source: str, **names) -> dict:
    """A notebook-like namespace: ``source`` runs in it as a student's cell would."""
    import pandas as pd
    import torch

    ns = {"__name__": "__main__", "np": np, "pd": pd, "torch": torch, **names}
    exec(compile(textwrap.dedent(source), "<ipython-input-1>", "exec"), ns)  # noqa: S102 - a notebook cell
    return ns


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_an_independent_answer_passes(exercise_id):
    result = run_check(exercise_id, _answer(exercise_id, GOOD[exercise_id]))
    assert result.status == PASSED, result
    assert result.hint == ""


def test_points_follow_difficulty():
    points = {e: get_exercise(e).points for e in EXERCISES}
    assert points == {"u2.available_mask": 4, "u2.sample_profile_items": 4, "u2.check_strategy3": 4,
                      "u2.bpr_loss": 3, "u2.auc_available": 4}


def test_no_hint_names_the_stable_call():
    """The hints of issue 14 that gave the answer away are gone."""
    for exercise_id in EXERCISES:
        for hint in get_exercise(exercise_id).hints:
            assert "softplus(neg" not in hint.replace(" ", "") and "[users, artist[pos]]" not in hint


# --------------------------------------------------------------------------- the package version is refused

def test_available_mask_refuses_the_replay():
    ns = _notebook("""
        from coursekit.inventory import replay_inventory as replay
        def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
            return replay(upload_time, purchase_time, purchase_indptr, purchase_items).mask(times)
    """)
    assert_refused("u2.available_mask", ns["available_mask"], "replay_inventory")
    ns = _notebook("""
        import coursekit.inventory as inv
        def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
            on = [inv.replay_per_query(upload_time, purchase_time, purchase_indptr, purchase_items, int(t))
                  for t in times]
            return np.array([[i in s for i in range(len(upload_time))] for s in on])
    """)
    assert_refused("u2.available_mask", ns["available_mask"], "replay_per_query")
    ns = _notebook("""
        from coursekit.inventory import Availability
        def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
            n = len(upload_time)  # the removal times by hand, the package's window test
            return Availability(np.asarray(upload_time), np.full(n, 2**62), np.ones(n, bool)).mask(times)
    """)
    assert_refused("u2.available_mask", ns["available_mask"], "Availability")


def test_sample_profile_items_refuses_the_package_sampler():
    ns = _notebook("""
        from coursekit.sampling.curatornet import _pick_in_rows, _pick_outside_rows
        def sample_profile_items(profile, n, rng):
            users = rng.choice(np.flatnonzero(np.diff(profile.indptr)), n)
            return users, _pick_in_rows(profile, users, rng), _pick_outside_rows(profile, users, rng)
    """)
    assert_refused("u2.sample_profile_items", ns["sample_profile_items"], "_pick_in_rows")
    ns = _notebook("""
        from coursekit.sampling import curatornet as cn
        def sample_profile_items(profile, n, rng):  # positives by hand, the package's membership test
            users = rng.choice(np.flatnonzero(np.diff(profile.indptr)), n)
            pos = np.array([rng.choice(profile.indices[profile.indptr[u]:profile.indptr[u + 1]]) for u in users])
            neg = rng.integers(0, profile.shape[1], n)
            bad = cn.member(profile, users, neg)
            while bad.any():
                neg[bad] = rng.integers(0, profile.shape[1], bad.sum())
                bad = cn.member(profile, users, neg)
            return users, pos, neg
    """)
    assert_refused("u2.sample_profile_items", ns["sample_profile_items"], "member")


def test_check_strategy3_refuses_the_package_check():
    ns = _notebook(DELEGATING["u2.check_strategy3"])
    assert_refused("u2.check_strategy3", ns["check_strategy3"], "_liked")


def test_bpr_loss_refuses_the_package_loss():
    from coursekit.models import torch_curatornet

    assert_refused("u2.bpr_loss", torch_curatornet.bpr_loss, "bpr_loss")
    ns = _notebook("""
        from coursekit.models.torch_curatornet import bpr_loss as package_loss
        def bpr_loss(pos_scores, neg_scores):
            return package_loss(pos_scores, neg_scores)
    """)
    assert_refused("u2.bpr_loss", ns["bpr_loss"], "coursekit.models.torch_curatornet.bpr_loss")
    # later cells get the package loss back untouched
    import torch

    assert abs(float(torch_curatornet.bpr_loss(torch.zeros(2), torch.zeros(2))) - np.log(2)) < 1e-6


def test_auc_available_refuses_the_package_metrics():
    ns = _notebook("""
        from coursekit import metrics
        def auc_available(scores, relevant, candidates):
            return metrics.auc_score(scores[None], [relevant], candidates[None])[0]
    """)
    assert_refused("u2.auc_available", ns["auc_available"], "auc_score")
    ns = _notebook("""
        from coursekit.metrics import pair_auc
        def auc_available(scores, relevant, candidates):
            rel = np.zeros(len(scores))
            rel[relevant] = 1
            return pair_auc(rel[candidates], scores[candidates])
    """)
    assert_refused("u2.auc_available", ns["auc_available"], "pair_auc")


# --------------------------------------------------------------------------- wrong answers, hints in two steps

CAUGHT = [(e, m) for e, ms in WRONG.items() for m, w in ms.items() if w.visible_fails]


@pytest.mark.parametrize("exercise_id, mistake", CAUGHT)
def test_a_wrong_answer_fails_with_the_first_then_the_second_hint(exercise_id, mistake):
    answer = _answer(exercise_id, WRONG[exercise_id][mistake].source)
    hints = get_exercise(exercise_id).hints
    first = run_check(exercise_id, answer)
    assert first.status in (FAILED, ERROR) and first.hint == hints[0], first
    second = run_check(exercise_id, answer)
    assert second.status in (FAILED, ERROR) and second.hint == hints[1], second
    assert run_check(exercise_id, _answer(exercise_id, GOOD[exercise_id])).hint == ""  # passed: no hint


# --------------------------------------------------------------------------- hidden parts: partial credit

@pytest.fixture(scope="module")
def specs():
    return {s.id: s for s in grading_specs(nbformat.read(SOLUTION, as_version=4))}


@pytest.fixture(scope="module")
def state():
    """What the hidden tests may read from the notebook beyond their own inputs: nothing but torch
    (they build every input themselves, so a student's earlier cells cannot change them)."""
    import torch

    return {"torch": torch}


def _grade(spec, student_source, state):
    """Run the grader's cell for one exercise after the student's cell; return (points, pieces)."""
    ns = _notebook(student_source, **state)
    exec(compile(hidden_cell_source(spec).replace("_ck_run.report()", ""), "<grader>", "exec"), ns)  # noqa: S102
    report = ns["_ck_run"].result
    return score_exercise(spec, report).points, report["pieces"]


def test_an_answer_that_is_the_package_function_scores_nothing(specs, state):
    """Bound to the exercise's own name, the package function fails the check *and* every hidden
    part (the parts call it from the grader's own lines, which the guard alone would let through)."""
    got, pieces = _grade(specs["u2.bpr_loss"],
                         "from coursekit.models.torch_curatornet import bpr_loss", state)
    assert got == 0, pieces
    assert not _parts_passed(pieces), pieces


def _parts_passed(pieces):
    return {name for name, status in pieces.items() if status == PASSED and name != "setup"}


def test_every_exercise_has_hidden_parts_that_leave_the_check_a_point(specs):
    assert list(specs) == EXERCISES
    for exercise_id, spec in specs.items():
        assert spec.hidden.parts, exercise_id
        assert spec.points - spec.hidden.part_points == 1, exercise_id  # the visible check earns 1


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_grader_gives_an_independent_answer_full_points(specs, state, exercise_id):
    got, pieces = _grade(specs[exercise_id], GOOD[exercise_id], state)
    assert got == specs[exercise_id].points, pieces


# answers that hand the work to the package (the grader gives them nothing)
DELEGATING = {
    "u2.available_mask": """
        from coursekit.inventory import replay_inventory
        def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
            return replay_inventory(upload_time, purchase_time, purchase_indptr, purchase_items).mask(times)
    """,
    "u2.sample_profile_items": """
        from coursekit.sampling import curatornet as _cn
        def sample_profile_items(profile, n, rng):
            users = rng.choice(np.flatnonzero(np.diff(profile.indptr)), n)
            return users, _cn._pick_in_rows(profile, users, rng), _cn._pick_outside_rows(profile, users, rng)
    """,
    "u2.check_strategy3": """
        import scipy.sparse as sp
        from coursekit.inventory import _liked
        def check_strategy3(users, pos, neg, profile, artist, cluster):
            p = sp.csr_matrix(profile)
            la = _liked(p, artist, artist.max() + 1).toarray()
            lc = _liked(p, cluster, cluster.max() + 1).toarray()
            assert not profile[users, pos].any()
            assert la[users, artist[pos]].all() and lc[users, cluster[pos]].all()
            assert not la[users, artist[neg]].any() and not lc[users, cluster[neg]].any()
    """,
    "u2.bpr_loss": """
        from coursekit.models import torch_curatornet
        def bpr_loss(pos_scores, neg_scores):
            return torch_curatornet.bpr_loss(pos_scores, neg_scores)
    """,
    "u2.auc_available": """
        from coursekit.metrics import auc_score
        def auc_available(scores, relevant, candidates):
            return auc_score(scores[None], [relevant], candidates[None])[0]
    """,
}


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_grader_gives_a_delegating_answer_nothing(specs, state, exercise_id):
    got, pieces = _grade(specs[exercise_id], DELEGATING[exercise_id], state)
    assert got == 0, pieces


# --------------------------------------------------------------------------- a stuck student carries on

def test_no_later_cell_needs_an_unfinished_exercise():
    """Each exercise's function is used only in its own cell and its check cell: every later cell
    calls the package, so a student stuck on one exercise runs the rest of the unit."""
    nb = nbformat.read(SOLUTION, as_version=4)
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    found = {}
    for k, (i, src) in enumerate(code):
        match = EXERCISE_RE.search(src)
        if not match:
            continue
        defined = [n.name for n in ast.parse(src).body if isinstance(n, ast.FunctionDef)]
        assert len(defined) == 1, (match.group(1), defined)
        name = defined[0]
        check_cell = code[k + 1][1]
        assert f'check("{match.group(1)}", {name})' in check_cell
        found[match.group(1)] = name
        for j, other in code:
            if j in (i, code[k + 1][0]):
                continue
            names = {n.id for n in ast.walk(ast.parse(other.replace("%", "#"))) if isinstance(n, ast.Name)}
            assert name not in names, f"code cell {j} uses the student's {name}"
    assert list(found) == EXERCISES
