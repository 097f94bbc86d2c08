"""Where data lives: the data home (``COURSEKIT_DATA``) and the toy cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "COURSEKIT_DATA"


def _user_cache_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "coursekit"


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder that holds real data sets, one sub-folder per data set.

    Order: the ``data_home`` argument, the ``COURSEKIT_DATA`` environment variable, a per-user
    cache folder (``~/.cache/coursekit`` on Linux). The folder is not created here.
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return _user_cache_dir()


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return os.access(probe, os.W_OK)


def get_toy_home(data_home: str | os.PathLike | None = None) -> Path:
    """The folder toy data sets are generated into: ``<data home>/toy``.

    When the data home is read-only (a shared course folder, say), toy data goes to the per-user
    cache instead, so pointing ``COURSEKIT_DATA`` at a read-only copy of the real data still works.
    """
    home = get_data_home(data_home) / "toy"
    if _writable(home):
        return home
    return _user_cache_dir() / "toy"
