"""Student-facing checks: ``check("u1.zscore", zscore)`` -> a short pass / fail, hints that teach.

Each unit registers its exercises in ``coursekit/grading/exercises/uN.py`` with the
:func:`exercise` decorator. A check function receives what the student passes to ``check`` and
raises ``AssertionError`` with a helpful message when something is wrong. Visible checks live in
the package; hidden tests stay in the solution notebooks and only run when grading.

Hints teach in steps: none while the exercise is not attempted; the first hint (what to
think about) after the first failed attempt; the second, more specific one after a second failure
of the same exercise in the same kernel. The check runs with the package functions the exercise
re-implements (its ``delegates``) made to raise in the student's code
(:mod:`coursekit.grading.delegation`), so calling the package version fails with "write it
yourself; ...".

The result is displayed with machine-readable metadata (``{"coursekit": {"exercise": ...,
"status": ...}}``) so that ``coursekit export`` and ``coursekit grade`` can read the outcome of
every check from the executed notebook.
"""

from __future__ import annotations

import html
import importlib
import os
import re
from dataclasses import dataclass
from typing import Callable

PASSED, FAILED, NOT_ATTEMPTED, ERROR = "passed", "failed", "not attempted", "error"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    hints: tuple[str, ...]
    test: Callable
    points: int = 1
    delegates: tuple[str, ...] = ()

    @property
    def hint(self) -> str:
        """The first hint (what the old single ``hint=`` was)."""
        return self.hints[0] if self.hints else ""

    def hint_after(self, failures: int) -> str:
        """The hint shown after ``failures`` failed attempts: none before the first failure."""
        if failures <= 0 or not self.hints:
            return ""
        return self.hints[min(failures, len(self.hints)) - 1]


@dataclass
class CheckResult:
    exercise: str
    status: str
    message: str = ""
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def as_text(self) -> str:
        mark = {PASSED: "PASS", FAILED: "FAIL", NOT_ATTEMPTED: "NOT ATTEMPTED", ERROR: "ERROR"}[self.status]
        text = f"[{mark}] {self.exercise}"
        if self.message:
            text += f": {self.message}"
        if self.status != PASSED and self.hint:
            text += f"\n       hint: {self.hint}"
        return text

    def as_html(self) -> str:
        colour = {PASSED: "#1b7f3b", FAILED: "#b3261e", NOT_ATTEMPTED: "#8a6d00", ERROR: "#b3261e"}
        body = f"<b>{html.escape(self.status.upper())}</b> &middot; <code>{html.escape(self.exercise)}</code>"
        if self.message:
            body += f" &mdash; {html.escape(self.message)}"
        if self.status != PASSED and self.hint:
            body += f"<br><i>Hint:</i> {html.escape(self.hint)}"
        return (
            f'<div class="coursekit-check" data-status="{self.status}" '
            f'style="border-left:4px solid {colour[self.status]};padding:4px 8px;margin:4px 0">'
            f"{body}</div>"
        )

    def metadata(self) -> dict:
        return {"coursekit": {"exercise": self.exercise, "status": self.status, "message": self.message,
                              "hint": self.hint}}


_EXERCISES: dict[str, Exercise] = {}
_FAILURES: dict[str, int] = {}  # failed attempts per exercise in this kernel (for the hints)
DELEGATE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def exercise(exercise_id: str, *, title: str, hint: str | None = None, hints=None, points: int = 1,
             delegates=()):
    """Decorator that registers a check function under ``exercise_id`` (``"uN.name"``).

    ``hints=(first, second)``: what to think about, then a more specific pointer (never the code
    of the answer); ``hint="..."`` (one hint) still works. ``points``: 1-4 by difficulty.
    ``delegates``: dotted names of the package functions or classes the exercise re-implements
    (``"coursekit.features.zscore"``); they raise in the student's code while the check runs.
    """
    if hint is not None and hints is not None:
        raise TypeError(f"{exercise_id}: give hint= or hints=, not both")
    hints = (hint,) if isinstance(hint, str) else tuple(hints or ())
    if not all(isinstance(h, str) and h.strip() for h in hints):
        raise TypeError(f"{exercise_id}: hints must be non-empty strings")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= 4:
        raise ValueError(f"{exercise_id}: points must be an integer from 1 to 4, got {points!r}")
    delegates = (delegates,) if isinstance(delegates, str) else tuple(delegates)
    bad = [d for d in delegates if not isinstance(d, str) or not DELEGATE_RE.match(d)]
    if bad:
        raise ValueError(f"{exercise_id}: delegates must be dotted names like 'coursekit.features.zscore', got {bad}")

    def register(fn: Callable) -> Callable:
        _EXERCISES[exercise_id] = Exercise(exercise_id, title, hints, fn, points, delegates)
        return fn

    return register


def _load_unit(exercise_id: str) -> None:
    unit = exercise_id.split(".", 1)[0]
    try:
        importlib.import_module(f"coursekit.grading.exercises.{unit}")
    except ModuleNotFoundError:
        pass


def get_exercise(exercise_id: str) -> Exercise:
    if exercise_id not in _EXERCISES:
        _load_unit(exercise_id)
    try:
        return _EXERCISES[exercise_id]
    except KeyError:
        known = ", ".join(sorted(_EXERCISES)) or "none loaded"
        raise KeyError(f"unknown exercise {exercise_id!r} (known: {known})") from None


