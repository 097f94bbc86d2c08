"""What the solution notebook says: exercises in order, points, delegates, hidden parts, the
arguments of each check call, and what the guard must import and watch. Read once, before any
student code runs (:mod:`coursekit.grading.grade`).
"""

from __future__ import annotations

import ast
import re

import nbformat

from .release import BEGIN_HIDDEN, CHECK_RE, END_HIDDEN, EXERCISE_RE
from .scoring import ExerciseSpec, check_call_args, parse_hidden

DOTTED_RE = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def hidden_tests(solution: nbformat.NotebookNode) -> dict[str, str]:
    """{exercise id: hidden test source} from the solution notebook's check cells."""
    tests: dict[str, str] = {}
    pattern = re.compile(re.escape(BEGIN_HIDDEN) + r"\n(.*?)" + re.escape(END_HIDDEN), re.S)
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        ids = CHECK_RE.findall(cell.source)
        blocks = pattern.findall(cell.source)
        if ids and blocks:
            tests[ids[0]] = "\n".join(b.rstrip("\n") for b in blocks)
    return tests


def exercise_order(solution: nbformat.NotebookNode) -> list[str]:
    seen: list[str] = []
    for cell in solution.cells:
        if cell.cell_type == "code":
            for ex in EXERCISE_RE.findall(cell.source) + CHECK_RE.findall(cell.source):
                if ex not in seen:
                    seen.append(ex)
    return seen


def grading_specs(solution: nbformat.NotebookNode) -> list[ExerciseSpec]:
    """Points, delegates, hidden parts and check-call arguments of every exercise of a solution."""
    from .checks import get_exercise

    tests = hidden_tests(solution)
    check_sources: dict[str, str] = {}
    for cell in solution.cells:
        if cell.cell_type == "code":
            for ex in CHECK_RE.findall(cell.source):
                check_sources.setdefault(ex, cell.source)
    specs = []
    for ex in exercise_order(solution):
        try:
            registered = get_exercise(ex)
            points, delegates = registered.points, registered.delegates
        except KeyError:
            points, delegates = 1, ()
        args = check_call_args(check_sources[ex], ex) if ex in check_sources else None
        specs.append(ExerciseSpec(ex, points, tuple(delegates), parse_hidden(tests.get(ex, ""), ex), args))
    return specs


def _import_lines(solution: nbformat.NotebookNode) -> list[str]:
    """The solution's top-level import statements, one per line."""
    lines: list[str] = []
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", "") != "__future__":
                line = ast.unparse(node)
                if line not in lines:
                    lines.append(line)
    return lines


def guard_config(solution: nbformat.NotebookNode, specs: list[ExerciseSpec]) -> dict:
    """What the guard imports, binds and watches (see :func:`coursekit.grading.guard.arm`)."""
    from .checks import get_exercise

    check_modules = []
    for spec in specs:
        try:
            module = get_exercise(spec.id).test.__module__
        except (KeyError, AttributeError):
            continue
        if module not in check_modules:
            check_modules.append(module)
    imports = _import_lines(solution)
    modules = ["numpy", "coursekit", "coursekit.grading.checks", "coursekit.grading.delegation",
               "coursekit.grading.scoring", *check_modules]
    for line in imports:
        node = ast.parse(line).body[0]
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        modules += [n for n in names if n and n not in modules]
    chains: dict[str, None] = {}
    for spec in specs:
        code = "\n".join([spec.hidden.setup, *(p.code for p in spec.hidden.parts), spec.check_args or ""])
        chains.update(dict.fromkeys(DOTTED_RE.findall(code)))
    return {"modules": modules, "imports": "\n".join(imports), "check_modules": check_modules, "chains": list(chains),
            "student_names": sorted(_exercise_names(solution))}


def _exercise_names(solution: nbformat.NotebookNode) -> set[str]:
    """Names the exercise cells define: the student's, never replaced by the solution's imports."""
    names: set[str] = set()
    for cell in solution.cells:
        if cell.cell_type != "code" or not EXERCISE_RE.search(cell.source):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
