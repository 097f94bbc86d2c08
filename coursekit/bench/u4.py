"""Unit 4 hot path: user-kNN top-10 for every user of the real ASOS purchases.

The kit's sparse :class:`~coursekit.models.knn.UserKNN` (k = 300 neighbours, all 43,607 users,
seen items excluded) beside the music seed's approach on a random subsample of users: a dense
pandas user x item matrix (built from per-user ``Counter`` dicts with ``json_normalize``), a dense
cosine matrix, neighbours by sorting each row in ``DataFrame.apply`` and one pandas aggregation per
user. The seed's approach only fits a subsample in memory; the ratio compares time per user.
Without the real data in the data home (``COURSEKIT_DATA``) the rows run on toy data of the
real size and say so.

Two rows time matrix factorisation on the play counts (Last.fm-2k when it is in the data home, else
toy 30Music counts): the exact ALS step for every user at once (:func:`~coursekit.models.mf.als_solve`,
one sparse product and a batched solve) beside the per-user loop of the normal equations, and a
whole ALS fit of the kit (conjugate gradient, vectorised NumPy) with ``implicit``'s time (Cython)
in the note.

A further row times the two-tower model's positive pairs under the seed's rule (an artist is a
positive when it has at least 10 % of the user's plays) on toy 30Music play counts: the kit's
:func:`~coursekit.interactions.row_shares` on the sparse matrix against the seed's ``create_sample``
loop over per-user ``Counter`` dicts (which also computes, per user, the set of artists not played to
draw its negatives from; the kit draws negatives per training batch instead).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from . import Row, measure, timed

K_NEIGHBOURS = 300


def _seed_style(df: pd.DataFrame, k: int, n: int) -> dict:
    """The seed notebook's user-kNN on a dense pandas matrix (with the weights it meant to use)."""
    from sklearn.metrics.pairwise import cosine_similarity

    per_user = df.groupby("user_id")["product_id"].agg(list)
    matrix = pd.json_normalize([dict(Counter(map(str, items))) for items in per_user]).fillna(0)
    matrix.index = per_user.index
    sim = cosine_similarity(matrix.values)
    np.fill_diagonal(sim, 0)
    sim = pd.DataFrame(sim, index=matrix.index, columns=matrix.index)
    k = min(k, len(sim) - 1)
    neighbours = sim.apply(lambda row: pd.Series(row.sort_values(ascending=False).iloc[:k].index), axis=1)
    out = {}
    for user in matrix.index:  # the seed's recommend_to_user, once per user
        listened = matrix.loc[user]
        listened = listened[listened > 0]
        knn = neighbours.loc[user].tolist()
        weights = sim.loc[user, knn]
        votes = matrix.loc[knn].mul(weights, axis=0).sum()
        votes = votes[votes > 0]
        candidates = list(set(votes.index) - set(listened.index))
        out[user] = votes.loc[candidates].sort_values(ascending=False)[:n].index.tolist()
    return out


def _seed_create_sample(session_dict: dict, all_artist_ids: list, negative: float = 1e-5,
                        positive: float = 0.1, seed: int = 0) -> list:
    """The seed's ``create_sample``: (user, artist, +1) for artists with >= 10 % of the user's plays,
    (user, artist, -1) for a random ``negative`` fraction of the artists the user never played."""
    import random

    rnd = random.Random(seed)
    sample = []
    for user, session in session_dict.items():
        factor = 1.0 / sum(session.values())
        for artist in session:
            if session[artist] * factor >= positive:
                sample.append([user, artist, 1])
        not_listened = list(set(all_artist_ids) - set(session.keys()))
        for i in rnd.sample(range(len(not_listened)), int(len(not_listened) * negative)):
            sample.append([user, not_listened[i], -1])
    return sample


def _kit_positives(matrix, min_share: float = 0.1):
    from ..interactions import row_shares

    share = row_shares(matrix)
    keep = share.data >= min_share
    rows = np.repeat(np.arange(share.shape[0]), np.diff(share.indptr))
    return rows[keep], share.indices[keep]


