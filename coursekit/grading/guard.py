"""The grader's run: results only the grader writes, tampering found, hidden tests kept out of reach.

``coursekit grade`` runs each submission twice (:mod:`coursekit.grading.grade`): a feedback run
of the notebook as submitted, and the grader's run, which this module guards. The grader's run
is the submission with cells of the grader's own:

1. **first**, before any student code: ``arm(run_dir, config)``. It reads the run's secret key
   from ``run/key`` (written by the grader, deleted at once) into a C HMAC object, imports what
   the checks and hidden tests use, binds the solution's imports in a namespace of its own, takes
   a **snapshot** of the objects grading relies on (:func:`_snapshot`) and installs an audit hook
   (PEP 578) that holds all of that in its closure only: no module attribute, no global refers
   to it, and audit hooks cannot be removed;
2. **after each exercise's check cell**: ``__import__('sys').audit('coursekit.grade', nonce,
   ciphertext, tag)``. The request is the exercise's grading code (repeat of the visible check
   with the exercise's delegates blocked, then every hidden part), **encrypted** with the key
   (an HMAC-SHA256 keystream) and **signed**: student code can neither read the hidden tests
   (not in ``In``/``_ih``, not on disk, not in any output) nor change them. The hook checks the
   tag, compares the snapshot with the live objects, runs the code with the genuine builtins and
   the solution's own import bindings, compares again, and appends one **signed record**
   ``(nonce, exercise, visible, parts, tampered)`` to ``run/report``.

The grader reads only those records (:meth:`Channel.read`): output metadata, printed text and
anything else a notebook displays count for nothing. A record whose signature is wrong is
ignored; a request cell that ran without leaving a record (the hook never reached, the report
deleted) scores 0 as ``tampered``.

**Tampering** (an exercise scored 0, ``tampered``): the snapshot holds every function and class of
``builtins``, ``sys``, ``os``, ``json``, ``numpy``, ``coursekit``, ``IPython``, ``ipykernel`` and
``traitlets`` (all their loaded submodules; for Python functions also their code and defaults; for
classes their methods), the modules the solution imports and the checks use (``scipy.stats``,
``torch``, ``tensorflow``, ...), the exercise registry, ``sys.modules`` entries of all of these,
``sys`` hooks (display, except, trace, profile, ``meta_path``, ``path_hooks``, standard streams),
IPython's input transformers, AST transformers, event callbacks, display publisher, display hook
and compiler. Before and after each request the live objects are compared with it: a replaced,
deleted or re-coded one, a hook added from student code, or a thread started from student code
still running marks the exercise ``tampered`` with the names of what changed. The hook also
refuses, and counts as tampering, what student code would need to reach the guard itself:
``gc.get_objects``/``get_referrers``/``get_referents``, ``ctypes``, new audit hooks,
``sys.settrace``/``setprofile``, opening ``/proc/*/mem``, and while a request runs,
``sys._getframe``, ``inspect.stack`` and traceback/generator frames (``tb_frame``, ``gi_frame``).

**Not guaranteed**: CPython cannot isolate code inside one process. Student code that writes the
interpreter's memory (``ctypes.memmove`` on an ``id()``, which Python does not audit, or a compiled
extension it writes and imports), or that patches a library object outside the snapshot and
restores it within one hidden-test statement, can still forge a result. Such code is conspicuous;
the grader notes for review every submission whose own lines use these tools
(:func:`review_notes`). The feedback run never sees hidden tests at all.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import types

REQUEST = "coursekit.grade"
GRADER_FILE = "<coursekit-grader>"
STATUSES = ("passed", "failed", "not attempted", "error")
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
ALWAYS_DENIED = {
    "gc.get_objects": "called gc.get_objects", "gc.get_referrers": "called gc.get_referrers",
    "gc.get_referents": "called gc.get_referents", "sys.settrace": "installed a trace function",
    "sys.setprofile": "installed a profile function",
}
CTYPES_EVENTS = ("ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.addressof", "ctypes.call_function",
                 "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.create_string_buffer", "ctypes.create_unicode_buffer",
                 "ctypes.get_errno", "ctypes.set_errno", "ctypes.get_last_error", "ctypes.set_last_error",
                 "ctypes.string_at", "ctypes.wstring_at", "ctypes.PyObj_FromPtr")
WATCHED = frozenset({REQUEST, "open", "sys.addaudithook", "sys._getframe", "object.__getattr__",
                     "object.__setattr__", *ALWAYS_DENIED, *CTYPES_EVENTS})
LAZY_PATCHERS = (("torch", "torch._dynamo"),)  # torch._dynamo wraps torch.manual_seed when first imported
FULL_ROOTS = ("builtins", "sys", "os", "posix", "json", "hmac", "numpy", "coursekit", "IPython", "ipykernel",
              "traitlets")


# --------------------------------------------------------------------------- shared: the cipher

def keystream(mac, nonce: bytes, n: int) -> bytes:
    """``n`` bytes of HMAC-SHA256(key, "stream" | nonce | counter) blocks (``mac`` holds the key)."""
    blocks = []
    for i in range((n + 31) // 32):
        m = mac.copy()
        m.update(b"stream:" + nonce + b":" + i.to_bytes(8, "big"))
        blocks.append(m.digest())
    return b"".join(blocks)[:n]


def xor(data: bytes, stream: bytes) -> bytes:
    if not data:
        return b""
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def new_mac(key: bytes):
    """A keyed HMAC-SHA256 object that does not give its key back (OpenSSL's, when available)."""
    try:
        import _hashlib

        return _hashlib.hmac_new(key, digestmod="sha256")
    except (ImportError, AttributeError, ValueError):  # pragma: no cover - Python without OpenSSL
        import hmac

        return hmac.new(key, digestmod="sha256")


def _tag(mac, *parts: bytes) -> str:
    m = mac.copy()
    m.update(b"\x00".join(parts))
    return m.hexdigest()


# --------------------------------------------------------------------------- grader side

class Channel:
    """The grader's side of one guarded run: the key, the requests it signs, the records it trusts."""

    def __init__(self, run_dir):
        import secrets

        self.run_dir = str(run_dir)
        self._key = secrets.token_bytes(32)
        self._mac = new_mac(self._key)
        self.nonces: dict[str, str] = {}  # nonce -> exercise

    def write_key(self) -> None:
        path = os.path.join(self.run_dir, "key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self._key)

    def arm_source(self, config: dict) -> str:
        import json

        return (f"__import__('coursekit.grading.guard', fromlist=['arm']).arm({self.run_dir!r}, "
                f"{json.dumps(config, sort_keys=True)!r})\n")

    def request_source(self, exercise: str, code: str) -> str:
        """The cell that asks the guard to grade ``exercise`` with ``code`` (encrypted, signed)."""
        import base64
        import secrets

        nonce = secrets.token_hex(12)
        self.nonces[nonce] = exercise
        plain = f"{exercise}\n{code}".encode("utf-8")
        cipher = base64.b64encode(xor(plain, keystream(self._mac, nonce.encode(), len(plain)))).decode()
        tag = _tag(self._mac, b"request", nonce.encode(), cipher.encode())
        return f"__import__('sys').audit({REQUEST!r}, {nonce!r}, {cipher!r}, {tag!r})\n"

    def read(self) -> tuple[dict[str, dict], int]:
        """({exercise: record} of the first valid record per request, number of lines that were
        not the guard's)."""
        import ast

        records: dict[str, dict] = {}
        forged = 0
        try:
            raw = open(os.path.join(self.run_dir, "report"), "rb").read()
        except OSError:
            return records, 0
        for line in raw.split(b"\n"):
            if not line:
                continue
            body, _, sig = line.rpartition(b"\t")
            if not body or _tag(self._mac, b"record", body) != sig.decode("ascii", "replace"):
                forged += 1
                continue
            try:
                nonce, exercise, visible, pieces, tampered = ast.literal_eval(body.decode("utf-8"))
            except (ValueError, SyntaxError, UnicodeDecodeError):
                forged += 1
                continue
            if self.nonces.get(nonce) != exercise or exercise in records:
                continue  # a replayed request: the first record counts
            records[exercise] = {"exercise": exercise, "visible": visible, "pieces": dict(pieces),
                                 "tampered": list(tampered)}
        return records, forged


# --------------------------------------------------------------------------- kernel side

def _prefixes():
    import sysconfig

    paths = sysconfig.get_paths()
    stdlib = {paths.get("stdlib"), paths.get("platstdlib")}
    library = {paths.get("purelib"), paths.get("platlib"),
               os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    for p in list(stdlib):
        if p:
            stdlib.add(os.path.realpath(p))
    for p in list(library):
        if p:
            library.add(os.path.realpath(p))
    as_tuple = lambda s: tuple(sorted(p.rstrip(os.sep) + os.sep for p in s if p))  # noqa: E731
    return as_tuple(stdlib), as_tuple(library)


def _import_bindings(source: str) -> dict:
    """The names the solution's import statements bind (one statement per line), bound to the
    genuine objects with importlib (nothing is executed); a line that fails is skipped."""
    import ast
    import importlib

    ns: dict = {}
    for line in source.splitlines():
        try:
            node = ast.parse(line).body[0]
            if isinstance(node, ast.Import):
                for alias in node.names:
                    module = importlib.import_module(alias.name)
                    if alias.asname:
                        ns[alias.asname] = module
                    else:
                        ns[alias.name.split(".")[0]] = importlib.import_module(alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    try:
                        value = getattr(module, alias.name)
                    except AttributeError:
                        value = importlib.import_module(f"{node.module}.{alias.name}")
                    ns[alias.asname or alias.name] = value
        except Exception:  # noqa: BLE001 - a package this machine lacks, a line that is not an import
            continue
    return ns


def arm(run_dir: str, config_json: str) -> None:
    """Install the guard (the grader's first cell; see the module docstring).

    Everything the hook uses later is bound here, before any student code runs, as local
    variables of this function (closure cells of the hook): no module global and no builtin is
    looked up at grading time, and the hook never calls an object student code could define.
    """
    import builtins
    import functools
    import io
    import json
    import random
    from binascii import a2b_base64
    from hmac import compare_digest

    config = json.loads(config_json)
    key_path = os.path.join(run_dir, "key")
    with open(key_path, "rb") as fh:
        key = fh.read()
    os.unlink(key_path)
    mac = new_mac(key)
    del key

    for name in config.get("modules", []):
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - a package this machine lacks
            pass
    genuine = _import_bindings(config.get("imports", ""))
    for name in config.get("student_names", []):  # what the exercises define stays the student's
        genuine.pop(name, None)
    for lazy, patcher in LAZY_PATCHERS:  # libraries that rebind their own functions on first use
        if lazy in sys.modules:
            try:
                __import__(patcher)
            except BaseException:  # noqa: BLE001
                pass
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:  # resolve the backend now: pyplot rebinds its backend functions on first use
        try:
            pyplot._get_backend_mod()
        except Exception:  # noqa: BLE001
            pass
    from IPython import get_ipython

    from . import checks, delegation, scoring

    shell = get_ipython()
    singles = set(config.get("modules", []))
    singles.update(v.__name__ for v in genuine.values() if isinstance(v, types.ModuleType))
    for name in config.get("check_modules", []):
        module = sys.modules.get(name)
        if module is not None:
            singles.add(name)
            singles.update(v.__name__ for v in vars(module).values() if isinstance(v, types.ModuleType))
    for chain in config.get("chains", []):
        first, *rest = chain.split(".")
        obj = genuine.get(first)
        for attr in rest:
            if isinstance(obj, types.ModuleType):
                singles.add(obj.__name__)
            obj = getattr(obj, attr, None)
        if isinstance(obj, types.ModuleType):
            singles.add(obj.__name__)

    # ------------------------------------------------------------ frozen references
    stdlib, library = _prefixes()
    lib_or_std = library + stdlib
    (_len, _type, _issub, _repr, _str, _tuple, _sorted, _dict, _list, _callable, _any, _all, _set,
     _enumerate, _exec, _compile, _range, _BaseException, _PermissionError, _RuntimeError, _None) = (
        len, type, issubclass, repr, str, tuple, sorted, dict, list, callable, any, all, set, enumerate,
        exec, compile, range, BaseException, PermissionError, RuntimeError, None)
    _getframe, _gettrace, _getprofile, _modules = sys._getframe, sys.gettrace, sys.getprofile, sys.modules
    _isabs, _join, _write = os.path.isabs, os.path.join, os.write
    _ModuleType, _FunctionType, _MethodType = types.ModuleType, types.FunctionType, types.MethodType
    _BuiltinFunctionType = types.BuiltinFunctionType
    _partial, _staticmethod, _classmethod, _property = functools.partial, staticmethod, classmethod, property
    _type_dict = type.__dict__["__dict__"].__get__      # a class's own namespace, never through its metaclass
    _type_mro = type.__dict__["__mro__"].__get__
    _module_dict = types.ModuleType.__dict__["__dict__"].__get__
    _enumerate_threads, _Thread, _Timer = threading.enumerate, threading.Thread, threading.Timer
    _is_alive, _oget = threading.Thread.is_alive, object.__getattribute__
    _b64decode, _compare, _int_from = a2b_base64, compare_digest, int.from_bytes
    _StringIO, _random_getstate, _random_setstate = io.StringIO, random.getstate, random.setstate
    _REQUEST, _GRADER_FILE, _STATUSES, _FRAME_ATTRS = REQUEST, GRADER_FILE, frozenset(STATUSES), FRAME_ATTRS
    _ALWAYS_DENIED, _WATCHED, _MISSING = _dict(ALWAYS_DENIED), WATCHED, object()
    full = _tuple(config.get("roots", FULL_ROOTS))
    singles = frozenset(singles)
    user_ns = shell.user_ns if shell is not None else vars(sys.modules["__main__"])
    builtins_copy = _dict(vars(builtins))
    genuine_items = _tuple(genuine.items())
    helpers = {"_ck_grade_check": checks.grade_check, "_ck_wiy": delegation.write_it_yourself,
               "_ck_HiddenRun": scoring.HiddenRun}
    registry = checks._EXERCISES
    sys_dict = _module_dict(sys)
    state = {"busy": False, "done": _set(), "suspicious": []}
    local = threading.local()
    origin_cache: dict = {}

    def module_file(module):
        if _type(module) is not _ModuleType:
            return None
        path = _module_dict(module).get("__file__")
        return path if _type(path) is _str and _isabs(path) else None

    def origin(frame) -> str:
        filename = frame.f_code.co_filename
        if filename == _GRADER_FILE:
            return "grader"
        known = origin_cache.get(filename)
        if known is not None:
            return known
        if filename.startswith("<frozen"):
            kind = "stdlib"
        elif _isabs(filename):
            kind = ("library" if filename.startswith(library) else
                    "stdlib" if filename.startswith(stdlib) else "student")
        else:  # "<string>": code generated by a module (dataclasses, namedtuple) or by the student
            g = frame.f_globals
            name = g.get("__name__") if _type(g) is _dict else None
            path = module_file(_modules.get(name)) if _type(name) is _str and name != "__main__" else None
            if path is None:
                return "student"
            return "library" if path.startswith(library) else "stdlib" if path.startswith(stdlib) else "student"
        origin_cache[filename] = kind
        return kind

    def student_first(depth: int = 2) -> bool:
        """Is the first frame outside the standard library, from the audited call outwards, student code?"""
        frame = _getframe(depth)
        while frame is not _None:
            kind = origin(frame)
            if kind != "stdlib":
                return kind == "student"
            frame = frame.f_back
        return False

    def code_origin(obj, builtin_is_student: bool = False) -> str:
        """Where a callable's (or an object's class's) code lives ("library": the standard library
        and installed packages)."""
        for _ in _range(4):
            if _type(obj) is _MethodType:
                obj = obj.__func__
            elif _type(obj) is _partial:
                obj = obj.func
            else:
                break
        if _type(obj) is _FunctionType:
            filename = obj.__code__.co_filename
            if filename.startswith("<frozen") or (_isabs(filename) and filename.startswith(lib_or_std)):
                return "library"
            return "student"
        if _type(obj) is _BuiltinFunctionType:
            return "student" if builtin_is_student else "library"
        cls = obj if _issub(_type(obj), type) else _type(obj)
        name = _type_dict(cls).get("__module__")
        if name is _None:  # a type written in C
            return "library"
        path = module_file(_modules.get(name)) if _type(name) is _str else _None
        return "library" if path is not _None and path.startswith(lib_or_std) else "student"

    def class_member(cls, name):
        for klass in _type_mro(cls):
            namespace = _type_dict(klass)
            if name in namespace:
                return namespace[name]
        return _None

    def modules():
        for name, module in _list(_modules.items()):
            if _type(module) is _ModuleType and _type(name) is _str and (
                    name in singles or name.split(".", 1)[0] in full):
                yield name, module

    def snapshot() -> dict:
        snap: dict = {}
        for name, module in modules():
            snap[("sys.modules", name)] = module
            for attr, value in _list(_module_dict(module).items()):
                kind = _type(value)
                if kind is _ModuleType or _type(attr) is not _str or not _callable(value):
                    continue
                snap[(name, attr)] = value
                if kind is _FunctionType:
                    snap[(name, attr, "__code__")] = value.__code__
                    snap[(name, attr, "__defaults__")] = value.__defaults__
                elif _issub(kind, type) and _type_dict(value).get("__module__") == name:
                    for member, item in _list(_type_dict(value).items()):
                        if _type(member) is not _str:
                            continue
                        if _type(item) is _FunctionType:
                            snap[(name, attr, member)] = item
                            snap[(name, attr, member, "__code__")] = item.__code__
                        elif _type(item) in (_staticmethod, _classmethod, _property) or _callable(item):
                            snap[(name, attr, member)] = item
        for ex_id, ex in _list(registry.items()):
            ex_id = _str(ex_id) if _type(ex_id) is _str else "?"
            snap[("exercise", ex_id)] = ex
            test = _oget(ex, "test")
            snap[("exercise", ex_id, "test")] = test
            snap[("exercise", ex_id, "delegates")] = _oget(ex, "delegates")
            if _type(test) is _FunctionType:
                snap[("exercise", ex_id, "test", "__code__")] = test.__code__
        for hook_name in ("displayhook", "excepthook", "breakpointhook", "unraisablehook", "stdout", "stderr",
                          "stdin", "audit", "addaudithook"):
            snap[("sys", hook_name)] = sys_dict.get(hook_name)
        snap[("sys", "gettrace()")] = _gettrace()
        snap[("sys", "getprofile()")] = _getprofile()
        if shell is not None:
            attrs = _oget(shell, "__dict__")
            snap[("shell", "user_ns['__builtins__']")] = user_ns.get("__builtins__")
            for attr, value in _list(attrs.items()):
                if _type(attr) is _str and _callable(value) and not _issub(_type(value), type):
                    snap[("shell", attr)] = value
            traits = attrs.get("_trait_values", {})
            for attr in ("display_pub", "displayhook", "display_formatter", "input_transformer_manager",
                         "ast_transformers", "input_transformers_cleanup", "input_transformers_post",
                         "events", "kernel", "compile", "user_ns", "builtin_trap", "display_trap"):
                snap[("shell", attr)] = traits.get(attr, attrs.get(attr, _MISSING))
        return snap

    def hook_lists() -> dict:
        lists: dict = {}
        for name in ("meta_path", "path_hooks"):
            value = sys_dict.get(name)
            lists[f"sys.{name}"] = _tuple(value) if _type(value) is _list else (value,)
        if shell is None:
            return lists
        traits = _oget(shell, "__dict__").get("_trait_values", {})
        for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
            value = traits.get(name)
            lists[f"IPython {name}"] = _tuple(value) if _type(value) is _list else (value,)
        manager = traits.get("input_transformer_manager")
        manager_attrs = _oget(manager, "__dict__") if manager is not _None else {}
        for attr in ("cleanup_transforms", "line_transforms", "token_transformers"):
            value = manager_attrs.get(attr, ())
            lists[f"IPython input_transformer_manager.{attr}"] = _tuple(value) if _type(value) is _list else (value,)
        events = traits.get("events")
        callbacks = _oget(events, "__dict__").get("callbacks", {}) if events is not _None else {}
        if _type(callbacks) is _dict:
            for event, entries in _list(callbacks.items()):
                if _type(event) is _str:
                    lists[f"IPython events[{event}]"] = _tuple(entries) if _type(entries) is _list else (entries,)
        return lists

    def same(a, b) -> bool:
        if a is b:
            return True
        if _type(a) is _MethodType and _type(b) is _MethodType:
            return a.__self__ is b.__self__ and a.__func__ is b.__func__
        return False

    base_snapshot = snapshot()
    base_lists = hook_lists()
    base_threads = _tuple(_enumerate_threads())

    def changes() -> list:
        found = []
        now = snapshot()
        for key, value in base_snapshot.items():
            if not same(now.get(key, _MISSING), value):
                found.append(".".join(key) + " changed")
                if _len(found) >= 12:
                    return found
        if found:
            return found
        lists = hook_lists()
        for name, before in base_lists.items():
            after = lists.get(name, ())
            if _any(_all(x is not y for y in after) for x in before):
                found.append(f"{name}: an entry was removed")
        for name, after in lists.items():
            before = base_lists.get(name, ())
            if _any(_all(x is not y for y in before) and code_origin(x) == "student" for x in after):
                found.append(f"{name}: the submission added one")
        for thread in _enumerate_threads():
            if _any(thread is t for t in base_threads) or not _is_alive(thread):
                continue
            kind = _type(thread)
            if kind is _Thread:
                target = _oget(thread, "_target")
            elif kind is _Timer:
                target = _oget(thread, "function")
            else:
                target = class_member(kind, "run")
            if code_origin(target, builtin_is_student=True) == "student":
                found.append("a thread the submission started was running")
                break
        return found

    report_fd = os.open(_join(run_dir, "report"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def suspicious(reason: str) -> None:
        if reason not in state["suspicious"]:
            state["suspicious"].append(reason)

    def stream(nonce: bytes, n: int) -> bytes:
        # keystream() above, on the builtins taken before student code ran (a submission can
        # rebind builtins.range; the grader's side calls keystream() itself)
        blocks = []
        for i in _range((n + 31) // 32):
            m = mac.copy()
            m.update(b"stream:" + nonce + b":" + i.to_bytes(8, "big"))
            blocks.append(m.digest())
        return b"".join(blocks)[:n]

    def rng_states() -> list:
        """The states of the global random generators the hidden tests may draw from."""
        found = [(_random_setstate, _random_getstate())]
        numpy_random = _modules.get("numpy.random")
        if numpy_random is not _None:
            try:
                found.append((numpy_random.set_state, numpy_random.get_state()))
            except _BaseException:  # noqa: BLE001
                pass
        torch = _modules.get("torch")
        if torch is not _None:
            try:
                found.append((torch.set_rng_state, torch.get_rng_state()))
            except _BaseException:  # noqa: BLE001
                pass
        return found

    def restore_rng(states) -> None:
        for setter, value in states:
            try:
                setter(value)
            except _BaseException:  # noqa: BLE001
                pass

    def write_record(nonce, exercise, visible, pieces, tampered) -> None:
        body = _repr((nonce, exercise, visible, pieces, tampered)).encode("utf-8")
        m = mac.copy()
        m.update(b"record\x00" + body)
        _write(report_fd, body + b"\t" + m.hexdigest().encode("ascii") + b"\n")

    def handle(args) -> None:
        if _len(args) != 3 or not _all(_type(a) is _str for a in args):
            return
        nonce, cipher, tag = args
        m = mac.copy()
        m.update(b"\x00".join((b"request", nonce.encode(), cipher.encode())))
        if not _compare(m.hexdigest(), tag):
            suspicious("sent a grading request the grader did not sign")
            return
        if nonce in state["done"]:
            return
        state["done"].add(nonce)
        raw = _b64decode(cipher.encode())
        plain = (_int_from(raw, "big") ^ _int_from(stream(nonce.encode(), _len(raw)), "big")).to_bytes(
            _len(raw), "big")
        exercise, _, code = plain.decode("utf-8").partition("\n")
        tampered = changes()
        visible, pieces = _None, ()
        if not tampered and not state["suspicious"]:
            ns = _dict(user_ns)
            ns.update(genuine_items)
            ns["__builtins__"] = _dict(builtins_copy)
            ns.update(helpers)
            state["busy"], local.inside = True, False
            streams = (sys_dict.get("stdout"), sys_dict.get("stderr"))
            generators = rng_states()
            sys_dict["stdout"] = sys_dict["stderr"] = _StringIO()  # hidden tests print nowhere
            try:  # the one place the package runs code it did not ship: the solution's hidden tests,
                # decrypted from the grader's request, in the grader's sandboxed kernel (tests/test_safety.py)
                _exec(_compile(code, _GRADER_FILE, "exec"), ns)
            except _BaseException:  # noqa: BLE001 - something escaped every handler of the grading code
                pass
            finally:
                sys_dict["stdout"], sys_dict["stderr"] = streams
                restore_rng(generators)  # the student's later cells draw what they would have drawn
                state["busy"], local.inside = False, True
            result = ns.get("_ck_r")
            if _type(result) is _dict and _type(result.get("visible")) is not _dict:
                v = result.get("visible")
                visible = v if _type(v) is _str and v in _STATUSES else (_None if v is _None else "error")
                got = result.get("pieces")
                if _type(got) is _dict:
                    pieces = _tuple(_sorted((k, s if s in _STATUSES else "error") for k, s in _list(got.items())
                                            if _type(k) is _str and _type(s) is _str))
            tampered = changes()
        write_record(nonce, exercise, visible, pieces, _tuple(tampered + state["suspicious"]))

    def internal_logging(frame) -> bool:
        """``logging`` asking for its caller's frame for a log record (it keeps no frame)."""
        outer = frame.f_back if frame is not _None else _None
        names = [f.f_globals.get("__name__") if _type(f.f_globals) is _dict else _None
                 for f in (frame, outer) if f is not _None]
        return _len(names) == 2 and names[0] == "logging" and names[1] == "logging"

    def verdict(event, args):
        """(reason, exception class) when the audited operation is refused, else None. Runs at depth
        3 below the audited call: verdict <- guard_hook <- the caller."""
        if event == "open":
            path = args[0] if _len(args) else _None
            if _type(path) is _str and path.startswith("/proc/") and path.endswith("/mem"):
                return "opened the memory of a process", _PermissionError
        elif event == "sys.addaudithook":
            return "tried to add an audit hook", _RuntimeError  # CPython then does not add the new hook
        elif event in _ALWAYS_DENIED:
            if (event not in ("sys.settrace", "sys.setprofile") or args[0] is not _None) and student_first(3):
                return _ALWAYS_DENIED[event], _PermissionError
        elif event.startswith("ctypes."):
            if student_first(3):
                return "used ctypes", _PermissionError
        elif event == "object.__setattr__":
            if (_len(args) >= 2 and args[1] in ("__code__", "__defaults__", "__kwdefaults__")
                    and _type(args[0]) is _FunctionType and code_origin(args[0]) == "library" and student_first(3)):
                return "changed the code of a library function", _PermissionError
        elif state["busy"]:  # frames: only while the grader's own code is on the stack
            if event == "sys._getframe" or (event == "object.__getattr__" and _len(args) >= 2
                                            and args[1] in _FRAME_ATTRS):
                if not (event == "sys._getframe" and internal_logging(_getframe(2))) and student_first(3):
                    return "looked at the grader's frames", _PermissionError
        return _None

    def guard_hook(event, args):
        if event not in _WATCHED or local.__dict__.get("inside", False):
            return
        local.inside = True
        try:
            if event == _REQUEST:
                if not state["busy"]:
                    handle(args)
                return
            try:
                refused = verdict(event, args)
            except _BaseException:  # noqa: BLE001 - never break an operation by a mistake of the guard
                refused = _None
            if refused is not _None:
                reason, error = refused
                suspicious(reason)
                raise error("not while grading")
        finally:
            local.inside = False

    try:  # no debugger and no /proc/<pid>/mem access to this process from its children
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except Exception:  # noqa: BLE001 - not Linux
        pass
    sys.addaudithook(guard_hook)
    # the HMAC object, the snapshot and the report now live only in guard_hook's closure


# --------------------------------------------------------------------------- static review

REVIEW = [
    (re.compile(r"\bctypes\b"), "ctypes"),
    (re.compile(r"\bgc\s*\.\s*get_(objects|referrers|referents)\b"), "gc introspection"),
    (re.compile(r"_getframe|\bcurrentframe\b|inspect\s*\.\s*stack\b|\btb_frame\b|\bf_back\b|\bf_globals\b|"
                r"\bf_locals\b|\bgi_frame\b|__closure__"), "frame or closure introspection"),
    (re.compile(r"\bsettrace\b|\bsetprofile\b|\baddaudithook\b|sys\s*\.\s*audit\b"), "interpreter hooks"),
    (re.compile(r"input_transformers|ast_transformers|\bevents\s*\.\s*register\b|display_pub\b|"
                r"\bdisplayhook\b"), "IPython internals"),
    (re.compile(r"coursekit\s*\.\s*grading|coursekit_hidden|\b_ck_|\b_ih\b|\b_i\d+\b|\bIn\s*\["),
     "the grader or the input history"),
    (re.compile(r"/proc\b|\bos\s*\.\s*(kill|killpg|fork|_exit)\b|\bsignal\s*\.|\bsubprocess\b|\bsocket\b"),
     "processes or the network"),
    (re.compile(r"(?<![\w.])(exec|eval|compile)\s*\(|__import__|__builtins__|\bimport\s+builtins\b|__code__"),
     "dynamic code"),
]


def review_notes(submission, released) -> list[str]:
    """What a human should look at: lines the student wrote (not in the released notebook) that
    use tools a forged result would need. Never changes a score."""
    given = {line.strip() for cell in released.cells if cell.get("cell_type") == "code"
             for line in cell.get("source", "").splitlines()}
    found: dict[str, list[int]] = {}
    for index, cell in enumerate(submission.cells):
        if cell.get("cell_type") != "code":
            continue
        for line in str(cell.get("source", "")).splitlines():
            text = line.strip()
            if not text or text in given or text.startswith("#"):
                continue
            for pattern, what in REVIEW:
                if pattern.search(text) and index not in found.setdefault(what, []):
                    found[what].append(index)
    return [f"review by hand: uses {what} (cell {', '.join(map(str, cells[:5]))})" for what, cells in found.items()]
