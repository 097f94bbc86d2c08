"""The unit-1 checks pass the reference solutions and catch typical mistakes."""

import nbformat as _nbformat
import numpy as np
import pytest

from coursekit import features
from coursekit.grading.checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED, check, exercises, reset_attempts, run_check


# good answers written independently of the package (the exercises' delegates raise in them)
def good_zscore(x):
    x = np.asarray(x, dtype=float)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)


def good_topk(f, q, k):
    unit = f / np.linalg.norm(f, axis=1, keepdims=True)
    sims = unit @ unit[q]
    sims[q] = -np.inf
    return np.argsort(-sims, kind="stable")[:k]


def good_recommend(f, consumed, k):
    unit = f / np.linalg.norm(f, axis=1, keepdims=True)
    scores = (unit[consumed] @ unit.T).mean(axis=0)
    scores[consumed] = -np.inf
    return np.argsort(-scores, kind="stable")[:k]


def good_ndcg(r, rel, k):
    gains = 1 / np.log2(np.arange(2, k + 2))
    return float((np.isin(np.asarray(r)[:k], rel) * gains[: len(r[:k])]).sum() / gains[: min(len(rel), k)].sum())


def todo(*args):
    raise NotImplementedError()


@pytest.mark.parametrize(
    "ex, good, bad",
    [
        ("u1.zscore", good_zscore, lambda x: (x - x.mean(0)) / x.std(0)),  # no guard -> NaN
        ("u1.cosine_topk", good_topk, lambda f, q, k: np.argsort(-(f @ f[q]))[:k]),  # not normalised
        ("u1.recommend", good_recommend, lambda f, c, k: np.argsort(-(f[c] @ f.T).mean(0))[:k]),
        ("u1.ndcg", good_ndcg,
         lambda r, rel, k: float(np.isin(r[:k], rel).sum()) / k),  # precision, not nDCG
    ],
)
def test_check_outcomes(ex, good, bad):
    assert run_check(ex, good).status == PASSED
    failed = run_check(ex, bad)
    assert failed.status in (FAILED, ERROR) and failed.hint
    assert run_check(ex, todo).status == NOT_ATTEMPTED


def test_crashing_student_code_is_reported_not_raised():
    res = run_check("u1.zscore", lambda x: 1 / 0)
    assert res.status == ERROR and "ZeroDivisionError" in res.message


def test_unit_one_has_five_exercises():
    assert [e.id for e in exercises("u1")] == ["u1.zscore", "u1.cosine_topk", "u1.recommend", "u1.ndcg", "u1.mmr"]


def test_strict_mode_raises(monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="u1.zscore"):
        check("u1.zscore", lambda x: x)
    monkeypatch.delenv("COURSEKIT_STRICT_CHECKS")
    assert check("u1.zscore", good_zscore).passed
    assert "[PASS] u1.zscore" in capsys.readouterr().out


def test_not_attempted_stops_the_notebook(capsys):
    with pytest.raises(NotImplementedError, match="u1.ndcg is not attempted yet") as raised:
        check("u1.ndcg", todo)
    assert "[NOT ATTEMPTED] u1.ndcg" in capsys.readouterr().out
    lines = raised.value._render_traceback_()  # what IPython shows instead of a traceback
    assert len(lines) == 1 and "Run > Run Selected Cell and All Below" in lines[0]


def test_not_attempted_in_a_kernel_is_one_short_line_without_traceback(tmp_path):
    from coursekit.notebooks import execute_notebook

    nb = _nbformat.v4.new_notebook(cells=[_nbformat.v4.new_code_cell(
        "from coursekit import check\n"
        "def ndcg_at_k(recommended, relevant, k):\n    raise NotImplementedError()\n"
        "check('u1.ndcg', ndcg_at_k)")])
    run, _ = execute_notebook(nb, cwd=tmp_path, allow_errors=True)
    error = [o for o in run.cells[0].outputs if o["output_type"] == "error"][0]
    assert error["ename"] == "NotAttempted"
    assert len(error["traceback"]) == 1 and "checks.py" not in error["traceback"][0]
    assert error["traceback"][0].startswith("u1.ndcg is not attempted yet: write your code")


def test_a_value_where_a_function_is_expected_explains_the_call_and_keeps_the_hints():
    from coursekit.grading.checks import _FAILURES

    reset_attempts()
    result = run_check("u1.zscore", good_zscore(np.ones((3, 2))))  # the result, not the function
    assert result.status == ERROR and result.hint == "" and _FAILURES.get("u1.zscore", 0) == 0
    assert 'write check("u1.zscore", zscore)' in result.message and "does not count" in result.message
    # an ordinary mistake inside the student's own function still counts as an attempt
    not_a_function = None
    result = run_check("u1.zscore", lambda x: not_a_function(x))
    assert result.status == ERROR and _FAILURES["u1.zscore"] == 1 and result.hint


