"""Neighbourhood collaborative filtering on sparse matrices: Popularity, UserKNN, ItemKNN.

All three follow scikit-learn's shape (hyper-parameters in ``__init__``, ``fit`` returns self,
learned state ends in ``_``) and share one ranking path:

- ``score(user_rows)`` gives dense scores (len(user_rows), n_items) for people and for generic
  evaluation code;
- ``top_n(user_rows, n, exclude)`` ranks without ever building a dense user x item matrix: the
  neighbourhood scores are sparse (most items get no vote), so the candidates of each row are
  ranked on their own (:func:`sparse_top_k`) and short lists are back-filled with the most popular
  items not yet used (:func:`fill_by_order`). Ties anywhere are broken by popularity, which makes
  rankings reproducible and equal to ``ranking.top_k(score, tie_break=popularity rank)``;
- ``recommend(users, n, exclude_seen)`` maps original user ids to rows, runs ``top_n`` in batches
  and returns original item ids.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..interactions import Interactions, scale_counts
from ..ranking import mask_items, top_k

__all__ = ["Popularity", "UserKNN", "ItemKNN", "sparse_top_k", "fill_by_order", "popularity_tie_break",
           "cosine_neighbours", "dense_top_n", "similar_by_vectors"]


# ---------------------------------------------------------------------------------------- helpers
def popularity_tie_break(popularity: np.ndarray) -> np.ndarray:
    """float64 (n_items,) in [0, 1): higher for more popular items, all distinct.

    The most popular item gets (n-1)/n, the least popular 0; equal popularity goes to the lower index.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    n = len(pop)
    order = np.lexsort((np.arange(n), -pop))  # most popular first, then lower index
    tb = np.empty(n, dtype=np.float64)
    tb[order] = (n - 1 - np.arange(n)) / max(n, 1)
    return tb


