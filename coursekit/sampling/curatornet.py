"""The six CuratorNet sampling strategies as the paper's authors drew them, vectorised.

Paper: Messina et al., arXiv 2009.04426 (ComplexRec workshop at RecSys 2020). The authors' own
sampler is in their repository (github.com/ialab-puc/CuratorNet, ``experiments/training.ipynb``
with ``VisualSimilarityHandler`` from ``src/utils.py``); it fixes what the paper's prose leaves out,
and this module follows it rule by rule.

A training sample is a triple (profile, positive item, negative item): given the profile, the
model should score the positive above the negative. Samples are integer arrays (:class:`Triples`);
profiles are rows of a CSR table shared by the samples that use them.

Strategies, numbered and named as in the seed notebook and the paper (the authors' notebook
numbers them 6, 5, 3, 1, 2, 4):

1. ``sample_hidden_item`` - predicting the missing item of a purchase basket: hide one item of a
   basket of 2+ items. Profile: the authors' rule, every purchase of the user up to and including
   that basket except the hidden item (``profile="basket"``: the seed's rule, the rest of that
   basket only). Negative: by an artist and in a visual cluster the user never bought.
2. ``sample_next_basket`` - predicting the next purchase basket: profile = all earlier baskets of
   the user, positive from the next basket (not already in the profile), negative as in 1.
3. ``sample_liked_artist_cluster`` - visually similar artworks from favourite artists: profile =
   the user's training items; positive outside it by a liked artist and in a liked cluster
   (drawn as the authors do: a liked artist, then one of the artist's works, redrawn until it is
   in a liked cluster and outside the profile); negative as in 1.
4. ``sample_profile_items`` - profile items from the same user profile: positive one of the
   user's own items, negative a **fine-grained** item outside the profile (below).
5. ``sample_artificial_profile`` - an artificially created profile: the single item ``i`` itself
   (profile ``(i,)``, positive ``i``), negative a fine-grained item other than ``i``.
6. ``sample_same_artist`` - artificial profile with a single item q: positive another work by q's
   artist; negative a fine-grained item (anchored at q) by another artist that passes the
   authors' ``validate_triple(q, p, n, margin=0.1)`` (:func:`validate_triple`).

Rules of the authors' code that the paper does not spell out:

* **Fine-grained negatives** (strategies 4, 5, 6): with probability ``fine_grained`` (the
  authors' ``FINE_GRAINED_THRESHOLD = 0.6``) a uniform member of the anchor's own visual cluster
  (the positive's; for 6 the query's), else a uniform member of a uniformly chosen cluster;
  redrawn until it obeys the strategy's rules.
* **Negatives of 1, 2, 3**: a uniformly chosen cluster the user never bought from, then a uniform
  member of it, redrawn while it is by an artist the user bought from.
* **No visually identical pairs**: a positive and a negative in one cluster with cosine
  similarity 1 (within :data:`IDENTICAL_TOL`) are the same picture uploaded twice; such a negative
  is redrawn.
* **No duplicate triples**: every triple is hashed (:func:`triple_keys`); a duplicate is dropped
  and drawn again, so ``n`` samples are ``n`` distinct triples.
* **Equal shares**: :func:`sample_all` draws the same number of triples of each strategy.

Each strategy has a sanity check (:func:`check_triples`) that verifies its rules on every sample,
vectorised, and raises :class:`SamplingError` naming the broken rule and a sample. Loops run over
rejection rounds (a handful) and strategies, never over samples.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..inventory import Baskets, UserSplit

STRATEGIES = {
    1: "missing item of a basket",
    2: "next basket",
    3: "liked artist and cluster",
    4: "profile items",
    5: "artificial profile",
    6: "same artist, one-item profile",
}
FINE_GRAINED = 0.6
"""The authors' FINE_GRAINED_THRESHOLD: the share of negatives of strategies 4-6 drawn from the
anchor's own visual cluster."""
MARGIN = 0.1
"""The authors' VISUAL_CONFIDENCE_THRESHOLD: the cosine margin of :func:`validate_triple`."""
IDENTICAL_TOL = 1e-6
"""Two artworks of one cluster whose cosine similarity is within this of 1 are visually identical
(the authors use 1e-7 on float64 vectors; the kit's float32 features round at about 1e-7)."""


class SamplingError(AssertionError):
    """A sample breaks the rules of its strategy."""


@dataclass
class Triples:
    """Training triples as integer arrays, all of length n.

    strategy int8; user int64 (-1 for fake profiles); basket int64 (index into the training
    baskets, -1 where no basket is involved); profile int64 (row of the profile table);
    pos, neg int64 items. ``profile_indptr`` / ``profile_items`` (int64) are the CSR profile
    table: the items of profile row ``r`` are ``profile_items[profile_indptr[r]:profile_indptr[r+1]]``.
    """

    strategy: np.ndarray
    user: np.ndarray
    basket: np.ndarray
    profile: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    profile_indptr: np.ndarray
    profile_items: np.ndarray
    n_items: int = field(default=0)

    def __len__(self) -> int:
        return len(self.pos)

    def table(self) -> sp.csr_matrix:
        """The profile table as a bool CSR (n_profiles, n_items)."""
        n_rows = len(self.profile_indptr) - 1
        return sp.csr_matrix((np.ones(len(self.profile_items), bool), self.profile_items, self.profile_indptr),
                             shape=(n_rows, self.n_items))

    def subset(self, idx) -> "Triples":
        idx = np.asarray(idx)
        return Triples(self.strategy[idx], self.user[idx], self.basket[idx], self.profile[idx], self.pos[idx],
                       self.neg[idx], self.profile_indptr, self.profile_items, self.n_items)

    def with_negatives(self, neg: np.ndarray) -> "Triples":
        return Triples(self.strategy, self.user, self.basket, self.profile, self.pos, np.asarray(neg, np.int64),
                       self.profile_indptr, self.profile_items, self.n_items)

    def compact(self) -> "Triples":
        """The same triples with a profile table of only the rows they use (renumbered)."""
        rows, profile = np.unique(self.profile, return_inverse=True)
        flat, segment = gather_profiles(self.profile_indptr, self.profile_items, rows)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(segment, minlength=len(rows)))]).astype(np.int64)
        return Triples(self.strategy, self.user, self.basket, profile.astype(np.int64), self.pos, self.neg, indptr,
                       flat, self.n_items)

    def to_catalogue(self, index: np.ndarray, n_items: int) -> "Triples":
        """Triples drawn on a sub-catalogue, with items renamed to ``index[item]`` of a catalogue of
        ``n_items`` (for example: sampled among the artworks known at training time, then used with
        the features of every artwork). Users and baskets keep their numbers."""
        index = np.asarray(index, np.int64)
        items = index[self.profile_items]
        # keep every profile row sorted (index is increasing, so it already is)
        return Triples(self.strategy, self.user, self.basket, self.profile, index[self.pos], index[self.neg],
                       self.profile_indptr, items, int(n_items))


