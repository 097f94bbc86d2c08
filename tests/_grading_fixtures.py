"""Fixture notebooks for the grading tests: a small unit-1 solution and the submissions built from it.

``small_solution()`` is a unit-1 notebook written here in the grading markup: the four unit-1
exercises (checked by the real ``coursekit/grading/exercises/u1.py``), hidden tests split into
parts with points, two written questions with rubrics. It runs in a few seconds. ``answered`` and
``delegating`` also apply to the real ``solutions/01_content_based_art.ipynb`` (on copies: the
real solution is never edited); delegating bodies are written from each exercise's own signature.
"""

from __future__ import annotations

import base64
import dataclasses
import io
from contextlib import contextmanager
from pathlib import Path

import nbformat

from coursekit.grading import checks
from coursekit.grading.release import BEGIN_HIDDEN, END_HIDDEN

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "01_content_based_art.ipynb"
EXERCISES = ["u1.zscore", "u1.cosine_topk", "u1.recommend", "u1.ndcg"]

# what the unit-1 exercises re-implement (used where u1.py does not declare delegates yet)
U1_DELEGATES = {
    "u1.zscore": ("coursekit.features.zscore",),
    "u1.cosine_topk": ("coursekit.models.ContentRecommender", "coursekit.ranking.top_k"),
    "u1.recommend": ("coursekit.models.ContentRecommender", "coursekit.ranking.top_k"),
    "u1.ndcg": ("coursekit.metrics.ndcg_at_k",),
}
# points of the small solution's exercises (its hidden parts are written for these)
SMALL_POINTS = {"u1.zscore": 3, "u1.cosine_topk": 2, "u1.recommend": 2, "u1.ndcg": 1}

Q1 = """**Question u1.q1** (2 points) Why is a convolutional network a good choice to describe artworks
for recommendation? What might it miss?

### BEGIN RUBRIC
- (1 point) Says what the features capture: colour, texture, shape, composition, from pixels.
- (1 point) Names something they miss: artist, medium, price, story or style conventions.
### END RUBRIC

### BEGIN SOLUTION
A CNN turns pixels into features that summarise colour, texture and shape; a network trained on
photographs misses what is not visual: the artist, the medium, the price.
### END SOLUTION"""

Q2 = """**Question u1.q2** (3 points) Why reduce each vector with PCA? When could it hurt?

### BEGIN RUBRIC
- (1 point) PCA keeps the directions of largest variance.
- (1 point) Cheaper search and less noise in the distances.
- (1 point) A rare trait in a low-variance direction is lost for good.
### END RUBRIC

### BEGIN SOLUTION
PCA keeps the directions along which artworks differ most ($x \\mapsto W^\\top x$); search gets cheaper and
distances less noisy, but a rare trait that lives in a low-variance direction is lost for good.
### END SOLUTION"""

ZSCORE_HIDDEN = """_x = np.array([[1.0, 5.0], [3.0, 5.0]])
# part: ordinary columns (1 point)
assert np.allclose(zscore(_x)[:, 0], [-1.0, 1.0])
# part: constant column stays 0 (1 point)
assert np.allclose(zscore(_x)[:, 1], [0.0, 0.0])"""

COSINE_HIDDEN = """_f = np.eye(4) + 0.1
# part: query left out (1 point)
assert 0 not in cosine_top_k(_f, 0, 3)"""


def _png(colour=(200, 30, 30)) -> str:
    """A small PNG (base64) drawn with matplotlib's image writer."""
    import numpy as np
    from matplotlib import image

    buf = io.BytesIO()
    image.imsave(buf, np.tile(np.array(colour, dtype=np.uint8), (12, 16, 1)), format="png")
    return base64.b64encode(buf.getvalue()).decode()