def sparse_top_k(scores: sp.csr_matrix, k: int, tie_break: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best stored entries of each row of a CSR matrix, best first.

    Only stored entries are candidates (implicit zeros are not). Rows are grouped by their number of
    entries (powers of two), each group is padded into a small dense block and ranked with
    ``argpartition``, so the work is proportional to the number of stored entries, not to
    n_rows x n_cols. Ties are broken by ``tie_break`` (float (n_cols,) in [0, 1), larger first) at a
    scale below any score gap, as in :func:`coursekit.ranking.top_k`.

    Returns ``indices`` int64 (n_rows, k), ``-1`` in empty slots, and ``values`` float64 (n_rows, k),
    the stored values (without the tie-break nudge), ``-inf`` in empty slots.
    """
    m = sp.csr_matrix(scores)
    n_rows = m.shape[0]
    idx_out = np.full((n_rows, k), -1, dtype=np.int64)
    val_out = np.full((n_rows, k), -np.inf)
    if k <= 0 or m.nnz == 0:
        return idx_out, val_out
    data = m.data.astype(np.float64)
    key = data
    if tie_break is not None:
        spread = max(float(np.abs(data).max()), 1e-12)
        key = data + np.asarray(tie_break, dtype=np.float64)[m.indices] * 1e-9 * spread
    lengths = np.diff(m.indptr)
    width_class = np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64)
    for c in np.unique(width_class[lengths > 0]):
        rows = np.flatnonzero((width_class == c) & (lengths > 0))
        width = int(lengths[rows].max())
        starts, lens = m.indptr[rows], lengths[rows]
        # positions of every stored entry of these rows in the padded (len(rows), width) block
        local_row = np.repeat(np.arange(len(rows)), lens)
        offset = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        src = np.repeat(starts, lens) + offset
        block = np.full((len(rows), width), -np.inf)
        block[local_row, offset] = key[src]
        kk = min(k, width)
        if kk < width:  # the kk largest sit right of position width - kk
            part = np.argpartition(block, width - kk, axis=1)[:, width - kk:]
            vals = np.take_along_axis(block, part, axis=1)
        else:
            part, vals = np.broadcast_to(np.arange(width), block.shape), block
        order = np.argsort(-vals, axis=1, kind="stable")
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        empty = ~np.isfinite(vals)
        # a block column is the offset inside the row, so the entry sits at row start + column
        src_top = np.where(empty, 0, starts[:, None] + part)
        got = m.indices[src_top].astype(np.int64)
        got[empty] = -1
        raw = data[src_top]
        raw[empty] = -np.inf
        idx_out[rows, :kk] = got
        val_out[rows, :kk] = raw
    return idx_out, val_out


def dense_top_n(scores: np.ndarray, n: int, exclude: sp.spmatrix | None = None,
                tie_break: np.ndarray | None = None) -> np.ndarray:
    """The ``n`` best columns of each row of dense ``scores``, best first, without the items stored
    in ``exclude`` (CSR of the same shape): int64 (n_rows, n), ``-1`` where a row runs out.

    The rankings of ``ranking.top_k(mask_items(scores, exclude), n, tie_break=...)`` (ties broken
    by ``tie_break`` at a scale below any score gap), with one copy of the scores instead of four:
    factor models score every item, so this is their hot path.
    """
    s = np.array(scores, dtype=np.float64)
    n_rows, n_items = s.shape
    n = int(min(n, n_items))
    if tie_break is not None and s.size:
        spread = max(float(np.abs(s).max()), 1e-12)
        s += (np.asarray(tie_break, dtype=np.float64) * (1e-9 * spread))[None, :]
    if exclude is not None:
        ex = sp.csr_matrix(exclude)
        s[np.repeat(np.arange(n_rows), np.diff(ex.indptr)), ex.indices] = -np.inf
    if n <= 0:
        return np.empty((n_rows, 0), np.int64)
    part = np.argpartition(s, n_items - n, axis=1)[:, n_items - n:]  # the n largest, in no order
    vals = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    idx[~np.isfinite(np.take_along_axis(vals, order, axis=1))] = -1
    return idx


def similar_by_vectors(vectors: np.ndarray, interactions: Interactions, item_ids, n: int = 10) -> np.ndarray:
    """ORIGINAL ids (len(item_ids), n) of the items whose rows of ``vectors`` (n_items, f) have the
    largest cosine with those of ``item_ids`` (the item itself left out): similar items of a
    factor or embedding model."""
    cols = interactions.item_index(item_ids)
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    s = v[cols] @ v.T
    s[np.arange(len(cols)), cols] = -np.inf
    return interactions.item_ids[top_k(s, n)[0]]


def fill_by_order(lists: np.ndarray, order: np.ndarray, exclude: sp.csr_matrix | None) -> np.ndarray:
    """Fill the ``-1`` slots of ``lists`` (int64 (n_rows, n)) with items taken in ``order``.

    ``order`` is an int array of item indices, best first (for example by popularity); items already
    in a row's list and items stored in that row of ``exclude`` (CSR (n_rows, n_items), e.g. the
    items a user has seen) are skipped. Vectorised: only the first ``n + max excluded per row``
    items of ``order`` are looked at. Returns a new array; slots stay ``-1`` only when the catalogue
    runs out.
    """
    lists = np.array(lists, dtype=np.int64, copy=True)
    n_rows, n = lists.shape
    valid = lists >= 0
    # compact each row so its valid items come first, in their order
    first = np.argsort(~valid, axis=1, kind="stable")
    lists = np.take_along_axis(lists, first, axis=1)
    have = valid.sum(axis=1)
    need_rows = np.flatnonzero(have < n)
    if len(need_rows) == 0:
        return lists
    sub = lists[need_rows]
    n_excl = np.zeros(len(need_rows), dtype=np.int64)
    if exclude is not None:
        ex = sp.csr_matrix(exclude)[need_rows]
        n_excl = np.diff(ex.indptr)
    L = int(min(len(order), n + int(n_excl.max(initial=0)) + n))
    cand = np.asarray(order[:L], dtype=np.int64)
    blocked = np.zeros((len(need_rows), L), dtype=bool)
    if exclude is not None:
        blocked |= ex[:, cand].toarray() != 0
    blocked |= (sub[:, :, None] == cand[None, None, :]).any(axis=1)
    free = ~blocked
    rank = np.cumsum(free, axis=1)  # 1-based rank among free candidates
    need = n - have[need_rows]
    take = free & (rank <= need[:, None])
    r, c = np.nonzero(take)
    slot = have[need_rows][r] + rank[r, c] - 1
    sub[r, slot] = cand[c]
    lists[need_rows] = sub
    return lists


def _normalise_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ m)


def cosine_neighbours(m: sp.csr_matrix, k: int, *, shrink: float = 0.0, batch_size: int = 4096,
                      tie_break: np.ndarray | None = None) -> sp.csr_matrix:
    """The ``k`` most cosine-similar other rows of each row of ``m``, as a sparse weight matrix.

    Returns CSR float32 (n_rows, n_rows): row i holds the similarities of i's k nearest rows
    (itself excluded, only positive similarities). ``shrink`` > 0 uses
    ``dot / (|a| |b| + shrink)``, which damps similarities computed from few co-occurrences.
    Similarities are computed in row batches, so memory is bounded by one sparse batch.
    """
    m = sp.csr_matrix(m, dtype=np.float32)
    n = m.shape[0]
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()).astype(np.float64)
    mt = m.T.tocsr()
    if tie_break is None:  # lower row index first: deterministic
        tie_break = (n - 1 - np.arange(n)) / max(n, 1)
    indptr, indices, data = [0], [], []
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        dots = sp.csr_matrix(m[rows] @ mt)
        r = np.repeat(np.arange(len(rows)), np.diff(dots.indptr))
        dots.data[dots.indices == rows[r]] = 0  # a row is not its own neighbour
        denom = norms[rows][r] * norms[dots.indices] + shrink
        dots.data = (dots.data / np.where(denom > 0, denom, 1.0)).astype(np.float32)
        dots.data[dots.data < 0] = 0
        dots.eliminate_zeros()
        idx, vals = sparse_top_k(dots, k, tie_break)
        keep = idx >= 0
        indices.append(idx[keep])
        data.append(vals[keep].astype(np.float32))
        indptr.extend((indptr[-1] + np.cumsum(keep.sum(axis=1))).tolist())
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=(n, n))


# ---------------------------------------------------------------------------------------- models
class _Recommender:
    """Shared recommend / top_n / score plumbing; subclasses implement ``fit`` and ``_sparse_scores``."""

    batch_size: int = 4096

    def _check_fitted(self) -> None:
        if not hasattr(self, "interactions_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(interactions) first")

    def _set_train(self, interactions: Interactions) -> None:
        if not isinstance(interactions, Interactions):
            raise TypeError("fit expects a coursekit.interactions.Interactions; build one with "
                            "Interactions.from_frame(df, user_col, item_col)")
        self.interactions_ = interactions
        self.popularity_ = interactions.item_popularity()
        self.tie_break_ = popularity_tie_break(self.popularity_)
        self.popularity_order_ = np.argsort(-self.tie_break_, kind="stable")

    def _sparse_scores(self, user_rows: np.ndarray) -> sp.csr_matrix:
        raise NotImplementedError

    def score(self, user_rows) -> np.ndarray:
        """Dense float64 scores (len(user_rows), n_items); items without a vote score 0."""
        self._check_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        return self._sparse_scores(rows).toarray().astype(np.float64)

    def top_n(self, user_rows, n: int = 10, exclude: sp.spmatrix | None = None) -> np.ndarray:
        """int64 (len(user_rows), n): best item columns first, without a dense score matrix.

        ``exclude``: CSR (len(user_rows), n_items) whose stored entries must not be returned.
        Equal to ``ranking.top_k(mask_items(score(rows), exclude), n, tie_break=self.tie_break_)``.
        """
        self._check_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        s = self._sparse_scores(rows)
        if exclude is not None:
            exclude = sp.csr_matrix(exclude)
            s = sp.csr_matrix(s - s.multiply(exclude != 0))
        s.eliminate_zeros()
        lists, _ = sparse_top_k(s, n, self.tie_break_)
        return fill_by_order(lists, self.popularity_order_, exclude)

    def top_n_dense(self, user_rows, n: int = 10, exclude: sp.spmatrix | None = None) -> np.ndarray:
        """Reference for :meth:`top_n` through dense scores and ``ranking.top_k`` (slow; for tests)."""
        scores = mask_items(self.score(user_rows), exclude)
        return top_k(scores, n, tie_break=self.tie_break_)[0]

    def recommend(self, users, n: int = 10, exclude_seen: bool = True) -> np.ndarray:
        """The ``n`` best items for each user, as ORIGINAL item ids (len(users), n), best first.

        ``users`` are original user ids (a DataError names the first unknown one). With
        ``exclude_seen`` the items a user interacted with in training are never recommended.
        Work is done in batches of ``batch_size`` users so memory stays bounded.
        """
        self._check_fitted()
        inter = self.interactions_
        rows = inter.user_index(users)
        out = np.empty((len(rows), n), dtype=np.int64)
        for start in range(0, len(rows), self.batch_size):
            b = rows[start:start + self.batch_size]
            out[start:start + len(b)] = self.top_n(b, n, inter.matrix[b] if exclude_seen else None)
        if (out < 0).any():  # only when the catalogue is smaller than n plus the seen items
            ids = inter.item_ids.astype(object)[np.maximum(out, 0)]
            ids[out < 0] = None
            return ids
        return inter.item_ids[out]


class Popularity(_Recommender):
    """Recommend the items most users interacted with (the baseline every model must beat)."""

    def __init__(self, batch_size: int = 4096):
        self.batch_size = batch_size

    def fit(self, interactions: Interactions) -> "Popularity":
        self._set_train(interactions)
        return self

    def _sparse_scores(self, user_rows):
        return sp.csr_matrix((len(user_rows), self.interactions_.n_items), dtype=np.float64)

    def score(self, user_rows) -> np.ndarray:
        self._check_fitted()
        return np.tile(self.popularity_, (len(np.asarray(user_rows)), 1))

    def top_n(self, user_rows, n=10, exclude=None):
        self._check_fitted()
        lists = np.full((len(np.asarray(user_rows)), n), -1, dtype=np.int64)
        return fill_by_order(lists, self.popularity_order_, exclude)


class UserKNN(_Recommender):
    """User-based k-nearest-neighbour CF on a sparse user x item matrix.

    score(u, i) = sum over u's ``k`` most similar users v of sim(u, v) * x[v, i]
    (similarity-weighted votes, the aggregation the seed meant to do). Neighbours are found for
    every user at ``fit`` time in sparse batches.

    Parameters
    ----------
    k : number of neighbours per user.
    similarity : ``"cosine"`` (the only one for now).
    scaling : how counts are rescaled before similarities and votes: None, ``"log"``,
        ``"minmax"`` or ``"binary"`` (see :func:`coursekit.interactions.scale_counts`).
    shrink : cosine shrinkage (0 = plain cosine).
    batch_size : users per batch when fitting and recommending.

    Attributes after fit: ``neighbours_`` CSR float32 (n_users, n_users), row u = similarities of
    u's neighbours; ``matrix_`` the scaled CSR matrix; ``popularity_``, ``tie_break_``.
    """

    def __init__(self, k: int = 100, similarity: str = "cosine", scaling: str | None = None,
                 shrink: float = 0.0, batch_size: int = 4096):
        self.k = k
        self.similarity = similarity
        self.scaling = scaling
        self.shrink = shrink
        self.batch_size = batch_size

    def fit(self, interactions: Interactions) -> "UserKNN":
        if self.similarity != "cosine":
            raise ValueError(f"similarity must be 'cosine', got {self.similarity!r}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        self._set_train(interactions)
        self.matrix_ = scale_counts(interactions.matrix, self.scaling)
        self.neighbours_ = cosine_neighbours(self.matrix_, self.k, shrink=self.shrink,
                                             batch_size=self.batch_size)
        return self

    def _sparse_scores(self, user_rows):
        return sp.csr_matrix(self.neighbours_[user_rows] @ self.matrix_, dtype=np.float64)


class ItemKNN(_Recommender):
    """Item-based k-nearest-neighbour CF: score(u, j) = sum over u's items i of x[u, i] * sim_k(i, j).

    ``sim_k(i, .)`` keeps the ``k`` most cosine-similar items of item i (columns of the scaled
    matrix). Parameters and attributes as :class:`UserKNN`; ``neighbours_`` is (n_items, n_items).
    """

    def __init__(self, k: int = 100, similarity: str = "cosine", scaling: str | None = None,
                 shrink: float = 0.0, batch_size: int = 4096):
        self.k = k
        self.similarity = similarity
        self.scaling = scaling
        self.shrink = shrink
        self.batch_size = batch_size

    def fit(self, interactions: Interactions) -> "ItemKNN":
        if self.similarity != "cosine":
            raise ValueError(f"similarity must be 'cosine', got {self.similarity!r}")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        self._set_train(interactions)
        self.matrix_ = scale_counts(interactions.matrix, self.scaling)
        self.neighbours_ = cosine_neighbours(self.matrix_.T.tocsr(), self.k, shrink=self.shrink,
                                             batch_size=self.batch_size, tie_break=self.tie_break_)
        return self

    def _sparse_scores(self, user_rows):
        return sp.csr_matrix(self.matrix_[user_rows] @ self.neighbours_, dtype=np.float64)