def gather_profiles(indptr: np.ndarray, items: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The items of profile ``rows`` as one flat array and the position of the row of each item.

    Returns ``(flat_items int64 (total,), segment int64 (total,))``, vectorised.
    """
    rows = np.asarray(rows, np.int64)
    start = indptr[rows]
    lengths = indptr[rows + 1] - start
    segment = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.asarray(items, np.int64)[np.repeat(start, lengths) + offsets], segment


def concat_triples(parts: list[Triples]) -> Triples:
    """One :class:`Triples` from several (profile tables are stacked, rows re-indexed)."""
    offsets = np.cumsum([0] + [len(p.profile_indptr) - 1 for p in parts])
    item_offsets = np.cumsum([0] + [len(p.profile_items) for p in parts])
    indptr = np.concatenate([[0]] + [p.profile_indptr[1:] + o for p, o in zip(parts, item_offsets)])
    return Triples(
        strategy=np.concatenate([p.strategy for p in parts]),
        user=np.concatenate([p.user for p in parts]),
        basket=np.concatenate([p.basket for p in parts]),
        profile=np.concatenate([p.profile + o for p, o in zip(parts, offsets)]),
        pos=np.concatenate([p.pos for p in parts]),
        neg=np.concatenate([p.neg for p in parts]),
        profile_indptr=indptr.astype(np.int64),
        profile_items=np.concatenate([p.profile_items for p in parts]).astype(np.int64),
        n_items=parts[0].n_items,
    )


def split_triples(triples: Triples, valid_share: float = 0.05, seed: int = 0) -> tuple[Triples, Triples]:
    """Random (train, valid) split of the samples (the profile table is shared)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(triples))
    n_valid = int(round(valid_share * len(triples)))
    return triples.subset(np.sort(perm[n_valid:])), triples.subset(np.sort(perm[:n_valid]))


# --------------------------------------------------------------------------- hashing triples

_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix64(x) -> np.ndarray:
    """SplitMix64's finaliser, element-wise on uint64 (wrapping arithmetic)."""
    x = np.asarray(x).astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def profile_hashes(indptr: np.ndarray, items: np.ndarray) -> np.ndarray:
    """uint64 (n_rows,): a hash of the *set* of items of each CSR row (order does not matter)."""
    cs = np.concatenate([np.zeros(1, np.uint64), np.cumsum(_mix64(np.asarray(items, np.int64) + 1), dtype=np.uint64)])
    indptr = np.asarray(indptr, np.int64)
    return _mix64(cs[indptr[1:]] - cs[indptr[:-1]] + _mix64(np.diff(indptr)))


def triple_keys(triples: Triples) -> np.ndarray:
    """uint64 (n,): one hash per triple of its profile's items, positive and negative (the
    authors hash the same three things with a polynomial hash; 64 bits make a collision among 10
    million triples about a one-in-300,000 event)."""
    ph = profile_hashes(triples.profile_indptr, triples.profile_items)[triples.profile]
    return _mix64(_mix64(ph ^ _mix64(triples.pos)) ^ triples.neg.astype(np.uint64))


def repeated(keys: np.ndarray) -> np.ndarray:
    """bool (n,): the entries whose key occurred earlier in the array (the first one stays)."""
    keys = np.asarray(keys)
    if len(keys) < 2:
        return np.zeros(len(keys), bool)
    order = np.argsort(keys)  # not a stable sort (5x faster): the first of each run is found below
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    out = np.ones(len(keys), bool)
    if len(starts) == len(keys):  # the usual case: no duplicate at all
        out[:] = False
        return out
    out[np.minimum.reduceat(order, starts)] = False  # the earliest entry of each key stays
    return out
    values = np.unique(ordered[1:][twice])  # the few keys that occur more than once
    cand = np.flatnonzero(values[np.minimum(np.searchsorted(values, keys), len(values) - 1)] == keys)
    _, first = np.unique(keys[cand], return_index=True)  # a stable sort of those entries only
    out[cand] = True
    out[cand[first]] = False
    return out


# --------------------------------------------------------------------------- context and helpers

def _onehot(labels: np.ndarray, n_labels: int) -> sp.csr_matrix:
    """bool CSR (n_labels, n_items): the items of each label."""
    n = len(labels)
    return sp.csr_matrix((np.ones(n, bool), (labels, np.arange(n))), shape=(n_labels, n))


def _sorted_csr(m) -> sp.csr_matrix:
    m = sp.csr_matrix(m, dtype=bool)
    m.eliminate_zeros()
    m.sum_duplicates()
    m.sort_indices()
    return m


