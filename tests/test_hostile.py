"""Hostile submissions against `coursekit grade`: every attack of issue 18 and a few more.

One batch of small unit-1 notebooks (``tests/_grading_fixtures.py``) is graded once in sandboxes:
honest ones beside submissions that forge results, patch numpy, print the input history, follow
``/proc`` to the grader's folder, read other submissions and the grader's environment, write
outside their folder, connect to servers on the grading machine, fork-bomb, flood, kill their
parent, patch the grader, hunt for its objects, blank its cells and scribble on its report. The
honest ones are graded again without the sandbox, and as exported HTML.
"""

import csv
import html
import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import nbformat
import pytest

from coursekit.grading import sandbox as sb
from coursekit.grading.export import embed_notebook, export_notebook
from coursekit.grading.grade import grade_folder, hidden_tests

from . import _grading_fixtures as F

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sb.unavailable() is not None, reason=f"no sandbox here: {sb.unavailable()}")]

NAME = F.SOLUTION.name
BUDGET = 60
MEMORY_MB = 1500
DISK_MB = 200
SECRET = "grader-secret-7f3a9c"
FULL = [3, 2, 2, 1]
ZERO = [0, 0, 0, 0]
HONEST = ("ada", "bob", "del")


class Servers:
    """A TCP server on the loopback and a Unix socket server in /tmp, counting connections."""

    def __init__(self, folder: Path):
        self.connections = 0
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.unix_path = str(folder / "grader.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.unix.listen()
        for server in (self.tcp, self.unix):
            server.settimeout(0.2)
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        self.stop = False

    def _accept(self, server):
        while not getattr(self, "stop", False):
            try:
                conn, _ = server.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop = True
        self.tcp.close()
        self.unix.close()


def _rows(path):
    return list(csv.reader(Path(path).open(encoding="utf-8")))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    solutions, folder, out = root / "solutions", root / "submissions", root / "out"
    solutions.mkdir()
    folder.mkdir()
    small = F.small_solution()
    nbformat.write(small, solutions / NAME)
    sockets = Path(tempfile_dir())
    servers = Servers(sockets)
    targets = [str(root / "pwned.txt"), str(solutions / "pwned.ipynb"), str(out / "grades.csv"),
               str(folder / "ada.ipynb"), str(Path.home() / f"coursekit-pwned-{os.getpid()}.txt")]
    expected = {}

    def add(name, nb, scores, notes=()):
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"student {name} wrote this"))
        nbformat.write(nb, folder / f"{name}.ipynb")
        expected[name] = (scores, list(notes))

    add("ada", F.answered(small), FULL)
    bob = F.answered(small)  # partly right
    F.edit(bob, "# Exercise u1.zscore", "np.where(std == 0, 1.0, std)", "std")
    add("bob", bob, [1, 2, 2, 1])
    add("del", F.delegating(small), ZERO)
    add("forger", F.with_cell(F.wrong(small), F.forged_results_cell(small)), ZERO)
    add("patcher", F.with_cell(F.wrong(small), F.PATCH_NUMPY, after="from coursekit import check"), ZERO,
        ["tampered"])
    spy = F.with_cell(F.answered(small), F.LEAK_HISTORY)
    F.with_cell(spy, F.PROBE.format(solution=str(solutions / NAME), other=str(folder / "ada.ipynb"),
                                    port=servers.port, unix=servers.unix_path))
    add("spy", spy, FULL)
    add("vandal", F.with_cell(F.answered(small), F.VANDAL.format(targets=targets), after="from coursekit import check"),
        FULL)
    add("forker", F.with_cell(F.answered(small), F.FORK_BOMB, after='check("u1.zscore"'), [3, 0, 0, 0],
        ["more than 64 processes"])
    add("flooder", F.with_cell(F.answered(small), F.FLOOD.format(mb=DISK_MB + 100)), FULL,
        [f"more than {DISK_MB} MB written in its folder"])
    add("registry", F.with_cell(F.wrong(small), F.PATCH_GRADER, after="from coursekit import check"), ZERO,
        ["tampered"])
    add("gchunter", F.with_cell(F.wrong(small), F.GC_HUNT, after="from coursekit import check"), ZERO,
        ["tampered: called gc.get_objects"])
    add("blanker", F.with_cell(F.wrong(small), F.BLANK_GRADER, after="from coursekit import check"), ZERO,
        ["tampered: the grader's request ran but left no record"])
    add("scribbler", F.with_cell(F.answered(small), F.SCRIBBLE, after="from coursekit import check"), FULL,
        ["1 line(s) in the grader's report were not the grader's"])
    old = os.environ.get("COURSEKIT_TEST_SECRET")
    os.environ["COURSEKIT_TEST_SECRET"] = SECRET
    try:
        start = time.monotonic()
        with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
            csv_path = grade_folder(folder, out, jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB, disk_mb=DISK_MB,
                                    solutions=solutions, progress=False)
        seconds = time.monotonic() - start
    finally:
        if old is None:
            os.environ.pop("COURSEKIT_TEST_SECRET", None)
        else:
            os.environ["COURSEKIT_TEST_SECRET"] = old
        servers.close()
        shutil.rmtree(sockets, ignore_errors=True)
    return {"root": root, "solutions": solutions, "folder": folder, "out": out, "rows": _rows(csv_path),
            "expected": expected, "servers": servers, "targets": targets, "small": small, "seconds": seconds}


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="ck-srv-")  # short: Unix socket paths have a length limit


