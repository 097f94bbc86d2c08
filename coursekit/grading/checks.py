"""Student-facing checks: ``check("u1.zscore", zscore)`` -> a short pass / fail with a hint.

Each unit registers its exercises in ``coursekit/grading/exercises/uN.py`` with the
:func:`exercise` decorator. A check function receives what the student passes to ``check`` and
raises ``AssertionError`` with a helpful message when something is wrong. Visible checks live in
the package; hidden tests stay in the solution notebooks and only run when grading.

The result is displayed with machine-readable metadata (``{"coursekit": {"exercise": ...,
"status": ...}}``) so that ``coursekit export`` and ``coursekit grade`` can read the outcome of
every check from the executed notebook.
"""

from __future__ import annotations

import html
import importlib
import os
from dataclasses import dataclass
from typing import Callable

PASSED, FAILED, NOT_ATTEMPTED, ERROR = "passed", "failed", "not attempted", "error"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    hint: str
    test: Callable


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
        mark = {PASSED: "PASS", FAILED: "FAIL", NOT_ATTEMPTED: "TODO", ERROR: "ERROR"}[self.status]
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
        return {"coursekit": {"exercise": self.exercise, "status": self.status, "message": self.message}}


_EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, *, title: str, hint: str):
    """Decorator that registers a check function under ``exercise_id`` (``"uN.name"``)."""

    def register(fn: Callable) -> Callable:
        _EXERCISES[exercise_id] = Exercise(exercise_id, title, hint, fn)
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


def run_check(exercise_id: str, *args, **kwargs) -> CheckResult:
    """Run one exercise's checks and return the result without displaying it."""
    ex = get_exercise(exercise_id)
    try:
        ex.test(*args, **kwargs)
    except NotImplementedError:
        return CheckResult(exercise_id, NOT_ATTEMPTED, "not attempted yet", ex.hint)
    except AssertionError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "a check failed"
        return CheckResult(exercise_id, FAILED, msg, ex.hint)
    except Exception as exc:  # student code may raise anything; report it, never crash the notebook
        return CheckResult(exercise_id, ERROR, f"{type(exc).__name__}: {exc}"[:300], ex.hint)
    return CheckResult(exercise_id, PASSED, "", ex.hint)


STRICT_ENV = "COURSEKIT_STRICT_CHECKS"


def check(exercise_id: str, *args, **kwargs) -> CheckResult | None:
    """Run and display the checks of one exercise (pass / fail with a hint).

    An exercise that is not attempted yet (its code still raises ``NotImplementedError``) is shown
    as TODO and the ``NotImplementedError`` propagates, so "Run All" stops there, as in nbgrader.

    With ``COURSEKIT_STRICT_CHECKS=1`` (set when the kit executes solution notebooks) a check
    that does not pass raises ``AssertionError`` after it is shown, so a broken solution fails
    the build and the nbval run.
    """
    result = run_check(exercise_id, *args, **kwargs)
    _show(result)
    if result.status == NOT_ATTEMPTED:
        # Like nbgrader: "Run All" stops at the first exercise that is still to do.
        raise NotImplementedError(f"{exercise_id} is not done yet: write your code in the cell above")
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
