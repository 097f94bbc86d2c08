"""Points and partial credit: hidden-test parts, the grader's run of each exercise, the scoring rule.

An exercise is worth ``points`` (1-4, declared with ``@exercise``). Its hidden tests (the
``### BEGIN HIDDEN TESTS`` region of its check cell in the solution) may be split into **parts**,
each starting with a line ``# part: <name> (<n> points)``; code before the first part line is
shared setup. The rule:

- with parts: the visible check is worth ``points - sum(part points)`` (at least 0) and each part
  its own points; every piece is scored on its own, so a partly right answer gets the pieces it
  passes. A setup that fails fails every part.
- without part lines (the whole region is one block, or no hidden tests): the exercise scores all
  its points when the visible check and the hidden block pass, else 0.

The grader runs the visible check itself (the arguments of the solution's ``check(...)`` call,
evaluated in the student's namespace) and every part with the exercise's delegates guarded
(:func:`grader_code`), through the guard of its own run (:mod:`coursekit.grading.guard`); the
outcome comes back in the guard's signed records, never through anything a notebook displays.
An exercise whose objects were changed by student code scores 0 as ``tampered``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field

from .checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED

PART_RE = re.compile(r"^\s*#\s*part\s*:\s*(?P<name>.*?)\s*\(\s*(?P<points>\d+)\s+points?\s*\)\s*$", re.I)
PART_START_RE = re.compile(r"^\s*#\s*part\s*:", re.I)
HIDDEN_KEY = "coursekit_hidden"
PARTIAL = "partial"
TAMPERED = "tampered"


class PartsError(ValueError):
    """Hidden-test parts that do not follow the markup (names the exercise and the line)."""


@dataclass(frozen=True)
class Part:
    name: str
    points: int
    code: str


@dataclass(frozen=True)
class HiddenTests:
    setup: str = ""          # code before the first part line (the whole block when there are no parts)
    parts: tuple[Part, ...] = ()

    @property
    def gate(self) -> bool:
        """A block without part lines: it gates the exercise's points."""
        return not self.parts and bool(self.setup.strip())

    @property
    def part_points(self) -> int:
        return sum(p.points for p in self.parts)


def parse_hidden(code: str, exercise: str = "exercise") -> HiddenTests:
    """Split a hidden-test region into setup and parts (``# part: <name> (<n> points)`` lines)."""
    setup: list[str] = []
    parts: list[tuple[str, int, list[str]]] = []
    for number, line in enumerate(code.splitlines(), start=1):
        if PART_START_RE.match(line):
            m = PART_RE.match(line)
            if not m or not m.group("name"):
                raise PartsError(f"{exercise}, hidden tests line {number}: {line.strip()!r} should read "
                                 "'# part: <name> (<n> points)'")
            if int(m.group("points")) < 1:
                raise PartsError(f"{exercise}, hidden tests line {number}: a part is worth at least 1 point")
            name = m.group("name")
            if any(p[0] == name for p in parts):
                raise PartsError(f"{exercise}: two hidden parts are named {name!r}")
            parts.append((name, int(m.group("points")), []))
        elif parts:
            parts[-1][2].append(line)
        else:
            setup.append(line)
    return HiddenTests("\n".join(setup).strip("\n"),
                       tuple(Part(n, p, "\n".join(lines).strip("\n")) for n, p, lines in parts))


@dataclass(frozen=True)
class ExerciseSpec:
    """What the grader needs about one exercise, read before any student code runs."""
    id: str
    points: int = 1
    delegates: tuple[str, ...] = ()
    hidden: HiddenTests = field(default_factory=HiddenTests)
    check_args: str | None = None   # source of the arguments of the solution's check call

    @property
    def visible_points(self) -> int:
        return self.points - self.hidden.part_points if self.hidden.parts else self.points

    def validate(self) -> None:
        if self.hidden.part_points > self.points:
            raise PartsError(f"{self.id}: its hidden parts add up to {self.hidden.part_points} points, "
                             f"more than the exercise's {self.points} (set points= in @exercise)")


