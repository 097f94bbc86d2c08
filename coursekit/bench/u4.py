"""Unit 4 hot path: user-kNN top-10 for every user of the real ASOS purchases.

The kit's sparse :class:`~coursekit.models.knn.UserKNN` (k = 300 neighbours, all 43,607 users,
seen items excluded) beside the music seed's approach on a random subsample of users: a dense
pandas user x item matrix (built from per-user ``Counter`` dicts with ``json_normalize``), a dense
cosine matrix, neighbours by sorting each row in ``DataFrame.apply`` and one pandas aggregation per
user. The seed's approach only fits a subsample in memory; the ratio compares time per user.
Without the real data in the data home (``COURSEKIT_DATA``) the rows run on toy data of the
real size and say so.
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
        Row("u4", "user-kNN fit (k=300, all users)", size, fit_s, None, fit_peak,
            note=f"sparse cosine neighbours in user batches; HR@10 on valid {hr:.4f}"),
        Row("u4", "user-kNN top-10, per 1,000 users", size, kit_s / train.n_users * per,
            ref_s / len(sub_users) * per, peak,
            note=(f"kit: all {train.n_users:,} users in {kit_s:.2f} s; reference: seed-style dense pandas "
                  f"on {len(sub_users):,} sampled users ({ref_s:.1f} s), neighbours only within the sample")),
    ]