EXERCISE_CELLS = {
    "u1.zscore": '''# Exercise u1.zscore: z-score with a zero-variance guard
def zscore(x):
    """Standardise each column of x (n, d) to mean 0 and std 1; constant columns become 0."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)
    ### END SOLUTION''',
    "u1.cosine_topk": '''# Exercise u1.cosine_topk: the k most similar artworks by cosine similarity
def cosine_top_k(features, query, k):
    """Indices (k,) of the rows of features (n, d) most cosine-similar to row `query`, best first."""
    ### BEGIN SOLUTION
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    scores = unit @ unit[query]
    scores[query] = -np.inf
    best = np.argpartition(-scores, k - 1)[:k]
    return best[np.argsort(-scores[best], kind="stable")]
    ### END SOLUTION''',
    "u1.recommend": '''# Exercise u1.recommend: recommend from a profile, consumed items left out
def recommend_for_profile(features, consumed, k):
    """Indices (k,) of the best artworks for a user who bought rows `consumed`, best first."""
    ### BEGIN SOLUTION
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    scores = (unit[consumed] @ unit.T).mean(axis=0)
    scores[consumed] = -np.inf
    best = np.argpartition(-scores, k - 1)[:k]
    return best[np.argsort(-scores[best], kind="stable")]
    ### END SOLUTION''',
    "u1.ndcg": '''# Exercise u1.ndcg: nDCG@k of one ranked list
def ndcg_at_k(recommended, relevant, k):
    """nDCG@k (float) of one ranked list of item indices against a set of relevant items."""
    ### BEGIN SOLUTION
    hits = np.isin(np.asarray(recommended)[:k], relevant)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(len(relevant), k)].sum()
    return float((hits * discounts[: len(hits)]).sum() / ideal) if ideal > 0 else 0.0
    ### END SOLUTION''',
}
CHECK_CELLS = {
    "u1.zscore": f'check("u1.zscore", zscore)\n{BEGIN_HIDDEN}\n{ZSCORE_HIDDEN}\n{END_HIDDEN}',
    "u1.cosine_topk": f'check("u1.cosine_topk", cosine_top_k)\n{BEGIN_HIDDEN}\n{COSINE_HIDDEN}\n{END_HIDDEN}',
    "u1.recommend": f'check("u1.recommend", recommend_for_profile)\n{BEGIN_HIDDEN}\n'
                    f'_r = recommend_for_profile(np.eye(5) + 0.01, np.array([0, 1]), 3)\n'
                    f'assert 0 not in _r and 1 not in _r\n{END_HIDDEN}',
    "u1.ndcg": f'check("u1.ndcg", ndcg_at_k)\n{BEGIN_HIDDEN}\n'
               f'assert abs(ndcg_at_k(np.array([5, 1]), np.array([1]), 2) - 1 / np.log2(3)) < 1e-9\n{END_HIDDEN}',
}


def small_solution() -> nbformat.NotebookNode:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("# Unit 1 (grading fixture)"),
             code('DATA_SOURCE = "toy"\nSEED = 0', metadata={"tags": ["parameters"]}),
             code("import numpy as np\n\nimport coursekit\nfrom coursekit import check, features, metrics\n"
                  "from coursekit.models import ContentRecommender"),
             md(Q1)]
    for ex in EXERCISES:
        cells += [md(f"### Exercise {ex}"), code(EXERCISE_CELLS[ex]), code(CHECK_CELLS[ex])]
        if ex == "u1.zscore":
            cells.append(md(Q2))
    cells.append(md("## Summary\n\nThat is all: $\\mathrm{nDCG}@k = \\frac{\\mathrm{DCG}@k}{\\mathrm{IDCG}@k}$, and\n\n"
                    "$$\\sum_{i=1}^{k} \\frac{1}{\\log_2(i+1)}$$\n\nis the ideal gain of $k$ hits."))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb



def small_course(root: Path) -> tuple[Path, Path, nbformat.NotebookNode]:
    """``root/solutions`` holding the small unit-1 solution and an empty ``root/submissions``:
    (solutions folder, submissions folder, the solution notebook)."""
    solutions, folder = root / "solutions", root / "submissions"
    solutions.mkdir()
    folder.mkdir()
    small = small_solution()
    nbformat.write(small, solutions / SOLUTION.name)
    return solutions, folder, small