def _positives_row(quick: bool) -> Row:
    from ..datasets.music30 import load_music30
    from ..interactions import Interactions

    data = load_music30("toy", seed=0)
    counts = data.user_artist_counts()
    inter = Interactions.from_frame(counts, "user_id", "artist_id", "plays")
    per_user = {u: dict(zip(g["artist_id"], g["plays"])) for u, g in counts.groupby("user_id")}
    artists = data.artists["artist_id"].tolist()
    (u, a), kit_s, peak = measure(_kit_positives, inter.matrix, repeat=3)
    ref, ref_s = timed(_seed_create_sample, per_user, artists, repeat=1 if quick else 3)
    n_ref = sum(1 for row in ref if row[2] == 1)
    # exactly 10 % (e.g. 3 of 30 plays): the seed's count * (1 / total) can round below 0.1, the
    # kit's count / total cannot; every other pair must agree
    m = inter.matrix.tocsr()
    exact = int(np.sum(m.data * 10 == np.repeat(np.asarray(m.sum(axis=1)).ravel(), np.diff(m.indptr))))
    assert n_ref <= len(u) <= n_ref + exact, f"the kit found {len(u)} positives, the seed's loop {n_ref}"
    return Row("u4", "two-tower positives, 10 % rule", f"{inter.n_users:,} users x {inter.n_items:,} artists (toy)",
               kit_s, ref_s, peak, note=f"{len(u):,} positives ({exact} at exactly 10 %, which the seed's "
                                        f"count * (1 / total) can miss); reference: the seed's create_sample loop")


def _play_counts():
    """(Interactions of play counts, label): Last.fm-2k from the data home, else toy 30Music counts."""
    from ..datasets import real_path
    from ..datasets.listening import load_listening
    from ..errors import DataError
    from ..interactions import Interactions

    try:
        real_path("lastfm2k", download_if_missing=False)  # never download in a benchmark
        data, label = load_listening("lastfm"), "Last.fm-2k"
    except DataError:
        data, label = load_listening("toy"), "toy 30Music"
    inter = Interactions.from_frame(data.counts, "user_id", "artist_id", "plays")
    return inter, f"{inter.n_users:,} users x {inter.n_items:,} artists ({label})"


def _als_rows(quick: bool) -> list[Row]:
    from ..grading.exercises.u4 import als_reference
    from ..models.mf import ImplicitALS, ImplicitLibraryALS, als_solve, confidence

    inter, size = _play_counts()
    w = confidence(inter.matrix)
    y = np.random.default_rng(0).normal(0, 0.1, (inter.n_items, 16))
    x, kit_s, peak = measure(als_solve, w, y, 1.0, repeat=1 if quick else 3)
    ref, ref_s = timed(als_reference, w, y, 1.0)
    assert np.allclose(x, ref, atol=1e-6), "the batched ALS step and the per-user loop disagree"
    rows = [Row("u4", "ALS step, every user (f = 16)", size, kit_s, ref_s, peak,
                note="batched normal equations (one sparse product, one stacked solve) vs a loop over users")]
    iterations = 5 if quick else 15
    kit, fit_s, fit_peak = measure(ImplicitALS(factors=64, iterations=iterations).fit, inter)
    lib, lib_s = timed(ImplicitLibraryALS(factors=64, iterations=iterations).fit, inter)
    rows.append(Row("u4", f"ALS fit, 64 factors, {iterations} sweeps", size, fit_s, None, fit_peak,
                    note=f"kit: conjugate gradient in NumPy; implicit 0.7 (Cython, the reference model) took "
                         f"{lib_s:.2f} s for the same sweeps"))
    return rows


def run(quick: bool = False) -> list[Row]:
    from ..interactions import Interactions
    from ..models.knn import UserKNN

    from ._asos import asos_for_bench

    data, source = asos_for_bench()
    train = Interactions.from_frame(data.train, "user_id", "product_id")
    model, fit_s, fit_peak = measure(UserKNN(k=K_NEIGHBOURS).fit, train)
    recs, kit_s, peak = measure(model.recommend, train.user_ids, 10)
    n_ref = 300 if quick else 1500
    rng = np.random.default_rng(0)
    sub_users = rng.choice(train.user_ids, size=min(n_ref, train.n_users), replace=False)
    sub = data.train[data.train["user_id"].isin(sub_users)]
    _, ref_s = timed(_seed_style, sub, K_NEIGHBOURS, 10)
    from ..evaluation import evaluate_model

    hr = evaluate_model(model, train, data.valid, k=10, item_col="product_id").mean["hr@10"]
    size = f"{train.n_users:,} users x {train.n_items:,} items ({source})"
    per = 1000  # report time per 1,000 users so the kit's figure is readable
    return [
        *_als_rows(quick),
        _positives_row(quick),
        Row("u4", "user-kNN fit (k=300, all users)", size, fit_s, None, fit_peak,
            note=f"sparse cosine neighbours in user batches; HR@10 on valid {hr:.4f}"),
        Row("u4", "user-kNN top-10, per 1,000 users", size, kit_s / train.n_users * per,
            ref_s / len(sub_users) * per, peak,
            note=(f"kit: all {train.n_users:,} users in {kit_s:.2f} s; reference: seed-style dense pandas "
                  f"on {len(sub_users):,} sampled users ({ref_s:.1f} s), neighbours only within the sample")),
    ]
