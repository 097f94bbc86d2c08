"""Unit 3 pairs: positives, random and hard negatives, the leak-free split, pair metrics."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.sampling.pairs import (
    make_pairs, pair_accuracy, pair_auc, pair_keys, positive_pairs, sample_negatives, split_pairs,
)


def _toy_links(n=200, m=1500, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(-1, n, m)
    dst = rng.integers(-1, n, m)
    return src, dst


def test_positive_pairs_cleaning():
    src = np.array([0, 0, 1, 2, -1, 3, 3, 4])
    dst = np.array([1, 1, 1, -1, 2, 4, 4, 3])
    got = positive_pairs(src, dst)
    assert got.tolist() == [[0, 1], [3, 4], [4, 3]]
    assert got.dtype == np.int64


@pytest.mark.parametrize("hard", [False, True])
def test_negatives_rules(hard):
    n = 200
    src, dst = _toy_links(n)
    pos = positive_pairs(src, dst)
    category = np.random.default_rng(1).integers(0, 6, n) if hard else None
    neg = sample_negatives(pos[:, 0], n, category=category, exclude=pos, seed=0)
    assert len(neg) == len(pos)
    assert (neg[:, 0] == pos[:, 0]).all()
    assert (neg[:, 0] != neg[:, 1]).all()
    keys = pair_keys(neg, n)
    assert len(np.unique(keys)) == len(keys)
    banned = set(pair_keys(pos, n).tolist()) | set(pair_keys(pos[:, ::-1], n).tolist())
    assert not banned & set(keys.tolist())
    if hard:
        assert (category[neg[:, 0]] == category[neg[:, 1]]).all()
    again = sample_negatives(pos[:, 0], n, category=category, exclude=pos, seed=0)
    assert np.array_equal(neg, again)


def test_hard_negatives_drop_impossible_anchors():
    category = np.array([0, 1, 1, 2, -1])
    neg = sample_negatives(np.array([0, 1, 2, 4, 1]), 5, category=category, seed=0)
    # item 0 is alone in its category and item 4 has none; 1 and 2 can only pair with each other
    assert neg.tolist() == [[1, 2], [2, 1]]


def test_make_pairs_hard_keeps_same_category_positives():
    n = 300
    pos = positive_pairs(*_toy_links(n, 3000))
    category = np.random.default_rng(2).integers(0, 3, n)
    pairs, labels = make_pairs(pos, n, negatives="hard", category=category, seed=0)
    assert (category[pairs[:, 0]] == category[pairs[:, 1]]).all()
    assert labels.sum() == (labels == 0).sum() > 0
    with pytest.raises(ValueError):
        make_pairs(pos, n, negatives="hard")
    with pytest.raises(ValueError):
        make_pairs(pos, n, negatives="easy")


def test_split_never_puts_a_pair_on_both_sides():
    n = 150
    pos = positive_pairs(*_toy_links(n, 2000))
    assert len(set(pair_keys(pos, n, ordered=False).tolist())) < len(pos)  # both directions occur
    pairs, labels = make_pairs(pos, n, seed=0)
    tr, ytr, te, yte = split_pairs(pairs, labels, test_size=0.25, seed=0)
    assert len(tr) + len(te) == len(pairs)
    assert 0.2 < len(te) / len(pairs) < 0.3
    train_keys = set(pair_keys(tr, n, ordered=False).tolist())
    test_keys = set(pair_keys(te, n, ordered=False).tolist())
    assert not train_keys & test_keys
    # labels travel with their pairs
    lookup = {tuple(p): y for p, y in zip(pairs.tolist(), labels.tolist())}
    assert all(lookup[tuple(p)] == y for p, y in zip(te.tolist(), yte.tolist()))


def test_pair_metrics_against_brute_force():
    rng = np.random.default_rng(5)
    y = (rng.random(120) < 0.5).astype(np.float32)
    s = np.round(rng.random(120) + 0.3 * y, 1)  # ties on purpose
    pos, neg = s[y == 1], s[y == 0]
    d = pos[:, None] - neg[None, :]
    assert pair_auc(y, s) == pytest.approx(((d > 0) + 0.5 * (d == 0)).mean())
    assert pair_accuracy(y, s) == pytest.approx(np.mean((s > 0.5) == (y == 1)))
    assert np.isnan(pair_auc(np.ones(3), [0.1, 0.2, 0.3]))