def answered(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What a student who solved every exercise submits (solutions in, no hidden tests).
    Written answers are left as the template."""
    from coursekit.grading.release import answer_key

    return answer_key(solution)


def edit(nb, marker, old, new):
    cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source)
    assert old in cell.source, (marker, old)
    cell.source = cell.source.replace(old, new)


def add_cell_after(nb, marker, cell):
    index = next(i for i, c in enumerate(nb.cells) if marker in c.source)
    nb.cells.insert(index + 1, cell)


def _signature(nb, ex: str) -> tuple[object, list[str]]:
    import ast

    cell = next(c for c in nb.cells if c.cell_type == "code" and f"# Exercise {ex}:" in c.source)
    fn = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef))
    return cell, [a.arg for a in fn.args.args]


def replace_exercise_body(nb, ex: str, body: str) -> None:
    """Replace the body of the function an exercise cell defines (after its docstring).
    ``body`` may name the function's arguments as {0}, {1}, ..."""
    cell, args = _signature(nb, ex)
    lines = cell.source.splitlines()
    doc = next(i for i, l in enumerate(lines) if l.strip().startswith('"""'))
    cell.source = "\n".join(lines[: doc + 1] + ["    " + l for l in body.format(*args).strip().splitlines()])


DELEGATING = {  # through a module alias, an imported class, a module path, an alias bound earlier
    "u1.zscore": "import coursekit.features as _feat\nreturn _feat.zscore({0})",
    "u1.cosine_topk": "from coursekit.models import ContentRecommender as _CR\n"
                      "return _CR('cosine').fit({0}).similar_items([{1}], {2})[0][0]",
    "u1.recommend": "import numpy as _np\nfrom coursekit.models import ContentRecommender as _CR\n"
                    "_p = _np.zeros((1, len({0})))\n_p[0, {1}] = 1\n"
                    "return _CR('cosine').fit({0}).recommend(_p, {2})[0][0]",
    "u1.ndcg": "import numpy as _np\nreturn float(pkg_ndcg(_np.array([{0}]), [{1}], {2})[0])",
    "u1.mmr": "import numpy as _np\nfrom coursekit.ranking import mmr as _mmr\n"
              "return _mmr(_np.asarray({0})[None, :], {1}, {2}, {3})[0][0]",
}
ALIAS_CELL = "from coursekit.metrics import ndcg_at_k as pkg_ndcg  # bound early, used in u1.ndcg"


def delegating(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every exercise answered by calling the package version (those the notebook has)."""
    nb = answered(solution)
    for ex, body in DELEGATING.items():
        if any(f"# Exercise {ex}:" in c.source for c in nb.cells if c.cell_type == "code"):
            replace_exercise_body(nb, ex, body)
    add_cell_after(nb, "import coursekit", nbformat.v4.new_code_cell(ALIAS_CELL))
    return nb


def answer_question(nb, qid: str, text: str, *, image: bool = False) -> None:
    """Write ``text`` in place of the template of question ``qid`` (optionally with a pasted image)."""
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and f"Question {qid}" in c.source)
    body = text + ("\n\n![sketch](attachment:sketch.png)" if image else "")
    cell.source = cell.source.replace("_Write your answer here._", body)
    if image:
        cell["attachments"] = {"sketch.png": {"image/png": _png()}}


@contextmanager
def registry(points: dict[str, int] | None = None, delegates: dict[str, tuple] | None = None):
    """The unit-1 exercises with these points and (where u1.py declares none) these delegates, in
    this process: the grader reads points and delegates here before any kernel runs."""
    saved = {}
    try:
        for ex in EXERCISES:
            current = checks.get_exercise(ex)
            saved[ex] = current
            changes = {}
            if points and ex in points:
                changes["points"] = points[ex]
            if delegates and ex in delegates and not current.delegates:
                changes["delegates"] = tuple(delegates[ex])
            checks._EXERCISES[ex] = dataclasses.replace(current, **changes)
        yield
    finally:
        checks._EXERCISES.update(saved)


# --------------------------------------------------------------------------- hostile submissions

WRONG = {  # wrong answers of the right shape: every visible check and every hidden part fails
    "u1.zscore": "import numpy as _np\nreturn _np.asarray({0}, dtype=float) + 1.0",
    "u1.cosine_topk": "import numpy as _np\nreturn _np.arange({2})",
    "u1.recommend": "import numpy as _np\nreturn _np.arange({2})",
    "u1.ndcg": "return 1.0",
}


def wrong(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every exercise answered wrongly (the shapes are right, the values are not)."""
    nb = answered(solution)
    for ex, body in WRONG.items():
        replace_exercise_body(nb, ex, body)
    return nb


def with_cell(nb, source: str, *, after: str | None = None) -> nbformat.NotebookNode:
    """``nb`` with a code cell added after the first cell containing ``after`` (default: at the end)."""
    cell = nbformat.v4.new_code_cell(source)
    if after is None:
        nb.cells.append(cell)
    else:
        add_cell_after(nb, after, cell)
    return nb


def forged_results_cell(solution: nbformat.NotebookNode) -> str:
    """Display, for every exercise, the metadata the checks and the old grader wrote: passed."""
    from coursekit.grading.grade import grading_specs

    lines = ["from IPython.display import display"]
    for spec in grading_specs(solution):
        pieces = {"setup": "passed", "hidden tests": "passed", **{p.name: "passed" for p in spec.hidden.parts}}
        visible = {"exercise": spec.id, "status": "passed", "message": "", "hint": ""}
        hidden = {"exercise": spec.id, "visible": "passed", "message": "", "pieces": pieces}
        lines.append(f"display({{'text/plain': 'PASS {spec.id}'}}, raw=True, "
                     f"metadata={{'coursekit': {visible!r}, 'coursekit_hidden': {hidden!r}}})")
    return "\n".join(lines)


PATCH_NUMPY = ("import numpy\nnumpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n"
               "numpy.testing.assert_allclose = lambda *a, **k: None")

LEAK_HISTORY = "print('HISTORY', [h for h in _ih if 'assert' in h], In[:3])"

PROBE = '''import glob, os, socket
# follow the parent's cwd up to the grader's folder, as the attack on the old grader did
try:
    where = os.readlink(f"/proc/{{os.getppid()}}/cwd")
except OSError as exc:
    where = "/"
    print("PROC", repr(exc))
print("PPID", os.getppid(), "CWD OF PARENT", where, "PIDS", sorted(p for p in os.listdir("/proc") if p.isdigit()))
while True:
    for name in ("solutions", "submissions"):
        folder = os.path.join(where, name)
        if os.path.isdir(folder):
            for path in sorted(glob.glob(os.path.join(folder, "*.ipynb"))):
                print("READ", path, open(path).read())
    if where in ("/", ""):
        break
    where = os.path.dirname(where)
for path in ({solution!r}, {other!r}):
    try:
        print("READ", path, open(path).read())
    except OSError as exc:
        print("BLOCKED", path, type(exc).__name__)
print("TMP", glob.glob("/tmp/*") + glob.glob("/tmp/*/*"))
print("HOME", os.environ.get("HOME"), os.listdir(os.path.expanduser("~")))
# the grader's environment
print("ENV", dict(os.environ))
for path in ("/proc/1/environ", "/proc/self/environ", "/proc/1/cmdline"):
    try:
        print("PROCFILE", path, open(path, "rb").read())
    except OSError as exc:
        print("BLOCKED", path, type(exc).__name__)
# servers on the grading machine's loopback and in its /tmp
for family, address in ((socket.AF_INET, ("127.0.0.1", {port})), (socket.AF_UNIX, {unix!r})):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(address)
        s.sendall(b"hello from a submission")
        print("CONNECTED", address)
    except OSError as exc:
        print("NO CONNECTION", address, type(exc).__name__)
    finally:
        s.close()
'''

VANDAL = '''import os, signal
for path in {targets!r}:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write("pwned")
        print("WROTE", path)
    except OSError as exc:
        print("BLOCKED", path, type(exc).__name__)
for pid in (os.getppid(), 1):  # kill the grader, then the sandbox's init
    try:
        os.kill(pid, signal.SIGKILL)
        print("KILLED", pid)
    except OSError as exc:
        print("NOT KILLED", pid, type(exc).__name__)
print("STILL HERE")
'''

# bounded (about 2,000 processes at most), so that a failed sandbox cannot sink the machine
FORK_BOMB = ("import subprocess, time\n"
             "subprocess.Popen(['bash', '-c',\n"
             "                  'b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & fi; sleep 20; }; b 10'])\n"
             "time.sleep(20)")

FLOOD = ("import time\nfor _ in range(500):\n    print('x' * 100_000)\n"
         "time.sleep(5)  # the grader keeps reading the flood\n"
         "with open('big.bin', 'wb') as fh:\n    for _ in range({mb}):\n        fh.write(b'y' * 2**20)\n"
         "time.sleep(4)\nprint('NOT STOPPED')")

PATCH_GRADER = ("import coursekit.grading.checks as _c\n"
                "class _Passed:\n    status = 'passed'\n    message = ''\n"
                "_c.grade_check = lambda *a, **k: _Passed()\n"
                "for _ex in list(_c._EXERCISES.values()):\n    object.__setattr__(_ex, 'test', lambda *a, **k: None)")

GC_HUNT = ("import gc\ntry:\n    print('OBJECTS', len(gc.get_objects()))\nexcept Exception as exc:\n"
           "    print('GC', type(exc).__name__, exc)")

BLANK_GRADER = ("get_ipython().input_transformers_cleanup.append(\n"
                "    lambda lines: ['pass\\n'] if any('coursekit' in l for l in lines) else lines)")

SCRIBBLE = ('import glob, os\n'
            'for path in glob.glob(os.path.join(os.environ.get("HOME", "."), "..", "run", "report")):\n'
            '    with open(path, "a") as fh:\n'
            '        fh.write("(\'0\', \'u1.zscore\', \'passed\', (), ())\\tdeadbeef\\n")\n'
            '        print("SCRIBBLED", path)')
