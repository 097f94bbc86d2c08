"""Grading an instructor can trust, at course scale (issues 21 and 22).

One batch of small unit-1 notebooks (``tests/_grading_fixtures.py``) is graded through the
pipeline: honest and partial answers, an identical copy under three other names (one not UTF-8,
one a spreadsheet formula), the released notebook untouched, links to the solution and to
``/etc/passwd``, a FIFO. Then: a second run (nothing runs again, the same bytes), one changed
submission (only it runs), written points and overrides (no kernel), grader-side failures (not
graded, never 0), a kernel that cannot start (exit 2, nothing written), SIGTERM (no process
left, graded work kept), SIGKILL (the next run resumes), a clone and venv under /tmp.
"""

from __future__ import annotations

import csv
import html
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from coursekit.grading import sandbox as sb
from coursekit.grading.grade import grade_folder
from coursekit.grading.release import release_notebook
from coursekit.grading.store import Store

from . import _grading_fixtures as F

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
NAME = F.SOLUTION.name
SANDBOX = sb.unavailable() is None
BUDGET, MEMORY_MB = 60, 1500
FULL, ZERO = ["3", "2", "2", "1"], ["0", "0", "0", "0"]
NOT_UTF8 = os.fsdecode(b"caf\xe9")  # a file name that is not UTF-8 (latin-1 bytes)
FORMULA = "=SUM(1,2)+cmd"
LINK_NOTE = "a link, not a file: hand in the notebook file itself"


def _rows(path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    return {r[0]: r for r in table[1:]} | {"__header__": table[0]}


def _grade(folder, out, solutions, **kwargs):
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
        return grade_folder(folder, out, jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB, solutions=solutions,
                            progress=False, sandbox=SANDBOX, **kwargs)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    solutions, folder, small = F.small_course(root)
    ada = F.answered(small)
    nbformat.write(ada, folder / "ada.ipynb")
    nbformat.write(ada, folder / "twin.ipynb")                       # identical: one run for both
    with open(os.path.join(os.fsencode(folder), os.fsencode(NOT_UTF8) + b".ipynb"), "w", encoding="utf-8") as fh:
        nbformat.write(ada, fh)
    nbformat.write(ada, folder / f"{FORMULA}.ipynb")
    bob = F.answered(small)
    F.edit(bob, "# Exercise u1.zscore", "np.where(std == 0, 1.0, std)", "std")
    F.with_cell(bob, "from coursekit import claim\nclaim(True, 'bob checks what he says against his figures')")
    bob.cells.append(nbformat.v4.new_markdown_cell("My own note: <b>bold</b>, a list:\n\n- one\n- two\n\n"
                                                   "<script>document.title = 'pwned'</script>"
                                                   "<img src=x onerror=\"document.title='pwned'\">"))
    nbformat.write(bob, folder / "bob.ipynb")
    nbformat.write(release_notebook(small), folder / "blank.ipynb")  # handed in as handed out
    (folder / "linked.ipynb").symlink_to(solutions / NAME)          # graded as the solution before
    (folder / "passwd.ipynb").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.ipynb")
    return root, solutions, folder, small


@pytest.fixture(scope="module")
def first(course):
    root, solutions, folder, _ = course
    result = _grade(folder, root / "out", solutions)
    return result, (root / "out" / "grades.csv").read_bytes()


def test_each_new_submission_runs_once_and_identical_ones_share_the_run(course, first):
    root, *_ = course
    result, _ = first
    assert result.ran == 2  # ada's content (four students) and bob; the blank notebook needs no kernel
    assert result.untouched == 1 and result.stored == 0 and result.not_graded == []
    rows = _rows(root / "out" / "grades.csv")
    for student in ("ada", "twin", NOT_UTF8.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
                    "'" + FORMULA):
        assert rows[student][1:5] == FULL and rows[student][-1] == "", student
    assert rows["bob"][1:5] == ["1", "2", "2", "1"]
    assert rows["blank"][1:5] == ZERO and "nothing attempted, so it was not run" in rows["blank"][-1]
    assert len(Store(root / "out").keys()) == 2


def test_links_and_special_files_score_nothing_and_leak_nothing(course, first):
    root, solutions, _, small = course
    rows = _rows(root / "out" / "grades.csv")
    assert rows["linked"][1:6] == [*ZERO, "0"] and rows["linked"][-1] == LINK_NOTE
    assert rows["passwd"][1:6] == [*ZERO, "0"] and rows["passwd"][-1] == LINK_NOTE
    assert rows["pipe"][-1] == "not a regular file: hand in the notebook file itself"
    out = root / "out"
    everything = "".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*")
                         if p.is_file() and p.suffix in (".html", ".csv"))
    assert "BEGIN HIDDEN TESTS" not in everything and "root:x:0:0" not in everything
    assert not any((out / "feedback").glob("linked*")) and not any((out / "feedback").glob("passwd*"))