def exercises(unit: str) -> list[Exercise]:
    """Every exercise of a unit prefix such as ``"u1"``, in registration order."""
    _load_unit(unit + ".")
    return [e for k, e in _EXERCISES.items() if k.startswith(unit + ".")]


def reset_attempts(exercise_id: str | None = None) -> None:
    """Forget failed attempts (all, or of one exercise): the next failure shows the first hint."""
    if exercise_id is None:
        _FAILURES.clear()
    else:
        _FAILURES.pop(exercise_id, None)


def _usage(ex: Exercise, exc: TypeError, args) -> str:
    """When ``check`` was called with a value where the exercise's check expects a function (the
    result of calling it, say), what the call should look like; else ""."""
    import inspect

    if "not callable" not in str(exc) or all(callable(a) for a in args):
        return ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_code is not getattr(ex.test, "__code__", None):
        return ""  # the student's own code called something that is not callable: an ordinary error
    try:
        names = list(inspect.signature(ex.test).parameters)
    except (TypeError, ValueError):
        names = []
    wanted = ", ".join(names[:len(args)]) or "your_function"
    return (f'check("{ex.id}", ...) expects the function you wrote, not its result: write '
            f'check("{ex.id}", {wanted}) with no parentheses after the name (this does not count as an attempt)')


def _outcome(ex: Exercise, args, kwargs, delegates=None) -> tuple[str, str, bool]:
    """(status, message, counts as an attempt) of running one exercise's check with its delegates
    guarded."""
    from .delegation import DelegationError, write_it_yourself

    delegates = ex.delegates if delegates is None else tuple(delegates)
    try:
        with write_it_yourself(delegates, exempt_globals=getattr(ex.test, "__globals__", None)) as guard:
            handed = guard.handed_over(*args, *kwargs.values())
            if handed:
                raise DelegationError(handed)
            ex.test(*args, **kwargs)
    except DelegationError as exc:
        return FAILED, f"{exc} ({exc.name} was called)" if exc.name else str(exc), True
    except NotImplementedError:
        return NOT_ATTEMPTED, "not attempted yet", False
    except AssertionError as exc:
        return FAILED, str(exc).strip().splitlines()[0] if str(exc).strip() else "a check failed", True
    except TypeError as exc:
        usage = _usage(ex, exc, args)
        if usage:
            return ERROR, usage, False
        return ERROR, f"{type(exc).__name__}: {exc}"[:300], True
    except Exception as exc:  # student code may raise anything; report it, never crash the notebook
        return ERROR, f"{type(exc).__name__}: {exc}"[:300], True
    return PASSED, "", False


def run_check(exercise_id: str, *args, **kwargs) -> CheckResult:
    """Run one exercise's checks and return the result without displaying it.

    A failure (or error) counts as an attempt: the result carries the first hint after the first
    failed attempt and the second after the next; no hint when not attempted or passed, nor after
    a mistake in the ``check`` call itself (a value where a function is expected).
    """
    ex = get_exercise(exercise_id)
    status, message, counts = _outcome(ex, args, kwargs)
    hint = ""
    if counts:
        _FAILURES[exercise_id] = _FAILURES.get(exercise_id, 0) + 1
        hint = ex.hint_after(_FAILURES[exercise_id])
    return CheckResult(exercise_id, status, message, hint)


def grade_check(exercise_id: str, delegates, *args, **kwargs) -> CheckResult:
    """The grader's run of a visible check: ``delegates`` as the grader read them, no hint, and
    the student's attempt count is left alone."""
    status, message, _ = _outcome(get_exercise(exercise_id), args, kwargs, delegates)
    return CheckResult(exercise_id, status, message, "")


class NotAttempted(NotImplementedError):
    """Raised by :func:`check` for an exercise still to do: "Run All" stops there, as in nbgrader,
    with one short line instead of a traceback through the kit."""

    def __init__(self, exercise_id: str):
        super().__init__(f"{exercise_id} is not attempted yet")
        self.exercise_id = exercise_id

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [f"{self.exercise_id} is not attempted yet: write your code in the exercise cell above and run "
                "it, then run this cell again. To go on with the rest of the unit without it, click the next "
                "cell and use Run > Run Selected Cell and All Below."]


STRICT_ENV = "COURSEKIT_STRICT_CHECKS"


def check(exercise_id: str, *args, **kwargs) -> CheckResult | None:
    """Run and display the checks of one exercise (pass / fail with a hint).

    An exercise that is not attempted yet (its code still raises ``NotImplementedError``) is shown
    as NOT ATTEMPTED and :class:`NotAttempted` (a ``NotImplementedError``) is raised, so "Run All"
    stops there, as in nbgrader, with one line that says how to go on instead of a traceback.

    With ``COURSEKIT_STRICT_CHECKS=1`` (set when the kit executes solution notebooks) a check
    that does not pass raises ``AssertionError`` after it is shown, so a broken solution fails
    the build and the nbval run.
    """
    result = run_check(exercise_id, *args, **kwargs)
    _show(result)
    if result.status == NOT_ATTEMPTED:
        # Like nbgrader: "Run All" stops at the first exercise that is still to do.
        raise NotAttempted(exercise_id)
    if os.environ.get(STRICT_ENV) == "1" and not result.passed:
        raise AssertionError(result.as_text())
    return result if not _in_ipython() else None


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _show(result: CheckResult) -> None:
    if _in_ipython():
        from IPython.display import display

        display(
            {"text/plain": result.as_text(), "text/html": result.as_html()},
            raw=True,
            metadata=result.metadata(),
        )
    else:
        print(result.as_text())
