"""Root pytest configuration, shared by ``tests/`` and the nbval run over ``solutions/``.

- Every kernel started during the run records its figures into one session file
  (``COURSEKIT_RECORD``), so budget tests can read what the notebooks measured.
- Tests marked ``after_notebooks`` run after the notebooks.
- Under pytest-xdist with ``--dist loadfile`` (``make test``), the notebooks and those tests form
  one unit that runs in one worker, each other module runs whole in one worker, and the long
  modules start first.
"""

import os
import tempfile

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "after_notebooks: runs after the nbval items (reads their records)")
    if not os.environ.get("COURSEKIT_RECORD"):
        fd, path = tempfile.mkstemp(prefix="coursekit-test-records.", suffix=".jsonl")
        os.close(fd)
        os.environ["COURSEKIT_RECORD"] = path
        os.environ["COURSEKIT_TEST_RECORDS"] = path


# Modules that take a minute or more: under pytest-xdist (``make test`` runs two workers, one
# module per worker at a time) they start first, so no long module is left for the end.
HEAVY_FIRST = ["tests/test_stuck_students.py", "tests/test_u5_real.py", "tests/test_u4_lastfm.py",
               "tests/test_grade.py", "tests/test_budgets.py", "tests/test_grade_cluster.py",
               "tests/test_grade_pipeline.py", "tests/test_hostile.py"]
# The tests marked ``after_notebooks``, by node id: the xdist controller schedules by node id alone
# (it never sees markers), and collection fails when this list and the markers disagree.
AFTER_NOTEBOOKS = {"tests/test_budgets.py::test_notebooks_within_budget",
                   "tests/test_determinism.py::test_a_fresh_run_records_the_committed_figures"}


def group_of(nodeid: str) -> str:
    """Where a test runs under xdist: the nbval cells of ``solutions/`` and the tests that read their
    records form one group (one worker, in collection order); any other test goes with its module."""
    path = nodeid.split("::")[0]
    if path.startswith("solutions/") or nodeid.split("[")[0] in AFTER_NOTEBOOKS:
        return "notebooks"
    return path


def _xdist(config) -> bool:
    return hasattr(config, "workerinput") or getattr(config.option, "numprocesses", None) not in (None, 0)


def pytest_collection_modifyitems(session, config, items):
    late = [i for i in items if i.get_closest_marker("after_notebooks")]
    unlisted = [i.nodeid for i in late if i.nodeid.split("[")[0] not in AFTER_NOTEBOOKS]
    if unlisted:
        raise pytest.UsageError(f"add {unlisted} to AFTER_NOTEBOOKS in {__file__}")
    items[:] = [i for i in items if not i.get_closest_marker("after_notebooks")] + late
    if _xdist(config):
        rank = {"notebooks": 0, **{p: k + 1 for k, p in enumerate(HEAVY_FIRST)}}
        items.sort(key=lambda i: rank.get(group_of(i.nodeid), len(rank)))  # stable: order within a group stays


def pytest_xdist_make_scheduler(config, log):
    """``-n N --dist loadfile``: whole modules per worker, as xdist does, except that the notebooks
    and the tests after them are one unit (see :func:`group_of`)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebooksTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return NotebooksTogether(config, log)


def pytest_unconfigure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller owns the session file
        return
    path = os.environ.pop("COURSEKIT_TEST_RECORDS", None)
    if path and os.path.exists(path):
        os.unlink(path)
