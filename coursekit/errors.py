"""The one error type the kit raises for bad data, missing files and failed downloads."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError"]


class DataError(Exception):
    """A data problem a person can fix: it names the file, the record or field, and the fix.

    The message is a single line so that it reads well in a notebook and on the command line::

        DataError: data/asos/train.parquet, column 'productId': expected integers, found 'abc'.
        Fix: re-download the file with `coursekit data fetch asos`.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.where = where
        self.fix = fix
        message = " ".join(str(message).split("\n"))  # one line, whatever a library put in it
        self.detail = message
        parts = []
        location = ", ".join(p for p in (self.path, where) if p)
        if location:
            parts.append(f"{location}: {message}")
        else:
            parts.append(message)
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__(" ".join(parts))
