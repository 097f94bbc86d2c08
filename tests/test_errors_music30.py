"""Malformed 30Music files: every case is a one-line DataError naming the file, the record and the fix."""

import gzip
import re
import shutil

import numpy as np
import pytest

from coursekit import DataError
from coursekit.datasets.music30 import make_toy_music30, read_music30, read_session_csv

from ._errors import assert_clean_error

S, T, P, CSV = "sessions.idomaar", "tracks.idomaar", "persons.idomaar", "sessions.csv"


@pytest.fixture(scope="module")
def valid_folder(tmp_path_factory):
    """A small toy data set in the idomaar format, plus the seed's per-session csv built from its plays."""
    folder = tmp_path_factory.mktemp("music30")
    make_toy_music30(folder, n_users=12, n_artists=15, n_communities=3, mean_sessions=3, mean_session_len=4)
    plays = read_music30(folder).plays
    per_session = plays.assign(a=plays["artist_id"].astype(str)).groupby("session_id", sort=True).agg(
        UserId=("user_id", "first"), Timestamp=("timestamp", "first"), ArtistsID=("a", ",".join))
    per_session.rename_axis("ID").reset_index().to_csv(folder / CSV, sep=";", index=False)
    return folder


def load(folder):
    data = read_music30(folder)
    rows = read_session_csv(next(folder.glob(CSV + "*")))
    return data, rows


# ---- breakers: each edits one file of a valid folder in place
def _unlink(name):
    return lambda f: (f / name).unlink()


def _text(name, text):
    return lambda f: (f / name).write_text(text)


def _bytes(name, edit):
    return lambda f: (f / name).write_bytes(edit((f / name).read_bytes()))


def _lines(name, edit):
    """``edit(list of lines with their newline) -> list of lines``."""
    return lambda f: (f / name).write_text("".join(edit((f / name).read_text().splitlines(keepends=True))))


def _line(name, n, edit):
    """Replace line ``n`` (1-based) by ``edit(line without its newline)``."""
    return _lines(name, lambda ls: ls[: n - 1] + [edit(ls[n - 1].rstrip("\n")) + "\n"] + ls[n:])


def _field(name, n, k, value):
    """Set tab-separated field ``k`` (0-based) of line ``n`` to ``value``."""
    return _line(name, n, lambda ln: "\t".join(ln.split("\t")[:k] + [value] + ln.split("\t")[k + 1:]))


def _both(*breakers):
    return lambda f: [b(f) for b in breakers]


def _cut_line_2(marker, extra):
    """Keep line 1 and line 2 up to ``extra`` characters after ``marker``: the file ends mid-record."""
    return _lines(S, lambda ls: [ls[0], ls[1][: ls[1].index(marker) + extra]])


def _latin1_on_line_3(data):
    lines = data.split(b"\n")
    lines[2] = lines[2].replace(b'"name":"', '"name":"Caf\u00e9 '.encode("latin-1"), 1)
    return b"\n".join(lines)


def _gzip_csv_cut(f):
    (f / (CSV + ".gz")).write_bytes(gzip.compress((f / CSV).read_bytes())[:-20])
    (f / CSV).unlink()


