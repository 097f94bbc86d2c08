"""Unit 4 data: 30Music listening sessions (idomaar format) and the seed's per-session csv.

Real layout (``<data home>/music30/``), the 30Music release unchanged::

    sessions.idomaar   one listening session a line (relations/sessions.idomaar)
    tracks.idomaar     one track a line, linked to its artists (entities/tracks.idomaar)
    persons.idomaar    one artist a line, with its name (entities/persons.idomaar)

An idomaar record is one line of tab-separated fields: record type, numeric id, unix timestamp
(-1 where none), a JSON object of properties and (optionally, on entity lines) a JSON object of
links. A session::

    session  287144  1390585201  {"numtracks":2,"playtime":338}  {"subjects":[{"type":"user","id":44361}],
        "objects":[{"type":"track","id":3006631,"playstart":0,"playtime":169,...}, ...]}

a track (its artists are the linked objects of type ``person``, whatever the link's key)::

    track  3006631  -1  {"duration":169,"name":"Dirty+Paws",...}  {"artists":[{"type":"person","id":77}], ...}

and an artist: ``person  77  -1  {"name":"Of+Monsters+and+Men",...}``. Names are URL-encoded
(``+`` for spaces); the readers decode them.

The seed notebook used a simpler csv with one session a row (``;``-separated, a header with at least
``UserId`` and ``ArtistsID``, the artists of the session comma-separated):
:func:`read_session_csv` reads it into the same play table.

:func:`load_music30` returns a :class:`Music30Data` whose ``plays`` table has one row per played
(session, track, artist) and whose :meth:`Music30Data.user_artist_counts` gives the user x artist
play counts the unit works with. :func:`make_toy_music30` writes a small data set in the idomaar
format with power-law artist popularity and taste communities.
"""

from __future__ import annotations

import csv
import io
import json
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus

import numpy as np
import pandas as pd

from ..errors import DataError
from ._io import atomic_write_bytes, require_file
from ._registry import DatasetSpec, RemoteFile, dataset_path, register

FILES = {
    "sessions": "sessions.idomaar",
    "tracks": "tracks.idomaar",
    "persons": "persons.idomaar",
}
MANUAL = (
    "the 30Music data set is released on request by its authors (recsys.deib.polimi.it, "
    "'30Music dataset'): unpack its entities and relations so that sessions.idomaar, "
    "tracks.idomaar and persons.idomaar are in <data home>/music30"
)
IDOMAAR_FIELDS = ["type", "id", "timestamp", "properties", "links"]

__all__ = ["Music30Data", "load_music30", "read_music30", "read_idomaar", "iter_idomaar", "read_persons", "read_tracks",
           "read_sessions", "read_session_csv", "make_toy_music30"]


# --------------------------------------------------------------------------- idomaar records
CHUNK_LINES = 200_000  # records parsed at once: bounds memory on the real files (2.8M sessions)


def iter_idomaar(path: str | Path, record_type: str | None = None, *, chunksize: int = CHUNK_LINES):
    """Yield the records of an idomaar file in chunks of ``chunksize`` lines (see :func:`read_idomaar`)."""
    path = require_file(path, MANUAL)
    fix = "each line must be: type<TAB>id<TAB>timestamp<TAB>{properties}[<TAB>{links}]"
    first = 1
    try:
        reader = pd.read_csv(path, sep="\t", header=None, names=IDOMAAR_FIELDS, dtype=str,
                             quoting=csv.QUOTE_NONE, keep_default_na=False, na_filter=False,
                             engine="c", on_bad_lines="error", encoding="utf-8", chunksize=chunksize)
        for df in reader:
            df = df.reset_index(drop=True)
            df["line"] = np.arange(first, first + len(df))
            first += len(df)
            for col in ("id", "timestamp"):
                num = pd.to_numeric(df[col], errors="coerce")
                if num.isna().any():
                    i = int(np.flatnonzero(num.isna().to_numpy())[0])
                    raise DataError(f"{col} {df[col].iloc[i]!r} is not an integer", path=path,
                                    where=f"line {int(df['line'].iloc[i])}, field {col!r}",
                                    fix="repair or delete that line")
                df[col] = num.astype(np.int64)
            bad = df["properties"].str[:1] != "{"
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError("the properties field is not a JSON object", path=path,
                                where=f"line {int(df['line'].iloc[i])}, field 'properties'",
                                fix="repair or delete that line")
            if record_type is not None:
                df = df[df["type"] == record_type].reset_index(drop=True)
            yield df
    except pd.errors.ParserError as exc:
        raise DataError(f"not an idomaar file ({str(exc).strip()})", path=path, fix=fix) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", path=path, fix=MANUAL) from None


