"""Root pytest configuration, shared by ``tests/`` and the nbval run over ``solutions/``.

- Every kernel started during the run records its figures into one session file
  (``COURSEKIT_RECORD``), so budget tests can read what the notebooks measured.
- Tests marked ``after_notebooks`` run after the notebooks.
"""

import os
import tempfile


def pytest_configure(config):
    config.addinivalue_line("markers", "after_notebooks: runs after the nbval items (reads their records)")
    if not os.environ.get("COURSEKIT_RECORD"):
        fd, path = tempfile.mkstemp(prefix="coursekit-test-records.", suffix=".jsonl")
        os.close(fd)
        os.environ["COURSEKIT_RECORD"] = path
        os.environ["COURSEKIT_TEST_RECORDS"] = path


def pytest_collection_modifyitems(session, config, items):
    late = [i for i in items if i.get_closest_marker("after_notebooks")]
    items[:] = [i for i in items if not i.get_closest_marker("after_notebooks")] + late


def pytest_unconfigure(config):
    path = os.environ.pop("COURSEKIT_TEST_RECORDS", None)
    if path and os.path.exists(path):
        os.unlink(path)
