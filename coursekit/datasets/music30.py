"""Unit 4 data: 30Music listening sessions (idomaar format) and the seed's per-session csv.

Real layout (``<data home>/music30/``), the 30Music release unchanged::

    sessions.idomaar   one listening session a line (relations/sessions.idomaar)
    tracks.idomaar     one track a line, linked to its artists (entities/tracks.idomaar)
    persons.idomaar    one artist a line, with its name (entities/persons.idomaar)

An idomaar record is one line of tab-separated fields: record type, numeric id, unix timestamp
(-1 where none), a JSON object of properties and (optionally, on entity lines) a JSON object of
links. A session lists its plays as linked objects::

    session  287144  1390585201  {"numtracks":2,"playtime":338}  {"subjects":[{"type":"user","id":44361}],
        "objects":[{"type":"track","id":3006631,"playstart":0,"playtime":169,"playratio":1.0,"action":"play"},
                   {"type":"track","id":3006632,"playstart":169,"playtime":169,"playratio":null,...}]}

``playstart`` is the play's start in seconds from the session's timestamp, ``playtime`` how long it
played (seconds), ``playratio`` the share of the track played (may be ``null``) and ``action`` what
happened (e.g. ``"play"``). A play happened at the session timestamp plus its ``playstart``. A track
(its artists are the linked objects of type ``person``, whatever the link's key)::

    track  3006631  -1  {"duration":169000,"playcount":-1,"MBID":null,"name":"Of+Monsters+and+Men/_/Dirty+Paws"}
        {"artists":[{"type":"person","id":77}],"albums":[],"tags":[]}

``duration`` is in milliseconds (-1 where unknown); ``name`` is ``Artist/_/Title``, URL-encoded (``+``
for spaces, ``%xx`` escapes). An artist: ``person  77  -1  {"name":"Of+Monsters+and+Men",...}``. The
readers decode names (a track's ``name`` is its title). In the release the session lines have the
type ``event.session`` and often a space instead of a tab between properties and links; both forms
are read.

The release repeats ids: its tracks.idomaar has 5,675,143 track lines for 4,519,105 distinct ids
(some ids even with another first artist). The readers keep the **first record of each id** in
every file (tracks, persons and sessions, where a repeated session would count its plays twice),
drop the later ones, and say how many in one warning per file; :meth:`Music30Data.summary` keeps
the counts. Malformed files (wrong field count, text ids, bad JSON, plays of tracks missing from
tracks.idomaar, bytes that are not UTF-8, compressed data) raise a one-line
:class:`~coursekit.DataError` naming the file and the line or record.

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
import re
import warnings
import zipfile
import zlib
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from ..errors import DataError
from ._io import atomic_write_bytes, read_matrix, require_file
from ._registry import DatasetSpec, RemoteFile, load_verified, register

FILES = {
    "sessions": "sessions.idomaar",
    "tracks": "tracks.idomaar",
    "persons": "persons.idomaar",
}
MANUAL = (
    "the 30Music data set is released on request by its authors (recsys.deib.polimi.it, "
    "'30Music dataset'): unpack its archive and copy relations/sessions.idomaar, "
    "entities/tracks.idomaar and entities/persons.idomaar into <data home>/music30"
)
IDOMAAR_FIELDS = ["type", "id", "timestamp", "properties", "links"]
TOY_COMMUNITIES = "toy_communities.npy"  # toy folders only: the taste community of each artist

__all__ = ["Music30Data", "load_music30", "read_music30", "read_idomaar", "iter_idomaar", "read_persons", "read_tracks",
           "read_sessions", "read_session_csv", "make_toy_music30"]


# --------------------------------------------------------------------------- idomaar records
CHUNK_LINES = 200_000  # records parsed at once: bounds memory on the real files (2.8M sessions)
FIELDS_FIX = "each line must be: type<TAB>id<TAB>timestamp<TAB>{properties}[<TAB>{links}]"
REPAIR = "repair or delete that line"
_COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"(\xb5/\xfd": "zstd"}


def _sniff(path: Path, what: str, fix: str) -> bytes:
    """The first line of a text file (up to 4 MB); a DataError if the file is an archive or compressed."""
    with open(path, "rb") as fh:
        head = fh.read(512)
        fh.seek(0)
        first = fh.readline(1 << 22)
    kind = next((k for magic, k in _COMPRESSED.items() if head.startswith(magic)), None)
    if kind is None and head[257:262] == b"ustar":
        kind = "tar"
    if kind:
        raise DataError(f"{kind}-compressed or archive data, not {what}", path=path, fix=fix)
    return first


def _not_utf8(path: Path) -> DataError:
    """The DataError for a file with bytes that are not UTF-8, naming the first bad line (read in blocks)."""
    line, tail = 1, b""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 24)
            buf = tail + block
            cut = buf.rfind(b"\n") + 1 if block else len(buf)
            piece, tail = buf[:cut], buf[cut:]
            try:
                piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                col = exc.start - piece.rfind(b"\n", 0, exc.start)
                line += piece.count(b"\n", 0, exc.start)
                return DataError(f"byte 0x{piece[exc.start]:02x} at byte {col} of the line is not UTF-8 text",
                                 path=path, where=f"line {line}",
                                 fix="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8) or extract it again")
            line += piece.count(b"\n")
            if not block:  # pragma: no cover - the parser found a bad byte that Python decodes
                return DataError("not UTF-8 text", path=path, fix="save the file as UTF-8")


def _as_int64(values) -> tuple[np.ndarray, np.ndarray | None]:
    """``values`` as int64, or (empty, mask of the values that are not integers: text, NaN, inf, 1.5, 1e30)."""
    num = pd.to_numeric(values, errors="coerce")
    if num.dtype.kind == "i":
        return num.to_numpy(np.int64), None
    f = num.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(f) | (f != np.round(f)) | (np.abs(f) >= 2.0 ** 63)
    return (np.empty(0, np.int64), bad) if bad.any() else (f.astype(np.int64), None)


def _describe(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    missing = value is None or (isinstance(value, str) and not value.strip()) or \
        (isinstance(value, float) and np.isnan(value))
    return "is missing (empty, null or NaN)" if missing else f"{value!r} is not an integer"


def _link_ids(flat: pd.DataFrame, raw: pd.DataFrame, path: Path, label: str) -> np.ndarray:
    """The int64 ``id`` of linked objects (from :func:`_flatten_links`), or a DataError naming the line."""
    ids, bad = _as_int64(flat["id"])
    if bad is not None:
        j = int(np.flatnonzero(bad)[0])
        line = int(raw["line"].iloc[int(flat["row"].to_numpy()[j])])
        raise DataError(f"{label} id {_describe(flat['id'].to_numpy()[j])}", path=path,
                        where=f"line {line}, field 'links'", fix=REPAIR)
    return ids


def _check_records(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop blank lines, check the field count, the integer id and timestamp and the properties object."""
    empty = {c: (df[c] == "").to_numpy() for c in IDOMAAR_FIELDS}
    blank = np.logical_and.reduce(list(empty.values()))
    if blank.any():
        df = df[~blank].reset_index(drop=True)
        empty = {c: v[~blank] for c, v in empty.items()}
    short = empty["properties"]
    if short.any():
        i = int(np.flatnonzero(short)[0])
        n = 1 + max(k for k, c in enumerate(IDOMAAR_FIELDS) if k == 0 or not empty[c][i])
        msg = ("the properties field is empty" if n > 4 else
               f"found {n} field{'s' if n > 1 else ''} where 4 or 5 tab-separated fields are expected "
               f"({'is the file tab-separated?' if n == 1 else 'is the line cut short?'})")
        raise DataError(msg, path=path, where=f"line {int(df['line'].iloc[i])}", fix=FIELDS_FIX)
    for col in ("id", "timestamp"):
        num, bad = _as_int64(df[col])
        if bad is not None:
            i = int(np.flatnonzero(bad)[0])
            line = int(df["line"].iloc[i])
            hint = " (idomaar files have no header line)" if line == 1 else ""
            raise DataError(f"{col} {_describe(df[col].iloc[i])}{hint}", path=path,
                            where=f"line {line}, field {col!r}", fix=REPAIR)
        df[col] = num
    bad = (df["properties"].str[:1] != "{").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"the properties field is not a JSON object (it starts {df['properties'].iloc[i][:12]!r})",
                        path=path, where=f"line {int(df['line'].iloc[i])}, field 'properties'", fix=REPAIR)
    return df


