"""Unit 2 sampling: the six strategies (numbered as in the seed and the CuratorNet paper) obey the
authors' rules (fine-grained negatives, validate_triple, one-item artificial profiles, no visually
identical pairs, no duplicate triples, equal shares), and each sanity check catches a corrupted
sample under its number."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from coursekit.bench.u2 import build_context
from coursekit.sampling.curatornet import (
    ARMS, FINE_GRAINED, MARGIN, SAMPLERS, VARIANTS, SamplingContext, SamplingError, Triples, check_triples,
    concat_triples, member, negative_shares, profile_hashes, random_negatives, repeated, sample_all, split_triples,
    training_set, triple_keys, validate_triple,
)


@pytest.fixture(scope="module")
def ctx():
    return build_context(0, n_items=1500, n_artists=80, n_users=300, n_purchases=700, n_clusters=20, dim=8)


@pytest.fixture(scope="module")
def samples(ctx):
    return {k: f(ctx, 3000, seed=k) for k, f in SAMPLERS.items()}


def test_every_strategy_passes_its_check(ctx, samples):
    for k, tr in samples.items():
        assert len(tr) == 3000 and (tr.strategy == k).all()
        assert tr.pos.dtype == np.int64 and tr.profile_items.dtype == np.int64
        assert check_triples(tr, ctx) == 3000
        assert not repeated(triple_keys(tr)).any()  # n distinct triples


def _basket_items(t, b):
    return set(t.items[t.indptr[b]:t.indptr[b + 1]].tolist())


def _cosine(ctx, a, b):
    f = ctx.features.astype(np.float64)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    return (f[a] * f[b]).sum(1)


def test_rules_by_independent_dense_lookup(ctx, samples):
    prof = ctx.profile.toarray()
    la, lc = ctx.liked_artists.toarray(), ctx.liked_clusters.toarray()
    t = ctx.train
    # 1: every purchase up to that basket except the hidden item (the authors' rule)
    tr = samples[1]
    table = tr.table()
    assert not la[tr.user, ctx.artist[tr.neg]].any() and not lc[tr.user, ctx.cluster[tr.neg]].any()
    for j in range(0, 3000, 150):  # rebuilt with plain Python sets
        u, b = tr.user[j], tr.basket[j]
        basket = _basket_items(t, b)
        earlier = {i for bb in range(t.user_ptr[u], t.user_ptr[u + 1]) if t.time[bb] < t.time[b]
                   for i in _basket_items(t, bb)}
        assert len(basket) >= 2 and t.user[b] == u
        assert set(table[tr.profile[j]].indices.tolist()) == earlier | (basket - {tr.pos[j]})
    # 2: all earlier baskets, a new item of the next basket
    tr = samples[2]
    table = tr.table()
    for j in range(0, 3000, 300):
        u, b = tr.user[j], tr.basket[j]
        earlier = {i for bb in range(t.user_ptr[u], t.user_ptr[u + 1]) if t.time[bb] < t.time[b]
                   for i in _basket_items(t, bb)}
        assert set(table[tr.profile[j]].indices.tolist()) == earlier
        assert tr.pos[j] in _basket_items(t, b) - earlier
    # 3: liked artist and cluster vs neither
    tr = samples[3]
    u = tr.user
    assert not prof[u, tr.pos].any()
    assert la[u, ctx.artist[tr.pos]].all() and lc[u, ctx.cluster[tr.pos]].all()
    assert not la[u, ctx.artist[tr.neg]].any() and not lc[u, ctx.cluster[tr.neg]].any()
    # 4: a profile item vs an item outside the profile
    tr = samples[4]
    assert prof[tr.user, tr.pos].all() and not prof[tr.user, tr.neg].any()
    # 5: the authors' artificial profile: the single item itself
    tr = samples[5]
    table = tr.table().tocsr()
    assert (np.diff(table.indptr)[tr.profile] == 1).all() and (tr.user == -1).all()
    assert (table.indices[table.indptr[tr.profile]] == tr.pos).all() and (tr.neg != tr.pos).all()
    # 6: another work by the query's artist; the negative by another artist passes validate_triple
    tr = samples[6]
    q = tr.profile_items[tr.profile_indptr[tr.profile]]
    assert (ctx.artist[tr.pos] == ctx.artist[q]).all() and (tr.pos != q).all()
    assert (ctx.artist[tr.neg] != ctx.artist[q]).all()
    cq, cp, cn = ctx.cluster[q], ctx.cluster[tr.pos], ctx.cluster[tr.neg]
    assert not ((cq == cn) & (cq != cp)).any()  # never the negative in q's cluster and the positive outside
    by_margin = ~((cq == cp) & (cq != cn))
    assert (_cosine(ctx, q, tr.pos)[by_margin] > _cosine(ctx, q, tr.neg)[by_margin] + MARGIN - 1e-5).all()


def test_validate_triple_follows_the_authors_rule(ctx):
    """validate_triple against the authors' code, transcribed pair by pair (VisualSimilarityHandler)."""
    rng = np.random.default_rng(0)
    q, p, n = (rng.integers(0, ctx.n_items, 3000) for _ in range(3))
    sim = lambda a, b: float(_cosine(ctx, [a], [b])[0])  # noqa: E731

    def authors(q, p, n, margin):
        cq, cp, cn = ctx.cluster[q], ctx.cluster[p], ctx.cluster[n]
        if cq == cp and cq != cn:
            return True
        if cq == cn and cq != cp:
            return False
        return sim(q, p) > sim(q, n) + margin

    want = np.array([authors(a, b, c, 0.1) for a, b, c in zip(q, p, n)])
    got = validate_triple(ctx, q, p, n, 0.1)
    close = np.abs(_cosine(ctx, q, p) - _cosine(ctx, q, n) - 0.1) < 1e-5  # float32 vs float64 at the edge
    assert (got == want)[~close].all()
    # every branch occurs: same-cluster positives accepted, same-cluster negatives rejected, margin decides
    assert ((ctx.cluster[q] == ctx.cluster[p]) & (ctx.cluster[q] != ctx.cluster[n])).any()


