"""``coursekit grade``: a folder of submissions in, grades, feedback and pages by question out.

A submission travels through five modules, in this order:

1. **collect** (:mod:`.collect`): one entry per student, each a regular file read without
   following links, with a name safe to show and a content key; identical submissions share a key.
2. **run** (:mod:`.run`): each new content key runs once, in one sandboxed kernel
   (:mod:`.sandbox`) with the grader's guard (:mod:`.guard`); the same execution yields the
   signed records of the hidden tests and the feedback notebook. A submission that is the released
   notebook untouched needs no kernel. Runs go to a local thread pool (``jobs`` kernels at a time)
   or to a Dask cluster (``scheduler``, :mod:`.cluster`); before the first one, a test kernel is
   started exactly as they will be (:func:`.run.preflight`), and grading stops with a clear error
   when it fails instead of giving everybody 0.
3. **score** (:mod:`.scoring`): points from the guard's records only, part by part.
4. **store** (:mod:`.store`): each graded submission is written to ``OUT/store`` as soon as it is
   scored. Running ``grade`` again runs only what is new or changed; a killed batch resumes;
   ``--written`` and ``--overrides`` only rebuild the report.
5. **report** (:mod:`.report`): ``grades.csv``, ``written.csv``, ``feedback/<student>.html`` and
   ``questions/<id>.html``, written from the store once the batch is over, or interrupted.

A submission the grader could not run (its kernel did not start, the guard's cell failed: the
grader's failure, not the student's) is **not graded**: empty points, the reason in the notes,
no record (the next run tries it again), and ``grade`` exits with an error naming it. Ctrl-C or
SIGTERM stops every kernel within seconds and keeps what was graded.

What a student can and cannot do is in the README ("What the sandbox guarantees").
"""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import DataError
from ..notebooks import check_results
from . import sandbox as sb
from .checks import NOT_ATTEMPTED, PASSED
from .collect import Entry, collect, is_untouched
from .guard import review_notes
from .release import CHECK_RE, release_notebook
from .report import NOT_GRADED, Submission, apply_overrides, read_overrides, write_reports
from .run import (DEFAULT_DISK_MB, DEFAULT_MEMORY_MB, INJECTED_TAG, MAX_CELL_OUTPUT_CHARS, Job, Limits, RunResult,
                  grading_notebook, preflight, run_job, stop_all_kernels)
from .scoring import TAMPERED, ExerciseSpec, PartsError, score_exercise
from .solution import exercise_order, grading_specs, guard_config, hidden_tests
from .store import Store, record_key
from .written import QuestionError, extract_answers, fmt_points, parse_questions, read_written

__all__ = ["GradeResult", "GraderUnavailable", "GradingInterrupted", "grade_folder", "exercise_order",
           "grading_specs", "grading_notebook", "guard_config", "hidden_tests", "INJECTED_TAG",
           "MAX_CELL_OUTPUT_CHARS"]

UNIT_RE = re.compile(r"(?<!\d)(\d{2})_")
UNTOUCHED_NOTE = "the released notebook as it was handed out: nothing attempted, so it was not run"


class GraderUnavailable(DataError):
    """The grader cannot run kernels here (checked before the first submission): nothing graded,
    nothing written."""


class GradingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: kernels stopped, what was graded kept (the report says what is missing)."""


@dataclass
class GradeResult:
    """What a grading run did. ``os.fspath(result)`` is the path of ``grades.csv``."""
    csv: Path
    ran: int = 0                   # kernels started (one per new content key)
    stored: int = 0                # submissions whose grade came from the store
    untouched: int = 0             # released notebooks handed in as they were (no kernel)
    not_graded: list[str] = field(default_factory=list)  # students the grader could not run
    seconds: float = 0.0

    def __fspath__(self) -> str:
        return str(self.csv)


# --------------------------------------------------------------------------- the solution

def _find_solution(solutions: Path, unit: str | None, entries: list[Entry]) -> Path:
    if unit is None:
        for entry in entries:
            m = UNIT_RE.search(entry.path.name)
            if m:
                unit = m.group(1)
                break
            if entry.nb is not None:
                ids = [e for c in entry.nb.cells if c.get("cell_type") == "code"
                       for e in CHECK_RE.findall(c.get("source", ""))]
                if ids:
                    unit = f"{int(ids[0].split('.')[0][1:]):02d}"
                    break
    if unit is None:
        raise DataError("cannot tell which unit these submissions belong to", path=entries[0].path,
                        fix="pass --unit NN")
    found = sorted(Path(solutions).glob(f"{int(unit):02d}_*.ipynb"))
    if not found:
        raise DataError(f"no solution notebook for unit {unit}", path=solutions,
                        fix="run from the repository root or pass --solutions")
    return found[0]


@dataclass
class _Course:
    """What the solution says, read once before anything runs."""
    path: Path
    raw: bytes
    nb: nbformat.NotebookNode
    specs: list[ExerciseSpec]
    questions: list
    released: nbformat.NotebookNode
    config: dict

    @classmethod
    def read(cls, path: Path, solutions: Path) -> "_Course":
        from ..glue import fill_notebook
        from ..results import RESULTS_DIR

        raw = path.read_bytes()
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
        try:
            specs = grading_specs(nb)
            for spec in specs:
                spec.validate()
            # model answers and rubrics quote the solution's stored figures through placeholders
            filled = fill_notebook(nb, results_dir=Path(solutions).resolve().parent / RESULTS_DIR,
                                   unit=path.name[:2], missing="mark")
            questions = parse_questions(filled, path.name)
        except (PartsError, QuestionError) as exc:
            raise DataError(str(exc), path=path, fix="see docs/AUTHORING.md, 'Exercises and grading'") from None
        released = release_notebook(nb, path.name, Path(solutions).resolve().parent / RESULTS_DIR)
        return cls(path, raw, nb, specs, questions, released, guard_config(nb, specs))


# --------------------------------------------------------------------------- score one run

def score_run(result: RunResult, specs: list[ExerciseSpec]) -> dict:
    """The record the store keeps for one run: points, statuses and details per exercise (from
    the guard's records only; the student's own checks only add to the details), the run's notes,
    its cost and the feedback notebook."""
    feedback = nbformat.reads(result.feedback, as_version=4) if result.feedback else None
    own = check_results(feedback) if feedback is not None else {}
    notes = [f"exercise {ex} not found (its '# Exercise {ex}' cell and check call are missing)"
             for ex in result.missing]
    if result.problem:
        notes.append(result.problem)
    if result.forged:
        notes.append(f"{result.forged} line(s) in the grader's report were not the grader's")
    for changed in dict.fromkeys(result.changed):
        notes.append(f"the submission changed {changed}; it was restored and did not affect grading")
    scores, status, detail = {}, {}, {}
    for spec in specs:
        if spec.id in result.missing:
            scores[spec.id], status[spec.id], detail[spec.id] = 0, "missing", ""
            continue
        record = result.records.get(spec.id)
        if record is None and result.ran.get(spec.id):
            record = {"exercise": spec.id, "visible": None, "pieces": {},
                      "tampered": ["the grader's request ran but left no record"]}
        score = score_exercise(spec, record)
        own_message = own.get(spec.id, {}).get("message", "")
        text = score.detail
        if own_message and score.status not in (PASSED, TAMPERED):
            text = f"{text}; your check said: {own_message}" if text else f"your check said: {own_message}"
        scores[spec.id], status[spec.id], detail[spec.id] = score.points, score.status, text
        if score.status == TAMPERED:
            notes.append(f"{spec.id} tampered: {'; '.join(record.get('tampered', []))[:300]}")
    return {"key": result.key, "scores": scores, "status": status, "detail": detail, "notes": notes,
            "seconds": round(result.seconds, 2), "peak_mb": round(result.peak_mb, 1), "host": result.host,
            "feedback": result.feedback}


# --------------------------------------------------------------------------- one student's result

def _submission(entry: Entry, course: _Course, record: dict | None, not_graded: str, untouched: bool,
                filled: dict, comments: dict) -> Submission:
    sub = Submission(entry.student, entry.file_name, entry.slug, notes=list(entry.notes), claimed=entry.claimed)
    specs = course.specs
    if entry.nb is None:
        sub.notes.append(entry.problem)
        sub.scores = {s.id: 0 for s in specs}
        sub.status = {s.id: "missing" for s in specs}
    elif untouched:
        sub.scores = {s.id: 0 for s in specs}
        sub.status = {s.id: NOT_ATTEMPTED for s in specs}
        sub.notes.append(UNTOUCHED_NOTE)
        sub.feedback_nb = entry.nb
    elif record is None:
        sub.graded = False
        sub.status = {s.id: NOT_GRADED for s in specs}
        sub.notes.append(f"not graded: {not_graded or 'the batch was interrupted before it ran'}; run the same "
                         "command again to grade it")
    else:
        sub.notes += review_notes(entry.nb, course.released)
        sub.scores, sub.status, sub.detail = dict(record["scores"]), dict(record["status"]), dict(record["detail"])
        sub.notes += record["notes"]
        sub.seconds = record.get("seconds", 0.0)
        if record.get("feedback"):
            sub.feedback_nb = nbformat.reads(record["feedback"], as_version=4)
    if sub.claimed is not None and sub.graded:
        for spec in specs:
            said, got = sub.claimed.get(spec.id), sub.status.get(spec.id)
            if said == PASSED and got != PASSED:
                sub.notes.append(f"the exported summary says {spec.id} passed; the grader found {got}")
    if course.questions:
        source = sub.feedback_nb if sub.feedback_nb is not None else entry.nb
        if source is not None:
            sub.answers = extract_answers(source, course.questions, course.nb, skip_tag=INJECTED_TAG)
        for q in course.questions:
            given = filled.get((sub.student, q.id))
            answer = sub.answers.get(q.id)
            sub.written[q.id] = given if given is not None else (0 if answer is None or answer.empty else None)
            if (sub.student, q.id) in comments:
                sub.comments[q.id] = comments[sub.student, q.id]
    return sub


def _line(sub: Submission, code_max: float, how: str) -> str:
    if not sub.graded:
        return f"{sub.file_name}: NOT GRADED; {'; '.join(sub.notes)}"
    notes = f"; {'; '.join(sub.notes)}" if sub.notes else ""
    return f"{sub.file_name}: {fmt_points(sub.code_points)}/{fmt_points(code_max)} points, {how}{notes}"


# --------------------------------------------------------------------------- the batch

class _Progress:
    """One line per submission on stdout; with ``bar``, a tqdm bar on stderr with done/total, ETA
    and failures."""

    def __init__(self, total: int, enabled: bool, bar: bool):
        self.enabled, self.failures, self.bar = enabled, 0, None
        if enabled and bar and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="submission", desc="grading", file=sys.stderr, dynamic_ncols=True)
            self.bar.set_postfix(failures=0)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def step(self, failed: bool = False) -> None:
        self.failures += bool(failed)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failures=self.failures)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _StopOnSignal:
    """SIGTERM (and SIGINT) raise KeyboardInterrupt in the main thread while grading runs."""

    def __enter__(self):
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.saved[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def _run_local(jobs: list[Job], workers: int, on_result, parent: Path) -> None:
    """Run ``jobs`` in a pool of ``workers`` threads (each starts one kernel at a time)."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="coursekit-grade")
    pending = {pool.submit(run_job, job, parent): job for job in jobs}
    try:
        while pending:
            done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - run_job catches everything; belt and braces
                    result = RunResult(job.key, not_graded=f"the grader failed to run it ({type(exc).__name__}: {exc})")
                on_result(job, result)
    except BaseException:
        for fut in pending:
            fut.cancel()
        stop_all_kernels()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def grade_folder(submissions, output="graded", *, unit=None, jobs=1, timeout=300, memory_mb=DEFAULT_MEMORY_MB,
                 solutions="solutions", progress=True, written=None, overrides=None, sandbox: bool = True,
                 disk_mb: float = DEFAULT_DISK_MB, force: bool = False, scheduler: str | None = None,
                 bar: bool = False) -> GradeResult:
    """Grade every ``*.ipynb`` and exported ``*.html`` in ``submissions`` into ``output``
    (``grades.csv``, ``feedback/``, and when the solution has graded questions ``written.csv`` and
    ``questions/``; the records in ``store/``). See the module docstring for the way through.

    Each kernel runs with ``timeout`` seconds for the whole notebook, ``memory_mb`` MB of resident
    memory and ``disk_mb`` MB of disk, in a bubblewrap sandbox unless ``sandbox=False`` (refused
    when bubblewrap is missing: pass ``sandbox=False`` knowingly). ``jobs`` kernels run at a time
    (or on the Dask cluster at ``scheduler``). ``written``: a filled-in written.csv whose points and
    comments join the report; ``overrides``: a CSV (student, exercise, points, comment) of scores
    set by hand; both are checked before anything runs. ``force``: run everything again, ignoring
    the store. ``progress``: one line per submission; ``bar``: also a progress bar on stderr.

    Raises :class:`GraderUnavailable` (nothing written) when a test kernel cannot start, and
    :class:`GradingInterrupted` after Ctrl-C / SIGTERM (the report holds what was graded).
    """
    start = time.monotonic()
    folder, out_dir = Path(submissions), Path(output)
    if not folder.is_dir():
        raise DataError("not a folder of submissions", path=folder, fix="point at the folder of submissions")
    entries = collect(folder)
    if not entries:
        raise DataError("no .ipynb or .html files found", path=folder, fix="point at the folder of submissions")
    course = _Course.read(_find_solution(Path(solutions), unit, entries), Path(solutions))
    students = [e.student for e in entries]
    filled: dict = {}
    comments: dict = {}
    if written is not None:
        if not course.questions:
            raise DataError("the solution has no graded questions to merge written points into", path=course.path,
                            fix="drop --written")
        filled = read_written(written, students, course.questions, comments=comments)  # before any kernel runs
    fixed = read_overrides(overrides, students, course.specs) if overrides is not None else {}

    limits = Limits(timeout, memory_mb, disk_mb, sandbox)
    store = Store(out_dir)
    solution_sha = hashlib.sha256(course.raw).hexdigest()
    keys: dict[str, str] = {}
    untouched: set[str] = set()
    to_run: dict[str, Entry] = {}
    for entry in entries:
        if entry.nb is None:
            continue
        if is_untouched(entry.nb, course.released):
            untouched.add(entry.student)
            continue
        key = keys[entry.student] = record_key(entry.key, solution_sha, limits.options())
        if key in to_run:
            continue
        if force or store.get(key) is None:
            to_run[key] = entry
    result = GradeResult(out_dir / "grades.csv", untouched=len(untouched))
    code_max = sum(s.points for s in course.specs)
    not_graded: dict[str, str] = {}
    shown: set[str] = set()
    report = _Progress(len(to_run), progress, bar)

    def finish(student_entries: list[Entry], how: str) -> None:
        for entry in student_entries:
            if entry.student in shown:
                continue
            shown.add(entry.student)
            sub = _submission(entry, course, store.get(keys.get(entry.student, "")) if entry.student in keys else None,
                              not_graded.get(keys.get(entry.student, ""), ""), entry.student in untouched,
                              filled, comments)
            report.line(_line(sub, code_max, how))

    by_key: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.student in keys:
            by_key.setdefault(keys[entry.student], []).append(entry)
    parent = Path(tempfile.mkdtemp(prefix="coursekit-grade-"))
    interrupted = None
    try:
        if to_run:
            if scheduler is None:
                sb.require(no_sandbox=not sandbox)  # on a cluster, every worker is checked instead
            elif not sandbox:
                print(sb.NO_SANDBOX_WARNING, file=sys.stderr, flush=True)
            toy = sb.toy_requests(course.path) if sandbox else []
            protected = {} if sandbox else {str(course.path.resolve()): course.raw}
            job_list = [Job(key, nbformat.writes(entry.nb), course.path.name, course.specs, course.config, limits,
                            toy, protected) for key, entry in to_run.items()]
            if scheduler:
                from .cluster import check_workers

                client = check_workers(scheduler, limits, toy)
            else:
                problem = preflight(limits, toy, parent)
                if problem:
                    raise GraderUnavailable(
                        f"cannot grade here: {problem}", path=course.path,
                        fix="grading stopped before any submission, and nothing was written. Check that "
                            "`coursekit grade` runs from the course's virtual environment (see the kernel log "
                            "above), or pass --no-sandbox to grade without bubblewrap")

            def on_result(job: Job, run: RunResult) -> None:
                failed = bool(run.not_graded)
                if failed:
                    not_graded[job.key] = run.not_graded
                else:
                    store.put(score_run(run, course.specs))
                result.ran += 1
                report.step(failed)
                finish(by_key.get(job.key, []), f"{run.seconds:.1f} s")

            with _StopOnSignal():
                if scheduler:
                    from .cluster import run_on_cluster

                    run_on_cluster(client, job_list, on_result)
                else:
                    _run_local(job_list, jobs, on_result, parent)
    except KeyboardInterrupt as exc:
        interrupted = exc
    finally:
        report.close()
        shutil.rmtree(parent, ignore_errors=True)
    for entry in entries:
        if entry.student in keys and keys[entry.student] not in to_run:
            finish([entry], "from the store")
        elif entry.student in untouched:
            finish([entry], "not run")
        elif entry.nb is None:
            finish([entry], "not run")
    subs = [_submission(e, course, store.get(keys[e.student]) if e.student in keys else None,
                        not_graded.get(keys.get(e.student, ""), "" if interrupted is None else "interrupted"),
                        e.student in untouched, filled, comments) for e in entries]
    for sub in subs:
        apply_overrides(sub, fixed)
    result.csv = write_reports(subs, course.specs, course.questions, out_dir, filled=filled, comments=comments,
                               with_written=written is not None, progress=progress)
    result.not_graded = [s.student for s in subs if not s.graded]
    result.stored = sum(1 for e in entries if e.student in keys and keys[e.student] not in to_run)
    result.seconds = time.monotonic() - start
    if interrupted is not None:
        raise GradingInterrupted(f"interrupted ({interrupted}); {len(subs) - len(result.not_graded)} of "
                                 f"{len(subs)} graded and kept in {out_dir}")
    return result
