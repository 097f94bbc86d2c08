"""Stuck students carry on (issue 14, item 4): with exercises left undone, only those exercises'
cells and their checks fail; every other cell of the unit still runs.

For every unit the test runs the student notebook as released (``notebooks/``: every exercise
undone, each solution region a ``raise NotImplementedError()``) with errors allowed and collects
the cells that fail; it also checks what a fresh notebook shows (every check "not attempted", no
hint used up). One run per unit stands for one run
per exercise because no exercise leans on another: a later exercise's cell or check never reads
what an earlier exercise's cell defines, directly or through the cells in between
(:func:`coursekit.grading.dataflow.exercise_dependencies`, which ``coursekit release`` enforces and
``test_exercises_stand_on_their_own`` asserts here), so a student stuck on any one exercise loses
only that exercise's cells; the cells outside the exercises run on the package's versions.

To fit the suite's time budget:
- the notebooks run with smaller sizes where a unit exposes them in its parameters cell
  (``coursekit.notebooks.inject_parameters``: fewer users, triples, epochs, embedded pictures,
  bootstrap resamples, unit 1's smallest CNN; the same code paths) on the shared toy data cache;
- a unit's notebooks (the stuck one, and the baseline where needed) run in one kernel, cleared
  with ``%reset -f`` (a fresh namespace; imported libraries stay loaded); two units run at a time.
Smaller data can make a claim about the full-size figures fail: the runs set
``COURSEKIT_STRICT_CLAIMS=0``, so it is shown as not holding instead of stopping the cell. It can
also make an assertion cell fail (unit 3's guard). When the stuck run has a failing cell outside
the exercises, the fully solved notebook runs at the same sizes in the same kernel (the baseline),
and the stuck notebook may fail there only with the same error; when it has none, the baseline is
not run.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.dataflow import exercise_dependencies
from coursekit.grading.grade import exercise_order
from coursekit.grading.release import CHECK_RE, EXERCISE_RE
from coursekit.notebooks import inject_parameters, kernel_environment, kernel_session, parameter_names

from . import _grading_fixtures as F

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))
SMALLER = {  # names a unit's parameters cell does not have are left out
    "01": {"N_EMBED": 300, "EMBED_SIZE": 32, "EMBED_MODEL": "mobilenet_v3_small"},  # builds in a fraction of ResNet50's time
    "02": {"N_RESTARTS": 1, "N_TRIPLES": 5000, "MAX_EPOCHS": 2, "N_SEEDS": 2, "N_COLD_SEEDS": 1},
    "03": {"N_ITEMS": 800, "MAX_EPOCHS": 2, "LEARNING_RATES": (0.03,), "N_SEEDS": 2},
    "04": {"N_USERS": 600, "N_ARTISTS": 500, "K_GRID": (10, 50), "N_BOOT": 200},
    "05": {"N_USERS": 600, "N_PRODUCTS": 300, "N_NEGATIVES": 20},
}
# seconds per unit, relative (measured alone: unit 3 36 s with its baseline, unit 1 27 s, unit 4 25 s,
# unit 5 22 s, unit 2 15 s)
COST = {"03": 2.4, "01": 1.8, "04": 1.7, "05": 1.5}
TIMEOUT = 600  # per cell
# as a student runs it; no records; a claim that fails at the smaller sizes is shown, not raised
ENV = {"COURSEKIT_STRICT_CHECKS": "0", "COURSEKIT_STRICT_CLAIMS": "0", "COURSEKIT_RECORD": ""}


def _exercises(path: Path) -> list[str]:
    return exercise_order(nbformat.read(path, as_version=4))


CASES = [(p.name[:2], ex) for p in SOLUTIONS for ex in _exercises(p)]


def _parameters(unit: str, nb) -> dict:
    _, names = parameter_names(nb)
    return {k: v for k, v in SMALLER.get(unit, {}).items() if k in names}


def student_notebook(name: str, parameters: dict):
    """(the student notebook as released: every exercise undone, {index of a cell allowed to fail:
    the exercise whose cell or check it is})."""
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)  # tests/test_release.py keeps it in sync
    inject_parameters(nb, parameters, "stuck")
    allowed = {i: ex for i, c in enumerate(nb.cells) if c.cell_type == "code"
               for ex in EXERCISE_RE.findall(c.source) + CHECK_RE.findall(c.source)}
    return nb, allowed


def failing_cells(nb) -> dict[int, str]:
    return {i: o.get("ename", "") for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"}


def run_unit(unit: str) -> dict:
    """{"stuck" | "solved": (failing cells, cells allowed to fail), "shown": the check boxes of the
    stuck run}: the unit's notebook with every exercise undone, then, only when a cell outside the
    exercises failed, the solved baseline (``"solved"`` is ``({}, {})`` when it did not run), one
    after the other in one kernel."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = next(p for p in SOLUTIONS if p.name.startswith(unit))
    solution = nbformat.read(path, as_version=4)
    parameters = _parameters(unit, solution)
    with kernel_session(env=kernel_environment(**ENV)) as session:
        client = NotebookClient(nbformat.v4.new_notebook(), timeout=TIMEOUT, kernel_name="python3",
                                allow_errors=True, interrupt_on_timeout=True, record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}},
                                kernel_manager_class=session.kernel_manager_class)
        with client.setup_kernel(**session.start_kwargs):
            def failures(nb) -> dict[int, str]:
                """The failing cells of ``nb`` run in a cleared namespace; {-1: why} when a cell
                timed out or the kernel died."""
                client.nb = nb
                try:
                    client.execute_cell(nbformat.v4.new_code_cell("%reset -f"), 0, store_history=False)
                    for index, cell in enumerate(nb.cells):
                        client.execute_cell(cell, index)
                except (CellTimeoutError, DeadKernelError) as exc:
                    return {-1: f"{type(exc).__name__}: {exc}"[:300]}
                return failing_cells(nb)

            nb, allowed = student_notebook(path.name, parameters)
            failed = failures(nb)
            results = {"stuck": (failed, allowed), "solved": ({}, {}),
                       "shown": [o["metadata"]["coursekit"] | {"text": str(o.get("data", ""))}
                                 for c in nb.cells for o in c.get("outputs", [])
                                 if "exercise" in o.get("metadata", {}).get("coursekit", {})]}
            if -1 not in failed and set(failed) - set(allowed):  # a cell outside the exercises failed
                baseline = F.answered(solution)  # every exercise solved, no hidden tests
                inject_parameters(baseline, parameters, "stuck")
                results["solved"] = (failures(baseline), {})
    return results


