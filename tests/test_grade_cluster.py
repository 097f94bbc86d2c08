"""Grading on a Dask cluster (issue 22, item 4): a real scheduler and two worker processes on the
loopback, a worker killed mid-batch, and the same grades.csv as a local run."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from coursekit.grading import sandbox as sb
from coursekit.grading.grade import GraderUnavailable, grade_folder

from . import _grading_fixtures as F

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sb.unavailable() is not None,
                                                   reason=f"workers need a sandbox: {sb.unavailable()}")]
NAME = F.SOLUTION.name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes, as an instructor would start them."""

    def __init__(self, folder: Path, workers: int = 2):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.logs = folder
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--no-dashboard"], "scheduler", env)
        self.workers = [self._start(["worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--name", f"w{i}", "--local-directory", str(folder / f"w{i}")],
                                    f"worker{i}", env) for i in range(workers)]
        self._wait_for_workers(workers)

    def _start(self, args, name, env):
        log = open(self.logs / f"{name}.log", "wb")
        return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)

    def _wait_for_workers(self, n: int, timeout: float = 120) -> None:
        from distributed import Client

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with Client(self.address, timeout=5) as client:
                    if len(client.scheduler_info()["workers"]) >= n:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError(f"the cluster did not start: {(self.logs / 'scheduler.log').read_text()[-2000:]}")

    def busy_worker(self) -> int | None:
        """Index of a worker running a grading kernel now (a kernel is a child of its worker)."""
        import psutil

        for index, proc in enumerate(self.workers):
            try:
                children = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                continue
            if any("ipykernel" in " ".join(c.cmdline()) for c in children if c.is_running()):
                return index
        return None

    def close(self):
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    solutions, folder, small = F.small_course(root)
    for i in range(4):  # four different submissions; each takes a few seconds more than a bare run
        nb = F.answered(small) if i % 2 == 0 else F.wrong(small)
        nb.cells.append(nbformat.v4.new_code_cell(f"import time\ntime.sleep(6)\nprint('student {i}')"))
        nbformat.write(nb, folder / f"s{i}.ipynb")
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
        local = grade_folder(folder, root / "local", jobs=2, timeout=120, memory_mb=1500, solutions=solutions,
                             progress=False)
    return root, solutions, folder, _rows(local)


def test_a_batch_on_two_workers_survives_a_dead_worker_and_matches_the_local_run(batch):
    import threading

    root, solutions, folder, local_rows = batch
    cluster = Cluster(root)
    killed = []

    def kill_a_busy_worker():
        end = time.monotonic() + 120
        while time.monotonic() < end and not killed:
            index = cluster.busy_worker()
            if index is not None:
                time.sleep(2)  # well inside its task
                os.killpg(cluster.workers[index].pid, signal.SIGKILL)
                killed.append(index)
                return
            time.sleep(0.3)

    try:
        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
            killer.start()
            result = grade_folder(folder, root / "dask", timeout=120, memory_mb=1500, solutions=solutions,
                                  progress=False, scheduler=cluster.address)
        killer.join(timeout=5)
    finally:
        cluster.close()
    assert killed, "no worker was killed mid-task"
    assert result.ran == 4 and result.not_graded == []
    assert _rows(result) == local_rows
    assert [r[1:5] for r in local_rows[1:]] == [["3", "2", "2", "1"], ["0", "0", "0", "0"]] * 2


def test_a_worker_that_cannot_grade_is_refused_before_any_work(batch, tmp_path):
    """A worker without a working sandbox (its bubblewrap replaced by one that fails) stops the batch
    with its name and the reason; nothing is written."""
    root, solutions, folder, _ = batch
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'no user namespaces here' >&2\nexit 1\n")
    fake.chmod(0o755)
    os.environ["COURSEKIT_BWRAP"] = str(fake)  # the workers inherit it; the grader checks none itself
    try:
        cluster = Cluster(tmp_path, workers=1)
    finally:
        os.environ.pop("COURSEKIT_BWRAP")
    try:
        with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
            with pytest.raises(GraderUnavailable, match=r"1 of 1 Dask worker\(s\) cannot grade: .*no user namespaces"):
                grade_folder(folder, tmp_path / "out", timeout=60, solutions=solutions, progress=False,
                             scheduler=cluster.address, force=True)
    finally:
        cluster.close()
    assert not (tmp_path / "out").exists()
