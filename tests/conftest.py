"""Shared fixtures: no network in tests, a private data home, the real data home when present."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkAccessError(RuntimeError):
    pass


def _guarded_connect(self, address):
    if not _is_local(address):
        raise NetworkAccessError(f"tests must not touch the network (tried to connect to {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise NetworkAccessError(f"tests must not touch the network (tried to connect to {address!r})")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost") and not _is_local((host,)):
        raise NetworkAccessError(f"tests must not touch the network (tried to resolve {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config):
    # Installed for the whole run, before any test or fixture: any non-loopback connection fails.
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(scope="session")
def session_data_home(tmp_path_factory) -> Path:
    """One data home for the session, so each toy data set is generated once."""
    return tmp_path_factory.mktemp("data_home")


@pytest.fixture
def data_home(session_data_home, monkeypatch) -> Path:
    """``COURSEKIT_DATA`` pointing at the session's private data home."""
    monkeypatch.setenv("COURSEKIT_DATA", str(session_data_home))
    return session_data_home


@pytest.fixture
def empty_data_home(tmp_path, monkeypatch) -> Path:
    """``COURSEKIT_DATA`` pointing at a new, empty folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("COURSEKIT_DATA", str(home))
    return home


def _real_home() -> Path | None:
    env = os.environ.get("COURSEKIT_REAL_DATA") or os.environ.get("COURSEKIT_DATA")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def real_data_home():
    """Folder holding the real data sets (``COURSEKIT_DATA`` or ``../shared/data``); skips when absent."""
    home = _real_home()
    if home is None:
        pytest.skip("real data not found: set COURSEKIT_DATA to a folder with the real data sets")
    return home


@pytest.fixture(scope="session")
def asos_toy_folder(tmp_path_factory) -> Path:
    """A small toy ASOS folder (400 users, 200 products, seed 3), shared read-only: copy it to change it."""
    from coursekit.datasets.asos import make_toy_asos

    folder = tmp_path_factory.mktemp("asos_toy")
    make_toy_asos(folder, seed=3, n_users=400, n_products=200)
    return folder


@pytest.fixture(autouse=True)
def _fresh_hint_attempts():
    """Checks count failed attempts per exercise in the process (the hint stage): every test starts
    and ends with none."""
    from coursekit.grading.checks import reset_attempts

    reset_attempts()
    yield
    reset_attempts()


@pytest.fixture(autouse=True)
def _own_record_file(tmp_path_factory, monkeypatch):
    """Records of what a test builds or runs go to a file of the tests' own, never to the session
    file the nbval run of ``solutions/`` writes (the budget and determinism tests read that one)."""
    monkeypatch.setenv("COURSEKIT_RECORD", str(tmp_path_factory.getbasetemp() / "tests-records.jsonl"))
