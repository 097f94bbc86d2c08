"""The six CuratorNet sampling strategies (Messina et al., 2020, arXiv 2009.04426), vectorised.

A training sample is a triple (profile, positive item, negative item): given the profile, the
model should score the positive above the negative. Samples are integer arrays (:class:`Triples`);
profiles are rows of a CSR table shared by the samples that use them.

Strategies, numbered and named as in the seed notebook and the CuratorNet paper:

1. ``sample_hidden_item`` - predicting the missing item of a purchase basket: hide one item of a
   basket of 2+ items; profile = the rest of THAT basket only; negative by an artist and in a
   visual cluster the user never bought.
2. ``sample_next_basket`` - predicting the next purchase basket: profile = all earlier baskets of
   the user, positive from the next basket (not already in the profile), negative as in 1.
3. ``sample_liked_artist_cluster`` - visually similar artworks from favourite artists: profile =
   the user's training items, positive outside it by a liked artist and in a liked cluster,
   negative by neither.
4. ``sample_profile_items`` - profile items from the same user profile: positive one of the
   user's own items, negative any item outside the profile.
5. ``sample_artificial_profile`` - an artificially created profile (one item, or a few items of
   one visual cluster): positive one of its items, negative any item outside it.
6. ``sample_same_artist`` - artificial profile with a single item q: positive another work by q's
   artist, negative by another artist and visually farther from q than the positive by ``margin``.

Each strategy has a sanity check (:func:`check_triples`) that verifies its rules on every
sample, vectorised, and raises :class:`SamplingError` naming the broken rule and a sample.
"""

from __future__ import annotations

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

    def to_catalogue(self, index: np.ndarray, n_items: int) -> "Triples":
        """Triples drawn on a sub-catalogue, with items renamed to ``index[item]`` of a catalogue of
        ``n_items`` (for example: sampled among the artworks known at training time, then used with
        the features of every artwork). Users and baskets keep their numbers."""
        index = np.asarray(index, np.int64)
        items = index[self.profile_items]
        # keep every profile row sorted (index is increasing, so it already is)
        return Triples(self.strategy, self.user, self.basket, self.profile, index[self.pos], index[self.neg],
                       self.profile_indptr, items, int(n_items))


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

    artist, cluster : int64 (n_items,); features : float32 (n_items, d) visual features used for
    the distances of strategy 6 (for example the PCA-reduced embeddings); train : the training
    baskets; profile, liked_artists, liked_clusters : bool CSR per user (see
    :class:`coursekit.inventory.UserSplit`). ``blocked`` bool CSR (n_users, n_items) is derived: the
    items whose artist or cluster the user bought from (never a negative in strategies 1, 2, 3).
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


