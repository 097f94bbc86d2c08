"""Unpack a downloaded archive (.zip, .tar, .tar.gz/.tgz) safely and all-or-nothing.

Every member is checked before anything is written: absolute paths, ``..``, links that point (or
write) outside the target, hard links to anything but an earlier file of the archive, and device
files or FIFOs are refused with a :class:`~coursekit.DataError` naming the archive and the member.
The members are unpacked into a temporary folder beside the target and moved into place only when
all of them were written, so a hostile, corrupt or cut-short archive leaves nothing behind.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Iterable

from ..errors import DataError

__all__ = ["extract_archive"]

_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError)
_FilterError = getattr(tarfile, "FilterError", None) or type("_NoFilterError", (Exception,), {})


class _Refused(Exception):
    def __init__(self, member: str, why: str):
        super().__init__(member, why)
        self.member, self.why = member, why


def _clean(name: str) -> str:
    """``name`` as a safe relative POSIX path, or :class:`_Refused`."""
    unix = name.replace("\\", "/")
    if unix.startswith("/") or (len(unix) > 1 and unix[1] == ":"):
        raise _Refused(name, "has an absolute path")
    parts = [p for p in unix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused(name, "climbs out of the target with '..'")
    if not parts:
        raise _Refused(name, "has an empty name")
    return "/".join(parts)


def _link_inside(name: str, link: str, *, symlink: bool) -> str:
    """The link's target relative to the archive root; :class:`_Refused` if it leaves the root."""
    unix = link.replace("\\", "/")
    what = "a link" if symlink else "a hard link"
    if not unix or unix.startswith("/") or (len(unix) > 1 and unix[1] == ":"):
        raise _Refused(name, f"is {what} to the absolute path {link!r}")
    base = posixpath.dirname(name) if symlink else ""  # hard links are relative to the root
    joined = posixpath.normpath(posixpath.join(base, unix))
    if joined == ".." or joined.startswith("../"):
        raise _Refused(name, f"is {what} pointing outside the target ({link!r})")
    return joined


class _Entry:
    """One archive member, described the same way for zip and tar."""

    __slots__ = ("name", "kind", "link", "source")

    def __init__(self, name: str, kind: str, link: str | None, source):
        self.name, self.kind, self.link, self.source = name, kind, link, source


def _zip_entries(zf: zipfile.ZipFile) -> list[_Entry]:
    entries = []
    for info in zf.infolist():
        mode = info.external_attr >> 16 if info.create_system == 3 else 0  # 3: Unix
        name = _clean(info.filename)
        if info.is_dir() or stat.S_ISDIR(mode):
            kind = "dir"
        elif stat.S_ISLNK(mode):
            kind = "symlink"
        elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):
            raise _Refused(info.filename, "is a device file, FIFO or other special file")
        else:
            kind = "file"
        link = None
        if kind == "symlink":
            link = zf.read(info).decode("utf-8", "surrogateescape")
            _link_inside(name, link, symlink=True)
        entries.append(_Entry(name, kind, link, info))
    return entries


def _tar_entries(tf: tarfile.TarFile) -> list[_Entry]:
    entries, files = [], set()
    for info in tf.getmembers():
        name = _clean(info.name)
        if info.isdir():
            kind, link = "dir", None
        elif info.issym():
            kind, link = "symlink", info.linkname
            _link_inside(name, link, symlink=True)
        elif info.islnk():
            kind, link = "hardlink", info.linkname
            target = _link_inside(name, link, symlink=False)
            if target not in files:
                raise _Refused(info.name, f"is a hard link to {link!r}, which is not an earlier "
                                          "file of the archive")
        elif info.isreg():
            kind, link = "file", None
            files.add(name)
        else:
            raise _Refused(info.name, "is a device file, FIFO or other special file")
        entries.append(_Entry(name, kind, link, info))
    return entries


def _check_no_write_through_links(entries: list[_Entry]) -> None:
    """No member may be written (or hard-linked) through a symbolic link of the archive."""
    links = {e.name for e in entries if e.kind == "symlink"}
    if not links:
        return
    for e in entries:
        paths = [e.name] + ([e.link] if e.kind == "hardlink" else [])
        for path in paths:
            parts = path.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in links:
                    raise _Refused(e.name, f"goes through the link {'/'.join(parts[:i])!r}")


def _select(entries: list[_Entry], members: Iterable[str] | None, archive: Path) -> list[_Entry]:
    if members is None:
        return entries
    by_name = {e.name: e for e in entries}
    chosen: dict[str, _Entry] = {}
    for wanted in members:
        key = _clean(wanted).rstrip("/")
        inside = [e for e in entries if e.name == key or e.name.startswith(key + "/")]
        if not inside:
            raise DataError(f"the archive has no member {wanted!r}", path=archive,
                            fix="check the data set's member list, or download the archive again")
        for e in inside:
            chosen[e.name] = e
            if e.kind == "hardlink" and e.link in by_name:
                chosen.setdefault(e.link, by_name[e.link])
    return [e for e in entries if e.name in chosen]


