"""The registry: every data set the kit knows, its files and where they come from.

Remote files are described once, as data (file name, URL, sha256). Data sets behind a manual step
(a form, a licence) say exactly what to do instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import DataError
from ._download import download_file
from ._home import get_data_home, get_toy_home


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its name in the data set folder, and where to get it.

    A file released as an archive (.zip, .tar, .tar.gz/.tgz) sets ``extract=True``: it is
    downloaded, its sha256 checked, then unpacked safely into the data set folder (the archive is
    kept, so :func:`verify` can still check it). ``members`` names the files or folders to unpack
    (all when empty; a non-empty list implies ``extract``); they must all be present for the file to
    count as there, so a data set placed by hand as an archive is unpacked on the next use.
    """

    name: str
    url: str | None = None
    sha256: str | None = None
    extract: bool = False
    members: tuple[str, ...] = ()

    @property
    def unpacks(self) -> bool:
        return self.extract or bool(self.members)

    def present(self, folder: Path) -> bool:
        """Whether this file (and, for an archive, its listed members) is in ``folder``."""
        return (folder / self.name).exists() and all((folder / m).exists() for m in self.members)


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its folder name under the data home, its files and how to get them."""

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    unit: str
    homepage: str = ""
    manual: str | None = None  # instructions when the files cannot be downloaded automatically
    toy: Callable[..., None] | None = field(default=None, compare=False, repr=False)
    toy_version: int = 1

    @property
    def downloadable(self) -> bool:
        return self.manual is None and all(f.url for f in self.files)


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    # Each data set module registers its spec on import; import them all once.
    from . import amazon, art, asos, music30, ugallery  # noqa: F401


def get_spec(name: str) -> DatasetSpec:
    """The spec of a registered data set, or a one-line error listing the known names."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise DataError(
            f"unknown data set {name!r}", fix=f"use one of: {known} (see `coursekit data list`)"
        ) from None


def list_datasets() -> list[DatasetSpec]:
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def real_path(name: str, data_home=None, *, download_if_missing: bool = True) -> Path:
    """The folder of the real data set ``name``, downloading missing files when possible.

    Raises a :class:`DataError` that says what to do when files are missing and cannot be fetched.
    """
    spec = get_spec(name)
    folder = get_data_home(data_home) / spec.name
    missing = [f for f in spec.files if not f.present(folder)]
    # Archives already here (placed by hand, or unpacked files deleted): unpack, no network needed.
    for f in missing:
        if f.unpacks and (folder / f.name).exists():
            _unpack(spec, f, folder, downloaded=False)
    missing = [f for f in missing if not f.present(folder)]
    if not missing:
        return folder
    names = ", ".join(f.name for f in missing)
    if not spec.downloadable:
        raise DataError(
            f"missing {names}",
            path=folder,
            fix=spec.manual or "place the files there by hand",
        )
    if not download_if_missing:
        raise DataError(
            f"missing {names}", path=folder, fix=f"run `coursekit data fetch {spec.name}`"
        )
    for f in missing:
        if f.unpacks:
            manual = (f"download {f.url} by hand, save it as {folder / f.name} and run "
                      f"`coursekit data fetch {spec.name}` to unpack it")
        else:
            manual = f"download {f.url} by hand into {folder}"
        download_file(f.url, folder / f.name, f.sha256, manual=manual)
        if f.unpacks:
            _unpack(spec, f, folder, downloaded=True)
    return folder


def _unpack(spec: DatasetSpec, f: RemoteFile, folder: Path, *, downloaded: bool) -> None:
    """Unpack the archive ``f`` into ``folder``; a fresh download that fails to unpack is removed."""
    from ._archive import extract_archive
    from ._download import sha256_of

    archive = folder / f.name
    got = sha256_of(archive) if not downloaded and f.sha256 else None
    if got is not None and got != f.sha256.lower():
        raise DataError(
            f"checksum mismatch: expected sha256 {f.sha256}, got {got}",
            path=archive,
            fix=f"delete it and run `coursekit data fetch {spec.name}`, or download {f.url} again",
        )
    try:
        extract_archive(archive, folder, members=f.members or None)
        lacking = [m for m in f.members if not (folder / m).exists()]
        if lacking:
            raise DataError(
                f"the archive has no {', '.join(lacking)}", path=archive,
                fix="the release changed: check the data set's homepage",
            )
    except DataError:
        if downloaded:
            archive.unlink(missing_ok=True)
        raise


def fetch(name: str, data_home=None) -> Path:
    """Download every file of ``name`` that is missing; return the data set folder."""
    return real_path(name, data_home, download_if_missing=True)


def verify(name: str, data_home=None) -> dict[str, bool]:
    """Check the sha256 of each present file with a known checksum: {file name: ok}."""
    from ._download import sha256_of

    spec = get_spec(name)
    folder = get_data_home(data_home) / spec.name
    result = {}
    for f in spec.files:
        path = folder / f.name
        if f.sha256 and path.exists():
            result[f.name] = sha256_of(path) == f.sha256
    return result


def toy_path(name: str, seed: int = 0, data_home=None, **sizes) -> Path:
    """The folder of the toy version of ``name`` for ``seed``, generated on first use.

    The generator writes the real file formats into a temporary folder that is renamed into place
    only when complete; the same seed and sizes give the same bytes.
    """
    spec = get_spec(name)
    if spec.toy is None:
        raise DataError(f"data set {name!r} has no toy version", fix="use DATA_SOURCE='real'")
    tag = f"{spec.name}-v{spec.toy_version}-seed{int(seed)}"
    if sizes:
        key = json.dumps(sizes, sort_keys=True).encode()
        tag += "-" + hashlib.sha256(key).hexdigest()[:10]
    root = get_toy_home(data_home)
    folder = root / tag
    if folder.exists():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{tag}.", dir=root))
    try:
        spec.toy(tmp, seed=int(seed), **sizes)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.exists():  # another process may have won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def dataset_path(name: str, source: str = "toy", *, seed: int = 0, data_home=None, **sizes) -> Path:
    """The folder of data set ``name`` for ``source`` "toy" or "real"."""
    if source == "toy":
        return toy_path(name, seed=seed, data_home=data_home, **sizes)
    if source == "real":
        return real_path(name, data_home)
    raise DataError(f"unknown data source {source!r}", fix="use DATA_SOURCE = 'toy' or 'real'")
