"""Interaction tables <-> sparse matrices: the common ground of every collaborative-filtering unit.

An :class:`Interactions` object holds a user x item CSR matrix (float32) together with the original
user and item ids of its rows and columns, so models work on integer rows and columns while every
answer they give to people is in the original ids (strings, ints, anything hashable).

Example::

    inter = Interactions.from_frame(df, "user_id", "item_id", count_col="plays")
    inter.matrix           # (n_users, n_items) float32 CSR, duplicates summed
    inter.user_index(["u7", "u9"])   # int64 rows
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import DataError

__all__ = ["Interactions", "scale_counts", "row_shares"]


def _universe(values: pd.Series | np.ndarray, given, what: str) -> np.ndarray:
    """The sorted unique ids of ``values`` (order of appearance when ids do not sort), or ``given``."""
    if given is not None:
        ids = np.asarray(given)
        if ids.ndim != 1:
            raise DataError(f"{what} must be one-dimensional, got shape {ids.shape}", where=what,
                            fix=f"pass a flat list or array of {what}")
        if pd.Index(ids).has_duplicates:
            dup = pd.Index(ids)[pd.Index(ids).duplicated()][0]
            raise DataError(f"{what} contains the id {dup!r} more than once", where=what,
                            fix=f"pass each id once in {what}")
        return ids
    uniq = pd.unique(np.asarray(values))
    try:
        uniq = np.sort(uniq)
    except TypeError:  # ids of mixed types do not sort: keep the order of first appearance
        pass
    return np.asarray(uniq)


def _lookup(index: pd.Index, ids, what: str) -> np.ndarray:
    ids = np.atleast_1d(np.asarray(ids))
    pos = index.get_indexer(ids)
    if (pos < 0).any():
        first = ids[np.flatnonzero(pos < 0)[0]]
        raise DataError(f"unknown {what} id {first!r} ({int((pos < 0).sum())} unknown in all)",
                        where=f"{what} ids",
                        fix=f"use ids that appear in the training interactions, or pass them in {what}_ids=")
    return pos.astype(np.int64)


@dataclass(eq=False)
class Interactions:
    """A user x item interaction matrix with its original ids.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, float32, shape (n_users, n_items); counts (or 1.0 for a
        table without counts), duplicate (user, item) rows summed, explicit zeros removed.
    user_ids : ndarray (n_users,), the original user id of each row.
    item_ids : ndarray (n_items,), the original item id of each column.
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_col: str = "user_id"
    item_col: str = "item_id"
    count_col: str = "count"
    _user_index: pd.Index = field(init=False, repr=False)
    _item_index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.matrix = sp.csr_matrix(self.matrix, dtype=np.float32)
        self.user_ids = np.asarray(self.user_ids)
        self.item_ids = np.asarray(self.item_ids)
        if self.matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise ValueError(f"matrix shape {self.matrix.shape} does not match "
                             f"{len(self.user_ids)} user ids x {len(self.item_ids)} item ids")
        self._user_index = pd.Index(self.user_ids)
        self._item_index = pd.Index(self.item_ids)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(cls, df: pd.DataFrame, user_col: str = "user_id", item_col: str = "item_id",
                   count_col: str | None = None, *, user_ids=None, item_ids=None,
                   unknown: str = "raise") -> "Interactions":
        """Build the matrix from a table of (user id, item id[, count]) rows.

        ``user_ids`` / ``item_ids`` fix the id universe (rows / columns, in that order), for example
        to give a test table the columns of its training table. Rows whose ids fall outside a given
        universe raise a :class:`~coursekit.DataError` (``unknown="raise"``) or are dropped
        (``unknown="drop"``). Without a universe the ids are sorted (order of first appearance when
        they do not sort). Counts must be finite and non-negative; duplicates are summed.
        """
        if unknown not in ("raise", "drop"):
            raise ValueError(f"unknown must be 'raise' or 'drop', got {unknown!r}")
        cols = [user_col, item_col] + ([count_col] if count_col else [])
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DataError(f"column {missing[0]!r} not found (columns: {list(df.columns)})",
                            where="interaction table", fix=f"name the columns with user_col=, item_col=, count_col=")
        users = df[user_col].to_numpy()
        items = df[item_col].to_numpy()
        for name, vals in ((user_col, df[user_col]), (item_col, df[item_col])):
            if vals.isna().any():
                row = int(np.flatnonzero(vals.isna().to_numpy())[0])
                raise DataError(f"missing id in row {row}", where=f"column {name!r}",
                                fix="drop rows without a user or item id before building the matrix")
        if count_col:
            counts = pd.to_numeric(df[count_col], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(counts) | (counts < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(f"count {df[count_col].iloc[row]!r} in row {row} is not a finite number >= 0",
                                where=f"column {count_col!r}", fix="clean or drop that row")
        else:
            counts = np.ones(len(df), dtype=np.float64)
        u_ids = _universe(users, user_ids, "user_ids")
        i_ids = _universe(items, item_ids, "item_ids")
        u_index, i_index = pd.Index(u_ids), pd.Index(i_ids)
        rows = u_index.get_indexer(users)
        cols_ = i_index.get_indexer(items)
        outside = (rows < 0) | (cols_ < 0)
        if outside.any():
            if unknown == "raise":
                r = int(np.flatnonzero(outside)[0])
                which, val = (user_col, users[r]) if rows[r] < 0 else (item_col, items[r])
                raise DataError(f"id {val!r} in row {r} is not in the given id universe "
                                f"({int(outside.sum())} rows outside it)", where=f"column {which!r}",
                                fix="add the id to user_ids/item_ids, or pass unknown='drop'")
            keep = ~outside
            rows, cols_, counts = rows[keep], cols_[keep], counts[keep]
        m = sp.csr_matrix((counts.astype(np.float32), (rows, cols_)), shape=(len(u_ids), len(i_ids)))
        m.sum_duplicates()
        m.eliminate_zeros()
        return cls(m, u_ids, i_ids, user_col, item_col, count_col or "count")

    # ------------------------------------------------------------------ ids
    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        return self.matrix.nnz

    def user_index(self, ids) -> np.ndarray:
        """int64 row of each user id; :class:`~coursekit.DataError` naming the first unknown id."""
        return _lookup(self._user_index, ids, "user")

    def item_index(self, ids) -> np.ndarray:
        """int64 column of each item id; :class:`~coursekit.DataError` naming the first unknown id."""
        return _lookup(self._item_index, ids, "item")

    # ------------------------------------------------------------------ conversions
    def to_frame(self) -> pd.DataFrame:
        """The non-zero entries as a table (user, item, count), sorted by row then column."""
        coo = self.matrix.tocoo()
        order = np.lexsort((coo.col, coo.row))
        return pd.DataFrame({
            self.user_col: self.user_ids[coo.row[order]],
            self.item_col: self.item_ids[coo.col[order]],
            self.count_col: coo.data[order],
        })

    def with_matrix(self, matrix) -> "Interactions":
        """The same ids with another matrix of the same shape (for example scaled counts)."""
        return Interactions(matrix, self.user_ids, self.item_ids, self.user_col, self.item_col, self.count_col)

    def binary(self) -> "Interactions":
        """1.0 wherever there is an interaction."""
        m = self.matrix.copy()
        m.data[:] = 1.0
        return self.with_matrix(m)

    def item_popularity(self) -> np.ndarray:
        """float64 (n_items,): number of users who interacted with each item."""
        return np.bincount(self.matrix.indices, minlength=self.n_items).astype(np.float64)

    def __repr__(self) -> str:
        return f"Interactions({self.n_users:,} users x {self.n_items:,} items, {self.nnz:,} non-zeros)"


def scale_counts(matrix: sp.spmatrix, how: str | None = "log") -> sp.csr_matrix:
    """Rescale the non-zero counts of a user x item matrix; zeros stay zero (sparsity is kept).

    ``how``:
    - ``None`` / ``"none"``: unchanged;
    - ``"log"``: ``log1p(count)``, damping heavy listeners;
    - ``"minmax"``: each column divided by its maximum, so every item's counts lie in (0, 1]
      (MinMax scaling with the minimum taken as 0, which keeps the matrix sparse; the seed's
      ``MinMaxScaler`` on a dense matrix does the same thing when every column has a zero);
    - ``"binary"``: 1.0 for every interaction.
    Returns float32 CSR.
    """
    m = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if how in (None, "none"):
        return m
    if how == "log":
        m.data = np.log1p(m.data)
    elif how == "minmax":
        col_max = np.asarray(m.max(axis=0).todense()).ravel()
        col_max[col_max == 0] = 1.0
        m.data = m.data / col_max[m.indices]
    elif how == "binary":
        m.data[:] = 1.0
    else:
        raise ValueError(f"how must be None, 'log', 'minmax' or 'binary', got {how!r}")
    return m


def row_shares(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Each non-zero count divided by its row's total: the share of a user's plays that went to
    each item (float64 CSR of the same pattern; rows sum to 1, empty rows stay empty).

    The music seed kept an (user, artist) pair as a positive training example when the artist had
    at least 10 % of the user's plays: ``row_shares(m) >= 0.1`` on the stored entries.
    """
    m = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    if (m.data < 0).any():
        raise ValueError("row_shares needs non-negative counts")
    totals = np.asarray(m.sum(axis=1)).ravel()
    m.data = m.data / np.repeat(np.where(totals > 0, totals, 1.0), np.diff(m.indptr))
    return m
