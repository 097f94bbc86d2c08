"""Small readers and writers shared by the data set modules; every failure is a DataError."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    The file gets the usual permissions (0666 minus the umask), not ``mkstemp``'s owner-only 0600,
    so a shared data home stays readable by the people it is shared with."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json(path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=None, sort_keys=False).encode())


def require_file(path: str | os.PathLike, fix: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path, fix=fix)
    if path.stat().st_size == 0:
        raise DataError("file is empty", path=path, fix=fix)
    return path


def read_json(path, fix: str):
    path = require_file(path, fix)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path=path, fix=fix
        ) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", path=path, fix=fix) from None
    except RecursionError:
        raise DataError("not valid JSON (nested too deeply)", path=path, fix=fix) from None


def read_matrix(path, fix: str, *, ndim: int = 2, allow_pickle: bool = False) -> np.ndarray:
    """Load a numeric ``.npy`` matrix without pickle unless asked; check it is numeric and finite."""
    path = require_file(path, fix)
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise DataError("not a .npy file (it does not start with the NumPy header)", path=path, fix=fix)
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                "holds Python objects, which need pickle to read (pickle can run code)",
                path=path,
                fix="convert it to a numeric array, or load it with allow_pickle=True if you trust it",
            ) from None
        raise DataError(f"not a valid .npy file ({_one_line(exc)})", path=path, fix=fix) from None
    except (OSError, EOFError, SyntaxError, TypeError, MemoryError, OverflowError) as exc:
        raise DataError(f"not a valid .npy file ({type(exc).__name__}: {_one_line(exc)})", path=path,
                        fix=fix) from None
    if arr.ndim != ndim or not np.issubdtype(arr.dtype, np.number):
        raise DataError(
            f"expected a {ndim}-d numeric array, found shape {arr.shape} dtype {arr.dtype}",
            path=path,
            fix=fix,
        )
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise DataError(f"row {bad} holds NaN or infinite values", path=path, fix=fix)
    return arr


def _one_line(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_NPZ_ERRORS = (ValueError, OSError, EOFError, KeyError, SyntaxError, TypeError, MemoryError, OverflowError,
               zipfile.BadZipFile, zlib.error)


def read_npz(path, keys, fix: str) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of an ``.npz`` archive, read without pickle into memory.

    Every kind of damage (not a zip, truncated, a flipped byte caught by the zip CRC, a member
    that is not a valid ``.npy``, object arrays, a missing key) is a one-line DataError.
    """
    path = require_file(path, fix)
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise DataError("not a .npz archive (it does not start like a zip file)", path=path, fix=fix)
    try:
        with np.load(path, allow_pickle=False) as z:
            absent = [k for k in keys if k not in z.files]
            if absent:
                raise DataError(f"missing array(s) {absent}; found {z.files}", path=path, fix=fix)
            return {k: z[k] for k in keys}
    except DataError:
        raise
    except _NPZ_ERRORS as exc:
        what = "holds Python objects (pickle)" if "allow_pickle" in str(exc) else \
            f"truncated or damaged ({type(exc).__name__}: {_one_line(exc)})"
        raise DataError(f"not a valid .npz archive: {what}", path=path, fix=fix) from None


def _pickle_opt_in(path, allow_pickle: bool, what: str, convert_to: str, fix: str) -> Path:
    """The one gate in front of pickle: refuse unless ``allow_pickle`` is True, then warn."""
    import warnings

    path = require_file(path, fix)
    if not allow_pickle:
        raise DataError(
            f"{what}, and reading pickle can run code hidden in the file",
            path=path,
            fix=f"pass allow_pickle=True only if you trust the file, then convert it once to {convert_to}",
        )
    warnings.warn(f"reading {path} with pickle: only do this with files you trust", stacklevel=4)
    return path


def read_pickle(path, *, allow_pickle: bool, fix: str):
    """Read a pickle file only behind an explicit opt-in; pickle can run code hidden in the file."""
    import pickle

    path = _pickle_opt_in(path, allow_pickle, "is a pickle file", "JSON", fix)
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - explicit opt-in above
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError, IndexError) as exc:
        raise DataError(f"not a readable pickle file, truncated or damaged ({type(exc).__name__}: {exc})",
                        path=path, fix=fix) from None


def read_object_npy(path, *, allow_pickle: bool, fix: str) -> np.ndarray:
    """Load a ``.npy`` of Python objects (needs pickle) only behind an explicit opt-in, with a warning."""
    path = _pickle_opt_in(path, allow_pickle, "holds Python objects, which need pickle to read", ".npz", fix)
    import pickle

    try:
        return np.load(path, allow_pickle=True)  # noqa: S301 - explicit opt-in above
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
        raise DataError(f"not a valid .npy file, truncated or damaged ({type(exc).__name__}: {exc})",
                        path=path, fix=fix) from None
