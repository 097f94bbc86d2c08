"""``coursekit grade``: batch-grade submitted notebooks with hidden tests.

For each submission (``<student>.ipynb``), in a fresh kernel and a temporary folder:

1. the hidden tests of the matching solution notebook are injected by **exercise id** — after the
   cell that calls ``check("uN.x", ...)``, else after the cell marked ``# Exercise uN.x`` — never by
   cell metadata, which students may have broken;
2. the notebook runs with a time limit for the whole submission (a cell still running when the
   limit is reached is cut and the rest of the notebook is not run), a memory limit (the kernel
   is stopped when its resident memory goes over it) and a cap on the output it may print;
3. an exercise scores 1 when its visible check passed and its hidden tests passed.

Student code runs as the grader's user, so it *could* write anywhere the grader can. Nothing it
writes can change a grade: the exercises and hidden tests are read into memory before any
student code runs; ``grades.csv`` and the feedback pages are written by the parent process after
every submission has run; and the solution notebook is checked after each submission and
restored (with a note on that submission) if its bytes changed.

Outputs: ``grades.csv`` (one row per student, one column per exercise, total, max, notes) and
``feedback/<student>.html``: the executed notebook without the injected cells, with a results table
on top. Hidden test code and hidden assertion messages never appear in feedback.
"""

from __future__ import annotations

import csv
import html
import os
import re
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..datasets._io import atomic_write_bytes
from ..errors import DataError
from ..notebooks import _environ, check_results, to_html, write_text_atomic
from .checks import ERROR, FAILED, NOT_ATTEMPTED, PASSED
from .release import BEGIN_HIDDEN, CHECK_RE, END_HIDDEN, EXERCISE_RE

HIDDEN_KEY = "coursekit_hidden"
INJECTED_TAG = "coursekit-injected"
UNIT_RE = re.compile(r"(?<!\d)(\d{2})_")
MAX_OUTPUT_CHARS = 20_000  # per output text in feedback; student code can print a lot
MAX_CELL_OUTPUT_CHARS = 1_000_000  # kept per cell while the notebook runs; the rest is dropped
DEFAULT_MEMORY_MB = 4096  # resident memory of one kernel (and its children)


@dataclass
class Submission:
    student: str
    path: Path
    scores: dict[str, int] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    feedback: Path | None = None
    feedback_html: str = field(default="", repr=False)


def hidden_tests(solution: nbformat.NotebookNode) -> dict[str, str]:
    """{exercise id: hidden test source} from the solution notebook's check cells."""
    tests: dict[str, str] = {}
    pattern = re.compile(re.escape(BEGIN_HIDDEN) + r"\n(.*?)" + re.escape(END_HIDDEN), re.S)
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        ids = CHECK_RE.findall(cell.source)
        blocks = pattern.findall(cell.source)
        if ids and blocks:
            tests[ids[0]] = "\n".join(b.rstrip("\n") for b in blocks)
    return tests


def exercise_order(solution: nbformat.NotebookNode) -> list[str]:
    seen: list[str] = []
    for cell in solution.cells:
        if cell.cell_type == "code":
            for ex in EXERCISE_RE.findall(cell.source) + CHECK_RE.findall(cell.source):
                if ex not in seen:
                    seen.append(ex)
    return seen


def _hidden_cell(exercise: str, code: str) -> nbformat.NotebookNode:
    body = textwrap.indent(code.strip("\n") or "pass", "    ")
    src = (
        "from IPython.display import display as _ck_display\n"
        "try:\n"
        f"{body}\n"
        "    _ck_status = 'passed'\n"
        "except NotImplementedError:\n"
        "    _ck_status = 'not attempted'\n"
        "except AssertionError:\n"
        "    _ck_status = 'failed'\n"
        "except BaseException as _ck_exc:\n"
        "    _ck_status = 'error: ' + type(_ck_exc).__name__\n"
        f"_ck_display({{'text/plain': 'hidden tests: ' + _ck_status}}, raw=True, "
        f"metadata={{'{HIDDEN_KEY}': {{'exercise': {exercise!r}, 'status': _ck_status}}}})\n"
    )
    cell = nbformat.v4.new_code_cell(src)
    cell.metadata["tags"] = [INJECTED_TAG]
    return cell


