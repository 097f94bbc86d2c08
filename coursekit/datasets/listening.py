"""Unit 4's data, whatever its source: who played which artist how often.

:func:`load_listening` gives one :class:`Listening` for each ``DATA_SOURCE`` of the unit:

- ``"toy"``: toy 30Music sessions (generated; :mod:`coursekit.datasets.music30`);
- ``"real"``: the 30Music files (on request from their authors);
- ``"lastfm"``: the public HetRec 2011 Last.fm-2k play counts (:mod:`coursekit.datasets.lastfm`);
- ``"csv"``: your own table of (user, item[, count][, timestamp]) rows, CSV or parquet
  (:mod:`coursekit.datasets.tables`), given as ``path``.

Every source gives ``counts`` (user_id, artist_id, plays: one row per user and artist) and artist
names; only 30Music has listening **sessions** (``sessions`` is None otherwise), so the parts of
the unit that need them say so on other data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["Listening", "load_listening", "SOURCES"]

SOURCES = ("toy", "real", "lastfm", "csv")


@dataclass
class Listening:
    """Play counts of one data set, in the unit's shape.

    ``counts``: user_id, artist_id, plays (one row per pair, sorted by user then artist);
    ``sessions``: one row per play with session_id and timestamp (30Music), else None;
    ``communities``: the toy generator's taste community of each artist (toy only), indexed like
    ``artist_ids``; ``raw_file``: the file the counts come from (its first lines are worth a look).
    """

    source: str
    title: str
    counts: pd.DataFrame
    raw_file: Path
    names: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    sessions: pd.DataFrame | None = field(default=None, repr=False)
    communities: np.ndarray | None = field(default=None, repr=False)
    artist_ids: np.ndarray | None = field(default=None, repr=False)

    def artist_names(self, artist_ids) -> np.ndarray:
        return self.names(np.asarray(artist_ids))

    def community_of(self, artist_ids) -> np.ndarray | None:
        """The toy taste community of each artist id (None on real data)."""
        if self.communities is None:
            return None
        return pd.Series(self.communities, index=self.artist_ids).reindex(np.asarray(artist_ids)).to_numpy()

    def head(self, n_lines: int = 2, width: int = 200) -> str:
        """The first ``n_lines`` lines of the raw file, tabs shown as <TAB>, cut at ``width`` characters."""
        if self.raw_file.suffix.lower() in (".parquet", ".pq"):
            return self.counts.head(n_lines).to_string()
        with open(self.raw_file, encoding="utf-8", errors="replace", newline="") as fh:
            lines = [fh.readline().rstrip("\r\n") for _ in range(n_lines)]
        return "\n".join(line[:width].replace("\t", " <TAB> ") + (" ..." if len(line) > width else "")
                         for line in lines)

    def __repr__(self) -> str:
        c = self.counts
        return (f"Listening({self.title}: {len(c):,} (user, artist) pairs, {c['user_id'].nunique():,} users, "
                f"{c['artist_id'].nunique():,} artists, {int(c['plays'].sum()):,} plays)")


def load_listening(source: str = "toy", *, seed: int = 0, path: str | Path | None = None, data_home=None,
                   **sizes) -> Listening:
    """The unit-4 data for ``source`` (see the module docstring); ``sizes`` go to the toy generator."""
    if source in ("toy", "real"):
        from .music30 import FILES, load_music30

        data = load_music30(source, seed=seed, data_home=data_home, **sizes)
        title = "toy 30Music sessions" if source == "toy" else "30Music sessions"
        return Listening(source, title, data.user_artist_counts(), data.folder / FILES["sessions"],
                         data.artist_names, sessions=data.plays, communities=data.communities,
                         artist_ids=data.artists["artist_id"].to_numpy())
    if source == "lastfm":
        from .lastfm import FILES, load_lastfm

        data = load_lastfm("real", data_home=data_home)
        return Listening(source, "Last.fm-2k play counts (HetRec 2011)", data.user_artist_counts(),
                         data.folder / FILES["user_artists"][0], data.artist_names)
    if source == "csv":
        if path is None or str(path).strip() == "":
            raise DataError("DATA_SOURCE = 'csv' needs the table's path", where="INTERACTIONS",
                            fix="set INTERACTIONS = 'path/to/plays.csv' (or -p INTERACTIONS=PATH)")
        from .tables import read_interaction_table

        table = read_interaction_table(path)
        counts = (table.groupby(["user", "item"], as_index=False, sort=True)["count"].sum()
                  .rename(columns={"user": "user_id", "item": "artist_id", "count": "plays"}))
        counts = counts[counts["plays"] > 0].reset_index(drop=True)
        if counts.empty:
            raise DataError("every count is 0: nothing was played", path=path, where="column 'count'",
                            fix="give the table some positive counts")
        return Listening(source, f"your table {Path(path).name}", counts, Path(path),
                         lambda ids: np.asarray(ids).astype(str))
    raise DataError(f"unknown data source {source!r}", where="DATA_SOURCE",
                    fix=f"use one of {', '.join(map(repr, SOURCES))}")