def test_any_file_name_grades_and_exports_safely(course, first):
    root, *_ = course
    text = (root / "out" / "grades.csv").read_text(encoding="utf-8")
    assert "caf\\xe9" in text  # the name is shown, escaped, in a UTF-8 file
    with open(root / "out" / "grades.csv", newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]  # no cell a spreadsheet evaluates
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+\.html", p.name) for p in (root / "out" / "feedback").iterdir())
    formula_page = next(p for p in (root / "out" / "feedback").iterdir() if p.name.startswith("SUM"))
    assert html.escape(FORMULA) in formula_page.read_text(encoding="utf-8")
    assert not list((root / "out").glob(".*part")) and not list((root / "out").glob(".*.csv"))


def test_feedback_is_quiet_no_grader_path_or_library_warning(course, first):
    root, solutions, *_ = course
    for page in (root / "out" / "feedback").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for path in {sys.prefix, os.path.realpath(sys.prefix), str(REPO), str(root), str(solutions)}:
            assert path not in text, (page.name, path)
        shown = re.sub(r"<style.*?</style>|<script.*?</script>", "", text, flags=re.S)
        # a warning the student's own code raised (bob divides by a zero std) is theirs to read;
        # one the sandbox causes in a library (joblib counting cores) is noise
        assert "UserWarning" not in shown and "physical cores" not in shown, page.name


def test_a_second_run_starts_no_kernel_and_writes_the_same_bytes(course, first):
    root, solutions, folder, _ = course
    result = _grade(folder, root / "out", solutions)
    assert result.ran == 0 and result.stored == 5
    assert (root / "out" / "grades.csv").read_bytes() == first[1]


def test_one_changed_submission_runs_alone_and_force_runs_everything(course, first, tmp_path, capsys):
    root, solutions, folder, small = course
    copy = tmp_path / "submissions"
    copy.mkdir()
    for name in ("ada.ipynb", "twin.ipynb", "bob.ipynb", "blank.ipynb"):
        (copy / name).write_bytes((folder / name).read_bytes())
    out = tmp_path / "out"
    (out / "store").mkdir(parents=True)
    for record in (root / "out" / "store").iterdir():
        (out / "store" / record.name).write_bytes(record.read_bytes())
    bob = nbformat.read(copy / "bob.ipynb", as_version=4)
    F.edit(bob, "# Exercise u1.zscore", "(x - x.mean(axis=0)) / std",
           "(x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)")
    nbformat.write(bob, copy / "bob.ipynb")
    capsys.readouterr()
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):
        result = grade_folder(copy, out, jobs=2, timeout=BUDGET, memory_mb=MEMORY_MB, solutions=solutions,
                              sandbox=SANDBOX, progress=True, bar=True)
    assert result.ran == 1 and result.stored == 2
    assert _rows(out / "grades.csv")["bob"][1:5] == FULL
    printed = capsys.readouterr()
    lines = dict(line.split(": ", 1) for line in printed.out.splitlines() if line.endswith(("s", "store", "run")))
    assert re.fullmatch(r"8/8 points, \d+\.\d s", lines["bob.ipynb"])  # its real cost in seconds
    assert lines["ada.ipynb"] == "8/8 points, from the store" and lines["blank.ipynb"].endswith("not run")
    assert "grading: 100%" in printed.err and "1/1" in printed.err and "failures=0" in printed.err
    assert _grade(copy, out, solutions, force=True).ran == 2


