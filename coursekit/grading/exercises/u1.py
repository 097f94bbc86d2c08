"""Unit 1 exercises: z-score, cosine top-k, profile recommendation, nDCG@k, MMR re-ranking.

Every expected value is computed here with plain NumPy, independently of the package version each
exercise re-implements (declared in ``delegates``: those raise in the student's code while a
check runs, and the cells after the exercise use them).

The hidden tests of the solution notebook also enforce what the exercise texts forbid ("no Python
loop over the dimensions", "no loop over the items") with
:func:`coursekit.grading.enforce.python_steps`: how many lines of
the student's own code run, and how many calls it makes, while an answer handles an input of n
columns or items. A whole-array answer takes a few dozen steps whatever n is; a Python loop over
the columns or items takes at least n. Unlike a timing, the count does not depend on how loaded
the machine is.
"""

from __future__ import annotations


import numpy as np

from ..checks import exercise


def _rng():
    return np.random.default_rng(12345)


@exercise("u1.zscore", title="z-score normalisation with a zero-variance guard", points=4,
          hints=("Standardise column by column: which axis do the mean and the standard deviation run "
                 "over? And what is the standard deviation of a unit that never fires, and what does "
                 "dividing by it give?",
                 "Look up the axis argument of NumPy's reductions: one call gives the statistic of every "
                 "column at once, with no loop over the 6,144 dimensions. A dead unit's deviation is 0, "
                 "and a 0 must never reach a denominator."),
          delegates=("coursekit.features.zscore",))
def check_zscore(zscore):
    x = _rng().gamma(2.0, 1.5, size=(40, 7))
    x[:, 3] = 4.0  # a constant (dead) column
    original = x.copy()
    got = np.asarray(zscore(x), dtype=float)
    assert got.shape == x.shape, f"expected shape {x.shape}, got {got.shape}"
    assert np.isfinite(got).all(), "the result holds NaN or inf: guard the zero-variance column"
    std = original.std(axis=0)
    expected = (original - original.mean(axis=0)) / np.where(std == 0, 1.0, std)
    assert np.allclose(got, expected, atol=1e-5), "columns should have mean 0 and standard deviation 1"


def _cosine_reference(feats, query):
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sims = unit @ unit[query]
    sims[query] = -np.inf
    return sims


@exercise("u1.cosine_topk", title="the k most similar artworks by cosine similarity", points=4,
          hints=("Cosine similarity compares directions, not lengths: what do you do to every row first? "
                 "Then the query's scores against all rows are a single product, and the query itself "
                 "must never come out as its own neighbour.",
                 "Look up np.argpartition: it finds the k best of n scores without sorting them all (mind "
                 "the sign: it selects the smallest). Leave the query out by its position, never by its "
                 "score or its rank: another artwork can look exactly like it, and that one is a fine "
                 "neighbour."),
          delegates=("coursekit.models.ContentRecommender", "coursekit.ranking.top_k",
                     "coursekit.grading.exercises.u1._cosine_reference"))
def check_cosine_topk(cosine_top_k):
    rng = _rng()
    feats = rng.normal(size=(300, 12))
    feats[7] *= 50.0  # cosine must not care about length
    for query, k in ((7, 5), (0, 10), (299, 1)):
        got = np.asarray(cosine_top_k(feats.copy(), query, k))
        assert got.shape == (k,), f"expected {k} indices, got shape {got.shape}"
        assert query not in got, "the query itself should not be among its neighbours"
        expected = np.argsort(-_cosine_reference(feats, query), kind="stable")[:k]
        assert np.array_equal(got, expected), (
            f"query {query}: expected {expected.tolist()}, got {got.tolist()} (best first)"
        )


@exercise("u1.recommend", title="recommend from a user's profile, consumed items left out", points=3,
          hints=("A user's score for an artwork is its average cosine similarity to the artworks they "
                 "bought. How do you get all those similarities at once, and how do you make sure "
                 "nothing they already own can be picked?",
                 "Think of all the similarities between the profile and the catalogue as one matrix "
                 "product of unit-length rows, and of the mean as a reduction along the profile's axis. "
                 "An artwork the user owns must not be able to win the selection, which is the one of "
                 "u1.cosine_topk."),
          delegates=("coursekit.models.ContentRecommender", "coursekit.ranking.top_k",
                     "coursekit.ranking.mask_items"))
def check_recommend(recommend_for_profile):
    rng = _rng()
    feats = rng.normal(size=(200, 10))
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    for consumed, k in (([3, 17, 42], 10), ([5], 3), ([0, 1, 2, 3, 4, 5, 6], 20)):
        got = np.asarray(recommend_for_profile(feats.copy(), np.array(consumed), k))
        assert got.shape == (k,), f"expected {k} indices, got shape {got.shape}"
        assert not set(got.tolist()) & set(consumed), "consumed artworks must not be recommended"
        scores = (unit[consumed] @ unit.T).mean(axis=0)
        scores[consumed] = -np.inf
        expected = np.argsort(-scores, kind="stable")[:k]
        assert np.array_equal(got, expected), (
            f"profile {consumed}: expected {expected.tolist()[:5]}..., got {got.tolist()[:5]}..."
        )