def test_unknown_exercise():
    with pytest.raises(KeyError, match="unknown exercise"):
        run_check("u1.nope", None)


# --------------------------------------------------------------------------- hints that teach

import dataclasses
import functools

from coursekit.grading import checks as checks_module
from coursekit.grading.checks import exercise, get_exercise, reset_attempts
from coursekit.grading.delegation import MESSAGE, DelegationError, write_it_yourself


@pytest.fixture
def two_hints(monkeypatch):
    ex = get_exercise("u1.zscore")
    monkeypatch.setitem(checks_module._EXERCISES, "u1.zscore",
                        dataclasses.replace(ex, hints=("think about columns", "look at np.where")))
    reset_attempts()
    yield
    reset_attempts()


def test_hints_none_on_todo_then_first_then_second(two_hints, capsys, monkeypatch):
    monkeypatch.delenv("COURSEKIT_STRICT_CHECKS", raising=False)  # as in a student's kernel
    wrong = lambda x: x  # noqa: E731
    with pytest.raises(NotImplementedError):
        check("u1.zscore", todo)
    assert "hint" not in capsys.readouterr().out
    assert run_check("u1.zscore", todo).hint == ""  # not attempted: no attempt counted either
    assert run_check("u1.zscore", wrong).hint == "think about columns"
    assert run_check("u1.zscore", wrong).hint == "look at np.where"
    assert run_check("u1.zscore", lambda x: 1 / 0).hint == "look at np.where"  # an error counts too
    assert run_check("u1.zscore", good_zscore).hint == ""  # passed: no hint
    reset_attempts("u1.zscore")
    shown = check("u1.zscore", wrong)
    assert shown.hint == "think about columns" and "hint: think about columns" in capsys.readouterr().out


def test_old_single_hint_still_works(monkeypatch):
    reset_attempts()

    @exercise("u9.old_style", title="old style", hint="only one hint")
    def _check(f):
        assert f(1) == 2, "f(1) should be 2"

    try:
        ex = get_exercise("u9.old_style")
        assert ex.points == 1 and ex.delegates == () and ex.hints == ("only one hint",)
        assert run_check("u9.old_style", lambda v: v).hint == "only one hint"
        assert run_check("u9.old_style", lambda v: v).hint == "only one hint"
        assert run_check("u9.old_style", lambda v: v + 1).passed
    finally:
        checks_module._EXERCISES.pop("u9.old_style")
        reset_attempts()


@pytest.mark.parametrize("kwargs, error", [
    ({"points": 0}, "points must be an integer from 1 to 4"),
    ({"points": 5}, "points must be an integer from 1 to 4"),
    ({"points": 1.5}, "points must be an integer from 1 to 4"),
    ({"hint": "a", "hints": ("b",)}, "hint= or hints="),
    ({"hints": ("",)}, "non-empty"),
    ({"delegates": ("zscore",)}, "dotted names"),
])
def test_exercise_declarations_are_checked(kwargs, error):
    with pytest.raises((ValueError, TypeError), match=error):
        exercise("u9.bad", title="bad", **kwargs)


# --------------------------------------------------------------------------- write it yourself

@pytest.fixture
def zscore_delegated(monkeypatch):
    ex = get_exercise("u1.zscore")
    monkeypatch.setitem(checks_module._EXERCISES, "u1.zscore",
                        dataclasses.replace(ex, delegates=("coursekit.features.zscore",)))
    reset_attempts()
    yield
    reset_attempts()


def _own(x):
    x = np.asarray(x, dtype=float)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)


def _notebook(source: str) -> dict:
    """A notebook-like namespace: the student's cells run in it (as IPython's user_ns)."""
    ns: dict = {"__name__": "__main__"}
    exec(compile(source, "<ipython-input-1>", "exec"), ns)  # noqa: S102 - simulates a notebook cell
    return ns


DELEGATING_ANSWERS = {
    "module path": "import coursekit.features\ndef zscore(x):\n    return coursekit.features.zscore(x)",
    "module alias": "from coursekit import features as F\ndef zscore(x):\n    return F.zscore(x)",
    "name bound earlier": "from coursekit.features import zscore as pkg\ndef zscore(x):\n    return pkg(x)",
    "default argument": "from coursekit import features\ndef zscore(x, f=features.zscore):\n    return f(x)",
    "the package object": "from coursekit.features import zscore",
    "a partial": "import functools\nfrom coursekit import features\nzscore = functools.partial(features.zscore)",
    "caught and retried": ("from coursekit import features\ndef zscore(x):\n    try:\n"
                           "        return features.zscore(x)\n    except Exception:\n        return x"),
}


