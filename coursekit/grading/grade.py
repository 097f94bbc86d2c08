"""``coursekit grade``: batch-grade submissions in sandboxes; points, partial credit, written answers.

A submission is a notebook (``<student>.ipynb``) or the HTML ``coursekit export`` wrote
(``<student>.html``, the notebook embedded with its sha256, :mod:`coursekit.grading.export`).
Each runs **twice**, each time in a fresh kernel in its own sandbox (:mod:`.sandbox`):

1. the **feedback run**: the notebook as submitted, outputs cleared, with its own visible checks.
   It never sees a hidden test. This run, and only this run, is what the feedback page shows; the
   written answers (with the figures of the cells a student added) are read from it;
2. the **grader's run**: the same notebook with the grader's cells (:mod:`.guard`): a first cell,
   before any student code, that arms the guard, and after each exercise's check cell (found by
   exercise id, never by cell metadata) an encrypted, signed request that repeats the visible check
   and runs the hidden parts with the exercise's delegates blocked. Scores come only from the
   guard's signed records; what this run prints or displays goes nowhere. It stops after the
   last exercise.

The two runs of a submission are separate tasks of one process pool (``jobs`` kernels at a
time), so with ``jobs >= 2`` they run side by side. Every kernel runs with a time limit for the
whole notebook (a cell still running at the limit is cut, the rest is not run), a memory limit
(resident memory of the kernel and its children), a limit on processes (a fork bomb is stopped
within a fraction of a second, the whole sandbox with it) and on the bytes written in its
private folder, and keeps at most ``MAX_CELL_OUTPUT_CHARS`` of output per cell.

What a student can and cannot do is in the README ("What the sandbox guarantees"): in short, a
submission sees nothing but the system, the environment, its data and its own folder; forged
output metadata and summaries count for nothing; changed library functions, hooks and test
helpers score ``tampered``.

Outputs, all written after every submission has run: ``grades.csv`` (one row per student: points
per exercise, total, max, notes; with ``--written`` also points per question, ``written`` and a
total over both), ``written.csv``, ``questions/<id>.html`` and ``feedback/<student>.html`` (the
feedback run with a results table on top). Hidden-test code and solution text never appear in
feedback.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..datasets._io import atomic_write_bytes
from ..errors import DataError
from ..notebooks import check_results, to_html, write_text_atomic
from . import sandbox as sb
from .checks import NOT_ATTEMPTED, PASSED
from .guard import Channel, review_notes
from .release import BEGIN_HIDDEN, CHECK_RE, END_HIDDEN, EXERCISE_RE, release_notebook
from .scoring import (TAMPERED, ExerciseSpec, PartsError, check_call_args, grader_code, parse_hidden,
                      score_exercise)
from .written import (CSV_COLUMNS, Answer, Question, QuestionError, extract_answers, fmt_points, parse_questions,
                      question_page, read_written, safe_name, write_csv, written_rows, written_table_html)

INJECTED_TAG = "coursekit-injected"
UNIT_RE = re.compile(r"(?<!\d)(\d{2})_")
MAX_OUTPUT_CHARS = 20_000  # per output text in feedback; student code can print a lot
MAX_CELL_OUTPUT_CHARS = 1_000_000  # kept per cell while the notebook runs; the rest is dropped
DEFAULT_MEMORY_MB = 4096  # resident memory of one kernel (and its children)
DEFAULT_DISK_MB = 2048    # bytes a kernel may write in its private folder
MAX_PROCESSES = 64        # processes of one kernel's tree (the kernel, its children, bwrap)
MAX_SUBMISSION_MB = 200   # a submitted file above this is not read
DOTTED_RE = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


@dataclass
class Submission:
    student: str
    path: Path
    scores: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    answers: dict[str, Answer] = field(default_factory=dict, repr=False)
    written: dict[str, float | None] = field(default_factory=dict)
    claimed: dict[str, str] | None = None  # statuses the exported HTML's summary shows (student's machine)
    feedback: Path | None = None
    feedback_html: str = field(default="", repr=False)

    @property
    def code_points(self) -> float:
        return sum(self.scores.values())

    @property
    def written_points(self) -> float:
        return sum(v for v in self.written.values() if v is not None)


# --------------------------------------------------------------------------- what the solution says

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


def grading_specs(solution: nbformat.NotebookNode) -> list[ExerciseSpec]:
    """Points, delegates, hidden parts and check-call arguments of every exercise of a solution."""
    from .checks import get_exercise

    tests = hidden_tests(solution)
    check_sources: dict[str, str] = {}
    for cell in solution.cells:
        if cell.cell_type == "code":
            for ex in CHECK_RE.findall(cell.source):
                check_sources.setdefault(ex, cell.source)
    specs = []
    for ex in exercise_order(solution):
        try:
            registered = get_exercise(ex)
            points, delegates = registered.points, registered.delegates
        except KeyError:
            points, delegates = 1, ()
        args = check_call_args(check_sources[ex], ex) if ex in check_sources else None
        specs.append(ExerciseSpec(ex, points, tuple(delegates), parse_hidden(tests.get(ex, ""), ex), args))
    return specs


def _import_lines(solution: nbformat.NotebookNode) -> list[str]:
    """The solution's top-level import statements, one per line."""
    lines: list[str] = []
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", "") != "__future__":
                line = ast.unparse(node)
                if line not in lines:
                    lines.append(line)
    return lines