def _extract_zip(zf: zipfile.ZipFile, entries: list[_Entry], root: Path) -> None:
    real_root = os.path.realpath(root)
    for e in entries:
        path = root / e.name
        if e.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        parent = os.path.realpath(path.parent)
        if parent != real_root and not parent.startswith(real_root + os.sep):
            raise _Refused(e.name, "would be written outside the target")
        if e.kind == "symlink":
            os.symlink(e.link, path)
            continue
        with zf.open(e.source) as src, open(path, "wb") as dst:  # checks the CRC at the end
            shutil.copyfileobj(src, dst, 1 << 20)


def _extract_tar(tf: tarfile.TarFile, entries: list[_Entry], root: Path) -> None:
    infos = [e.source for e in entries]
    if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: a second line of defence
        tf.extractall(root, members=infos, filter="data")
    else:  # pragma: no cover - older Pythons; every member was checked above
        tf.extractall(root, members=infos)


def _check_links_resolve_inside(root: Path, archive: Path) -> None:
    """After unpacking, every symbolic link must still resolve inside the temporary folder."""
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if real != real_root and not real.startswith(real_root + os.sep):
                    member = os.path.relpath(path, root).replace(os.sep, "/")
                    link = os.readlink(path)
                    raise _Refused(member, f"is a link pointing outside the target ({link!r})")


def _files_under(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


def _move_into(src: Path, dst: Path) -> None:
    """Move the contents of folder ``src`` into folder ``dst``, replacing files of the same name."""
    for entry in src.iterdir():
        target = dst / entry.name
        entry_is_dir = entry.is_dir() and not entry.is_symlink()
        if entry_is_dir and target.is_dir():
            _move_into(entry, target)
            continue
        if target.is_dir() and not target.is_symlink():  # a folder replaced by a file or link
            shutil.rmtree(target)
        elif entry_is_dir and (target.exists() or target.is_symlink()):  # a file, now a folder
            target.unlink()
        os.replace(entry, target)


def _kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
        return "tar"
    raise DataError(
        "not an archive the kit can unpack (expected .zip, .tar, .tar.gz or .tgz)", path=archive,
        fix="unpack it by hand into the data set folder",
    )


def extract_archive(
    archive: str | os.PathLike,
    target: str | os.PathLike,
    *,
    members: Iterable[str] | None = None,
    check=None,
) -> list[Path]:
    """Unpack ``archive`` into the folder ``target``; return the paths of the files written.

    ``members`` limits the extraction to these names (a folder name takes everything under it);
    by default everything is unpacked. Files already in ``target`` with the same names are
    replaced; other files in ``target`` are left alone. ``check(folder)``, when given, is called
    with the temporary folder holding the unpacked files before anything moves into ``target``
    (to verify checksums, say); an exception it raises leaves ``target`` untouched.

    Raises :class:`~coursekit.DataError` naming the archive and the member when a member would land
    outside ``target`` (absolute path, ``..``, a link pointing outside, a hard link to something
    that is not an earlier file of the archive, a device file or FIFO), and when the archive is
    corrupt or cut short. In every error case nothing is written into ``target``.
    """
    archive, target = Path(archive), Path(target)
    kind = _kind(archive)
    if not archive.is_file():
        raise DataError("archive not found", path=archive, fix="download it again")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extract", dir=target.parent))
    try:
        try:
            if kind == "zip":
                with zipfile.ZipFile(archive) as zf:
                    entries = _select(_zip_entries(zf), members, archive)
                    _check_no_write_through_links(entries)
                    _extract_zip(zf, entries, tmp)
            else:
                with tarfile.open(archive) as tf:
                    entries = _select(_tar_entries(tf), members, archive)
                    _check_no_write_through_links(entries)
                    _extract_tar(tf, entries, tmp)
            _check_links_resolve_inside(tmp, archive)
        except _Refused as refused:
            raise DataError(
                f"refusing to unpack the archive: member {refused.member!r} {refused.why}",
                path=archive,
                fix="the archive is not safe to unpack; download it again from the official source "
                    "or unpack it by hand after checking it",
            ) from None
        except _FilterError as exc:  # the data filter caught what the checks above did not
            member = getattr(getattr(exc, "tarinfo", None), "name", "?")
            raise DataError(
                f"refusing to unpack the archive: member {member!r}: {exc}", path=archive,
                fix="the archive is not safe to unpack; download it again from the official source",
            ) from None
        except (*_CORRUPT, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:  # a disk problem, not the data
                raise DataError(
                    f"cannot unpack the archive: {exc.strerror or exc}", path=target,
                    fix="free some space or check the folder's permissions",
                ) from None
            said = " ".join(str(exc).split())  # one line: tarfile lists every method it tried
            raise DataError(  # gzip's and bz2's bad-data errors are OSErrors without an errno
                f"the archive is corrupt or cut short ({type(exc).__name__}: {said})", path=archive,
                fix="delete it and download it again",
            ) from None
        if check is not None:
            check(tmp)
        written = _files_under(tmp)
        if target.exists():
            _move_into(tmp, target)
        else:
            os.replace(tmp, target)
        return [target / w for w in written]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