def _row(batch, student):
    rows = {r[0]: r for r in batch["rows"][1:]}
    return rows[student]


def _feedback(batch, student):
    return (batch["out"] / "feedback" / f"{student}.html").read_text(encoding="utf-8")


OUTPUT_RE = re.compile(r'<div class="jp-RenderedText[^"]*jp-OutputArea-output"[^>]*>\s*<pre>(.*?)</pre>', re.S)


def _printed(batch, student) -> str:
    """What the feedback shows the submission printed (its outputs, not its code)."""
    return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(OUTPUT_RE.findall(_feedback(batch, student)))))


def test_scores_of_the_batch(batch):
    header = batch["rows"][0]
    assert header == ["student", *F.EXERCISES, "total", "max", "notes"]
    for student, (scores, notes) in batch["expected"].items():
        row = _row(batch, student)
        assert row[1:5] == [str(s) for s in scores], (student, row)
        assert row[5] == str(sum(scores)) and row[6] == "8"
        for note in notes:
            assert note in row[7], (student, row[7])


def test_no_wrong_answer_scores_and_forgeries_count_for_nothing(batch):
    for student in ("forger", "patcher", "registry", "gchunter", "blanker"):
        assert _row(batch, student)[5] == "0", student
    patcher = _row(batch, "patcher")[7]
    assert "numpy.allclose changed" in patcher and "numpy.isclose changed" in patcher
    assert "coursekit.grading.checks.grade_check changed" in _row(batch, "registry")[7]
    forger = _feedback(batch, "forger")
    assert "PASS u1.zscore" in _printed(batch, "forger")  # its forged display is there, and changed nothing
    assert 'data-exercise="u1.zscore" data-status="failed" data-points="0"' in forger


def test_no_feedback_holds_hidden_tests_or_solution_text(batch):
    hidden = [l.strip() for code in hidden_tests(batch["small"]).values() for l in code.splitlines()
              if len(l.strip()) > 10]
    solution_lines = [l.strip() for code in F.EXERCISE_CELLS.values()
                      for l in code.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0].splitlines()
                      if len(l.strip()) > 25]
    model_answers = ["low-variance direction is lost for good", "misses what is not visual"]
    assert len(hidden) >= 5 and len(solution_lines) >= 6
    files = sorted((batch["out"] / "feedback").glob("*.html"))
    assert len(files) == len(batch["expected"])
    wrote_no_solution = ("forger", "patcher", "registry", "gchunter", "blanker")
    for f in files:
        text = f.read_text(encoding="utf-8")
        for line in hidden + model_answers:
            assert line not in text and html.escape(line) not in text, (f.name, line)
        assert "BEGIN HIDDEN" not in text and "coursekit.grade" not in text and "_ck_" not in text
        if f.stem in wrote_no_solution:
            for line in solution_lines:
                assert line not in text and html.escape(line) not in text, (f.name, line)
    assert "HISTORY" in _printed(batch, "spy")  # it printed its history: only its own cells


def test_submissions_see_nothing_of_the_grader_or_each_other(batch):
    spy = _printed(batch, "spy")
    assert "READ " not in spy  # no solution, no other submission was read
    assert spy.count("BLOCKED") >= 2 and "student ada" not in spy
    assert SECRET not in spy and "COURSEKIT_TEST_SECRET" not in spy  # nor the grader's environment
    assert "PPID 1 " in spy  # its parent is the sandbox's init: no /proc view of the grader
    pids = spy.split("PIDS", 1)[1].split("\n", 1)[0]
    assert pids.count("'") <= 8, pids  # a handful of processes: bwrap's init, the kernel
    for student in batch["expected"]:
        if student != "ada":
            assert "student ada wrote this" not in html.unescape(_feedback(batch, student)), student


def test_no_submission_reaches_a_socket(batch):
    spy = _printed(batch, "spy")
    assert "CONNECTED" not in spy and spy.count("NO CONNECTION") == 2
    assert batch["servers"].connections == 0


