"""The only code in the kit that touches the network: download one file, verify, rename."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

from ..errors import DataError

CHUNK = 1 << 20


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _seconds(x: float) -> str:
    return f"{x:g} s"


def _reason(exc: BaseException) -> str:
    """The operating system's words for a failed connection ("Connection refused"), if any."""
    found = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return f" ({found[-1].strip()})" if found else ""


class _Failed(Exception):
    """A transfer failure in plain words; :func:`download_file` adds the URL and the fix."""


def _receive(response, out, *, name: str, timeout: float, min_speed: float,
             max_time: float | None, deadline: float | None, progress: bool) -> tuple[str, int]:
    """Copy the body of ``response`` to ``out``; (sha256, bytes) or :class:`_Failed`."""
    from tqdm.auto import tqdm
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    raw = response.raw
    total = int(response.headers.get("content-length") or 0) or None
    window = min_speed * timeout  # bytes due in each `timeout`-second stretch

    def stalled(detail: str) -> _Failed:
        return _Failed(f"the transfer stalled for more than {_seconds(timeout)} ({detail})")

    def overtime() -> _Failed:
        return _Failed(f"the download took longer than {_seconds(max_time)} "
                       f"(stopped after {received} bytes)")

    def closed() -> _Failed:
        of = f" of {total}" if total else ""
        return _Failed(f"the transfer stopped after {raw.tell()}{of} bytes: "
                       "the connection closed early")

    digest = hashlib.sha256()
    mark_time = time.monotonic()
    received = mark_bytes = 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress,
              leave=False) as bar:
        try:
            # read1 (urllib3 >= 2.3) returns whatever has arrived, so the rule sees every packet
            while block := raw.read1(CHUNK, decode_content=True):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
                received += len(block)
                now = time.monotonic()
                if received - mark_bytes >= window:
                    mark_time, mark_bytes = now, received
                elif now - mark_time > timeout:
                    raise stalled(f"only {received - mark_bytes} bytes arrived in that time, "
                                  f"slower than {min_speed:g} bytes/s")
                if deadline is not None and now > deadline:
                    raise overtime()
        except ReadTimeoutError:
            raise stalled(f"no data after {raw.tell()} bytes") from None
        except Urllib3Error as exc:
            if isinstance(exc, ProtocolError):
                raise closed() from None
            raise _Failed(f"the transfer failed after {raw.tell()} bytes ({type(exc).__name__})") from None
    if total is not None and raw.tell() != total:
        raise closed()
    return digest.hexdigest(), received


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    *,
    timeout: float = 30.0,
    min_speed: float = 1024.0,
    max_time: float | None = None,
    progress: bool = True,
    manual: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically and verify its sha256.

    The bytes go to a temporary ``.part`` file beside ``dest``; only a complete download with the
    right checksum is renamed into place, so a failed transfer leaves nothing behind and an
    existing ``dest`` is untouched until the new file is known to be good.

    Parameters
    ----------
    timeout:
        Seconds to wait for the connection, for the server's answer and for each read. It is also
        the stall window: the transfer fails when fewer than ``min_speed * timeout`` bytes arrive in
        any ``timeout``-second stretch, so a server that trickles bytes forever is stopped too.
    min_speed:
        Slowest acceptable average speed, in bytes per second, over each stall window
        (default 1 KiB/s, like ``curl --speed-limit``); ``0`` keeps only the per-read timeout.
    max_time:
        Optional limit, in seconds, for the whole download (``None``, the default: no limit, since
        a large file on a slow but steady line may legitimately take long).
    manual:
        The manual steps shown in the error's "Fix:" part; by default "download URL by hand and
        save it as DEST".

    Raises :class:`~coursekit.DataError` saying what happened (offline, HTTP error status, stall,
    connection closed early, checksum mismatch) with the manual steps as the fix.
    """
    import requests
    from urllib3.exceptions import ProtocolError

    dest = Path(dest)
    how = manual or f"download {url} by hand and save it as {dest}"
    retry = f"{how}, or try again later"

    def cannot_write(exc: OSError) -> DataError:
        return DataError(
            f"cannot write the download: {exc.strerror or exc}", path=dest.parent,
            fix=f"free some space or check the folder's permissions, or {how}",
        )

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise cannot_write(exc) from None
    tmp = Path(tmp_name)
    deadline = None if max_time is None else time.monotonic() + max_time
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = requests.get(url, stream=True, timeout=timeout)
            except requests.ConnectTimeout:
                raise DataError(
                    f"cannot reach the server (no answer within {_seconds(timeout)}): "
                    "are you offline?", path=url, fix=retry,
                ) from None
            except requests.ReadTimeout:
                raise DataError(
                    "the server accepted the connection but did not answer within "
                    f"{_seconds(timeout)}", path=url, fix=retry,
                ) from None
            except requests.ConnectionError as exc:
                if isinstance(exc.args[0] if exc.args else None, ProtocolError):
                    message = "the server closed the connection without answering"
                else:
                    message = f"cannot reach the server{_reason(exc)}: are you offline?"
                raise DataError(message, path=url, fix=retry) from None
            except requests.RequestException as exc:
                raise DataError(
                    f"cannot download ({type(exc).__name__}: {exc})", path=url, fix=how
                ) from None
            with response:
                if response.status_code != 200:
                    reason = f" ({response.reason})" if response.reason else ""
                    raise DataError(
                        f"the server answered HTTP {response.status_code}{reason}",
                        path=url,
                        fix=how if 400 <= response.status_code < 500 else retry,
                    )
                try:
                    got, received = _receive(
                        response, out, name=dest.name, timeout=timeout, min_speed=min_speed,
                        max_time=max_time, deadline=deadline, progress=progress,
                    )
                except _Failed as failed:
                    raise DataError(str(failed), path=url, fix=retry) from None
        if sha256 is not None and got != sha256.lower():
            raise DataError(
                f"checksum mismatch: expected sha256 {sha256}, got {got} ({received} bytes); "
                "the download was removed",
                path=url,
                fix=f"try again; if it fails again, the file changed on the server: {how}",
            )
        os.replace(tmp, dest)
    except OSError as exc:
        if isinstance(exc, requests.RequestException):  # requests' errors are OSErrors too
            raise
        raise cannot_write(exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest
