"""Unit 3 pairs: positives, random and hard negatives, the leak-free split, pair metrics."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.sampling.pairs import (
    labelled_splits, make_pairs, pair_accuracy, pair_auc, pair_keys, positive_pairs, sample_negatives,
    split_and_label, split_pairs, split_positives,
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


def test_split_positives_keeps_both_directions_together():
    n = 120
    pos = positive_pairs(*_toy_links(n, 2500, seed=3))
    kept, held = split_positives(pos, test_size=0.25, seed=4)
    assert len(kept) + len(held) == len(pos)
    kept_keys = set(pair_keys(kept, n, ordered=False).tolist())
    held_keys = set(pair_keys(held, n, ordered=False).tolist())
    assert not kept_keys & held_keys
    groups = len(set(pair_keys(pos, n, ordered=False).tolist()))
    assert len(held_keys) == round(0.25 * groups)  # the unit of the split is the unordered pair
    # every row lands on exactly one side, and the same seed gives the same split
    assert sorted(map(tuple, np.concatenate([kept, held]).tolist())) == sorted(map(tuple, pos.tolist()))
    again_kept, again_held = split_positives(pos, test_size=0.25, seed=4)
    assert np.array_equal(kept, again_kept) and np.array_equal(held, again_held)
    with pytest.raises(ValueError, match="test_size"):
        split_positives(pos, test_size=1.0)


@pytest.mark.parametrize("negatives", ["random", "hard"])
def test_labelled_splits_never_leak(negatives):
    n = 200
    pos = positive_pairs(*_toy_links(n, 4000, seed=5))
    category = np.random.default_rng(6).integers(0, 4, n)
    rest, test = split_positives(pos, test_size=0.2, seed=0)
    train, valid = split_positives(rest, test_size=0.2, seed=1)
    parts = labelled_splits({"train": train, "valid": valid, "test": test}, n,
                            negatives=negatives, category=category, seed=0)
    assert list(parts) == ["train", "valid", "test"]
    known = set(pair_keys(pos, n).tolist()) | set(pair_keys(pos[:, ::-1], n).tolist())
    seen_negatives = set()
    for name, (pairs, labels) in parts.items():
        assert pairs.shape == (len(labels), 2) and set(np.unique(labels).tolist()) == {0.0, 1.0}
        assert labels.sum() == (labels == 0).sum()  # one negative per positive
        neg = pairs[labels == 0]
        keys = set(pair_keys(neg, n, ordered=False).tolist())
        assert not known & set(pair_keys(neg, n).tolist()), f"{name}: a negative is a known link"
        assert not keys & seen_negatives, f"{name}: a negative pair was already drawn for an earlier split"
        seen_negatives |= keys
        split_pos = {"train": train, "valid": valid, "test": test}[name]
        got_pos = pairs[labels == 1]
        if negatives == "hard":
            assert (category[pairs[:, 0]] == category[pairs[:, 1]]).all()
            split_pos = split_pos[category[split_pos[:, 0]] == category[split_pos[:, 1]]]
        assert sorted(map(tuple, got_pos.tolist())) == sorted(map(tuple, split_pos.tolist()))
    again = labelled_splits({"train": train, "valid": valid, "test": test}, n,
                            negatives=negatives, category=category, seed=0)
    assert all(np.array_equal(parts[k][0], again[k][0]) for k in parts)


def test_random_and_hard_test_sets_share_their_positive_links():
    n = 150
    pos = positive_pairs(*_toy_links(n, 3000, seed=7))
    category = np.random.default_rng(8).integers(0, 3, n)
    rest, test = split_positives(pos, test_size=0.3, seed=2)
    splits = {neg: labelled_splits({"train": rest, "test": test}, n, negatives=neg, category=category, seed=3)
              for neg in ("random", "hard")}
    train_keys = set(pair_keys(splits["random"]["train"][0], n, ordered=False).tolist())
    hard_test_pos = splits["hard"]["test"][0][splits["hard"]["test"][1] == 1]
    random_test_pos = splits["random"]["test"][0][splits["random"]["test"][1] == 1]
    assert set(map(tuple, hard_test_pos.tolist())) <= set(map(tuple, random_test_pos.tolist()))
    # a model trained on the random-negative training pairs never saw a hard test link
    assert not train_keys & set(pair_keys(hard_test_pos, n, ordered=False).tolist())


def test_make_pairs_exclude():
    n = 40
    pos = np.array([[0, 1], [2, 3], [4, 5]])
    banned = np.stack([np.zeros(n - 2, np.int64), np.arange(2, n)], axis=1)  # every pair (0, k) but (0, 1)
    pairs, labels = make_pairs(pos, n, exclude=banned, seed=0)
    neg = pairs[labels == 0]
    assert 0 not in neg[:, 0].tolist()  # anchor 0 has no allowed partner left, so it gets no negative
    assert len(neg) == 2 and not set(pair_keys(neg, n).tolist()) & set(pair_keys(pos, n).tolist())


def test_split_and_label_is_the_protocol_of_one_seed():
    n = 200
    pos = positive_pairs(*_toy_links(n, 4000, seed=9))
    category = np.random.default_rng(10).integers(0, 4, n)
    got = split_and_label(pos, n, category=category, seed=4)
    rest, test = split_positives(pos, test_size=0.2, seed=4)
    train, valid = split_positives(rest, test_size=0.2, seed=5)
    for negatives in ("random", "hard"):
        expected = labelled_splits({"train": train, "valid": valid, "test": test}, n, negatives=negatives,
                                   category=category, seed=4)
        assert list(got[negatives]) == ["train", "valid", "test"]
        for name in expected:
            assert all(np.array_equal(a, b) for a, b in zip(got[negatives][name], expected[name]))
    other = split_and_label(pos, n, category=category, seed=5, negatives=("random",))
    assert list(other) == ["random"]
    test_keys = {s: set(pair_keys(p[l == 1], n, ordered=False).tolist())
                 for s, (p, l) in (("4", got["random"]["test"]), ("5", other["random"]["test"]))}
    assert test_keys["4"] != test_keys["5"]  # a new seed holds out other links
