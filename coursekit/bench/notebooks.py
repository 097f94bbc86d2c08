"""Wall time of each solution notebook on toy data, against its budget from the unit issue."""

from __future__ import annotations

from pathlib import Path

from . import Row

BUDGETS_S = {"01": 60, "02": 150, "03": 90, "04": 90, "05": 90}  # unit 2: ablation included (issue 13)


def run(quick: bool = False, solutions: str | Path = "solutions") -> list[Row]:
    from ..notebooks import execute_notebook

    rows = []
    paths = sorted(Path(solutions).glob("[0-9][0-9]_*.ipynb"))
    if quick:  # the quick bench only times the first unit; `make test` runs all of them under nbval
        paths = paths[:1]
    for path in paths:
        _, seconds = execute_notebook(path, env={"COURSEKIT_STRICT_CHECKS": "1"})
        budget = BUDGETS_S.get(path.name[:2])
        rows.append(Row("nb", f"notebook {path.stem}", "toy data", seconds,
                        note=f"budget {budget} s" + (" (OVER)" if budget and seconds > budget else "")))
    return rows
