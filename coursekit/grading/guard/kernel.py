"""The kernel's side of a guarded run: :func:`arm` installs the guard (see :mod:`coursekit.grading.guard`).

The guard is built from four parts, each a factory whose closures hold what it needs, all taken
before any student code runs:

- :func:`_frozen`: the genuine builtins and functions the guard calls (student code may rebind
  ``builtins.len``; the guard's ``_len`` stays the original);
- :func:`_origin_rules`: whose code a frame or a callable is (the student's, a library's, the
  standard library's, the grader's);
- :func:`_watcher`: the snapshot of what grading relies on and ``changes()`` against it;
- :func:`_refusals`: the operations refused while grading (``verdict``);
- :func:`_requests`: a grading request decrypted, run and recorded (``handle``).

:func:`arm` wires them into one audit hook. Nothing here is reachable from a module global: the
parts live only in the hook's closures.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from types import SimpleNamespace

from .channel import (ALWAYS_DENIED, FRAME_ATTRS, FULL_ROOTS, GRADER_FILE, LAZY_PATCHERS, REQUEST, STATUSES, WATCHED,
                      new_mac)


def _prefixes():
    import sysconfig

    paths = sysconfig.get_paths()
    stdlib = {paths.get("stdlib"), paths.get("platstdlib")}
    library = {paths.get("purelib"), paths.get("platlib"),
               os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}  # coursekit
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


def _frozen() -> SimpleNamespace:
    """The genuine objects the guard uses, taken before any student code runs."""
    import functools
    import io
    import random
    from binascii import a2b_base64
    from hmac import compare_digest

    return SimpleNamespace(
        len=len, type=type, issubclass=issubclass, repr=repr, str=str, tuple=tuple, sorted=sorted, dict=dict,
        list=list, callable=callable, any=any, all=all, set=set, range=range, exec=exec, compile=compile,
        BaseException=BaseException, PermissionError=PermissionError, RuntimeError=RuntimeError, None_=None,
        getframe=sys._getframe, gettrace=sys.gettrace, getprofile=sys.getprofile, modules=sys.modules,
        isabs=os.path.isabs, write=os.write, ModuleType=types.ModuleType, FunctionType=types.FunctionType,
        MethodType=types.MethodType, BuiltinFunctionType=types.BuiltinFunctionType, partial=functools.partial,
        staticmethod=staticmethod, classmethod=classmethod, property=property,
        type_dict=type.__dict__["__dict__"].__get__,      # a class's own namespace, never through its metaclass
        type_mro=type.__dict__["__mro__"].__get__, module_dict=types.ModuleType.__dict__["__dict__"].__get__,
        enumerate_threads=threading.enumerate, Thread=threading.Thread, Timer=threading.Timer,
        is_alive=threading.Thread.is_alive, oget=object.__getattribute__, b64decode=a2b_base64,
        compare=compare_digest, int_from=int.from_bytes, StringIO=io.StringIO, random_getstate=random.getstate,
        random_setstate=random.setstate, MISSING=object(),
    )


def _origin_rules(F: SimpleNamespace, library: tuple, stdlib: tuple) -> SimpleNamespace:
    """Whose code a frame or a callable is."""
    _type, _str, _dict, _None, _range, _isabs = F.type, F.str, F.dict, F.None_, F.range, F.isabs
    _issub, _modules, _getframe, _module_dict = F.issubclass, F.modules, F.getframe, F.module_dict
    _ModuleType, _FunctionType, _MethodType, _BuiltinFunctionType = (F.ModuleType, F.FunctionType, F.MethodType,
                                                                     F.BuiltinFunctionType)
    _partial, _type_dict, _type_mro, _GRADER_FILE = F.partial, F.type_dict, F.type_mro, GRADER_FILE
    lib_or_std = library + stdlib
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

    return SimpleNamespace(origin=origin, student_first=student_first, code_origin=code_origin,
                           class_member=class_member)


def _watcher(F: SimpleNamespace, rules: SimpleNamespace, *, shell, user_ns, registry, sys_dict, singles, full):
    """The snapshot of what grading relies on, taken now, and ``changes()`` against it."""
    _type, _str, _list, _tuple, _None, _len, _any, _all = F.type, F.str, F.list, F.tuple, F.None_, F.len, F.any, F.all
    _dict = F.dict
    _callable, _issub, _modules, _module_dict, _oget = F.callable, F.issubclass, F.modules, F.module_dict, F.oget
    _ModuleType, _FunctionType, _MethodType = F.ModuleType, F.FunctionType, F.MethodType
    _staticmethod, _classmethod, _property, _type_dict = F.staticmethod, F.classmethod, F.property, F.type_dict
    _gettrace, _getprofile, _MISSING = F.gettrace, F.getprofile, F.MISSING
    _enumerate_threads, _Thread, _Timer, _is_alive = F.enumerate_threads, F.Thread, F.Timer, F.is_alive
    code_origin, class_member = rules.code_origin, rules.class_member

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

    return changes


def _refusals(F: SimpleNamespace, rules: SimpleNamespace, state: dict):
    """``verdict(event, args)``: (reason, exception class) when an audited operation is refused."""
    _type, _str, _dict, _len, _None, _getframe = F.type, F.str, F.dict, F.len, F.None_, F.getframe
    _PermissionError, _RuntimeError, _FunctionType = F.PermissionError, F.RuntimeError, F.FunctionType
    _ALWAYS_DENIED, _FRAME_ATTRS = dict(ALWAYS_DENIED), FRAME_ATTRS
    student_first, code_origin = rules.student_first, rules.code_origin

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

    return verdict


def _requests(F: SimpleNamespace, mac, report_fd: int, state: dict, local, changes, *, user_ns, genuine_items,
              builtins_copy, helpers, sys_dict) -> SimpleNamespace:
    """``handle(args)``: one grading request checked, decrypted, run and recorded."""
    _type, _str, _len, _all, _None, _range, _tuple, _sorted, _list, _dict = (
        F.type, F.str, F.len, F.all, F.None_, F.range, F.tuple, F.sorted, F.list, F.dict)
    _BaseException, _repr, _write, _exec, _compile = F.BaseException, F.repr, F.write, F.exec, F.compile
    _compare, _b64decode, _int_from, _StringIO = F.compare, F.b64decode, F.int_from, F.StringIO
    _random_getstate, _random_setstate, _modules = F.random_getstate, F.random_setstate, F.modules
    _GRADER_FILE, _STATUSES = GRADER_FILE, frozenset(STATUSES)

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

    return SimpleNamespace(handle=handle, suspicious=suspicious)


def _modules_to_watch(config: dict, genuine: dict) -> frozenset:
    """Modules watched whole (beyond ``FULL_ROOTS``): the solution's imports, the check modules'
    imports and the modules on the chains the hidden tests use."""
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
    return frozenset(singles)


def _load(config: dict) -> dict:
    """Import what grading uses and resolve what libraries rebind on first use; returns the
    solution's own import bindings (without the names the exercises define: those stay the
    student's)."""
    for name in config.get("modules", []):
        try:
            __import__(name)
        except BaseException:  # noqa: BLE001 - a package this machine lacks
            pass
    genuine = _import_bindings(config.get("imports", ""))
    for name in config.get("student_names", []):
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
    return genuine