def inject(submission: nbformat.NotebookNode, tests: dict[str, str], exercises: list[str]):
    """Insert hidden-test cells; return (notebook, exercises that could not be found)."""
    nb = nbformat.from_dict(submission)
    anchors: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        for ex in CHECK_RE.findall(src):
            anchors[ex] = i  # the check cell wins over the exercise marker
        for ex in EXERCISE_RE.findall(src):
            anchors.setdefault(ex, i)
    missing = [ex for ex in exercises if ex not in anchors]
    for ex, index in sorted(((e, anchors[e]) for e in exercises if e in anchors and e in tests),
                            key=lambda t: -t[1]):
        nb.cells.insert(index + 1, _hidden_cell(ex, tests[ex]))
    for cell in nb.cells:  # fresh run: no stale outputs a student could have forged
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb, missing


def _capped_client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """A NotebookClient that keeps at most ``MAX_CELL_OUTPUT_CHARS`` of output per cell, so a
        print loop cannot fill the grader's memory before the feedback is cut."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._ck_used: dict[int, int] = {}  # characters kept per cell index

        def output(self, outs, msg, display_id, cell_index):
            used = self._ck_used.get(cell_index, 0)
            left = MAX_CELL_OUTPUT_CHARS - used
            if left <= 0:
                return None
            content = msg.get("content", {})
            size = len(str(content))
            if size > left:
                self._ck_used[cell_index] = MAX_CELL_OUTPUT_CHARS
                note = f"\n... output cut: more than {MAX_CELL_OUTPUT_CHARS:,} characters\n"
                if msg.get("msg_type") == "stream":  # keep the head of the text
                    msg = {**msg, "content": {**content, "text": content.get("text", "")[:left] + note}}
                    return super().output(outs, msg, display_id, cell_index)
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
                return None
            self._ck_used[cell_index] = used + size
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


class _MemoryWatch(threading.Thread):
    """Polls the kernel's resident memory (with its children) and kills it above ``limit_mb``."""

    def __init__(self, client, limit_mb: float, interval: float = 0.2):
        super().__init__(daemon=True)
        self.client, self.limit, self.interval = client, limit_mb * 2**20, interval
        self.done, self.exceeded, self.peak_mb = threading.Event(), False, 0.0

    def _kernel(self):
        import psutil

        process = getattr(getattr(getattr(self.client, "km", None), "provisioner", None), "process", None)
        return psutil.Process(process.pid) if process is not None else None

    def run(self) -> None:
        import psutil

        while not self.done.wait(self.interval):
            try:
                kernel = self._kernel()
                if kernel is None:
                    continue
                tree = [kernel, *kernel.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree)
            except psutil.Error:
                continue
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > self.limit:
                self.exceeded = True
                for p in reversed(tree):
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
                return


