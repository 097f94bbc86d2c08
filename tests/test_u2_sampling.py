"""Unit 2 sampling: the six strategies (numbered as in the seed and the CuratorNet paper) obey their
rules, and each sanity check catches a corrupted sample under its number."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.bench.u2 import build_context
from coursekit.sampling.curatornet import (
    SAMPLERS, VARIANTS, SamplingError, check_triples, concat_triples, member, random_negatives, sample_all,
    split_triples, training_set,
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


def _basket_items(t, b):
    return set(t.items[t.indptr[b]:t.indptr[b + 1]].tolist())


def test_rules_by_independent_dense_lookup(ctx, samples):
    prof = ctx.profile.toarray()
    la, lc = ctx.liked_artists.toarray(), ctx.liked_clusters.toarray()
    t = ctx.train
    # 1: the rest of THAT basket only (the seed's rule), the hidden item, a negative outside taste
    tr = samples[1]
    table = tr.table()
    assert not la[tr.user, ctx.artist[tr.neg]].any() and not lc[tr.user, ctx.cluster[tr.neg]].any()
    for j in range(0, 3000, 150):  # rebuilt with plain Python sets
        basket = _basket_items(t, tr.basket[j])
        assert len(basket) >= 2 and t.user[tr.basket[j]] == tr.user[j]
        assert set(table[tr.profile[j]].indices.tolist()) == basket - {tr.pos[j]}
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
    # 5: an artificial profile of 1-3 items of one cluster
    tr = samples[5]
    table = tr.table().tocsr()
    sizes = np.diff(table.indptr)[tr.profile]
    assert sizes.min() == 1 and sizes.max() == 3 and (tr.user == -1).all()
    for j in range(0, 3000, 150):
        items = table[tr.profile[j]].indices
        assert len(set(ctx.cluster[items].tolist())) == 1
        assert tr.pos[j] in items and tr.neg[j] not in items
    # 6: another work by the query's artist vs a farther work by another artist
    tr = samples[6]
    q = tr.profile_items[tr.profile_indptr[tr.profile]]
    d = lambda a, b: np.linalg.norm(ctx.features[a] - ctx.features[b], axis=1)  # noqa: E731
    assert (ctx.artist[tr.pos] == ctx.artist[q]).all() and (tr.pos != q).all()
    assert (ctx.artist[tr.neg] != ctx.artist[q]).all() and (d(q, tr.neg) > d(q, tr.pos)).all()


def test_strategy_1_profile_leaves_out_earlier_baskets(ctx, samples):
    """The kit once added the user's earlier baskets to strategy 1's profile: the check refuses that."""
    tr = samples[1]
    t = ctx.train
    j = next(j for j in range(len(tr)) if tr.basket[j] > t.user_ptr[tr.user[j]])  # a basket with an earlier one
    u, b = tr.user[j], tr.basket[j]
    earlier = [i for bb in range(t.user_ptr[u], b) for i in _basket_items(t, bb)]
    wrong = np.union1d(tr.table()[tr.profile[j]].indices, earlier)
    bad = _with_profile_row(tr, j, wrong)
    with pytest.raises(SamplingError, match=r"strategy 1 \(missing item of a basket\).*rest of that basket only"):
        check_triples(bad, ctx)


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


def test_negatives_are_uniform_over_allowed_items(ctx, samples):
    tr = samples[4]
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
    (1, "pos", "other basket", "positive in the basket"),
    (1, "profile", "other row", "rest of that basket only"),
    (1, "neg", "liked item", "negative by an artist"),
    (2, "pos", "other basket", "positive in the basket"),
    (2, "profile", "other row", "earlier baskets"),
    (2, "neg", "liked item", "negative by an artist"),
    (3, "pos", "profile item", "positive outside the profile"),
    (3, "neg", "liked item", "negative by an artist"),
    (4, "neg", "profile item", "negative outside the profile"),
    (4, "pos", "outside item", "positive in the profile"),
    (5, "neg", "same as pos", "negative outside the profile"),
    (5, "profile", "two clusters", "one visual cluster"),
    (6, "neg", "same artist", "negative by another artist"),
    (6, "neg", "closest", "farther"),
])
def test_checks_fail_loudly_on_one_corrupted_sample(ctx, samples, k, field, how, rule):
    tr = samples[k]
    j = 1234
    u = tr.user[j]
    profile_items = ctx.profile.indices[ctx.profile.indptr[u]:ctx.profile.indptr[u + 1]] if u >= 0 else None
    if how in ("profile item", "liked item"):
        value = profile_items[0]
    elif how == "outside item":
        value = next(i for i in range(ctx.n_items) if i not in set(profile_items.tolist()))
    elif how in ("same as pos", "same artist"):
        value = tr.pos[j]
    elif how == "closest":
        q = tr.profile_items[tr.profile_indptr[tr.profile[j]]]
        other = np.flatnonzero(ctx.artist != ctx.artist[q])
        value = other[np.argmin(np.linalg.norm(ctx.features[other] - ctx.features[q], axis=1))]
    elif how == "other basket":
        t = ctx.train
        value = next(i for i in range(ctx.n_items) if not member(t.matrix().tocsr(), [tr.basket[j]], [i])[0])
    elif how == "two clusters":
        row = tr.table()[tr.profile[j]].indices
        other = np.flatnonzero(ctx.cluster != ctx.cluster[row[0]])[0]
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


def test_concat_split_and_random_negatives(ctx, samples):
    both = concat_triples([samples[4], samples[2], samples[1]])
    assert check_triples(both, ctx) == 9000
    train, valid = split_triples(both, 0.1, seed=0)
    assert len(train) + len(valid) == 9000 and len(valid) == 900
    rnd = random_negatives(both, seed=0)
    table = rnd.table().tocsr()
    table.sort_indices()
    assert not member(table, rnd.profile, rnd.neg).any() and (rnd.neg != rnd.pos).all()
    np.testing.assert_array_equal(rnd.pos, both.pos)
    # random negatives break the guided rule of strategies 1 and 2 somewhere
    with pytest.raises(SamplingError, match="negative by an artist the user never bought"):
        check_triples(rnd, ctx)


def test_training_sets_of_the_ablation(ctx):
    sets = {v: training_set(ctx, v, 1200, seed=5) for v in VARIANTS}
    assert all(len(tr) == 1200 for tr in sets.values())
    for k in range(1, 7):
        assert (sets[f"strategy_{k}"].strategy == k).all()
    assert (np.bincount(sets["all"].strategy, minlength=7)[1:] == 200).all()
    np.testing.assert_array_equal(sets["random"].pos, sets["all"].pos)  # the negatives differ only
    np.testing.assert_array_equal(sets["random"].profile, sets["all"].profile)
    assert (sets["random"].neg != sets["all"].neg).mean() > 0.9
    check_triples(sets["all"], ctx)
    with pytest.raises(ValueError, match="unknown variant"):
        training_set(ctx, "guided", 10)


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