CASES = {
    # files and records
    "missing sessions file": (_unlink(S), "sessions.idomaar: file not found"),
    "empty tracks file": (_text(T, ""), "tracks.idomaar: file is empty"),
    "no person records": (_bytes(P, lambda b: b.replace(b"person\t", b"track\t")),
                          "persons.idomaar: no 'person' records (found only 'track' records)"),
    "header line": (_lines(P, lambda ls: ["type\tid\ttimestamp\tproperties\tlinks\n"] + ls),
                    "persons.idomaar, line 1, field 'id': id 'id' is not an integer (idomaar files have no header line)"),
    "csv header only": (_lines(CSV, lambda ls: ls[:1]), "sessions.csv: no sessions: the file has a header but no rows"),
    # fields and delimiters
    "extra field on line 1": (_line(T, 1, lambda ln: ln + "\t{}"),
                              "tracks.idomaar, line 1: found 6 tab-separated fields where 4 or 5 are expected"),
    "extra field on line 3": (_line(T, 3, lambda ln: ln + "\t{}"),
                              "tracks.idomaar, line 3: found 6 tab-separated fields where 4 or 5 are expected"),
    "properties field missing": (_line(P, 2, lambda ln: "\t".join(ln.split("\t")[:3])),
                                 "persons.idomaar, line 2: found 3 fields where 4 or 5 tab-separated fields"),
    "comma instead of tab": (_bytes(P, lambda b: b.replace(b"\t", b",")),
                             "persons.idomaar, line 1: found 1 field where 4 or 5 tab-separated fields are expected "
                             "(is the file tab-separated?)"),
    "csv comma-separated": (_bytes(CSV, lambda b: b.replace(b";", b",")),
                            "sessions.csv: column 'UserId' not found (columns: ['ID,UserId,Timestamp,ArtistsID']); "
                            "the header looks ','-separated, pass sep=','"),
    # integer ids and timestamps
    "text track id": (_field(T, 2, 1, "abc"), "tracks.idomaar, line 2, field 'id': id 'abc' is not an integer"),
    "text timestamp": (_field(S, 3, 2, "yesterday"),
                       "sessions.idomaar, line 3, field 'timestamp': timestamp 'yesterday' is not an integer"),
    "fractional artist id": (_field(P, 2, 1, "72.5"), "persons.idomaar, line 2, field 'id': id '72.5' is not an integer"),
    "empty artist id": (_field(P, 3, 1, ""), "persons.idomaar, line 3, field 'id': id is missing"),
    "NaN track id in a session": (
        _line(S, 2, lambda ln: ln.replace('"type":"track","id":', '"type":"track","id":NaN,"x":', 1)),
        "sessions.idomaar, line 2, field 'links': track id is missing (empty, null or NaN)"),
    "null user id": (_line(S, 2, lambda ln: re.sub(r'"type":"user","id":\d+', '"type":"user","id":null', ln)),
                     "sessions.idomaar, line 2, field 'links': user id is missing"),
    # the catalogue (repeated ids are not errors: the first record wins, see test_u4_music30)
    "track not in the catalogue": (
        _line(S, 1, lambda ln: re.sub(r'"type":"track","id":\d+', '"type":"track","id":999999999', ln, count=1)),
        "sessions.idomaar, session 1000, field 'links': track id 999999999 is not in tracks.idomaar"),
    # JSON fields
    "unescaped quote in a name": (_line(P, 2, lambda ln: ln.replace('"name":"', '"name":"The "Best" ')),
                                  "persons.idomaar, line 2, field 'properties': invalid JSON (Expecting ',' delimiter"),
    "two JSON objects in one field": (_line(P, 2, lambda ln: ln + ',{"name":"x"}'),
                                      "persons.idomaar, line 2, field 'properties': invalid JSON (Extra data"),
    # bytes and truncation
    "latin-1 byte": (_bytes(P, _latin1_on_line_3), "persons.idomaar, line 3: byte 0xe9 at byte"),
    "file cut mid-record": (_cut_line_2('"objects":[', 20),
                            "sessions.idomaar, line 2, field 'links': invalid JSON, the value stops early: is the file cut short?"),
    "gzip instead of text": (_bytes(S, gzip.compress), "sessions.idomaar: gzip-compressed or archive data, not idomaar text"),
    "tracks cut mid-record": (_lines(T, lambda ls: ls[:2] + [ls[2][: ls[2].index('"artists"') + 12]]),
                              "tracks.idomaar, line 3, field 'links': invalid JSON, the value stops early"),
    "flipped byte in a name": (_bytes(P, lambda b: b[:b.index(b'"name":"') + 9] + bytes([b[b.index(b'"name":"') + 9] ^ 0xFF])
                                      + b[b.index(b'"name":"') + 10:]),
                               "persons.idomaar, line 1: byte 0x"),
    "toy communities cut short": (_bytes("toy_communities.npy", lambda b: b[: len(b) // 2]),
                                  "toy_communities.npy: not a valid .npy file"),
    "toy communities of another size": (lambda f: np.save(f / "toy_communities.npy", np.arange(3)),
                                        "toy_communities.npy: 3 communities (int64) for 15 artists"),
    "corrupt gzip csv": (_gzip_csv_cut, "sessions.csv.gz: cannot decompress the file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_music30_files(valid_folder, tmp_path, case):
    folder = tmp_path / "music30"
    shutil.copytree(valid_folder, folder)
    data, rows = load(folder)  # the valid files load
    assert len(data.plays) == len(rows) > 0
    breaker, expected = CASES[case]
    breaker(folder)
    with pytest.raises(DataError) as err:
        load(folder)
    name = re.match(r"[\w.]+", expected)[0]  # every expected message starts with the file name
    assert_clean_error(err, expected, [folder / name])
