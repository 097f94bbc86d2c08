"""Downloads that fail in every way a network can, and archives that try to escape their folder.

Everything runs against tests/_http.py on 127.0.0.1; archives are built in tmp_path. After each
failure the data-home folder is listed: no .part file, no half-extracted folder, nothing outside.
"""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from coursekit import DataError
from coursekit import datasets as ds
from coursekit.datasets import _registry
from coursekit.datasets._archive import extract_archive
from coursekit.datasets._download import download_file
from coursekit.datasets._registry import DatasetSpec, RemoteFile

from ._http import Server

PAYLOAD = bytes(range(256)) * 80  # 20 480 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()
GOOD = b"the good copy already on disk\n"


def listing(folder: Path) -> list[str]:
    """Every path under ``folder``, hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection refused, like being offline
    return port


# --------------------------------------------------------------------------- downloads

FAILURES = [  # (server mode, message pattern)
    ("truncate", rf"the transfer stopped after {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes: "
                 "the connection closed early"),
    ("corrupt", rf"checksum mismatch: expected sha256 {SHA}, got [0-9a-f]{{64}} \({len(PAYLOAD)} bytes\); "
                "the download was removed"),
    ("stall", rf"the transfer stalled for more than 0.5 s \(no data after {len(PAYLOAD) // 2} bytes\)"),
    ("trickle", r"the transfer stalled for more than 0.5 s \(only \d+ bytes arrived in that time, "
                r"slower than 1024 bytes/s\)"),
    ("close", rf"checksum mismatch: .*\({len(PAYLOAD) // 2} bytes\); the download was removed"),
    ("chunked-cut", rf"the transfer stopped after \d+ bytes: the connection closed early"),
    ("slow", r"the server accepted the connection but did not answer within 0.5 s"),
    ("404", r"the server answered HTTP 404 \(Not Found\)"),
    ("500", r"the server answered HTTP 500 \(Internal Server Error\)"),
    ("offline", r"cannot reach the server \(Connection refused\): are you offline\?"),
]


@pytest.mark.parametrize("existing", [False, True], ids=["empty", "good-file-there"])
@pytest.mark.parametrize("mode,pattern", FAILURES, ids=[m for m, _ in FAILURES])
def test_failed_download_says_what_happened_and_leaves_nothing(tmp_path, mode, pattern, existing):
    home = tmp_path / "home"
    dest = home / "ds" / "f.bin"
    if existing:
        dest.parent.mkdir(parents=True)
        dest.write_bytes(GOOD)
    before = listing(home)
    with Server({"/f.bin": PAYLOAD}, {"/f.bin": mode}) as srv:
        url = f"http://127.0.0.1:{free_port()}/f.bin" if mode == "offline" else f"{srv.url}/f.bin"
        start = time.monotonic()
        with pytest.raises(DataError, match=pattern) as err:
            download_file(url, dest, SHA, timeout=0.5, progress=False)
        elapsed = time.monotonic() - start
    message = str(err.value)
    assert "\n" not in message and message.startswith(url)
    assert url in err.value.fix and str(dest) in err.value.fix  # the manual steps
    assert elapsed < 3.0  # stalls and trickles are cut off, not waited out
    assert listing(home) == (before if existing else ["ds"])  # no .part, no partial file
    if existing:
        assert dest.read_bytes() == GOOD  # the good copy is untouched


def test_min_speed_zero_keeps_only_the_read_timeout(tmp_path):
    # a byte every 50 ms never trips the 0.5 s read timeout: with the speed rule off, the
    # trickle completes (the same trickle fails above with the default min_speed)
    body = PAYLOAD[:10]
    with Server({"/t": body}, {"/t": "trickle"}) as srv:
        dest = download_file(f"{srv.url}/t", tmp_path / "t", hashlib.sha256(body).hexdigest(),
                             timeout=0.5, min_speed=0, progress=False)
    assert dest.read_bytes() == body
    # ... and max_time bounds the whole transfer whatever the speed
    with Server({"/t": PAYLOAD}, {"/t": "trickle"}) as srv:
        with pytest.raises(DataError, match=r"the download took longer than 0.3 s \(stopped after \d+ bytes\)"):
            download_file(f"{srv.url}/t", tmp_path / "u", timeout=0.5, min_speed=0, max_time=0.3,
                          progress=False)
    assert listing(tmp_path) == ["t"]


def test_success_after_failures_and_manual_fix_text(tmp_path):
    home = tmp_path / "home"
    dest = home / "ds" / "f.bin"
    modes = {"/f.bin": "corrupt"}
    with Server({"/f.bin": PAYLOAD}, modes) as srv:
        for mode in ("corrupt", "truncate", "404"):
            modes["/f.bin"] = mode
            with pytest.raises(DataError):
                download_file(f"{srv.url}/f.bin", dest, SHA, timeout=0.5, progress=False)
        modes.clear()
        assert download_file(f"{srv.url}/f.bin", dest, SHA, timeout=0.5, progress=False) == dest
        assert srv.hits["/f.bin"] == 4
        # a custom manual step replaces the default one in the Fix part
        with pytest.raises(DataError, match=r"Fix: .*fill in the form at example.org"):
            download_file(f"{srv.url}/gone", home / "ds" / "g", manual="fill in the form at example.org")
    assert dest.read_bytes() == PAYLOAD
    assert listing(home) == ["ds", "ds/f.bin"]


def test_offline_through_the_registry(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}/f.csv"
    spec = DatasetSpec(name="offline-set", title="t", unit="00", files=(RemoteFile("f.csv", url, SHA),))
    monkeypatch.setitem(_registry._REGISTRY, spec.name, spec)
    with pytest.raises(DataError, match=r"are you offline\?.*Fix: .*download .*f.csv by hand into") as err:
        ds.fetch("offline-set", data_home=tmp_path)
    assert str(tmp_path / "offline-set") in err.value.fix
    assert listing(tmp_path) == ["offline-set"]


# --------------------------------------------------------------------------- archives

def _zip(path: Path, members) -> Path:
    """members: (name, bytes) or (name, bytes, unix mode) — the mode sets links and devices."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, *mode in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode:
                info.create_system = 3
                info.external_attr = mode[0] << 16
            zf.writestr(info, data)
    return path


