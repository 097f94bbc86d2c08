"""The only code in the kit that touches the network: download one file, verify, rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
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


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    *,
    timeout: float = 30.0,
    progress: bool = True,
    manual: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically and verify its sha256.

    The bytes go to a temporary file beside ``dest``; only a complete download with the right
    checksum is renamed into place, so an interrupted or corrupt transfer leaves nothing behind.
    Raises :class:`~coursekit.DataError` naming the URL and the fix when the network is down, the
    server answers with an error, or the checksum does not match.
    """
    import requests
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    how = manual or f"download {url} by hand and save it as {dest}"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with requests.get(url, stream=True, timeout=timeout) as response:
                    if response.status_code != 200:
                        raise DataError(
                            f"the server answered HTTP {response.status_code}",
                            path=url,
                            fix=how,
                        )
                    total = int(response.headers.get("content-length") or 0) or None
                    digest = hashlib.sha256()
                    with tqdm(
                        total=total, unit="B", unit_scale=True, desc=dest.name,
                        disable=not progress, leave=False,
                    ) as bar:
                        for block in response.iter_content(CHUNK):
                            out.write(block)
                            digest.update(block)
                            bar.update(len(block))
                    if total is not None and out.tell() != total:
                        raise DataError(
                            f"the transfer stopped after {out.tell()} of {total} bytes",
                            path=url,
                            fix=f"try again, or {how}",
                        )
            except requests.RequestException as exc:
                raise DataError(
                    f"cannot download ({type(exc).__name__}); are you offline?",
                    path=url,
                    fix=how,
                ) from None
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise DataError(
                f"checksum mismatch: expected sha256 {sha256}, got {digest.hexdigest()}; "
                "the download was removed",
                path=url,
                fix=f"try again later, or {how}",
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
