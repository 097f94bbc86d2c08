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

    ``member_sha256`` ((member, sha256) pairs) checks each unpacked member instead of (or beside)
    the archive: a release whose archive has no published checksum but whose files do. Then the
    members are the data: they count as there without the archive (copied in by hand, say), and a
    member whose sha256 differs is never moved into the data set folder.
    """

    name: str
    url: str | None = None
    sha256: str | None = None
    extract: bool = False
    members: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names the same content is shared under (another layout)
    member_sha256: tuple[tuple[str, str], ...] = ()

    @property
    def unpacks(self) -> bool:
        return self.extract or bool(self.members)

    def found(self, folder: Path) -> str | None:
        """The name this file has in ``folder`` (``name`` first, then its aliases), or None. For an
        archive whose members are checked one by one, the members alone count."""
        if self.member_sha256 and all((folder / m).exists() for m in self.members):
            return self.name
        if all((folder / m).exists() for m in self.members):
            for candidate in (self.name, *self.aliases):
                if (folder / candidate).exists():
                    return candidate
        return None

    def present(self, folder: Path) -> bool:
        """Whether this file (under its name or an alias; for an archive, with its listed members)
        is in ``folder``."""
        return self.found(folder) is not None

    def label(self) -> str:
        return " or ".join((self.name, *self.aliases))


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
    # ``layout(folder) -> str``: which of several accepted file layouts a folder holds (for
    # `coursekit data list` and messages); None when the data set has one layout
    layout: Callable[[Path], str] | None = field(default=None, compare=False, repr=False)

    @property
    def downloadable(self) -> bool:
        return self.manual is None and all(f.url for f in self.files)

    def status(self, folder: Path) -> str:
        """"present", "missing" or "present (<layout>)" for the real files in ``folder``."""
        if not all(f.present(folder) for f in self.files):
            return "missing"
        return f"present ({self.layout(folder)})" if self.layout is not None else "present"


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    # Each data set module registers its spec on import; import them all once.
    from . import amazon, art, asos, lastfm, music30, ugallery  # noqa: F401


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
    names = ", ".join(f.label() for f in missing)
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
        lacking = []

        def check_members(unpacked: Path) -> None:  # before anything is moved into the folder
            lacking.extend(m for m in f.members if not (unpacked / m).exists())
            if lacking:
                raise DataError(
                    f"the archive has no {', '.join(lacking)}", path=archive,
                    fix="the release changed: check the data set's homepage",
                )
            for member, expected in f.member_sha256:
                got = sha256_of(unpacked / member)
                if got != expected.lower():
                    raise DataError(
                        f"checksum mismatch of {member}: expected sha256 {expected}, got {got}; nothing was "
                        "unpacked", path=archive,
                        fix=f"delete it and run `coursekit data fetch {spec.name}` (or download {f.url} again)",
                    )

        extract_archive(archive, folder, members=f.members or None, check=check_members)
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
        for member, expected in f.member_sha256:
            if (folder / member).exists():
                result[member] = sha256_of(folder / member) == expected.lower()
    return result


MANIFEST = "toy_manifest.json"  # written last into every generated toy folder


def _toy_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path, **about) -> None:
    """Record the size and sha256 of every file of a freshly generated toy folder in ``MANIFEST``.

    No times or paths outside the folder go in, so the same seed and sizes give the same bytes.
    """
    from ._download import sha256_of
    from ._io import write_json

    files = {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in _toy_files(folder)}
    write_json(folder / MANIFEST, {"format": 1, **about, "files": files})


def check_manifest(folder: Path) -> str | None:
    """None when every file the manifest lists is in ``folder`` with its size and sha256, else what
    is wrong (one line). Sizes are checked first (a stat per file), hashes only if they all match."""
    from ._download import sha256_of

    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_bytes())
        files = manifest["files"]
        entries = [(rel, int(e["size"]), str(e["sha256"])) for rel, e in files.items()]
    except FileNotFoundError:
        return f"{MANIFEST} is missing"
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return f"{MANIFEST} is damaged"
    if not entries:
        return f"{MANIFEST} lists no file"
    for rel, size, _ in entries:
        try:
            got = (folder / rel).stat().st_size
        except OSError:
            return f"{rel} is missing"
        if got != size:
            return f"{rel} has {got} bytes, {size} when generated"
    for rel, _, digest in entries:
        try:
            if sha256_of(folder / rel) != digest:
                return f"{rel} changed since it was generated (sha256 differs)"
        except OSError as exc:
            return f"{rel} cannot be read ({exc.strerror or exc})"
    return None


def toy_path(name: str, seed: int = 0, data_home=None, **sizes) -> Path:
    """The folder of the toy version of ``name`` for ``seed``, generated on first use.

    The generator writes the real file formats into a temporary folder, then a manifest (size and
    sha256 of every file); the folder is renamed into place only when complete, and the same seed
    and sizes give the same bytes. Each call checks the folder against its manifest: a folder that
    is damaged (a file truncated, emptied, deleted or changed) or that has no manifest (written by
    an older kit) is generated again beside it and swapped in with renames, so processes loading the
    same toy data at the same time never see a half-written folder.
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
        problem = check_manifest(folder)
        if problem is None:
            return folder
        if not problem.startswith(MANIFEST + " is missing"):  # a cache of an older kit: no news
            import warnings

            warnings.warn(f"toy data in {folder} is damaged ({problem}): generating it again", stacklevel=2)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{tag}.", dir=root))
    trash = None
    try:
        spec.toy(tmp, seed=int(seed), **sizes)
        write_manifest(tmp, dataset=spec.name, toy_version=spec.toy_version, seed=int(seed), sizes=sizes)
        if folder.exists():
            if check_manifest(folder) is None:  # another process repaired it meanwhile
                return folder
            trash = Path(tempfile.mkdtemp(prefix=f".{tag}.damaged.", dir=root))
            try:
                os.replace(folder, trash / "old")  # one rename: readers see the old folder or none
            except FileNotFoundError:
                pass  # another process moved it away first
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.exists():  # another process may have won the race
                raise
    finally:
        for leftover in (tmp, trash):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
    return folder


def load_verified(name: str, source: str, read: Callable[[Path], object], *, seed: int = 0, data_home=None,
                  **sizes):
    """``read(dataset_path(...))``; for toy data a DataError from ``read`` checks the folder against
    its manifest again (regenerating it if damaged, e.g. by a file changed after the check) and reads
    once more; a second failure names the folder to delete."""
    folder = dataset_path(name, source, seed=seed, data_home=data_home, **sizes)
    if source != "toy":
        return read(folder)
    try:
        return read(folder)
    except DataError:
        folder = toy_path(name, seed=seed, data_home=data_home, **sizes)
    try:
        return read(folder)
    except DataError as err:
        raise DataError(err.detail, path=err.path, where=err.where,
                        fix=f"delete the folder {folder} and the toy data is generated again") from None


def dataset_path(name: str, source: str = "toy", *, seed: int = 0, data_home=None, **sizes) -> Path:
    """The folder of data set ``name`` for ``source`` "toy" or "real"."""
    if source == "toy":
        return toy_path(name, seed=seed, data_home=data_home, **sizes)
    if source == "real":
        return real_path(name, data_home)
    raise DataError(f"unknown data source {source!r}", fix="use DATA_SOURCE = 'toy' or 'real'")