def check_call_args(source: str, exercise: str) -> str | None:
    """The source of the arguments after the id in ``check("<exercise>", ...)`` (None if absent)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        first = node.args[0]
        if name == "check" and isinstance(first, ast.Constant) and first.value == exercise:
            pieces = [ast.get_source_segment(source, a) for a in node.args[1:]]
            pieces += [(f"{k.arg}=" if k.arg else "**") + ast.get_source_segment(source, k.value)
                       for k in node.keywords]
            if any(p is None for p in pieces):
                return None
            return ", ".join(pieces)
    return None


# --------------------------------------------------------------------------- the injected cell

def _block(code: str, depth: int) -> str:
    body = textwrap.dedent(code).strip("\n") or "pass"
    return textwrap.indent(body, "    " * depth)


def _grading_lines(spec: ExerciseSpec, grade_check: str, write_it_yourself: str) -> list[str]:
    """The grader's run of one exercise into ``_ck_run`` (a :class:`HiddenRun`)."""
    ex, delegates = spec.id, spec.delegates
    lines = []
    if spec.check_args is not None:
        args = f", {spec.check_args}" if spec.check_args.strip() else ""
        lines += [
            "try:",
            f"    _ck_run.visible({grade_check}({ex!r}, {delegates!r}{args}))",
            "except BaseException as _ck_exc:",
            "    _ck_run.visible_error(_ck_exc)",
        ]
    hidden = spec.hidden
    if hidden.setup.strip() or hidden.parts:
        lines += [f"with {write_it_yourself}({delegates!r}) as _ck_guard:"]
        setup_name = "hidden tests" if hidden.gate else "setup"
        # An answer that *is* a package delegate (bound to the exercise's own name) fails every
        # part, as it fails the visible check: the parts call it from the grader's own lines.
        refuse = (f"        _ck_guard.refuse_handed_over({spec.check_args})"
                  if spec.check_args is not None and spec.check_args.strip() else "        pass")
        lines += [
            "    try:",
            refuse,
            _block(hidden.setup, 2),
            "    except BaseException as _ck_exc:",
            f"        _ck_run.fail({setup_name!r}, _ck_exc)",
            "    else:",
            f"        _ck_run.ok({setup_name!r})",
        ]
        for part in hidden.parts:
            lines += [
                "        try:",
                _block(part.code, 3),
                "        except BaseException as _ck_exc:",
                f"            _ck_run.fail({part.name!r}, _ck_exc)",
                "        else:",
                f"            _ck_run.ok({part.name!r})",
            ]
    return lines


def grader_code(spec: ExerciseSpec) -> str:
    """What the guard runs for one exercise (:mod:`coursekit.grading.guard`): the visible check
    repeated with the solution's arguments and the hidden parts, delegates blocked, into
    ``_ck_r``. It runs with ``_ck_HiddenRun``, ``_ck_grade_check`` and ``_ck_wiy`` bound to the
    genuine objects the guard took before any student code ran."""
    lines = [f"_ck_run = _ck_HiddenRun({spec.id!r})",
             *_grading_lines(spec, "_ck_grade_check", "_ck_wiy"),
             "_ck_r = _ck_run.result"]
    return "\n".join(lines) + "\n"


def hidden_cell_source(spec: ExerciseSpec) -> str:
    """The grader's run of one exercise as a plain cell (tests run it in a namespace of their own;
    ``coursekit grade`` sends :func:`grader_code` to the guard instead)."""
    lines = [
        "import coursekit.grading.scoring as _ck_scoring",
        f"_ck_run = _ck_scoring.HiddenRun({spec.id!r})",
        *_grading_lines(spec, "__import__('coursekit.grading.checks', fromlist=['_']).grade_check",
                        "__import__('coursekit.grading.delegation', fromlist=['_']).write_it_yourself"),
        "_ck_run.report()",
    ]
    return "\n".join(lines) + "\n"


