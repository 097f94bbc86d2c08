"""Write it yourself: run an exercise with the package functions it re-implements made to raise.

An exercise declares ``delegates=("coursekit.features.zscore", ...)``: the package versions a
student must not call to answer it. While a check (or a hidden test) runs, each of them raises
:class:`DelegationError` *when it is reached through the student's code*, however the student got
hold of it:

- ``coursekit.features.zscore(x)``, ``features.zscore(x)`` through a module alias,
  ``from coursekit.features import zscore as z`` earlier in the notebook (a name bound in the
  IPython namespace), a default argument or a closure: a plain Python function has its
  ``__code__`` swapped for a guard, so every reference to the function object is covered;
- classes: each method defined on the class, or inherited from another ``coursekit`` class, is
  guarded the same way (``ContentRecommender(...)`` raises in the student's code);
- anything else (a builtin, a wrapped or cached function): the attribute is replaced on its module
  and on every alias of the same object in the user namespace and in the ``coursekit`` modules;
- passing the package object itself (``check("u1.zscore", features.zscore)``, a subclass of a
  package class) is refused before the check runs.

The guard only raises when a frame of student code sits between the call and the place the
guard was entered: the check's own reference computations (package code, the exercise module)
and a hidden test's own comparisons still reach the real function. Everything is restored when
the guard exits. Calls from other threads are not covered (their stacks do not reach the guard).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import sysconfig
import threading
import types

MESSAGE = "write it yourself; the package version is for the cells after this exercise"


class DelegationError(BaseException):
    """Raised when student code calls a package function its exercise re-implements.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that ``except Exception`` in student code
    does not swallow it.
    """

    def __init__(self, name: str = ""):
        super().__init__(MESSAGE)
        self.name = name


def _library_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    prefixes = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}  # the coursekit package
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            prefixes.add(os.path.abspath(paths[key]))
    return tuple(sorted(p.rstrip(os.sep) + os.sep for p in prefixes))


_LIBRARY = _library_prefixes()


def _is_student_frame(frame, exempt_globals) -> bool:
    """Code a student wrote: not the library (stdlib, site-packages, coursekit), not the check module."""
    g = frame.f_globals
    if exempt_globals is not None and g is exempt_globals:
        return False  # the exercise's own check module (its reference computations)
    filename = frame.f_code.co_filename
    if filename.startswith("<frozen"):
        return False
    if os.path.isabs(filename) and os.path.abspath(filename).startswith(_LIBRARY):
        return False
    name = g.get("__name__") or ""
    return not (name == "coursekit" or name.startswith("coursekit."))  # e.g. dataclass-generated code


class _State(threading.local):
    def __init__(self):
        self.guards: list[WriteItYourself] = []


_STATE = _State()
_ORIGINALS: dict[str, object] = {}  # key -> callable reaching the real code while guarded


def _guarded_call(key: str, args: tuple, kwargs: dict):
    """Entry point of every guarded delegate: raise when reached through student code."""
    target = _ORIGINALS[key]
    guards = _STATE.guards
    if guards:
        guard = guards[-1]
        frame = sys._getframe(2)  # the caller of the guarded function
        while frame is not None and frame is not guard.boundary:
            if _is_student_frame(frame, guard.exempt_globals):
                raise DelegationError(key)
            frame = frame.f_back
    return target(*args, **kwargs)


def _template(*args, **kwargs):
    return __import__("coursekit.grading.delegation", fromlist=["_guarded_call"])._guarded_call(
        "__COURSEKIT_DELEGATE_KEY__", args, kwargs)


def _guard_code(key: str, original: types.CodeType) -> types.CodeType:
    """The template's code with this delegate's key (and name, for readable tracebacks)."""
    code = _template.__code__
    consts = tuple(key if c == "__COURSEKIT_DELEGATE_KEY__" else c for c in code.co_consts)
    names = {"co_name": original.co_name}
    if hasattr(original, "co_qualname"):
        names["co_qualname"] = original.co_qualname
    return code.replace(co_consts=consts, **names)


def resolve(dotted: str):
    """The object a dotted path names: ``"coursekit.features.zscore"``,
    ``"coursekit.models.ContentRecommender"``, ``"coursekit.models.content.ContentRecommender.fit"``.
    Returns (owner, attribute name, object)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:-1]:
                owner = getattr(owner, name)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            break
    raise LookupError(f"delegate {dotted!r} names nothing importable; write it as module.function "
                      "(e.g. coursekit.features.zscore) in the exercise's delegates")


def _unwrap(obj):
    for _ in range(5):
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, (types.MethodType, staticmethod, classmethod)):
            obj = obj.__func__
        else:
            break
    return obj


def _user_namespace() -> dict | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "user_ns", None) if shell is not None else None


