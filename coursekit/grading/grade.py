"""``coursekit grade``: batch-grade submitted notebooks: points, partial credit, written answers.

For each submission (``<student>.ipynb``), in a fresh kernel and a temporary folder:

1. after the cell that calls ``check("uN.x", ...)`` (else after the cell marked ``# Exercise
   uN.x``) the grader injects its own cell, found by **exercise id**, never by cell metadata,
   which students break. That cell repeats the visible check with the arguments of the
   solution's check call and runs the hidden tests part by part, with the exercise's delegates
   guarded (calling the package version fails); see :mod:`coursekit.grading.scoring` for the rule
   that turns the outcome into points;
2. the notebook runs with a time limit for the whole submission (a cell still running when the
   limit is reached is cut and the rest of the notebook is not run), a memory limit (the kernel
   is stopped when its resident memory goes over it) and a cap on the output it may print;
3. the answers to the written questions are read by question id
   (:mod:`coursekit.grading.written`).

Student code runs as the grader's user, so it *could* write anywhere the grader can. Nothing it
writes can change a grade: the exercises and hidden tests are read into memory before any
student code runs; ``grades.csv``, ``written.csv``, the pages by question and the feedback pages
are written by the parent process after every submission has run; and the solution notebook is
checked after each submission and restored (with a note on that submission) if its bytes changed.

Outputs: ``grades.csv`` (one row per student: points per exercise, total, max, notes; with
``--written``, also points per question, ``written`` and a total over both), ``written.csv``
(one row per student and question, for the instructor to fill in), ``questions/<id>.html`` (one
page per question: rubric, model answer and every student's answer) and
``feedback/<student>.html``: the executed notebook without the injected cells, with a results
table on top. Hidden test code and hidden assertion messages never appear in feedback.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..datasets._io import atomic_write_bytes
from ..errors import DataError
from ..notebooks import _environ, check_results, kernel_session, to_html, write_text_atomic
from .checks import NOT_ATTEMPTED, PASSED
from .release import BEGIN_HIDDEN, CHECK_RE, END_HIDDEN, EXERCISE_RE
from .scoring import HIDDEN_KEY, ExerciseSpec, PartsError, check_call_args, hidden_cell_source, parse_hidden, score_exercise
from .written import (CSV_COLUMNS, Answer, Question, QuestionError, extract_answers, fmt_points, parse_questions,
                      question_page, read_written, safe_name, write_csv, written_rows, written_table_html)

INJECTED_TAG = "coursekit-injected"
UNIT_RE = re.compile(r"(?<!\d)(\d{2})_")
MAX_OUTPUT_CHARS = 20_000  # per output text in feedback; student code can print a lot
MAX_CELL_OUTPUT_CHARS = 1_000_000  # kept per cell while the notebook runs; the rest is dropped
DEFAULT_MEMORY_MB = 4096  # resident memory of one kernel (and its children)


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
    feedback: Path | None = None
    feedback_html: str = field(default="", repr=False)

    @property
    def code_points(self) -> float:
        return sum(self.scores.values())

    @property
    def written_points(self) -> float:
        return sum(v for v in self.written.values() if v is not None)


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


def _hidden_cell(spec: ExerciseSpec) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(hidden_cell_source(spec))
    cell.metadata["tags"] = [INJECTED_TAG]
    return cell


def inject(submission: nbformat.NotebookNode, specs: list[ExerciseSpec]):
    """Insert the grader's cells; return (notebook, exercises that could not be found)."""
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
    missing = [spec.id for spec in specs if spec.id not in anchors]
    for spec, index in sorted(((s, anchors[s.id]) for s in specs if s.id in anchors), key=lambda t: -t[1]):
        nb.cells.insert(index + 1, _hidden_cell(spec))
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

    with kernel_session() as session:
        client = _capped_client_class()(nb, timeout=int(budget), timeout_func=remaining, kernel_name="python3",
                                        allow_errors=True, interrupt_on_timeout=False,
                                        resources={"metadata": {"path": str(cwd)}},
                                        kernel_manager_class=session.kernel_manager_class)
        watch = _MemoryWatch(client, memory_mb)
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
    if watch.exceeded:
        problem = f"memory limit of {memory_mb:.0f} MB exceeded; the kernel was stopped and the rest was not run"
    return problem, watch.peak_mb


def _truncate_outputs(nb) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out and len(out["text"]) > MAX_OUTPUT_CHARS:
                out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n... (output cut)"


_STATUS_STYLE = {"passed": "background:#e6f4ea", "partial": "background:#fef7e0"}


def _feedback_html(nb, sub: Submission, specs: list[ExerciseSpec], questions: list[Question]) -> str:
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    _truncate_outputs(nb)
    rows = []
    for spec in specs:
        status = sub.status.get(spec.id, NOT_ATTEMPTED)
        points = sub.scores.get(spec.id, 0)
        rows.append(
            f'<tr class="ck-row" data-status="{html.escape(status)}" data-points="{fmt_points(points)}" '
            f'data-max="{fmt_points(spec.points)}" style="{_STATUS_STYLE.get(status, "")}">'
            f"<td><code>{html.escape(spec.id)}</code></td><td>{html.escape(status)}</td>"
            f"<td>{fmt_points(points)} / {fmt_points(spec.points)}</td>"
            f"<td>{html.escape(sub.detail.get(spec.id, ''))}</td></tr>")
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
    header = (
        '<section id="coursekit-summary" style="font-family:sans-serif;margin:1em 2em;padding:1em;'
        'border:1px solid #ccc;border-radius:6px">'
        f"<h2 style='margin-top:0'>Feedback for {html.escape(sub.student)}</h2>"
        f'<p id="ck-score" data-passed="{passed}" data-total="{len(specs)}" '
        f'data-points="{fmt_points(sub.code_points)}" data-max="{fmt_points(code_max)}">{total_line} '
        f"({passed} of {len(specs)} exercises fully right).</p>"
        '<table id="ck-table" border="1" cellpadding="4" style="border-collapse:collapse">'
        "<thead><tr><th>exercise</th><th>result</th><th>points</th><th>details</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>" + (f"<ul id='ck-notes'>{notes}</ul>" if notes else "")
        + written + "</section>"
    )
    return to_html(nb, header_html=header)


