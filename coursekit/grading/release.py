"""Release: build student notebooks from solution notebooks (nbgrader conventions).

In a solution notebook
- ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` in a code cell becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()`` at the same indentation; in a markdown cell (a model answer) it
  becomes the answer template ``_Write your answer here._``;
- ``### BEGIN RUBRIC`` ... ``### END RUBRIC`` in a markdown cell (a written question's grading
  criteria) is removed; the question line with its id and points stays
  (:mod:`coursekit.grading.written`);
- ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` is removed (it runs only when grading);
- every output and execution count is cleared (later outputs would give answers away).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
BEGIN_RUBRIC, END_RUBRIC = "### BEGIN RUBRIC", "### END RUBRIC"
ANSWER_PROMPT = "_Write your answer here._"
EXERCISE_RE = re.compile(r"^\s*#\s*Exercise\s+(u\d+\.[\w.-]+)", re.MULTILINE)
CHECK_RE = re.compile(r"""check\(\s*["'](u\d+\.[\w.-]+)["']""")


class ReleaseError(ValueError):
    """A solution notebook whose markers do not pair up."""


def _replace_regions(source: str, begin: str, end: str, replacement, where: str) -> str:
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ReleaseError(f"{where}, line {number}: {begin!r} inside another region")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.extend(replacement(indent))
        elif stripped == end:
            if not inside:
                raise ReleaseError(f"{where}, line {number}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: {begin!r} is never closed with {end!r}")
    return "\n".join(out)


def student_source(source: str, cell_type: str, where: str = "cell") -> str:
    """The student version of one cell's source."""
    if cell_type == "code":
        source = _replace_regions(
            source, BEGIN_SOLUTION, END_SOLUTION,
            lambda ind: [f"{ind}# YOUR CODE HERE", f"{ind}raise NotImplementedError()"], where,
        )
        source = _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, lambda ind: [], where)
        return source.rstrip()
    if cell_type == "markdown":
        if BEGIN_RUBRIC in source or END_RUBRIC in source:
            source = _replace_regions(source, BEGIN_RUBRIC, END_RUBRIC, lambda ind: [], where)
            source = re.sub(r"\n{3,}", "\n\n", source).strip("\n")
        return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, lambda ind: [ANSWER_PROMPT], where)
    return source


def release_notebook(solution: nbformat.NotebookNode, name: str = "notebook",
                     results_dir: str | Path | None = None) -> nbformat.NotebookNode:
    """The student notebook for one solution notebook (a new object; the input is unchanged).
    Placeholders in what students see (``{{name:.3f}}``, :mod:`coursekit.glue`) show the figures
    of the solution's stored run, and ``{{data::name}}`` those of its results page in
    ``results_dir`` (``docs/results`` beside the solutions, when ``release`` is given the folder)."""
    from ..glue import fill_notebook

    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(solution), as_version=4))
    unit = name[:2] if name[:2].isdigit() else None
    nb = fill_notebook(nb, missing="mark", results_dir=results_dir, unit=unit)
    for index, cell in enumerate(nb.cells):
        cell.source = student_source(cell.source, cell.cell_type, f"{name}, cell {index}")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return nb


def answer_key(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """What a student who solved every exercise hands in: the student notebook with the solution's
    code in every exercise (hidden tests left out; written answers left at the template). The
    grading bench and tests grade it."""
    nb = release_notebook(solution, name)
    for cell, sol in zip(nb.cells, solution.cells):
        if cell.cell_type == "code":
            src = _replace_regions(sol.source, BEGIN_HIDDEN, END_HIDDEN, lambda ind: [], name)
            cell.source = "\n".join(l for l in src.splitlines() if l.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


@dataclass
class ReleaseResult:
    written: list[Path]
    out_of_sync: list[Path]


def release(solutions_dir="solutions", notebooks_dir="notebooks", *, check: bool = False,
            only: list[str] | None = None) -> ReleaseResult:
    """Release every ``NN_*.ipynb`` of ``solutions_dir`` into ``notebooks_dir``.

    With ``check=True`` nothing is written; the result lists student notebooks that are missing,
    stale or left over without a solution. ``only`` limits the release to these file names or
    unit numbers (``["02"]``). A solution whose later exercise uses an earlier exercise's code
    (:mod:`coursekit.grading.dataflow`) is refused with :class:`ReleaseError`.
    """
    solutions_dir, notebooks_dir = Path(solutions_dir), Path(notebooks_dir)
    written, stale = [], []
    sources = sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))
    if only:
        sources = [s for s in sources if s.name in only or s.name[:2] in only]
    from ..results import RESULTS_DIR
    from .dataflow import exercise_dependencies

    results_dir = solutions_dir.resolve().parent / RESULTS_DIR
    for src in sources:
        solution = nbformat.read(src, as_version=4)
        tangled = exercise_dependencies(solution)
        if tangled:
            raise ReleaseError(f"{src}: exercises depend on each other:\n  " + "\n  ".join(map(str, tangled)))
        student = dumps(release_notebook(solution, src.name, results_dir))
        dest = notebooks_dir / src.name
        current = dest.read_text(encoding="utf-8") if dest.exists() else None
        if current == student:
            continue
        if check:
            stale.append(dest)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".ipynb.part")
            tmp.write_text(student, encoding="utf-8")
            tmp.replace(dest)
            written.append(dest)
    names = {s.name for s in solutions_dir.glob("[0-9][0-9]_*.ipynb")}
    for extra in sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb")):
        if extra.name not in names:
            stale.append(extra)
    return ReleaseResult(written, stale)


def exercise_ids(nb: nbformat.NotebookNode) -> list[str]:
    """Exercise ids a notebook declares (``# Exercise uN.name`` lines and ``check("uN.name"``)."""
    seen: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for ex in EXERCISE_RE.findall(cell.source) + CHECK_RE.findall(cell.source):
            if ex not in seen:
                seen.append(ex)
    return seen
