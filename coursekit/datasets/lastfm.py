"""Unit 4 on real public data: HetRec 2011 Last.fm-2k play counts (GroupLens, downloadable).

Layout (``<data home>/lastfm2k/``), the files of GroupLens' ``hetrec2011-lastfm-2k.zip`` unchanged::

    user_artists.dat   userID <TAB> artistID <TAB> weight    (weight: how often the user played the artist)
    artists.dat        id <TAB> name <TAB> url <TAB> pictureURL
    tags.dat           tagID <TAB> tagValue                  (latin-1 text)
    user_friends.dat   userID <TAB> friendID

Every file starts with that header line and has one record a line, tab-separated, no quoting;
lines end in CRLF (the copies of artists.dat found in public repositories end in LF: both are
read). Names in artists.dat are UTF-8; tags.dat is latin-1 (``rock'n'roll``, ``música``). The
release keeps, for each of its 1,892 users, the artists they played most (at most 50), so a
user's row of the play matrix is a top list, not a history.

:func:`read_lastfm` reads the folder into a :class:`LastfmData`; any malformed file (a missing or
wrong header, a line with the wrong number of fields, an id or count that is not a positive
integer, a repeated pair, an artist missing from artists.dat, names that are not UTF-8, an archive
instead of the unpacked file) is a one-line :class:`~coursekit.DataError` naming the file, the
line and the column, with the fix. ``coursekit data fetch lastfm2k`` downloads the zip and checks
the sha256 of every file it unpacks against the sums of the files used to write this module.

:func:`make_toy_lastfm` writes a small data set in exactly this format from the toy 30Music
listening model (taste communities, power-law popularity: see :mod:`coursekit.datasets.music30`),
cut as the release is: each user's most played artists only.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ._io import atomic_write_bytes, require_file
from ._registry import DatasetSpec, RemoteFile, load_verified, register
from .music30 import _as_int64, _describe, _not_utf8, _sniff

__all__ = ["LastfmData", "load_lastfm", "read_lastfm", "make_toy_lastfm", "FILES", "URL"]

URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
ARCHIVE = "hetrec2011-lastfm-2k.zip"
HOMEPAGE = "https://grouplens.org/datasets/hetrec-2011/"
# (file, sha256, header, encoding)
FILES = {
    "user_artists": ("user_artists.dat", "650cd69d5a68db24b439042557aa539aec47e473273e12cdfdca2cd944b3773a",
                     ("userID", "artistID", "weight"), "ascii"),
    "artists": ("artists.dat", "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
                ("id", "name", "url", "pictureURL"), "utf-8"),
    "tags": ("tags.dat", "e95175f259be4c0c47644ae23d66131cd6d5767142a1405000e79f5584691d70",
             ("tagID", "tagValue"), "latin-1"),
    "user_friends": ("user_friends.dat", "9a3a8f7fa5f5ec832335e5b58ed69a4cf27c6f6f6afcde62134810eea46445a7",
                     ("userID", "friendID"), "ascii"),
}
FIX = "download the data set again with `coursekit data fetch lastfm2k` (delete the damaged file first)"
TOP_ARTISTS = 50  # the release keeps at most this many artists per user


@dataclass
class LastfmData:
    """The Last.fm-2k data set.

    ``plays``: user_id, artist_id, plays (int64), one row per (user, artist), in file order;
    ``artists``: artist_id, name, url, picture_url; ``tags``: tag_id, tag; ``friends``: user_id,
    friend_id (each friendship is listed in both directions in the release).
    """

    plays: pd.DataFrame
    artists: pd.DataFrame
    tags: pd.DataFrame
    friends: pd.DataFrame
    folder: Path
    communities: np.ndarray | None = field(default=None, repr=False)  # the unit's interface: none here

    def user_artist_counts(self) -> pd.DataFrame:
        """user_id, artist_id, plays: how often each user played each artist (sorted by user, artist)."""
        return self.plays.sort_values(["user_id", "artist_id"], kind="mergesort").reset_index(drop=True)

    def artist_names(self, artist_ids) -> np.ndarray:
        """Names of artist ids (``"?"`` for ids missing from artists.dat)."""
        names = pd.Series(self.artists["name"].to_numpy(), index=self.artists["artist_id"].to_numpy())
        return names.reindex(np.asarray(artist_ids)).fillna("?").to_numpy()

    def summary(self) -> dict[str, int]:
        return {"users": self.plays["user_id"].nunique(), "artists": len(self.artists),
                "user-artist pairs": len(self.plays), "plays": int(self.plays["plays"].sum()),
                "tags": len(self.tags), "friendships": len(self.friends)}

    def __repr__(self) -> str:
        return (f"LastfmData({len(self.plays):,} user-artist play counts of {self.plays['user_id'].nunique():,} "
                f"users, {len(self.artists):,} artists, folder={str(self.folder)!r})")


# --------------------------------------------------------------------------- reading

def _read_table(path: Path, header: tuple[str, ...], encoding: str) -> pd.DataFrame:
    """A header-first, tab-separated file as text columns named by ``header``, with a ``line``
    column (1-based line numbers of the file); blank lines are skipped, line numbers kept."""
    require_file(path, FIX)
    first = _sniff(path, "tab-separated text", "unpack the .dat files from the zip (`coursekit data fetch lastfm2k` "
                                               "does it) and put them here")
    shown = "\\t".join(header)
    found = first.decode("latin-1").lstrip("\ufeff\u00ef\u00bb\u00bf").rstrip("\r\n").split("\t")
    if tuple(found) != header:
        what = "no header: it starts with a record" if found and found[0].strip().isdigit() else \
            f"found the header {found!r}"
        raise DataError(f"expected the header line '{shown}', {what}", path=path, where="line 1",
                        fix=f"restore the release's header line, or {FIX}")
    try:
        df = pd.read_csv(path, sep="\t", header=None, skiprows=1, dtype=str, quoting=csv.QUOTE_NONE,
                         keep_default_na=False, na_filter=False, skip_blank_lines=False, engine="c",
                         encoding=encoding, on_bad_lines="error")
    except pd.errors.EmptyDataError:
        df = pd.DataFrame(columns=range(len(header)))
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:  # the parser takes its field count from the first record: that line may be the bad one
            found, line = (m[3], m[2]) if int(m[1]) == len(header) else (m[1], "2")
            raise DataError(f"found {found} tab-separated fields where {len(header)} are expected ({shown})",
                            path=path, where=f"line {line}", fix=f"repair that line, or {FIX}") from None
        raise DataError(f"not a tab-separated file ({' '.join(str(exc).split())})", path=path, fix=FIX) from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    if df.shape[1] != len(header):
        raise DataError(f"found {df.shape[1]} tab-separated fields where {len(header)} are expected ({shown})",
                        path=path, where="line 2", fix=f"repair that line, or {FIX}")
    df.columns = list(header)
    df["line"] = np.arange(2, len(df) + 2)
    blank = (df[list(header)] == "").all(axis=1).to_numpy()
    df = df[~blank].reset_index(drop=True)
    if df.empty:
        raise DataError("no records: the file holds only its header line", path=path, fix=FIX)
    return df


def _integers(df: pd.DataFrame, column: str, path: Path, *, positive: bool = False) -> np.ndarray:
    """``df[column]`` as int64; the first value that is not an integer (or not > 0) names its line."""
    values, bad = _as_int64(df[column])
    if bad is None and positive:
        bad = values <= 0
        if not bad.any():
            return values
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{column} {values[i]} is not a positive count", path=path,
                        where=f"line {int(df['line'].iloc[i])}, column {column!r}", fix=f"repair that line, or {FIX}")
    if bad is not None:
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{column} {_describe(df[column].iloc[i])}", path=path,
                        where=f"line {int(df['line'].iloc[i])}, column {column!r}", fix=f"repair that line, or {FIX}")
    return values


def _check_unique(df: pd.DataFrame, columns: list[str], path: Path, what: str) -> None:
    again = df.duplicated(columns, keep="first").to_numpy()
    if again.any():
        i = int(np.flatnonzero(again)[0])
        key = tuple(df[c].iloc[i] for c in columns)
        same = (df[columns] == pd.Series(dict(zip(columns, key)))).all(axis=1).to_numpy()
        first = int(df["line"].iloc[int(np.flatnonzero(same)[0])])
        shown = key[0] if len(key) == 1 else key
        raise DataError(f"the {what} {shown} is listed twice (lines {first} and {int(df['line'].iloc[i])})",
                        path=path, where=f"line {int(df['line'].iloc[i])}", fix=f"delete the repeated line, or {FIX}")


def read_lastfm(folder: str | Path) -> LastfmData:
    """Read the four Last.fm-2k files of ``folder`` (layout in the module docstring) and check that
    every artist of user_artists.dat is in artists.dat."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("folder not found", path=folder, fix="run `coursekit data fetch lastfm2k`")
    tables = {key: _read_table(folder / name, header, enc) for key, (name, _, header, enc) in FILES.items()}
    path = {key: folder / name for key, (name, *_) in FILES.items()}
    ua, ar, tg, fr = (tables[k] for k in ("user_artists", "artists", "tags", "user_friends"))
    plays = pd.DataFrame({"user_id": _integers(ua, "userID", path["user_artists"]),
                          "artist_id": _integers(ua, "artistID", path["user_artists"]),
                          "plays": _integers(ua, "weight", path["user_artists"], positive=True)})
    _check_unique(ua.assign(userID=plays["user_id"], artistID=plays["artist_id"]), ["userID", "artistID"],
                  path["user_artists"], "(userID, artistID) pair")
    artist_ids = _integers(ar, "id", path["artists"])
    _check_unique(ar.assign(id=artist_ids), ["id"], path["artists"], "artist id")
    unknown = pd.Index(artist_ids).get_indexer(plays["artist_id"].to_numpy()) < 0
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        more = f" ({int(unknown.sum())} lines name artists missing from it)" if unknown.sum() > 1 else ""
        raise DataError(f"artist {plays['artist_id'].iloc[i]} is not in {FILES['artists'][0]}{more}",
                        path=path["user_artists"], where=f"line {int(ua['line'].iloc[i])}, column 'artistID'",
                        fix=f"use the {FILES['artists'][0]} of the same release, or {FIX}")
    artists = pd.DataFrame({"artist_id": artist_ids, "name": ar["name"].to_numpy(dtype=object),
                            "url": ar["url"].to_numpy(dtype=object), "picture_url": ar["pictureURL"].to_numpy(dtype=object)})
    tag_ids = _integers(tg, "tagID", path["tags"])
    _check_unique(tg.assign(tagID=tag_ids), ["tagID"], path["tags"], "tag id")
    tags = pd.DataFrame({"tag_id": tag_ids, "tag": tg["tagValue"].to_numpy(dtype=object)})
    friends = pd.DataFrame({"user_id": _integers(fr, "userID", path["user_friends"]),
                            "friend_id": _integers(fr, "friendID", path["user_friends"])})
    return LastfmData(plays, artists, tags, friends, folder)