def iter_idomaar(path: str | Path, record_type: str | None = None, *, chunksize: int = CHUNK_LINES):
    """Yield the records of an idomaar file in chunks of ``chunksize`` lines (see :func:`read_idomaar`)."""
    path = require_file(path, MANUAL)
    fields = _sniff(path, "idomaar text", "extract the plain .idomaar text from the 30Music archive "
                    "(tar xzf / gunzip) and put it here").count(b"\t") + 1
    if fields > 5:  # more names than fields would make pandas take the first column as the index
        raise DataError(f"found {fields} tab-separated fields where 4 or 5 are expected", path=path,
                        where="line 1", fix=FIELDS_FIX)
    first, matched, others = 1, 0, set()
    try:
        reader = pd.read_csv(path, sep="\t", header=None, names=IDOMAAR_FIELDS, dtype=str,
                             quoting=csv.QUOTE_NONE, keep_default_na=False, na_filter=False,
                             skip_blank_lines=False, engine="c", on_bad_lines="error", encoding="utf-8",
                             chunksize=chunksize)
        for df in reader:
            df = df.reset_index(drop=True)
            df["line"] = np.arange(first, first + len(df))
            first += len(df)
            df = _check_records(df, path)
            if record_type is not None:
                keep = (df["type"] == record_type) | df["type"].str.endswith("." + record_type)
                if not keep.all():
                    others.update(df["type"][~keep].unique()[:5].tolist())
                    df = df[keep].reset_index(drop=True)
            matched += len(df)
            if len(df):
                yield df
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise DataError(f"found {m[3]} tab-separated fields where 4 or 5 are expected", path=path,
                            where=f"line {m[2]}", fix=FIELDS_FIX) from None
        raise DataError(f"not an idomaar file ({' '.join(str(exc).split())})", path=path, fix=FIELDS_FIX) from None
    except pd.errors.EmptyDataError:
        pass
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    if not matched:
        what = "records" if record_type is None else f"{record_type!r} records"
        found = f" (found only {', '.join(map(repr, sorted(others)[:5]))} records)" if others else ""
        raise DataError(f"no {what}{found}", path=path, fix=f"is this the right file? {MANUAL}")