@pytest.mark.parametrize("how", list(DELEGATING_ANSWERS))
def test_delegating_to_the_package_fails(zscore_delegated, how):
    ns = _notebook(DELEGATING_ANSWERS[how])
    result = run_check("u1.zscore", ns["zscore"])
    assert result.status == FAILED and result.message.startswith(MESSAGE)
    assert "coursekit.features.zscore" in result.message


def test_write_it_yourself_leaves_the_package_intact(zscore_delegated):
    code = features.zscore.__code__
    assert run_check("u1.zscore", _own).passed  # the student's own code passes under the guard
    assert features.zscore.__code__ is code
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    assert np.allclose(features.zscore(x), [[-1, 0], [1, 0]])  # later cells use the package version
    ns = _notebook(DELEGATING_ANSWERS["name bound earlier"])
    assert np.allclose(ns["zscore"](x), [[-1, 0], [1, 0]])  # outside a check the alias works again


def test_check_and_hidden_tests_may_use_the_package_as_reference():
    ns = _notebook(DELEGATING_ANSWERS["module alias"])
    own = _notebook("import numpy as np\ndef mine(x):\n    x = np.asarray(x, float)\n    s = x.std(0)\n"
                    "    return (x - x.mean(0)) / np.where(s == 0, 1.0, s)")["mine"]
    x = np.array([[1.0, 2.0], [3.0, 2.0]])
    with write_it_yourself(("coursekit.features.zscore",)):
        # a hidden test compares with the package version in its own frame: allowed
        assert np.allclose(own(x), features.zscore(x))
        with pytest.raises(DelegationError, match="write it yourself"):
            ns["zscore"](x)


class _Base:
    def __init__(self, n):
        self.n = n

    def size(self):
        return self.n


@functools.lru_cache(maxsize=None)
def _cached_square(v):
    return v * v


def test_classes_and_wrapped_functions_are_guarded_everywhere():
    import tests.test_checks as me

    original = _cached_square  # an lru_cache wrapper, not a plain function: replaced by name
    ns = _notebook("def student(v):\n    return alias(v)\n\ndef make(cls):\n    return cls(2)\n")
    ns["alias"] = original  # bound in the notebook's namespace
    with write_it_yourself(("tests.test_checks._cached_square", "tests.test_checks._Base"), namespace=ns) as g:
        assert ns["alias"] is not original and me._cached_square is not original
        with pytest.raises(DelegationError):
            ns["student"](3)
        with pytest.raises(DelegationError):
            ns["make"](me._Base)  # instantiating the package class from student code
        assert g.handed_over(type("Mine", (me._Base,), {})) == "tests.test_checks._Base"
        assert g.handed_over(functools.partial(original)) == "tests.test_checks._cached_square"
        assert g.handed_over(_own) is None
    assert ns["alias"] is original and me._cached_square is original  # restored
    assert ns["student"](3) == 9 and ns["make"](me._Base).size() == 2


# --------------------------------------------------------------------------- the conventions, over solutions/

import nbformat as _nbformat

from coursekit.grading.audit import delegation_problems, exercise_problems, hint_leaks, solution_regions, tokens
from coursekit.grading.written import question_problems

_REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
_SOLUTIONS = sorted((_REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))
_PAIRS = [(p, ex) for p in _SOLUTIONS for ex in solution_regions(_nbformat.read(p, as_version=4))]


@pytest.mark.parametrize("hint, leaks", [
    ("Use the mean and standard deviation of each column (axis=0); divide by 1 where it is 0.", False),
    ("Divide by `np.where(std == 0, 1.0, std)`.", True),
    ("np.argpartition(-scores, k) and sort only those k", True),
    ("Normalise the rows to unit length first.", False),
    ("scores = unit @ unit[query]", True),
])
def test_hint_leak_detector(hint, leaks):
    nb = _nbformat.v4.new_notebook(cells=[_nbformat.v4.new_code_cell(
        "# Exercise u9.demo: demo\ndef f(x, query, k):\n    ### BEGIN SOLUTION\n"
        "    std = x.std(axis=0)  # a comment that is not code\n"
        "    unit = x / np.where(std == 0, 1.0, std)\n    scores = unit @ unit[query]\n"
        "    best = np.argpartition(-scores, k - 1)[:k]\n    return best\n    ### END SOLUTION")])
    found = hint_leaks(nb, {"u9.demo": (hint,)})
    assert bool(found) == leaks, found
    assert tokens("np.where(std == 0, 1.0, std)") == tokens("np.where( std==0 , 1.0, std )")