def _pick_outside_rows(m: sp.csr_matrix, rows: np.ndarray, rng: np.random.Generator, *,
                       rounds: int = 16, max_table_bytes: int = 64 * 2**20) -> np.ndarray:
    """One uniformly random column *not* stored in each given row (rows must not be full).

    Vectorised rejection: each round redraws only the samples that hit a stored column, so a row
    that is 1 % full costs about 1.01 draws per sample. Membership is one byte read in a packed
    bit table (:func:`row_bits`), or a binary search when that table would exceed
    ``max_table_bytes`` (tables with a row per sample). Samples still pending after ``rounds``
    rounds (rows that are nearly full) are drawn exactly by :func:`_pick_outside_rows_exact`.
    Uniform over the free columns either way.
    """
    rows = np.asarray(rows, np.int64)
    if m.shape[0] * (-(-m.shape[1] // 8)) <= max_table_bytes:
        bits = row_bits(m)
        hit = lambda r, c: _in_bits(bits, r, c)  # noqa: E731
    else:
        hit = lambda r, c: member(m, r, c)  # noqa: E731
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


def _pick_group(group_ptr: np.ndarray, groups: np.ndarray, rng) -> np.ndarray:
    """One uniformly random member index of each group (CSR-like ``group_ptr``)."""
    start = group_ptr[groups]
    return start + (rng.random(len(groups)) * (group_ptr[groups + 1] - start)).astype(np.int64)


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


def sample_hidden_item(ctx: SamplingContext, n: int, seed: int = 0) -> Triples:
    """Strategy 1: hide one item h of a basket of 2+ items: (the rest of THAT basket, h, an item by
    an artist and in a cluster the user never bought). Users, then one of their baskets of 2+
    items, then the hidden item are drawn uniformly, as in the seed."""
    rng = np.random.default_rng(seed)
    t = ctx.train
    free = ctx.n_items - np.diff(ctx.blocked.indptr)
    big = np.flatnonzero((t.sizes >= 2) & (free[t.user] > 0))
    table, entries = _basket_minus_each_item(t, big)
    users_with, ptr = _user_groups(t.user[big], ctx.n_users)
    users = users_with[rng.integers(0, len(users_with), n)]
    basket = big[_pick_group(ptr, users, rng)]
    entry = t.indptr[basket] + (rng.random(n) * t.sizes[basket]).astype(np.int64)
    rows = np.searchsorted(entries, entry)
    neg = _pick_outside_rows(ctx.blocked, users, rng)
    return _triples(1, users, basket, rows, t.items[entry], neg, table)


def sample_next_basket(ctx: SamplingContext, n: int, seed: int = 0) -> Triples:
    """Strategy 2: (items of the user's earlier baskets, an item of the next basket not among
    them, an item by an artist and in a cluster the user never bought)."""
    rng = np.random.default_rng(seed)
    t = ctx.train
    first = t.user_ptr[t.user]
    targets = np.flatnonzero(np.arange(t.n_baskets) > first)
    earlier = _earlier_baskets(t, targets)
    basket_rows = t.matrix()[targets].astype(np.int8)
    new_items = _sorted_csr(basket_rows - basket_rows.multiply(earlier).astype(np.int8))
    free = ctx.n_items - np.diff(ctx.blocked.indptr)
    ok = (np.diff(new_items.indptr) > 0) & (free[t.user[targets]] > 0)
    rows_ok = np.flatnonzero(ok)
    users_with, ptr = _user_groups(t.user[targets[rows_ok]], ctx.n_users)
    users = users_with[rng.integers(0, len(users_with), n)]
    rows = rows_ok[_pick_group(ptr, users, rng)]
    pos = _pick_in_rows(new_items, rows, rng)
    neg = _pick_outside_rows(ctx.blocked, users, rng)
    return _triples(2, users, targets[rows], rows, pos, neg, earlier)


def sample_liked_artist_cluster(ctx: SamplingContext, n: int, seed: int = 0) -> Triples:
    """Strategy 3: positive outside the profile by a liked artist and in a liked cluster;
    negative by an artist and in a cluster the user never bought."""
    rng = np.random.default_rng(seed)
    cand = _sorted_csr(ctx._liked_both.astype(np.int8) - ctx._liked_both.multiply(ctx.profile).astype(np.int8))
    free = ctx.n_items - np.diff(ctx.blocked.indptr)
    valid = np.flatnonzero((np.diff(cand.indptr) > 0) & (free > 0))
    users = valid[rng.integers(0, len(valid), n)]
    pos = _pick_in_rows(cand, users, rng)
    neg = _pick_outside_rows(ctx.blocked, users, rng)
    return _triples(3, users, None, users, pos, neg, ctx.profile)


def sample_profile_items(ctx: SamplingContext, n: int, seed: int = 0) -> Triples:
    """Strategy 4: (profile of u, an item of the profile, an item outside the profile)."""
    rng = np.random.default_rng(seed)
    sizes = np.diff(ctx.profile.indptr)
    valid = np.flatnonzero((sizes > 0) & (sizes < ctx.n_items))
    users = valid[rng.integers(0, len(valid), n)]
    pos = _pick_in_rows(ctx.profile, users, rng)
    neg = _pick_outside_rows(ctx.profile, users, rng)
    return _triples(4, users, None, users, pos, neg, ctx.profile)


def sample_artificial_profile(ctx: SamplingContext, n: int, seed: int = 0, *, max_size: int = 3) -> Triples:
    """Strategy 5: an artificial profile of 1 to ``max_size`` items of one visual cluster (a
    random item q and further random members of q's cluster; sizes uniform), positive one of its
    items, negative any item outside it."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, ctx.n_items, n)
    size = rng.integers(1, max_size + 1, n)
    members = ctx._cluster_items
    cols = [q]
    rows = [np.arange(n)]
    for j in range(1, max_size):
        more = np.flatnonzero(size > j)
        cols.append(_pick_in_rows(members, ctx.cluster[q[more]], rng))
        rows.append(more)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    table = _sorted_csr(sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n, ctx.n_items)))
    sample = np.arange(n)
    pos = _pick_in_rows(table, sample, rng)
    neg = _pick_outside_rows(table, sample, rng)
    return _triples(5, None, None, sample, pos, neg, table)


def sample_same_artist(ctx: SamplingContext, n: int, seed: int = 0, *, margin: float = 0.0,
                       max_rounds: int = 200, restart_every: int = 10, chunk: int = 4096) -> Triples:
    """Strategy 6: (profile {q}, another item by q's artist, an item by another artist that is
    farther from q than the positive by ``margin`` in ``ctx.features``).

    Negatives are drawn by rejection in vectorised rounds; a query whose positive leaves no
    valid negative after ``restart_every`` rounds gets a new query and positive.
    """
    rng = np.random.default_rng(seed)
    a = ctx._artist_items
    n_by_artist = np.diff(a.indptr)
    eligible = np.flatnonzero(n_by_artist[ctx.artist] >= 2)
    # rank of each item within its artist's (sorted) item list
    rank = np.empty(ctx.n_items, np.int64)
    rank[a.indices] = np.arange(len(a.indices)) - np.repeat(a.indptr[:-1], n_by_artist)

    def draw_pairs(k):
        q = eligible[rng.integers(0, len(eligible), k)]
        art = ctx.artist[q]
        r = (rng.random(k) * (n_by_artist[art] - 1)).astype(np.int64)
        r = r + (r >= rank[q])
        return q, a.indices[a.indptr[art] + r].astype(np.int64)

    def dist(x, y):
        out = np.empty(len(x), np.float32)
        for s in range(0, len(x), chunk):  # cache-sized chunks: the gathered rows stay in L2
            d = ctx.features[x[s:s + chunk]] - ctx.features[y[s:s + chunk]]
            out[s:s + chunk] = np.einsum("ij,ij->i", d, d)
        return np.sqrt(out)

    q, pos = draw_pairs(n)
    d_pos = dist(q, pos)
    neg = np.full(n, -1, np.int64)
    pending = np.arange(n)
    for round_ in range(max_rounds):
        if round_ and round_ % restart_every == 0:  # hopeless queries: start them over
            q[pending], pos[pending] = draw_pairs(len(pending))
            d_pos[pending] = dist(q[pending], pos[pending])
        cand = rng.integers(0, ctx.n_items, len(pending))
        ok = (ctx.artist[cand] != ctx.artist[q[pending]]) & (dist(q[pending], cand) > d_pos[pending] + margin)
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


def sample_all(ctx: SamplingContext, n_per_strategy: int, seed: int = 0, strategies=(1, 2, 3, 4, 5, 6)) -> Triples:
    """``n_per_strategy`` samples of each strategy, concatenated (strategy k uses seed + k)."""
    return concat_triples([SAMPLERS[k](ctx, n_per_strategy, seed + k) for k in strategies])


def random_negatives(triples: Triples, seed: int = 0) -> Triples:
    """The same profiles and positives with uniformly random negatives outside the profile
    (and != the positive): the unguided baseline that the strategies are compared with."""
    rng = np.random.default_rng(seed)
    table = _sorted_csr(triples.table())
    neg = _pick_outside_rows(table, triples.profile, rng)
    bad = np.flatnonzero(neg == triples.pos)
    for _ in range(100):  # rare: the draw hit the positive (strategies 1, 2, 3, 6); draw again
        if len(bad) == 0:
            break
        neg[bad] = _pick_outside_rows(table, triples.profile[bad], rng)
        bad = bad[neg[bad] == triples.pos[bad]]
    return triples.with_negatives(neg)


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


def check_triples(triples: Triples, ctx: SamplingContext, *, margin: float = 0.0) -> int:
    """Verify every sample against the rules of its strategy; raise :class:`SamplingError`.

    Returns the number of samples checked. The expected profiles are rebuilt from the baskets
    (strategy 2 by purchase time, not the sampler's basket order), so a sampler bug does not hide
    itself.
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
    for k in np.unique(tr.strategy):
        idx = np.flatnonzero(tr.strategy == k)
        if k == 6:
            _check_6(tr, idx, table, size, ctx, margin)
        else:
            _CHECKS[int(k)](tr, idx, table, size, ctx)
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


def _check_1(tr, idx, table, size, ctx):
    u = _check_basket(1, tr, idx, ctx)
    b = np.clip(tr.basket[idx], 0, ctx.train.n_baskets - 1)
    _fail_if(ctx.train.sizes[b] < 2, 1, "a basket of 2+ items")
    got = table[tr.profile[idx]]
    basket = _sorted_csr(ctx.train.matrix()[b]).astype(np.int8)
    hidden = sp.csr_matrix((np.ones(len(idx), np.int8), (np.arange(len(idx)), tr.pos[idx])), shape=basket.shape)
    _fail_if(~_rows_equal(got, _sorted_csr((basket - hidden) > 0)), 1,
             "profile = the rest of that basket only")
    _fail_if(member(_sorted_csr(got), np.arange(len(idx)), tr.pos[idx]), 1, "positive outside the profile")
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


def _check_5(tr, idx, table, size, ctx):
    _check_fake_profile(5, tr, idx)
    rows = tr.profile[idx]
    _fail_if(size[rows] == 0, 5, "a non-empty profile")
    sub = table[rows]
    lab = ctx.cluster[sub.indices]
    seg = np.repeat(np.arange(len(idx)), np.diff(sub.indptr))
    lo = np.full(len(idx), np.iinfo(np.int64).max)
    hi = np.full(len(idx), -1)
    np.minimum.at(lo, seg, lab)
    np.maximum.at(hi, seg, lab)
    _fail_if((size[rows] > 0) & (lo != hi), 5, "profile items all in one visual cluster")
    _fail_if(~member(table, rows, tr.pos[idx]), 5, "positive in the profile")
    _fail_if(member(table, rows, tr.neg[idx]), 5, "negative outside the profile")


def _check_6(tr, idx, table, size, ctx, margin: float = 0.0):
    _check_fake_profile(6, tr, idx)
    rows = tr.profile[idx]
    _fail_if(size[rows] != 1, 6, "a one-item profile")
    q = table.indices[np.minimum(table.indptr[rows], len(table.indices) - 1)].astype(np.int64)
    pos, neg = tr.pos[idx], tr.neg[idx]
    _fail_if(pos == q, 6, "positive != the profile item")
    _fail_if(ctx.artist[pos] != ctx.artist[q], 6, "positive by the profile item's artist")
    _fail_if(ctx.artist[neg] == ctx.artist[q], 6, "negative by another artist")
    f = ctx.features
    d_pos = np.linalg.norm(f[q] - f[pos], axis=1)
    d_neg = np.linalg.norm(f[q] - f[neg], axis=1)
    _fail_if(~(d_neg > d_pos + margin - 1e-4), 6, "negative farther from the profile item than the positive")


_CHECKS = {1: _check_1, 2: _check_2, 3: _check_3, 4: _check_4, 5: _check_5, 6: _check_6}


# --------------------------------------------------------------------------- training sets for an ablation

VARIANTS = tuple(f"strategy_{k}" for k in STRATEGIES) + ("all", "random")


def training_set(ctx: SamplingContext, variant: str, n_total: int, seed: int = 0) -> Triples:
    """The triples of one ablation ``variant``, ``n_total`` of them whatever the variant:

    ``"strategy_k"`` - strategy k alone; ``"all"`` - the six strategies in equal shares;
    ``"random"`` - the profiles and positives of ``"all"`` with uniformly random negatives
    (:func:`random_negatives`), so it differs from ``"all"`` in the negatives only.
    """
    if variant.startswith("strategy_"):
        k = int(variant.removeprefix("strategy_"))
        if k not in SAMPLERS:
            raise ValueError(f"unknown strategy {k}; choose one of {sorted(SAMPLERS)}")
        return SAMPLERS[k](ctx, n_total, seed=seed + k)
    if variant not in ("all", "random"):
        raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    per = -(-n_total // len(SAMPLERS))
    guided = sample_all(ctx, per, seed=seed)
    guided = guided.subset(np.arange(n_total)) if len(guided) > n_total else guided
    return guided if variant == "all" else random_negatives(guided, seed=seed + 100)