@pytest.fixture(scope="module")
def big_ctx():
    """Random data of the real UGallery's size (13,297 artworks, 100 clusters; 16-d features):
    room for 100,000 samples with few duplicates to redraw."""
    return build_context(1, dim=16)


@pytest.mark.parametrize("k", [4, 5])
def test_fine_grained_negatives_come_from_the_positives_cluster_at_the_rate(big_ctx, k):
    tr = SAMPLERS[k](big_ctx, 100_000, seed=1)
    same = big_ctx.cluster[tr.neg] == big_ctx.cluster[tr.pos]
    assert abs(same.mean() - FINE_GRAINED) < 0.03, same.mean()
    none = SAMPLERS[k](big_ctx, 100_000, seed=1, fine_grained=0.0)  # only the uniform draws of a cluster
    assert (big_ctx.cluster[none.neg] == big_ctx.cluster[none.pos]).mean() < 0.03


def test_uniform_draws_choose_the_cluster_uniformly(big_ctx):
    """The other 40 %: a cluster chosen uniformly, then a member (not an item chosen uniformly)."""
    tr = SAMPLERS[5](big_ctx, 100_000, seed=2, fine_grained=0.0)
    counts = np.bincount(big_ctx.cluster[tr.neg], minlength=100)
    assert np.abs(counts - 1000).max() < 5 * np.sqrt(1000), counts  # clusters differ in size; draws do not


def test_strategy_6_never_emits_a_triple_validate_triple_rejects(big_ctx):
    tr = SAMPLERS[6](big_ctx, 100_000, seed=3)
    q = tr.profile_items[tr.profile_indptr[tr.profile]]
    assert validate_triple(big_ctx, q, tr.pos, tr.neg, MARGIN).all()
    assert check_triples(tr, big_ctx) == 100_000
    # the cluster rule: a negative from q's cluster only when the positive is there too (then the
    # margin decides); and then the fine-grained draws make such negatives common
    same_p = big_ctx.cluster[tr.pos] == big_ctx.cluster[q]
    same_n = big_ctx.cluster[tr.neg] == big_ctx.cluster[q]
    assert not same_n[~same_p].any() and same_n[same_p].mean() > 0.3


def test_negatives_of_the_taste_strategies_come_from_clusters_the_user_never_bought(big_ctx):
    tr = SAMPLERS[3](big_ctx, 100_000, seed=4)
    u = np.bincount(tr.user).argmax()  # one user, thousands of negatives
    negs = tr.neg[tr.user == u]
    closed = set(big_ctx.liked_clusters[u].indices.tolist())
    counts = np.bincount(big_ctx.cluster[negs], minlength=100)
    open_ = np.array([c for c in range(100) if c not in closed])
    assert counts[list(closed)].sum() == 0
    expected = len(negs) / len(open_)  # uniform over the open clusters (a few lose a liked artist's works)
    assert np.abs(counts[open_] - expected).max() < 6 * np.sqrt(expected) + 2