@pytest.mark.parametrize("solution, ex", _PAIRS, ids=[f"{p.name[:2]}-{ex}" for p, ex in _PAIRS])
def test_no_hint_holds_the_answer(solution, ex):
    nb = _nbformat.read(solution, as_version=4)
    leaks = [str(l) for l in hint_leaks(nb) if l.exercise == ex]
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("solution, ex", _PAIRS, ids=[f"{p.name[:2]}-{ex}" for p, ex in _PAIRS])
def test_exercise_declares_what_it_reimplements(solution, ex):
    nb = _nbformat.read(solution, as_version=4)
    problems = [p for p in delegation_problems(nb) if p.startswith(ex + ":")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("solution", _SOLUTIONS, ids=lambda p: f"u{int(p.name[:2])}-{p.name}")
def test_points_parts_and_questions_follow_the_markup(solution):
    nb = _nbformat.read(solution, as_version=4)
    problems = exercise_problems(nb) + question_problems(nb, solution.name)
    assert not problems, "\n".join(problems)


def test_a_package_class_is_guarded_through_its_package_base_class():
    """A delegate class whose work sits in a coursekit base class: a factory that returns an
    instance of it is caught, framework bases (object here) are left alone."""
    import types as _types

    base_mod = _types.ModuleType("coursekit._delegation_probe")
    exec(compile("class Base:\n    def __init__(self, k):\n        self.k = k\n    def score(self, x):\n"
                 "        return x * self.k\nclass Child(Base):\n    pass\n", "<probe>", "exec"), vars(base_mod))
    import sys as _sys

    _sys.modules[base_mod.__name__] = base_mod
    try:
        ns = _notebook("import coursekit._delegation_probe as P\ndef make(k):\n    return P.Child(k)")
        with write_it_yourself(("coursekit._delegation_probe.Child",)):
            with pytest.raises(DelegationError):
                ns["make"](2)
            assert base_mod.Child(3).score(2) == 6  # the check's own code may use it
        assert ns["make"](2).score(5) == 10  # restored afterwards
    finally:
        del _sys.modules[base_mod.__name__]


# --------------------------------------------------------------------------- every exercise of the course

EVERY_EXERCISE = [e.id for unit in ("u1", "u2", "u3", "u4", "u5") for e in exercises(unit)]


def test_every_unit_declares_exercises():
    assert {e.split(".")[0] for e in EVERY_EXERCISE} == {"u1", "u2", "u3", "u4", "u5"}
    assert len(EVERY_EXERCISE) == 23  # the stuck-student test covers the same 23


@pytest.mark.parametrize("exercise_id", EVERY_EXERCISE)
def test_points_hints_and_delegates_are_declared(exercise_id):
    ex = get_exercise(exercise_id)
    assert 1 <= ex.points <= 4 and len(ex.hints) == 2 and ex.delegates
    assert len(ex.hints[1]) > len(ex.hints[0]) / 2  # the second hint says more, not nothing


@pytest.mark.parametrize("exercise_id", EVERY_EXERCISE)
def test_not_attempted_shows_no_hint(exercise_id):
    result = run_check(exercise_id, todo)
    assert result.status == NOT_ATTEMPTED and result.hint == ""


@pytest.mark.parametrize("hint, recipe", [
    ("Look up `np.argpartition`: it finds the k largest without a full sort.", []),
    ("First take x.std(axis=0), then np.where to guard zeros, then np.argpartition.", ["std", "where", "argpartition"]),
    ("Use `np.argpartition`, after `np.where`.", []),  # named out of order: not a sequence of steps
    ("Think about where the standard deviation is zero, and sort the best k.", []),  # words, not calls
    ("np.where(...) then `argpartition`", ["where", "argpartition"]),
])
def test_hint_recipe_detector(hint, recipe):
    from coursekit.grading.audit import hint_recipe

    assert hint_recipe(["std", "where", "argpartition", "argsort"], hint) == recipe
    nb = _nbformat.v4.new_notebook(cells=[_nbformat.v4.new_code_cell(
        "# Exercise u9.demo: demo\ndef f(x, k):\n    ### BEGIN SOLUTION\n    s = x.std(axis=0)\n"
        "    u = x / np.where(s == 0, 1.0, s)\n    best = np.argpartition(-u, k)\n    return best[np.argsort(-u[best])]\n"
        "    ### END SOLUTION")])
    found = [l for l in hint_leaks(nb, {"u9.demo": (hint,)}) if l.recipe]
    assert bool(found) == bool(recipe)