@dataclass
class SamplingContext:
    """Everything the strategies need, as arrays and sparse matrices.

    artist, cluster : int64 (n_items,); features : float32 (n_items, d) visual features whose
    cosine similarities strategy 6 and the identical-picture rule use (the PCA-reduced
    embeddings, as in the authors' code); train : the training baskets; profile, liked_artists,
    liked_clusters : bool CSR per user (see :class:`coursekit.inventory.UserSplit`). ``blocked``
    bool CSR (n_users, n_items) is derived: the items whose artist or cluster the user bought from
    (never a negative in strategies 1, 2, 3).
    """

    artist: np.ndarray
    cluster: np.ndarray
    features: np.ndarray
    train: Baskets
    profile: sp.csr_matrix
    liked_artists: sp.csr_matrix
    liked_clusters: sp.csr_matrix
    blocked: sp.csr_matrix = field(init=False, repr=False)

    def __post_init__(self):
        n_items = len(self.artist)
        a = _onehot(self.artist, int(self.artist.max()) + 1).astype(np.int32)
        c = _onehot(self.cluster, int(self.cluster.max()) + 1).astype(np.int32)
        self._artist_items = _sorted_csr(a)
        self._cluster_items = _sorted_csr(c)
        by_artist = self.liked_artists.astype(np.int32) @ a
        by_cluster = self.liked_clusters.astype(np.int32) @ c
        self.blocked = _sorted_csr(by_artist + by_cluster)
        self._liked_both = _sorted_csr(by_artist.multiply(by_cluster))
        assert self.blocked.shape[1] == n_items
        sizes = np.diff(self._cluster_items.indptr)
        self._nonempty_clusters = np.flatnonzero(sizes > 0)
        # clusters no negative of strategies 1-3 may come from: the user's, and empty ones
        empty = np.flatnonzero(sizes == 0)
        closed = self.liked_clusters.astype(np.int32)
        if len(empty):
            closed = closed + sp.csr_matrix((np.ones(self.n_users * len(empty), np.int32),
                                             (np.repeat(np.arange(self.n_users), len(empty)),
                                              np.tile(empty, self.n_users))), shape=closed.shape)
        self._closed_clusters = _sorted_csr(closed)
        f = np.asarray(self.features, np.float32)
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        self._unit = f / np.where(norms == 0, 1, norms)

    @classmethod
    def from_split(cls, split: UserSplit, artist, cluster, features) -> "SamplingContext":
        """The context of a :class:`coursekit.inventory.UserSplit` (its training side only)."""
        return cls(np.asarray(artist, np.int64), np.asarray(cluster, np.int64), np.asarray(features, np.float32),
                   split.train, _sorted_csr(split.profile), _sorted_csr(split.liked_artists),
                   _sorted_csr(split.liked_clusters))

    @property
    def n_items(self) -> int:
        return len(self.artist)

    @property
    def n_users(self) -> int:
        return self.profile.shape[0]

    def cosine(self, a, b, chunk: int = 4096) -> np.ndarray:
        """float32 (n,): cosine similarity of the features of items ``a[j]`` and ``b[j]``."""
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        out = np.empty(len(a), np.float32)
        for s in range(0, len(a), chunk):  # cache-sized chunks of rows, not a loop over samples
            out[s:s + chunk] = np.einsum("ij,ij->i", self._unit[a[s:s + chunk]], self._unit[b[s:s + chunk]])
        return out

    def similarity(self, a, b) -> np.ndarray:
        """float32 (n,): cosine similarity of items ``a[j]`` and ``b[j]``, read from the Gram
        matrix of their artist or, failing that, of their cluster when they share one (built once:
        strategy 6 compares works of one artist over and over), else computed (:meth:`cosine`).
        The sampler and :func:`check_triples` both use it, so they agree to the last bit."""
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        out = np.empty(len(a), np.float32)
        todo = np.ones(len(a), bool)
        for labels, gram in ((self.artist, self._artist_gram), (self.cluster, self._cluster_gram)):
            if gram is None:
                continue
            hit = np.flatnonzero(todo & (labels[a] == labels[b]))
            out[hit] = gram(labels[a[hit]], a[hit], b[hit])
            todo[hit] = False
        rest = np.flatnonzero(todo)
        out[rest] = self.cosine(a[rest], b[rest])
        return out

    @functools.cached_property
    def _artist_gram(self):
        return _group_gram(self._artist_items, self._unit)

    @functools.cached_property
    def _cluster_gram(self):
        return _group_gram(self._cluster_items, self._unit)

    def identical(self, a, b) -> np.ndarray:
        """bool (n,): items ``a[j]`` and ``b[j]`` look identical (one cluster, cosine within
        :data:`IDENTICAL_TOL` of 1): the authors' ``VisualSimilarityHandler.same``. A lookup in
        :attr:`twins` (its table of such pairs, built once)."""
        return member(self.twins, a, b)

    @functools.cached_property
    def twins(self) -> sp.csr_matrix:
        """bool CSR (n_items, n_items), sorted: the pairs of distinct items of one cluster whose
        cosine similarity is within :data:`IDENTICAL_TOL` of 1 (the same picture uploaded twice).
        Built cluster by cluster from each cluster's Gram matrix (a loop over clusters)."""
        rows, cols = [], []
        for c in self._nonempty_clusters:
            items = self._cluster_items.indices[self._cluster_items.indptr[c]:self._cluster_items.indptr[c + 1]]
            u = self._unit[items]
            i, j = np.nonzero(u @ u.T >= 1 - IDENTICAL_TOL)
            keep = i != j
            rows.append(items[i[keep]])
            cols.append(items[j[keep]])
        rows, cols = np.concatenate(rows + [np.empty(0, np.int64)]), np.concatenate(cols + [np.empty(0, np.int64)])
        return _sorted_csr(sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(self.n_items, self.n_items)))


    def hit(self, name: str):
        """The :func:`membership` test of the table ``name`` ("profile", "blocked", "liked_artists",
        "liked_clusters"), built once per context."""
        return self.cached(("hit", name), lambda: membership(getattr(self, name)))

    def cached(self, key, build):
        """``build()``, computed once per context and ``key`` (the tables a strategy draws from)."""
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = build()
        return cache[key]


def _group_gram(groups: sp.csr_matrix, unit: np.ndarray, *, max_entries: int = 50_000_000):
    """The cosine similarities of every pair of items within each group (a CSR of groups x items,
    sorted) as one flat float32 array, and a lookup ``gram(group, a, b)``; None when the groups are
    too large for ``max_entries`` similarities. Built with one matrix product per group."""
    sizes = np.diff(groups.indptr).astype(np.int64)
    if int((sizes**2).sum()) > max_entries:
        return None
    offsets = np.concatenate([[0], np.cumsum(sizes**2)])
    flat = np.empty(int(offsets[-1]), np.float32)
    rank = np.zeros(unit.shape[0], np.int64)
    rank[groups.indices] = np.arange(len(groups.indices)) - np.repeat(groups.indptr[:-1], sizes)
    for g in np.flatnonzero(sizes):  # a loop over groups, not samples
        u = unit[groups.indices[groups.indptr[g]:groups.indptr[g + 1]]]
        flat[offsets[g]:offsets[g + 1]] = (u @ u.T).ravel()
    return lambda g, a, b: flat[offsets[g] + rank[a] * sizes[g] + rank[b]]


def validate_triple(ctx: SamplingContext, q, p, n, margin: float = MARGIN, *, sim_qp=None) -> np.ndarray:
    """The authors' ``VisualSimilarityHandler.validate_triple``, vectorised: bool (n,).

    A positive ``p`` in the query's cluster and a negative outside it: accept. The negative in
    the query's cluster and the positive outside it: reject. Otherwise accept when
    ``cos(q, p) > cos(q, n) + margin`` in the features' space (``sim_qp``: cos(q, p) when known;
    :meth:`SamplingContext.similarity`). Cosines are read only where the cluster rule does not decide.
    """
    q, p, n = (np.asarray(x, np.int64) for x in (q, p, n))
    cq, cp, cn = ctx.cluster[q], ctx.cluster[p], ctx.cluster[n]
    out = (cq == cp) & (cq != cn)
    undecided = np.flatnonzero(~out & ~((cq == cn) & (cq != cp)))
    sim = ctx.similarity(q[undecided], p[undecided]) if sim_qp is None else np.asarray(sim_qp)[undecided]
    out[undecided] = sim > ctx.similarity(q[undecided], n[undecided]) + np.float32(margin)
    return out


def member(m: sp.csr_matrix, rows, cols) -> np.ndarray:
    """bool (n,): whether ``m[rows[j], cols[j]]`` is stored, for a CSR with sorted indices."""
    rows = np.asarray(rows, np.int64)
    cols = np.asarray(cols, np.int64)
    n_cols = m.shape[1]
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * n_cols + m.indices
    q = rows * n_cols + cols
    if len(keys) == 0:
        return np.zeros(len(q), bool)
    pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
    return keys[pos] == q


def _pick_in_rows(m: sp.csr_matrix, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random stored column of each given row (rows must be non-empty)."""
    start = m.indptr[rows]
    length = m.indptr[rows + 1] - start
    return m.indices[start + (rng.random(len(rows)) * length).astype(np.int64)].astype(np.int64)


def row_bits(m: sp.csr_matrix) -> np.ndarray:
    """The stored entries of a sorted CSR as a packed bit table, uint8 (n_rows, ceil(n_cols / 8)):
    a membership test is then one byte read (UGallery's blocked table: 4.6 MiB)."""
    n_rows, n_cols = m.shape
    n_bytes = -(-n_cols // 8)
    cols = m.indices.astype(np.int64)
    keys = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(m.indptr)) * n_bytes + (cols >> 3)
    bits = np.zeros(n_rows * n_bytes, np.uint8)
    if len(keys):
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])  # keys are sorted
        bits[keys[starts]] = np.bitwise_or.reduceat((1 << (7 - (cols & 7))).astype(np.uint8), starts)
    return bits.reshape(n_rows, n_bytes)