def test_strategy_3_positives_weigh_each_liked_artist_equally():
    """The authors draw a liked artist, then one of the artist's works, again until it is allowed:
    an allowed work of an artist with n works comes out with probability proportional to 1 / n."""
    from coursekit.inventory import last_basket_split, make_baskets

    n_items = 40
    artist = np.array([0] * 10 + [1] * 2 + [2] * 28)
    cluster = np.array([0] * 12 + [1] * 28)
    # one user bought item 0 (artist 0) and item 10 (artist 1), both in cluster 0
    baskets = make_baskets(np.array([0]), np.array([5]), np.array([0, 2]), np.array([0, 10]), 1, n_items)
    split = last_basket_split(baskets, artist, cluster, 1)
    features = np.random.default_rng(0).normal(size=(n_items, 4)).astype(np.float32)
    c = SamplingContext.from_split(split, artist, cluster, features)
    tr = SAMPLERS[3](c, 200, seed=0)  # only 10 allowed positives x 28 negatives: 280 distinct triples
    assert set(np.unique(tr.pos).tolist()) <= set(range(1, 10)) | {11}
    from coursekit.sampling.curatornet import _pick_weighted_in_rows  # the draw itself, 40,000 times

    cand = sp.csr_matrix(np.isin(np.arange(n_items), list(range(1, 10)) + [11])[None, :])
    works = np.bincount(artist)
    pos = _pick_weighted_in_rows(cand, 1.0 / works[artist[cand.indices]], np.zeros(40_000, np.int64),
                                 np.random.default_rng(1))
    assert abs((pos == 11).mean() - 0.5 / 1.4) < 0.01  # weights 9 x 1/10 against 1/2


def _twin_context():
    """A small shop where items 0 and 1 are the same picture (identical features, one cluster)."""
    from coursekit.inventory import last_basket_split, make_baskets

    rng = np.random.default_rng(0)
    n_items, n_users = 60, 20
    artist = np.arange(n_items) % 12
    cluster = np.r_[[0, 0], rng.integers(0, 3, n_items - 2)]
    features = rng.normal(size=(n_items, 6)).astype(np.float32)
    features[1] = features[0]
    user = np.arange(n_users)
    lengths = np.full(n_users, 1)
    items = np.r_[0, rng.integers(2, n_items, n_users - 1)]  # user 0 bought item 0
    baskets = make_baskets(user, np.arange(n_users) + 1, np.r_[0, np.cumsum(lengths)], items, n_users, n_items)
    split = last_basket_split(baskets, artist, cluster, n_users)
    return SamplingContext.from_split(split, artist, cluster, features)


def test_no_visually_identical_pairs():
    c = _twin_context()
    assert c.twins.nnz == 2 and c.identical([0, 1, 0], [1, 0, 2]).tolist() == [True, True, False]
    for k, n in ((4, 200), (5, 1000)):
        tr = SAMPLERS[k](c, n, seed=0, fine_grained=1.0)  # every proposal from the positive's cluster
        assert not c.identical(tr.pos, tr.neg).any()
        assert check_triples(tr, c) == n
    tr = SAMPLERS[5](c, 1000, seed=0, fine_grained=1.0)
    assert not ((tr.pos == 0) & (tr.neg == 1)).any() and ((tr.pos == 0) & (c.cluster[tr.neg] == 0)).any()
    bad = tr.subset(np.arange(len(tr)))
    j = np.flatnonzero(tr.pos == 0)[0]
    bad.neg = tr.neg.copy()
    bad.neg[j] = 1
    with pytest.raises(SamplingError, match=r"strategy 5 .*no visually identical positive and negative"):
        check_triples(bad, c)


def test_duplicates_are_drawn_again_and_caught():
    c = _twin_context()  # 60 items: strategy 5 has at most 60 x 58 distinct triples (items 0 and 1 are twins)
    tr = SAMPLERS[5](c, 2000, seed=0)
    assert len(np.unique(triple_keys(tr))) == 2000
    with pytest.raises(SamplingError, match="distinct triples"):
        SAMPLERS[5](c, 3600, seed=0)  # more than there are
    twice = tr.subset(np.r_[np.arange(len(tr)), 7])
    with pytest.raises(SamplingError, match=r"strategy 5 .*no duplicate triple"):
        check_triples(twice, c)
    assert check_triples(twice, c, distinct=False) == 2001


