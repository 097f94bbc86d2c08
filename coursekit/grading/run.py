"""Run: one submission, one sandboxed kernel, one execution that yields both the grade and the feedback.

The notebook a kernel runs is the submission (outputs cleared) with cells of the grader's own
(:func:`grading_notebook`, :mod:`coursekit.grading.guard`): a first cell that arms the guard
before any student code, and after each exercise's check cell (found by exercise id, never by
cell metadata) an encrypted, signed request that repeats the visible check and runs the hidden
parts with the exercise's delegates blocked. Every cell of the submission runs, so the same
execution gives

- the **grade**: only the guard's signed records count (:meth:`Channel.read`), and
- the **feedback**: the executed notebook without the grader's cells (their outputs never reach
  it; hidden tests run with their output sent nowhere and the global random generators restored,
  so the student's later cells compute what they would have computed).

A :class:`Job` holds everything a run needs and nothing of the grader's machine, so the same
:func:`run_job` runs in a local thread or on a Dask worker (:mod:`coursekit.grading.cluster`).

**Whose failure.** A kernel that cannot start, or dies before the guard is armed, or whose
guard cell fails, is the grader's failure: the run comes back with ``not_graded`` set (the
submission gets no points and no record, and is tried again next time). Once student code runs,
limits and crashes are the student's: time (the whole notebook), memory (the kernel's tree),
processes, bytes written in its private folder; output is capped per cell while it runs.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..datasets._io import atomic_write_bytes
from . import sandbox as sb
from .guard import Channel
from .release import CHECK_RE, EXERCISE_RE
from .scoring import ExerciseSpec, grader_code

INJECTED_TAG = "coursekit-injected"
MAX_OUTPUT_CHARS = 20_000  # per output text in feedback; student code can print a lot
MAX_CELL_OUTPUT_CHARS = 1_000_000  # kept per cell while the notebook runs; the rest is dropped
DEFAULT_MEMORY_MB = 4096  # resident memory of one kernel (and its children)
DEFAULT_DISK_MB = 2048    # bytes a kernel may write in its private folder
MAX_PROCESSES = 64        # processes of one kernel's tree (the kernel, its children, bwrap)


@dataclass(frozen=True)
class Limits:
    timeout: float = 300
    memory_mb: float = DEFAULT_MEMORY_MB
    disk_mb: float = DEFAULT_DISK_MB
    sandbox: bool = True

    def options(self) -> dict:
        return {"timeout": self.timeout, "memory_mb": self.memory_mb, "disk_mb": self.disk_mb,
                "sandbox": self.sandbox}


@dataclass
class Job:
    """What a worker needs to grade one submission (picklable; nothing refers to the grader's files
    except, without a sandbox, the solution it protects)."""
    key: str
    notebook: str                  # the submission, as .ipynb text
    name: str                      # the solution's file name (what the kernel calls its notebook)
    specs: list[ExerciseSpec]
    config: dict                   # what the guard imports and watches
    limits: Limits
    toy: list[dict] = field(default_factory=list)      # toy data sets the unit loads (prepared on the worker)
    protected: dict[str, bytes] = field(default_factory=dict)  # without a sandbox: files restored after the run


@dataclass
class RunResult:
    """What a run sends back: the guard's records, the feedback notebook and what happened."""
    key: str
    seconds: float = 0.0
    problem: str | None = None     # a limit the submission hit (time, memory, processes, disk, crash)
    not_graded: str = ""           # a grader-side failure: no points, no record, try again
    records: dict = field(default_factory=dict)
    forged: int = 0
    ran: dict = field(default_factory=dict)       # {exercise: did its request cell run}
    missing: list = field(default_factory=list)   # exercises not found in the submission
    changed: list = field(default_factory=list)   # protected files the run changed (and that were restored)
    feedback: str = ""                             # the executed notebook without the grader's cells (.ipynb text)
    peak_mb: float = 0.0
    host: str = ""


# --------------------------------------------------------------------------- the notebook a kernel runs