def arm(run_dir: str, config_json: str) -> None:
    """Install the guard (the grader's first cell; see :mod:`coursekit.grading.guard`).

    Everything the hook uses later is bound here, before any student code runs, in the closures
    of the parts above: no module global and no builtin is looked up at grading time, and the
    hook never calls an object student code could define.
    """
    import builtins
    import json

    config = json.loads(config_json)
    key_path = os.path.join(run_dir, "key")
    with open(key_path, "rb") as fh:
        key = fh.read()
    os.unlink(key_path)
    mac = new_mac(key)
    del key

    genuine = _load(config)
    from IPython import get_ipython

    from .. import checks, delegation, scoring

    shell = get_ipython()
    F = _frozen()
    stdlib, library = _prefixes()
    rules = _origin_rules(F, library, stdlib)
    user_ns = shell.user_ns if shell is not None else vars(sys.modules["__main__"])
    sys_dict = F.module_dict(sys)
    changes = _watcher(F, rules, shell=shell, user_ns=user_ns, registry=checks._EXERCISES, sys_dict=sys_dict,
                       singles=_modules_to_watch(config, genuine), full=tuple(config.get("roots", FULL_ROOTS)))
    state = {"busy": False, "done": set(), "suspicious": []}
    local = threading.local()
    verdict = _refusals(F, rules, state)
    report_fd = os.open(os.path.join(run_dir, "report"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    helpers = {"_ck_grade_check": checks.grade_check, "_ck_wiy": delegation.write_it_yourself,
               "_ck_HiddenRun": scoring.HiddenRun}
    requests = _requests(F, mac, report_fd, state, local, changes, user_ns=user_ns,
                         genuine_items=tuple(genuine.items()), builtins_copy=dict(vars(builtins)), helpers=helpers,
                         sys_dict=sys_dict)
    handle, suspicious = requests.handle, requests.suspicious
    _WATCHED, _REQUEST, _BaseException, _None = WATCHED, REQUEST, F.BaseException, F.None_

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
    # the HMAC object, the snapshot and the report now live only in guard_hook's closures
