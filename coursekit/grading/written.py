"""Written answers: questions with points, rubrics and model answers; grading them by question.

In a solution notebook a graded question is a markdown block::

    **Question u1.q2** (2 points) Why reduce each vector with PCA? ...

    ### BEGIN RUBRIC
    - (1 point) Says what PCA keeps: the directions of largest variance ...
    - (1 point) Says what is lost and when it hurts: ...
    ### END RUBRIC

    ### BEGIN SOLUTION
    PCA keeps the directions along which the artworks differ most; ...
    ### END SOLUTION

``coursekit release`` keeps the question line (id and points) and the prompt, drops the rubric and
replaces the model answer by an answer template the student replaces. The grader finds each
answer by the question id (``Question u1.q2``; by the prompt's text when a student broke the id),
takes what the student wrote in that block and in any cells they added right after it, and writes
``written.csv`` and one page per question (rubric and model answer on top, every student's answer
below, figures embedded). Filled in, ``written.csv`` comes back with ``--written`` and its points
join ``grades.csv``.

Question markdown without ``uN.qK`` id and points is left alone (not graded).
"""

from __future__ import annotations

import base64
import csv
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..errors import DataError
from .release import (ANSWER_PROMPT, BEGIN_RUBRIC, BEGIN_SOLUTION, CHECK_RE, END_RUBRIC, END_SOLUTION,
                      EXERCISE_RE, ReleaseError, release_notebook)

QUESTION_RE = re.compile(
    r"\*\*Question\s+(?P<id>u\d+\.q\w+)\*\*\s*\(\s*(?P<points>\d+(?:\.\d+)?)\s+points?\s*\)")