def load_lastfm(source: str = "toy", *, seed: int = 0, data_home=None, **sizes) -> LastfmData:
    """Last.fm-2k: ``source="toy"`` (generated in the release's format by :func:`make_toy_lastfm`,
    ``sizes`` going to it; the default, as for every data set) or ``"real"`` (downloaded on first
    use)."""
    return load_verified("lastfm2k", source, read_lastfm, seed=seed, data_home=data_home, **sizes)


# --------------------------------------------------------------------------- writing (toy data, tests)

def _write_dat(path: Path, header: tuple[str, ...], columns: list, encoding: str) -> None:
    """Write a header-first, tab-separated, CRLF file as the release does."""
    lines = pd.Series(np.asarray(columns[0]).astype(str))
    for col in columns[1:]:
        lines = lines + "\t" + pd.Series(np.asarray(col).astype(str))
    text = "\r\n".join(["\t".join(header), *lines.tolist()]) + "\r\n"
    atomic_write_bytes(path, text.encode(encoding))


def write_lastfm(folder: str | Path, data: LastfmData) -> None:
    """Write ``data`` in the release's format (header line, tabs, CRLF; tags.dat in latin-1)."""
    folder = Path(folder)
    columns = {
        "user_artists": [data.plays["user_id"], data.plays["artist_id"], data.plays["plays"]],
        "artists": [data.artists["artist_id"], data.artists["name"], data.artists["url"], data.artists["picture_url"]],
        "tags": [data.tags["tag_id"], data.tags["tag"]],
        "user_friends": [data.friends["user_id"], data.friends["friend_id"]],
    }
    for key, (name, _, header, encoding) in FILES.items():
        _write_dat(folder / name, header, columns[key], "utf-8" if encoding == "ascii" else encoding)