def read_idomaar(path: str | Path, record_type: str | None = None) -> pd.DataFrame:
    """The raw records of an idomaar file: columns type, id (int64), timestamp (int64), properties,
    links (JSON text; ``""`` where a line has no links) and line (1-based line number).

    ``record_type`` keeps only records of that type, with or without a category prefix (``"session"``
    keeps ``session`` and ``event.session`` lines). Raises a :class:`~coursekit.DataError` naming the
    file, the line and the field for malformed lines, and when the file holds no such record.
    """
    chunks = list(iter_idomaar(path, record_type))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=IDOMAAR_FIELDS + ["line"])


def _concat_chunks(path: Path, record_type: str, parse) -> tuple[pd.DataFrame, int]:
    """Parse an idomaar file chunk by chunk and stack the results, keeping the first record of
    each id: ``(table, number of records dropped as repeats)``.

    ``parse(raw_chunk, path)`` returns ``(frame, record)``: its rows and the chunk row (record) each
    comes from. Repeated ids are found once over the whole file (a hash look-up, no Python loop);
    when there are any, one warning gives their count and the first one's lines.
    """
    frames, records, ids, lines = [], [], [], []
    offset = 0
    for raw in iter_idomaar(path, record_type):
        frame, record = parse(raw, path)
        frames.append(frame)
        small = np.int32 if offset + len(raw) < 2**31 else np.int64  # one per play: 31M in the release
        records.append((np.asarray(record, dtype=np.int64) + offset).astype(small))
        ids.append(raw["id"].to_numpy())
        lines.append(raw["line"].to_numpy())
        offset += len(raw)
    table = pd.concat(frames, ignore_index=True)
    ids, lines = np.concatenate(ids), np.concatenate(lines)
    repeat = pd.Index(ids).duplicated(keep="first")
    n_repeat = int(repeat.sum())
    if n_repeat:
        table = table[~repeat[np.concatenate(records)]].reset_index(drop=True)
        j = int(np.argmax(repeat))  # the first repeat in file order
        first = int(lines[np.argmax(ids == ids[j])])
        warnings.warn(
            f"{path}: {n_repeat:,} of {len(ids):,} {record_type} records repeat an id already read "
            f"({len(ids) - n_repeat:,} distinct ids; first: id {ids[j]} on line {lines[j]}, already on line "
            f"{first}); the first record of each id is kept, the repeats are dropped", UserWarning, stacklevel=3)
    return table, n_repeat


