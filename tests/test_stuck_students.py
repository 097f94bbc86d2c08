"""Stuck students carry on (issue 14, item 4): with any one exercise left undone, only that
exercise's cell and its check fail; every other cell of the unit still runs.

For every exercise of the five units the test builds the student notebook with only that exercise
unsolved (the solution, hidden tests removed, with that exercise's solution region released as
``raise NotImplementedError()``), runs it with errors allowed and collects the cells that fail.

To fit the suite's time budget:
- the notebooks run with smaller sizes where a unit exposes them in its parameters cell
  (``coursekit.notebooks.inject_parameters``: fewer users, triples, epochs, embedded pictures,
  bootstrap resamples, unit 1's smallest CNN; the same code paths) on the shared toy data cache;
- each unit's notebooks run one after the other in one kernel, cleared with ``%reset -f`` before
  each notebook (a fresh namespace; imported libraries stay loaded, so TensorFlow and PyTorch are
  imported once per unit, not once per notebook); two units run at a time.
Smaller data can make a claim or an assertion cell about the full-size figures fail; those cells
are found by running the fully solved notebook at the same sizes first (the baseline), and a
stuck notebook may fail there only with the same error.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from coursekit.grading.grade import exercise_order
from coursekit.grading.release import CHECK_RE, EXERCISE_RE, student_source
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
COST = {"01": 3, "05": 1.5, "02": 1.2}  # seconds per stuck notebook, relative (unit 1 has no smaller toy data)
TIMEOUT = 600  # per cell
ENV = {"COURSEKIT_STRICT_CHECKS": "0", "COURSEKIT_RECORD": ""}  # as a student runs it; no records


def _exercises(path: Path) -> list[str]:
    return exercise_order(nbformat.read(path, as_version=4))


CASES = [(p.name[:2], ex) for p in SOLUTIONS for ex in _exercises(p)]


def _parameters(unit: str, nb) -> dict:
    _, names = parameter_names(nb)
    return {k: v for k, v in SMALLER.get(unit, {}).items() if k in names}


def stuck_notebook(solution: nbformat.NotebookNode, exercise: str | None, parameters: dict):
    """(the notebook with only ``exercise`` unsolved (None: everything solved), indices of the
    cells allowed to fail: the exercise's cell and its check cell)."""
    nb = F.answered(solution)  # every exercise solved, no hidden tests
    for cell, original in zip(nb.cells, solution.cells):
        if cell.cell_type == "code" and exercise in EXERCISE_RE.findall(original.source):
            cell.source = student_source(original.source, "code")
    inject_parameters(nb, parameters, "stuck")
    allowed = {i for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and exercise is not None and (exercise in EXERCISE_RE.findall(c.source)
                                             or exercise in CHECK_RE.findall(c.source))}
    return nb, allowed


def failing_cells(nb) -> dict[int, str]:
    return {i: o.get("ename", "") for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"}


def run_unit(unit: str, exercises: list) -> list:
    """[(exercise, failing cells, cells allowed to fail, seconds)] for the baseline (None) and each
    stuck notebook of one unit, in one kernel."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = next(p for p in SOLUTIONS if p.name.startswith(unit))
    solution = nbformat.read(path, as_version=4)
    parameters = _parameters(unit, solution)
    results = []
    with kernel_session(env=kernel_environment(**ENV)) as session:
        client = NotebookClient(nbformat.v4.new_notebook(), timeout=TIMEOUT, kernel_name="python3",
                                allow_errors=True, interrupt_on_timeout=True, record_timing=False,
                                resources={"metadata": {"path": str(path.parent)}},
                                kernel_manager_class=session.kernel_manager_class)
        with client.setup_kernel(**session.start_kwargs):
            dead = None
            for exercise in [None, *exercises]:
                nb, allowed = stuck_notebook(solution, exercise, parameters)
                start = time.monotonic()
                if dead is None:
                    client.nb = nb
                    try:
                        client.execute_cell(nbformat.v4.new_code_cell("%reset -f"), 0, store_history=False)
                        for index, cell in enumerate(nb.cells):
                            client.execute_cell(cell, index)
                        failed = failing_cells(nb)
                    except (CellTimeoutError, DeadKernelError) as exc:
                        failed = {-1: f"{type(exc).__name__}: {exc}"[:300]}
                        dead = failed if isinstance(exc, DeadKernelError) else None
                else:
                    failed = dead
                results.append((exercise, failed, allowed, time.monotonic() - start))
    return results


@pytest.fixture(scope="module")
def runs():
    """Every unit's baseline and stuck notebooks, two units at a time (the slowest first)."""
    units = {}
    for unit, ex in CASES:
        units.setdefault(unit, []).append(ex)
    order = sorted(units, key=lambda u: -COST.get(u, 1) * len(units[u]))
    start = time.monotonic()
    with ProcessPoolExecutor(max_workers=2) as pool:
        done = dict(zip(order, pool.map(run_unit, order, [units[u] for u in order])))
    results = {(unit, ex): (failed, allowed, seconds) for unit, rows in done.items()
               for ex, failed, allowed, seconds in rows}
    results["wall"] = time.monotonic() - start
    return results


@pytest.mark.slow
@pytest.mark.parametrize("unit, exercise", CASES, ids=[ex for _, ex in CASES])
def test_only_the_stuck_exercise_fails(runs, unit, exercise):
    failed, allowed, _ = runs[unit, exercise]
    baseline, _, _ = runs[unit, None]
    assert -1 not in failed, failed[-1]
    others = {i: e for i, e in failed.items() if i not in allowed and baseline.get(i) != e}
    assert not others, (f"{exercise} left undone makes other cells fail: "
                        + ", ".join(f"cell {i} ({e})" for i, e in sorted(others.items())))
    assert failed.keys() & allowed, f"{exercise} left undone: its check did not fail"