def grade_one(path: Path, specs: list[ExerciseSpec], out_dir: Path, timeout: float,
              memory_mb: float = DEFAULT_MEMORY_MB, protected: dict[str, bytes] | None = None,
              questions: list[Question] = (), solution: nbformat.NotebookNode | None = None,
              written: dict[str, float] | None = None) -> Submission:
    """Grade one submission; never raises for problems of the submission itself.

    ``specs`` (and ``questions``, ``solution``) are read by the parent process before any student
    code runs, so a submission that writes to disk cannot change them. ``protected`` {path: bytes}
    are files the submission must not change (the solution notebook): they are compared after the
    run and restored, with a note, if they changed. ``written``: {question id: points} from the
    instructor's filled written.csv. The feedback page is returned in ``feedback_html``; the
    caller writes it.
    """
    sub = Submission(student=path.stem, path=path)
    questions = list(questions)
    start = time.monotonic()

    def written_points():
        for q in questions:
            given = (written or {}).get(q.id)
            answer = sub.answers.get(q.id)
            sub.written[q.id] = given if given is not None else (0 if answer is None or answer.empty else None)

    try:
        raw = nbformat.read(path, as_version=4)
        nb, missing = inject(raw, specs)
    except Exception as exc:  # not JSON, not a notebook, cells without source...
        sub.notes.append(f"malformed notebook ({type(exc).__name__}); open it in JupyterLab and save it again")
        sub.scores = {s.id: 0 for s in specs}
        sub.status = {s.id: "missing" for s in specs}
        written_points()
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
    student_visible = check_results(nb)
    reports: dict[str, dict] = {}
    for cell in nb.cells:
        if INJECTED_TAG not in cell.get("metadata", {}).get("tags", []):
            continue  # only the grader's own cells report scores
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get(HIDDEN_KEY)
            if isinstance(meta, dict) and meta.get("exercise"):
                reports[meta["exercise"]] = meta
    for spec in specs:
        if spec.id in missing:
            sub.scores[spec.id], sub.status[spec.id] = 0, "missing"
            continue
        score = score_exercise(spec, reports.get(spec.id), student_visible.get(spec.id, {}).get("status"))
        sub.scores[spec.id], sub.status[spec.id], sub.detail[spec.id] = score.points, score.status, score.detail
    if questions and solution is not None:
        sub.answers = extract_answers(nb, questions, solution, skip_tag=INJECTED_TAG)
    written_points()
    sub.feedback = out_dir / "feedback" / f"{sub.student}.html"
    sub.feedback_html = _feedback_html(nb, sub, specs, questions)
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
                 memory_mb=DEFAULT_MEMORY_MB, solutions="solutions", progress=True, written=None) -> Path:
    """Grade every ``*.ipynb`` in ``submissions``; write ``OUT/grades.csv``, ``OUT/feedback/`` and,
    when the solution has graded questions, ``OUT/written.csv`` and ``OUT/questions/``.

    Each submission runs with ``timeout`` seconds and ``memory_mb`` MB of resident memory.
    ``written``: a filled-in written.csv whose points join grades.csv (checked before anything
    runs). Everything is written only after every submission has run; with ``progress`` one line
    per submission is printed as it finishes.
    """
    submissions, out_dir = Path(submissions), Path(output)
    paths = sorted(p for p in submissions.glob("*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise DataError("no .ipynb files found", path=submissions, fix="point at the folder of submissions")
    solution = _find_solution(Path(solutions), unit, paths[0])
    solution_bytes = solution.read_bytes()
    solution_nb = nbformat.reads(solution_bytes.decode("utf-8"), as_version=4)
    try:
        specs = grading_specs(solution_nb)
        for spec in specs:
            spec.validate()
        questions = parse_questions(solution_nb, solution.name)
    except (PartsError, QuestionError) as exc:
        raise DataError(str(exc), path=solution, fix="see docs/AUTHORING.md, 'Exercises and grading'") from None
    students = [p.stem for p in paths]
    filled: dict[tuple[str, str], float] = {}
    if written is not None:
        if not questions:
            raise DataError("the solution has no graded questions to merge written points into", path=solution,
                            fix="drop --written")
        filled = read_written(written, students, questions)  # before any kernel runs
    protected = {str(solution.resolve()): solution_bytes}
    out_dir.mkdir(parents=True, exist_ok=True)
    code_max = sum(s.points for s in specs)
    results: dict[Path, Submission] = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(grade_one, p, specs, out_dir, timeout, memory_mb, protected, questions, solution_nb,
                        {q.id: filled[p.stem, q.id] for q in questions if (p.stem, q.id) in filled}): p
            for p in paths
        }
        for fut in as_completed(futures):
            sub = fut.result()
            results[futures[fut]] = sub
            if progress:
                notes = f"; {'; '.join(sub.notes)}" if sub.notes else ""
                print(f"{sub.path.name}: {fmt_points(sub.code_points)}/{fmt_points(code_max)} points, "
                      f"{sub.seconds:.0f} s{notes}", flush=True)
    ordered = [results[p] for p in paths]
    for sub in ordered:  # only now: no student code runs any more
        if sub.feedback_html:
            write_text_atomic(sub.feedback, sub.feedback_html)
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