def _parse_json_column(df: pd.DataFrame, col: str, path: Path) -> list:
    """Parse a column of JSON objects in one call of the C parser (``[obj,obj,...]``); on failure, or
    when the values do not give one object each, find the first bad line for the error message."""
    text = df[col].replace("", "{}")
    try:
        parsed = json.loads("[" + ",".join(text.tolist()) + "]")
        if len(parsed) == len(text):
            return parsed
    except (json.JSONDecodeError, RecursionError):
        pass
    for line, value in zip(df["line"].tolist(), text.tolist()):  # only to locate the error
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            early = exc.msg.startswith("Unterminated") or exc.pos >= len(value.rstrip())
            cut = ", the value stops early: is the file cut short?" if early else ""
            raise DataError(f"invalid JSON{cut} ({exc.msg.removesuffix(' at')} at column {exc.colno})", path=path,
                            where=f"line {line}, field {col!r}", fix=REPAIR) from None
        except RecursionError:
            raise DataError("JSON nested too deeply", path=path, where=f"line {line}, field {col!r}",
                            fix=REPAIR) from None
    raise DataError(f"the {col} fields do not parse as one JSON value a line", path=path,  # pragma: no cover
                    fix=REPAIR)


def _decode_names(names: pd.Series) -> np.ndarray:
    """URL-decoded names (``+`` is a space, ``%xx`` an escaped byte); missing names give ``""``.

    ``+`` is replaced column-wide; only names holding a ``%`` escape go through ``unquote``."""
    text = names.fillna("").astype(str).str.replace("+", " ", regex=False)
    escaped = text.str.contains("%", regex=False).to_numpy()
    if escaped.any():
        text[escaped] = text[escaped].map(unquote)
    return text.to_numpy(dtype=object)


def _track_titles(names: pd.Series) -> np.ndarray:
    """The decoded title of ``Artist/_/Title`` track names (the whole name when it has no ``/_/``)."""
    parts = names.fillna("").astype(str).str.partition("/_/")
    return _decode_names(parts[2].where(parts[1] != "", parts[0]))


def _numbers(values: pd.Series, default, dtype) -> np.ndarray:
    """Numeric JSON values (null, text or absent give ``default``) as ``dtype``."""
    return pd.to_numeric(values, errors="coerce").fillna(default).to_numpy().astype(dtype)


def read_persons(path: str | Path) -> pd.DataFrame:
    """Artists of ``persons.idomaar``: DataFrame artist_id (int64, unique), name (str, URL-decoded).

    A repeated artist id keeps its first record (one warning gives the count)."""
    return _concat_chunks(Path(path), "person", _persons_chunk)[0]