class WriteItYourself:
    """Context manager: the ``delegates`` raise :class:`DelegationError` in student code inside it.

    ``namespace``: the user namespace whose aliases are patched too (default: IPython's
    ``user_ns`` when running in a kernel). ``exempt_globals``: the globals of code that may call
    the delegates freely (the exercise's check module).
    """

    def __init__(self, delegates=(), *, namespace: dict | None = None, exempt_globals: dict | None = None):
        self.delegates = tuple(delegates)
        self.namespace = namespace
        self.exempt_globals = exempt_globals
        self.boundary = None
        self._undo: list = []
        self.objects: dict[str, object] = {}

    # ------------------------------------------------------------------ entering / leaving
    def __enter__(self):
        self.boundary = sys._getframe(1)
        namespace = self.namespace if self.namespace is not None else _user_namespace()
        try:
            for dotted in self.delegates:
                owner, name, obj = resolve(dotted)
                self.objects[dotted] = obj
                self._guard(dotted, owner, name, obj, namespace)
        except BaseException:
            self._restore()
            raise
        _STATE.guards.append(self)
        return self

    def __exit__(self, *exc):
        if _STATE.guards and _STATE.guards[-1] is self:
            _STATE.guards.pop()
        self._restore()
        self.boundary = None
        return False

    def _restore(self) -> None:
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception:  # keep restoring the rest
                pass

    # ------------------------------------------------------------------ guarding one object
    def _guard(self, key, owner, name, obj, namespace) -> None:
        if isinstance(obj, type):
            # The class's own methods and those it inherits from other coursekit classes (a
            # package class whose work sits in a package base class must not slip through);
            # framework bases such as keras.Model stay untouched: student classes use them too.
            for cls in obj.__mro__:
                module = getattr(cls, "__module__", "") or ""
                if cls is not obj and not (module == "coursekit" or module.startswith("coursekit.")):
                    continue
                for attr, value in list(vars(cls).items()):
                    func = _unwrap(value)
                    if isinstance(func, types.FunctionType):
                        method_key = f"{module}.{cls.__qualname__}.{attr}"
                        if not self._swap_code(method_key, func):
                            self._replace_method(method_key, cls, attr, value, func)
            return
        func = _unwrap(obj)
        if not (isinstance(func, types.FunctionType) and self._swap_code(key, func)):
            self._replace_everywhere(key, obj, owner, name, namespace)

    def _swap_code(self, key, func) -> bool:
        """Swap the function's code for a guard: every reference to it is covered."""
        if key in _ORIGINALS:  # already guarded by an enclosing guard
            return True
        if func.__code__.co_freevars:  # a closure (or super()): its code cannot be swapped
            return False
        real = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__)
        real.__kwdefaults__ = func.__kwdefaults__
        _ORIGINALS[key] = real
        saved = func.__code__
        func.__code__ = _guard_code(key, saved)

        def undo(func=func, saved=saved, key=key):
            func.__code__ = saved
            _ORIGINALS.pop(key, None)

        self._undo.append(undo)
        return True

    def _guarded(self, key, obj):
        """Keep ``obj`` as the original of ``key`` (until undone) and return the wrapper that
        refuses calls to it."""
        _ORIGINALS[key] = obj
        self._undo.append(lambda: _ORIGINALS.pop(key, None))

        @functools.wraps(obj)
        def guarded(*args, **kwargs):
            return _guarded_call(key, args, kwargs)

        return guarded

    def _replace_method(self, key, cls, attr, value, func) -> None:
        if key in _ORIGINALS:
            return
        guarded = self._guarded(key, func)
        kind = type(value) if isinstance(value, (staticmethod, classmethod)) else None
        setattr(cls, attr, kind(guarded) if kind else guarded)
        self._undo.append(lambda: setattr(cls, attr, value))

    def _replace_everywhere(self, key, obj, owner, name, namespace) -> None:
        """Replace ``owner.name`` and every alias of ``obj`` in the user namespace and the
        coursekit modules (for objects whose code cannot be swapped)."""
        if key in _ORIGINALS:
            return
        guarded = self._guarded(key, obj)
        spaces = [namespace] if namespace is not None else []
        spaces += [vars(m) for n, m in list(sys.modules.items())
                   if m is not None and (n == "coursekit" or n.startswith("coursekit."))]
        if isinstance(owner, types.ModuleType):
            spaces.append(vars(owner))
        else:
            setattr(owner, name, guarded)
            self._undo.append(lambda: setattr(owner, name, obj))
        seen = set()
        for space in spaces:
            if id(space) in seen:
                continue
            seen.add(id(space))
            for alias, value in list(space.items()):
                if value is obj:
                    space[alias] = guarded
                    self._undo.append(lambda space=space, alias=alias: space.__setitem__(alias, obj))

    # ------------------------------------------------------------------ the student passed the package object
    def handed_over(self, *values) -> str | None:
        """The delegate a student passed in place of their own answer (or None)."""
        for value in values:
            value = _unwrap(value)
            for dotted, obj in self.objects.items():
                if value is obj or value is _unwrap(obj):
                    return dotted
                if isinstance(obj, type) and isinstance(value, type) and issubclass(value, obj):
                    return dotted
        return None


    def refuse_handed_over(self, *args, **kwargs) -> None:
        """Raise :class:`DelegationError` when any argument is a delegate itself (the hidden tests
        of an exercise whose answer *is* the package function must fail like its check)."""
        handed = self.handed_over(*args, *kwargs.values())
        if handed:
            raise DelegationError(handed)


def write_it_yourself(delegates=(), **kwargs) -> WriteItYourself:
    """``with write_it_yourself(("coursekit.features.zscore",)): ...`` (see :class:`WriteItYourself`)."""
    return WriteItYourself(delegates, **kwargs)
