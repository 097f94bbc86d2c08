"""A sandbox per graded kernel: bubblewrap, one private folder, read-only data and environment.

``coursekit grade`` runs every kernel it starts for a submission (the feedback run and the
grader's run, see :mod:`coursekit.grading.grade`) under `bubblewrap <https://github.com/containers/bubblewrap>`_
(Debian package ``bubblewrap``, ``bwrap``) with:

- its own user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``): no network at
  all (its loopback is its own, the grading machine's servers are out of reach), no view of the
  grader's processes in ``/proc``; no capabilities (``--cap-drop ALL``), a new terminal session,
  and it dies with the grader (``--die-with-parent``, and :func:`_orphan_guard` for a grader killed
  while bubblewrap starts);
- a file system built from nothing: the system directories (``/usr`` and the ``/lib`` links), a
  short list of ``/etc`` files (no ``shadow``, no ``pip.conf``), the Python installation, the
  virtual environment and the ``coursekit`` package directory, all **read-only**; a fresh
  ``/proc`` and ``/dev``, small private tmpfs for ``/tmp`` and ``/dev/shm``;
- one **private writable folder** (:class:`Private`) holding only the kernel's own copy of the
  notebook (``work/``, its working directory), its home, temporary and runtime folders; the toy
  data the unit needs, prepared by the grader before any student code runs
  (:func:`prepare_toy_data`), is mounted **read-only** inside it (``COURSEKIT_DATA`` points there);
- an environment of its own (``--clearenv``): none of the grader's variables, only the paths
  above and a few numeric-library settings.

Solutions, other submissions, the output folder and the grader's home directory are not in the
sandbox at all. The kernel talks to the grader over ZeroMQ's IPC transport: Unix sockets in the
private folder, which the bind mount shares across the network namespace.

What the sandbox does not do: limit CPU time or memory by itself (the grader watches them, see
:mod:`coursekit.grading.grade`), hide the machine's hardware (``/sys`` is not mounted, but CPU
features are visible to any process), or protect against kernel exploits.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import DataError

TMPFS_BYTES = 256 * 2**20   # /tmp and /dev/shm inside the sandbox (RAM; the private folder is on disk)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group",
             "nsswitch.conf", "hosts", "host.conf", "gai.conf", "alternatives", "fonts", "ssl",
             "ca-certificates", "mime.types", "os-release", "debian_version", "lsb-release", "protocols",
             "services", "matplotlibrc")
SYS_CPU = ("/sys/devices/system/cpu",)
PASS_ENV_PREFIXES = ("OMP_", "OPENBLAS_", "MKL_", "KMP_", "BLIS_", "NUMEXPR_")
PASS_ENV = ("LANG", "LC_ALL", "TZ", "PYTHONHASHSEED")
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
              "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
NO_SANDBOX_WARNING = (
    "warning: --no-sandbox: submissions run as you, with your files, your environment variables and "
    "the network. A submission can read the solutions and other submissions, write anywhere you can, "
    "kill processes and reach servers on this machine; grades and feedback are written after every "
    "run and hidden tests stay out of feedback, but nothing else is guaranteed. Grade untrusted work "
    "only with bubblewrap installed.")


# --------------------------------------------------------------------------- bubblewrap

def bwrap_path() -> str | None:
    return os.environ.get("COURSEKIT_BWRAP") or shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def unavailable() -> str | None:
    """Why sandboxed grading cannot run here (None when bubblewrap works)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux; this is {sys.platform}"
    exe = bwrap_path()
    if not exe:
        return "bubblewrap (bwrap) is not installed"
    probe = [exe, *_namespace_args(), *_system_args(), "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not start ({exc})"
    if proc.returncode != 0:
        return f"bubblewrap cannot create a sandbox here: {proc.stderr.strip()[:200]}"
    return None


def require(no_sandbox: bool) -> None:
    """Refuse to grade without a sandbox unless the instructor said ``--no-sandbox``."""
    if no_sandbox:
        print(NO_SANDBOX_WARNING, file=sys.stderr, flush=True)
        return
    problem = unavailable()
    if problem:
        raise DataError(f"cannot grade in a sandbox: {problem}",
                        fix="install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or pass "
                            "--no-sandbox to grade without one (submissions can then read and change your "
                            "files and use the network)")


def _namespace_args() -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--hostname", "coursekit-sandbox"]
    if os.geteuid() == 0:  # bwrap keeps root's capabilities unless told otherwise
        args += ["--cap-drop", "ALL"]
    return args


def _system_args() -> list[str]:
    args: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in ETC_FILES:
        path = f"/etc/{name}"
        if os.path.lexists(path):
            args += ["--ro-bind-try", path, path]
    for path in SYS_CPU:  # the CPU topology (libraries count cores: joblib warns on every import without it)
        args += ["--ro-bind-try", path, path]
    return args


def _pth_dirs(site_dirs, package: str) -> set[str]:
    """Folders that ``.pth`` files in the site folders add to ``sys.path`` (a venv layered on
    another one, say), except any that holds the coursekit package: that is a checkout, whose
    solutions a sandbox must not see (the package folder itself is bound on its own)."""
    found = set()
    for site_dir in site_dirs:
        try:
            names = [n for n in os.listdir(site_dir) if n.endswith(".pth")]
        except OSError:
            continue
        for name in names:
            try:
                lines = Path(site_dir, name).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if not line or line.startswith(("#", "import ", "import\t")):
                    continue
                path = os.path.realpath(os.path.join(site_dir, line))
                if os.path.isdir(path) and not (package + "/").startswith(path.rstrip("/") + "/"):
                    found.add(path)
    return found


def _orphan_guard() -> list[str]:
    """What goes before ``bwrap`` so that a grader killed while it starts a kernel leaves nothing
    running. ``--die-with-parent`` asks for the parent-death signal only once bubblewrap runs: a
    grader that dies between starting the process and that moment would leave the sandbox and its
    kernel behind. ``setpriv --pdeathsig KILL`` asks for it first (it is kept across ``exec``), then
    the shell checks that its parent is still the process that built the command line and hands over
    to bubblewrap. Empty where util-linux's ``setpriv`` is missing."""
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
    if not setpriv:
        return []
    return [setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", f'[ "$PPID" = {os.getpid()} ] || exit 1; exec "$@"',
            "sh"]


def _python_dirs() -> list[str]:
    """The Python installation, the virtual environment, the site folders (and what their
    ``.pth`` files add) and the coursekit package (read-only)."""
    import site

    import coursekit

    package = str(Path(coursekit.__file__).resolve().parent)
    sites = [p for p in site.getsitepackages() + [site.getusersitepackages()] if os.path.isdir(p)]
    dirs = {os.path.realpath(sys.base_prefix), sys.prefix, os.path.realpath(sys.prefix), package,
            *(os.path.realpath(p) for p in sites if p.startswith((sys.prefix, sys.base_prefix)))}
    dirs |= _pth_dirs([p for p in sites if p.startswith((sys.prefix, sys.base_prefix))], package)
    exe = os.path.realpath(sys.executable)
    if not any(exe.startswith(d.rstrip("/") + "/") for d in dirs):
        dirs.add(os.path.dirname(exe))
    covered = sorted(d for d in dirs if d and not any(d != o and d.startswith(o.rstrip("/") + "/") for o in dirs))
    return [d for d in covered if not any(d == s or d.startswith(s + "/") for s in SYSTEM_DIRS)]


# --------------------------------------------------------------------------- the private folder

@dataclass
class Private:
    """The one writable folder of a kernel: ``work/`` (its working directory, holding its copy of
    the notebook), ``home/``, ``tmp/``, ``run/`` (connection file, sockets, the grader's key and
    report) and ``data/`` (mount points of the toy data, read-only)."""
    root: Path
    toy: dict[str, Path] = field(default_factory=dict)  # folder name -> prepared host folder

    @classmethod
    def create(cls, parent: Path, toy: dict[str, Path] | None = None) -> "Private":
        root = Path(tempfile.mkdtemp(prefix="ck-private-", dir=parent)).resolve()
        box = cls(root, dict(toy or {}))
        for sub in ("work", "home", "tmp", "run", "data/toy", "home/.config/matplotlib"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for name in box.toy:
            (root / "data" / "toy" / name).mkdir()
        _copy_font_cache(root / "home" / ".config" / "matplotlib")
        os.chmod(root, 0o700)
        return box

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def environment(self, sandboxed: bool, notebook: str | None = None) -> dict[str, str]:
        """Variables of the kernel. Sandboxed: only these (plus threading settings); else they are
        added to the grader's own environment. ``notebook``: the file name ``coursekit.record``
        reports (``COURSEKIT_NOTEBOOK``)."""
        env = dict(KERNEL_ENV)
        if notebook:
            env["COURSEKIT_NOTEBOOK"] = notebook
        if sandboxed:
            env.update({
                "PATH": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
                "HOME": str(self.root / "home"), "TMPDIR": str(self.root / "tmp"),
                "XDG_CACHE_HOME": str(self.root / "home" / ".cache"),
                "XDG_CONFIG_HOME": str(self.root / "home" / ".config"),
                "MPLCONFIGDIR": str(self.root / "home" / ".config" / "matplotlib"),
                "COURSEKIT_DATA": str(self.root / "data"), "LANG": "C.UTF-8", "VIRTUAL_ENV": sys.prefix,
            })
            for k, v in os.environ.items():
                if k in PASS_ENV or k.startswith(PASS_ENV_PREFIXES):
                    env[k] = v
        return env

    def bwrap(self, command: list[str], notebook: str | None = None) -> list[str]:
        """The bubblewrap command line that runs ``command`` in this sandbox."""
        exe = bwrap_path()
        if not exe:
            raise DataError("bubblewrap (bwrap) is not installed", fix="apt-get install bubblewrap")
        args = [exe, *_namespace_args(), *_system_args(),
                "--proc", "/proc", "--dev", "/dev",
                "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
                "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm"]
        # the binds come after the tmpfs mounts: a course, a venv or a grading folder under /tmp
        # stays visible (a tmpfs mounted later would hide it)
        for d in _python_dirs():
            args += ["--ro-bind", d, d]
        args += ["--bind", str(self.root), str(self.root)]
        for name, source in self.toy.items():
            args += ["--ro-bind", str(source), str(self.root / "data" / "toy" / name)]
        # nothing else is writable: bubblewrap's own root and /dev are tmpfs without a size limit
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", str(self.work), "--clearenv"]
        for k, v in self.environment(sandboxed=True, notebook=notebook).items():
            args += ["--setenv", k, v]
        return [*_orphan_guard(), *args, "--", *command]

    def disk_bytes(self, limit_entries: int = 20_000) -> int:
        """Bytes written in the private folder (stops counting after ``limit_entries`` files: a
        folder with more files than that counts as over any limit)."""
        total, seen, stack = 0, 0, [str(self.root)]
        data = str(self.root / "data")
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    seen += 1
                    if seen > limit_entries:
                        return 1 << 62
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if entry.path != data:
                                stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        return total

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _copy_font_cache(target: Path) -> None:
    """Matplotlib's font list from the grader's cache, so each kernel does not rebuild it."""
    base = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib")
    try:
        for name in os.listdir(base):
            if name.startswith("fontlist") and name.endswith(".json"):
                shutil.copyfile(os.path.join(base, name), target / name)
    except OSError:
        pass


# --------------------------------------------------------------------------- kernels

@contextmanager
def kernel_session(private: Private, sandboxed: bool = True, notebook: str | None = None):
    """A quiet IPC kernel whose sockets, connection file and log live in ``private.run``; with
    ``sandboxed`` the kernel command is wrapped in :meth:`Private.bwrap` and started with an
    environment of nothing but the sandbox's variables (so even bubblewrap's own process, which
    the kernel can see as PID 1, holds none of the grader's)."""
    from ..notebooks import kernel_environment, kernel_session as quiet_session

    wrap = (lambda command: private.bwrap(command, notebook)) if sandboxed else None
    if sandboxed:  # the sandbox's own variables go in through bwrap's --setenv
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    else:
        env = kernel_environment(**private.environment(False, notebook), COURSEKIT_STRICT_CHECKS=None,
                                 COURSEKIT_RECORD=None)
    with quiet_session(folder=str(private.run), wrap=wrap, env=env) as session:
        yield session


# --------------------------------------------------------------------------- toy data

EXERCISE_LINE = "# Exercise "
RECORDER = '''import json as _json
import coursekit.datasets as _ds
import coursekit.datasets._registry as _reg
_toy_path = _reg.toy_path
def _recording_toy_path(name, seed=0, data_home=None, **sizes):
    folder = _toy_path(name, seed=seed, data_home=data_home, **sizes)
    with open({log!r}, "a", encoding="utf-8") as _fh:
        _fh.write(_json.dumps({{"name": name, "seed": int(seed), "sizes": sizes}}) + "\\n")
    return folder
_reg.toy_path = _ds.toy_path = _recording_toy_path
'''


def _requests_file(solution_bytes: bytes) -> Path:
    from ..datasets import get_toy_home

    digest = hashlib.sha256(solution_bytes).hexdigest()[:16]
    return get_toy_home() / ".grading" / f"toy-requests-{digest}.json"


def toy_requests(solution: Path, timeout: int = 600) -> list[dict]:
    """The toy data sets the solution notebook loads, as ``{"name", "seed", "sizes"}`` requests.

    The code cells of the solution up to its first exercise (its parameters, imports and data
    loading) run once in a kernel that records every toy data set requested; the list is cached
    beside the toy data, keyed by the solution's sha256, so later grading runs do not run it again.
    """
    from ..notebooks import execute_notebook

    raw = Path(solution).read_bytes()
    cache = _requests_file(raw)
    if cache.exists():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if EXERCISE_LINE in cell.source:
            break
        cells.append(nbformat.v4.new_code_cell(cell.source))
    with tempfile.TemporaryDirectory(prefix="ck-toy-") as tmp:
        log = os.path.join(tmp, "requests.jsonl")
        run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(RECORDER.format(log=log)), *cells])
        execute_notebook(run, cwd=tmp, timeout=timeout, allow_errors=True, name=Path(solution).name,
                         env={"COURSEKIT_RECORD": "", "COURSEKIT_STRICT_CHECKS": ""})
        lines = Path(log).read_text(encoding="utf-8").splitlines() if os.path.exists(log) else []
    requests = []
    for line in lines:
        entry = json.loads(line)
        if entry not in requests:
            requests.append(entry)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp_cache = cache.with_name(f".{cache.name}.{os.getpid()}")
    tmp_cache.write_text(json.dumps(requests, indent=1), encoding="utf-8")
    tmp_cache.replace(cache)
    return requests


def toy_folders(requests: list[dict]) -> dict[str, Path]:
    """{folder name: folder} of the requested toy data sets on this machine, generated (or checked
    against their manifests) here: a Dask worker prepares its own. Mounted read-only in every
    sandbox; data a submission asks for that is not among them (a changed ``SEED``) is generated in
    its private folder."""
    from ..datasets import toy_path

    folders = {}
    for entry in requests:
        folder = toy_path(entry["name"], seed=entry.get("seed", 0), **entry.get("sizes", {}))
        folders[folder.name] = folder
    return folders


def prepare_toy_data(solution: Path, timeout: int = 600) -> dict[str, Path]:
    """Generate (or verify) the toy data the solution notebook loads, before any student code
    runs: :func:`toy_folders` of :func:`toy_requests`."""
    return toy_folders(toy_requests(solution, timeout))