def status_of(exc: BaseException) -> str:
    from .delegation import DelegationError

    if isinstance(exc, NotImplementedError):
        return NOT_ATTEMPTED
    if isinstance(exc, (AssertionError, DelegationError)):
        return FAILED
    return ERROR


class HiddenRun:
    """Collects the statuses of the grader's run of one exercise (``result``)."""

    def __init__(self, exercise: str):
        self.result = {"exercise": exercise, "visible": None, "message": "", "pieces": {}}

    def visible(self, check_result) -> None:
        self.result["visible"] = check_result.status
        self.result["message"] = check_result.message

    def visible_error(self, exc: BaseException) -> None:  # e.g. the student's function is not defined
        self.result["visible"] = status_of(exc)
        self.result["message"] = f"{type(exc).__name__}: {exc}"[:300]

    def ok(self, piece: str) -> None:
        self.result["pieces"][piece] = PASSED

    def fail(self, piece: str, exc: BaseException) -> None:
        self.result["pieces"][piece] = status_of(exc)

    def report(self) -> None:
        """Show the result (tests of a plain namespace; the grader reads the guard's records only)."""
        from IPython.display import display

        display({"text/plain": f"graded {self.result['exercise']}"}, raw=True,
                metadata={HIDDEN_KEY: self.result})


# --------------------------------------------------------------------------- the rule

@dataclass
class Score:
    points: float
    status: str
    detail: str = ""   # what the feedback may show: visible message, part names with pass / fail


def score_exercise(spec: ExerciseSpec, report: dict | None, student_visible: str | None = None) -> Score:
    """Points of one exercise from the grader's report (see the module docstring for the rule).

    ``report``: what :class:`HiddenRun` reported (None when the grader's cell never ran, e.g. the
    notebook was cut); ``student_visible``: the status the student's own check displayed, used
    only when the solution has no check call the grader can repeat.
    """
    report = report or {}
    if report.get("tampered"):
        return Score(0, TAMPERED, "tampered: " + "; ".join(report["tampered"])[:300])
    visible = report.get("visible") if spec.check_args is not None else student_visible
    pieces = report.get("pieces", {})
    hidden = spec.hidden
    points = 0
    if hidden.parts:
        setup_status = pieces.get("setup")
        if visible == PASSED:
            points += spec.visible_points
        part_status = {p.name: (pieces.get(p.name) if setup_status == PASSED else setup_status)
                       for p in hidden.parts}
        points += sum(p.points for p in hidden.parts if part_status[p.name] == PASSED)
        hidden_ok = all(s == PASSED for s in part_status.values())
        detail_parts = [f"{name}: {s or 'not run'}" for name, s in part_status.items()]
    else:
        gate = pieces.get("hidden tests") if hidden.gate else PASSED
        hidden_ok = gate == PASSED
        if visible == PASSED and hidden_ok:
            points = spec.points
        detail_parts = [f"hidden tests: {gate or 'not run'}"] if hidden.gate else []
    message = report.get("message", "") if spec.check_args is not None else ""
    check_text = message or (visible if spec.check_args is not None and visible else "")
    detail = "; ".join(([f"check: {check_text}"] if check_text else []) + detail_parts)
    if points == spec.points:
        status = PASSED
    elif points > 0:
        status = PARTIAL
    elif not report:
        status = "not run"  # the grader's cell never ran: the notebook was cut before it
    elif visible == NOT_ATTEMPTED or (visible is None and NOT_ATTEMPTED in pieces.values()):
        status = NOT_ATTEMPTED
    elif visible == PASSED:
        status = "failed hidden tests"
    elif visible in (FAILED, ERROR):
        status = visible
    else:
        status = FAILED
    return Score(points, status, detail)