def _tar(path: Path, members, mode="w:gz") -> Path:
    """members: (name, bytes) for files, or (name, tar type, link name)."""
    with tarfile.open(path, mode) as tf:
        for name, what, *link in members:
            info = tarfile.TarInfo(name)
            if what not in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE):
                info.size = len(what)
                tf.addfile(info, io.BytesIO(what))
            else:
                info.type = what
                info.linkname = link[0] if link else ""
                tf.addfile(info)
    return path


FILES = [("a.csv", b"user,item\n1,2\n"), ("sub/b.bin", bytes(range(256)) * 3)]

ZIP_HOSTILE = {
    "dotdot": [("../evil", b"x")],
    "dotdot-deep": [("ok/../../evil", b"x")],
    "absolute": [("/abs/evil", b"x")],
    "symlink-abs": [("link", b"/etc/passwd", stat.S_IFLNK | 0o777)],
    "symlink-up": [("link", b"../x", stat.S_IFLNK | 0o777)],
    "device": [("dev", b"", stat.S_IFCHR | 0o644)],
    "fifo": [("fifo", b"", stat.S_IFIFO | 0o644)],
    "write-through-link": [("d", b"sub", stat.S_IFLNK | 0o777), ("d/x", b"x")],
    "link-chain": [("l2", b".", stat.S_IFLNK | 0o777), ("l1", b"l2/..", stat.S_IFLNK | 0o777)],
}

TAR_HOSTILE = {
    "dotdot": [("../evil", b"x")],
    "absolute": [("/abs/evil", b"x")],
    "symlink-abs": [("link", tarfile.SYMTYPE, "/etc/passwd")],
    "symlink-up": [("sub/link", tarfile.SYMTYPE, "../../x")],
    "hardlink-abs": [("hard", tarfile.LNKTYPE, "/etc/passwd")],
    "hardlink-up": [("hard", tarfile.LNKTYPE, "../outside")],
    "hardlink-later": [("hard", tarfile.LNKTYPE, "later.csv"), ("later.csv", b"x")],
    "fifo": [("fifo", tarfile.FIFOTYPE)],
    "chardev": [("dev", tarfile.CHRTYPE)],
    "write-through-link": [("d", tarfile.SYMTYPE, "sub"), ("d/x", b"x")],
    # both links look harmless alone; together l1 -> l2/.. -> ./.. is the target's parent
    "link-chain": [("l2", tarfile.SYMTYPE, "."), ("l1", tarfile.SYMTYPE, "l2/..")],
}


