"""Audit a solution notebook against the exercise conventions (the tests run these over solutions/).

- :func:`hint_leaks`: a hint must teach, never hold the answer's code. Each hint is compared with
  every line of its exercise's solution region as normalised tokens (names, numbers, operators;
  comments and whitespace dropped, quotes unified): a hint leaks a line when it contains a run of 7
  or more of the line's tokens, or when runs of at least 3 tokens cover 70 % of a line of 4 tokens
  or more. A hint is also a recipe, not a pointer, when it names two or more of the functions the
  solution calls in the order the solution calls them (:func:`hint_recipes`): name the concept or
  one function to look up, never the sequence of steps.
- :func:`delegation_problems`: every exercise declares the package functions it re-implements;
  they must exist and the solution must not call them.
- :func:`exercise_problems`: points 1-4, hidden parts that parse and fit in the points, a check call
  the grader can repeat.
- :func:`coursekit.grading.written.question_problems`: graded questions, rubrics, model answers.
"""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass

import nbformat

from .release import BEGIN_HIDDEN, BEGIN_SOLUTION, CHECK_RE, END_SOLUTION, EXERCISE_RE

_TOKEN_RE = re.compile(r"""[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+
    |\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%@&|^=<>!]=|[^\s\w]""", re.X)
LONG_RUN = 7        # a hint holding this many consecutive tokens of a solution line leaks it
SHORT_RUN = 3       # runs shorter than this do not count towards coverage
COVERAGE = 0.7      # share of a line's tokens covered by runs >= SHORT_RUN that leaks it
MIN_LINE_TOKENS = 4


def tokens(text: str) -> list[str]:
    """Normalised tokens of code or prose: names, numbers, operators; quotes and backticks unified."""
    out = []
    for tok in _TOKEN_RE.findall(text):
        if tok in ('"', "'", "`"):
            continue  # quoting style and code spans never matter
        out.append(tok)
    return out


def _strip_comments(code: str) -> list[str]:
    """The lines of ``code`` without comments (tokenize-based, so '#' in strings survives)."""
    code = textwrap.dedent(code)
    lines = code.splitlines()
    try:
        comments = [(t.start[0], t.start[1]) for t in tokenize.generate_tokens(io.StringIO(code + "\n").readline)
                    if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        comments = [(i + 1, l.index("#")) for i, l in enumerate(lines) if l.lstrip().startswith("#")]
    for row, col in comments:
        lines[row - 1] = lines[row - 1][:col]
    return [l for l in lines if l.strip()]


def _leaked(line_tokens: list[str], hint_tokens: list[str]) -> bool:
    n, m = len(line_tokens), len(hint_tokens)
    if n < MIN_LINE_TOKENS or not m:
        return False
    covered = [False] * n
    prev = [0] * (m + 1)
    longest = 0
    for i in range(1, n + 1):
        cur = [0] * (m + 1)
        for j in range(1, m + 1):
            if line_tokens[i - 1] == hint_tokens[j - 1]:
                cur[j] = prev[j - 1] + 1
                run = cur[j]
                longest = max(longest, run)
                if run >= SHORT_RUN:
                    for k in range(i - run, i):
                        covered[k] = True
        prev = cur
    return longest >= min(LONG_RUN, n) or sum(covered) >= COVERAGE * n


@dataclass(frozen=True)
class Leak:
    exercise: str
    hint: int          # 1 = first hint
    line: str          # the solution line the hint gives away (or the calls it lists in order)
    recipe: bool = False

    def __str__(self) -> str:
        if self.recipe:
            return (f"{self.exercise}: hint {self.hint} lists the solution's calls in order ({self.line}); "
                    "name the concept or one function to look up instead")
        return f"{self.exercise}: hint {self.hint} holds the solution line {self.line.strip()!r}"


def _regions(source: str, begin: str, end: str) -> list[str]:
    return re.findall(re.escape(begin) + r"[^\n]*\n(.*?)^[ \t]*" + re.escape(end), source, re.S | re.M)


def solution_regions(nb: nbformat.NotebookNode) -> dict[str, str]:
    """{exercise id: the code of its solution regions} from the cells marked ``# Exercise uN.x``."""
    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        ids = EXERCISE_RE.findall(cell.source)
        if ids:
            found[ids[0]] = found.get(ids[0], "") + "\n".join(_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION))
    return found


