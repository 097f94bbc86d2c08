"""`coursekit build` and `coursekit export` on unit 1: self-contained HTML with embedded images."""

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.build import build
from coursekit.grading.export import export_notebook, summarise

REPO = Path(__file__).resolve().parents[1]


COURSE_CELLS = [  # a unit in miniature: parameters, a plot, recorded figures and a claim, as the units do
    'DATA_SOURCE = "toy"\nSEED = 0\nN = 200',
    "import numpy as np\nimport matplotlib.pyplot as plt\nimport coursekit\nfrom coursekit.claims import claim\n"
    "coursekit.start_notebook('05_demo.ipynb', seed=SEED, data_source=DATA_SOURCE)",
    "x = np.random.default_rng(SEED).normal(size=N)\nfig, ax = plt.subplots(figsize=(3, 2))\nax.hist(x, bins=20)\nplt.show()",
    "mean = coursekit.record('mean', float(x.mean()))\nspread = coursekit.record('sd', float(x.std()))",
    "claim(abs(mean) < 3 * spread / np.sqrt(N), f'the sample mean {mean:.3f} is within 3 standard errors of 0')",
    "coursekit.record_claims()\ncoursekit.record_runtime()",
]


def test_build_writes_pages_records_and_an_index(tmp_path, monkeypatch):
    # `make run` on a unit in miniature: the build path is the same for every unit (nbval runs the
    # real units in the same session, and tests/test_u4_lastfm.py and test_u5_real.py build units 4
    # and 5 on real data with this function)
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in COURSE_CELLS])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, solutions / "05_demo.ipynb")
    monkeypatch.setenv("COURSEKIT_RECORD", str(tmp_path / "rec.jsonl"))
    results = build(solutions, tmp_path / "build", units=["05"], progress=False, parameters={"N": 500})
    assert results[0]["ok"], results[0]["error"]
    page = (tmp_path / "build" / "html" / "05_demo.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', page)
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")
    assert "within 3 standard errors" in page
    rows = [json.loads(line) for line in (tmp_path / "rec.jsonl").read_text().splitlines()]
    records = {r["name"]: r["value"] for r in rows}
    assert {r["notebook"] for r in rows} == {"05_demo.ipynb"}
    x = np.random.default_rng(0).normal(size=500)  # the injected N, not the cell's 200
    assert records["mean"] == pytest.approx(x.mean()) and records["sd"] == pytest.approx(x.std())
    assert records["claims/total"] == 1 and records["claims/failed"] == 0 and records["runtime_s"] > 0
    assert records == results[0]["records"]  # what build returns is what it wrote
    index = (tmp_path / "build" / "html" / "index.html").read_text()
    assert "05_demo.html" in index and "mean" in index


def test_export_summary_from_stored_outputs(tmp_path):
    src = REPO / "solutions" / "01_content_based_art.ipynb"
    out = export_notebook(src, tmp_path / "u1.html", execute=False)
    page = out.read_text()
    assert 'id="coursekit-summary"' in page and 'data-passed="5" data-total="5"' in page
    student = nbformat.read(REPO / "notebooks" / src.name, as_version=4)
    rows = summarise(student)
    assert [r["status"] for r in rows] == ["not attempted"] * 5


def test_unit_one_later_cells_never_call_a_students_function():
    """A student stuck on one exercise still runs the rest: only the exercise's own check cell uses
    the student's function; every later cell calls the package (coursekit.features / models / metrics)."""
    import ast

    nb = nbformat.read(REPO / "solutions" / "01_content_based_art.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    exercises = [i for i, src in enumerate(code) if re.match(r"#\s*Exercise u1\.", src)]
    assert len(exercises) == 5
    for i in exercises:
        defined = [n.name for n in ast.parse(code[i]).body if isinstance(n, ast.FunctionDef)]
        assert len(defined) == 1 and "check(" in code[i + 1] and defined[0] in code[i + 1]
        for j, src in enumerate(code):
            if j in (i, i + 1):
                continue
            names = {n.id for n in ast.walk(ast.parse(src.replace("%", "#"))) if isinstance(n, ast.Name)}
            assert defined[0] not in names, f"code cell {j} uses the student's {defined[0]}"


# --------------------------------------------------------------------------- -p NAME=VALUE

from coursekit.errors import DataError
from coursekit.notebooks import inject_parameters, parameter_names, parse_parameter


@pytest.mark.parametrize("text, expected", [
    ("DATA_SOURCE=real", ("DATA_SOURCE", "real")),
    ("DATA_SOURCE='real'", ("DATA_SOURCE", "real")),
    ("SEED=3", ("SEED", 3)),
    ("LR = 0.5", ("LR", 0.5)),
    ("SIZES=[1, 2]", ("SIZES", [1, 2])),
    ("FLAG=True", ("FLAG", True)),
    ("CMD=__import__('os').system('x')", ("CMD", "__import__('os').system('x')")),  # a string, never run
])
def test_parse_parameter(text, expected):
    assert parse_parameter(text) == expected


@pytest.mark.parametrize("text", ["DATA_SOURCE", "=3", "1X=2", "a.b=1"])
def test_parse_parameter_rejects_malformed(text):
    with pytest.raises(DataError, match="NAME=VALUE"):
        parse_parameter(text)


def _param_nb():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"),
                nbformat.v4.new_code_cell('DATA_SOURCE = "toy"\nSEED: int = 0'),
                nbformat.v4.new_code_cell("import coursekit\ncoursekit.record('seen', f'{DATA_SOURCE}-{SEED}')")]
    nb.cells[1].metadata["tags"] = ["parameters"]
    return nb


def test_inject_parameters_after_the_parameters_cell():
    nb = inject_parameters(_param_nb(), {"DATA_SOURCE": "real", "SEED": 2}, name="x.ipynb")
    assert parameter_names(nb)[1] == ["DATA_SOURCE", "SEED"]
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"]
    assert "DATA_SOURCE = 'real'\nSEED = 2" in nb.cells[2].source


def test_unknown_parameter_names_the_notebook_and_the_known_names():
    with pytest.raises(DataError) as info:
        inject_parameters(_param_nb(), {"DATA_SORCE": "real"}, name="05_x.ipynb")
    assert "05_x.ipynb" in str(info.value) and "DATA_SORCE" in str(info.value)
    assert "DATA_SOURCE, SEED" in str(info.value)


def test_build_cli_overrides_parameters(tmp_path, monkeypatch):
    from coursekit.cli import main

    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(_param_nb(), solutions / "01_demo.ipynb")
    monkeypatch.setenv("COURSEKIT_RECORD", str(tmp_path / "rec.jsonl"))
    assert main(["build", "--solutions", str(solutions), "--out", str(tmp_path / "b"),
                 "-p", "DATA_SOURCE=real", "-p", "SEED=7"]) == 0
    rec = [json.loads(l) for l in (tmp_path / "rec.jsonl").read_text().splitlines()]
    assert rec == [{"notebook": "01_demo.ipynb", "name": "seen", "value": "real-7"}]
    # the solution file itself is untouched
    assert len(nbformat.read(solutions / "01_demo.ipynb", as_version=4).cells) == 3
    assert main(["build", "--solutions", str(solutions), "--out", str(tmp_path / "b"), "-p", "NOPE=1"]) == 2


def test_sanitized_html_runs_no_script_from_the_notebook():
    from coursekit.notebooks import to_html

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": "<script>document.title='forged 4/4'</script><b onclick=\"alert(1)\">bold</b>"
                     "<img src=x onerror=\"alert(2)\">",
        "text/plain": "x"})]
    nb.cells = [nbformat.v4.new_markdown_cell("<script>alert(3)</script>*ok*"), cell]
    import re

    def page(**kwargs):  # without the kit's own MathJax script (trusted; its source mentions onclick)
        return re.sub(r'<script type="text/javascript" id="coursekit-mathjax">.*?</script>', "", to_html(nb, **kwargs),
                      flags=re.S)

    raw, clean = page(), page(sanitize=True)

    active = re.compile(r"<script>(document\.title|alert)|<[a-z]+[^<>]*\son(click|error)=")
    assert active.search(raw)  # unsanitised: the student's script would run
    assert not active.search(clean), active.search(clean)  # removed
    assert "<b>bold</b>" in clean and "forged 4/4" not in clean and "alert(3)" not in clean
    assert clean.count('id="coursekit-mathjax"') == 0 and 'id="coursekit-mathjax"' in to_html(nb, sanitize=True)