def _hostile_cases():
    for case, members in ZIP_HOSTILE.items():
        yield pytest.param("zip", members, id=f"zip-{case}")
    for case, members in TAR_HOSTILE.items():
        yield pytest.param("tar.gz", members, id=f"tgz-{case}")


@pytest.mark.parametrize("pre_existing", [False, True], ids=["new-target", "existing-target"])
@pytest.mark.parametrize("kind,hostile", list(_hostile_cases()))
def test_hostile_archive_is_refused_and_nothing_is_written(tmp_path, kind, hostile, pre_existing):
    (tmp_path / "src").mkdir()
    members = FILES + hostile  # good members first: they must not be left behind either
    build = _zip if kind == "zip" else _tar
    archive = build(tmp_path / "src" / f"data.{kind}", members)
    target = tmp_path / "home" / "ds"
    (tmp_path / "home").mkdir()  # the data home; the data set folder may not exist yet
    if pre_existing:
        target.mkdir()
        (target / "mine.txt").write_text("keep me")
    before = listing(tmp_path)
    with pytest.raises(DataError, match=r"refusing to unpack the archive: member '[^']+'") as err:
        extract_archive(archive, target)
    message = str(err.value)
    assert message.startswith(str(archive)) and "\n" not in message
    named = [m[0] for m in hostile if repr(m[0]) in message or repr(m[0].lstrip("/")) in message]
    assert named, message  # the member named is a hostile one
    assert listing(tmp_path) == before  # nothing in target, nothing beside it, nothing outside
    assert not Path("/abs/evil").exists()


