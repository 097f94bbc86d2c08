"""Grading on a Dask cluster (``coursekit grade SUBS -o OUT --scheduler tcp://HOST:8786``).

When one machine is not enough, each submission becomes one task of an existing engine,
`Dask distributed <https://distributed.dask.org>`_ (no home-made queue): the task is
:func:`coursekit.grading.run.run_job`, the same function a local run calls, so a worker runs the
same sandboxed kernel with the same guard. Results stream back as they finish and go straight
into the grader's store (:mod:`coursekit.grading.store`); a worker that dies mid-task loses
nothing: the scheduler runs its tasks on another worker (a submission that kills three workers is
reported as not graded).

Before any work is sent, every worker is checked (:func:`check_workers`): the same Python, the
same ``coursekit`` code (:func:`~coursekit.grading.store.kit_fingerprint`), bubblewrap working
and a test kernel starting in its sandbox with the unit's toy data, which the worker prepares for
itself. A worker that fails any of these stops grading with a message naming it and why.

What each worker needs: Linux with bubblewrap (``apt-get install bubblewrap``), this course's
environment (the same ``pip install`` of the kit, in a folder of its own), and the scheduler's
address. The README shows a ``dask scheduler`` / ``dask worker`` example and a ``dask-jobqueue``
SLURM example.
"""

from __future__ import annotations

import sys

from .run import Job, Limits, RunResult, preflight, run_job


def worker_problem(limits: Limits, toy: list[dict], fingerprint: str, python: tuple) -> str:
    """What stops this machine from grading like the grader would ("" when nothing)."""
    from . import sandbox as sb
    from .store import kit_fingerprint

    here = tuple(sys.version_info[:2])
    if here != tuple(python):
        return f"Python {here[0]}.{here[1]}, the grader runs {python[0]}.{python[1]}"
    if kit_fingerprint() != fingerprint:
        return "a different version of coursekit (install the grader's course environment on the worker)"
    if limits.sandbox:
        problem = sb.unavailable()
        if problem:
            return f"cannot sandbox: {problem}"
    return preflight(limits, toy)


def check_workers(scheduler: str, limits: Limits, toy: list[dict], timeout: float = 30):
    """Connect to the cluster and check every worker (see the module docstring); returns the
    ``distributed.Client``. Raises :class:`~coursekit.grading.grade.GraderUnavailable` naming the
    workers that cannot grade."""
    from distributed import Client

    from .grade import GraderUnavailable
    from .store import kit_fingerprint

    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise GraderUnavailable(f"cannot reach the Dask scheduler at {scheduler} ({exc})",
                                fix="start it (dask scheduler) and check the address, e.g. tcp://HOST:8786") from None
    workers = list(client.scheduler_info().get("workers", {}))
    if not workers:
        client.close()
        raise GraderUnavailable(f"the Dask scheduler at {scheduler} has no workers",
                                fix="start at least one: dask worker " + scheduler)
    fingerprint = kit_fingerprint()
    checks = {address: client.submit(worker_problem, limits, toy, fingerprint, tuple(sys.version_info[:2]),
                                     workers=[address], allow_other_workers=False, pure=False,
                                     key=f"coursekit-check-{i}")
              for i, address in enumerate(workers)}
    problems = {}
    for address, future in checks.items():
        try:
            problems[address] = future.result(timeout=max(timeout, limits.timeout) + 60)
        except Exception as exc:  # noqa: BLE001 - the worker died, or cannot import the kit
            problems[address] = f"{type(exc).__name__}: {exc}"
    bad = {a: p for a, p in problems.items() if p}
    if bad:
        client.close()
        listed = "; ".join(f"{a}: {p}" for a, p in bad.items())
        raise GraderUnavailable(f"{len(bad)} of {len(workers)} Dask worker(s) cannot grade: {listed}",
                                fix="give every worker bubblewrap and the grader's course environment "
                                    "(README, 'Grading on a cluster'), or stop those workers")
    return client


def run_on_cluster(client, jobs: list[Job], on_result) -> None:
    """Send every job to the cluster and hand each result to ``on_result(job, result)`` as it
    comes back (in the order they finish)."""
    from distributed import as_completed

    futures = {client.submit(run_job, job, key=f"coursekit-grade-{job.key[:24]}", pure=False): job for job in jobs}
    try:
        for future in as_completed(futures):
            job = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the task took workers down with it
                result = RunResult(job.key, not_graded=f"the cluster could not run it ({type(exc).__name__}: {exc})"[:600])
            on_result(job, result)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