def test_triple_keys_hash_the_profile_as_a_set():
    indptr = np.array([0, 3, 6, 8])
    items = np.array([1, 5, 9, 9, 5, 1, 1, 5])  # rows 0 and 1: one set in two orders; row 2 another
    h = profile_hashes(indptr, items)
    assert h[0] == h[1] != h[2]
    tr = Triples(np.ones(4, np.int8), np.zeros(4, np.int64), np.zeros(4, np.int64), np.array([0, 1, 2, 0]),
                 np.array([2, 2, 2, 2]), np.array([3, 3, 3, 4]), indptr, items, 10)
    keys = triple_keys(tr)
    assert keys[0] == keys[1] and len(set(keys.tolist())) == 3
    assert repeated(keys).tolist() == [False, True, False, False]


def test_repeated_keeps_the_first_of_each_key():
    rng = np.random.default_rng(0)
    for _ in range(100):
        keys = rng.integers(0, 30, rng.integers(0, 80)).astype(np.uint64)
        _, first = np.unique(keys, return_index=True)
        want = np.ones(len(keys), bool)
        want[first] = False
        assert (repeated(keys) == want).all()


def test_strategy_1_profiles_of_the_authors_and_of_the_seed(ctx, samples):
    """The authors' profile holds the user's earlier baskets; the seed's (profile="basket") does not;
    each check refuses the other's profiles."""
    seed_rule = SAMPLERS[1](ctx, 3000, seed=1, profile="basket")
    assert check_triples(seed_rule, ctx, strategy1_profile="basket") == 3000
    t = ctx.train
    has_earlier = seed_rule.basket > t.user_ptr[seed_rule.user]
    assert has_earlier.any()
    with pytest.raises(SamplingError, match=r"strategy 1 .*every purchase up to that basket"):
        check_triples(seed_rule, ctx)
    authors = samples[1]
    assert (authors.basket > t.user_ptr[authors.user]).any()
    with pytest.raises(SamplingError, match=r"strategy 1 .*rest of that basket only"):
        check_triples(authors, ctx, strategy1_profile="basket")
    with pytest.raises(ValueError, match="profile must be"):
        SAMPLERS[1](ctx, 10, profile="all")


def _with_profile_row(tr, j, items):
    """A copy of ``tr`` whose sample j uses a new profile row holding ``items``."""
    indptr = np.append(tr.profile_indptr, tr.profile_indptr[-1] + len(items))
    bad = tr.subset(np.arange(len(tr)))
    bad.profile_indptr = indptr
    bad.profile_items = np.concatenate([tr.profile_items, np.sort(np.asarray(items, np.int64))])
    bad.profile = tr.profile.copy()
    bad.profile[j] = len(indptr) - 2
    return bad


def test_checks_use_the_new_numbers(ctx, samples):
    """Each strategy's triples relabelled with another number fail that number's check."""
    for k, tr in samples.items():
        for other in set(samples) - {k}:
            relabelled = tr.subset(np.arange(len(tr)))
            relabelled.strategy = np.full(len(tr), other, np.int8)
            with pytest.raises(SamplingError, match=f"strategy {other} "):
                check_triples(relabelled, ctx)


def _corrupt(tr, field, j, value):
    arr = getattr(tr, field).copy()
    arr[j] = value
    bad = tr.subset(np.arange(len(tr)))
    setattr(bad, field, arr)
    return bad