def test_corrupt_or_cut_short_archives(tmp_path):
    big = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB, barely compressible
    members = [("first.csv", b"a,b\n" * 10), ("big.bin", big), ("last.csv", b"c\n")]
    cases = {}
    for kind, build in (("zip", _zip), ("tar.gz", _tar)):
        whole = build(tmp_path / f"whole.{kind}", members).read_bytes()
        cases[f"cut.{kind}"] = whole[: len(whole) * 2 // 3]
        flipped = bytearray(whole)
        flipped[len(whole) // 2] ^= 0xFF
        cases[f"flipped.{kind}"] = bytes(flipped)
    cases["garbage.zip"] = cases["garbage.tgz"] = b"this is not an archive"
    cases["empty.tar"] = b""
    home = tmp_path / "home"
    for name, data in cases.items():
        archive = tmp_path / name
        archive.write_bytes(data)
        with pytest.raises(DataError, match=r"the archive is corrupt or cut short .*Fix: delete it") as err:
            extract_archive(archive, home / "ds")
        assert str(err.value).startswith(str(archive))
        assert listing(home) == [], name  # first.csv was unpacked before the error: not kept


@pytest.mark.parametrize("suffix,mode", [("zip", None), ("tar", "w"), ("tar.gz", "w:gz"), ("tgz", "w:gz")])
def test_good_archive_round_trips_its_bytes(tmp_path, suffix, mode):
    archive = tmp_path / f"good.{suffix}"
    if mode is None:
        _zip(archive, FILES + [("sub/", b""), ("latest", b"sub/b.bin", stat.S_IFLNK | 0o777)])
    else:
        _tar(archive, FILES + [("latest", tarfile.SYMTYPE, "sub/b.bin"),
                               ("hard.csv", tarfile.LNKTYPE, "a.csv")], mode=mode)
    target = tmp_path / "home" / "ds"
    written = extract_archive(archive, target)
    assert sorted(p.relative_to(target).as_posix() for p in written) == sorted(
        ["a.csv", "sub/b.bin", "latest"] + (["hard.csv"] if mode else []))
    for name, data in FILES:
        assert (target / name).read_bytes() == data
    assert (target / "latest").is_symlink() and (target / "latest").read_bytes() == FILES[1][1]
    assert listing(tmp_path / "home") == ["ds"] + [f"ds/{p}" for p in sorted(
        ["a.csv", "sub", "sub/b.bin", "latest"] + (["hard.csv"] if mode else []))]


def test_extract_into_existing_folder_and_members(tmp_path):
    archive = _tar(tmp_path / "a.tgz", FILES + [("sub/c.txt", b"c"), ("other.txt", b"o")])
    target = tmp_path / "ds"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    (target / "a.csv").write_text("old")
    (target / "sub").write_text("a file where the archive has a folder")
    written = extract_archive(archive, target, members=["a.csv", "sub"])
    assert sorted(p.relative_to(target).as_posix() for p in written) == ["a.csv", "sub/b.bin", "sub/c.txt"]
    assert (target / "a.csv").read_bytes() == FILES[0][1]  # replaced by the archive's copy
    assert (target / "mine.txt").read_text() == "keep me" and not (target / "other.txt").exists()
    with pytest.raises(DataError, match="the archive has no member 'nope.csv'"):
        extract_archive(archive, target, members=["nope.csv"])
    with pytest.raises(DataError, match="not an archive the kit can unpack"):
        extract_archive(tmp_path / "x.rar", target)
    assert listing(tmp_path) == ["a.tgz", "ds", "ds/a.csv", "ds/mine.txt", "ds/sub", "ds/sub/b.bin",
                                 "ds/sub/c.txt"]


# --------------------------------------------------------------------------- registry + archive

@pytest.fixture
def archive_set(tmp_path, monkeypatch):
    """Register a temporary data set released as a .tar.gz served by the local server."""
    def make(url: str, data: bytes, members=("ratings.csv", "items")):
        spec = DatasetSpec(
            name="archset", title="an archive data set", unit="00",
            files=(RemoteFile("archset.tar.gz", url, hashlib.sha256(data).hexdigest(),
                              extract=True, members=members),),
        )
        monkeypatch.setitem(_registry._REGISTRY, spec.name, spec)  # removed after the test
        return spec
    return make


def test_fetch_archive_dataset_unpacks_and_verifies(tmp_path, archive_set):
    ratings = b"user,item,rating\n" + b"1,2,5\n" * 100
    data = _tar(tmp_path / "src.tar.gz", [("ratings.csv", ratings), ("items/a.txt", b"A"),
                                          ("README", b"r")]).read_bytes()
    home = tmp_path / "home"
    with Server({"/archset.tar.gz": data}) as srv:
        archive_set(f"{srv.url}/archset.tar.gz", data)
        folder = ds.fetch("archset", data_home=home)
        assert srv.hits["/archset.tar.gz"] == 1
    assert folder == home / "archset"
    assert (folder / "ratings.csv").read_bytes() == ratings and (folder / "items" / "a.txt").read_bytes() == b"A"
    assert not (folder / "README").exists()  # only the listed members
    assert ds.verify("archset", data_home=home) == {"archset.tar.gz": True}
    assert listing(home) == ["archset", "archset/archset.tar.gz", "archset/items", "archset/items/a.txt",
                             "archset/ratings.csv"]
    # an unpacked file deleted: the archive on disk is unpacked again, without the network
    (folder / "ratings.csv").unlink()
    assert ds.fetch("archset", data_home=home) == folder
    assert (folder / "ratings.csv").read_bytes() == ratings
    # the real path is then found without any work
    assert ds.real_path("archset", data_home=home, download_if_missing=False) == folder


def test_fetch_archive_dataset_failures_leave_nothing(tmp_path, archive_set):
    hostile = _tar(tmp_path / "bad.tar.gz", [("ratings.csv", b"x"), ("items/a", b"a"),
                                             ("../../evil", b"x")]).read_bytes()
    home = tmp_path / "home"
    with Server({"/archset.tar.gz": hostile}) as srv:
        archive_set(f"{srv.url}/archset.tar.gz", hostile)  # right checksum, hostile content
        with pytest.raises(DataError, match=r"archset.tar.gz: refusing to unpack the archive: member '../../evil'"):
            ds.fetch("archset", data_home=home)
    assert listing(home) == ["archset"]  # the archive is removed too: the next fetch starts clean
    assert not list(tmp_path.rglob("evil"))
    good = _tar(tmp_path / "good.tar.gz", [("ratings.csv", b"r"), ("items/a", b"a")]).read_bytes()
    with Server({"/archset.tar.gz": good}, {"/archset.tar.gz": "truncate"}) as srv:
        archive_set(f"{srv.url}/archset.tar.gz", good)
        with pytest.raises(DataError, match="the transfer stopped after"):
            ds.fetch("archset", data_home=home)
        assert listing(home) == ["archset"]
        srv.modes.clear()  # the server recovers: the retry fetches, verifies and unpacks
        ds.fetch("archset", data_home=home)
    assert listing(home) == ["archset", "archset/archset.tar.gz", "archset/items", "archset/items/a",
                             "archset/ratings.csv"]
    # an archive placed by hand with the wrong bytes is not unpacked
    (home / "archset" / "ratings.csv").unlink()
    (home / "archset" / "archset.tar.gz").write_bytes(hostile)
    with pytest.raises(DataError, match="checksum mismatch.*Fix: delete it"):
        ds.fetch("archset", data_home=home)
    assert not (home / "archset" / "ratings.csv").exists()


# --------------------------------------------------------------------------- Last.fm-2k: a zip whose files are checked one by one

def _lastfm_zip(tmp_path, files: dict[str, bytes], extra=(("readme.txt", b"HetRec 2011"),
                                                          ("user_taggedartists.dat", b"userID\tartistID\r\n"))) -> bytes:
    """The GroupLens zip's layout: the .dat files at the top, beside files the kit does not need."""
    return _zip(tmp_path / "hetrec.zip", [*files.items(), *extra]).read_bytes()


@pytest.fixture
def lastfm_release(tmp_path_factory):
    """{file name: bytes} of a toy Last.fm-2k release in the real format."""
    from coursekit.datasets.lastfm import FILES, make_toy_lastfm

    folder = tmp_path_factory.mktemp("lastfm_release")
    make_toy_lastfm(folder, seed=1, n_users=60, n_artists=150)
    return {name: (folder / name).read_bytes() for name, *_ in FILES.values()}


@pytest.fixture
def lastfm_spec(monkeypatch):
    """The registered lastfm2k spec with its URL (and, for toy files, the sums) pointed elsewhere."""
    import dataclasses

    real = ds.get_spec("lastfm2k")

    def make(url: str, files: dict[str, bytes] | None = None):
        archive = real.files[0]
        sums = archive.member_sha256 if files is None else tuple(
            (name, hashlib.sha256(data).hexdigest()) for name, data in files.items())
        spec = dataclasses.replace(real, files=(dataclasses.replace(archive, url=url, member_sha256=sums),))
        monkeypatch.setitem(_registry._REGISTRY, spec.name, spec)
        return spec
    return make


def test_lastfm_spec_is_the_grouplens_zip_with_per_file_sums():
    spec = ds.get_spec("lastfm2k")
    (archive,) = spec.files
    assert archive.url == "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
    assert archive.members == ("user_artists.dat", "artists.dat", "tags.dat", "user_friends.dat")
    assert dict(archive.member_sha256).keys() == set(archive.members) and spec.downloadable


def test_fetch_lastfm_checks_every_file_and_unpacks_only_the_kits(tmp_path, lastfm_release, lastfm_spec):
    from coursekit.datasets.lastfm import read_lastfm

    data = _lastfm_zip(tmp_path, lastfm_release)
    home = tmp_path / "home"
    with Server({"/hetrec.zip": data}) as srv:
        lastfm_spec(f"{srv.url}/hetrec.zip", lastfm_release)
        folder = ds.fetch("lastfm2k", data_home=home)
        assert srv.hits["/hetrec.zip"] == 1
        assert ds.fetch("lastfm2k", data_home=home) == folder and srv.hits["/hetrec.zip"] == 1  # no second download
    assert listing(home) == ["lastfm2k", "lastfm2k/artists.dat", "lastfm2k/hetrec2011-lastfm-2k.zip",
                             "lastfm2k/tags.dat", "lastfm2k/user_artists.dat", "lastfm2k/user_friends.dat"]
    assert all((folder / name).read_bytes() == body for name, body in lastfm_release.items())
    assert ds.verify("lastfm2k", data_home=home) == dict.fromkeys(lastfm_release, True)
    assert read_lastfm(folder).plays["plays"].min() >= 1
    # the files alone (copied in by hand, the archive deleted) are the data set: no network needed
    (folder / "hetrec2011-lastfm-2k.zip").unlink()
    lastfm_spec(f"http://127.0.0.1:{free_port()}/hetrec.zip", lastfm_release)
    assert ds.real_path("lastfm2k", data_home=home) == folder


def test_fetch_lastfm_command_line(tmp_path, lastfm_release, lastfm_spec, monkeypatch, capsys):
    from coursekit.cli import main

    data = _lastfm_zip(tmp_path, lastfm_release)
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "home"))
    with Server({"/hetrec.zip": data}) as srv:
        lastfm_spec(f"{srv.url}/hetrec.zip", lastfm_release)
        assert main(["data", "fetch", "lastfm2k"]) == 0
    assert capsys.readouterr().out.strip().endswith("lastfm2k")
    assert main(["data", "verify", "lastfm2k"]) == 0
    (tmp_path / "home" / "lastfm2k" / "tags.dat").write_bytes(b"tagID\ttagValue\r\n1\tchanged\r\n")
    assert main(["data", "verify", "lastfm2k"]) == 1
    assert "MISMATCH  tags.dat" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["changed file", "missing file", "truncated zip"])
