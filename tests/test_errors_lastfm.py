"""Malformed Last.fm-2k files and interaction tables: every case is a one-line DataError naming the
file, the line (or row) and the column, with a fix.

The Last.fm cases start from a valid toy folder in the release's format (header first, tabs, CRLF,
latin-1 tags.dat), break one thing and check the message; the table cases (``DATA_SOURCE="csv"``)
start from a generated table of (user, item, count, timestamp) rows.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from coursekit import DataError
from coursekit.datasets.lastfm import FILES, make_toy_lastfm, read_lastfm
from coursekit.datasets.listening import load_listening
from coursekit.datasets.tables import read_interaction_table

from ._errors import assert_breaks, assert_clean_error

UA, ARTISTS, TAGS, FRIENDS = (FILES[k][0] for k in ("user_artists", "artists", "tags", "user_friends"))


@pytest.fixture(scope="module")
def lastfm_toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lastfm_toy")
    make_toy_lastfm(folder, seed=2, n_users=120, n_artists=300)
    return folder


def _lines(name, change):
    """Rewrite a .dat file with ``change(list of lines without their CRLF) -> list of lines``."""
    def breaker(folder):
        path = folder / name
        encoding = "latin-1" if name == TAGS else "utf-8"
        lines = path.read_bytes().decode(encoding).split("\r\n")[:-1]
        path.write_bytes(("\r\n".join(change(lines)) + "\r\n").encode(encoding))
    return breaker


def _set_field(name, line, field, value):
    """Line ``line`` (1-based, the header is line 1), tab-separated field ``field`` (0-based) := value."""
    def change(lines):
        parts = lines[line - 1].split("\t")
        parts[field] = value
        lines[line - 1] = "\t".join(parts)
        return lines
    return _lines(name, change)


def _write(name, data: bytes):
    return lambda folder: (folder / name).write_bytes(data)


def _repeat_line(name, source, at):
    return _lines(name, lambda ls: ls[:at - 1] + [ls[source - 1]] + ls[at - 1:])


def _latin1_name(folder):
    """A latin-1 byte in the name on line 4 of artists.dat (names are UTF-8)."""
    lines = (folder / ARTISTS).read_bytes().split(b"\r\n")
    artist_id, rest = lines[3].split(b"\t", 1)
    lines[3] = artist_id + b"\tcaf\xe9 " + rest
    (folder / ARTISTS).write_bytes(b"\r\n".join(lines))


CASES = {
    "missing user_artists": (lambda f: (f / UA).unlink(), f"{UA}: file not found"),
    "missing tags": (lambda f: (f / TAGS).unlink(), f"{TAGS}: file not found"),
    "empty artists": (_write(ARTISTS, b""), f"{ARTISTS}: file is empty"),
    "header only": (_lines(FRIENDS, lambda ls: ls[:1]), f"{FRIENDS}: no records: the file holds only its header"),
    "no header": (_lines(UA, lambda ls: ls[1:]), f"{UA}, line 1: expected the header line "
                                                 "'userID\\tartistID\\tweight', no header: it starts with a record"),
    "renamed header": (_lines(UA, lambda ls: ["user\tartist\tweight"] + ls[1:]),
                       f"{UA}, line 1: expected the header line 'userID\\tartistID\\tweight', found the header "
                       "['user', 'artist', 'weight']"),
    "comma-separated": (_lines(FRIENDS, lambda ls: [l.replace("\t", ",") for l in ls]),
                        f"{FRIENDS}, line 1: expected the header line 'userID\\tfriendID', found the header "
                        "['userID,friendID']"),
    "a field too many": (_set_field(UA, 7, 2, "12\t5"),
                         f"{UA}, line 7: found 4 tab-separated fields where 3 are expected"),
    "a field too few on the first record": (_lines(UA, lambda ls: ls[:1] + ["\t".join(ls[1].split("\t")[:2])] + ls[2:]),
                                            f"{UA}, line 2: found 2 tab-separated fields where 3 are expected"),
    "a field too few": (_lines(UA, lambda ls: ls[:8] + ["\t".join(ls[8].split("\t")[:2])] + ls[9:]),
                        f"{UA}, line 9, column 'weight': weight is missing"),
    "text weight": (_set_field(UA, 9, 2, "lots"), f"{UA}, line 9, column 'weight': weight 'lots' is not an integer"),
    "fractional weight": (_set_field(UA, 4, 2, "2.5"), f"{UA}, line 4, column 'weight': weight '2.5' is not an integer"),
    "zero weight": (_set_field(UA, 5, 2, "0"), f"{UA}, line 5, column 'weight': weight 0 is not a positive count"),
    "negative weight": (_set_field(UA, 6, 2, "-3"), f"{UA}, line 6, column 'weight': weight -3 is not a positive count"),
    "text user id": (_set_field(UA, 3, 0, "u42"), f"{UA}, line 3, column 'userID': userID 'u42' is not an integer"),
    "empty artist id": (_set_field(ARTISTS, 8, 0, ""), f"{ARTISTS}, line 8, column 'id': id is missing"),
    "repeated pair": (_repeat_line(UA, 3, 10), f"{UA}, line 10: the (userID, artistID) pair"),
    "repeated artist": (_repeat_line(ARTISTS, 2, 6), f"{ARTISTS}, line 6: the artist id"),
    "unknown artist": (_set_field(UA, 12, 1, "999999"),
                       f"{UA}, line 12, column 'artistID': artist 999999 is not in {ARTISTS}"),
    "names not utf-8": (_latin1_name, f"{ARTISTS}, line 4: byte 0xe9"),
    "a zip instead of the file": (_write(TAGS, b"PK\x03\x04" + bytes(60)), f"{TAGS}: zip-compressed or archive data"),
    "text tag id": (_set_field(TAGS, 3, 0, "x"), f"{TAGS}, line 3, column 'tagID': tagID 'x' is not an integer"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_lastfm_files(lastfm_toy, tmp_path, case):
    assert_breaks(lastfm_toy, tmp_path / "lastfm2k", read_lastfm, *CASES[case], [name for name, *_ in FILES.values()])


def test_lf_line_ends_and_blank_lines_still_load(lastfm_toy, tmp_path):
    """The copies of artists.dat in public repositories end lines in LF; a blank line keeps the numbering."""
    folder = tmp_path / "lastfm2k"
    shutil.copytree(lastfm_toy, folder)
    before = read_lastfm(folder)
    (folder / ARTISTS).write_bytes((folder / ARTISTS).read_bytes().replace(b"\r\n", b"\n"))
    lines = (folder / UA).read_bytes().split(b"\r\n")
    (folder / UA).write_bytes(b"\r\n".join(lines[:5] + [b""] + lines[5:]))
    after = read_lastfm(folder)
    pd.testing.assert_frame_equal(after.plays, before.plays)
    pd.testing.assert_frame_equal(after.artists, before.artists)
    _set_field(UA, 9, 2, "x")(folder)  # line 9 of the file (after the blank line 6) is named as such
    with pytest.raises(DataError, match="line 9, column 'weight'"):
        read_lastfm(folder)


# --------------------------------------------------------------------------- your own table (DATA_SOURCE="csv")

def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user": rng.choice(["ann", "bo", "cy", "di", "ed"], n), "item": rng.integers(1, 30, n),
                         "count": rng.integers(1, 20, n), "timestamp": 1_600_000_000 + np.arange(n) * 60})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".tsv"])
def test_interaction_table_round_trip(tmp_path, suffix):
    df = _table()
    path = tmp_path / f"plays{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    got = read_interaction_table(path)
    assert list(got.columns) == ["user", "item", "count", "timestamp"] and len(got) == len(df)
    np.testing.assert_array_equal(got["count"].to_numpy(), df["count"].to_numpy(float))
    data = load_listening("csv", path=path)
    expected = df.groupby(["user", "item"])["count"].sum()
    counts = data.counts.set_index(["user_id", "artist_id"])["plays"]
    assert counts.sum() == expected.sum() and len(counts) == len(expected)
    key = (df["user"].iloc[0], df["item"].iloc[0] if suffix == ".parquet" else str(df["item"].iloc[0]))
    assert counts.loc[key] == expected.loc[(df["user"].iloc[0], df["item"].iloc[0])]


def test_events_without_counts_are_counted(tmp_path):
    path = tmp_path / "events.csv"
    pd.DataFrame({"user": ["a", "a", "a", "b"], "item": ["x", "x", "y", "x"]}).to_csv(path, index=False)
    counts = load_listening("csv", path=path).counts
    assert counts.to_dict("list") == {"user_id": ["a", "a", "b"], "artist_id": ["x", "y", "x"], "plays": [2.0, 1.0, 1.0]}


def _csv(text):
    return lambda path: path.write_text(text)


TABLE_CASES = {
    "missing item column": (_csv("user,artist,count\na,1,3\n"), "header: column 'item' not found; the table has "
                                                                   "['user', 'artist', 'count']"),
    "wrong case of a column": (_csv("User,item\na,1\n"), "header: column 'user' not found (rename 'User' to 'user')"),
    "empty table": (_csv("user,item,count\n"), "the table is empty: a header but no rows"),
    "empty file": (_csv(""), "file is empty"),
    "non-numeric count": (_csv("user,item,count\na,1,3\nb,2,many\n"), "line 3, column 'count': count 'many' is not "
                                                                       "a number >= 0"),
    "negative count": (_csv("user,item,count\na,1,-2\n"), "line 2, column 'count': count '-2' is not a number >= 0"),
    "empty count": (_csv("user,item,count\na,1,\n"), "line 2, column 'count': count is empty"),
    "missing user id": (_csv("user,item\na,1\n,2\n"), "line 3, column 'user': missing user id"),
    "unknown format": (lambda p: p.with_suffix(".xlsx").write_bytes(b"x"), "unknown table format '.xlsx'"),
    "all counts zero": (_csv("user,item,count\na,1,0\n"), "every count is 0"),
}


@pytest.mark.parametrize("case", sorted(TABLE_CASES))
def test_malformed_interaction_tables(tmp_path, case):
    write, expected = TABLE_CASES[case]
    path = tmp_path / "plays.csv"
    write(path)
    if case == "unknown format":
        path = path.with_suffix(".xlsx")
    with pytest.raises(DataError) as err:
        load_listening("csv", path=path)
    assert_clean_error(err, expected, [path])


def test_parquet_non_numeric_count_names_the_row(tmp_path):
    path = tmp_path / "plays.parquet"
    pd.DataFrame({"user": [1, 2, 3], "item": [4, 5, 6], "count": ["1", "2", "three"]}).to_parquet(path)
    with pytest.raises(DataError) as err:
        read_interaction_table(path)
    assert_clean_error(err, "row 2, column 'count': count 'three' is not a number >= 0", [path])


def test_csv_source_needs_a_path():
    with pytest.raises(DataError, match="INTERACTIONS: DATA_SOURCE = 'csv' needs the table's path.*Fix: set INTERACTIONS"):
        load_listening("csv", path="")
