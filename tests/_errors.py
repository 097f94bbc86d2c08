"""The one assertion every malformed-input table makes about a DataError."""

from __future__ import annotations

from pathlib import Path


def assert_clean_error(err, expected: str, files) -> None:
    """``err`` (a pytest ExceptionInfo of DataError) says ``expected``, opens with the path of one
    of ``files``, is one line with a ``Fix:`` part, and hides the library traceback it replaced."""
    msg = str(err.value)
    assert expected in msg, msg
    assert msg.startswith(tuple(str(Path(f)) for f in files)), msg  # the file first, then the record
    assert "\n" not in msg and "Fix:" in msg, msg
    assert err.value.__cause__ is None or err.value.__suppress_context__, msg