LOOSE_QUESTION_RE = re.compile(r"Question\s+(?P<id>u\d+\.q\w+)\b")   # how the grader finds it again
ANY_QUESTION_START_RE = re.compile(r"^\s*\**\s*Question\b")             # where a question block ends
RUBRIC_LINE_RE = re.compile(r"^\s*[-*]\s*\(\s*(?P<points>\d+(?:\.\d+)?)\s+points?\s*\)\s*(?P<text>\S.*)$")
EXCERPT_CHARS = 300
MAX_ANSWER_CHARS = 20_000
CSV_COLUMNS = ["student", "question", "max_points", "points", "comment", "answer"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class QuestionError(ValueError):
    """A graded question whose rubric or markers do not follow the markup."""


@dataclass(frozen=True)
class Question:
    id: str
    points: float
    prompt: str                                 # markdown, as the student sees it (no template)
    rubric: tuple[tuple[float, str], ...] = ()  # (points, criterion)
    model_answer: str = ""
    cell: int = -1

    @property
    def signature(self) -> str:
        """The longest line of the prompt without the marker: finds the question when its id is broken."""
        return max((_strip_marker(l) for l in self.prompt.splitlines()), key=len, default="")


def _norm(line: str) -> str:
    return " ".join(line.split())


def _strip_marker(line: str) -> str:
    """A prompt line without its question marker and points."""
    return _norm(LOOSE_QUESTION_RE.sub("", QUESTION_RE.sub("", line))).strip("* .")


def _regions(lines: list[str], begin: str, end: str) -> tuple[list[str], list[list[str]]]:
    """(lines outside the regions, the lines of each region)."""
    outside, regions, inside = [], [], False
    for line in lines:
        if line.strip() == begin:
            inside = True
            regions.append([])
        elif line.strip() == end:
            inside = False
        elif inside:
            regions[-1].append(line)
        else:
            outside.append(line)
    return outside, regions


def _blocks(source: str) -> list[tuple[str | None, int, int]]:
    """(question id or None, first line, end line) of each question block of a markdown cell."""
    lines = source.splitlines()
    starts = [i for i, l in enumerate(lines) if ANY_QUESTION_START_RE.match(l) or LOOSE_QUESTION_RE.search(l)]
    blocks = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        m = LOOSE_QUESTION_RE.search(lines[start])
        blocks.append((m.group("id") if m else None, start, end))
    return blocks


def parse_questions(nb: nbformat.NotebookNode, name: str = "notebook") -> list[Question]:
    """The graded questions of a solution notebook, in order (raises QuestionError on bad markup)."""
    questions: list[Question] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for qid, start, end in _blocks(cell.source):
            m = QUESTION_RE.search(lines[start])
            if not m:
                continue
            where = f"{name}, cell {index}, question {qid}"
            block = lines[start:end]
            rest, rubrics = _regions(block, BEGIN_RUBRIC, END_RUBRIC)
            prompt_lines, answers = _regions(rest, BEGIN_SOLUTION, END_SOLUTION)
            rubric = []
            for line in (l for r in rubrics for l in r if l.strip()):
                rm = RUBRIC_LINE_RE.match(line)
                if not rm:
                    raise QuestionError(f"{where}: rubric line {line.strip()!r} should read "
                                        "'- (<n> points) <criterion>'")
                rubric.append((float(rm.group("points")), rm.group("text").strip()))
            questions.append(Question(
                id=qid, points=float(m.group("points")), prompt="\n".join(prompt_lines).strip(),
                rubric=tuple(rubric), model_answer="\n".join(l for a in answers for l in a).strip(),
                cell=index))
    seen: set[str] = set()
    for q in questions:
        if q.id in seen:
            raise QuestionError(f"{name}: question id {q.id} is used twice")
        seen.add(q.id)
    return questions


def question_problems(nb: nbformat.NotebookNode, name: str = "notebook") -> list[str]:
    """What is wrong with the graded questions of a solution (empty when they follow the markup)."""
    try:
        questions = parse_questions(nb, name)
    except QuestionError as exc:
        return [str(exc)]
    problems = []
    unit = re.match(r"(\d\d)_", Path(name).name)
    for q in questions:
        if unit and not q.id.startswith(f"u{int(unit.group(1))}."):
            problems.append(f"{q.id}: the id should start with u{int(unit.group(1))}. in {name}")
        if not 2 <= len(q.rubric) <= 3:
            problems.append(f"{q.id}: the rubric has {len(q.rubric)} criteria; give 2 or 3")
        total = sum(p for p, _ in q.rubric)
        if not math.isclose(total, q.points):
            problems.append(f"{q.id}: the rubric's points add up to {total:g}, the question is worth {q.points:g}")
        if not q.model_answer:
            problems.append(f"{q.id}: no model answer (### BEGIN SOLUTION ... ### END SOLUTION)")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if re.search(r"\bQuestion\s+u\d+\.", line) and not QUESTION_RE.search(line):
                problems.append(f"cell {index}: {line.strip()[:60]!r} looks like a question but does not "
                                "read '**Question uN.qK** (<n> points)'")
    return problems


# --------------------------------------------------------------------------- instructor pages (build)

BOX_STYLE = {
    "model": ("ck-model-answer", "Model answer", "border-left:4px solid #1b7f3b;background:#eef7f0"),
    "rubric": ("ck-rubric", "Rubric", "border-left:4px solid #1a5fb4;background:#eef3fb"),
}


def _box(kind: str) -> tuple[list[str], list[str]]:
    css_class, title, style = BOX_STYLE[kind]
    return ([f'<div class="{css_class}" style="{style};padding:0.3em 1em;margin:0.6em 0;border-radius:4px">',
             "", f"**{title}**", ""], ["", "</div>", ""])


def instructor_markdown(source: str) -> str:
    """Markdown of a solution cell with the model answer and rubric markers turned into boxes."""
    if BEGIN_SOLUTION not in source and BEGIN_RUBRIC not in source:
        return source
    out = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN_SOLUTION:
            out += _box("model")[0]
        elif stripped == BEGIN_RUBRIC:
            out += _box("rubric")[0]
        elif stripped in (END_SOLUTION, END_RUBRIC):
            out += _box("model")[1]
        else:
            out.append(line)
    return "\n".join(out)


def instructor_view(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed solution whose markdown shows model answers and rubrics as boxes."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = instructor_markdown(cell.source)
    return nb


# --------------------------------------------------------------------------- students' answers

@dataclass
class Answer:
    question: str
    text: str = ""                                  # what the student wrote in the question's block
    attachments: dict = field(default_factory=dict)
    cells: list = field(default_factory=list)       # cells the student added right after it
    found: bool = False

    @property
    def empty(self) -> bool:
        return not self.text.strip() and not any(c.get("source", "").strip() for c in self.cells)

    def excerpt(self, chars: int = EXCERPT_CHARS) -> str:
        parts = [self.text] + [c.get("source", "") for c in self.cells]
        text = _norm(re.sub(r"!\[[^\]]*\]\([^)]*\)", "[image]", " ".join(p for p in parts if p)))
        return text if len(text) <= chars else text[: chars - 1] + "…"

    def to_html(self) -> str:
        if self.empty:
            return '<p class="ck-no-answer"><i>No answer (the template was left as it is).</i></p>'
        pieces = []
        if self.text.strip():
            pieces.append(markdown_html(self.text, self.attachments))
        for cell in self.cells:
            if cell.get("cell_type") == "markdown":
                pieces.append(markdown_html(cell.get("source", ""), cell.get("attachments", {})))
            elif cell.get("cell_type") == "code":
                pieces.append(code_html(cell))
        return "\n".join(pieces)


def _released_lines(solution: nbformat.NotebookNode) -> tuple[set[str], set[str]]:
    """(every non-empty line of the student notebook, every cell source), normalised."""
    released = release_notebook(solution)
    lines = {_norm(l) for c in released.cells for l in c.source.splitlines() if l.strip()}
    sources = {_norm(c.source) for c in released.cells if c.source.strip()}
    return lines, sources


def _is_anchor(cell, sources: set[str]) -> bool:
    src = cell.get("source", "")
    return (_norm(src) in sources or bool(LOOSE_QUESTION_RE.search(src)) or bool(ANY_QUESTION_START_RE.search(src))
            or (cell.get("cell_type") == "code" and bool(EXERCISE_RE.search(src) or CHECK_RE.search(src))))


def extract_answers(submission: nbformat.NotebookNode, questions: list[Question],
                    solution: nbformat.NotebookNode, skip_tag: str | None = None) -> dict[str, Answer]:
    """{question id: the student's answer}. Cells tagged ``skip_tag`` (the grader's own) are ignored."""
    cells = [c for c in submission.cells
             if not (skip_tag and skip_tag in c.get("metadata", {}).get("tags", []))]
    released_lines, released_sources = _released_lines(solution)
    template = _norm(ANSWER_PROMPT)
    answers = {}
    for q in questions:
        answer = Answer(q.id)
        answers[q.id] = answer
        located = _locate(cells, q)
        if located is None:
            continue
        index, start, end, last_block = located
        cell = cells[index]
        lines = cell.get("source", "").splitlines()[start:end]
        cores = [c for c in (_strip_marker(l) for l in q.prompt.splitlines()) if len(c) >= 20]
        kept = [l for l in lines if _norm(l) not in released_lines and _norm(l) != template
                and not any(core in _norm(l) for core in cores)]  # a prompt line the student edited
        answer.text = "\n".join(kept).strip()[:MAX_ANSWER_CHARS]
        answer.attachments = dict(cell.get("attachments", {}) or {})
        answer.found = True
        if last_block:
            for follower in cells[index + 1:]:
                if _is_anchor(follower, released_sources):
                    break
                if follower.get("source", "").strip():
                    answer.cells.append(follower)
    return answers


def _locate(cells, q: Question):
    """(cell index, block start, block end, is the cell's last block) of a question in a submission."""
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        blocks = _blocks(cell.get("source", ""))
        for k, (qid, start, end) in enumerate(blocks):
            if qid == q.id:
                return index, start, end, k == len(blocks) - 1
    signature = q.signature
    if len(signature) < 20:
        return None
    for index, cell in enumerate(cells):  # the id was edited away: find the prompt's text
        if cell.get("cell_type") != "markdown":
            continue
        lines = cell.get("source", "").splitlines()
        hits = [i for i, l in enumerate(lines) if signature in _norm(l)]
        if hits:
            blocks = _blocks(cell.get("source", ""))
            start = max([b[1] for b in blocks if b[1] <= hits[0]], default=0)
            later = [b[1] for b in blocks if b[1] > hits[0]]
            return index, start, later[0] if later else len(lines), not later
    return None


# --------------------------------------------------------------------------- rendering student HTML safely

_TAGS = {"p", "br", "hr", "em", "strong", "b", "i", "u", "s", "del", "code", "pre", "blockquote", "ul", "ol",
         "li", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
         "span", "div", "sup", "sub", "dl", "dt", "dd"}


def _img_attribute(tag, name, value) -> bool:
    if name == "src":
        return value.startswith("data:image/")
    return name in ("alt", "title", "width", "height")


def sanitize(fragment: str) -> str:
    """Student HTML made safe for an instructor's browser: no scripts, no remote loads."""
    import bleach

    clean = bleach.clean(fragment, tags=_TAGS, protocols={"http", "https", "mailto", "data"}, strip=True,
                         attributes={"img": _img_attribute, "a": ["href", "title"], "td": ["align"],
                                     "th": ["align"], "*": ["class"]})
    return re.sub(r"<img(?![^>]*\bsrc=)[^>]*>", '<span class="ck-missing-image">[image not embedded]</span>', clean)


def markdown_html(source: str, attachments: dict | None = None) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    for name, bundle in (attachments or {}).items():
        for mime, data in (bundle or {}).items():
            if mime.startswith("image/") and isinstance(data, str):
                source = source.replace(f"attachment:{name}", f"data:{mime};base64,{''.join(data.split())}")
                break
    return sanitize(markdown2html_mistune(source))


def code_html(cell) -> str:
    out = [f'<pre class="ck-code">{html.escape(cell.get("source", ""))}</pre>']
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if output.get("output_type") == "stream":
            out.append(f'<pre class="ck-output">{html.escape(output.get("text", "")[:MAX_ANSWER_CHARS])}</pre>')
        elif output.get("output_type") == "error":
            out.append(f'<pre class="ck-output">{html.escape(output.get("ename", ""))}: '
                       f'{html.escape(str(output.get("evalue", ""))[:1000])}</pre>')
        elif "image/png" in data or "image/jpeg" in data:
            mime = "image/png" if "image/png" in data else "image/jpeg"
            out.append(f'<img src="data:{mime};base64,{"".join(str(data[mime]).split())}" alt="figure">')
        elif "image/svg+xml" in data:
            svg = base64.b64encode(str(data["image/svg+xml"]).encode()).decode()
            out.append(f'<img src="data:image/svg+xml;base64,{svg}" alt="figure">')
        elif "text/html" in data:
            out.append(sanitize(str(data["text/html"])[:MAX_ANSWER_CHARS]))
        elif "text/plain" in data:
            out.append(f'<pre class="ck-output">{html.escape(str(data["text/plain"])[:MAX_ANSWER_CHARS])}</pre>')
    return "\n".join(out)


# --------------------------------------------------------------------------- written.csv

def fmt_points(value) -> str:
    if value is None or value == "":
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def written_rows(answers: dict[str, dict[str, Answer]], questions: list[Question],
                 filled: dict | None = None, comments: dict | None = None) -> list[list[str]]:
    """Rows of written.csv: an empty answer gets 0, others the filled points or nothing; the
    instructor's comment (shown in the student's feedback) is kept."""
    rows = []
    for student in sorted(answers):
        for q in questions:
            answer = answers[student].get(q.id) or Answer(q.id)
            points = (filled or {}).get((student, q.id))
            if points is None and answer.empty:
                points = 0
            rows.append([student, q.id, fmt_points(q.points), fmt_points(points),
                         (comments or {}).get((student, q.id), ""), answer.excerpt()])
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_safe(value) -> str:
    """A CSV cell a spreadsheet reads as text: one that starts like a formula (``=``, ``+``,
    ``-``, ``@``, tab, carriage return) and is not a plain number gets a leading apostrophe
    (what spreadsheets themselves write for text that looks like a formula)."""
    text = "" if value is None else str(value)
    if text and text[0] in FORMULA_START and not _is_number(text):
        return "'" + text
    return text


def csv_value(text: str) -> str:
    """A cell as :func:`csv_safe` wrote it, read back."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    """Write a CSV atomically, every cell made safe for spreadsheets (:func:`csv_safe`)."""
    import io

    from ..datasets._io import atomic_write_bytes

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([csv_safe(h) for h in header])
    writer.writerows([[csv_safe(c) for c in row] for row in rows])
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8", "backslashreplace"))
    return Path(path)


def read_table(path, required: list[str], *, what: str, fix: str) -> tuple[list[list[str]], dict[str, int]]:
    """(rows after the header, {column: index}) of a CSV an instructor filled in; a missing or
    unreadable file, an empty one or a missing column is a DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path, fix=f"give the {what} you filled in")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            table = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"not a readable CSV file ({exc})", path=path, fix="save it as CSV (UTF-8)") from None
    if not table:
        raise DataError("the file is empty", path=path, fix=fix)
    header = [h.strip().lower() for h in table[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"no column {', '.join(missing)} (found: {', '.join(table[0]) or 'nothing'})",
                        path=path, where="row 1", fix=fix)
    return table[1:], {name: header.index(name) for name in dict.fromkeys(header)}


def read_written(path, students: list[str], questions: list[Question], *, comments: dict | None = None
                 ) -> dict[tuple[str, str], float]:
    """Points from a filled-in written.csv: {(student, question): points}. With ``comments`` (a
    dict), the ``comment`` column is read into it: {(student, question): text} for the feedback.

    Every (student, question) of this grading run needs exactly one row with points between 0 and
    the question's points; anything else is a DataError naming the row (spreadsheet numbering:
    the header is row 1).
    """
    path = Path(path)
    table, columns = read_table(path, ["student", "question", "points"], what="written.csv",
                                fix="keep the header row of the written.csv that `coursekit grade` wrote")
    col = {name: i for name, i in columns.items() if name in CSV_COLUMNS}
    known = {q.id: q for q in questions}
    wanted = set(students)
    seen: dict[tuple[str, str], int] = {}
    points: dict[tuple[str, str], float] = {}
    for number, row in enumerate(table, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(name):
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        student, qid, value = csv_value(cell("student")), cell("question"), cell("points")
        where = f"row {number} (student {student or '?'}, question {qid or '?'})"
        if student not in wanted:
            raise DataError(f"no submission from student {student!r} in this grading run", path=path,
                            where=where, fix="check the name against the submission files, or delete the row")
        if qid not in known:
            raise DataError(f"unknown question {qid!r} (questions: {', '.join(known)})", path=path, where=where,
                            fix="keep the question ids that `coursekit grade` wrote")
        if (student, qid) in seen:
            raise DataError(f"a second row for this answer (the first is row {seen[student, qid]})",
                            path=path, where=where, fix="keep one row per student and question")
        seen[student, qid] = number
        q = known[qid]
        if not value:
            raise DataError("points are empty", path=path, where=where,
                            fix=f"fill in the points (0 to {fmt_points(q.points)}) of every row")
        try:
            score = float(value.replace(",", ".")) if value.count(",") == 1 and "." not in value else float(value)
        except ValueError:
            raise DataError(f"points {value!r} are not a number", path=path, where=where,
                            fix=f"write a number from 0 to {fmt_points(q.points)}") from None
        if not math.isfinite(score) or not 0 <= score <= q.points:
            raise DataError(f"points {value} are outside 0 to {fmt_points(q.points)}", path=path, where=where,
                            fix=f"write a number from 0 to {fmt_points(q.points)}")
        max_points = cell("max_points")
        if max_points:
            try:
                stale = not math.isclose(float(max_points), q.points)
            except ValueError:
                stale = True
            if stale:
                raise DataError(f"max_points {max_points} is not the question's {fmt_points(q.points)} points",
                                path=path, where=where,
                                fix="grade from the written.csv of the current solution notebook")
        points[student, qid] = score
        if comments is not None and csv_value(cell("comment")):
            comments[student, qid] = csv_value(cell("comment"))
    absent = [(s, q.id) for s in sorted(wanted) for q in questions if (s, q.id) not in points]
    if absent:
        listed = ", ".join(f"{s} / {q}" for s, q in absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise DataError(f"{len(absent)} answer(s) have no row: {listed}", path=path,
                        fix="add a row with points for each of them (written.csv lists every answer)")
    return points


# --------------------------------------------------------------------------- pages by question

_PAGE_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;line-height:1.45;color:#222}
.ck-rubric{border-left:4px solid #1a5fb4;background:#eef3fb;padding:.3em 1em;margin:.6em 0;border-radius:4px}
.ck-model-answer{border-left:4px solid #1b7f3b;background:#eef7f0;padding:.3em 1em;margin:.6em 0;border-radius:4px}
.ck-answer{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}
.ck-answer h3{margin:.2em 0;font-size:1.05em}
.ck-points{float:right;font-weight:bold}
pre{background:#f6f6f6;padding:.4em;overflow-x:auto}
img{max-width:100%}
"""


def question_page(question: Question, answers: dict[str, Answer], points: dict[str, float | None], *,
                  mathjax: str = "inline") -> str:
    """One HTML page: the question, its rubric and model answer, then every student's answer (math
    typeset offline: ``mathjax`` is "inline" or the URL of the kit's MathJax bundle)."""
    from ..mathjax import script_tags
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    criteria = "".join(f'<li class="ck-criterion" data-points="{fmt_points(p)}"><b>{fmt_points(p)} '
                       f'point{"s" if p != 1 else ""}</b>: {html.escape(text)}</li>' for p, text in question.rubric)
    articles = []
    for student in sorted(answers):
        answer = answers[student]
        given = points.get(student)
        shown = (f"{fmt_points(given)} / {fmt_points(question.points)}" if given is not None
                 else f"? / {fmt_points(question.points)}")
        articles.append(
            f'<article class="ck-answer" id="answer-{html.escape(student)}" data-student="{html.escape(student)}" '
            f'data-empty="{str(answer.empty).lower()}" data-points="{fmt_points(given)}">'
            f'<h3>{html.escape(student)} <span class="ck-points">{shown}</span></h3>'
            f'<div class="ck-answer-body">{answer.to_html()}</div></article>')
    nav = " · ".join(f'<a href="#answer-{html.escape(s)}">{html.escape(s)}</a>' for s in sorted(answers))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(question.id)}: written answers</title><style>{_PAGE_CSS}</style>"
        f"{script_tags(mathjax)}</head><body>"
        f'<h1 id="ck-question" data-question="{html.escape(question.id)}" data-points="{fmt_points(question.points)}">'
        f"Question {html.escape(question.id)} ({fmt_points(question.points)} points)</h1>"
        f'<section id="ck-prompt">{markdown2html_mistune(question.prompt)}</section>'
        f'<section id="ck-rubric" class="ck-rubric"><b>Rubric</b><ul>{criteria}</ul></section>'
        f'<section id="ck-model" class="ck-model-answer"><b>Model answer</b>'
        f"{markdown2html_mistune(question.model_answer)}</section>"
        f'<p id="ck-nav">{len(answers)} answers: {nav}</p>'
        f'<section id="ck-answers">{"".join(articles)}</section></body></html>'
    )


def written_table_html(questions: list[Question], answers: dict[str, Answer],
                       points: dict[str, float | None], comments: dict[str, str] | None = None) -> str:
    """The feedback page's table of one student's written answers with their points and the
    instructor's comments."""
    rows = []
    for q in questions:
        answer = answers.get(q.id) or Answer(q.id)
        given = points.get(q.id)
        shown = (f"{fmt_points(given)} / {fmt_points(q.points)}" if given is not None
                 else f"not graded yet / {fmt_points(q.points)}")
        comment = (comments or {}).get(q.id, "")
        rows.append(f'<tr class="ck-written" data-question="{html.escape(q.id)}" data-points="{fmt_points(given)}">'
                    f"<td><code>{html.escape(q.id)}</code></td><td>{shown}</td>"
                    f"<td>{answer.to_html()}</td><td class='ck-comment'>{html.escape(comment)}</td></tr>")
    return ('<h3>Written answers</h3><table id="ck-written" border="1" cellpadding="4" '
            'style="border-collapse:collapse"><thead><tr><th>question</th><th>points</th><th>your answer</th>'
            f"<th>comment</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def safe_name(question_id: str) -> str:
    return re.sub(r"[^\w.-]", "_", question_id)


__all__ = ["Answer", "Question", "QuestionError", "ReleaseError", "extract_answers", "instructor_view",
           "parse_questions", "question_page", "question_problems", "read_written", "written_rows"]
