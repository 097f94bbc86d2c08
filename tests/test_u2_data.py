"""Unit 2 data: the UGallery loader (real formats), the toy generator, clusters and inventory replay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit import DataError
from coursekit.datasets.ugallery import (
    FILES, SAFE_EMBEDDINGS, TOY_LOOKS, convert_embeddings, load_ugallery, read_ugallery,
)
from coursekit.inventory import (
    NEVER, evaluate_scores, last_basket_split, make_baskets, replay_inventory, replay_per_query,
)

SMALL = dict(n_artworks=400, n_artists=30, n_styles=8, n_users=120, emb_dim=32)


def _write_real(folder, purchases_rows, *, inventory_rows=None, pickle_rows=True):
    inventory_rows = inventory_rows or [("a1", "x", 0), ("a2", "x", 1), ("a3", "y", 2), ("a4", "y", 5)]
    (folder / FILES["inventory"]).write_text(
        "artwork_id_hash,artist_id_hash,upload_timestamp\n" + "".join(f"{a},{b},{t}\n" for a, b, t in inventory_rows))
    (folder / FILES["purchases"]).write_text(
        "user_id_hash,purchase_timestamp,purchased_artwork_ids_hash\n"
        + "".join(f'{u},{t},"{lst}"\n' for u, t, lst in purchases_rows))
    obj = np.empty((len(inventory_rows), 2), dtype=object)
    obj[:, 0] = [r[0] for r in inventory_rows][::-1]  # embedding order differs from the inventory
    obj[:, 1] = [np.full(3, float(i)) for i in range(len(inventory_rows))][::-1]
    np.save(folder / FILES["embeddings"], obj, allow_pickle=True)


def test_real_format_list_column_and_embeddings(tmp_path):
    _write_real(tmp_path, [("u1", 3, "['a1', 'a2']"), ("u2", 4, "['a3']"), ("u1", 9, "['a4']")])
    with pytest.raises(DataError, match="allow_pickle=True"):
        read_ugallery(tmp_path)
    assert not (tmp_path / SAFE_EMBEDDINGS).exists()
    with pytest.warns(UserWarning, match="pickle"):
        data = read_ugallery(tmp_path, allow_pickle=True)
    assert (tmp_path / SAFE_EMBEDDINGS).exists()
    np.testing.assert_array_equal(data.purchase_indptr, [0, 2, 3, 4])
    np.testing.assert_array_equal(data.artwork_ids[data.purchase_items], ["a1", "a2", "a3", "a4"])
    np.testing.assert_array_equal(data.embeddings[:, 0], [0, 1, 2, 3])  # rows follow the inventory
    np.testing.assert_array_equal(data.user_ids[data.purchase_user], ["u1", "u2", "u1"])
    np.testing.assert_array_equal(data.artist, [0, 0, 1, 1])
    # later loads use the safe archive and need no pickle
    (tmp_path / FILES["embeddings"]).write_bytes(b"not read any more")
    again = read_ugallery(tmp_path)
    np.testing.assert_array_equal(again.embeddings, data.embeddings)


def test_unknown_artwork_in_purchases_names_the_line(tmp_path):
    _write_real(tmp_path, [("u1", 3, "['a1']"), ("u2", 4, "['a3', 'zz9']")])
    with pytest.warns(UserWarning):
        convert_embeddings(tmp_path, allow_pickle=True)
    with pytest.raises(DataError, match=r"line 3.*artwork zz9 is not in ugallery_inventory.csv"):
        read_ugallery(tmp_path)


@pytest.mark.parametrize("bad", ["a1, a2", "['a1'; 'a2']", "[]", "['a1', '']"])
def test_malformed_list_is_a_clear_error(tmp_path, bad):
    _write_real(tmp_path, [("u1", 3, "['a1']"), ("u2", 4, bad)])
    with pytest.warns(UserWarning):
        convert_embeddings(tmp_path, allow_pickle=True)
    with pytest.raises(DataError, match=r"line 3, column 'purchased_artwork_ids_hash'"):
        read_ugallery(tmp_path)


def test_bad_timestamp_and_missing_embedding(tmp_path):
    _write_real(tmp_path, [("u1", "soon", "['a1']")])
    with pytest.warns(UserWarning):
        convert_embeddings(tmp_path, allow_pickle=True)
    with pytest.raises(DataError, match="line 2, column 'purchase_timestamp'"):
        read_ugallery(tmp_path)
    inv = [("a1", "x", 0), ("a2", "x", 1), ("a3", "y", 2), ("a4", "y", 5), ("a5", "y", 6)]
    other = tmp_path / "other"
    other.mkdir()
    _write_real(other, [("u1", 3, "['a1']")], inventory_rows=inv[:4])
    (other / FILES["inventory"]).write_text(
        "artwork_id_hash,artist_id_hash,upload_timestamp\n" + "".join(f"{a},{b},{t}\n" for a, b, t in inv))
    with pytest.warns(UserWarning):
        convert_embeddings(other, allow_pickle=True)
    with pytest.raises(DataError, match="have no embedding"):
        read_ugallery(other)


def test_real_source_without_files_says_what_to_do(empty_data_home):
    with pytest.raises(DataError, match="shared by its authors on request"):
        load_ugallery("real")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    home = tmp_path_factory.mktemp("ug")
    return load_ugallery("toy", seed=0, data_home=home, **SMALL), home


def test_toy_is_deterministic_and_realistic(toy):
    data, home = toy
    again = load_ugallery("toy", seed=0, data_home=home, **SMALL)
    np.testing.assert_array_equal(data.purchase_items, again.purchase_items)
    assert data.embeddings.shape == (400, 32) and (data.embeddings >= 0).all()
    counts = np.bincount(data.purchase_items, minlength=data.n_items)
    assert 0 < (counts > 1).sum() < 0.3 * data.n_items  # a few prints sell more than once
    assert np.diff(data.purchase_indptr).max() >= 2  # some baskets hold several artworks
    # every sale happens while the artwork is on offer
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    assert av.sold_before_upload == 0
    rows = np.repeat(np.arange(len(data.purchase_time)), np.diff(data.purchase_indptr))
    on_offer = av.mask(data.purchase_time)[rows, data.purchase_items]
    assert on_offer.all()
    # the toy images follow the artwork's style
    img = np.asarray(data.image(0))
    assert img.shape == (64, 64, 3)


def test_toy_purchases_follow_visual_taste(toy):
    data, _ = toy
    b = make_baskets(data.purchase_user, data.purchase_time, data.purchase_indptr, data.purchase_items,
                     data.n_users, data.n_items)
    split = last_basket_split(b, data.artist, data.styles, data.n_users)
    users = split.test_users
    test_items = b.items[np.concatenate([np.arange(b.indptr[t], b.indptr[t + 1]) for t in split.test_basket[users]])]
    test_users = np.repeat(users, b.sizes[split.test_basket[users]])
    liked_style = np.asarray(split.liked_clusters[test_users, data.styles[test_items]]).ravel()
    share_random = np.asarray(split.liked_clusters.sum(1)).ravel()[test_users].mean() / data.n_styles
    assert liked_style.mean() > share_random + 0.3  # held-out items mostly in styles the user bought


# --------------------------------------------------------------------------- the toy gallery's mechanisms
# At the default (quarter) scale, each mechanism of make_toy_ugallery is checked against the
# statistic it follows; ground truth the release does not ship (which artworks exist once) comes
# from the toy's own looks file.


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    data = load_ugallery("toy", seed=0, data_home=tmp_path_factory.mktemp("ug-default"))
    b = make_baskets(data.purchase_user, data.purchase_time, data.purchase_indptr, data.purchase_items,
                     data.n_users, data.n_items)
    with np.load(data.folder / TOY_LOOKS) as z:
        unique = z["unique"][pd.Index(z["ids"].astype(str)).get_indexer(data.artwork_ids)]
    return data, b, unique


def test_one_of_a_kind_artworks_sell_at_most_once_and_most_never_sell(gallery):
    data, b, unique = gallery
    counts = np.bincount(data.purchase_items, minlength=data.n_items)
    assert abs(unique.mean() - 0.78) < 0.03  # release: 78 % one-of-a-kind
    assert counts[unique].max() == 1  # no one-of-a-kind artwork is sold twice
    assert counts[~unique].max() >= 2  # editions can sell again
    assert 0.35 < (counts > 0).mean() < 0.55  # release: 6,030 of 13,297 ever bought (45 %)
    repeat = (counts[counts > 1] - 1).sum() / counts.sum()
    assert 0.04 < repeat < 0.15  # release: 505 of 6,535 purchases (7.7 %)
    # nobody buys the same artwork twice
    pairs = data.purchase_user[np.repeat(np.arange(len(data.purchase_time)), np.diff(data.purchase_indptr))]
    assert not pd.DataFrame({"u": pairs, "i": data.purchase_items}).duplicated().any()


def test_uploads_over_time_and_sold_artworks_leave(gallery):
    data, b, unique = gallery
    at_start = (data.upload_time == 0).mean()
    assert 0.25 < at_start < 0.35  # 30 % on offer at the start ...
    later = data.upload_time[data.upload_time > 0]
    assert np.histogram(later, bins=4)[0].min() > 0.2 * len(later)  # ... the rest uploaded all along
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    rows = np.repeat(np.arange(len(data.purchase_time)), np.diff(data.purchase_indptr))
    assert av.mask(data.purchase_time)[rows, data.purchase_items].all()  # bought while on offer
    counts = np.bincount(data.purchase_items, minlength=data.n_items)
    sold_unique = np.flatnonzero(unique & (counts == 1))
    assert len(sold_unique) > 0.3 * data.n_items
    assert (av.removal_time[sold_unique] != NEVER).all()  # a sold one-of-a-kind leaves at its sale
    assert not av.mask([data.purchase_time.max() + 1])[0, sold_unique].any()
    # the replay can only infer the rule from the log: an edition sold once looks one-of-a-kind
    assert ((av.removal_time != NEVER) & ~unique).any()
    on_offer = av.count(np.sort(data.purchase_time))
    assert on_offer.max() < data.n_items  # the inventory never holds the whole catalogue


def test_returning_collectors_and_baskets_follow_the_release(gallery):
    data, b, _ = gallery
    per_user = np.diff(b.user_ptr)
    assert abs(per_user.mean() - 1.68) < 0.15  # release: 4,897 baskets / 2,919 users
    assert 0.11 < (per_user >= 3).mean() < 0.21  # release: 455 of 2,919 with 3+ baskets (16 %)
    assert abs(b.sizes.mean() - 1.33) < 0.1  # release: 6,535 purchases / 4,897 baskets
    assert 0.1 < (b.sizes >= 2).mean() < 0.35 and b.sizes.max() >= 8  # several items, a long tail
    assert b.sizes.max() <= 21  # release: the largest basket holds 21


def _repeat_artist_shares(data, b):
    """(share of returning buyers' purchases by an artist they bought before, the same share if each
    of those purchases had picked an artwork on offer at random)."""
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    hits, expected = [], []
    for u in range(data.n_users):  # plain loops: an independent reference
        known: set = set()
        for j, bb in enumerate(range(b.user_ptr[u], b.user_ptr[u + 1])):
            items = b.items[b.indptr[bb]:b.indptr[bb + 1]]
            if j:
                hits += [int(data.artist[i]) in known for i in items]
                offer = data.artist[av.items_at(int(b.time[bb]))]
                expected += [np.isin(offer, list(known)).mean()] * len(items)
            known |= set(data.artist[items].tolist())
    return np.mean(hits), np.mean(expected)


def test_collectors_come_back_to_their_artists(gallery, tmp_path):
    from coursekit.inventory import repeat_artist_share

    data, b, _ = gallery
    share, by_chance = _repeat_artist_shares(data, b)
    assert share > 2 * by_chance and share > 0.3
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    np.testing.assert_allclose(repeat_artist_share(b, data.artist, av), (share, by_chance))  # vectorised = loops
    # the loyalty term causes part of it: without it, fewer purchases return to a known artist
    plain = load_ugallery("toy", seed=0, data_home=tmp_path, loyalty=0.0)
    pb = make_baskets(plain.purchase_user, plain.purchase_time, plain.purchase_indptr, plain.purchase_items,
                      plain.n_users, plain.n_items)
    assert _repeat_artist_shares(plain, pb)[0] < share - 0.05


def test_visual_clusters_are_weak_but_taste_is_visual(gallery):
    from coursekit.clusters import visual_clusters
    from coursekit.inventory import make_holdout
    from coursekit.models.visrank import RandomRanker, VisRank

    data, b, _ = gallery
    vc = visual_clusters(data.embeddings, n_components=64, n_clusters=40, n_restarts=1, seed=0)
    assert vc.silhouettes.max() < 0.15  # nuisance factors blur the clusters (release: 0.008)
    split = last_basket_split(b, data.artist, vc.labels, data.n_users)
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    h = make_holdout(split, av)
    p = split.profile[h.users]
    vis = evaluate_scores(VisRank().fit(vc.reduced).score_profiles(p.indptr, p.indices), h, ks=(20,))["auc"]
    rnd = evaluate_scores(RandomRanker(0).fit(data.n_items).score_profiles(p.indptr, p.indices), h, ks=(20,))["auc"]
    assert 0.65 < vis < 0.85 and vis > rnd + 0.15  # release: VisRank AUC 0.715 (CuratorNet paper)


def test_the_generator_truth_explains_the_purchases(gallery):
    """data.truth is the generator's own state: its utilities rank each basket's purchases far above
    the artworks on offer that the collector left (the Gumbel noise is all that is missing), and its
    table and pairwise forms agree."""
    data, b, _ = gallery
    truth = data.truth
    assert truth.latent.shape == (data.n_items, 16) and truth.taste.shape == (data.n_users, 16)
    assert truth.taste_width == 2.75 and truth.loyalty == 1.5
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    first = b.user_ptr[:-1][np.diff(b.user_ptr) > 0]  # each user's first basket: no known artist yet
    v = truth.utility_table(b.user[first])
    offer = av.mask(b.time[first])
    bought = np.zeros_like(offer)
    rows = np.repeat(np.arange(len(first)), b.sizes[first])
    bought[rows, np.concatenate([b.items[b.indptr[x]:b.indptr[x + 1]] for x in first])] = True
    # the rank of the bought artworks among those on offer: near the top (noise-free utility)
    u, i = b.user[first][rows], np.flatnonzero(bought.ravel()) % data.n_items
    on_offer_v = np.where(offer, v, -np.inf)[rows]  # one row per purchase
    share_above = (on_offer_v > v[rows, i][:, None]).sum(1) / offer.sum(1)[rows]
    assert np.median(share_above) < 0.1
    np.testing.assert_allclose(truth.utility(u, i), v[rows, i])
    np.testing.assert_allclose(truth.utility(u, i, np.ones(len(u), bool)), v[rows, i] + 1.5)
    np.testing.assert_allclose(truth.preference([0.0, 1.0], [0.0, 0.0]), [0.5, 1 / (1 + np.e)])


def test_replay_matches_step_by_step_reference():
    rng = np.random.default_rng(4)
    n_items = 60
    upload = rng.integers(0, 80, n_items)
    times = np.sort(rng.choice(np.arange(0, 120), 40, replace=False))
    lengths = rng.integers(1, 4, 40)
    items = rng.integers(0, n_items, lengths.sum())
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    av = replay_inventory(upload, times, indptr, items)
    queries = np.concatenate([times, [0, 50, 200]])
    mask = av.mask(queries)
    for row, t in enumerate(queries):
        assert set(np.flatnonzero(mask[row]).tolist()) == replay_per_query(upload, times, indptr, items, int(t))
    np.testing.assert_array_equal(av.count(queries), mask.sum(1))


def test_replay_rules_by_hand():
    upload = np.array([0, 0, 5, 0])
    times = np.array([2, 4, 6])
    indptr = np.array([0, 2, 3, 4])
    items = np.array([0, 1, 1, 2])  # item 1 is a print (sold twice), 0 and 2 one-of-a-kind
    av = replay_inventory(upload, times, indptr, items)
    np.testing.assert_array_equal(av.removal_time, [2, NEVER, 6, NEVER])
    np.testing.assert_array_equal(av.mask([2, 3, 6, 7]), [[1, 1, 0, 1], [0, 1, 0, 1], [0, 1, 1, 1], [0, 1, 0, 1]])


def test_baskets_and_last_basket_split():
    # user 0: two rows at time 3 form one basket; user 1: one basket only (kept for training)
    user = np.array([0, 0, 1, 0])
    time = np.array([3, 3, 4, 8])
    indptr = np.array([0, 1, 3, 4, 6])
    items = np.array([5, 2, 5, 1, 4, 0])
    b = make_baskets(user, time, indptr, items, n_users=2, n_items=6)
    assert b.n_baskets == 3
    np.testing.assert_array_equal(b.items[b.indptr[0]:b.indptr[1]], [2, 5])  # repeated item 5 once
    artist = np.array([0, 0, 1, 1, 2, 2])
    cluster = np.array([0, 1, 0, 1, 0, 1])
    split = last_basket_split(b, artist, cluster, n_users=2)
    np.testing.assert_array_equal(split.test_basket, [1, -1])
    np.testing.assert_array_equal(split.profile.toarray().astype(int), [[0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(split.liked_artists.toarray(), [[0, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(split.liked_clusters.toarray(), [[1, 1], [0, 1]])
    assert split.train.n_baskets == 2


def test_real_ugallery_when_present(real_data_home):
    folder = real_data_home / "ugallery"
    if not (folder / FILES["inventory"]).exists():
        pytest.skip(f"real UGallery files not found in {folder}")
    safe = (folder / SAFE_EMBEDDINGS).exists()
    if not safe:
        pytest.skip("the real embeddings need a one-time conversion with allow_pickle=True")
    data = read_ugallery(folder)
    assert data.n_items == 13_297 and data.n_users == 2_919 and data.embeddings.shape[1] == 2048