def test_fetch_lastfm_refuses_a_release_whose_files_differ(tmp_path, lastfm_release, lastfm_spec, damage):
    files = dict(lastfm_release)
    if damage == "changed file":
        files["tags.dat"] = files["tags.dat"].replace(b"rock", b"rack", 1)
    elif damage == "missing file":
        del files["user_friends.dat"]
    data = _lastfm_zip(tmp_path, files)
    modes = {"/hetrec.zip": "truncate"} if damage == "truncated zip" else {}
    home = tmp_path / "home"
    expected = {"changed file": r"hetrec2011-lastfm-2k.zip: checksum mismatch of tags.dat: expected sha256 [0-9a-f]{64}, "
                                r"got [0-9a-f]{64}; nothing was unpacked.*Fix: delete it",
                "missing file": r"hetrec2011-lastfm-2k.zip: the archive has no member .user_friends.dat.",
                "truncated zip": r"the transfer stopped after"}[damage]
    with Server({"/hetrec.zip": data}, modes) as srv:
        lastfm_spec(f"{srv.url}/hetrec.zip", lastfm_release)
        with pytest.raises(DataError, match=expected):
            ds.fetch("lastfm2k", data_home=home)
    assert listing(home) == ["lastfm2k"]  # no file of a bad release, and the archive is gone too


def test_the_real_lastfm_files_match_the_registered_sums(real_data_home, tmp_path, lastfm_spec):
    """The sums in the registry are those of ../shared/data/lastfm2k/SHA256SUMS, and a zip of those
    files goes through `fetch` with the registered sums (only the URL is local)."""
    folder = real_data_home / "lastfm2k"
    if not (folder / "SHA256SUMS").exists():
        pytest.skip(f"no Last.fm-2k files in {real_data_home}")
    sums = dict(reversed(line.split()) for line in (folder / "SHA256SUMS").read_text().splitlines() if line.strip())
    assert dict(ds.get_spec("lastfm2k").files[0].member_sha256) == sums
    release = {name: (folder / name).read_bytes() for name in sums}
    data = _lastfm_zip(tmp_path, release)
    with Server({"/hetrec.zip": data}) as srv:
        lastfm_spec(f"{srv.url}/hetrec.zip")  # the registered sums
        fetched = ds.fetch("lastfm2k", data_home=tmp_path / "home")
    assert ds.verify("lastfm2k", data_home=tmp_path / "home") == dict.fromkeys(sums, True)
    assert (fetched / "user_artists.dat").read_bytes() == release["user_artists.dat"]
