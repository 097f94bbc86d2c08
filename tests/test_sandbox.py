"""The sandbox and the guard, piece by piece: the bubblewrap command line, what a sandboxed kernel
sees and can do, refusing to grade without bubblewrap, toy data prepared before student code, and
the guard's channel in a fresh interpreter (signed records, encrypted requests, tampering)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import coursekit
from coursekit.errors import DataError
from coursekit.grading import sandbox as sb

REPO = Path(__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(sb.unavailable() is not None, reason=f"no sandbox here: {sb.unavailable()}")


def test_command_line_exposes_only_what_a_kernel_needs(tmp_path):
    box = sb.Private.create(tmp_path, {"demo-v1-seed0": tmp_path})
    args = box.bwrap(["python", "-c", "pass"])
    joined = " ".join(args)
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--proc /proc", "--dev /dev"):
        assert flag in joined, flag
    assert "--share-net" not in args
    if os.geteuid() == 0:
        assert "--cap-drop ALL" in joined
    ro = {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "--ro-bind"}
    package = str(Path(coursekit.__file__).resolve().parent)
    assert package in ro and sys.prefix in ro  # the package and the environment, read-only
    assert ro[str(tmp_path)] == str(box.root / "data" / "toy" / "demo-v1-seed0")  # the data, read-only
    rw = [args[i + 1] for i, a in enumerate(args) if a == "--bind"]
    assert rw == [str(box.root)]  # one writable folder
    for hidden in (str(REPO), str(REPO / "solutions"), str(Path.home()), "/"):
        assert hidden not in ro and hidden not in rw, hidden
    assert args[args.index("--chdir") + 1] == str(box.work)
    env = {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "--setenv"}
    assert env["HOME"].startswith(str(box.root)) and env["COURSEKIT_DATA"] == str(box.root / "data")
    assert not any(k in env for k in ("COURSEKIT_RECORD", "COURSEKIT_STRICT_CHECKS", "PYTEST_CURRENT_TEST"))
    assert args[-4:] == ["--", "python", "-c", "pass"]
    box.remove()
    assert not box.root.exists()



@needs_bwrap
def test_a_sandbox_whose_grader_is_gone_does_not_start(tmp_path):
    # bubblewrap asks for its parent-death signal only once it runs; a grader killed before that
    # would leave the kernel running. The guard in front of it starts nothing when its parent is not
    # the process that built the command line (here: a shell in between, as init would be).
    box = sb.Private.create(tmp_path)
    marker = box.root / "started"
    args = box.bwrap([sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"])
    assert args[:3] == [shutil.which("setpriv", path="/usr/bin:/bin"), "--pdeathsig", "KILL"]
    orphan = subprocess.run(["/bin/sh", "-c", '"$@"; exit $?', "sh", *args], capture_output=True, timeout=60)
    assert orphan.returncode == 1 and not marker.exists()
    direct = subprocess.run(args, capture_output=True, timeout=60)
    assert direct.returncode == 0 and marker.exists(), direct.stderr
    box.remove()

PROBES = {
    "root": "sorted(os.listdir('/'))",
    "home": "os.environ['HOME']",
    "pids": "sorted(int(p) for p in os.listdir('/proc') if p.isdigit())",
    "ppid": "os.getppid()",
    "hostname": "socket.gethostname()",
    "repo": "sorted(os.listdir({repo!r})) if os.path.isdir({repo!r}) else []",
    "solutions": "os.path.exists({solutions!r})",
    "grader_home": "os.path.exists(os.path.join({home!r}, '.cache'))",
    "secret": "os.environ.get('COURSEKIT_TEST_SECRET')",
    "env_of_pid1": "{secret!r} in open('/proc/1/environ', 'rb').read().decode()",
    "write_venv": "_try(lambda: open(os.path.join(sys.prefix, 'pwned'), 'w'))",
    "write_package": "_try(lambda: open(os.path.join(os.path.dirname(coursekit.__file__), 'pwned.py'), 'w'))",
    "write_root": "_try(lambda: open('/pwned', 'w'))",
    "write_here": "_try(lambda: open('mine.txt', 'w'))",
    "write_data": "_try(lambda: open(os.path.join(os.environ['COURSEKIT_DATA'], 'toy', 'demo-v1-seed0', 'x'), 'w'))",
    "new_toy_folder": "_try(lambda: os.mkdir(os.path.join(os.environ['COURSEKIT_DATA'], 'toy', 'art-v9-seed1')))",
    "read_data": "sorted(os.listdir(os.path.join(os.environ['COURSEKIT_DATA'], 'toy', 'demo-v1-seed0')))",
    "tcp": "_try(lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))",
    "unix": "_try(lambda: _unix({unix!r}))",
    "interfaces": "[name for _, name in socket.if_nameindex()]",
    "tmp": "sorted(os.listdir('/tmp'))",
}


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    from coursekit.grading.run import execute as _execute

    root = tmp_path_factory.mktemp("probe")
    data = root / "toydata"
    data.mkdir()
    (data / "items.csv").write_text("a,b\n1,2\n")
    tcp = socket.create_server(("127.0.0.1", 0))
    sockets = Path(tempfile.mkdtemp(prefix="ck-"))
    unix_path = str(sockets / "s.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(unix_path)
    unix.listen()
    fill = {"repo": str(REPO), "solutions": str(REPO / "solutions"), "home": str(Path.home()),
            "secret": "probe-secret-31337", "port": tcp.getsockname()[1], "unix": unix_path}
    lines = ["import json, os, socket, sys, coursekit",
             "def _try(f):\n    try:\n        f()\n        return 'ok'\n    except OSError as exc:\n"
             "        return type(exc).__name__",
             "def _unix(path):\n    s = socket.socket(socket.AF_UNIX)\n    s.settimeout(2)\n    s.connect(path)",
             "print(json.dumps({" + ", ".join(f"{k!r}: {v.format(**fill)}" for k, v in PROBES.items()) + "}))"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("\n".join(lines))])
    box = sb.Private.create(root, {"demo-v1-seed0": data})
    os.environ["COURSEKIT_TEST_SECRET"] = fill["secret"]
    try:
        problem, _ = _execute(nb, box.work, 120, private=box, sandboxed=True)
    finally:
        os.environ.pop("COURSEKIT_TEST_SECRET", None)
        tcp.close()
        unix.close()
        shutil.rmtree(sockets, ignore_errors=True)
    outputs = nb.cells[0].outputs
    assert problem is None and outputs and outputs[0].get("name") == "stdout", outputs
    written = sorted(p.name for p in box.work.iterdir())
    box.remove()
    return json.loads(outputs[0]["text"]), written, box.root


@needs_bwrap
def test_a_sandboxed_kernel_sees_only_the_system_and_its_folder(probed):
    facts, _, root = probed
    # the system, plus the top folders of the mounted Python (the checkout may live anywhere: CI uses /check)
    mounted = {Path(d).parts[1] for d in sb._python_dirs()}
    assert set(facts["root"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev",
                                  "tmp", "root", "opt", "home", "var", "srv", "sys"} | mounted
    package, venv = Path(coursekit.__file__).resolve().parent, Path(sys.prefix)
    assert set(facts["repo"]) <= {package.name, venv.name}  # the repository holds only what is mounted
    assert not facts["solutions"] and not facts["grader_home"]
    # only the way to its own folder, and to the mounted Python when the checkout lives under /tmp
    under_tmp = {Path(d).parts[2] for d in sb._python_dirs() if Path(d).parts[1:2] == ("tmp",)}
    assert set(facts["tmp"]) == {root.relative_to("/tmp").parts[0]} | under_tmp
    assert facts["hostname"] == "coursekit-sandbox"


@needs_bwrap
def test_a_sandboxed_kernel_has_no_view_of_the_grader(probed):
    facts, _, _ = probed
    assert facts["ppid"] == 1 and len(facts["pids"]) <= 3  # bwrap's init, the kernel
    assert facts["secret"] is None and facts["env_of_pid1"] is False


@needs_bwrap
def test_a_sandboxed_kernel_writes_only_in_its_folder(probed):
    facts, written, _ = probed
    for probe in ("write_venv", "write_package", "write_root", "write_data"):
        assert facts[probe] in ("OSError", "PermissionError"), (probe, facts[probe])  # read-only file system
    assert facts["write_here"] == "ok" and "mine.txt" in written
    assert facts["new_toy_folder"] == "ok"  # data the grader did not prepare is generated privately
    assert facts["read_data"] == ["items.csv"]


@needs_bwrap
def test_a_sandboxed_kernel_reaches_no_socket(probed):
    facts, _, _ = probed
    assert facts["tcp"] == "ConnectionRefusedError"  # its own loopback: nobody listens there
    assert facts["unix"] == "FileNotFoundError"  # the grader's /tmp is not there
    assert facts["interfaces"] == ["lo"]


def test_grading_refuses_without_bubblewrap_unless_told(tmp_path, monkeypatch, capsys):
    from coursekit.grading.grade import grade_folder

    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "fay_01_x.ipynb").write_text("{ not a notebook")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), folder / "gus_01_x.ipynb")
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), solutions / "01_x.ipynb")
    monkeypatch.setattr(sb, "bwrap_path", lambda: None)
    sb.unavailable.cache_clear()
    try:
        if sys.platform.startswith("linux"):
            with pytest.raises(DataError, match="cannot grade in a sandbox: bubblewrap .bwrap. is not") as err:
                grade_folder(folder, tmp_path / "out", solutions=solutions, progress=False)
            assert "--no-sandbox" in str(err.value) and "apt-get install bubblewrap" in str(err.value)
        result = grade_folder(folder, tmp_path / "out", solutions=solutions, progress=False, sandbox=False)
        rows = Path(result).read_text().splitlines()
        assert rows[1].startswith("fay_01_x,0,0,malformed notebook") and rows[2] == "gus_01_x,0,0,"
        assert result.ran == 1
        warning = capsys.readouterr().err
        assert warning.startswith("warning: --no-sandbox: submissions run as you, with your files")
        assert "read the solutions" in warning
    finally:
        monkeypatch.undo()
        sb.unavailable.cache_clear()


def test_cli_documents_the_sandbox_switches():
    proc = subprocess.run([sys.executable, "-m", "coursekit.cli", "grade", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert "--no-sandbox" in proc.stdout and "--disk-mb" in proc.stdout and "coursekit export" in proc.stdout


@pytest.mark.slow
def test_toy_data_is_prepared_before_student_code_and_cached(tmp_path, data_home, monkeypatch):
    solution = tmp_path / "01_demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('DATA_SOURCE = "toy"\nSEED = 0', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from coursekit.datasets import load_art\ndata = load_art(DATA_SOURCE, seed=SEED)"),
        nbformat.v4.new_code_cell("# Exercise u1.demo: never run by the preparation\nraise SystemExit"),
        nbformat.v4.new_code_cell("data = load_art(DATA_SOURCE, seed=5)"),
    ]), solution)
    folders = sb.prepare_toy_data(solution)
    assert list(folders) == [p.name for p in folders.values()] and len(folders) == 1
    (name, folder), = folders.items()
    assert name.startswith("art-v") and name.endswith("-seed0") and (folder / "toy_manifest.json").exists()
    assert folder.parent == data_home / "toy"

    def no_kernel(*args, **kwargs):
        raise AssertionError("the requests are cached: no kernel needed")

    monkeypatch.setattr("coursekit.notebooks.execute_notebook", no_kernel)
    assert sb.prepare_toy_data(solution) == folders


# --------------------------------------------------------------------------- the guard, without a kernel

GUARD_SCRIPT = r'''
import json, os, sys, gc
sys.path.insert(0, {repo!r})
import numpy as np
from coursekit.grading.guard import Channel, arm
run = {run!r}
channel = Channel(run)
channel.write_key()
arm(run, json.dumps({{"modules": ["numpy"], "imports": "import numpy as np", "check_modules": [], "chains": []}}))
out = {{"key_left": os.path.exists(os.path.join(run, "key"))}}
code = ("_ck_run = _ck_HiddenRun('u1.a')\ntry:\n    assert np.allclose(f(), 2)\nexcept BaseException as e:\n"
        "    _ck_run.fail('p', e)\nelse:\n    _ck_run.ok('p')\n_ck_r = _ck_run.result\n")
def f():  # the student's answer, in __main__ (the user namespace outside IPython)
    return 3
request = channel.request_source("u1.a", code)
out["plain_text_hidden"] = "allclose" in request
exec(request)                                    # a wrong answer: the part fails
def f():  # logging asks for its caller's frame: allowed
    import logging
    logging.getLogger("student").warning("computing")
    return 2
exec(channel.request_source("u1.d", code.replace("u1.a", "u1.d")))
def f():  # a frame handed to student code while the grader's code is on the stack: refused
    import inspect
    return 2 if inspect.stack() else 2
exec(channel.request_source("u1.e", code.replace("u1.a", "u1.e")))
sys.audit("coursekit.grade", "00", "AAAA", "0" * 64)   # a forged request: ignored, noted
try:
    gc.get_objects()
    out["gc"] = "allowed"
except PermissionError:
    out["gc"] = "denied"
np.allclose = lambda *a, **k: True               # tampering after the fact
exec(channel.request_source("u1.b", code.replace("u1.a", "u1.b")))
with open(os.path.join(run, "report"), "a") as fh:
    fh.write("('00', 'u1.c', 'passed', (), ())\tdeadbeef\n")
records, forged = channel.read()
out["records"] = records
out["forged"] = forged
print(json.dumps(out))
'''


def test_guard_signs_records_hides_requests_and_finds_tampering(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.run([sys.executable, "-c", GUARD_SCRIPT.format(repo=str(REPO), run=str(run))],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["key_left"] is False and out["plain_text_hidden"] is False
    assert out["gc"] == "denied"
    a, b = out["records"]["u1.a"], out["records"]["u1.b"]
    assert a["pieces"] == {"p": "failed"}
    assert a["tampered"] == []
    assert out["records"]["u1.d"] == {"exercise": "u1.d", "visible": None, "pieces": {"p": "passed"}, "tampered": []}
    e = out["records"]["u1.e"]
    assert e["pieces"] == {"p": "error"} and e["tampered"] == ["looked at the grader's frames"]
    assert "numpy.allclose changed" in b["tampered"] and "called gc.get_objects" in b["tampered"]
    assert "sent a grading request the grader did not sign" in b["tampered"]
    assert b["pieces"] == {}  # nothing ran on tampered objects
    assert "u1.c" not in out["records"] and out["forged"] == 1


# --------------------------------------------------------------------------- exported HTML as a submission

def test_exported_html_carries_the_notebook_and_its_hash(tmp_path):
    from coursekit.grading.export import ExportError, embed_notebook, read_exported

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("A tricky answer: </script><script>alert(1)</script> & <!-- -->"),
        nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="big output")])])
    summary = ('<section id="coursekit-summary"><table><tbody><tr class="ck-row" data-exercise="u1.a" '
               'data-status="passed"><td><code>u1.a</code></td></tr></tbody></table></section>')
    page = embed_notebook(f"<html><body>{summary}<main>cells</main></body></html>", nb, "01_x.ipynb")
    assert page.count("</script>") == 1 and page.index("</script>") > page.index("cells")
    (tmp_path / "ok.html").write_text(page)
    back, claimed = read_exported(tmp_path / "ok.html")
    assert [c.source for c in back.cells] == [c.source for c in nb.cells]
    assert back.cells[1].outputs == [] and claimed == {"u1.a": "passed"}  # outputs are not carried
    (tmp_path / "edited.html").write_text(page.replace("x = 1", "x = 2"))
    with pytest.raises(ExportError, match="does not match its sha256"):
        read_exported(tmp_path / "edited.html")
    (tmp_path / "plain.html").write_text("<html><body>just a page</body></html>")
    with pytest.raises(ExportError, match="no notebook embedded"):
        read_exported(tmp_path / "plain.html")
    (tmp_path / "cut.html").write_text(page[: page.index("</script>") - 40] + "</script></body></html>")
    with pytest.raises(ExportError, match="damaged|does not match"):
        read_exported(tmp_path / "cut.html")