def cleared(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
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
    """The submission with the grader's cells: the guard first, a request after each check cell.
    Returns (notebook, exercises that could not be found)."""
    nb = cleared(submission)
    anchors = _anchors(nb)
    missing = [spec.id for spec in specs if spec.id not in anchors]
    found = sorted(((s, anchors[s.id]) for s in specs if s.id in anchors), key=lambda t: t[1])
    for spec, index in reversed(found):
        nb.cells.insert(index + 1, _grader_cell(channel.request_source(spec.id, grader_code(spec)), spec.id))
    nb.cells.insert(0, _grader_cell(channel.arm_source(config)))
    return nb, missing


def is_injected(cell) -> bool:
    return INJECTED_TAG in cell.get("metadata", {}).get("tags", [])


def _path_scrubber(private_root: str | None = None):
    """A function that replaces the grader's own folders in a text (the environment, the
    installation, the kit, the run's private folder) with short names: tracebacks through a
    library then show ``<env>/lib/...`` instead of where the grader keeps its files."""
    import sys

    import coursekit

    names = {os.path.realpath(sys.prefix): "<env>", sys.prefix: "<env>",
             os.path.realpath(sys.base_prefix): "<python>", sys.base_prefix: "<python>",
             str(Path(coursekit.__file__).resolve().parent): "<coursekit>"}
    if private_root:
        names[str(Path(private_root) / "work")] = "<your folder>"
        names[str(private_root)] = "<your sandbox>"
    pairs = sorted(((k, v) for k, v in names.items() if k and len(k) > 1), key=lambda kv: -len(kv[0]))

    def scrub(text: str) -> str:
        for path, name in pairs:
            if path in text:
                text = text.replace(path, name)
        return text

    return scrub


def _scrub_output(out, scrub) -> None:
    if isinstance(out.get("text"), str):
        out["text"] = scrub(out["text"])
    if out.get("output_type") == "error":
        out["evalue"] = scrub(str(out.get("evalue", "")))
        out["traceback"] = [scrub(line) for line in out.get("traceback", [])]
    for mime in ("text/plain", "text/html", "text/markdown"):
        value = out.get("data", {}).get(mime)
        if isinstance(value, str):
            out["data"][mime] = scrub(value)


def feedback_notebook(nb: nbformat.NotebookNode, private_root: str | None = None) -> nbformat.NotebookNode:
    """The executed notebook as the student wrote it: the grader's cells gone, long outputs cut,
    the grader's folders replaced by short names in what it printed (:func:`_path_scrubber`),
    execution counts renumbered (the grader's cells took numbers too)."""
    scrub = _path_scrubber(private_root)
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if not is_injected(c)]
    count = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if cell.get("execution_count") is not None:
            count += 1
            cell["execution_count"] = count
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = count
        for out in cell.get("outputs", []):
            _scrub_output(out, scrub)
            if "text" in out and len(out["text"]) > MAX_OUTPUT_CHARS:
                out["text"] = out["text"][:MAX_OUTPUT_CHARS] + "\n... (output cut)"
    return nb


# --------------------------------------------------------------------------- running one kernel

_LIVE: dict[int, object] = {}   # kernel process trees running in this process (psutil.Process by pid)
_LIVE_LOCK = threading.Lock()


def stop_all_kernels() -> int:
    """Kill every kernel this process started (and everything each started): what ``grade``
    does on Ctrl-C or SIGTERM. Returns how many kernel trees were stopped."""
    import psutil

    with _LIVE_LOCK:
        roots = list(_LIVE.values())
        _LIVE.clear()
    for root in roots:
        try:
            tree = root.children(recursive=True)
        except psutil.Error:
            tree = []
        for p in [root, *reversed(tree)]:
            try:
                p.kill()
            except psutil.Error:
                pass
    return len(roots)


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
        self.root = None

    def _kernel(self):
        import psutil

        if self.root is None:
            process = getattr(getattr(getattr(self.client, "km", None), "provisioner", None), "process", None)
            if process is None:
                return None
            self.root = psutil.Process(process.pid)
            with _LIVE_LOCK:
                _LIVE[self.root.pid] = self.root
        return self.root

    def _kill(self, root, tree) -> None:
        import psutil

        for p in [root, *reversed(tree)]:
            try:
                p.kill()
            except psutil.Error:
                pass

    def finish(self) -> None:
        self.done.set()
        self.join()
        if self.root is not None:
            with _LIVE_LOCK:
                _LIVE.pop(self.root.pid, None)

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


class KernelStartError(RuntimeError):
    """The kernel did not start (or died before its first cell): the grader's failure."""


def execute(nb, cwd, budget: float, memory_mb: float = DEFAULT_MEMORY_MB, *, private: sb.Private | None = None,
            sandboxed: bool = False, disk_mb: float = DEFAULT_DISK_MB, notebook: str | None = None):
    """Run ``nb`` in place; return (problem or None, peak resident MiB of the kernel).

    With ``private`` the kernel's sockets, log and files live in that folder (its working
    directory ``private.work``); with ``sandboxed`` it runs under bubblewrap. Raises
    :class:`KernelStartError` (with the kernel's log) when the kernel does not start."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    own = private is None
    if own:
        private = sb.Private.create(Path(cwd))
    deadline = time.monotonic() + budget

    def remaining(_cell) -> int:
        return max(1, int(deadline - time.monotonic()))

    watch = None
    try:
        with sb.kernel_session(private, sandboxed=sandboxed, notebook=notebook) as session:
            client = _capped_client_class()(nb, timeout=int(budget), timeout_func=remaining, kernel_name="python3",
                                            allow_errors=True, interrupt_on_timeout=False, record_timing=False,
                                            startup_timeout=60, resources={"metadata": {"path": str(private.work)}},
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
            except Exception as exc:  # noqa: BLE001 - the kernel never started (nbclient raises RuntimeError)
                if watch.exceeded:
                    problem = "the kernel died"
                else:
                    log = session.log_tail(12).strip()
                    raise KernelStartError(f"{type(exc).__name__}: {exc}" + (f"; kernel log: {log}" if log else "")) \
                        from None
            finally:
                watch.finish()
                import atexit

                atexit.unregister(client._cleanup_kernel)  # its kernel is gone; nbclient would clean up at exit
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


def _guard_failure(nb) -> str:
    """Why the grader's first cell (the guard) did not run through, or "" when it did."""
    first = nb.cells[0] if nb.cells else None
    if first is None or not is_injected(first):
        return "the grader's first cell is missing"
    if first.get("execution_count") is None:
        return "the kernel stopped before the grader's first cell ran"
    for out in first.get("outputs", []):
        if out.get("output_type") == "error":
            return f"the grader's first cell failed: {out.get('ename', '')}: {str(out.get('evalue', ''))[:200]}"
    return ""


