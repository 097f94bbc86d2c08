"""Report: grades.csv, written.csv, a feedback page per student and a page per written question.

Everything here is built from what the store holds (:mod:`coursekit.grading.store`) and what
collecting read, without starting a kernel: ``--written`` (points of the written answers, with
comments) and ``--overrides`` (an instructor's score for an exercise, with a reason) only rebuild
these files.

Every CSV cell the grader writes is safe in a spreadsheet (:func:`~coursekit.grading.written.csv_safe`);
every name is shown escaped; feedback pages show the student's notebook with its outputs sanitised
by an allow-list (:mod:`coursekit.sanitize`) and math typeset offline.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import DataError
from ..notebooks import check_results, to_html, write_text_atomic
from .checks import NOT_ATTEMPTED, PASSED
from .scoring import TAMPERED, ExerciseSpec
from .written import (CSV_COLUMNS, Answer, Question, csv_value, fmt_points, question_page, read_table, safe_name,
                      write_csv, written_rows, written_table_html)

NOT_GRADED = "not graded"
OVERRIDDEN = "set by the instructor"
OVERRIDE_COLUMNS = ["student", "exercise", "points", "comment"]
_STATUS_STYLE = {"passed": "background:#e6f4ea", "partial": "background:#fef7e0", TAMPERED: "background:#fce8e6",
                 OVERRIDDEN: "background:#eef3fb", NOT_GRADED: "background:#eeeeee"}


@dataclass
class Submission:
    """One student's result as the report shows it."""
    student: str
    file_name: str
    slug: str
    scores: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    graded: bool = True            # False: a grader-side failure; no points at all
    answers: dict[str, Answer] = field(default_factory=dict, repr=False)
    written: dict[str, float | None] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    claimed: dict[str, str] | None = None
    feedback_nb: nbformat.NotebookNode | None = field(default=None, repr=False)

    @property
    def code_points(self) -> float:
        return sum(self.scores.values())

    @property
    def written_points(self) -> float:
        return sum(v for v in self.written.values() if v is not None)


# --------------------------------------------------------------------------- overrides

@dataclass(frozen=True)
class Override:
    points: float
    comment: str
    row: int


def read_overrides(path, students: list[str], specs: list[ExerciseSpec]) -> dict[tuple[str, str], Override]:
    """{(student, exercise): Override} from a CSV with columns student, exercise, points, comment.

    Every row must name a student of this run and an exercise of the unit, give points from 0 to
    the exercise's points and a comment (the reason the student reads); anything else is a
    DataError naming the row, before anything runs."""
    path = Path(path)
    table, col = read_table(path, OVERRIDE_COLUMNS, what="overrides CSV",
                            fix="write one row per changed score: student, exercise, points, comment")
    known = {s.id: s for s in specs}
    wanted = set(students)
    found: dict[tuple[str, str], Override] = {}
    for number, row in enumerate(table, start=2):
        if not any(c.strip() for c in row):
            continue

        def cell(name):
            i = col[name]
            return csv_value(row[i].strip()) if i < len(row) else ""

        student, ex, value, comment = cell("student"), cell("exercise"), cell("points"), cell("comment")
        where = f"row {number} (student {student or '?'}, exercise {ex or '?'})"
        if student not in wanted:
            raise DataError(f"no submission from student {student!r} in this grading run", path=path, where=where,
                            fix="check the name against the submission files, or delete the row")
        if ex not in known:
            raise DataError(f"unknown exercise {ex!r} (exercises: {', '.join(known)})", path=path, where=where,
                            fix="use the exercise ids of grades.csv")
        if (student, ex) in found:
            raise DataError(f"a second row for this score (the first is row {found[student, ex].row})", path=path,
                            where=where, fix="keep one row per student and exercise")
        try:
            points = float(value)
        except ValueError:
            raise DataError(f"points {value!r} are not a number", path=path, where=where,
                            fix=f"write a number from 0 to {known[ex].points}") from None
        if not math.isfinite(points) or not 0 <= points <= known[ex].points:
            raise DataError(f"points {value} are outside 0 to {known[ex].points}", path=path, where=where,
                            fix=f"write a number from 0 to {known[ex].points}")
        if not comment:
            raise DataError("the comment is empty", path=path, where=where,
                            fix="say why the score changed: the student reads it in the feedback")
        found[student, ex] = Override(points, comment, number)
    return found