def _execute(nb, cwd: Path, budget: float, memory_mb: float = DEFAULT_MEMORY_MB):
    """Run ``nb`` in place; return (problem or None, peak resident MiB of the kernel)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    deadline = time.monotonic() + budget

    def remaining(_cell) -> int:
        return max(1, int(deadline - time.monotonic()))

    client = _capped_client_class()(nb, timeout=int(budget), timeout_func=remaining, kernel_name="python3",
                                    allow_errors=True, interrupt_on_timeout=False,
                                    resources={"metadata": {"path": str(cwd)}})
    watch = _MemoryWatch(client, memory_mb)
    watch.start()
    try:
        client.execute()
        problem = None
    except CellTimeoutError:
        problem = f"time limit of {budget:.0f} s exceeded; the rest of the notebook was not run"
    except DeadKernelError:
        problem = "the kernel died (out of memory, or the code exited the interpreter)"
    finally:
        watch.done.set()
        watch.join()
    if watch.exceeded:
        problem = f"memory limit of {memory_mb:.0f} MB exceeded; the kernel was stopped and the rest was not run"
    return problem, watch.peak_mb


def _truncate_outputs(nb) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out and len(out["text"]) > MAX_OUTPUT_CHARS:
                out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n... (output cut)"


def _feedback_html(nb, sub: Submission, exercises: list[str]) -> str:
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    _truncate_outputs(nb)
    rows = "".join(
        f'<tr class="ck-row" data-status="{html.escape(sub.status.get(ex, NOT_ATTEMPTED))}">'
        f"<td><code>{html.escape(ex)}</code></td><td>{html.escape(sub.status.get(ex, NOT_ATTEMPTED))}</td>"
        f"<td>{sub.scores.get(ex, 0)}</td></tr>"
        for ex in exercises
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes)
    total = sum(sub.scores.values())
    header = (
        '<section id="coursekit-summary" style="font-family:sans-serif;margin:1em 2em;padding:1em;'
        'border:1px solid #ccc;border-radius:6px">'
        f"<h2 style='margin-top:0'>Feedback for {html.escape(sub.student)}</h2>"
        f'<p id="ck-score" data-passed="{total}" data-total="{len(exercises)}"><b>{total} of '
        f"{len(exercises)}</b> exercises passed.</p>"
        '<table id="ck-table" border="1" cellpadding="4" style="border-collapse:collapse">'
        "<thead><tr><th>exercise</th><th>result</th><th>points</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>" + (f"<ul id='ck-notes'>{notes}</ul>" if notes else "") + "</section>"
    )
    return to_html(nb, header_html=header)


def grade_one(path: Path, exercises: list[str], tests: dict[str, str], out_dir: Path,
              timeout: float, memory_mb: float = DEFAULT_MEMORY_MB,
              protected: dict[str, bytes] | None = None) -> Submission:
    """Grade one submission; never raises for problems of the submission itself.

    ``exercises`` and ``tests`` are read from the solution notebook by the parent process before
    any student code runs, so a submission that writes to disk cannot change them. ``protected``
    {path: bytes} are files the submission must not change (the solution notebook): they are
    compared after the run and restored, with a note, if they changed. The feedback page is
    returned in ``feedback_html``; the caller writes it.
    """
    sub = Submission(student=path.stem, path=path)
    start = time.monotonic()
    try:
        raw = nbformat.read(path, as_version=4)
        nb, missing = inject(raw, tests, exercises)
    except Exception as exc:  # not JSON, not a notebook, cells without source...
        sub.notes.append(f"malformed notebook ({type(exc).__name__}); open it in JupyterLab and save it again")
        sub.scores = {ex: 0 for ex in exercises}
        sub.status = {ex: "missing" for ex in exercises}
        return sub
    for ex in missing:
        sub.notes.append(f"exercise {ex} not found (its '# Exercise {ex}' cell and check call are missing)")
    with tempfile.TemporaryDirectory(prefix="coursekit-grade-") as tmp, \
            _environ(COURSEKIT_STRICT_CHECKS=None, COURSEKIT_RECORD=None, COURSEKIT_NOTEBOOK=path.name):
        problem, _ = _execute(nb, Path(tmp), timeout, memory_mb)
    for name, original in (protected or {}).items():
        target = Path(name)
        if not target.exists() or target.read_bytes() != original:
            atomic_write_bytes(target, original)
            sub.notes.append(f"the submission changed {target.name}; it was restored and did not affect grading")
    if problem:
        sub.notes.append(problem)
    sub.seconds = time.monotonic() - start
    visible = check_results(nb)
    hidden = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get(HIDDEN_KEY)
            if meta:
                hidden[meta["exercise"]] = meta["status"]
    for ex in exercises:
        v = visible.get(ex, {}).get("status")
        h = hidden.get(ex, PASSED if ex not in tests else None)
        if ex in missing:
            status = "missing"
        elif v is None and h is None:
            status = NOT_ATTEMPTED if not problem else "not run"
        elif v == PASSED and h == PASSED:
            status = PASSED
        elif v == NOT_ATTEMPTED or h == NOT_ATTEMPTED:
            status = NOT_ATTEMPTED
        elif v == PASSED:
            status = "failed hidden tests"
        elif v in (FAILED, ERROR):
            status = v
        else:
            status = FAILED
        sub.status[ex] = status
        sub.scores[ex] = int(status == PASSED)
    sub.feedback = out_dir / "feedback" / f"{sub.student}.html"
    sub.feedback_html = _feedback_html(nb, sub, exercises)
    return sub


def _find_solution(solutions: Path, unit: str | None, submission: Path) -> Path:
    if unit is None:
        m = UNIT_RE.search(submission.name)
        if m:
            unit = m.group(1)
        else:
            try:
                nb = nbformat.read(submission, as_version=4)
                ids = [e for c in nb.cells if c.get("cell_type") == "code"
                       for e in CHECK_RE.findall(c.get("source", ""))]
                unit = f"{int(ids[0].split('.')[0][1:]):02d}" if ids else None
            except Exception:
                unit = None
    if unit is None:
        raise DataError("cannot tell which unit this submission belongs to", path=submission,
                        fix="pass --unit NN")
    found = sorted(Path(solutions).glob(f"{int(unit):02d}_*.ipynb"))
    if not found:
        raise DataError(f"no solution notebook for unit {unit}", path=solutions,
                        fix="run from the repository root or pass --solutions")
    return found[0]


def grade_folder(submissions, output="graded", *, unit=None, jobs=1, timeout=300,
                 memory_mb=DEFAULT_MEMORY_MB, solutions="solutions", progress=True) -> Path:
    """Grade every ``*.ipynb`` in ``submissions``; write ``OUT/grades.csv`` and ``OUT/feedback/``.

    Each submission runs with ``timeout`` seconds and ``memory_mb`` MB of resident memory. The
    grade book and the feedback pages are written only after every submission has run.
    """
    from tqdm.auto import tqdm

    submissions, out_dir = Path(submissions), Path(output)
    paths = sorted(p for p in submissions.glob("*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise DataError("no .ipynb files found", path=submissions, fix="point at the folder of submissions")
    if unit is None:
        solution = _find_solution(Path(solutions), None, paths[0])
    else:
        solution = _find_solution(Path(solutions), unit, paths[0])
    solution_bytes = solution.read_bytes()
    solution_nb = nbformat.reads(solution_bytes.decode("utf-8"), as_version=4)
    exercises, tests = exercise_order(solution_nb), hidden_tests(solution_nb)
    protected = {str(solution.resolve()): solution_bytes}
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[Submission] = []
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_one, p, exercises, tests, out_dir, timeout, memory_mb, protected)
                   for p in paths]
        for fut in tqdm(futures, desc="grade", unit="notebook", disable=not progress):
            results.append(fut.result())
    for sub in results:  # only now: no student code runs any more
        if sub.feedback_html:
            write_text_atomic(sub.feedback, sub.feedback_html)
    header = ["student", *exercises, "total", "max", "notes"]
    fd, tmp = tempfile.mkstemp(prefix=".grades.", suffix=".csv", dir=out_dir)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for sub in results:
            writer.writerow([sub.student, *[sub.scores.get(e, 0) for e in exercises],
                             sum(sub.scores.values()), len(exercises), "; ".join(sub.notes)])
    target = out_dir / "grades.csv"
    os.replace(tmp, target)
    return target
