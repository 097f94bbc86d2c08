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


def assert_breaks(valid_folder, copy_to, read, breaker, expected: str, names) -> None:
    """Copy ``valid_folder`` to ``copy_to``, check that ``read`` loads it, apply ``breaker`` to the
    copy and check that ``read`` now raises a clean DataError saying ``expected`` about one of the
    files ``names``."""
    import shutil

    import pytest

    from coursekit import DataError

    shutil.copytree(valid_folder, copy_to)
    read(copy_to)  # the valid files load
    breaker(copy_to)
    with pytest.raises(DataError) as err:
        read(copy_to)
    assert_clean_error(err, expected, [Path(copy_to) / name for name in names])