def apply_overrides(sub: Submission, overrides: dict[tuple[str, str], Override]) -> None:
    for (student, ex), override in overrides.items():
        if student != sub.student:
            continue
        before = sub.scores.get(ex, 0)
        sub.scores[ex] = override.points
        sub.status[ex] = OVERRIDDEN
        sub.detail[ex] = f"{override.comment} (automatic score: {fmt_points(before)})"
        sub.notes.append(f"{ex} set to {fmt_points(override.points)} by the instructor (was {fmt_points(before)}): "
                         f"{override.comment}")


# --------------------------------------------------------------------------- feedback

def feedback_html(sub: Submission, specs: list[ExerciseSpec], questions: list[Question], *,
                  mathjax: str = "inline") -> str:
    """The student's page: points per exercise (with the hidden parts passed or failed), notes,
    written answers with points and comments, then the executed notebook."""
    rows = []
    for spec in specs:
        status = sub.status.get(spec.id, NOT_ATTEMPTED if sub.graded else NOT_GRADED)
        points = sub.scores.get(spec.id, 0) if sub.graded else None
        said = ""
        if sub.claimed is not None:
            said = f"<td class='ck-claimed'>{html.escape(sub.claimed.get(spec.id, 'not in the summary'))}</td>"
        rows.append(
            f'<tr class="ck-row" data-exercise="{html.escape(spec.id)}" data-status="{html.escape(status)}" '
            f'data-points="{fmt_points(points)}" data-max="{fmt_points(spec.points)}" '
            f'style="{_STATUS_STYLE.get(status, "")}">'
            f"<td><code>{html.escape(spec.id)}</code></td><td>{html.escape(status)}</td>"
            f"<td>{fmt_points(points) if sub.graded else '&ndash;'} / {fmt_points(spec.points)}</td>"
            f"<td>{html.escape(sub.detail.get(spec.id, ''))}</td>{said}</tr>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes)
    code_max = sum(s.points for s in specs)
    passed = sum(sub.status.get(s.id) == PASSED for s in specs)
    written = written_table_html(questions, sub.answers, sub.written, sub.comments) if questions else ""
    graded = all(sub.written.get(q.id) is not None for q in questions)
    if sub.graded:
        total_line = f"<b>{fmt_points(sub.code_points)} of {fmt_points(code_max)}</b> points for the exercises"
    else:
        total_line = "<b>Not graded yet</b>: the grader could not run this submission (see the notes)"
    if sub.graded and questions and graded:
        written_max = sum(q.points for q in questions)
        total_line += (f", <b>{fmt_points(sub.written_points)} of {fmt_points(written_max)}</b> for the written "
                       f"answers: <b>{fmt_points(sub.code_points + sub.written_points)} of "
                       f"{fmt_points(code_max + written_max)}</b> in total")
    claimed_head = "<th>your export's summary said</th>" if sub.claimed is not None else ""
    header = (
        '<section id="coursekit-summary" style="font-family:sans-serif;margin:1em 2em;padding:1em;'
        'border:1px solid #ccc;border-radius:6px">'
        f"<h2 style='margin-top:0'>Feedback for {html.escape(sub.student)}</h2>"
        f'<p id="ck-score" data-passed="{passed}" data-total="{len(specs)}" '
        f'data-points="{fmt_points(sub.code_points) if sub.graded else ""}" data-max="{fmt_points(code_max)}">'
        f"{total_line} ({passed} of {len(specs)} exercises fully right).</p>"
        '<table id="ck-table" border="1" cellpadding="4" style="border-collapse:collapse">'
        f"<thead><tr><th>exercise</th><th>result</th><th>points</th><th>details</th>{claimed_head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>" + (f"<ul id='ck-notes'>{notes}</ul>" if notes else "")
        + written + "<p style='font-size:90%;color:#555'>Below: your notebook as the grader ran it, with your own "
        "checks. The points above come from the grader's own records of the hidden tests, never from what "
        "the notebook displays.</p></section>"
    )
    nb = sub.feedback_nb if sub.feedback_nb is not None else nbformat.v4.new_notebook()
    return to_html(nb, header_html=header, sanitize=True, mathjax=mathjax)


# --------------------------------------------------------------------------- the tables

def grade_rows(subs: list[Submission], specs: list[ExerciseSpec], questions: list[Question], with_written: bool
               ) -> tuple[list[str], list[list]]:
    """Header and rows of grades.csv (a submission that was not graded has empty points)."""
    exercises = [s.id for s in specs]
    code_max = sum(s.points for s in specs)

    def pts(sub, value):
        return fmt_points(value) if sub.graded else ""

    if with_written:
        written_max = sum(q.points for q in questions)
        header = ["student", *exercises, "code", *[q.id for q in questions], "written", "total", "max", "notes"]
        rows = [[sub.student, *[pts(sub, sub.scores.get(e, 0)) for e in exercises], pts(sub, sub.code_points),
                 *[fmt_points(sub.written.get(q.id)) for q in questions], fmt_points(sub.written_points),
                 pts(sub, sub.code_points + sub.written_points), fmt_points(code_max + written_max),
                 "; ".join(sub.notes)] for sub in subs]
    else:
        header = ["student", *exercises, "total", "max", "notes"]
        rows = [[sub.student, *[pts(sub, sub.scores.get(e, 0)) for e in exercises], pts(sub, sub.code_points),
                 fmt_points(code_max), "; ".join(sub.notes)] for sub in subs]
    return header, rows


def write_reports(subs: list[Submission], specs: list[ExerciseSpec], questions: list[Question], out_dir: Path, *,
                  filled: dict, comments: dict, with_written: bool, progress: bool = True) -> Path:
    """Every file of the report, from the submissions' results; grades.csv last (its presence
    says the rest is complete). Math in the pages is typeset by one offline copy of MathJax in
    ``OUT/mathjax`` (:mod:`coursekit.mathjax`)."""
    from ..mathjax import write_bundle

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = write_bundle(out_dir / "mathjax")
    feedback_dir = out_dir / "feedback"
    for sub in subs:
        if sub.feedback_nb is None:  # nothing ran and nothing was readable: grades.csv says why
            continue
        try:  # one page that cannot be rendered never costs the others (or grades.csv) theirs
            page = feedback_html(sub, specs, questions, mathjax=f"../{bundle.parent.name}/{bundle.name}")
        except Exception as exc:  # noqa: BLE001 - nbconvert can fail on a damaged output
            sub.notes.append(f"the feedback page could not be written ({type(exc).__name__}: {exc})"[:300])
            continue
        write_text_atomic(feedback_dir / f"{sub.slug}.html", page)
    if questions:
        answers = {sub.student: sub.answers for sub in subs}
        write_csv(out_dir / "written.csv", CSV_COLUMNS, written_rows(answers, questions, filled, comments))
        for q in questions:
            page = question_page(q, {sub.student: sub.answers.get(q.id) or Answer(q.id) for sub in subs},
                                 {sub.student: sub.written.get(q.id) for sub in subs},
                                 mathjax=f"../{bundle.parent.name}/{bundle.name}")
            write_text_atomic(out_dir / "questions" / f"{safe_name(q.id)}.html", page)
        if progress and not with_written:
            print(f"written answers: {out_dir / 'written.csv'} (fill in the points, then grade again with "
                  f"--written) and one page per question in {out_dir / 'questions'}", flush=True)
    header, rows = grade_rows(subs, specs, questions, with_written)
    return write_csv(out_dir / "grades.csv", header, rows)


def own_checks(nb) -> dict[str, dict]:
    """The outcome of the student's own checks in the feedback notebook: {exercise: meta}."""
    return check_results(nb) if nb is not None else {}