def test_written_points_comments_and_overrides_start_no_kernel(course, first, tmp_path, monkeypatch):
    root, solutions, folder, _ = course
    from coursekit.grading import grade

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(grade, "_run_local", no_kernel)
    with open(root / "out" / "written.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    filled = tmp_path / "filled.csv"
    with open(filled, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(table[0])
        for row in table[1:]:
            row[3] = row[3] or "1"
            if row[0] == "ada" and row[1] == "u1.q1":
                row[4] = "=cite the medium"  # a comment that looks like a formula stays text
            writer.writerow(row)
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("student,exercise,points,comment\nbob,u1.zscore,3,Guard present in a later cell\n",
                         encoding="utf-8")
    start = time.monotonic()
    result = _grade(folder, root / "out", solutions, written=filled, overrides=overrides)
    assert result.ran == 0 and time.monotonic() - start < 60
    rows = _rows(root / "out" / "grades.csv")
    assert rows["bob"][1] == "3" and "u1.zscore set to 3 by the instructor (was 1): Guard present" in rows["bob"][-1]
    page = (root / "out" / "feedback" / "bob.html").read_text(encoding="utf-8")
    assert 'data-status="set by the instructor" data-points="3"' in page and "Guard present in a later cell" in page
    ada = (root / "out" / "feedback" / "ada.html").read_text(encoding="utf-8")
    assert "=cite the medium" in ada
    with open(root / "out" / "written.csv", newline="", encoding="utf-8") as fh:
        assert any(r[4] == "'=cite the medium" for r in csv.reader(fh))
    _grade(folder, root / "out", solutions)  # back to the automatic grades for the other tests


@pytest.mark.parametrize("row, message", [
    ("zed,u1.zscore,1,x", "no submission from student 'zed'"),
    ("bob,u1.nope,1,x", "unknown exercise 'u1.nope'"),
    ("bob,u1.zscore,9,x", "outside 0 to 3"),
    ("bob,u1.zscore,two,x", "are not a number"),
    ("bob,u1.zscore,1,", "the comment is empty"),
])
def test_bad_overrides_name_the_row_before_anything_runs(course, tmp_path, row, message):
    root, solutions, folder, _ = course
    from coursekit.errors import DataError

    path = tmp_path / "overrides.csv"
    path.write_text(f"student,exercise,points,comment\n{row}\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(message)) as raised:
        _grade(folder, tmp_path / "out", solutions, overrides=path)
    assert "row 2" in str(raised.value) and not (tmp_path / "out").exists()


FAILING_BWRAP = """#!/bin/sh
# bubblewrap that starts a sandbox but no kernel: what a venv hidden by a tmpfs looked like
case "$*" in *ipykernel*) echo "kernel refused by the test" >&2; exit 1;; esac
exec {bwrap} "$@"
"""


def _failing_bwrap(folder: Path) -> str:
    script = folder / "bwrap"
    script.write_text(FAILING_BWRAP.format(bwrap=sb.bwrap_path()), encoding="utf-8")
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_a_kernel_that_cannot_start_stops_grading_with_exit_2_and_writes_nothing(course, tmp_path):
    root, solutions, folder, _ = course
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("an earlier, good grades.csv\n", encoding="utf-8")
    env = {**os.environ, "COURSEKIT_BWRAP": _failing_bwrap(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "coursekit.cli", "grade", str(folder), "-o", str(out),
                           "--solutions", str(solutions), "--timeout", "60"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "cannot grade here: a kernel does not start" in proc.stderr and "kernel refused by the test" in proc.stderr
    assert (out / "grades.csv").read_text(encoding="utf-8") == "an earlier, good grades.csv\n"
    assert not (out / "store").exists() and not (out / "feedback").exists()


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_a_grader_side_failure_is_not_graded_never_zero(course, tmp_path, monkeypatch):
    root, solutions, folder, _ = course
    from coursekit.grading import grade

    monkeypatch.setenv("COURSEKIT_BWRAP", _failing_bwrap(tmp_path))
    monkeypatch.setattr(grade, "preflight", lambda *a, **k: "")  # as if the kernel broke after the check
    sub = tmp_path / "subs"
    sub.mkdir()
    (sub / "bob.ipynb").write_bytes((folder / "bob.ipynb").read_bytes())
    (sub / "blank.ipynb").write_bytes((folder / "blank.ipynb").read_bytes())
    result = _grade(sub, tmp_path / "out", solutions)
    assert result.not_graded == ["bob"] and result.ran == 1
    rows = _rows(tmp_path / "out" / "grades.csv")
    assert rows["bob"][1:6] == ["", "", "", "", ""] and rows["bob"][-1].startswith("not graded: the kernel did not start")
    assert rows["blank"][1:5] == ZERO  # an untouched notebook needs no kernel: graded all the same
    assert Store(tmp_path / "out").keys() == set()  # nothing stored: the next run tries again


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _alive(pids) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.Error:
            pass
    return alive


SLOW_CELL = "import time\ntime.sleep(300)"


def _cli(folder, out, solutions, *extra):
    script = ("import sys; sys.path.insert(0, {repo!r})\n"
              "from tests import _grading_fixtures as F\n"
              "from coursekit.cli import main\n"
              "with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):\n"
              "    sys.exit(main(sys.argv[1:]))\n").format(repo=str(REPO))
    return [sys.executable, "-c", script, "grade", str(folder), "-o", str(out), "--solutions", str(solutions),
            "--timeout", "400", "--memory-mb", str(MEMORY_MB), *([] if SANDBOX else ["--no-sandbox"]), *extra]


def test_sigterm_stops_every_kernel_and_keeps_what_was_graded(course, tmp_path):
    root, solutions, folder, small = course
    sub = tmp_path / "subs"
    sub.mkdir()
    (sub / "ada.ipynb").write_bytes((folder / "ada.ipynb").read_bytes())
    nbformat.write(F.with_cell(F.answered(small), SLOW_CELL), sub / "slow.ipynb")
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(sub, out, solutions, "--jobs", "2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(Store(out).keys()) < 1:
        time.sleep(0.5)
    assert Store(out).keys(), "ada was not graded in time"
    time.sleep(2)
    tree = _descendants(proc.pid)
    assert tree, "the slow kernel should be running"
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 10, "grade took more than 10 s to stop"
    assert proc.returncode == 130, err
    time.sleep(1)
    assert _alive(tree) == [], "processes left after SIGTERM"
    rows = _rows(out / "grades.csv")
    assert rows["ada"][1:5] == FULL and rows["slow"][1:5] == ["", "", "", ""]
    assert "not graded: interrupted" in rows["slow"][-1]


def test_a_grader_killed_mid_batch_resumes_and_grades_each_submission_once(course, tmp_path):
    root, solutions, folder, small = course
    sub = tmp_path / "subs"
    sub.mkdir()
    names = []
    for i in range(3):  # three different submissions, graded one at a time
        nb = F.answered(small)
        nb.cells.append(nbformat.v4.new_code_cell(f"print('submission {i}')\nimport time\ntime.sleep(2)"))
        nbformat.write(nb, sub / f"s{i}.ipynb")
        names.append(f"s{i}")
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(sub, out, solutions, "--jobs", "1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(Store(out).keys()) < 1:
        time.sleep(0.2)
    tree = _descendants(proc.pid)
    proc.kill()  # SIGKILL: no handler runs, nothing is written but what was already stored
    proc.wait(timeout=30)
    done = len(Store(out).keys())
    assert 1 <= done < 3
    time.sleep(2)
    if SANDBOX:  # bubblewrap dies with its parent; an unsandboxed kernel would not
        assert _alive(tree) == [], "kernels outlived a killed grader"
    with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):  # the same limits as the killed run: the same keys
        result = grade_folder(sub, out, jobs=1, timeout=400, memory_mb=MEMORY_MB, solutions=solutions,
                              progress=False, sandbox=SANDBOX)
    assert result.stored == done and result.ran == 3 - done and result.not_graded == []
    rows = _rows(out / "grades.csv")
    assert all(rows[n][1:5] == FULL for n in names)


@pytest.mark.skipif(not SANDBOX, reason="needs bubblewrap")
def test_a_course_and_venv_under_tmp_grade_correctly(course, tmp_path_factory):
    """The sandbox mounts its private /tmp first and the course's folders after it: a checkout
    and a virtual environment under /tmp stay visible to the kernels."""
    import shutil
    import site
    import tempfile

    root, solutions, folder, small = course
    base = Path(tempfile.mkdtemp(prefix="ck-clone-", dir="/tmp"))
    try:
        clone = base / "course"
        shutil.copytree(REPO / "coursekit", clone / "coursekit", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(REPO / "tests", clone / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        (clone / "solutions").mkdir()
        (clone / "solutions" / NAME).write_bytes((solutions / NAME).read_bytes())
        venv = clone / ".venv"
        subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)],
                       check=True)
        purelib = next(venv.glob("lib/python*/site-packages"))
        (purelib / "course.pth").write_text(f"{clone}\n{site.getsitepackages()[0]}\n", encoding="utf-8")
        sub = base / "subs"
        sub.mkdir()
        (sub / "ada.ipynb").write_bytes((folder / "ada.ipynb").read_bytes())
        (sub / "bob.ipynb").write_bytes((folder / "bob.ipynb").read_bytes())
        script = ("import sys\nfrom tests import _grading_fixtures as F\nfrom coursekit.cli import main\n"
                  "import coursekit; assert coursekit.__file__.startswith(sys.argv[1]), coursekit.__file__\n"
                  "with F.registry(F.SMALL_POINTS, F.U1_DELEGATES):\n    sys.exit(main(sys.argv[2:]))\n")
        proc = subprocess.run([str(venv / "bin" / "python"), "-c", script, str(clone), "grade", str(sub), "-o",
                               str(base / "out"), "--solutions", str(clone / "solutions"), "--timeout", "120"],
                              capture_output=True, text=True, timeout=400, cwd=base)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        rows = _rows(base / "out" / "grades.csv")
        assert rows["ada"][1:5] == FULL and rows["bob"][1:5] == ["1", "2", "2", "1"]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_untouched_template_is_recognised_without_a_kernel(course):
    _, _, _, small = course
    from coursekit.grading.collect import is_untouched

    released = release_notebook(small)
    assert is_untouched(nbformat.from_dict(released), released)
    touched = nbformat.from_dict(released)
    touched.cells[-1].source += "\nmy note"
    assert not is_untouched(touched, released)


@pytest.mark.browser
def test_feedback_and_question_pages_read_like_the_notebook_offline(course, first):
    from ._browser import assert_reads_like_a_notebook, chromium, offline, open_page, rendering_facts

    root, *_ = course
    with chromium() as driver:
        offline(driver)
        open_page(driver, root / "out" / "feedback" / "bob.html")
        facts = rendering_facts(driver)
        assert_reads_like_a_notebook(facts, boxes=True)
        assert len(facts["checks"]) == 4 and len(facts["claims"]) == 1
        assert "Unit 1 (grading fixture)" in facts["text"] and "My own note: bold, a list:" in facts["text"]
        assert driver.title != "pwned"
        open_page(driver, root / "out" / "questions" / "u1.q2.html")
        assert_reads_like_a_notebook(rendering_facts(driver))
