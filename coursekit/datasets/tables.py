"""Your own interactions: a CSV or parquet table of (user, item[, count][, timestamp]) rows.

Unit 4 runs on any such table (``coursekit build --unit 04 -p DATA_SOURCE=csv -p INTERACTIONS=plays.csv``):

- ``user`` and ``item``: ids (text or integers), one row per interaction or per (user, item) pair;
- ``count`` (optional): how often the user interacted with the item (a number >= 0; rows of one
  pair are added up); without it every row counts once, so a log of events gives its counts;
- ``timestamp`` (optional): when (unix seconds or a date); kept, not needed.

CSV files are comma-separated with a header line (``.tsv``: tab-separated); ``.parquet`` files
are read with pyarrow. A missing column, an empty table, a missing id or a count that is not a
number >= 0 is a one-line :class:`~coursekit.DataError` naming the file, the line (or row) and
the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ._io import require_file

__all__ = ["read_interaction_table", "REQUIRED", "OPTIONAL"]

REQUIRED = ("user", "item")
OPTIONAL = ("count", "timestamp")
FIX = "the table needs a header with the columns user and item (optionally count and timestamp)"


def _read_frame(path: Path) -> tuple[pd.DataFrame, str]:
    """(the table as read, how to name a row in messages: "line" for text files, "row" for parquet)."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pandas(), "row"
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many error types for a damaged file
            detail = (str(exc).splitlines() or [""])[0]
            raise DataError(f"not a readable parquet file ({type(exc).__name__}: {detail})", path=path,
                            fix="write it again, e.g. with DataFrame.to_parquet") from None
    if suffix not in (".csv", ".tsv", ".txt"):
        raise DataError(f"unknown table format {suffix or '(no suffix)'!r}", path=path,
                        fix="save the table as .csv (comma-separated, header first) or .parquet")
    try:
        df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False,
                         encoding="utf-8-sig", skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DataError("the table is empty (no header line)", path=path, fix=FIX) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"not a readable csv ({' '.join(str(exc).split())})", path=path,
                        fix="check the separator (a comma; .tsv for tabs) and the quotes") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})", path=path,
                        fix="save the file as UTF-8") from None
    return df, "line"


def _where(kind: str, i: int, column: str) -> str:
    """A 0-based data row as the reader names it: line i + 2 of a csv (after the header), row i of parquet."""
    return f"{kind} {i + 2 if kind == 'line' else i}, column {column!r}"


def read_interaction_table(path: str | Path) -> pd.DataFrame:
    """Read a table of interactions (see the module docstring).

    Returns a DataFrame with the columns ``user``, ``item`` (as read), ``count`` (float64, 1.0
    where the file has none) and ``timestamp`` when the file has it, one row per row of the file.
    """
    path = require_file(Path(path), FIX)
    df, kind = _read_frame(path)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        lower = {c.lower(): c for c in df.columns}
        near = [lower[m] for m in missing if m in lower]
        hint = f" (rename {near[0]!r} to {missing[0]!r})" if near else ""
        raise DataError(f"column {missing[0]!r} not found{hint}; the table has {list(df.columns)}", path=path,
                        where="header", fix=FIX)
    if df.empty:
        raise DataError("the table is empty: a header but no rows", path=path, fix="add interactions below the header")
    out = pd.DataFrame({c: df[c] for c in REQUIRED})
    for col in REQUIRED:
        blank = out[col].isna().to_numpy() | (out[col].astype(str).str.strip() == "").to_numpy()
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataError(f"missing {col} id", path=path, where=_where(kind, i, col),
                            fix="fill in the id or delete the row")
    if "count" in df.columns:
        raw = df["count"]
        counts = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(counts) | (counts < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            value = raw.iloc[i]
            what = "is empty" if pd.isna(value) or str(value).strip() == "" else \
                f"{value!r} is not a number >= 0"
            raise DataError(f"count {what}", path=path,
                            where=_where(kind, i, "count"), fix="counts must be numbers >= 0 (how often the user "
                                                                  "played the item); fix or delete the row")
        out["count"] = counts
    else:
        out["count"] = 1.0
    if "timestamp" in df.columns:
        out["timestamp"] = df["timestamp"]
    return out
