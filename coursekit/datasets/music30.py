"""Unit 4 data: 30Music listening sessions (idomaar format)."""

from __future__ import annotations

from ._registry import DatasetSpec, RemoteFile, register

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

SPEC = register(
    DatasetSpec(
        name="music30",
        title="30Music: listening sessions of Last.fm users (idomaar format)",
        files=tuple(RemoteFile(n) for n in FILES.values()),
        unit="04",
        manual=MANUAL,
    )
)