def read_idomaar(path: str | Path, record_type: str | None = None) -> pd.DataFrame:
    """The raw records of an idomaar file: columns type, id (int64), timestamp (int64), properties,
    links (JSON text; ``""`` where a line has no links) and line (1-based line number).

    ``record_type`` keeps only records of that type (for example ``"session"``). Raises a
    :class:`~coursekit.DataError` naming the file, the line and the field for malformed lines.
    """
    chunks = list(iter_idomaar(path, record_type))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=IDOMAAR_FIELDS + ["line"])


def _concat_chunks(path: Path, record_type: str, parse) -> pd.DataFrame:
    """Parse an idomaar file chunk by chunk with ``parse(raw_chunk, path)`` and stack the results."""
    return pd.concat([parse(raw, path) for raw in iter_idomaar(path, record_type)], ignore_index=True)


def _parse_json_column(df: pd.DataFrame, col: str, path: Path) -> list:
    """Parse a column of JSON objects in one call of the C parser (``[obj,obj,...]``); on failure
    find the first bad line for the error message."""
    text = df[col].replace("", "{}")
    try:
        return json.loads("[" + ",".join(text.tolist()) + "]")
    except json.JSONDecodeError:
        for line, value in zip(df["line"].tolist(), text.tolist()):  # only to locate the error
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno})", path=path,
                                where=f"line {line}, field {col!r}", fix="repair or delete that line") from None
        raise  # pragma: no cover - every line parsed on its own, so the join must have parsed


def _decode_names(names: pd.Series) -> pd.Series:
    return names.fillna("").astype(str).map(unquote_plus)


def read_persons(path: str | Path) -> pd.DataFrame:
    """Artists of ``persons.idomaar``: DataFrame artist_id (int64), name (str, URL-decoded)."""
    return _concat_chunks(Path(path), "person", _persons_chunk)


