"""What an exercise's text forbids, measured: Python loops and needless copies.

Hidden tests enforce "no Python loop over the dimensions", "no table of every pair" with two
measurements that do not depend on how loaded the machine is (a timing would), and a reading of
the code:

- :func:`python_steps`: how many lines of the student's own code run, and how many calls it
  makes, while an answer handles an input. A whole-array answer takes a fixed handful of steps
  whatever the size; a loop over n columns, items or pairs takes at least n. Compare two sizes, or
  a size with a bound well below n.
- :func:`peak_memory`: the most memory a call held at once (``tracemalloc``: NumPy's buffers and
  Python objects), so a second copy of the data or a positives x negatives table shows.
- :func:`python_loops`: the Python loops written in a function's own source (``for``, ``while``,
  comprehensions, ``iterrows``, ``apply``, ``map`` of a function, ``np.vectorize``), for the
  visible check to name the line.

Student code is told apart from library code as the write-it-yourself guard does it
(:func:`coursekit.grading.delegation._is_student_frame`).
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap

import numpy as np

from .delegation import _is_student_frame

__all__ = ["assert_no_python_loop", "peak_memory", "python_loops", "python_steps"]


def python_steps(func, *args, **kwargs):
    """``(func(*args, **kwargs), steps)``: the Python steps of the student's own code while it runs: every line executed
    in code the student wrote (their function, its comprehensions and lambdas, the helpers they
    defined) plus every call made from it, to their own code or to a library (NumPy's included, so
    ``map(np.std, columns)`` counts one step per column). Library code (NumPy, the standard library,
    coursekit) runs uncounted. Array arguments are copied first, so the caller's inputs are left as
    they were."""
    student: dict = {}

    def is_student(frame) -> bool:
        code = frame.f_code
        if code not in student:
            student[code] = _is_student_frame(frame, None)
        return student[code]

    steps = 0

    def lines(frame, event, arg):
        nonlocal steps
        if event == "line":
            steps += 1
        return lines

    def on_call(frame, event, arg):  # sys.settrace: trace the lines of the student's frames only
        return lines if is_student(frame) else None

    def on_profile(frame, event, arg):  # sys.setprofile: calls made from the student's frames
        nonlocal steps
        if event == "c_call" and is_student(frame):
            steps += 1
        elif event == "call" and frame.f_back is not None and is_student(frame.f_back):
            steps += 1

    fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(on_call)
    sys.setprofile(on_profile)
    try:
        result = func(*fresh, **kwargs)
    finally:
        sys.setprofile(old_profile)
        sys.settrace(old_trace)
    return result, steps


def peak_memory(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), peak)``: ``peak`` is the most memory (bytes) the call held at once
    beyond what was held before it, as :mod:`tracemalloc` traces it (NumPy's array buffers and
    Python objects alike), the returned value included."""
    import tracemalloc

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, peak


_LOOP_NODES = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_LOOP_CALLS = {"iterrows", "itertuples", "iteritems", "apply", "applymap", "vectorize"}


def python_loops(fn) -> list[str]:
    """The Python loops in ``fn``'s own source: ``for``/``while`` statements, comprehensions and
    calls that loop in Python for you (``iterrows``, ``apply``, ``map`` of a function, ``np.vectorize``), as
    "line: code" strings. Empty when there is none, or when the source cannot be read."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return []
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        loop = isinstance(node, _LOOP_NODES)
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            # map: the builtin, or a pandas map of a Python function (a map of a dict is a look-up)
            mapped = name == "map" and (isinstance(f, ast.Name) or any(isinstance(a, ast.Lambda) for a in node.args))
            loop = name in _LOOP_CALLS or mapped
        if loop:
            found.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
    return sorted(set(found), key=lambda s: int(s.split(":")[0][5:]))


def assert_no_python_loop(fn, what: str) -> None:
    loops = python_loops(fn)
    assert not loops, (f"no Python loop over {what}: use array operations instead ({loops[0]}"
                       f"{'' if len(loops) == 1 else f', and {len(loops) - 1} more'})")
