"""What grading costs: seconds per submission against one plain execution of the same notebook.

``coursekit bench --unit grading`` grades ``N`` different right answers of unit 1 (the solution's
own code, each with one extra comment cell so that no two share a content key) three ways:
``--jobs 1``, ``--jobs 2`` and a local Dask cluster of two worker processes, and runs the same
notebook plainly (one kernel, no sandbox, no guard; the median of three runs). The first row is
the issue's measure: grading cost per submission at ``--jobs 1`` divided by one plain execution
(target: at most 1.3). The last rows extrapolate to a course of 300 on 2 and 16 cores, from the
per-submission cost measured here (grading is one kernel per submission, so it scales with the
cores given to it while memory lasts: a unit-1 kernel peaks at about 1 GB).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from . import Row

N_SUBMISSIONS = 20
COURSE = 300
PLAIN_RUNS = 3


def _batch(folder: Path, key, n: int) -> None:
    """``n`` copies of the answer key ``key``, each with its own comment cell (its own content key)."""
    import nbformat

    for i in range(n):
        nb = nbformat.from_dict(key)
        nb.cells.append(nbformat.v4.new_code_cell(f"# submission {i}"))
        nbformat.write(nb, folder / f"student{i:03d}.ipynb")


def _grade(folder: Path, out: Path, solutions: Path, **kwargs) -> float:
    from ..grading.grade import grade_folder

    start = time.perf_counter()
    result = grade_folder(folder, out, solutions=solutions, progress=False, timeout=600, force=True, **kwargs)
    seconds = time.perf_counter() - start
    if result.not_graded:
        raise RuntimeError(f"not graded: {result.not_graded}")
    return seconds


def run(quick: bool = False, solutions: str | Path = "solutions", n: int | None = None) -> list[Row]:
    """The grading rows (none in ``--quick``: a kernel per submission does not fit a quick bench)."""
    if quick:
        return []
    import nbformat

    from ..grading.release import answer_key
    from ..notebooks import execute_notebook

    n = n or N_SUBMISSIONS
    solutions = Path(solutions).resolve()
    solution = sorted(solutions.glob("01_*.ipynb"))[0]
    work = Path(tempfile.mkdtemp(prefix="ck-bench-grading-"))
    try:
        folder = work / "submissions"
        folder.mkdir()
        key = answer_key(nbformat.read(solution, as_version=4), solution.name)
        _batch(folder, key, n)
        # the plain run: the median of three (the first of a session pays for cold caches: 25.7 s
        # against 22.6 and 23.0 s on the bench machine), so the ratio does not flatter grading
        plain = statistics.median(
            execute_notebook(nbformat.from_dict(key), cwd=work, name=solution.name, allow_errors=True,
                             env={"COURSEKIT_RECORD": ""})[1]
            for _ in range(PLAIN_RUNS))
        jobs1 = _grade(folder, work / "out1", solutions, jobs=1) / n
        jobs2 = _grade(folder, work / "out2", solutions, jobs=2) / n
        dask = None
        try:
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                              memory_limit=0) as cluster:
                dask = _grade(folder, work / "out3", solutions, scheduler=cluster.scheduler_address) / n
        except ImportError:
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = f"{n} unit-1 submissions"
    rows = [
        Row("grading", "grading cost per submission / plain execution", size, jobs1, ref_s=plain,
            note=f"{jobs1 / plain:.2f}x one plain run ({plain:.1f} s, median of {PLAIN_RUNS}) at --jobs 1 (target <= 1.3x): one sandboxed "
                 "kernel yields grade and feedback"),
        Row("grading", "seconds per submission, --jobs 2", size, jobs2, note=f"{n * jobs2 / 60:.1f} min for the batch"),
    ]
    if dask is not None:
        rows.append(Row("grading", "seconds per submission, Dask (2 local workers)", size, dask,
                        note=f"{n * dask / 60:.1f} min for the batch, scheduler and workers included"))
    rows += [
        Row("grading", f"{COURSE} students, 2 cores (extrapolated)", f"{COURSE} submissions", COURSE * jobs2,
            note=f"{COURSE * jobs2 / 3600:.1f} h at the --jobs 2 rate"),
        Row("grading", f"{COURSE} students, 16 cores (extrapolated)", f"{COURSE} submissions", COURSE * jobs1 / 16,
            note=f"{COURSE * jobs1 / 16 / 3600:.2f} h: 16 kernels at a time at the --jobs 1 cost each "
                 "(Dask workers or --jobs 16; about 16 GB of memory)"),
    ]
    return rows