_TOY_TAGS = ["rock", "indie", "jazz", "electronic", "pop", "metal", "hip-hop", "folk", "música", "rock'n'roll",
             "80s", "female vocalists", "chillout", "électro", "ambient", "punk"]


def make_toy_lastfm(folder: str | Path, seed: int = 0, n_users: int = 600, n_artists: int = 1500,
                    top: int = TOP_ARTISTS) -> None:
    """Write a toy Last.fm-2k folder in the release's format.

    The listening follows the toy 30Music model (:func:`~coursekit.datasets.music30.make_toy_music30`:
    taste communities, power-law artist popularity, Zipf plays over each user's favourites); the
    release's cut is applied on top: each user keeps their ``top`` most played artists (ties by
    artist id), with play counts as weights. Friendships link random pairs of users of the same
    main community, listed both ways as in the release. Seeded: the same arguments give the same bytes.
    """
    import tempfile

    from .music30 import read_music30, make_toy_music30

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="toy-music30-") as tmp:
        make_toy_music30(tmp, seed=seed, n_users=n_users, n_artists=n_artists)
        music = read_music30(tmp)
    counts = music.user_artist_counts().sort_values(["user_id", "plays", "artist_id"], ascending=[True, False, True],
                                                    kind="mergesort")
    counts = counts[counts.groupby("user_id").cumcount() < top]
    used = np.unique(counts["artist_id"])
    names = music.artist_names(used)
    slug = pd.Series(names).str.replace(" ", "+", regex=False)
    artists = pd.DataFrame({"artist_id": used, "name": names, "url": "http://www.last.fm/music/" + slug,
                            "picture_url": [f"http://userserve-ak.last.fm/serve/252/{i}.jpg" for i in used]})
    tags = pd.DataFrame({"tag_id": np.arange(1, len(_TOY_TAGS) + 1), "tag": _TOY_TAGS})
    # friends: pairs of users whose favourite artist is in the same community
    users = np.unique(counts["user_id"])
    fav = counts.groupby("user_id", sort=True)["artist_id"].first().to_numpy()
    comm = pd.Series(music.communities, index=music.artists["artist_id"].to_numpy()).reindex(fav).to_numpy()
    a = rng.integers(0, len(users), size=2 * len(users))
    same = np.flatnonzero(comm[None, :] == comm[a][:, None])  # flat indices of (a-draw, user) in one community
    pick = same[np.unique(rng.integers(0, len(same), size=len(a)) if len(same) else np.empty(0, np.int64))]
    left, right = a[pick // len(users)], pick % len(users)
    keep = left != right
    pairs = np.unique(np.sort(np.stack([left[keep], right[keep]], axis=1), axis=1), axis=0)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    friends = pd.DataFrame({"user_id": users[both[:, 0]], "friend_id": users[both[:, 1]]})
    data = LastfmData(counts[["user_id", "artist_id", "plays"]].reset_index(drop=True), artists, tags, friends, folder)
    write_lastfm(folder, data)


SPEC = register(
    DatasetSpec(
        name="lastfm2k",
        title="HetRec 2011 Last.fm-2k: play counts of 1,892 users for 17,632 artists, tags, friendships",
        files=(RemoteFile(ARCHIVE, URL, None, members=tuple(name for name, *_ in FILES.values()),
                          member_sha256=tuple((name, sha) for name, sha, *_ in FILES.values())),),
        unit="04",
        homepage=HOMEPAGE,
        toy=make_toy_lastfm,
        toy_version=1,
    )
)
