"""Unit 1: a catalogue of plausible wrong answers, each of which must lose points.

Every answer below is run the way the grader scores it (the visible check plus the solution
notebook's hidden parts, ``tests/_exercise_helpers.hidden_points``). The right answers, written
here independently of the package, must earn every point; each wrong one (the classic
off-by-one, a Python loop the text forbids, an unsorted top-k, a shape-only answer, ...) must
earn fewer. The step counter the hidden parts use to enforce "no Python loop" is tested at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coursekit.grading.enforce import python_steps

from ._exercise_helpers import hidden_points

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "01_content_based_art.ipynb"
NAMES = {"u1.zscore": "zscore", "u1.cosine_topk": "cosine_top_k", "u1.recommend": "recommend_for_profile",
         "u1.ndcg": "ndcg_at_k", "u1.mmr": "mmr_rerank"}


def _unit(f):
    f = np.asarray(f, dtype=np.float64)
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def _best_first(scores, k):
    return np.argsort(-scores, kind="stable")[:k]


# --------------------------------------------------------------------------- u1.zscore

def zscore_right(x):
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)


def zscore_loop(x):  # right values, one Python iteration per dimension
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for j in range(x.shape[1]):
        column = x[:, j]
        out[:, j] = (column - column.mean()) / (column.std() or 1.0)
    return out


def _standardise_column(column):
    return (column - column.mean()) / (column.std() or 1.0)


def zscore_loop_in_a_comprehension(x):  # the loop moved into a comprehension and a helper
    x = np.asarray(x, dtype=np.float64)
    return np.stack([_standardise_column(x[:, j]) for j in range(x.shape[1])], axis=1)


def zscore_apply_along_axis(x):  # no loop in sight, but NumPy calls a Python function per column
    x = np.asarray(x, dtype=np.float64)
    return np.apply_along_axis(lambda column: (column - column.mean()) / (column.std() or 1.0), 0, x)


def zscore_map_library(x):  # one library call per column, from a map
    x = np.asarray(x, dtype=np.float64)
    means, stds = np.array(list(map(np.mean, x.T))), np.array(list(map(np.std, x.T)))
    return (x - means) / np.where(stds == 0, 1.0, stds)


def zscore_no_guard(x):  # a dead column becomes NaN
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean(axis=0)) / x.std(axis=0)


def zscore_sample_std(x):  # off by one degree of freedom
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0, ddof=1)
    return (x - x.mean(axis=0)) / np.where(std == 0, 1.0, std)


def zscore_rows(x):  # standardises every row instead of every column
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=1, keepdims=True)
    return (x - x.mean(axis=1, keepdims=True)) / np.where(std == 0, 1.0, std)


def zscore_centre_only(x):
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=0)


def zscore_shape_only(x):
    return np.zeros(np.shape(x))


# --------------------------------------------------------------------------- u1.cosine_topk

def _cosine_scores(features, query):
    unit = _unit(features)
    return unit @ unit[query]


def topk_right(features, query, k):
    scores = _cosine_scores(features, query)
    scores[query] = -np.inf
    return _best_first(scores, k)


def topk_off_by_one(features, query, k):  # "the query is always first": not when a copy of it ties
    return np.argsort(-_cosine_scores(features, query), kind="stable")[1:k + 1]


def topk_drops_by_score(features, query, k):  # leaves out everything as similar as the query itself
    scores = _cosine_scores(features, query)
    scores[scores >= scores[query]] = -np.inf
    return _best_first(scores, k)


def topk_unsorted(features, query, k):  # the right k, in argpartition's order
    scores = _cosine_scores(features, query)
    scores[query] = -np.inf
    return np.argpartition(-scores, k - 1)[:k][::-1]


def topk_dot_product(features, query, k):
    scores = np.asarray(features, dtype=np.float64) @ np.asarray(features, dtype=np.float64)[query]
    scores[query] = -np.inf
    return _best_first(scores, k)


def topk_query_included(features, query, k):
    return _best_first(_cosine_scores(features, query), k)


def topk_one_short(features, query, k):
    return topk_right(features, query, k)[: k - 1]


def topk_shape_only(features, query, k):
    return np.arange(k)


# --------------------------------------------------------------------------- u1.recommend

def recommend_right(features, consumed, k):
    unit = _unit(features)
    scores = (unit[consumed] @ unit.T).mean(axis=0)
    scores[consumed] = -np.inf
    return _best_first(scores, k)


def recommend_keeps_consumed(features, consumed, k):
    unit = _unit(features)
    return _best_first((unit[consumed] @ unit.T).mean(axis=0), k)


def recommend_sum_of_distances(features, consumed, k):  # the seed's pitfall: Euclidean distances
    f = np.asarray(features, dtype=np.float64)
    distance = np.linalg.norm(f[consumed][:, None, :] - f[None, :, :], axis=2).sum(axis=0)
    distance[consumed] = np.inf
    return np.argsort(distance, kind="stable")[:k]


def recommend_unsorted(features, consumed, k):
    unit = _unit(features)
    scores = (unit[consumed] @ unit.T).mean(axis=0)
    scores[consumed] = -np.inf
    return np.argpartition(-scores, k - 1)[:k][::-1]


def recommend_dot_product(features, consumed, k):
    f = np.asarray(features, dtype=np.float64)
    scores = (f[consumed] @ f.T).mean(axis=0)
    scores[consumed] = -np.inf
    return _best_first(scores, k)


def recommend_max_similarity(features, consumed, k):  # another score than the one the text asks for
    unit = _unit(features)
    scores = (unit[consumed] @ unit.T).max(axis=0)
    scores[consumed] = -np.inf
    return _best_first(scores, k)


def recommend_one_short(features, consumed, k):
    return recommend_right(features, consumed, k)[: k - 1]


def recommend_shape_only(features, consumed, k):
    return np.arange(k)


# --------------------------------------------------------------------------- u1.ndcg

def _dcg(hits, ranks_from):
    return float((hits / np.log2(np.arange(len(hits)) + ranks_from)).sum())


def ndcg_right(recommended, relevant, k):
    hits = np.isin(np.asarray(recommended)[:k], relevant).astype(float)
    ideal = np.ones(min(len(relevant), k))
    return _dcg(hits, 2) / _dcg(ideal, 2) if len(ideal) else 0.0


def ndcg_rank_off_by_one(recommended, relevant, k):  # discounts by log2(rank + 2) with ranks from 1
    hits = np.isin(np.asarray(recommended)[:k], relevant).astype(float)
    ideal = np.ones(min(len(relevant), k))
    return _dcg(hits, 3) / _dcg(ideal, 3) if len(ideal) else 0.0


def ndcg_ideal_over_all_relevant(recommended, relevant, k):
    hits = np.isin(np.asarray(recommended)[:k], relevant).astype(float)
    return _dcg(hits, 2) / _dcg(np.ones(len(relevant)), 2) if len(relevant) else 0.0


def ndcg_ideal_over_k(recommended, relevant, k):
    hits = np.isin(np.asarray(recommended)[:k], relevant).astype(float)
    return _dcg(hits, 2) / _dcg(np.ones(k), 2)


def ndcg_unnormalised(recommended, relevant, k):
    return _dcg(np.isin(np.asarray(recommended)[:k], relevant).astype(float), 2)


def ndcg_whole_list(recommended, relevant, k):  # ignores k
    hits = np.isin(np.asarray(recommended), relevant).astype(float)
    ideal = np.ones(min(len(relevant), len(hits)))
    return _dcg(hits, 2) / _dcg(ideal, 2) if len(ideal) else 0.0


def ndcg_precision(recommended, relevant, k):
    return float(np.isin(np.asarray(recommended)[:k], relevant).sum()) / k


def ndcg_constant(recommended, relevant, k):
    return 1.0


# --------------------------------------------------------------------------- u1.mmr

def _mmr(scores, features, k, lam, *, similarity, penalty="max", remove_picked=True):
    value = np.where(np.isfinite(scores), lam * np.asarray(scores, dtype=np.float64), -np.inf)
    closest = np.zeros(len(value))
    total = np.zeros(len(value))
    picked = []
    for step in range(k):
        best = int(np.argmax(value - (1 - lam) * (closest if penalty == "max" else total / max(step, 1))))
        picked.append(best)
        if remove_picked:
            value[best] = -np.inf
        sim = similarity(features) @ similarity(features)[best]
        closest = sim if step == 0 else np.maximum(closest, sim)
        total = total + sim
    return np.array(picked)


def mmr_right(scores, features, k, lam):
    return _mmr(scores, features, k, lam, similarity=_unit)


def mmr_item_loop(scores, features, k, lam):  # right picks, one Python iteration per item and pick
    unit = _unit(features)
    value = np.where(np.isfinite(scores), lam * np.asarray(scores, dtype=np.float64), -np.inf)
    closest = np.zeros(len(value))
    picked = []
    for _ in range(k):
        best = int(np.argmax(value - closest))
        picked.append(best)
        value[best] = -np.inf
        sims = (1 - lam) * (unit @ unit[best])
        for i in range(len(value)):
            if sims[i] > closest[i] or len(picked) == 1:
                closest[i] = sims[i]
    return np.array(picked)


def mmr_dot_product(scores, features, k, lam):
    return _mmr(scores, features, k, lam, similarity=lambda f: np.asarray(f, dtype=np.float64))


def mmr_mean_penalty(scores, features, k, lam):  # the mean similarity to the picked items, not the largest
    return _mmr(scores, features, k, lam, similarity=_unit, penalty="mean")


def mmr_picks_twice(scores, features, k, lam):
    return _mmr(scores, features, k, lam, similarity=_unit, remove_picked=False)


def mmr_plain_top_k(scores, features, k, lam):
    return _best_first(np.asarray(scores, dtype=np.float64), k)


def mmr_weights_swapped(scores, features, k, lam):  # lambda on the redundancy, 1 - lambda on the relevance
    return _mmr(scores, features, k, 1 - lam if lam < 1 else lam, similarity=_unit)


def mmr_shape_only(scores, features, k, lam):
    return np.arange(k)


RIGHT = {"u1.zscore": zscore_right, "u1.cosine_topk": topk_right, "u1.recommend": recommend_right,
         "u1.ndcg": ndcg_right, "u1.mmr": mmr_right}
WRONG = {
    "u1.zscore": [zscore_loop, zscore_loop_in_a_comprehension, zscore_apply_along_axis, zscore_map_library,
                  zscore_no_guard, zscore_sample_std, zscore_rows,
                  zscore_centre_only, zscore_shape_only],
    "u1.cosine_topk": [topk_off_by_one, topk_drops_by_score, topk_unsorted, topk_dot_product, topk_query_included,
                       topk_one_short, topk_shape_only],
    "u1.recommend": [recommend_keeps_consumed, recommend_sum_of_distances, recommend_unsorted, recommend_dot_product,
                     recommend_max_similarity, recommend_one_short, recommend_shape_only],
    "u1.ndcg": [ndcg_rank_off_by_one, ndcg_ideal_over_all_relevant, ndcg_ideal_over_k, ndcg_unnormalised,
                ndcg_whole_list, ndcg_precision, ndcg_constant],
    "u1.mmr": [mmr_item_loop, mmr_dot_product, mmr_mean_penalty, mmr_picks_twice, mmr_plain_top_k,
               mmr_weights_swapped, mmr_shape_only],
}


def _points(exercise, answer):
    return hidden_points(SOLUTION, exercise, NAMES[exercise], answer, np=np)


@pytest.mark.parametrize("exercise", list(RIGHT))
def test_a_right_answer_earns_every_point(exercise):
    points, maximum = _points(exercise, RIGHT[exercise])
    assert points == maximum, f"{exercise}: {points} of {maximum}"


# the wrong answers that lose exactly one part: what the text forbids, with the right values
ONE_PART = {zscore_loop, zscore_loop_in_a_comprehension, zscore_apply_along_axis, zscore_map_library, topk_off_by_one,
            mmr_item_loop}


@pytest.mark.filterwarnings("ignore:invalid value encountered", "ignore:divide by zero encountered")
@pytest.mark.parametrize("exercise, answer", [(e, a) for e, answers in WRONG.items() for a in answers],
                         ids=[f"{e}-{a.__name__}" for e, answers in WRONG.items() for a in answers])
def test_a_wrong_answer_loses_points(exercise, answer):
    points, maximum = _points(exercise, answer)
    assert points < maximum, f"{exercise}: {answer.__name__} earned all {maximum} points"
    if answer in ONE_PART:  # right values: only the part that enforces the text catches it
        assert points == maximum - 1, (answer.__name__, points, maximum)


def test_the_duplicate_part_is_what_catches_the_off_by_one():
    """The classic off-by-one is right whenever the query is the only row pointing its way: only a
    copy of the query placed before the query's own row exposes it."""
    features = np.array([[2.0, 0.0], [0.0, 1.0], [5.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    assert topk_off_by_one(features, 0, 3).tolist() == topk_right(features, 0, 3).tolist() == [2, 4, 3]
    assert topk_off_by_one(features, 2, 3).tolist() == [2, 4, 3]  # the query itself comes back
    assert topk_right(features, 2, 3).tolist() == [0, 4, 3]


# --------------------------------------------------------------------------- the helpers of the hidden parts

def test_python_steps_grow_with_a_python_loop_and_not_with_whole_array_code():
    small, wide = np.ones((4, 100)), np.ones((4, 3_000))
    for right in (zscore_right,):
        assert python_steps(right, small)[1] == python_steps(right, wide)[1] < 50
    for loop in (zscore_loop, zscore_loop_in_a_comprehension, zscore_apply_along_axis, zscore_map_library):
        assert python_steps(loop, wide)[1] >= 3_000, loop.__name__
    scores, features = np.random.default_rng(0).random(3_000), np.random.default_rng(1).normal(size=(3_000, 2))
    assert python_steps(mmr_right, scores, features, 5, 0.5)[1] < 200
    assert python_steps(mmr_item_loop, scores, features, 5, 0.5)[1] >= 5 * 3_000

    def writes_its_input(a):
        a[:] = 5.0

    x = np.zeros(3)
    python_steps(writes_its_input, x)
    assert (x == 0).all()  # the answer got a copy
