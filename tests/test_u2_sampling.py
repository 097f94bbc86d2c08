"""Unit 2 sampling: the six strategies obey their rules, and the sanity checks catch corruption."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.bench.u2 import build_context
from coursekit.sampling.curatornet import (
    SAMPLERS, SamplingError, check_triples, concat_triples, member, random_negatives, sample_all, split_triples,
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


def test_rules_by_independent_dense_lookup(ctx, samples):
    prof = ctx.profile.toarray()
    la, lc = ctx.liked_artists.toarray(), ctx.liked_clusters.toarray()
    tr = samples[3]
    u = tr.user
    assert not prof[u, tr.pos].any()
    assert la[u, ctx.artist[tr.pos]].all() and lc[u, ctx.cluster[tr.pos]].all()
    assert not la[u, ctx.artist[tr.neg]].any() and not lc[u, ctx.cluster[tr.neg]].any()
    tr = samples[4]
    q = tr.profile_items[tr.profile_indptr[tr.profile]]
    d = lambda a, b: np.linalg.norm(ctx.features[a] - ctx.features[b], axis=1)  # noqa: E731
    assert (ctx.artist[tr.pos] == ctx.artist[q]).all() and (tr.pos != q).all()
    assert (ctx.artist[tr.neg] != ctx.artist[q]).all() and (d(q, tr.neg) > d(q, tr.pos)).all()
    tr = samples[5]
    table = tr.table()
    for j in range(0, 3000, 300):  # a few samples rebuilt with plain Python sets
        t = ctx.train
        u, b = tr.user[j], tr.basket[j]
        earlier = {int(i) for bb in range(t.user_ptr[u], t.user_ptr[u + 1]) if t.time[bb] < t.time[b]
                   for i in t.items[t.indptr[bb]:t.indptr[bb + 1]]}
        assert set(table[tr.profile[j]].indices.tolist()) == earlier
        assert tr.pos[j] in set(t.items[t.indptr[b]:t.indptr[b + 1]].tolist()) - earlier


def test_negatives_are_uniform_over_allowed_items(ctx, samples):
    tr = samples[1]
    u = np.bincount(tr.user).argmax()
    negs = tr.neg[tr.user == u]
    assert not member(ctx.profile, np.full(len(negs), u), negs).any()
    assert len(np.unique(negs)) > 0.8 * min(len(negs), ctx.n_items)  # spread, not a few favourites


def _corrupt(tr, field, j, value):
    arr = getattr(tr, field).copy()
    arr[j] = value
    bad = tr.subset(np.arange(len(tr)))
    setattr(bad, field, arr)
    return bad


@pytest.mark.parametrize("k,field,how,rule", [
    (1, "neg", "profile item", "negative outside the profile"),
    (2, "neg", "same as pos", "negative != the profile item"),
    (3, "pos", "profile item", "positive outside the profile"),
    (3, "neg", "liked item", "negative by an artist"),
    (4, "neg", "same artist", "negative by another artist"),
    (4, "neg", "closest", "farther"),
    (5, "pos", "other basket", "positive in the basket"),
    (5, "profile", "other row", "earlier baskets"),
    (6, "neg", "liked item", "negative by an artist"),
    (6, "profile", "other row", "rest of the basket"),
])
def test_checks_fail_loudly_on_one_corrupted_sample(ctx, samples, k, field, how, rule):
    tr = samples[k]
    j = 1234
    u = tr.user[j]
    profile_items = ctx.profile.indices[ctx.profile.indptr[u]:ctx.profile.indptr[u + 1]] if u >= 0 else None
    if how == "profile item":
        value = profile_items[0]
    elif how == "same as pos":
        value = tr.pos[j]
    elif how == "liked item":
        value = profile_items[0]
    elif how == "same artist":
        value = tr.pos[j]
    elif how == "closest":
        q = tr.profile_items[tr.profile_indptr[tr.profile[j]]]
        other = np.flatnonzero(ctx.artist != ctx.artist[q])
        value = other[np.argmin(np.linalg.norm(ctx.features[other] - ctx.features[q], axis=1))]
    elif how == "other basket":
        t = ctx.train
        value = next(i for i in range(ctx.n_items) if not member(t.matrix().tocsr(), [tr.basket[j]], [i])[0])
    else:  # another profile row whose content differs
        rows = tr.profile
        sizes = np.diff(tr.profile_indptr)
        value = rows[np.flatnonzero(sizes[rows] != sizes[rows[j]])[0]]
    bad = _corrupt(tr, field, j, value)
    with pytest.raises(SamplingError, match=rule) as err:
        check_triples(bad, ctx)
    assert f"strategy {k}" in str(err.value)


def test_concat_split_and_random_negatives(ctx, samples):
    both = concat_triples([samples[1], samples[5], samples[6]])
    assert check_triples(both, ctx) == 9000
    train, valid = split_triples(both, 0.1, seed=0)
    assert len(train) + len(valid) == 9000 and len(valid) == 900
    rnd = random_negatives(both, seed=0)
    table = rnd.table().tocsr()
    table.sort_indices()
    assert not member(table, rnd.profile, rnd.neg).any() and (rnd.neg != rnd.pos).all()
    np.testing.assert_array_equal(rnd.pos, both.pos)
    # random negatives break the guided rule of strategy 5 somewhere
    with pytest.raises(SamplingError):
        check_triples(rnd, ctx)


def test_same_seed_same_samples(ctx):
    a, b = sample_all(ctx, 500, seed=3), sample_all(ctx, 500, seed=3)
    np.testing.assert_array_equal(a.neg, b.neg)
    np.testing.assert_array_equal(a.profile_items, b.profile_items)


def test_bench_quick_rows():
    from coursekit.bench import u2

    rows = u2.run(quick=True)
    names = [r.what for r in rows]
    assert [f"sampling strategy {k}" for k in range(1, 7)] == names[:6]
    assert rows[0].ratio is not None and rows[0].ratio > 1  # vectorised beats the seed-style loop
    assert "counts agree: True" in rows[-1].note


def test_packed_bits_match_the_dense_matrix():
    import scipy.sparse as sp

    from coursekit.sampling.curatornet import _sorted_csr, row_bits

    m = _sorted_csr(sp.random(37, 101, density=0.2, random_state=0, format="csr"))
    np.testing.assert_array_equal(row_bits(m), np.packbits(m.toarray(), axis=1))


@pytest.mark.parametrize("rounds", [16, 0])  # 0: every sample drawn by the exact fallback
def test_outside_picks_are_uniform_over_free_columns(rounds):
    import scipy.sparse as sp

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