def _ndcg_reference(recommended, relevant, k):
    relevant = set(relevant)
    dcg = sum(1.0 / np.log2(rank + 2) for rank, item in enumerate(recommended[:k]) if item in relevant)
    idcg = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return dcg / idcg if idcg > 0 else 0.0


@exercise("u1.ndcg", title="nDCG@k of one ranked list", points=3,
          hints=("Each hit in the first k ranks earns a discount that shrinks with its rank (rank 1 earns "
                 "the most). What would the best possible list for this user earn, given how many "
                 "relevant items there are and how long the list is?",
                 "The normaliser is the DCG of an ideal list for this user: all its hits first, and never "
                 "more hits than the list has places or the user has relevant items. Mind where ranks "
                 "start: the first place is discounted by the logarithm of 2, not of 1. np.isin is one way "
                 "to mark the hits."),
          delegates=("coursekit.metrics.ndcg_at_k", "coursekit.metrics.hits_at_k",
                     "coursekit.grading.exercises.u1._ndcg_reference"))
def check_ndcg(ndcg_at_k):
    cases = [
        ([1, 2, 3, 4, 5], [1], 5, 1.0),
        ([9, 8, 1, 7, 6], [1], 5, 1.0 / np.log2(4)),
        ([9, 8, 7], [1, 2], 3, 0.0),
    ]
    for rec, rel, k, expected in cases:
        got = float(ndcg_at_k(np.array(rec), np.array(rel), k))
        assert abs(got - expected) < 1e-9, f"ndcg_at_k({rec}, {rel}, k={k}) should be {expected:.4f}, got {got:.4f}"
    rng = _rng()
    for _ in range(20):
        rec = rng.permutation(50)[:10]
        rel = rng.choice(50, size=rng.integers(1, 15), replace=False)
        k = int(rng.integers(1, 11))
        expected = _ndcg_reference(rec.tolist(), rel.tolist(), k)
        got = float(ndcg_at_k(rec, rel, k))
        assert abs(got - expected) < 1e-9, (
            f"with {len(rel)} relevant items and k={k}: expected {expected:.4f}, got {got:.4f} "
            "(is the ideal DCG computed over min(|relevant|, k) items?)"
        )


def _mmr_reference(scores, feats, k, lam):
    """Greedy MMR written as plainly as possible: one candidate at a time."""
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    picked: list[int] = []
    for _ in range(k):
        best, best_value = -1, -np.inf
        for i in range(len(scores)):
            if i in picked or not np.isfinite(scores[i]):
                continue
            penalty = max((float(unit[i] @ unit[j]) for j in picked), default=0.0)
            value = lam * scores[i] - (1 - lam) * penalty
            if value > best_value:
                best, best_value = i, value
        picked.append(best)
    return np.array(picked)


@exercise("u1.mmr", title="greedy maximal marginal relevance (MMR) re-ranking of one list", points=4,
          hints=("Build the list one item at a time. At each step every candidate gets a value that "
                 "rewards its relevance and penalises its closeness to the items already picked. Which "
                 "similarity to the picked items counts, and what is the penalty before anything is "
                 "picked?",
                 "A candidate's penalty is its largest similarity to anything picked so far: keep that "
                 "running maximum for all items at once (np.maximum compares two arrays element by "
                 "element) rather than item by item. Anything picked already, or scored minus infinity, "
                 "must never be picked again; with lambda_ = 1 you should get the plain top-k back."),
          delegates=("coursekit.ranking.mmr", "coursekit.ranking._mmr_blocks",
                     "coursekit.grading.exercises.u1._mmr_reference"))
def check_mmr(mmr_rerank):
    rng = _rng()
    n, d, k = 80, 6, 8
    feats = rng.normal(size=(n, d))
    scores = rng.random(n)
    scores[[4, 11, 30]] = -np.inf  # e.g. bought already: never picked
    for lam in (1.0, 0.7, 0.4):
        got = np.asarray(mmr_rerank(scores.copy(), feats.copy(), k, lam))
        assert got.shape == (k,), f"lambda_={lam}: expected {k} indices, got shape {got.shape}"
        assert len(set(got.tolist())) == k, f"lambda_={lam}: an item was picked twice: {got.tolist()}"
        assert not {4, 11, 30} & set(got.tolist()), "items scored -inf must never be picked"
        if lam == 1.0:
            expected = np.argsort(-scores, kind="stable")[:k]
            assert np.array_equal(got, expected), (
                f"with lambda_ = 1 MMR is the plain top-k: expected {expected.tolist()}, got {got.tolist()}")
            continue
        expected = _mmr_reference(scores, feats, k, lam)
        assert got[0] == expected[0], "the first pick has no one to be similar to: it is the most relevant item"
        assert np.array_equal(got, expected), (
            f"lambda_={lam}: expected {expected.tolist()}, got {got.tolist()} (in pick order; is the "
            "penalty the largest cosine similarity to the items picked so far?)")
    long = feats.copy()
    long[:20] *= 40.0  # cosine similarity does not care about the length of a row
    got = np.asarray(mmr_rerank(scores.copy(), long, k, 0.4))
    expected = _mmr_reference(scores, feats, k, 0.4)
    assert np.array_equal(got, expected), (
        "rows of different lengths changed the result: the similarity should be the cosine of the rows")