UNITS = sorted({unit for unit, _ in CASES})


@pytest.fixture(scope="module")
def runs():
    """Every unit's stuck notebook (and baseline where needed), two units at a time (the slowest first)."""
    order = sorted(UNITS, key=lambda u: -COST.get(u, 1))
    with ProcessPoolExecutor(max_workers=2) as pool:
        return dict(zip(order, pool.map(run_unit, order)))


@pytest.mark.parametrize("unit", UNITS)
def test_exercises_stand_on_their_own(unit):
    path = next(p for p in SOLUTIONS if p.name.startswith(unit))
    tangled = exercise_dependencies(nbformat.read(path, as_version=4))
    assert not tangled, "\n".join(map(str, tangled))


@pytest.mark.slow
@pytest.mark.parametrize("unit", UNITS)
def test_with_every_exercise_undone_only_the_exercises_fail(runs, unit):
    failed, allowed = runs[unit]["stuck"]
    baseline, _ = runs[unit]["solved"]
    assert -1 not in baseline, f"the solved notebook at the smaller sizes: {baseline[-1]}"
    assert -1 not in failed, failed[-1]
    others = {i: e for i, e in failed.items() if i not in allowed and baseline.get(i) != e}
    assert not others, ("exercises left undone make other cells fail: "
                        + ", ".join(f"cell {i} ({e})" for i, e in sorted(others.items())))


@pytest.mark.slow
@pytest.mark.parametrize("unit, exercise", CASES, ids=[ex for _, ex in CASES])
def test_an_undone_exercise_fails_its_own_cell_or_check(runs, unit, exercise):
    failed, allowed = runs[unit]["stuck"]
    assert -1 not in failed, failed[-1]
    own = {i for i, ex in allowed.items() if ex == exercise}
    assert own, f"{exercise}: no cell of the notebook holds it or its check"
    assert failed.keys() & own, f"{exercise} left undone: neither its cell nor its check failed"


@pytest.mark.slow
@pytest.mark.parametrize("unit", UNITS)
def test_a_fresh_student_notebook_shows_every_check_not_attempted_and_no_hint(runs, unit):
    failed, allowed = runs[unit]["stuck"]
    checks = {i for i in allowed if i in failed}
    assert checks and all(failed[i] in ("NotAttempted", "NotImplementedError") for i in checks), \
        {i: failed[i] for i in checks}
    shown = runs[unit]["shown"]
    assert {box["exercise"] for box in shown} == set(allowed.values())  # every check shows its box
    assert all(box["status"] == "not attempted" for box in shown), shown
    assert not any("hint" in box["text"].lower() for box in shown)  # no hint used up before an attempt
