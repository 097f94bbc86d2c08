"""Collect: a folder of submissions becomes one entry per student, each a file read safely.

A submission is a **regular file** (``<student>.ipynb``, ``<student>_NN_<slug>.ipynb``, or the
``<student>.html`` that ``coursekit export`` wrote, with the notebook embedded). Anything else in
the folder that looks like one is refused with a note and scores nothing: a symbolic link (it
would be graded as whatever it points to: a solution, ``/etc/passwd``), a folder, a FIFO or
device. Files are opened without following links (``O_NOFOLLOW``) and checked again after opening,
so a file swapped for a link between listing and reading is refused too.

Any file name works. The student's name is the file name without its suffix, made safe to show
(:func:`display_name`: bytes that are not UTF-8 become ``\\xNN``), and a separate ASCII file name
for the feedback page (:func:`file_slug`). Identical submissions share one content key
(:func:`content_key`, the sha256 of what grading depends on: the cells' types, sources and
attachments), so they run once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_SUBMISSION_MB = 200  # a submitted file above this is not read
SUFFIXES = (".ipynb", ".html")
SLUG_RE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Entry:
    """One student's submission, as collected (before anything runs)."""
    student: str                   # display name: text safe to show (file name without suffix)
    path: Path
    slug: str = ""                 # ASCII file name of the feedback page, unique in the batch
    notes: list[str] = field(default_factory=list)
    nb: nbformat.NotebookNode | None = field(default=None, repr=False)
    claimed: dict[str, str] | None = None  # statuses an exported HTML's summary shows (student's machine)
    problem: str = ""              # why it cannot be graded (not a file, malformed, too large)
    key: str = ""                  # content key (identical submissions share it)

    @property
    def file_name(self) -> str:
        return display_name(self.path.name)


def display_name(name: str) -> str:
    """A file name as text that is always valid UTF-8 (bytes that are not become ``\\xNN``)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def file_slug(student: str, taken: set[str]) -> str:
    """An ASCII file name for ``student``'s feedback page: letters, digits, ``._-``; a short hash
    keeps names that differ only in other characters apart."""
    base = SLUG_RE.sub("_", student).strip("._-") or "student"
    slug = base[:80]
    if slug != student or slug.lower() in taken:
        slug = f"{base[:64]}-{hashlib.sha256(student.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    taken.add(slug.lower())
    return slug


def content_key(nb: nbformat.NotebookNode) -> str:
    """sha256 of what grading depends on: each cell's type, source and attachments (outputs,
    execution counts and metadata are cleared before a run and do not count)."""
    cells = [[c.get("cell_type"), c.get("source", ""), c.get("attachments") or {}] for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, sort_keys=True, ensure_ascii=True).encode("ascii")).hexdigest()


def read_file(path: Path, max_mb: float = MAX_SUBMISSION_MB) -> tuple[bytes | None, str]:
    """(bytes, "") of a regular file, opened without following a link; (None, why) otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            return None, "a link, not a file: hand in the notebook file itself"
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file: hand in the notebook file itself"
        if info.st_size > max_mb * 2**20:
            return None, (f"the file has {info.st_size / 2**20:.0f} MB, more than {max_mb:.0f} MB; clear the "
                          "outputs (Edit > Clear Outputs of All Cells), save and hand it in again")
        chunks, left = [], info.st_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks), ""
    finally:
        os.close(fd)


def parse_submission(path: Path, raw: bytes):
    """(notebook or None, claimed statuses or None, problem) of a file's bytes."""
    if path.suffix.lower() == ".html":
        from .export import ExportError, parse_exported

        try:
            nb, claimed = parse_exported(raw.decode("utf-8", "replace"))
            return nb, claimed, ""
        except ExportError as exc:
            return None, None, str(exc)
    try:
        return nbformat.reads(raw.decode("utf-8"), as_version=4), None, ""
    except Exception as exc:  # noqa: BLE001 - not UTF-8, not JSON, not a notebook, cells without source...
        return None, None, f"malformed notebook ({type(exc).__name__}); open it in JupyterLab and save it again"


def collect(folder: Path) -> list[Entry]:
    """One entry per student for every ``.ipynb`` and ``.html`` in ``folder`` (hidden files
    skipped), sorted by name; a student with both is graded on the notebook. Each entry is read
    (or refused) here, once."""
    candidates = []
    with os.scandir(folder) as listing:
        for item in listing:
            name = item.name
            if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                continue
            candidates.append(Path(item.path))
    chosen: dict[str, Entry] = {}
    for path in sorted(candidates, key=lambda p: display_name(p.name)):
        student = display_name(Path(path.name).stem)
        if student in chosen:
            kept = chosen[student]
            if path.suffix.lower() == ".ipynb":
                chosen[student] = Entry(student, path, notes=[f"also handed in {kept.file_name}; graded "
                                                               f"{display_name(path.name)}"])
            else:
                kept.notes.append(f"also handed in {display_name(path.name)}; graded {kept.file_name}")
        else:
            chosen[student] = Entry(student, path)
    entries = [chosen[s] for s in sorted(chosen)]
    taken: set[str] = set()
    for entry in entries:
        entry.slug = file_slug(entry.student, taken)
        raw, problem = read_file(entry.path)
        if raw is None:
            entry.problem = problem
            continue
        entry.nb, entry.claimed, entry.problem = parse_submission(entry.path, raw)
        if entry.nb is not None:
            entry.key = content_key(entry.nb)
    return entries


def is_untouched(nb: nbformat.NotebookNode, released: nbformat.NotebookNode) -> bool:
    """Whether a submission is the released student notebook as it was handed out: every cell's
    type and source unchanged (outputs and metadata do not count). Such a submission is graded
    without starting a kernel: nothing in it was attempted."""
    def cells(book):
        return [(c.get("cell_type"), c.get("source", "").strip()) for c in book.get("cells", [])
                if c.get("source", "").strip()]

    return cells(nb) == cells(released)