def test_no_submission_writes_outside_its_folder_or_kills_the_grader(batch):
    vandal = _printed(batch, "vandal")
    assert "STILL HERE" in vandal  # its "parent" and PID 1 are the sandbox's init, which ignores it
    assert vandal.count("WROTE") + vandal.count("BLOCKED") == len(batch["targets"])  # it wrote: in its sandbox
    for target in batch["targets"]:
        path = Path(target)
        assert not path.exists() or "pwned" not in path.read_text(errors="replace"), target
    assert (batch["folder"] / "ada.ipynb").read_text().count("pwned") == 0
    assert "hacked" not in (batch["out"] / "grades.csv").read_text()
    leftovers = [p for p in batch["root"].rglob("*") if p.name in ("big.bin", "pwned.txt")]
    assert leftovers == []  # private folders are gone


def test_fork_bomb_and_floods_are_stopped(batch):
    forker = _row(batch, "forker")[7]
    assert "more than 64 processes; the kernel and everything it started were stopped" in forker
    flood = _feedback(batch, "flooder")
    assert "output cut" in flood and "NOT STOPPED" not in _printed(batch, "flooder")
    assert len(flood) < 3_000_000
    time.sleep(0.5)
    import psutil

    stray = [p for p in psutil.process_iter(["cmdline"]) if "b $(($1-1))" in " ".join(p.info["cmdline"] or [])]
    assert stray == []  # the whole sandbox went with the kernel


# --------------------------------------------------------------------------- honest work: same grades

@pytest.fixture(scope="module")
def honest(batch, tmp_path_factory):
    """The honest submissions graded without a sandbox, and exported to HTML and graded in one."""
    root = tmp_path_factory.mktemp("honest")
    plain_in, html_in = root / "plain", root / "html"
    plain_in.mkdir()
    html_in.mkdir()
    for student in HONEST:
        source = batch["folder"] / f"{student}.ipynb"
        (plain_in / source.name).write_bytes(source.read_bytes())
        export_notebook(source, html_in / f"{student}.html", timeout=BUDGET)
    times = {}
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
        start = time.monotonic()
        plain = grade_folder(plain_in, root / "plain-out", jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB,
                             solutions=batch["solutions"], progress=False, sandbox=False)
        times["plain"] = time.monotonic() - start
        start = time.monotonic()
        exported = grade_folder(html_in, root / "html-out", jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB,
                                solutions=batch["solutions"], progress=False)
        times["sandbox"] = time.monotonic() - start
    return {"root": root, "plain": _rows(plain), "html": _rows(exported), "times": times}


def test_honest_submissions_get_the_same_grades_without_the_sandbox(batch, honest):
    sandboxed = [batch["rows"][0]] + [_row(batch, s) for s in HONEST]
    assert honest["plain"] == sandboxed


def test_exported_html_grades_exactly_like_the_notebooks(batch, honest):
    sandboxed = [batch["rows"][0]] + [_row(batch, s) for s in HONEST]
    assert honest["html"] == sandboxed
    times = honest["times"]
    assert times["sandbox"] < 1.5 * times["plain"] + 20, times  # the sandbox costs little (docs/benchmarks.md: grading at 1.13x a plain run)


def test_html_without_notebook_or_with_a_changed_one_gets_a_note(batch, honest, tmp_path):
    folder = tmp_path / "html"
    folder.mkdir()
    good = (honest["root"] / "html" / "ada.html").read_text(encoding="utf-8")
    start = good.index('<script type="application/json" id="coursekit-notebook"')
    (folder / "plain.html").write_text(good[:start] + good[good.index("</script>", start) + 9:], encoding="utf-8")
    (folder / "edited.html").write_text(good.replace("PCA", "PCB", 1)[:start] + good[start:].replace(
        "student ada wrote this", "student eve wrote this"), encoding="utf-8")
    wrong = F.wrong(batch["small"])
    page = embed_notebook(
        '<html><body><section id="coursekit-summary"><table id="ck-table"><tbody>'
        + "".join(f'<tr class="ck-row" data-exercise="{ex}" data-status="passed"><td><code>{ex}</code></td></tr>'
                  for ex in F.EXERCISES) + "</tbody></table></section></body></html>", wrong, NAME)
    (folder / "claimer.html").write_text(page, encoding="utf-8")
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
        rows = _rows(grade_folder(folder, tmp_path / "out", jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB,
                                  solutions=batch["solutions"], progress=False))
    by = {r[0]: r for r in rows[1:]}
    assert by["plain"][1:6] == ["0"] * 5 and by["plain"][7].startswith("no notebook embedded in this HTML")
    assert by["edited"][1:6] == ["0"] * 5 and "does not match its sha256" in by["edited"][7]
    assert by["claimer"][5] == "0"
    for ex in F.EXERCISES:
        assert f"the exported summary says {ex} passed; the grader found failed" in by["claimer"][7]
    feedback = (tmp_path / "out" / "feedback" / "claimer.html").read_text(encoding="utf-8")
    assert "your export's summary said" in feedback and feedback.count("<td class='ck-claimed'>passed</td>") == 4
