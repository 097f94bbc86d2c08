"""Which exercises of a notebook lean on another exercise's code (a static look at names).

A student stuck on one exercise must still be able to do and check the others. That fails when a
later exercise's cell or its ``check`` uses what an earlier exercise's cell defines, directly or
through the cells in between (``scores = cosine_topk(...)`` and then ``recommend(scores)``).
:func:`exercise_dependencies` follows module-level names from cell to cell, as the kernel would run
them: a name bound by a cell that reads a tainted name is tainted; a name bound again from clean
values is clean again. Names inside functions count where they are free (globals), not where they
are parameters or locals. The look is conservative: a tainted name that a cell reads only on a
branch that never runs still counts.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass

import nbformat

from .release import BEGIN_HIDDEN, CHECK_RE, END_HIDDEN, EXERCISE_RE, _replace_regions


@dataclass(frozen=True)
class Dependency:
    exercise: str        # the exercise a student could be stuck on
    dependent: str       # the later exercise that would break with it
    cell: int            # index of the dependent exercise's cell (or check cell) that reads ...
    names: tuple         # ... these names, which come from ``exercise``'s cell

    def __str__(self) -> str:
        return (f"cell {self.cell} ({self.dependent}) uses {', '.join(self.names)} from {self.exercise}'s cell: "
                f"a student stuck on {self.exercise} could not do or check {self.dependent}; "
                f"use the package's version there")


def _python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)  # magics and shell lines become calls


def _names(code: str) -> tuple[set[str], set[str]]:
    top = symtable.symtable(code, "<cell>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    read = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    inner = list(top.get_children())
    while inner:
        table = inner.pop()
        inner.extend(table.get_children())
        read |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
    return bound, read


def statement_names(source: str) -> list[tuple[set[str], set[str]]]:
    """(module-level names bound, module-level names read) of each top-level statement of a cell,
    in order (``import x`` before ``x()`` in one cell reads the fresh ``x``)."""
    try:
        body = ast.parse(_python(source)).body
    except SyntaxError:  # a cell that does not parse binds and reads nothing the kernel would keep
        return []
    return [_names(ast.unparse(statement)) for statement in body]


def exercise_dependencies(nb: nbformat.NotebookNode) -> list[Dependency]:
    """Where a later exercise's cell or check reads a name an earlier exercise's cell defines (the
    first such cell of each pair), in the notebook as students run it (hidden tests left out).

    ``nb`` is a solution notebook: what its exercise cells bind is what a stuck student lacks.
    """
    code = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            source = _replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, lambda indent: [], f"cell {i}")
            code.append((i, cell.source, statement_names(source)))
    owners: dict[int, list[str]] = {}  # cell -> exercises whose cell or check it is
    exercise_cells: dict[str, list[int]] = {}
    for i, source, _ in code:
        for ex in EXERCISE_RE.findall(source):
            exercise_cells.setdefault(ex, []).append(i)
        for ex in dict.fromkeys(EXERCISE_RE.findall(source) + CHECK_RE.findall(source)):
            owners.setdefault(i, []).append(ex)
    found, reported = [], set()  # one dependency per (exercise, dependent): the first cell
    for exercise, cells in exercise_cells.items():
        tainted: set[str] = set()
        for i, _, statements in code:
            if i < cells[0]:
                continue
            if i in cells:
                tainted |= set().union(*(bound for bound, _ in statements))
                continue
            used = set()
            for bound, read in statements:
                if read & tainted:
                    used |= read & tainted
                    tainted |= bound
                else:
                    tainted -= bound
            if not used:
                continue
            for other in owners.get(i, []):
                if other != exercise and (exercise, other) not in reported:
                    reported.add((exercise, other))
                    found.append(Dependency(exercise, other, i, tuple(sorted(used))))
    return found