def guard_config(solution: nbformat.NotebookNode, specs: list[ExerciseSpec]) -> dict:
    """What the guard imports, binds and watches (see :func:`coursekit.grading.guard.arm`)."""
    from .checks import get_exercise

    check_modules = []
    for spec in specs:
        try:
            module = get_exercise(spec.id).test.__module__
        except (KeyError, AttributeError):
            continue
        if module not in check_modules:
            check_modules.append(module)
    imports = _import_lines(solution)
    modules = ["numpy", "coursekit", "coursekit.grading.checks", "coursekit.grading.delegation",
               "coursekit.grading.scoring", *check_modules]
    for line in imports:
        node = ast.parse(line).body[0]
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        modules += [n for n in names if n and n not in modules]
    chains: dict[str, None] = {}
    for spec in specs:
        code = "\n".join([spec.hidden.setup, *(p.code for p in spec.hidden.parts), spec.check_args or ""])
        chains.update(dict.fromkeys(DOTTED_RE.findall(code)))
    return {"modules": modules, "imports": "\n".join(imports), "check_modules": check_modules, "chains": list(chains),
            "student_names": sorted(_exercise_names(solution))}


def _exercise_names(solution: nbformat.NotebookNode) -> set[str]:
    """Names the exercise cells define: the student's, never replaced by the solution's imports."""
    names: set[str] = set()
    for cell in solution.cells:
        if cell.cell_type != "code" or not EXERCISE_RE.search(cell.source):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


# --------------------------------------------------------------------------- the two notebooks