@pytest.mark.parametrize("k,field,how,rule", [
    (1, "pos", "other basket", "positive in the basket"),
    (1, "profile", "other row", "every purchase up to that basket"),
    (1, "neg", "liked item", "negative by an artist"),
    (1, "neg", "same as pos", "positive and negative differ"),
    (2, "pos", "other basket", "positive in the basket"),
    (2, "profile", "other row", "earlier baskets"),
    (2, "neg", "liked item", "negative by an artist"),
    (3, "pos", "profile item", "positive outside the profile"),
    (3, "neg", "liked item", "negative by an artist"),
    (4, "neg", "profile item", "negative outside the profile"),
    (4, "pos", "outside item", "positive in the profile"),
    (4, "neg", "duplicate", "no duplicate triple"),
    (5, "neg", "same as pos", "positive and negative differ"),
    (5, "pos", "outside item", "positive = the profile's single item"),
    (5, "profile", "two items", "a one-item profile"),
    (6, "neg", "same artist", "negative by another artist"),
    (6, "neg", "rejected", "validate_triple"),
    (6, "profile", "two items", "a one-item profile"),
])
def test_checks_fail_loudly_on_one_corrupted_sample(ctx, samples, k, field, how, rule):
    tr = samples[k]
    j = 1234
    u = tr.user[j]
    profile_items = ctx.profile.indices[ctx.profile.indptr[u]:ctx.profile.indptr[u + 1]] if u >= 0 else None
    if how in ("profile item", "liked item"):
        value = next(i for i in profile_items if i != tr.pos[j])
    elif how == "outside item":
        inside = set(profile_items.tolist()) if u >= 0 else {int(tr.pos[j])}
        value = next(i for i in range(ctx.n_items) if i not in inside)
    elif how == "same as pos":
        value = tr.pos[j]
    elif how == "same artist":
        value = tr.profile_items[tr.profile_indptr[tr.profile[j]]]  # the query itself
    elif how == "duplicate":
        value = tr.neg[j + 1]
        tr = _corrupt(tr, "pos", j, tr.pos[j + 1])
        tr = _corrupt(tr, "user", j, tr.user[j + 1])
        tr = _corrupt(tr, "profile", j, tr.profile[j + 1])
    elif how == "rejected":
        q = tr.profile_items[tr.profile_indptr[tr.profile[j]]]
        other = np.flatnonzero(ctx.artist != ctx.artist[q])
        ok = validate_triple(ctx, np.full(len(other), q), np.full(len(other), tr.pos[j]), other)
        value = other[~ok][0]
    elif how == "other basket":
        t = ctx.train
        value = next(i for i in range(ctx.n_items) if not member(t.matrix().tocsr(), [tr.basket[j]], [i])[0])
    elif how == "two items":
        row = tr.table()[tr.profile[j]].indices
        other = next(i for i in range(ctx.n_items) if i not in set(row.tolist()) | {int(tr.pos[j]), int(tr.neg[j])})
        bad = _with_profile_row(tr, j, np.union1d(row, [other]))
        with pytest.raises(SamplingError, match=rule) as err:
            check_triples(bad, ctx)
        assert f"strategy {k} " in str(err.value)
        return
    else:  # another profile row whose content differs
        rows = tr.profile
        sizes = np.diff(tr.profile_indptr)
        value = rows[np.flatnonzero(sizes[rows] != sizes[rows[j]])[0]]
    bad = _corrupt(tr, field, j, value)
    with pytest.raises(SamplingError, match=rule) as err:
        check_triples(bad, ctx)
    assert f"strategy {k} " in str(err.value)


def test_concat_split_compact_and_random_negatives(ctx, samples):
    both = concat_triples([samples[4], samples[2], samples[1]])
    assert check_triples(both, ctx) == 9000
    train, valid = split_triples(both, 0.1, seed=0)
    assert len(train) + len(valid) == 9000 and len(valid) == 900
    small = valid.compact()
    assert len(small.profile_indptr) - 1 == len(np.unique(valid.profile)) < len(both.profile_indptr) - 1
    assert (triple_keys(small) == triple_keys(valid)).all()  # the same triples, a smaller table
    rnd = random_negatives(ctx, both, seed=0)
    table = rnd.table().tocsr()
    table.sort_indices()
    assert not member(table, rnd.profile, rnd.neg).any() and (rnd.neg != rnd.pos).all()
    assert not repeated(triple_keys(rnd)).any()
    np.testing.assert_array_equal(rnd.pos, both.pos)
    # random negatives break the guided rule of strategies 1 and 2 somewhere
    with pytest.raises(SamplingError, match="negative by an artist the user never bought"):
        check_triples(rnd, ctx)


