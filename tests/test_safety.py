"""No code from data: the package never calls eval/exec, pickle only behind an explicit opt-in, and
archives are unpacked only by the checked extractor (datasets/_archive.py)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "coursekit"
# The only places allowed to unpickle, each behind an `allow_pickle` argument that defaults to False.
PICKLE_GATES = {("datasets/_io.py", "read_pickle"), ("datasets/_io.py", "read_object_npy")}
# The one function allowed to run code: the grader's guard, running a solution's hidden tests inside
# the grader's sandboxed kernel (it calls the builtins it captured before student code ran, `_exec`).
CODE_GATES = {("grading/guard/kernel.py", "_requests")}


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _calls(node):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            yield sub


def _name(call):
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else "?"
        return f"{base}.{f.attr}"
    return ""


def scan():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        gated = {fn.name for fn in _functions(tree) if (rel, fn.name) in PICKLE_GATES}
        gate_nodes = {id(n) for fn in _functions(tree) if fn.name in gated for n in ast.walk(fn)}
        code_nodes = {id(n) for fn in _functions(tree) if (rel, fn.name) in CODE_GATES for n in ast.walk(fn)}
        for call in _calls(tree):
            name = _name(call)
            where = f"{rel}:{call.lineno}"
            if name in ("eval", "exec", "builtins.eval", "builtins.exec", "compile", "_exec", "_compile") \
                    and id(call) not in code_nodes:
                problems.append(f"{where}: {name}()")
            if name in ("pickle.load", "pickle.loads", "pickle.Unpickler", "joblib.load", "torch.load"):
                if id(call) not in gate_nodes:
                    problems.append(f"{where}: {name}() outside an opt-in gate")
            if name.split(".")[-1] in ("extractall", "extract", "unpack_archive") and rel != "datasets/_archive.py":
                problems.append(f"{where}: {name}() outside datasets/_archive.py (use extract_archive)")
            if not name.split(".")[-1].startswith("load"):
                continue  # writing object arrays (np.save) runs no code; reading does
            for kw in call.keywords:
                if kw.arg != "allow_pickle" or (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    continue
                passed_on = (isinstance(kw.value, ast.Name) and kw.value.id == "allow_pickle") or (
                    isinstance(kw.value, ast.Attribute) and kw.value.attr == "allow_pickle")
                if id(call) not in gate_nodes and not passed_on:
                    problems.append(f"{where}: allow_pickle={ast.unparse(kw.value)} outside an opt-in gate")
    return problems


def test_no_eval_exec_or_unguarded_pickle():
    assert scan() == []


def test_gates_default_to_refusing():
    import inspect

    from coursekit.datasets import _io

    for _, fn in PICKLE_GATES:
        sig = inspect.signature(getattr(_io, fn))
        assert sig.parameters["allow_pickle"].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters["allow_pickle"].default is inspect.Parameter.empty  # must be said explicitly


def test_scan_catches_offenders(tmp_path, monkeypatch):
    bad = PACKAGE / "_scan_probe_tmp.py"
    bad.write_text("import pickle, numpy as np\nx = eval('1')\ny = pickle.load(open('f','rb'))\nz = np.load('f', allow_pickle=True)\n"
                   "import tarfile\ntarfile.open('a.tar').extractall('x')\n")
    try:
        found = scan()
    finally:
        bad.unlink()
    assert len([p for p in found if p.startswith("_scan_probe_tmp.py")]) == 4