def _in_bits(bits: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return (bits[rows, cols >> 3] >> (7 - (cols & 7)).astype(np.uint8)) & 1 == 1


def membership(m: sp.csr_matrix, *, max_table_bytes: int = 64 * 2**20):
    """A function ``hit(rows, cols) -> bool (n,)`` telling whether ``m[rows[j], cols[j]]`` is
    stored: one byte read in a packed bit table (:func:`row_bits`), or a binary search
    (:func:`member`) when that table would exceed ``max_table_bytes``."""
    if m.shape[0] * (-(-m.shape[1] // 8)) <= max_table_bytes:
        bits = row_bits(m)
        return lambda r, c: _in_bits(bits, np.asarray(r, np.int64), np.asarray(c, np.int64))
    return lambda r, c: member(m, r, c)


def _pick_outside_rows(m: sp.csr_matrix, rows: np.ndarray, rng: np.random.Generator, *,
                       rounds: int = 16, max_table_bytes: int = 64 * 2**20, hit=None) -> np.ndarray:
    """One uniformly random column *not* stored in each given row (rows must not be full).

    Vectorised rejection: each round redraws only the samples that hit a stored column, so a row
    that is 1 % full costs about 1.01 draws per sample (membership by :func:`membership`).
    Samples still pending after ``rounds`` rounds (rows that are nearly full) are drawn exactly
    by :func:`_pick_outside_rows_exact`. Uniform over the free columns either way. ``hit``: the
    membership test of ``m`` when already built.
    """
    rows = np.asarray(rows, np.int64)
    hit = hit or membership(m, max_table_bytes=max_table_bytes)
    out = rng.integers(0, m.shape[1], len(rows))
    todo = np.flatnonzero(hit(rows, out))
    for _ in range(rounds):
        if len(todo) == 0:
            return out
        out[todo] = rng.integers(0, m.shape[1], len(todo))
        todo = todo[hit(rows[todo], out[todo])]
    if len(todo):
        out[todo] = _pick_outside_rows_exact(m, rows[todo], rng)
    return out


def _pick_outside_rows_exact(m: sp.csr_matrix, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random column *not* stored in each given row, exactly (no rejection).

    The r-th free column of a row is r + (number of stored columns b_j with b_j - j <= r).
    """
    n_cols = m.shape[1]
    lengths = np.diff(m.indptr)
    local = np.arange(len(m.indices)) - np.repeat(m.indptr[:-1], lengths)
    adjusted = m.indices.astype(np.int64) - local  # non-decreasing within each row
    stride = n_cols + 1
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), lengths) * stride + adjusted
    free = n_cols - lengths[rows]
    r = (rng.random(len(rows)) * free).astype(np.int64)
    k = np.searchsorted(keys, rows * stride + r, side="right") - m.indptr[rows]
    return r + k


def _pick_weighted_in_rows(m: sp.csr_matrix, weights: np.ndarray, rows: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """One stored column of each given row (non-empty), drawn with probability proportional to
    ``weights`` (float, one per stored entry of ``m``): inverse CDF on the running sum."""
    cum = np.cumsum(np.asarray(weights, np.float64))
    before = np.concatenate([[0.0], cum])
    lo, hi = before[m.indptr[rows]], before[m.indptr[rows + 1]]
    k = np.searchsorted(cum, lo + rng.random(len(rows)) * (hi - lo), side="right")
    return m.indices[np.clip(k, m.indptr[rows], m.indptr[rows + 1] - 1)].astype(np.int64)


def _pick_group(group_ptr: np.ndarray, groups: np.ndarray, rng) -> np.ndarray:
    """One uniformly random member index of each group (CSR-like ``group_ptr``)."""
    start = group_ptr[groups]
    return start + (rng.random(len(groups)) * (group_ptr[groups + 1] - start)).astype(np.int64)


def _rejection(draw, accept, n: int, *, rounds: int, what: str, fallback=None) -> np.ndarray:
    """Vectorised rejection sampling: ``draw(idx)`` proposes one item for each pending sample,
    ``accept(idx, items)`` says which proposals obey the rules; only the rejected ones are drawn
    again. Samples still pending after ``rounds`` rounds get ``fallback(idx)`` (an exact draw
    that obeys the rules) or raise :class:`SamplingError`."""
    out = np.full(n, -1, np.int64)
    todo = np.arange(n)
    for _ in range(rounds):
        if len(todo) == 0:
            return out
        proposal = draw(todo)
        ok = accept(todo, proposal)
        out[todo[ok]] = proposal[ok]
        todo = todo[~ok]
    if len(todo):
        if fallback is not None:
            out[todo] = fallback(todo)
            todo = todo[~accept(todo, out[todo])]
        if len(todo):
            raise SamplingError(f"{what}: {len(todo)} samples found no allowed item in {rounds} rounds")
    return out


def cluster_negatives(ctx: SamplingContext, anchor: np.ndarray, rng: np.random.Generator,
                      fine_grained: float = FINE_GRAINED) -> np.ndarray:
    """One proposal per anchor item, as the authors draw fine-grained negatives: with probability
    ``fine_grained`` a uniform member of the anchor's own cluster, else a uniform member of a
    uniformly chosen (non-empty) cluster."""
    anchor = np.asarray(anchor, np.int64)
    n = len(anchor)
    fine = rng.random(n) < fine_grained
    other = ctx._nonempty_clusters[rng.integers(0, len(ctx._nonempty_clusters), n)]
    return _pick_in_rows(ctx._cluster_items, np.where(fine, ctx.cluster[anchor], other), rng)


def _taste_negatives(ctx: SamplingContext, users: np.ndarray, rng: np.random.Generator, *, strategy: int,
                     rounds: int = 64) -> np.ndarray:
    """Negatives of strategies 1-3 as the authors draw them: a uniformly chosen cluster the user
    never bought from, a uniform member of it, redrawn while it is by an artist the user bought
    from (users must have an allowed item: a free column of ``ctx.blocked``)."""
    liked_artist, closed = ctx.hit("liked_artists"), ctx.hit("_closed_clusters")

    def draw(idx):
        clusters = _pick_outside_rows(ctx._closed_clusters, users[idx], rng, hit=closed)
        return _pick_in_rows(ctx._cluster_items, clusters, rng)

    def fallback(idx):
        return _pick_outside_rows(ctx.blocked, users[idx], rng, hit=ctx.hit("blocked"))

    return _rejection(draw, lambda idx, c: ~liked_artist(users[idx], ctx.artist[c]), len(users), rounds=rounds,
                      what=f"strategy {strategy}", fallback=fallback)


def _triples(strategy, user, basket, profile, pos, neg, table: sp.csr_matrix) -> Triples:
    n = len(pos)
    full = lambda x: np.full(n, -1, np.int64) if x is None else np.asarray(x, np.int64)  # noqa: E731
    return Triples(np.full(n, strategy, np.int8), full(user), full(basket), np.asarray(profile, np.int64),
                   np.asarray(pos, np.int64), np.asarray(neg, np.int64), table.indptr.astype(np.int64),
                   table.indices.astype(np.int64), table.shape[1])


def _identity_table(n_items: int) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(n_items, bool), np.arange(n_items), np.arange(n_items + 1)), shape=(n_items, n_items))


def _earlier_baskets(train: Baskets, targets: np.ndarray) -> sp.csr_matrix:
    """bool CSR (len(targets), n_items): items of the same user's baskets before each target basket."""
    start = train.user_ptr[train.user[targets]]
    counts = targets - start
    rows = np.repeat(np.arange(len(targets)), counts)
    cols = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(start, counts)
    m = sp.csr_matrix((np.ones(len(rows), np.int32), (rows, cols)), shape=(len(targets), train.n_baskets))
    return _sorted_csr(m @ train.matrix().astype(np.int32))


# --------------------------------------------------------------------------- distinct triples

def _distinct(strategy: int):
    """Make a raw sampler ``raw(ctx, n, rng, **options)`` return ``n`` *distinct* triples: the
    duplicates (by :func:`triple_keys`; the first stays) are dropped and drawn again from the same
    random stream, as the authors' sampler skips a triple whose hash it has seen."""
    def wrap(raw):
        @functools.wraps(raw)
        def sampler(ctx: SamplingContext, n: int, seed: int = 0, **options) -> Triples:
            rng = np.random.default_rng(seed)
            return _top_up(raw(ctx, n, rng, **options), lambda m: raw(ctx, m, rng, **options), n,
                           f"strategy {strategy} ({STRATEGIES[strategy]})")
        return sampler
    return wrap


def _top_up(triples: Triples, more, n: int, what: str, *, rounds: int = 20) -> Triples:
    """``n`` distinct triples: the first ``n`` distinct ones of ``triples`` and of further
    ``more(m)`` draws while duplicates are missing."""
    dup = repeated(triple_keys(triples))
    if not dup.any():
        return triples
    for _ in range(rounds):
        missing = n - int((~dup).sum())
        if missing <= 0:
            return triples.subset(np.flatnonzero(~dup)[:n]).compact()
        triples = concat_triples([triples.subset(np.flatnonzero(~dup)), more(missing + missing // 4 + 16)])
        dup = repeated(triple_keys(triples))
    missing = n - int((~dup).sum())
    if missing > 0:
        raise SamplingError(f"{what}: only {n - missing:,} distinct triples after {rounds} rounds of redraws; "
                            f"ask for fewer than {n:,}")
    return triples.subset(np.flatnonzero(~dup)[:n]).compact()


# --------------------------------------------------------------------------- the six strategies

def _user_groups(user_of: np.ndarray, n_users: int):
    """For entries sorted by user: the users that have entries and a CSR-like pointer per user."""
    ptr = np.searchsorted(user_of, np.arange(n_users + 1)).astype(np.int64)
    return np.flatnonzero(np.diff(ptr) > 0), ptr


def _basket_minus_each_item(train: Baskets, baskets: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """For every entry of the given baskets (sorted indices): the rest of its basket.

    Returns ``(table, entries)``: bool CSR (n_entries, n_items) whose row r holds the items of the
    basket of ``entries[r]`` except ``items[entries[r]]``; ``entries`` int64 sorted.
    """
    sizes = train.sizes[baskets]
    entries = np.repeat(train.indptr[baskets], sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    row_size = np.repeat(sizes, sizes)  # each entry's row spans its whole basket ...
    start = np.repeat(np.repeat(train.indptr[baskets], sizes), row_size)
    offset = np.arange(row_size.sum()) - np.repeat(np.cumsum(row_size) - row_size, row_size)
    col_entry = start + offset
    row = np.repeat(np.arange(len(entries)), row_size)
    keep = col_entry != entries[row]  # ... except the entry itself
    table = sp.csr_matrix((np.ones(int(keep.sum()), bool), (row[keep], train.items[col_entry[keep]])),
                          shape=(len(entries), train.n_items))
    return _sorted_csr(table), entries


def _hidden_item_tables(ctx: SamplingContext, profile: str):
    t = ctx.train
    free = ctx.n_items - np.diff(ctx.blocked.indptr)
    big = np.flatnonzero((t.sizes >= 2) & (free[t.user] > 0))
    table, entries = _basket_minus_each_item(t, big)
    if profile == "authors":
        earlier = _earlier_baskets(t, t.basket_of_entry()[entries])
        table = _sorted_csr(table.astype(np.int32) + earlier.astype(np.int32))
    return (big, table, entries) + _user_groups(t.user[big], ctx.n_users)


@_distinct(1)
def sample_hidden_item(ctx: SamplingContext, n: int, rng: np.random.Generator, *, profile: str = "authors") -> Triples:
    """Strategy 1: hide one item h of a basket of 2+ items; negative by an artist and in a cluster
    the user never bought. ``profile="authors"``: every item of the user's baskets up to and
    including that one except h (the authors' code); ``"basket"``: the rest of THAT basket only
    (the seed). Users, then one of their baskets of 2+ items, then the hidden item are drawn
    uniformly, as in both."""
    if profile not in ("authors", "basket"):
        raise ValueError(f"profile must be 'authors' or 'basket', got {profile!r}")
    t = ctx.train
    big, table, entries, users_with, ptr = ctx.cached(("strategy 1", profile),
                                                      lambda: _hidden_item_tables(ctx, profile))
    users = users_with[rng.integers(0, len(users_with), n)]
    basket = big[_pick_group(ptr, users, rng)]
    entry = t.indptr[basket] + (rng.random(n) * t.sizes[basket]).astype(np.int64)
    rows = np.searchsorted(entries, entry)
    neg = _taste_negatives(ctx, users, rng, strategy=1)
    return _triples(1, users, basket, rows, t.items[entry], neg, table)


def _next_basket_tables(ctx: SamplingContext):
    t = ctx.train
    first = t.user_ptr[t.user]
    targets = np.flatnonzero(np.arange(t.n_baskets) > first)
    earlier = _earlier_baskets(t, targets)
    basket_rows = t.matrix()[targets].astype(np.int8)
    new_items = _sorted_csr(basket_rows - basket_rows.multiply(earlier).astype(np.int8))
    free = ctx.n_items - np.diff(ctx.blocked.indptr)
    rows_ok = np.flatnonzero((np.diff(new_items.indptr) > 0) & (free[t.user[targets]] > 0))
    return (targets, earlier, new_items, rows_ok) + _user_groups(t.user[targets[rows_ok]], ctx.n_users)


@_distinct(2)
def sample_next_basket(ctx: SamplingContext, n: int, rng: np.random.Generator) -> Triples:
    """Strategy 2: (items of the user's earlier baskets, an item of the next basket not among
    them, an item by an artist and in a cluster the user never bought)."""
    targets, earlier, new_items, rows_ok, users_with, ptr = ctx.cached("strategy 2", lambda: _next_basket_tables(ctx))
    users = users_with[rng.integers(0, len(users_with), n)]
    rows = rows_ok[_pick_group(ptr, users, rng)]
    pos = _pick_in_rows(new_items, rows, rng)
    neg = _taste_negatives(ctx, users, rng, strategy=2)
    return _triples(2, users, targets[rows], rows, pos, neg, earlier)


def _liked_artist_cluster_tables(ctx: SamplingContext):
    cand = _sorted_csr(ctx._liked_both.astype(np.int8) - ctx._liked_both.multiply(ctx.profile).astype(np.int8))
    free = ctx.n_items - np.diff(ctx.blocked.indptr)
    works = np.diff(ctx._artist_items.indptr)
    return cand, 1.0 / works[ctx.artist[cand.indices]], np.flatnonzero((np.diff(cand.indptr) > 0) & (free > 0))


@_distinct(3)
def sample_liked_artist_cluster(ctx: SamplingContext, n: int, rng: np.random.Generator) -> Triples:
    """Strategy 3: positive outside the profile by a liked artist and in a liked cluster; negative
    by an artist and in a cluster the user never bought.

    The authors draw the positive as a liked artist (uniformly), then one of the artist's works
    (uniformly), again until it lies in a liked cluster and outside the profile: an allowed
    artwork of artist a comes out with probability proportional to 1 / (number of works of a).
    The kit draws from that distribution directly (:func:`_pick_weighted_in_rows`).
    """
    cand, weights, valid = ctx.cached("strategy 3", lambda: _liked_artist_cluster_tables(ctx))
    users = valid[rng.integers(0, len(valid), n)]
    pos = _pick_weighted_in_rows(cand, weights, users, rng)
    neg = _taste_negatives(ctx, users, rng, strategy=3)
    return _triples(3, users, None, users, pos, neg, ctx.profile)


@_distinct(4)
def sample_profile_items(ctx: SamplingContext, n: int, rng: np.random.Generator, *,
                         fine_grained: float = FINE_GRAINED, rounds: int = 64) -> Triples:
    """Strategy 4: (profile of u, an item of the profile, a fine-grained negative outside the
    profile: from the positive's cluster with probability ``fine_grained``, else from a uniformly
    chosen cluster; never visually identical to the positive)."""
    sizes = np.diff(ctx.profile.indptr)
    valid = np.flatnonzero((sizes > 0) & (sizes < ctx.n_items))
    users = valid[rng.integers(0, len(valid), n)]
    pos = _pick_in_rows(ctx.profile, users, rng)
    in_profile = ctx.hit("profile")
    neg = _rejection(lambda idx: cluster_negatives(ctx, pos[idx], rng, fine_grained),
                     lambda idx, c: ~in_profile(users[idx], c) & ~ctx.identical(pos[idx], c), n, rounds=rounds,
                     what="strategy 4",
                     fallback=lambda idx: _pick_outside_rows(ctx.profile, users[idx], rng, hit=in_profile))
    return _triples(4, users, None, users, pos, neg, ctx.profile)


@_distinct(5)
def sample_artificial_profile(ctx: SamplingContext, n: int, rng: np.random.Generator, *,
                              fine_grained: float = FINE_GRAINED, rounds: int = 64) -> Triples:
    """Strategy 5: the authors' artificial profile, a single item i: (profile (i,), i, a
    fine-grained negative other than i, from i's cluster with probability ``fine_grained``)."""
    q = rng.integers(0, ctx.n_items, n)
    neg = _rejection(lambda idx: cluster_negatives(ctx, q[idx], rng, fine_grained),
                     lambda idx, c: (c != q[idx]) & ~ctx.identical(q[idx], c), n, rounds=rounds, what="strategy 5")
    return _triples(5, None, None, q, q, neg, _identity_table(ctx.n_items))


@_distinct(6)
def sample_same_artist(ctx: SamplingContext, n: int, rng: np.random.Generator, *, fine_grained: float = FINE_GRAINED,
                       margin: float = MARGIN, tries: int = 20, max_rounds: int = 600) -> Triples:
    """Strategy 6: (profile (q,), another item by q's artist, a fine-grained negative anchored at
    q, by another artist, accepted by :func:`validate_triple` with ``margin``).

    As in the authors' code a positive gets ``tries`` = 20 negative proposals before a new
    positive is drawn; after five positives the sample gets a new query too.
    """
    a = ctx._artist_items
    n_by_artist = np.diff(a.indptr)
    eligible = np.flatnonzero(n_by_artist[ctx.artist] >= 2)
    if len(eligible) == 0:
        raise SamplingError("strategy 6: no artist has two artworks")
    # rank of each item within its artist's (sorted) item list
    rank = np.empty(ctx.n_items, np.int64)
    rank[a.indices] = np.arange(len(a.indices)) - np.repeat(a.indptr[:-1], n_by_artist)

    def other_work(q):
        art = ctx.artist[q]
        r = (rng.random(len(q)) * (n_by_artist[art] - 1)).astype(np.int64)
        return a.indices[a.indptr[art] + r + (r >= rank[q])].astype(np.int64)

    q = eligible[rng.integers(0, len(eligible), n)]
    pos = other_work(q)
    sim_qp = ctx.similarity(q, pos)
    neg = np.full(n, -1, np.int64)
    pending = np.arange(n)
    for round_ in range(max_rounds):
        if round_ and round_ % (5 * tries) == 0:  # five positives failed: a new query
            q[pending] = eligible[rng.integers(0, len(eligible), len(pending))]
        if round_ and round_ % tries == 0:  # 20 proposals failed: a new positive
            pos[pending] = other_work(q[pending])
            sim_qp[pending] = ctx.similarity(q[pending], pos[pending])
        qq, pp = q[pending], pos[pending]
        cand = cluster_negatives(ctx, qq, rng, fine_grained)
        ok = ctx.artist[cand] != ctx.artist[qq]
        ok[ok] = validate_triple(ctx, qq[ok], pp[ok], cand[ok], margin, sim_qp=sim_qp[pending][ok])
        ok[ok] = ~ctx.identical(pp[ok], cand[ok])
        neg[pending[ok]] = cand[ok]
        pending = pending[~ok]
        if len(pending) == 0:
            break
    else:
        raise SamplingError(f"strategy 6: {len(pending)} samples found no negative in {max_rounds} rounds; "
                            "lower the margin")
    return _triples(6, None, None, q, pos, neg, _identity_table(ctx.n_items))


SAMPLERS = {1: sample_hidden_item, 2: sample_next_basket, 3: sample_liked_artist_cluster,
            4: sample_profile_items, 5: sample_artificial_profile, 6: sample_same_artist}


def _options(k: int, fine_grained: float, margin: float, strategy1_profile: str) -> dict:
    return {1: {"profile": strategy1_profile}, 4: {"fine_grained": fine_grained}, 5: {"fine_grained": fine_grained},
            6: {"fine_grained": fine_grained, "margin": margin}}.get(k, {})


def sample_all(ctx: SamplingContext, n_per_strategy: int, seed: int = 0, strategies=(1, 2, 3, 4, 5, 6), *,
               fine_grained: float = FINE_GRAINED, margin: float = MARGIN,
               strategy1_profile: str = "authors") -> Triples:
    """``n_per_strategy`` distinct samples of each strategy (equal shares), concatenated; no triple
    twice across strategies either (strategy k uses seed + k, its top-ups seed + k + 1000 r)."""
    opts = {k: _options(k, fine_grained, margin, strategy1_profile) for k in strategies}
    parts = [SAMPLERS[k](ctx, n_per_strategy, seed + k, **opts[k]) for k in strategies]
    out = concat_triples(parts)
    for r in range(1, 21):
        dup = repeated(triple_keys(out))
        if not dup.any():
            return out.compact() if r > 1 else out
        keep = out.subset(np.flatnonzero(~dup))
        extra = [SAMPLERS[k](ctx, int((out.strategy[dup] == k).sum()), seed + k + 1000 * r, **opts[k])
                 for k in strategies if (out.strategy[dup] == k).any()]
        out = concat_triples([keep] + extra)
        out = out.subset(np.argsort(out.strategy, kind="stable"))
    raise SamplingError("sample_all: triples of different strategies keep colliding; ask for fewer")


def random_negatives(ctx: SamplingContext, triples: Triples, seed: int = 0, *, rounds: int = 50) -> Triples:
    """The same profiles and positives with uniformly random negatives: any artwork outside the
    profile, other than the positive and not visually identical to it, no triple twice. The
    unguided baseline the guided strategies are compared with."""
    rng = np.random.default_rng(seed)
    table = _sorted_csr(triples.table())
    neg = np.empty(len(triples), np.int64)
    todo = np.arange(len(triples))
    for _ in range(rounds):
        neg[todo] = _pick_outside_rows(table, triples.profile[todo], rng)
        twice = repeated(triple_keys(triples.with_negatives(neg)))
        bad = (neg == triples.pos) | ctx.identical(triples.pos, neg) | twice
        todo = np.flatnonzero(bad)
        if len(todo) == 0:
            return triples.with_negatives(neg)
    raise SamplingError(f"random negatives: {len(todo)} samples found no allowed negative in {rounds} rounds")


# --------------------------------------------------------------------------- sanity checks

def _fail_if(bad: np.ndarray, strategy: int, rule: str) -> None:
    bad = np.asarray(bad, bool)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SamplingError(f"strategy {strategy} ({STRATEGIES[strategy]}): {int(bad.sum())} of {len(bad)} "
                            f"samples break the rule '{rule}' (first: sample {first})")


def _rows_equal(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
    """bool (n_rows,): whether row i of a equals row i of b (bool matrices of one shape)."""
    diff = (a.astype(np.int8) - b.astype(np.int8)).tocsr()
    diff.eliminate_zeros()
    return np.diff(diff.indptr) == 0


def check_triples(triples: Triples, ctx: SamplingContext, *, margin: float = MARGIN,
                  strategy1_profile: str = "authors", distinct: bool = True) -> int:
    """Verify every sample against the rules of its strategy; raise :class:`SamplingError`.

    Every strategy: the positive and the negative differ and are not visually identical, and
    (``distinct``) no triple occurs twice. Then each strategy's own rules (strategy 1's profile
    by ``strategy1_profile``, strategy 6's ``margin``). Returns the number of samples checked. The
    expected profiles are rebuilt from the baskets (by purchase time, not the sampler's basket
    order), so a sampler bug does not hide itself.
    """
    tr = triples
    n = len(tr)
    for name in ("strategy", "user", "basket", "profile", "pos", "neg"):
        if len(getattr(tr, name)) != n:
            raise SamplingError(f"field {name!r} has {len(getattr(tr, name))} entries, expected {n}")
    for name in ("pos", "neg"):
        x = getattr(tr, name)
        if n and (x.min() < 0 or x.max() >= ctx.n_items):
            raise SamplingError(f"{name} items out of range 0..{ctx.n_items - 1}")
    if n and (tr.profile.min() < 0 or tr.profile.max() >= len(tr.profile_indptr) - 1):
        raise SamplingError("profile rows out of range of the profile table")
    unknown = ~np.isin(tr.strategy, list(STRATEGIES))
    if unknown.any():
        raise SamplingError(f"unknown strategy code {int(tr.strategy[unknown][0])}")
    table = _sorted_csr(tr.table())
    size = np.diff(table.indptr)
    dup = repeated(triple_keys(tr)) if distinct else np.zeros(n, bool)
    same = ctx.identical(tr.pos, tr.neg)
    for k in np.unique(tr.strategy):
        k = int(k)
        idx = np.flatnonzero(tr.strategy == k)
        _fail_if(tr.pos[idx] == tr.neg[idx], k, "positive and negative differ")
        _fail_if(same[idx], k, "no visually identical positive and negative")
        _fail_if(dup[idx], k, "no duplicate triple (by hash)")
        if k == 1:
            _check_1(tr, idx, table, size, ctx, strategy1_profile)
        elif k == 6:
            _check_6(tr, idx, table, size, ctx, margin)
        else:
            _CHECKS[k](tr, idx, table, size, ctx)
    return n


def _check_real_user(k, tr, idx, ctx):
    u = tr.user[idx]
    _fail_if((u < 0) | (u >= ctx.n_users), k, "a real user")
    return np.clip(u, 0, ctx.n_users - 1)


def _check_fake_profile(k, tr, idx):
    _fail_if(tr.user[idx] != -1, k, "an artificial profile (no user)")


def _profile_is_user_profile(k, tr, idx, table, u, ctx):
    _fail_if(~_rows_equal(table[tr.profile[idx]], ctx.profile[u]), k, "profile = the user's training items")


def _neg_outside_taste(k, tr, idx, u, ctx):
    _fail_if(member(ctx.liked_artists, u, ctx.artist[tr.neg[idx]]), k, "negative by an artist the user never bought")
    _fail_if(member(ctx.liked_clusters, u, ctx.cluster[tr.neg[idx]]), k, "negative in a cluster the user never bought")


def _check_basket(k, tr, idx, ctx):
    u = _check_real_user(k, tr, idx, ctx)
    b = tr.basket[idx]
    _fail_if((b < 0) | (b >= ctx.train.n_baskets), k, "a training basket")
    _fail_if(ctx.train.user[np.clip(b, 0, ctx.train.n_baskets - 1)] != u, k, "the basket belongs to the user")
    _fail_if(~member(_sorted_csr(ctx.train.matrix()), b, tr.pos[idx]), k, "positive in the basket")
    return u


def _check_1(tr, idx, table, size, ctx, profile: str = "authors"):
    u = _check_basket(1, tr, idx, ctx)
    b = np.clip(tr.basket[idx], 0, ctx.train.n_baskets - 1)
    _fail_if(ctx.train.sizes[b] < 2, 1, "a basket of 2+ items")
    got = table[tr.profile[idx]]
    basket = _sorted_csr(ctx.train.matrix()[b]).astype(np.int8)
    hidden = sp.csr_matrix((np.ones(len(idx), np.int8), (np.arange(len(idx)), tr.pos[idx])), shape=basket.shape)
    rest = (basket - hidden) > 0
    if profile == "authors":
        want = _sorted_csr((rest.astype(np.int8) + _expected_history(tr, idx, ctx).astype(np.int8)) > 0)
        rule = "profile = every purchase up to that basket except the hidden item"
    else:
        want, rule = _sorted_csr(rest), "profile = the rest of that basket only"
    _fail_if(~_rows_equal(got, want), 1, rule)
    _neg_outside_taste(1, tr, idx, u, ctx)


def _expected_history(tr, idx, ctx) -> sp.csr_matrix:
    """Items of the user's training baskets bought strictly before the sample's basket (by
    purchase time); one row per sample."""
    t = ctx.train
    b = tr.basket[idx]
    u = tr.user[idx]
    start, stop = t.user_ptr[u], t.user_ptr[u + 1]
    counts = stop - start
    rows = np.repeat(np.arange(len(idx)), counts)
    cols = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(start, counts)
    keep = t.time[cols] < t.time[b][rows]
    m = sp.csr_matrix((np.ones(int(keep.sum()), np.int32), (rows[keep], cols[keep])), shape=(len(idx), t.n_baskets))
    return _sorted_csr(m @ t.matrix().astype(np.int32))


def _check_2(tr, idx, table, size, ctx):
    u = _check_basket(2, tr, idx, ctx)
    got = table[tr.profile[idx]]
    _fail_if(~_rows_equal(got, _expected_history(tr, idx, ctx)), 2, "profile = the items of all earlier baskets")
    _fail_if(size[tr.profile[idx]] == 0, 2, "a non-empty profile")
    _fail_if(member(_sorted_csr(got), np.arange(len(idx)), tr.pos[idx]), 2, "positive outside the profile")
    _neg_outside_taste(2, tr, idx, u, ctx)


def _check_3(tr, idx, table, size, ctx):
    u = _check_real_user(3, tr, idx, ctx)
    _profile_is_user_profile(3, tr, idx, table, u, ctx)
    pos = tr.pos[idx]
    _fail_if(member(ctx.profile, u, pos), 3, "positive outside the profile")
    _fail_if(~member(ctx.liked_artists, u, ctx.artist[pos]), 3, "positive by an artist of the profile")
    _fail_if(~member(ctx.liked_clusters, u, ctx.cluster[pos]), 3, "positive in a cluster of the profile")
    _neg_outside_taste(3, tr, idx, u, ctx)


def _check_4(tr, idx, table, size, ctx):
    u = _check_real_user(4, tr, idx, ctx)
    _profile_is_user_profile(4, tr, idx, table, u, ctx)
    _fail_if(~member(ctx.profile, u, tr.pos[idx]), 4, "positive in the profile")
    _fail_if(member(ctx.profile, u, tr.neg[idx]), 4, "negative outside the profile")


def _one_item(k, tr, idx, table, size):
    """The single item of each sample's profile (strategies 5 and 6)."""
    rows = tr.profile[idx]
    _fail_if(size[rows] != 1, k, "a one-item profile")
    return table.indices[np.minimum(table.indptr[rows], len(table.indices) - 1)].astype(np.int64)


def _check_5(tr, idx, table, size, ctx):
    _check_fake_profile(5, tr, idx)
    q = _one_item(5, tr, idx, table, size)
    _fail_if(tr.pos[idx] != q, 5, "positive = the profile's single item")
    _fail_if(tr.neg[idx] == q, 5, "negative outside the profile")


def _check_6(tr, idx, table, size, ctx, margin: float = MARGIN):
    _check_fake_profile(6, tr, idx)
    q = _one_item(6, tr, idx, table, size)
    pos, neg = tr.pos[idx], tr.neg[idx]
    _fail_if(pos == q, 6, "positive != the profile item")
    _fail_if(ctx.artist[pos] != ctx.artist[q], 6, "positive by the profile item's artist")
    _fail_if(ctx.artist[neg] == ctx.artist[q], 6, "negative by another artist")
    _fail_if(~validate_triple(ctx, q, pos, neg, margin), 6,
             f"validate_triple: cluster rule, else cos(q, pos) > cos(q, neg) + {margin:g}")


_CHECKS = {2: _check_2, 3: _check_3, 4: _check_4, 5: _check_5}


# --------------------------------------------------------------------------- training sets of the comparison

ARMS = ("guided", "random", "bpr", "no_fine_grained")
VARIANTS = tuple(f"strategy_{k}" for k in STRATEGIES) + ARMS


def training_set(ctx: SamplingContext, variant: str, n_total: int, seed: int = 0, *,
                 fine_grained: float = FINE_GRAINED, margin: float = MARGIN,
                 strategy1_profile: str = "authors") -> Triples:
    """The ``n_total`` distinct triples of one training-set ``variant``:

    ``"strategy_k"`` - strategy k alone; ``"guided"`` - the authors' sampler, the six strategies in
    equal shares; ``"random"`` - the profiles and positives of ``"guided"`` with uniformly random
    negatives (:func:`random_negatives`): the paper's random negative sampling as this kit reads
    it; ``"bpr"`` - plain BPR sampling: strategy 4's profiles and positives (a user's own items)
    with uniformly random negatives; ``"no_fine_grained"`` - ``"guided"`` with ``fine_grained = 0``
    (same seeds: strategies 1-3 are the very same triples).
    """
    opts = dict(fine_grained=fine_grained, margin=margin, strategy1_profile=strategy1_profile)
    if variant.startswith("strategy_"):
        k = int(variant.removeprefix("strategy_"))
        if k not in SAMPLERS:
            raise ValueError(f"unknown strategy {k}; choose one of {sorted(SAMPLERS)}")
        return SAMPLERS[k](ctx, n_total, seed=seed + k, **_options(k, fine_grained, margin, strategy1_profile))
    if variant not in ARMS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    if variant == "bpr":
        return random_negatives(ctx, SAMPLERS[4](ctx, n_total, seed=seed + 4), seed=seed + 100)
    if variant == "no_fine_grained":
        opts["fine_grained"] = 0.0
    per = -(-n_total // len(SAMPLERS))
    guided = sample_all(ctx, per, seed=seed, **opts)
    guided = guided.subset(np.arange(n_total)) if len(guided) > n_total else guided
    return random_negatives(ctx, guided, seed=seed + 100) if variant == "random" else guided


# --------------------------------------------------------------------------- what the negatives are like

def negative_shares(ctx: SamplingContext, triples: Triples) -> dict[str, float]:
    """Where the negatives fall: ``"positive's cluster"`` (share of all triples whose negative
    shares the positive's cluster); for the triples of real users (strategies 1-4) the share in a
    cluster the user bought from (``"user's clusters"``) and by an artist the user bought from
    (``"user's artists"``)."""
    real = triples.user >= 0
    u, neg = triples.user[real], triples.neg[real]
    return {
        "positive's cluster": float(np.mean(ctx.cluster[triples.neg] == ctx.cluster[triples.pos])),
        "user's clusters": float(member(ctx.liked_clusters, u, ctx.cluster[neg]).mean()) if real.any() else np.nan,
        "user's artists": float(member(ctx.liked_artists, u, ctx.artist[neg]).mean()) if real.any() else np.nan,
    }
