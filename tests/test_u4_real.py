"""User-kNN on the real ASOS purchases: all users, seen items excluded (skipped without the data)."""

import time
import tracemalloc

import numpy as np
import pytest

from coursekit.evaluation import evaluate_model
from coursekit.interactions import Interactions
from coursekit.models.knn import Popularity, UserKNN

pytestmark = pytest.mark.real_data


@pytest.fixture
def asos(real_data_home):
    from coursekit.datasets.asos import FILES, load_asos

    missing = [name for name, _ in FILES.values() if not (real_data_home / "asos" / name).exists()]
    if missing:
        pytest.skip(f"real ASOS data not found in {real_data_home / 'asos'} (missing {missing[0]})")
    return load_asos("real", data_home=real_data_home)


def test_user_knn_on_all_asos_users(asos):
    train = Interactions.from_frame(asos.train, "user_id", "product_id")
    assert train.n_users == 43_607  # every user has a training purchase
    model = UserKNN(k=300).fit(train)
    t0 = time.perf_counter()
    recs = model.recommend(train.user_ids, n=10)
    seconds = time.perf_counter() - t0
    # peak memory of recommending, traced separately (tracing slows the run down a little); the
    # process's own peak RSS would also count whatever other tests loaded before this one
    tracemalloc.start()
    again = model.recommend(train.user_ids, n=10)
    peak_gib = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    assert seconds <= 5.0, f"recommending for every user took {seconds:.1f} s (budget 5 s)"
    assert peak_gib <= 2.0, f"peak memory {peak_gib:.2f} GiB (budget 2 GiB)"
    assert recs.shape == (train.n_users, 10)
    np.testing.assert_array_equal(again, recs)  # deterministic
    # no seen item is ever recommended
    rows = np.repeat(np.arange(train.n_users), 10)
    cols = train.item_index(recs.ravel())
    assert not np.asarray(train.matrix[rows, cols]).any()

    result = evaluate_model(model, train, asos.valid, k=10, item_col="product_id")
    pop = evaluate_model(Popularity().fit(train), train, asos.valid, k=10, item_col="product_id")
    assert result.mean["hr@10"] >= 0.035
    assert result.mean["hr@10"] >= 1.5 * pop.mean["hr@10"]
    # the evaluation ranked exactly the lists recommend() returned: recount the hits from recs
    valid = asos.valid
    first = result.per_user["user"].to_numpy()[:2000]
    pairs = set(zip(valid["user_id"], valid["product_id"]))
    recount = [any((u, p) in pairs for p in row) for u, row in zip(first, recs[train.user_index(first)])]
    np.testing.assert_array_equal(result.per_user["hr@10"].to_numpy()[:2000], np.array(recount, float))
