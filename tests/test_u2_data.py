"""Unit 2 data: the UGallery loader (real formats), the toy generator, clusters and inventory replay."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import DataError
from coursekit.datasets.ugallery import (
    FILES, SAFE_EMBEDDINGS, convert_embeddings, load_ugallery, read_ugallery,
)
from coursekit.inventory import (
    NEVER, last_basket_split, make_baskets, replay_inventory, replay_per_query,
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
