"""Model answers and rubrics quote measured figures through placeholders, never by hand.

Every decimal, percentage or thousands-separated number in a model answer or rubric must be a
placeholder filled from the run (``{{hr@10/retrieval:.3f}}``) or from a committed results page
(``{{real::hr@10/retrieval:.4f}}``), or a constant listed in the cell (``<!-- fixed: 0.05 -->``:
a significance level, a paper's own figure). And every placeholder must name a figure the
solution's stored run (or the results page) recorded.
"""

from pathlib import Path

import nbformat
import pytest

from coursekit.glue import FIXED_RE, PLACEHOLDER_RE, fill, hand_written_figures, notebook_records
from coursekit.grading.written import parse_questions
from coursekit.results import RESULTS_DIR

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))


def _questions(path):
    nb = nbformat.read(path, as_version=4)
    return nb, parse_questions(nb, path.name)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_no_figure_in_a_model_answer_or_rubric_is_written_by_hand(path):
    nb, questions = _questions(path)
    problems = []
    for q in questions:
        fixed = _fixed_lists(nb, q.id)
        for part, text in (("model answer", q.model_answer), ("rubric", "\n".join(text for _, text in q.rubric))):
            figures = hand_written_figures(text + "\n" + fixed)
            if figures:
                problems.append(f"{q.id} {part}: {', '.join(figures)}")
    assert not problems, ("figures written by hand; quote them with {{record:format}} placeholders "
                          "(or list true constants in <!-- fixed: ... -->):\n" + "\n".join(problems))


def _fixed_lists(nb, question_id: str) -> str:
    """The ``<!-- fixed: ... -->`` lists of the markdown cells that name this question."""
    return "\n".join(m.group(0) for c in nb.cells if c.cell_type == "markdown" and question_id in c.source
                     for m in FIXED_RE.finditer(c.source))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_every_placeholder_names_a_recorded_figure(path):
    nb = nbformat.read(path, as_version=4)
    records = notebook_records(nb)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or not PLACEHOLDER_RE.search(cell.source):
            continue
        try:
            fill(cell.source, records, results_dir=REPO / RESULTS_DIR, unit=path.name[:2])
        except KeyError as exc:
            problems.append(f"cell {index}: {exc}")
    assert not problems, "\n".join(problems)