def _cleared(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def _anchors(nb) -> dict[str, int]:
    anchors: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        for ex in CHECK_RE.findall(src):
            anchors[ex] = i  # the check cell wins over the exercise marker
        for ex in EXERCISE_RE.findall(src):
            anchors.setdefault(ex, i)
    return anchors


def _grader_cell(source: str, exercise: str = "") -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [INJECTED_TAG]
    if exercise:
        cell.metadata["coursekit_exercise"] = exercise
    return cell


def grading_notebook(submission, specs: list[ExerciseSpec], channel: Channel, config: dict):
    """The grader's run: the guard first, a request after each check cell, nothing after the last
    one. Returns (notebook, exercises that could not be found)."""
    nb = _cleared(submission)
    anchors = _anchors(nb)
    missing = [spec.id for spec in specs if spec.id not in anchors]
    found = sorted(((s, anchors[s.id]) for s in specs if s.id in anchors), key=lambda t: t[1])
    if found:
        nb.cells = nb.cells[: found[-1][1] + 1]
    for spec, index in reversed(found):
        nb.cells.insert(index + 1, _grader_cell(channel.request_source(spec.id, grader_code(spec)), spec.id))
    nb.cells.insert(0, _grader_cell(channel.arm_source(config)))
    return nb, missing


# --------------------------------------------------------------------------- running one kernel

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


class _Watch(threading.Thread):
    """Polls the kernel's process tree: resident memory (with its children), number of processes,
    bytes written in its private folder. Above a limit it kills the tree (in a sandbox: bubblewrap
    itself, which takes the whole PID namespace with it)."""

    def __init__(self, client, limit_mb: float, private: sb.Private | None = None,
                 disk_mb: float = DEFAULT_DISK_MB, max_processes: int = MAX_PROCESSES, interval: float = 0.1):
        super().__init__(daemon=True)
        self.client, self.limit, self.interval = client, limit_mb * 2**20, interval
        self.private, self.disk_limit, self.max_processes = private, disk_mb * 2**20, max_processes
        self.done, self.exceeded, self.peak_mb = threading.Event(), None, 0.0

    def _kernel(self):
        import psutil

        process = getattr(getattr(getattr(self.client, "km", None), "provisioner", None), "process", None)
        return psutil.Process(process.pid) if process is not None else None

    def _kill(self, root, tree) -> None:
        import psutil

        for p in [root, *reversed(tree)]:
            try:
                p.kill()
            except psutil.Error:
                pass

    def run(self) -> None:
        import psutil

        last_disk = 0.0
        while not self.done.wait(self.interval):
            try:
                root = self._kernel()
                if root is None:
                    continue
                tree = root.children(recursive=True)
                if len(tree) + 1 > self.max_processes:
                    self.exceeded = "processes"
                    self._kill(root, tree)
                    return
                rss = sum(p.memory_info().rss for p in [root, *tree])
            except psutil.Error:
                continue
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > self.limit:
                self.exceeded = "memory"
                self._kill(root, tree)
                return
            now = time.monotonic()
            if self.private is not None and now - last_disk >= 1.0:
                last_disk = now
                if self.private.disk_bytes() > self.disk_limit:
                    self.exceeded = "disk"
                    self._kill(root, tree)
                    return


def _execute(nb, cwd, budget: float, memory_mb: float = DEFAULT_MEMORY_MB, *, private: sb.Private | None = None,
             sandboxed: bool = False, disk_mb: float = DEFAULT_DISK_MB):
    """Run ``nb`` in place; return (problem or None, peak resident MiB of the kernel).

    With ``private`` the kernel's sockets, log and files live in that folder (its working
    directory ``private.work``); with ``sandboxed`` it runs under bubblewrap."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    own = private is None
    if own:
        private = sb.Private.create(Path(cwd))
    deadline = time.monotonic() + budget

    def remaining(_cell) -> int:
        return max(1, int(deadline - time.monotonic()))

    try:
        with sb.kernel_session(private, sandboxed=sandboxed) as session:
            client = _capped_client_class()(nb, timeout=int(budget), timeout_func=remaining, kernel_name="python3",
                                            allow_errors=True, interrupt_on_timeout=False, record_timing=False,
                                            resources={"metadata": {"path": str(private.work)}},
                                            kernel_manager_class=session.kernel_manager_class)
            watch = _Watch(client, memory_mb, private, disk_mb)
            watch.start()
            try:
                client.execute(**session.start_kwargs)
                problem = None
            except CellTimeoutError:
                problem = f"time limit of {budget:.0f} s exceeded; the rest of the notebook was not run"
            except DeadKernelError:
                problem = "the kernel died (out of memory, or the code exited the interpreter)"
            finally:
                watch.done.set()
                watch.join()
    finally:
        if own:
            private.remove()
    if watch.exceeded == "memory":
        problem = f"memory limit of {memory_mb:.0f} MB exceeded; the kernel was stopped and the rest was not run"
    elif watch.exceeded == "processes":
        problem = (f"more than {MAX_PROCESSES} processes; the kernel and everything it started were stopped "
                   "and the rest was not run")
    elif watch.exceeded == "disk":
        problem = (f"more than {disk_mb:.0f} MB written in its folder; the kernel was stopped and the rest "
                   "was not run")
    return problem, watch.peak_mb


@dataclass
class KernelRun:
    """What one task of the pool sends back."""
    kind: str                      # "feedback" or "grading"
    problem: str | None = None
    seconds: float = 0.0
    notebook: object = None        # feedback: the executed notebook
    records: dict = field(default_factory=dict)   # grading: {exercise: record}
    forged: int = 0
    ran: dict = field(default_factory=dict)       # grading: {exercise: did its request cell run}
    missing: list = field(default_factory=list)
    changed: list = field(default_factory=list)   # protected files the run changed (and that were restored)


def run_kernel(kind: str, name: str, submission, budget: float, memory_mb: float, disk_mb: float,
               sandboxed: bool, toy: dict, parent: str, specs=(), config=None, protected=None) -> KernelRun:
    """One kernel of one submission (a task of the pool): the feedback run or the grader's run."""
    start = time.monotonic()
    private = sb.Private.create(Path(parent), toy if sandboxed else None)
    out = KernelRun(kind)
    try:
        if kind == "grading":
            channel = Channel(private.run)
            channel.write_key()
            nb, out.missing = grading_notebook(submission, list(specs), channel, config or {})
        else:
            nb = _cleared(submission)
        nbformat.write(_cleared(submission), private.work / name)  # its own copy of the notebook
        with _kernel_environ(name):
            out.problem, _ = _execute(nb, private.work, budget, memory_mb, private=private, sandboxed=sandboxed,
                                      disk_mb=disk_mb)
        if kind == "grading":
            out.records, out.forged = channel.read()
            out.ran = {c.metadata["coursekit_exercise"]: c.get("execution_count") is not None for c in nb.cells
                       if c.get("metadata", {}).get("coursekit_exercise")}
        else:
            _truncate_outputs(nb)
            out.notebook = nb
    finally:
        private.remove()
        for target, original in (protected or {}).items():
            path = Path(target)
            if not path.exists() or path.read_bytes() != original:
                atomic_write_bytes(path, original)
                out.changed.append(path.name)
    out.seconds = time.monotonic() - start
    return out


class _kernel_environ:
    """Variables of an unsandboxed kernel (a sandboxed one gets only its own, see sandbox.py)."""

    def __init__(self, name: str):
        self.values = {"COURSEKIT_STRICT_CHECKS": None, "COURSEKIT_RECORD": None, "COURSEKIT_NOTEBOOK": name}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        for k, v in self.values.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def _truncate_outputs(nb) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out and len(out["text"]) > MAX_OUTPUT_CHARS:
                out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n... (output cut)"


# --------------------------------------------------------------------------- scores and feedback

_STATUS_STYLE = {"passed": "background:#e6f4ea", "partial": "background:#fef7e0", TAMPERED: "background:#fce8e6"}


def _score(sub: Submission, specs: list[ExerciseSpec], grading: KernelRun | None, own: dict[str, dict]) -> None:
    """Points from the grader's records only; the student's own checks only for the details text."""
    records = grading.records if grading else {}
    for spec in specs:
        if grading is None or spec.id in grading.missing:
            sub.scores[spec.id], sub.status[spec.id] = 0, "missing" if grading else "not run"
            continue
        record = records.get(spec.id)
        if record is None and grading.ran.get(spec.id):
            record = {"exercise": spec.id, "visible": None, "pieces": {},
                      "tampered": ["the grader's request ran but left no record"]}
        score = score_exercise(spec, record)
        own_message = own.get(spec.id, {}).get("message", "")
        detail = score.detail
        if own_message and score.status not in (PASSED, TAMPERED):
            detail = f"{detail}; your check said: {own_message}" if detail else f"your check said: {own_message}"
        sub.scores[spec.id], sub.status[spec.id], sub.detail[spec.id] = score.points, score.status, detail
        if score.status == TAMPERED:
            sub.notes.append(f"{spec.id} tampered: {'; '.join(record.get('tampered', []))[:300]}")


def _feedback_html(nb, sub: Submission, specs: list[ExerciseSpec], questions: list[Question]) -> str:
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    _truncate_outputs(nb)
    rows = []
    claimed = sub.claimed
    for spec in specs:
        status = sub.status.get(spec.id, NOT_ATTEMPTED)
        points = sub.scores.get(spec.id, 0)
        said = ""
        if claimed is not None:
            said = f"<td class='ck-claimed'>{html.escape(claimed.get(spec.id, 'not in the summary'))}</td>"
        rows.append(
            f'<tr class="ck-row" data-exercise="{html.escape(spec.id)}" data-status="{html.escape(status)}" '
            f'data-points="{fmt_points(points)}" data-max="{fmt_points(spec.points)}" '
            f'style="{_STATUS_STYLE.get(status, "")}">'
            f"<td><code>{html.escape(spec.id)}</code></td><td>{html.escape(status)}</td>"
            f"<td>{fmt_points(points)} / {fmt_points(spec.points)}</td>"
            f"<td>{html.escape(sub.detail.get(spec.id, ''))}</td>{said}</tr>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes)
    code_max = sum(s.points for s in specs)
    passed = sum(sub.status.get(s.id) == PASSED for s in specs)
    written = ""
    if questions:
        written = written_table_html(questions, sub.answers, sub.written)
    graded = all(sub.written.get(q.id) is not None for q in questions)
    total_line = f"<b>{fmt_points(sub.code_points)} of {fmt_points(code_max)}</b> points for the exercises"
    if questions and graded:
        written_max = sum(q.points for q in questions)
        total_line += (f", <b>{fmt_points(sub.written_points)} of {fmt_points(written_max)}</b> for the written "
                       f"answers: <b>{fmt_points(sub.code_points + sub.written_points)} of "
                       f"{fmt_points(code_max + written_max)}</b> in total")
    claimed_head = "<th>your export's summary said</th>" if claimed is not None else ""
    header = (
        '<section id="coursekit-summary" style="font-family:sans-serif;margin:1em 2em;padding:1em;'
        'border:1px solid #ccc;border-radius:6px">'
        f"<h2 style='margin-top:0'>Feedback for {html.escape(sub.student)}</h2>"
        f'<p id="ck-score" data-passed="{passed}" data-total="{len(specs)}" '
        f'data-points="{fmt_points(sub.code_points)}" data-max="{fmt_points(code_max)}">{total_line} '
        f"({passed} of {len(specs)} exercises fully right).</p>"
        '<table id="ck-table" border="1" cellpadding="4" style="border-collapse:collapse">'
        f"<thead><tr><th>exercise</th><th>result</th><th>points</th><th>details</th>{claimed_head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>" + (f"<ul id='ck-notes'>{notes}</ul>" if notes else "")
        + written + "<p style='font-size:90%;color:#555'>Below: your notebook as the grader ran it, with your own "
        "checks. The points above come from the grader's separate run with the hidden tests.</p></section>"
    )
    return to_html(nb, header_html=header, sanitize=True)  # student outputs run no script on the page


# --------------------------------------------------------------------------- a folder of submissions

def _find_solution(solutions: Path, unit: str | None, submission: Path, nb=None) -> Path:
    if unit is None:
        m = UNIT_RE.search(submission.name)
        if m:
            unit = m.group(1)
        elif nb is not None:
            ids = [e for c in nb.cells if c.get("cell_type") == "code" for e in CHECK_RE.findall(c.get("source", ""))]
            unit = f"{int(ids[0].split('.')[0][1:]):02d}" if ids else None
    if unit is None:
        raise DataError("cannot tell which unit this submission belongs to", path=submission,
                        fix="pass --unit NN")
    found = sorted(Path(solutions).glob(f"{int(unit):02d}_*.ipynb"))
    if not found:
        raise DataError(f"no solution notebook for unit {unit}", path=solutions,
                        fix="run from the repository root or pass --solutions")
    return found[0]


def _read_submission(path: Path):
    """(notebook or None, claimed statuses or None, note)."""
    size = path.stat().st_size
    if size > MAX_SUBMISSION_MB * 2**20:
        return None, None, (f"the file has {size / 2**20:.0f} MB, more than {MAX_SUBMISSION_MB} MB; clear the "
                            "outputs (Edit > Clear Outputs of All Cells), save and hand it in again")
    if path.suffix.lower() == ".html":
        from .export import ExportError, read_exported

        try:
            nb, claimed = read_exported(path)
            return nb, claimed, ""
        except ExportError as exc:
            return None, None, str(exc)
    try:
        return nbformat.read(path, as_version=4), None, ""
    except Exception as exc:  # not JSON, not a notebook, cells without source...
        return None, None, f"malformed notebook ({type(exc).__name__}); open it in JupyterLab and save it again"


def _collect(folder: Path) -> list[tuple[str, Path, list[str]]]:
    """(student, file, notes) for every .ipynb and .html; a student with both is graded on the notebook."""
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in (".ipynb", ".html") and not p.name.startswith(".") and p.is_file())
    chosen: dict[str, tuple[Path, list[str]]] = {}
    for p in files:
        if p.stem in chosen:
            kept, notes = chosen[p.stem]
            if p.suffix.lower() == ".ipynb":
                chosen[p.stem] = (p, [f"also handed in {kept.name}; graded {p.name}"])
            else:
                notes.append(f"also handed in {p.name}; graded {kept.name}")
        else:
            chosen[p.stem] = (p, [])
    return [(s, p, n) for s, (p, n) in sorted(chosen.items())]


def grade_folder(submissions, output="graded", *, unit=None, jobs=1, timeout=300, memory_mb=DEFAULT_MEMORY_MB,
                 solutions="solutions", progress=True, written=None, sandbox: bool = True,
                 disk_mb: float = DEFAULT_DISK_MB) -> Path:
    """Grade every ``*.ipynb`` and exported ``*.html`` in ``submissions``; write ``OUT/grades.csv``,
    ``OUT/feedback/`` and, when the solution has graded questions, ``OUT/written.csv`` and
    ``OUT/questions/``.

    Each kernel runs with ``timeout`` seconds, ``memory_mb`` MB of resident memory and ``disk_mb``
    MB of disk, in a bubblewrap sandbox unless ``sandbox=False`` (refused when bubblewrap is
    missing: pass ``sandbox=False`` knowingly). ``jobs`` kernels run at a time; each submission
    needs two. ``written``: a filled-in written.csv whose points join grades.csv (checked before
    anything runs). Everything is written only after every submission has run; with ``progress``
    one line per submission is printed as it finishes.
    """
    submissions, out_dir = Path(submissions), Path(output)
    if not submissions.is_dir():
        raise DataError("not a folder of submissions", path=submissions, fix="point at the folder of submissions")
    entries = _collect(submissions)
    if not entries:
        raise DataError("no .ipynb or .html files found", path=submissions, fix="point at the folder of submissions")
    sb.require(no_sandbox=not sandbox)
    read = {student: _read_submission(path) for student, path, _ in entries}
    first = next(((p, read[s][0]) for s, p, _ in entries if read[s][0] is not None), (entries[0][1], None))
    solution = _find_solution(Path(solutions), unit, *first)
    solution_bytes = solution.read_bytes()
    solution_nb = nbformat.reads(solution_bytes.decode("utf-8"), as_version=4)
    try:
        specs = grading_specs(solution_nb)
        for spec in specs:
            spec.validate()
        # model answers and rubrics quote the solution's stored figures through placeholders
        from ..glue import fill_notebook
        from ..results import RESULTS_DIR

        filled = fill_notebook(solution_nb, results_dir=Path(solutions).resolve().parent / RESULTS_DIR,
                               unit=solution.name[:2], missing="mark")
        questions = parse_questions(filled, solution.name)
    except (PartsError, QuestionError) as exc:
        raise DataError(str(exc), path=solution, fix="see docs/AUTHORING.md, 'Exercises and grading'") from None
    students = [s for s, _, _ in entries]
    filled: dict[tuple[str, str], float] = {}
    if written is not None:
        if not questions:
            raise DataError("the solution has no graded questions to merge written points into", path=solution,
                            fix="drop --written")
        filled = read_written(written, students, questions)  # before any kernel runs
    config = guard_config(solution_nb, specs)
    released = release_notebook(solution_nb, solution.name)
    toy = sb.prepare_toy_data(solution) if sandbox else {}
    protected = {} if sandbox else {str(solution.resolve()): solution_bytes}
    out_dir.mkdir(parents=True, exist_ok=True)
    code_max = sum(s.points for s in specs)
    subs: dict[str, Submission] = {}
    runs: dict[str, dict[str, KernelRun]] = {s: {} for s in students}
    parent = Path(tempfile.mkdtemp(prefix="coursekit-grade-"))
    name = solution.name
    try:
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {}
            for student, path, notes in entries:
                sub = subs[student] = Submission(student=student, path=path, notes=list(notes))
                nb, claimed, note = read[student]
                sub.claimed = claimed
                if nb is None:
                    sub.notes.append(note)
                    continue
                sub.notes += review_notes(nb, released)
                for kind in ("grading", "feedback"):
                    futures[pool.submit(run_kernel, kind, name, nb, timeout, memory_mb, disk_mb, sandbox, toy,
                                        str(parent), specs, config, protected)] = (student, kind)
            for student in students:
                if student not in {s for s, _ in futures.values()}:
                    _finish(subs[student], None, None, specs, questions, solution_nb, filled, out_dir, progress,
                            code_max)
            for fut in as_completed(futures):
                student, kind = futures[fut]
                try:
                    runs[student][kind] = fut.result()
                except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
                    runs[student][kind] = KernelRun(kind, problem=f"the {kind} run could not start "
                                                                  f"({type(exc).__name__}: {exc})"[:300])
                if len(runs[student]) == 2:
                    _finish(subs[student], runs[student]["grading"], runs[student]["feedback"], specs, questions,
                            solution_nb, filled, out_dir, progress, code_max)
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    ordered = [subs[s] for s in students]
    for sub in ordered:  # only now: no student code runs any more
        if sub.feedback_html:
            write_text_atomic(sub.feedback, sub.feedback_html)
    return _write_tables(ordered, specs, questions, filled, written, out_dir, code_max, progress)


def _finish(sub: Submission, grading: KernelRun | None, feedback: KernelRun | None, specs, questions, solution_nb,
            filled, out_dir: Path, progress: bool, code_max: float) -> None:
    """Scores, answers, notes and the feedback page of one submission, once both its runs are back."""
    own = check_results(feedback.notebook) if feedback and feedback.notebook is not None else {}
    if grading is not None:
        for ex in grading.missing:
            sub.notes.append(f"exercise {ex} not found (its '# Exercise {ex}' cell and check call are missing)")
        problems = [r.problem for r in (grading, feedback) if r.problem]
        for problem in dict.fromkeys(problems):
            sub.notes.append(problem)
        if grading.forged:
            sub.notes.append(f"{grading.forged} line(s) in the grader's report were not the grader's")
        for changed in dict.fromkeys(grading.changed + feedback.changed):
            sub.notes.append(f"the submission changed {changed}; it was restored and did not affect grading")
        sub.seconds = max(grading.seconds, feedback.seconds)
        _score(sub, specs, grading, own)
    else:
        sub.scores = {s.id: 0 for s in specs}
        sub.status = {s.id: "missing" for s in specs}
    if sub.claimed is not None:
        for spec in specs:
            said = sub.claimed.get(spec.id)
            got = sub.status.get(spec.id)
            if said == PASSED and got != PASSED:
                sub.notes.append(f"the exported summary says {spec.id} passed; the grader found {got}")
    if feedback is not None and feedback.notebook is not None and questions:
        sub.answers = extract_answers(feedback.notebook, questions, solution_nb, skip_tag=INJECTED_TAG)
    for q in questions:
        given = filled.get((sub.student, q.id))
        answer = sub.answers.get(q.id)
        sub.written[q.id] = given if given is not None else (0 if answer is None or answer.empty else None)
    if feedback is not None and feedback.notebook is not None:
        sub.feedback = out_dir / "feedback" / f"{sub.student}.html"
        sub.feedback_html = _feedback_html(feedback.notebook, sub, specs, questions)
    if progress:
        notes = f"; {'; '.join(sub.notes)}" if sub.notes else ""
        print(f"{sub.path.name}: {fmt_points(sub.code_points)}/{fmt_points(code_max)} points, "
              f"{sub.seconds:.0f} s{notes}", flush=True)


def _write_tables(ordered: list[Submission], specs, questions, filled, written, out_dir: Path, code_max,
                  progress: bool) -> Path:
    exercises = [s.id for s in specs]
    if written is not None:
        written_max = sum(q.points for q in questions)
        header = ["student", *exercises, "code", *[q.id for q in questions], "written", "total", "max", "notes"]
        rows = [[sub.student, *[fmt_points(sub.scores.get(e, 0)) for e in exercises], fmt_points(sub.code_points),
                 *[fmt_points(sub.written.get(q.id)) for q in questions], fmt_points(sub.written_points),
                 fmt_points(sub.code_points + sub.written_points), fmt_points(code_max + written_max),
                 "; ".join(sub.notes)] for sub in ordered]
    else:
        header = ["student", *exercises, "total", "max", "notes"]
        rows = [[sub.student, *[fmt_points(sub.scores.get(e, 0)) for e in exercises], fmt_points(sub.code_points),
                 fmt_points(code_max), "; ".join(sub.notes)] for sub in ordered]
    if questions:
        answers = {sub.student: sub.answers for sub in ordered}
        write_csv(out_dir / "written.csv", CSV_COLUMNS, written_rows(answers, questions, filled))
        for q in questions:
            page = question_page(q, {sub.student: sub.answers.get(q.id) or Answer(q.id) for sub in ordered},
                                 {sub.student: sub.written.get(q.id) for sub in ordered})
            write_text_atomic(out_dir / "questions" / f"{safe_name(q.id)}.html", page)
        if progress and written is None:
            print(f"written answers: {out_dir / 'written.csv'} (fill in the points, then grade again with "
                  f"--written) and one page per question in {out_dir / 'questions'}", flush=True)
    return write_csv(out_dir / "grades.csv", header, rows)