def run_job(job: Job, parent: str | os.PathLike | None = None) -> RunResult:
    """Grade one submission in one kernel (see the module docstring). ``parent``: where the
    kernel's private folder goes (default: the system's temporary folder)."""
    import tempfile

    start = time.monotonic()
    out = RunResult(job.key, host=socket.gethostname())
    own_parent = parent is None
    parent = Path(tempfile.mkdtemp(prefix="coursekit-run-")) if own_parent else Path(parent)
    private = None
    try:
        toy = sb.toy_folders(job.toy) if job.limits.sandbox else {}
        private = sb.Private.create(parent, toy if job.limits.sandbox else None)
        submission = nbformat.reads(job.notebook, as_version=4)
        channel = Channel(private.run)
        channel.write_key()
        nb, out.missing = grading_notebook(submission, list(job.specs), channel, job.config)
        nbformat.write(cleared(submission), private.work / job.name)  # its own copy of the notebook
        out.problem, out.peak_mb = execute(nb, private.work, job.limits.timeout, job.limits.memory_mb,
                                           private=private, sandboxed=job.limits.sandbox,
                                           disk_mb=job.limits.disk_mb, notebook=job.name)
        failure = _guard_failure(nb)
        if failure:
            log = ""
            try:
                log = (private.run / "kernel.log").read_text(encoding="utf-8", errors="replace")[-600:].strip()
            except OSError:
                pass
            out.not_graded = failure + (f" (kernel log: {log})" if log else "")
            out.problem = None
        else:
            out.records, out.forged = channel.read()
            out.ran = {c.metadata["coursekit_exercise"]: c.get("execution_count") is not None for c in nb.cells
                       if c.get("metadata", {}).get("coursekit_exercise")}
            out.feedback = nbformat.writes(feedback_notebook(nb, str(private.root)))
    except KernelStartError as exc:
        out.not_graded = f"the kernel did not start: {exc}"[:900]
    except Exception as exc:  # noqa: BLE001 - anything else on the grader's side: never a zero for the student
        out.not_graded = f"the grader failed to run it ({type(exc).__name__}: {exc})"[:900]
    finally:
        if private is not None:
            private.remove()
        if own_parent:
            import shutil

            shutil.rmtree(parent, ignore_errors=True)
        for target, original in job.protected.items():
            path = Path(target)
            if not path.exists() or path.read_bytes() != original:
                atomic_write_bytes(path, original)
                out.changed.append(path.name)
    out.seconds = time.monotonic() - start
    return out


# --------------------------------------------------------------------------- before the first submission

PREFLIGHT_SOURCE = ("import sys, coursekit, numpy, IPython\n"
                    "import coursekit.grading.guard, coursekit.grading.checks\n"
                    "print('coursekit-preflight-ok', sys.version_info[:2])")


def preflight(limits: Limits, toy: list[dict] | None = None, parent: str | os.PathLike | None = None) -> str:
    """Start one kernel exactly as submissions will be run (same sandbox, environment and data)
    and check that it imports the kit. Returns "" when it works, else why not (with the kernel's
    log): ``grade`` then stops before grading anything, instead of giving every submission 0."""
    import tempfile

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PREFLIGHT_SOURCE)])
    own_parent = parent is None
    parent = Path(tempfile.mkdtemp(prefix="coursekit-preflight-")) if own_parent else Path(parent)
    private = None
    try:
        folders = sb.toy_folders(toy or []) if limits.sandbox else {}
        private = sb.Private.create(parent, folders if limits.sandbox else None)
        problem, _ = execute(nb, private.work, min(limits.timeout, 120), limits.memory_mb, private=private,
                             sandboxed=limits.sandbox, disk_mb=limits.disk_mb)
    except KernelStartError as exc:
        return f"a kernel does not start: {exc}"[:1200]
    except Exception as exc:  # noqa: BLE001
        return f"a kernel does not start ({type(exc).__name__}: {exc})"[:1200]
    finally:
        if private is not None:
            log = (private.run / "kernel.log")
            tail = log.read_text(encoding="utf-8", errors="replace")[-800:].strip() if log.exists() else ""
            private.remove()
        else:
            tail = ""
        if own_parent:
            import shutil

            shutil.rmtree(parent, ignore_errors=True)
    outputs = nb.cells[0].get("outputs", [])
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if problem is None and "coursekit-preflight-ok" in printed:
        return ""
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    why = problem or "; ".join(errors) or "the kernel did not run the check"
    return f"a test kernel failed: {why}" + (f" (kernel log: {tail})" if tail else "")