def _persons_chunk(raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    props = pd.DataFrame.from_records(_parse_json_column(raw, "properties", path), columns=["name"])
    return pd.DataFrame({"artist_id": raw["id"].to_numpy(), "name": _decode_names(props["name"])}), \
        np.arange(len(raw))


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
    """Track -> artist links of ``tracks.idomaar``: DataFrame track_id, artist_id (int64), name (the
    decoded title of ``Artist/_/Title``), duration_ms (int64, -1 where unknown).

    One row per (track, linked ``person``): a track by two artists gives two rows; a track without
    an artist link gets artist_id -1. The release repeats track ids (5,675,143 lines for 4,519,105
    ids): the first record of an id is kept, the repeats are dropped and one warning gives their
    count.
    """
    return _concat_chunks(Path(path), "track", _tracks_chunk)[0]


def _tracks_chunk(raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    props = pd.DataFrame.from_records(_parse_json_column(raw, "properties", path), columns=["name", "duration"])
    flat = _flatten_links(_parse_json_column(raw, "links", path), None, ["type", "id"])
    flat = flat[flat["type"] == "person"]
    ids = _link_ids(flat, raw, path, "artist")
    rows = flat["row"].to_numpy()
    missing = np.setdiff1d(np.arange(len(raw)), rows)
    rows = np.concatenate([rows, missing])
    artist = np.concatenate([ids, np.full(len(missing), -1, np.int64)])
    order = np.lexsort((artist, rows))
    rows, artist = rows[order], artist[order]
    return pd.DataFrame({"track_id": raw["id"].to_numpy()[rows], "artist_id": artist,
                         "name": _track_titles(props["name"])[rows],
                         "duration_ms": _numbers(props["duration"], -1, np.int64)[rows]}), rows


PLAY_COLUMNS = ["session_id", "user_id", "timestamp", "track_id", "position", "playstart", "playtime",
                "playratio", "action"]


def read_sessions(path: str | Path) -> pd.DataFrame:
    """Plays of ``sessions.idomaar``: one row per track object of each session.

    Columns: session_id, user_id, timestamp (when the play started: the session's timestamp plus
    the play's ``playstart``; the session's timestamp when the play has no ``playstart``, -1 when
    the session has none), track_id (int64), position (0-based order in the session), playstart
    and playtime (seconds, int64, -1 where absent), playratio (float, NaN where null or absent) and
    action (categorical text, NaN where absent). Sessions without a user subject raise a
    DataError naming the line. A repeated session id keeps its first record (its plays would
    otherwise count twice); one warning gives the count. The release's ``event.session`` lines,
    whose properties and links are often separated by a space instead of a tab, are read as well.
    """
    plays = _concat_chunks(Path(path), "session", _sessions_chunk)[0]
    plays["action"] = plays["action"].astype("category")
    return plays


def _sessions_chunk(raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    glued = (raw["links"] == "").to_numpy()
    if glued.any():  # '{properties} {links}' in one field, as on many lines of the release
        parts = raw.loc[glued, "properties"].str.partition("} {")
        raw.loc[glued, "links"] = ("{" + parts[2]).where(parts[1] != "", "")
    links = _parse_json_column(raw, "links", path)
    subjects = _flatten_links(links, ("subjects",), ["type", "id"])
    subjects = subjects[subjects["type"] == "user"].drop_duplicates("row")
    user_of = np.full(len(raw), -1, dtype=np.int64)
    has_user = np.zeros(len(raw), dtype=bool)
    user_of[subjects["row"].to_numpy()] = _link_ids(subjects, raw, path, "user")
    has_user[subjects["row"].to_numpy()] = True
    if not has_user.all():
        i = int(np.flatnonzero(~has_user)[0])
        raise DataError("session without a user subject", path=path,
                        where=f"line {int(raw['line'].iloc[i])}, field 'links'",
                        fix='each session needs "subjects": [{"type": "user", "id": ...}]')
    objs = _flatten_links(links, ("objects",), ["type", "id", "playstart", "playtime", "playratio", "action"])
    objs = objs[objs["type"] == "track"]
    track = _link_ids(objs, raw, path, "track")
    rows = objs["row"].to_numpy()
    start = raw["timestamp"].to_numpy()[rows]
    playstart = _numbers(objs["playstart"], -1, np.int64)
    out = pd.DataFrame({
        "session_id": raw["id"].to_numpy()[rows],
        "user_id": user_of[rows],
        "timestamp": np.where((start >= 0) & (playstart >= 0), start + np.maximum(playstart, 0), start),
        "track_id": track,
        "position": np.arange(len(rows)) - np.searchsorted(rows, rows),
        "playstart": playstart,
        "playtime": _numbers(objs["playtime"], -1, np.int64),
        "playratio": _numbers(objs["playratio"], np.nan, np.float64),
        "action": pd.Categorical(objs["action"].to_numpy(dtype=object)),
    })
    return out, rows


def read_session_csv(path: str | Path, *, sep: str = ";") -> pd.DataFrame:
    """The seed's per-session csv: a header with ``UserId`` and ``ArtistsID`` (comma-separated
    artist ids of the session; empty for sessions without known artists) and optionally ``ID``
    (session id) and ``Timestamp`` (integers; empty gives -1).

    Returns one row per (session, artist mention): session_id, user_id, timestamp, artist_id
    (int64). Sessions with no artists contribute no rows (the seed's ``pd.isna`` filter). A
    ``.gz``/``.bz2``/``.zip``/``.xz`` file is decompressed on reading.
    """
    fix = "export the sessions with the columns ID;UserId;Timestamp;ArtistsID"
    path = require_file(path, fix)
    compressed = path.suffix.lower() in (".gz", ".bz2", ".zip", ".xz", ".zst")
    if not compressed:
        _sniff(path, "csv text", "decompress it, or name it .csv.gz (.bz2, .zip, .xz) to read it compressed")
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError("no header line (the file holds only blank lines)", path=path, fix=fix) from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise DataError(f"found {m[3]} {sep!r}-separated fields where the header has {m[1]}", path=path,
                            where=f"line {m[2]}", fix=REPAIR) from None
        raise DataError(f"not a {sep!r}-separated csv ({' '.join(str(exc).split())})", path=path,
                        fix="check the separator and the quotes") from None
    except UnicodeDecodeError:
        if compressed:
            raise DataError("not UTF-8 text", path=path, fix="save the file as UTF-8") from None
        raise _not_utf8(path) from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot decompress the file ({' '.join(str(exc).split())})", path=path,
                        fix="download or compress it again, or store it uncompressed as .csv") from None
    for col in ("UserId", "ArtistsID"):
        if col not in df.columns:
            cols = list(df.columns)
            seps = [s for s in (";", ",", "\t", "|") if s != sep and len(cols) == 1 and s in cols[0]]
            hint = f"; the header looks {seps[0]!r}-separated, pass sep={seps[0]!r}" if seps else ""
            raise DataError(f"column {col!r} not found (columns: {cols}){hint}", path=path,
                            fix="the first line must be the header, with UserId and ArtistsID")
    if df.empty:
        raise DataError("no sessions: the file has a header but no rows", path=path, fix=fix)

    def integers(col: str, default: int | None) -> np.ndarray:
        if col not in df:
            return np.full(len(df), default, np.int64)
        values = df[col] if default is None else df[col].where(df[col].str.strip() != "", str(default))
        num, bad = _as_int64(values)
        if bad is not None:
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{col} {_describe(df[col].iloc[i])}", path=path, where=f"line {i + 2}, column {col!r}",
                            fix=REPAIR)
        return num

    sessions = integers("ID", -1) if "ID" in df else np.arange(len(df), dtype=np.int64)
    times = integers("Timestamp", -1)
    users = integers("UserId", None)
    artists = df["ArtistsID"].str.split(",").explode()
    artists = artists[artists.str.strip() != ""]
    ids, bad = _as_int64(artists)
    if bad is not None:
        i = int(artists.index[bad][0])
        raise DataError(f"artist id {artists[bad].iloc[0]!r} is not an integer", path=path,
                        where=f"line {i + 2}, column 'ArtistsID'", fix="artist ids are comma-separated integers")
    rows = artists.index.to_numpy()
    return pd.DataFrame({
        "session_id": sessions[rows],
        "user_id": users[rows],
        "timestamp": times[rows],
        "artist_id": ids,
    })


# --------------------------------------------------------------------------- the data set
@dataclass
class Music30Data:
    """The unit-4 data set.

    ``plays``: one row per played (session, track, artist): the columns of :func:`read_sessions`
    (session_id, user_id, timestamp: when the play started, track_id, position, playstart, playtime,
    playratio, action) and artist_id. ``artists``: artist_id, name. ``tracks``: track_id,
    artist_id, name (title), duration_ms. ``communities`` (toy only): int64 taste community of each
    artist, indexed like ``artists``. ``repeated``: records dropped because their id was already
    read, per file (the real tracks.idomaar repeats ids).
    """

    plays: pd.DataFrame
    artists: pd.DataFrame
    tracks: pd.DataFrame
    folder: Path
    communities: np.ndarray | None = field(default=None, repr=False)
    repeated: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Counts of plays, sessions, users, artists and tracks, and of the repeated records dropped."""
        out = {"plays": len(self.plays), "sessions": self.plays["session_id"].nunique(),
               "users": self.plays["user_id"].nunique(), "artists": len(self.artists),
               "tracks": self.tracks["track_id"].nunique()}
        out.update({f"repeated records dropped from {name}": n for name, n in self.repeated.items() if n})
        return out

    def user_artist_counts(self) -> pd.DataFrame:
        """user_id, artist_id, plays: how often each user played each artist (sorted by user, artist)."""
        g = self.plays.groupby(["user_id", "artist_id"], as_index=False, sort=True).size()
        return g.rename(columns={"size": "plays"})

    def artist_names(self, artist_ids) -> np.ndarray:
        """Names of artist ids (``"?"`` for ids missing from persons.idomaar)."""
        names = pd.Series(self.artists["name"].to_numpy(), index=self.artists["artist_id"].to_numpy())
        return names.reindex(np.asarray(artist_ids)).fillna("?").to_numpy()

    def __repr__(self) -> str:
        dropped = "".join(f", {n:,} repeated records dropped from {name}" for name, n in self.repeated.items() if n)
        return (f"Music30Data({len(self.plays):,} plays, {self.plays['session_id'].nunique():,} sessions, "
                f"{self.plays['user_id'].nunique():,} users, {len(self.artists):,} artists{dropped}, "
                f"folder={str(self.folder)!r})")


def read_music30(folder: str | Path, *, drop_unknown_tracks: bool = False) -> Music30Data:
    """Read sessions, tracks and persons from ``folder`` and join plays to artists.

    A play of a track missing from tracks.idomaar raises a DataError naming the session, unless
    ``drop_unknown_tracks``; plays of tracks without an artist are dropped, as the seed's csv had
    no artist for them. Records whose id was already read (in any of the three files) are dropped
    with one warning per file, and counted in :attr:`Music30Data.repeated`.
    """
    folder = Path(folder)
    sessions, n_sessions = _concat_chunks(folder / FILES["sessions"], "session", _sessions_chunk)
    sessions["action"] = sessions["action"].astype("category")
    tracks, n_tracks = _concat_chunks(folder / FILES["tracks"], "track", _tracks_chunk)
    artists, n_persons = _concat_chunks(folder / FILES["persons"], "person", _persons_chunk)
    repeated = {FILES["sessions"]: n_sessions, FILES["tracks"]: n_tracks, FILES["persons"]: n_persons}
    unknown = ~np.isin(sessions["track_id"].to_numpy(), tracks["track_id"].to_numpy())
    if unknown.any() and not drop_unknown_tracks:
        i = int(np.flatnonzero(unknown)[0])
        more = f" ({int(unknown.sum())} plays name tracks missing from it)" if unknown.sum() > 1 else ""
        raise DataError(f"track id {sessions['track_id'].iloc[i]} is not in {FILES['tracks']}{more}",
                        path=folder / FILES["sessions"],
                        where=f"session {sessions['session_id'].iloc[i]}, field 'links'",
                        fix=f"use the {FILES['tracks']} of the same release, or pass drop_unknown_tracks=True "
                            "to drop those plays")
    links = tracks.loc[tracks["artist_id"] >= 0, ["track_id", "artist_id"]]
    plays = sessions.merge(links, on="track_id", how="inner", sort=False)
    plays = plays.sort_values(["session_id", "position", "artist_id"], kind="mergesort").reset_index(drop=True)
    data = Music30Data(plays, artists, tracks, folder, repeated=repeated)
    comm = folder / TOY_COMMUNITIES
    if comm.exists():  # toy folders only
        again = f"delete {folder} so the toy data is generated again"
        data.communities = read_matrix(comm, again, ndim=1)
        if len(data.communities) != len(artists) or not np.issubdtype(data.communities.dtype, np.integer):
            raise DataError(f"{len(data.communities)} communities ({data.communities.dtype}) for {len(artists)} "
                            "artists", path=comm, fix=again)
    return data


def load_music30(source: str = "toy", *, seed: int = 0, data_home=None, drop_unknown_tracks: bool = False,
                 **sizes) -> Music30Data:
    """The unit-4 data set: ``source="toy"`` (generated, default) or ``"real"`` (the 30Music files).

    ``drop_unknown_tracks``: see :func:`read_music30`. A damaged toy folder is generated again (see
    :func:`~coursekit.datasets.toy_path`).
    """
    return load_verified("music30", source, lambda folder: read_music30(folder, drop_unknown_tracks=drop_unknown_tracks),
                         seed=seed, data_home=data_home, **sizes)


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
    timestamps; each play object carries ``playstart`` (seconds from the session start),
    ``playtime``, ``playratio`` and ``action`` as in the release, and track durations are written in
    milliseconds with ``Artist/_/Title`` names. Everything is vectorised and seeded: the same
    arguments give the same bytes.
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
              '{"duration":' + pd.Series(duration * 1000).astype(str) + ',"playcount":-1,"MBID":null,"name":"' +
              names.iloc[track_artist].reset_index(drop=True) + "/_/Track+" + pd.Series(np.arange(n_tracks)).astype(str) +
              '"}\t{"artists":[' + main + feat_txt +
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
    atomic_write_bytes(folder / TOY_COMMUNITIES, buf.getvalue())


SPEC = register(
    DatasetSpec(
        name="music30",
        title="30Music: listening sessions of Last.fm users (idomaar format)",
        files=tuple(RemoteFile(n) for n in FILES.values()),
        unit="04",
        manual=MANUAL,
        toy=make_toy_music30,
        toy_version=2,  # v2: track durations in milliseconds and Artist/_/Title names, as in the release
    )
)