def hint_leaks(nb: nbformat.NotebookNode, hints: dict[str, tuple[str, ...]] | None = None) -> list[Leak]:
    """Every (exercise, hint, solution line) where a hint holds a line of the answer's code.

    ``hints``: {exercise id: hints}; by default the registered exercises' hints.
    """
    from .checks import get_exercise

    leaks = []
    for ex_id, code in solution_regions(nb).items():
        if hints is not None:
            ex_hints = hints.get(ex_id, ())
        else:
            try:
                ex_hints = get_exercise(ex_id).hints
            except KeyError:
                continue
        lines = _strip_comments(code)
        calls = _ordered_calls(code)
        for number, hint in enumerate(ex_hints, start=1):
            hint_tokens = tokens(hint)
            for line in lines:
                if _leaked(tokens(line), hint_tokens):
                    leaks.append(Leak(ex_id, number, line))
            recipe = hint_recipe(calls, hint)
            if recipe:
                leaks.append(Leak(ex_id, number, " -> ".join(recipe), recipe=True))
    return leaks


def _ordered_calls(code: str) -> list[str]:
    """The last name of every function the code calls (``np.where`` -> ``where``), in the order of
    their first call in the source."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if name:
                found.append((node.lineno, node.col_offset, name))
    ordered: list[str] = []
    for _, _, name in sorted(found):
        if name not in ordered:
            ordered.append(name)
    return ordered


def _mentions(hint: str, name: str) -> int:
    """Where ``hint`` names the function ``name`` as code (``np.name``, ``.name``, ``name(``, or
    inside backticks), or -1. A plain English word ("where", "sum") is not a mention."""
    patterns = [rf"\.{re.escape(name)}\b", rf"\b{re.escape(name)}\s*\(", rf"`[^`]*\b{re.escape(name)}\b[^`]*`"]
    positions = [m.start() for p in patterns for m in re.finditer(p, hint)]
    return min(positions) if positions else -1


def hint_recipe(calls: list[str], hint: str) -> list[str]:
    """The longest run of the solution's ``calls`` that ``hint`` names in the same order (empty
    when it names fewer than two of them in order)."""
    named = [(pos, i, name) for i, name in enumerate(calls) if (pos := _mentions(hint, name)) >= 0]
    named.sort()
    # longest increasing subsequence of solution order, read in hint order (a handful of names)
    best: list[list[str]] = []
    chains: list[tuple[int, list[str]]] = []
    for _, i, name in named:
        extended = [name]
        for j, chain in chains:
            if j < i and len(chain) + 1 > len(extended):
                extended = chain + [name]
        chains.append((i, extended))
        if len(extended) > len(best[0] if best else []):
            best = [extended]
    longest = best[0] if best else []
    return longest if len(longest) >= 2 else []


def _calls(code: str) -> set[str]:
    """Dotted names called in ``code`` (``np.where``, ``features.zscore``, ``zscore``)."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts, f = [], node.func
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                parts.append(f.id)
            names.add(".".join(reversed(parts)))
    return names


def delegation_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Exercises without delegates, delegates that do not resolve, solutions that call them."""
    from .checks import get_exercise
    from .delegation import resolve

    problems = []
    for ex_id, code in solution_regions(nb).items():
        try:
            ex = get_exercise(ex_id)
        except KeyError:
            problems.append(f"{ex_id}: no check registered")
            continue
        if not ex.delegates:
            problems.append(f"{ex_id}: declares no delegates (the package functions it re-implements)")
        called = {c.split(".")[-1] for c in _calls(code)}
        for dotted in ex.delegates:
            try:
                resolve(dotted)
            except LookupError as exc:
                problems.append(f"{ex_id}: {exc}")
            if dotted.split(".")[-1] in called:
                problems.append(f"{ex_id}: the solution calls {dotted.split('.')[-1]}, one of its delegates")
    return problems


def exercise_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Points, hidden parts and check calls of every exercise the grader will score."""
    from .grade import grading_specs
    from .scoring import PartsError

    try:
        specs = grading_specs(nb)
    except PartsError as exc:
        return [str(exc)]
    problems = []
    for spec in specs:
        try:
            spec.validate()
        except PartsError as exc:
            problems.append(str(exc))
        if spec.check_args is None:
            problems.append(f"{spec.id}: no check(\"{spec.id}\", ...) call the grader can repeat")
    for cell in nb.cells:
        if cell.cell_type == "code" and BEGIN_HIDDEN in cell.source and not CHECK_RE.search(cell.source):
            problems.append(f"hidden tests outside a check cell: {cell.source.strip().splitlines()[0][:60]!r}")
    return problems


def audit(nb: nbformat.NotebookNode, name: str = "notebook") -> list[str]:
    """Every problem of one solution notebook (empty when it follows the conventions)."""
    from .written import question_problems

    return ([str(l) for l in hint_leaks(nb)] + delegation_problems(nb) + exercise_problems(nb)
            + question_problems(nb, name))