def test_training_sets_of_the_comparison(ctx):
    sets = {v: training_set(ctx, v, 1200, seed=5) for v in VARIANTS}
    assert all(len(tr) == 1200 and not repeated(triple_keys(tr)).any() for tr in sets.values())
    for k in range(1, 7):
        assert (sets[f"strategy_{k}"].strategy == k).all()
    assert set(ARMS) == {"guided", "random", "bpr", "no_fine_grained"}
    assert (np.bincount(sets["guided"].strategy, minlength=7)[1:] == 200).all()  # equal shares
    np.testing.assert_array_equal(sets["random"].pos, sets["guided"].pos)  # the negatives differ only
    np.testing.assert_array_equal(sets["random"].profile, sets["guided"].profile)
    assert (sets["random"].neg != sets["guided"].neg).mean() > 0.9
    check_triples(sets["guided"], ctx)
    check_triples(sets["no_fine_grained"], ctx)
    # no_fine_grained: strategies 1-3 are the very same triples, 4-6 have other negatives
    first = sets["guided"].strategy <= 3
    np.testing.assert_array_equal(sets["no_fine_grained"].neg[first], sets["guided"].neg[first])
    hard = ~first
    assert (negative_shares(ctx, sets["no_fine_grained"].subset(np.flatnonzero(hard)))["positive's cluster"]
            < negative_shares(ctx, sets["guided"].subset(np.flatnonzero(hard)))["positive's cluster"] - 0.3)
    # bpr: strategy 4's profiles and positives with negatives uniform outside the profile
    bpr = sets["bpr"]
    assert (bpr.strategy == 4).all() and not member(ctx.profile, bpr.user, bpr.neg).any()
    assert negative_shares(ctx, bpr)["positive's cluster"] < 0.2
    with pytest.raises(ValueError, match="unknown variant"):
        training_set(ctx, "all", 10)


def test_negative_shares_by_hand(ctx, samples):
    tr = samples[4]
    got = negative_shares(ctx, tr)
    assert got["positive's cluster"] == np.mean(ctx.cluster[tr.neg] == ctx.cluster[tr.pos])
    lc = ctx.liked_clusters.toarray()
    assert got["user's clusters"] == pytest.approx(lc[tr.user, ctx.cluster[tr.neg]].mean())
    assert np.isnan(negative_shares(ctx, samples[5])["user's clusters"])


def test_triples_move_to_the_full_catalogue(ctx, samples):
    index = np.arange(ctx.n_items) * 2 + 1  # a sub-catalogue: item i is item 2i + 1 of a bigger one
    moved = samples[2].to_catalogue(index, 2 * ctx.n_items + 1)
    np.testing.assert_array_equal(moved.pos, 2 * samples[2].pos + 1)
    np.testing.assert_array_equal(moved.table()[moved.profile[7]].indices,
                                  2 * samples[2].table()[samples[2].profile[7]].indices + 1)
    assert moved.n_items == 2 * ctx.n_items + 1


def test_same_seed_same_samples(ctx):
    a, b = sample_all(ctx, 500, seed=3), sample_all(ctx, 500, seed=3)
    np.testing.assert_array_equal(a.neg, b.neg)
    np.testing.assert_array_equal(a.profile_items, b.profile_items)


def test_packed_bits_match_the_dense_matrix():
    from coursekit.sampling.curatornet import _sorted_csr, row_bits

    m = _sorted_csr(sp.random(37, 101, density=0.2, random_state=0, format="csr"))
    np.testing.assert_array_equal(row_bits(m), np.packbits(m.toarray(), axis=1))


@pytest.mark.parametrize("rounds", [16, 0])  # 0: every sample drawn by the exact fallback
def test_outside_picks_are_uniform_over_free_columns(rounds):
    from coursekit.sampling.curatornet import _pick_outside_rows, _sorted_csr

    dense = np.zeros((3, 10), bool)
    dense[1, [0, 1, 2, 3, 5, 6, 7, 8, 9]] = True  # one free column: rejection needs ~10 draws
    dense[2, ::2] = True
    m = _sorted_csr(sp.csr_matrix(dense))
    rows = np.repeat(np.arange(3), 30_000)
    cols = _pick_outside_rows(m, rows, np.random.default_rng(0), rounds=rounds)
    assert not dense[rows, cols].any()
    for r in range(3):
        counts = np.bincount(cols[rows == r], minlength=10)[~dense[r]]
        expected = 30_000 / (~dense[r]).sum()
        assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected)), (r, counts)


def test_weighted_picks_follow_the_weights():
    from coursekit.sampling.curatornet import _pick_weighted_in_rows, _sorted_csr

    m = _sorted_csr(sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 1, 1, 0]], bool)))
    w = np.array([1.0, 2.0, 1.0, 3.0, 1.0])  # row 0: items 0, 1, 3; row 1: items 1, 2
    rows = np.repeat([0, 1], 40_000)
    got = _pick_weighted_in_rows(m, w, rows, np.random.default_rng(0))
    share0 = np.bincount(got[rows == 0], minlength=4) / 40_000
    share1 = np.bincount(got[rows == 1], minlength=4) / 40_000
    assert np.allclose(share0, [0.25, 0.5, 0, 0.25], atol=0.01) and np.allclose(share1, [0, 0.75, 0.25, 0], atol=0.01)
