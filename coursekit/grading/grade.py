"""``coursekit grade``: batch-grade submitted notebooks (see issue: instructor workflow)."""

from __future__ import annotations

from ..errors import DataError


def grade_folder(submissions, output="graded", *, unit=None, jobs=1, timeout=300, solutions="solutions"):
    raise DataError("batch grading is not available in this version yet",
                    fix="grade with `coursekit export` per notebook for now")
