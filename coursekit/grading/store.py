"""Store: one record per graded submission in ``OUT/store``, written as soon as it is graded.

A record is keyed by what its grade depends on (:func:`record_key`): the submission's content
(:func:`coursekit.grading.collect.content_key`), the solution notebook's bytes, the kit's code
(:func:`kit_fingerprint`: every ``coursekit/*.py``, so a change to a check, a scoring rule or a
toy generator re-grades) and the limits a kernel ran with. So:

- running ``coursekit grade`` again runs only what is new or changed; identical submissions run
  once; a batch killed at any point resumes where it stopped (each record is written atomically:
  a record is there whole or not at all);
- ``--written`` and ``--overrides`` rebuild ``grades.csv``, the feedback pages and the question
  pages from the records, without starting a kernel;
- ``--force`` ignores the records and runs everything again.

A record holds the scores, statuses and details of every exercise, the notes of the run, its cost
in seconds and the executed notebook the feedback page shows (gzip-compressed JSON). A submission
the grader could not run (a grader-side failure) is not stored, so the next run tries it again.
Local runs, ``--jobs`` and Dask workers all end here: the store is the seam between running a
submission and reporting on it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
from pathlib import Path

STORE_DIR = "store"
FORMAT = 1


@functools.lru_cache(maxsize=None)
def kit_fingerprint() -> str:
    """sha256 over the source of every module of the installed ``coursekit`` package."""
    import coursekit

    root = Path(coursekit.__file__).resolve().parent
    digest = hashlib.sha256(coursekit.__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def record_key(content: str, solution_sha: str, options: dict) -> str:
    """The key of a submission's record: content, solution, kit code and run options."""
    payload = json.dumps({"format": FORMAT, "content": content, "solution": solution_sha, "kit": kit_fingerprint(),
                          "options": options}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Store:
    """The records of one output folder (``OUT/store/<key>.json.gz``)."""

    def __init__(self, out_dir: str | os.PathLike):
        self.dir = Path(out_dir) / STORE_DIR

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json.gz"

    def get(self, key: str) -> dict | None:
        """The record of ``key``, or None (never stored, or damaged: a damaged record is removed
        and the submission runs again)."""
        path = self.path(key)
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                record = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, EOFError, ValueError):
            path.unlink(missing_ok=True)
            return None
        if not isinstance(record, dict) or record.get("key") != key or record.get("format") != FORMAT:
            path.unlink(missing_ok=True)
            return None
        return record

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()

    def put(self, record: dict) -> Path:
        """Write a record (it carries its ``key``) atomically: whole or not at all."""
        from ..datasets._io import atomic_write_bytes

        record = {**record, "format": FORMAT}
        path = self.path(record["key"])
        atomic_write_bytes(path, gzip.compress(json.dumps(record, sort_keys=True).encode("utf-8"), mtime=0))
        return path

    def keys(self) -> set[str]:
        if not self.dir.is_dir():
            return set()
        return {p.name[: -len(".json.gz")] for p in self.dir.glob("*.json.gz")}