def _persons_chunk(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    props = pd.DataFrame.from_records(_parse_json_column(raw, "properties", path), columns=["name"])
    return pd.DataFrame({"artist_id": raw["id"].to_numpy(), "name": _decode_names(props["name"]).to_numpy()})


def _flatten_links(links: list, keys: tuple | None, columns: list[str]) -> pd.DataFrame:
    """One row per linked object: ``row`` (index of the record) and ``columns`` of the object.

    ``keys`` selects the link arrays (e.g. ``("objects",)``); ``None`` takes every array of the
    links object. Flattening uses ``itertools.chain`` and one ``DataFrame.from_records`` call.
    """
    def arrays(lk):
        if not isinstance(lk, dict):
            return []
        vals = [lk.get(k) for k in keys] if keys else list(lk.values())
        out = [o for v in vals if isinstance(v, list) for o in v if isinstance(o, dict)]
        return out

    lists = [arrays(lk) for lk in links]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = pd.DataFrame.from_records(list(chain.from_iterable(lists)), columns=columns)
    flat.insert(0, "row", np.repeat(np.arange(len(lists)), lengths))
    return flat


def read_tracks(path: str | Path) -> pd.DataFrame:
    """Track -> artist links of ``tracks.idomaar``: DataFrame track_id, artist_id (int64), name.

    One row per (track, linked ``person``): a track by two artists gives two rows; a track without
    an artist link gets artist_id -1.
    """
    return _concat_chunks(Path(path), "track", _tracks_chunk)


def _tracks_chunk(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    props = pd.DataFrame.from_records(_parse_json_column(raw, "properties", path), columns=["name"])
    flat = _flatten_links(_parse_json_column(raw, "links", path), None, ["type", "id"])
    flat = flat[flat["type"] == "person"]
    ids = pd.to_numeric(flat["id"], errors="coerce")
    if ids.isna().any():
        i = int(flat["row"].to_numpy()[ids.isna().to_numpy()][0])
        raise DataError(f"artist id {flat['id'][ids.isna()].iloc[0]!r} is not an integer", path=path,
                        where=f"line {int(raw['line'].iloc[i])}, field 'links'", fix="repair or delete that line")
    rows = flat["row"].to_numpy()
    missing = np.setdiff1d(np.arange(len(raw)), rows)
    rows = np.concatenate([rows, missing])
    artist = np.concatenate([ids.astype(np.int64).to_numpy(), np.full(len(missing), -1, np.int64)])
    order = np.lexsort((artist, rows))
    rows, artist = rows[order], artist[order]
    return pd.DataFrame({"track_id": raw["id"].to_numpy()[rows], "artist_id": artist,
                         "name": _decode_names(props["name"]).to_numpy()[rows]})


def read_sessions(path: str | Path) -> pd.DataFrame:
    """Plays of ``sessions.idomaar``: one row per track object of each session.

    Columns: session_id, user_id, timestamp (session start, int64), track_id (int64), position
    (0-based order in the session), playtime (seconds, -1 where absent). Sessions without a user
    subject raise a DataError naming the line.
    """
    return _concat_chunks(Path(path), "session", _sessions_chunk)


def _sessions_chunk(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    links = _parse_json_column(raw, "links", path)
    subjects = _flatten_links(links, ("subjects",), ["type", "id"])
    subjects = subjects[subjects["type"] == "user"].drop_duplicates("row")
    user_of = np.full(len(raw), -1, dtype=np.int64)
    user_of[subjects["row"].to_numpy()] = pd.to_numeric(subjects["id"], errors="coerce").fillna(-1).astype(np.int64)
    if (user_of < 0).any():
        i = int(np.flatnonzero(user_of < 0)[0])
        raise DataError("session without a user subject", path=path,
                        where=f"line {int(raw['line'].iloc[i])}, field 'links'",
                        fix='each session needs "subjects": [{"type": "user", "id": ...}]')
    objs = _flatten_links(links, ("objects",), ["type", "id", "playtime"])
    objs = objs[objs["type"] == "track"]
    track = pd.to_numeric(objs["id"], errors="coerce")
    if track.isna().any():
        i = int(objs["row"].to_numpy()[track.isna().to_numpy()][0])
        raise DataError(f"track id {objs['id'][track.isna()].iloc[0]!r} is not an integer", path=path,
                        where=f"line {int(raw['line'].iloc[i])}, field 'links'", fix="repair or delete that line")
    rows = objs["row"].to_numpy()
    out = pd.DataFrame({
        "session_id": raw["id"].to_numpy()[rows],
        "user_id": user_of[rows],
        "timestamp": raw["timestamp"].to_numpy()[rows],
        "track_id": track.astype(np.int64).to_numpy(),
        "position": np.arange(len(rows)) - np.searchsorted(rows, rows),
        "playtime": pd.to_numeric(objs["playtime"], errors="coerce").fillna(-1).astype(np.int64).to_numpy(),
    })
    return out


def read_session_csv(path: str | Path, *, sep: str = ";") -> pd.DataFrame:
    """The seed's per-session csv: a header with ``UserId`` and ``ArtistsID`` (comma-separated
    artist ids of the session; empty for sessions without known artists) and optionally ``ID``
    (session id) and ``Timestamp``.

    Returns one row per (session, artist mention): session_id, user_id, timestamp, artist_id
    (int64). Sessions with no artists contribute no rows (the seed's ``pd.isna`` filter).
    """
    path = require_file(path, "export the sessions with the columns ID;UserId;Timestamp;ArtistsID")
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"not a {sep!r}-separated csv ({str(exc).strip()})", path=path, fix="check the separator") from None
    for col in ("UserId", "ArtistsID"):
        if col not in df.columns:
            raise DataError(f"column {col!r} not found (columns: {list(df.columns)})", path=path,
                            fix="the header needs UserId and ArtistsID")
    n = len(df)
    sessions = pd.to_numeric(df["ID"], errors="coerce") if "ID" in df else pd.Series(np.arange(n))
    times = pd.to_numeric(df["Timestamp"], errors="coerce").fillna(-1) if "Timestamp" in df else pd.Series(-np.ones(n))
    users = pd.to_numeric(df["UserId"], errors="coerce")
    if users.isna().any():
        i = int(np.flatnonzero(users.isna().to_numpy())[0])
        raise DataError(f"UserId {df['UserId'].iloc[i]!r} is not an integer", path=path,
                        where=f"line {i + 2}, column 'UserId'", fix="repair or delete that line")
    artists = df["ArtistsID"].str.split(",").explode()
    artists = artists[artists.str.strip() != ""]
    ids = pd.to_numeric(artists, errors="coerce")
    if ids.isna().any():
        i = int(ids.index[ids.isna().to_numpy()][0])
        raise DataError(f"artist id {artists[ids.isna()].iloc[0]!r} is not an integer", path=path,
                        where=f"line {i + 2}, column 'ArtistsID'", fix="artist ids are comma-separated integers")
    rows = ids.index.to_numpy()
    return pd.DataFrame({
        "session_id": sessions.fillna(-1).astype(np.int64).to_numpy()[rows],
        "user_id": users.astype(np.int64).to_numpy()[rows],
        "timestamp": times.astype(np.int64).to_numpy()[rows],
        "artist_id": ids.astype(np.int64).to_numpy(),
    })


# --------------------------------------------------------------------------- the data set
@dataclass
class Music30Data:
    """The unit-4 data set.

    ``plays``: one row per played (session, track, artist): session_id, user_id, timestamp,
    track_id, position, playtime, artist_id (all int64). ``artists``: artist_id, name.
    ``tracks``: track_id, artist_id, name. ``communities`` (toy only): int64 taste community of
    each artist, indexed like ``artists``.
    """

    plays: pd.DataFrame
    artists: pd.DataFrame
    tracks: pd.DataFrame
    folder: Path
    communities: np.ndarray | None = field(default=None, repr=False)

    def user_artist_counts(self) -> pd.DataFrame:
        """user_id, artist_id, plays: how often each user played each artist (sorted by user, artist)."""
        g = self.plays.groupby(["user_id", "artist_id"], as_index=False, sort=True).size()
        return g.rename(columns={"size": "plays"})

    def artist_names(self, artist_ids) -> np.ndarray:
        """Names of artist ids (``"?"`` for ids missing from persons.idomaar)."""
        names = pd.Series(self.artists["name"].to_numpy(), index=self.artists["artist_id"].to_numpy())
        return names.reindex(np.asarray(artist_ids)).fillna("?").to_numpy()

    def __repr__(self) -> str:
        return (f"Music30Data({len(self.plays):,} plays, {self.plays['session_id'].nunique():,} sessions, "
                f"{self.plays['user_id'].nunique():,} users, {len(self.artists):,} artists, folder={str(self.folder)!r})")


def read_music30(folder: str | Path) -> Music30Data:
    """Read sessions, tracks and persons from ``folder`` and join plays to artists.

    Plays of tracks missing from tracks.idomaar (or without an artist) are dropped, as the seed's
    csv had no artist for them.
    """
    folder = Path(folder)
    sessions = read_sessions(folder / FILES["sessions"])
    tracks = read_tracks(folder / FILES["tracks"])
    artists = read_persons(folder / FILES["persons"])
    links = tracks.loc[tracks["artist_id"] >= 0, ["track_id", "artist_id"]]
    plays = sessions.merge(links, on="track_id", how="inner", sort=False)
    plays = plays.sort_values(["session_id", "position", "artist_id"], kind="mergesort").reset_index(drop=True)
    data = Music30Data(plays, artists, tracks, folder)
    comm = folder / "toy_communities.npy"
    if comm.exists():
        data.communities = np.load(comm, allow_pickle=False)
    return data


def load_music30(source: str = "toy", *, seed: int = 0, data_home=None, **sizes) -> Music30Data:
    """The unit-4 data set: ``source="toy"`` (generated, default) or ``"real"`` (the 30Music files)."""
    return read_music30(dataset_path("music30", source, seed=seed, data_home=data_home, **sizes))


# --------------------------------------------------------------------------- toy generator
_GENRES = ["Jazz", "Metal", "Techno", "Folk", "Soul", "Punk", "Opera", "Reggae", "Blues", "Disco",
           "Grunge", "Samba", "Trance", "Gospel", "Ska", "Dub", "Funk", "Bluegrass", "Shoegaze", "Tango"]
_WORDS = ["Velvet", "Iron", "Silver", "Midnight", "Electric", "Golden", "Broken", "Crimson", "Northern",
          "Lonely", "Wild", "Neon", "Hollow", "Paper", "Stone", "Glass", "Atomic", "Gentle", "Savage", "Lucky"]
_SUFFIX = ["Trio", "Collective", "Orchestra", "Brothers", "Sisters", "Project", "Band", "Ensemble", "Kids", "Machine"]


def _weighted_pick(rng, segment_start, segment_weights_cum, seg_of_draw, total_of_seg):
    """Vectorised inverse-CDF draws inside segments of one cumulative weight array."""
    u = rng.random(len(seg_of_draw)) * total_of_seg[seg_of_draw]
    base = np.concatenate([[0.0], segment_weights_cum])[segment_start[seg_of_draw]]
    return np.searchsorted(segment_weights_cum, base + u, side="right")


def make_toy_music30(folder: str | Path, seed: int = 0, n_users: int = 3000, n_artists: int = 2500,
                     n_communities: int = 20, mean_sessions: float = 7.0, mean_session_len: float = 9.0,
                     in_community: float = 0.85, zipf: float = 0.9) -> None:
    """Write a toy 30Music data set (sessions, tracks, persons in the idomaar format).

    Artists belong to ``n_communities`` taste communities and have power-law popularity
    (weight ``1 / rank**zipf``); each has 1-6 tracks and 5 % of tracks feature a second artist.
    Each user belongs to one community (a quarter also to a second) and has a personal list of
    favourite artists drawn ``in_community`` of the time from their communities, else from global
    popularity; plays follow a Zipf law over that list. Plays are cut into sessions with increasing
    timestamps. Everything is vectorised and seeded: the same arguments give the same bytes.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    # ---- artists: community, popularity, names
    comm = rng.integers(0, n_communities, size=n_artists)
    pop = 1.0 / (rng.permutation(n_artists) + 1.0) ** zipf
    genre = np.array(_GENRES * (n_communities // len(_GENRES) + 1))[:n_communities]
    names = pd.Series(np.array(_WORDS)[rng.integers(0, len(_WORDS), n_artists)]) + "+" + genre[comm] + "+" + \
        pd.Series(np.array(_SUFFIX)[rng.integers(0, len(_SUFFIX), n_artists)])
    dup = names.groupby(names).cumcount()
    names = names.where(dup == 0, names + "+" + (dup + 1).astype(str))
    artist_ids = np.sort(rng.choice(np.arange(1, 50 * n_artists), size=n_artists, replace=False))
    # ---- tracks: 1-6 per artist, some with a featured second artist
    n_tr = rng.integers(1, 7, size=n_artists)
    track_artist = np.repeat(np.arange(n_artists), n_tr)
    n_tracks = len(track_artist)
    track_ids = np.sort(rng.choice(np.arange(1, 100 * n_tracks), size=n_tracks, replace=False))
    feat = np.where(rng.random(n_tracks) < 0.05, rng.integers(0, n_artists, n_tracks), -1)
    feat[feat == track_artist] = -1
    track_start = np.concatenate([[0], np.cumsum(n_tr)[:-1]])
    # ---- users: communities and favourite artists
    by_comm = np.lexsort((np.arange(n_artists), comm))  # artists grouped by community
    cum = np.cumsum(pop[by_comm])
    comm_start = np.searchsorted(comm[by_comm], np.arange(n_communities))
    comm_total = np.bincount(comm, weights=pop, minlength=n_communities)
    user_comm = rng.integers(0, n_communities, size=(n_users, 2))
    second = rng.random(n_users) < 0.25
    n_fav = 5 + rng.geometric(1 / 15, size=n_users)
    fav_user = np.repeat(np.arange(n_users), n_fav)
    which = np.where(second[fav_user] & (rng.random(len(fav_user)) < 0.4), 1, 0)
    c = user_comm[fav_user, which]
    local = rng.random(len(fav_user)) < in_community
    fav_artist = np.empty(len(fav_user), dtype=np.int64)
    fav_artist[local] = by_comm[np.minimum(_weighted_pick(rng, comm_start, cum, c[local], comm_total), n_artists - 1)]
    gcum = np.cumsum(pop)
    fav_artist[~local] = np.minimum(np.searchsorted(gcum, rng.random((~local).sum()) * gcum[-1], side="right"),
                                    n_artists - 1)
    # ---- plays: Zipf over each user's favourites (the first favourites are played most)
    rank_in_list = np.arange(len(fav_user)) - np.repeat(np.cumsum(n_fav) - n_fav, n_fav)
    fav_w = 1.0 / (rank_in_list + 1.0) ** 1.1
    fav_cum = np.cumsum(fav_w)
    fav_start = np.concatenate([[0], np.cumsum(n_fav)[:-1]])
    fav_total = np.bincount(fav_user, weights=fav_w, minlength=n_users)
    n_sess = 1 + rng.poisson(mean_sessions - 1, size=n_users)
    sess_user = np.repeat(np.arange(n_users), n_sess)
    sess_len = 1 + rng.poisson(mean_session_len - 1, size=len(sess_user))
    play_sess = np.repeat(np.arange(len(sess_user)), sess_len)
    play_user = sess_user[play_sess]
    pick = np.minimum(_weighted_pick(rng, fav_start, fav_cum, play_user, fav_total), len(fav_user) - 1)
    play_artist = fav_artist[pick]
    play_track = track_start[play_artist] + (rng.random(len(pick)) * n_tr[play_artist]).astype(np.int64)
    # sessions: ids in time order, start times increasing per user, playtimes from track durations
    duration = rng.integers(120, 420, size=n_tracks)
    order = np.lexsort((np.arange(len(sess_user)), sess_user))
    t0 = 1_390_000_000 + rng.integers(0, 86_400 * 30, size=n_users)
    gap = rng.integers(3_600, 86_400 * 3, size=len(sess_user))
    first_of_user = np.concatenate([[0], np.cumsum(n_sess)[:-1]])
    sess_time = t0[sess_user] + np.cumsum(gap) - np.repeat(np.cumsum(gap)[first_of_user] - gap[first_of_user], n_sess)
    session_ids = 1000 + np.arange(len(sess_user))
    user_ids = np.sort(rng.choice(np.arange(1, 60_000), size=n_users, replace=False))
    del order
    # ---- write persons.idomaar
    folder.mkdir(parents=True, exist_ok=True)
    persons = ("person\t" + pd.Series(artist_ids).astype(str) + "\t-1\t" +
               '{"MBID":null,"name":"' + names + '"}')
    atomic_write_bytes(folder / FILES["persons"], ("\n".join(persons) + "\n").encode())
    # ---- write tracks.idomaar
    main = '{"type":"person","id":' + pd.Series(artist_ids[track_artist]).astype(str) + "}"
    feat_txt = pd.Series(np.where(feat >= 0, ',{"type":"person","id":' +
                                  pd.Series(artist_ids[np.maximum(feat, 0)]).astype(str) + "}", ""))
    tracks = ("track\t" + pd.Series(track_ids).astype(str) + "\t-1\t" +
              '{"duration":' + pd.Series(duration).astype(str) + ',"playcount":-1,"MBID":null,"name":"Track+' +
              pd.Series(np.arange(n_tracks)).astype(str) + '"}\t{"artists":[' + main + feat_txt +
              '],"albums":[],"tags":[]}')
    atomic_write_bytes(folder / FILES["tracks"], ("\n".join(tracks) + "\n").encode())
    # ---- write sessions.idomaar: one line per session with its track objects
    play_time = duration[play_track]
    pos = np.arange(len(play_sess)) - np.repeat(np.cumsum(sess_len) - sess_len, sess_len)
    start = np.cumsum(play_time) - np.repeat(np.cumsum(play_time)[np.cumsum(sess_len) - sess_len] -
                                             play_time[np.cumsum(sess_len) - sess_len], sess_len)
    objs = ('{"type":"track","id":' + pd.Series(track_ids[play_track]).astype(str) + ',"playstart":' +
            pd.Series(start - play_time).astype(str) + ',"playtime":' + pd.Series(play_time).astype(str) +
            ',"playratio":1.0,"action":"play"}')
    del pos
    joined = objs.groupby(play_sess, sort=True).agg(",".join)
    total_time = np.bincount(play_sess, weights=play_time).astype(np.int64)
    lines = ("session\t" + pd.Series(session_ids).astype(str) + "\t" + pd.Series(sess_time).astype(str) + "\t" +
             '{"numtracks":' + pd.Series(sess_len).astype(str) + ',"playtime":' + pd.Series(total_time).astype(str) +
             '}\t{"subjects":[{"type":"user","id":' + pd.Series(user_ids[sess_user]).astype(str) +
             '}],"objects":[' + joined.reset_index(drop=True) + "]}")
    atomic_write_bytes(folder / FILES["sessions"], ("\n".join(lines) + "\n").encode())
    buf = io.BytesIO()
    np.save(buf, comm.astype(np.int64), allow_pickle=False)
    atomic_write_bytes(folder / "toy_communities.npy", buf.getvalue())


SPEC = register(
    DatasetSpec(
        name="music30",
        title="30Music: listening sessions of Last.fm users (idomaar format)",
        files=tuple(RemoteFile(n) for n in FILES.values()),
        unit="04",
        manual=MANUAL,
        toy=make_toy_music30,
        toy_version=1,
    )
)
