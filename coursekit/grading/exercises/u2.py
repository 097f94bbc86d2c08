"""Unit 2 exercises: availability replay, plain BPR sampling (strategy 4 with uniform negatives),
the sanity check of strategy 3, BPR, AUC among the artworks on offer. Strategies are numbered as in
the seed notebook and the CuratorNet paper.

Every expected value is computed here with plain Python or NumPy, independently of the package
version each exercise re-implements (declared in ``delegates``: those raise in the student's code
while a check runs, and the cells after the exercise use them).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..checks import exercise

# --------------------------------------------------------------------------- u2.available_mask


def _toy_log(seed=0):
    rng = np.random.default_rng(seed)
    n_items = 40
    upload = rng.integers(0, 50, n_items)
    lengths = rng.integers(1, 3, 15)
    times = np.sort(rng.choice(np.arange(20, 100), 15, replace=False))
    items = rng.choice(n_items, lengths.sum(), replace=True)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return upload, times, indptr, items


def _on_offer_reference(upload, times, indptr, items, t):
    """The artworks on offer at time ``t``, artwork by artwork in plain Python: each is on offer
    from its upload on; one bought exactly once (at or after its upload) leaves after its sale."""
    sales: dict[int, list[int]] = {}
    for r in range(len(times)):
        for i in items[indptr[r]:indptr[r + 1]]:
            sales.setdefault(int(i), []).append(int(times[r]))
    out = set()
    for i, up in enumerate(upload):
        if up > t:
            continue
        sold = sales.get(i, [])
        if len(sold) == 1 and up <= sold[0] < t:
            continue  # sold once, gone after its sale
        out.add(i)
    return out


@exercise("u2.available_mask", title="which artworks are on offer at each time, in one pass", points=4,
          hints=("Each artwork is on offer during one fixed window: from its upload until, perhaps, a sale. "
                 "Which artworks leave at a sale and which stay (think of prints), is an artwork still on "
                 "offer at the very time it is sold, and what should a sale logged before the upload do? "
                 "Once every window is known, all the query times can be answered together.",
                 "Look up NumPy broadcasting: once every artwork has one removal time (a very large one for "
                 "those that never leave), a column of query times compared with a row of windows gives the "
                 "whole table at once, with no loop over times or artworks. The sale time itself still counts "
                 "as on offer."),
          delegates=("coursekit.inventory.replay_inventory", "coursekit.inventory.Availability",
                     "coursekit.inventory.replay_per_query"))
def _check_available(available_mask):
    for seed in (0, 1):
        upload, times, indptr, items = _toy_log(seed)
        queries = np.array([0, 25, int(times[3]), int(times[7]) + 1, 200])
        got = np.asarray(available_mask(upload, times, indptr, items, queries))
        assert got.shape == (len(queries), len(upload)), f"expected shape {(len(queries), len(upload))}, got {got.shape}"
        assert got.dtype == bool, f"expected a boolean mask, got {got.dtype}"
        for row, t in enumerate(queries):
            want = _on_offer_reference(upload, times, indptr, items, int(t))
            have = set(np.flatnonzero(got[row]).tolist())
            assert have == want, (f"at time {t}: {len(have ^ want)} artworks differ from a step-by-step replay "
                                  f"(e.g. item {sorted(have ^ want)[0]})")


# --------------------------------------------------------------------------- u2.sample_profile_items


def _toy_profiles(seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.random((30, 25)) < 0.15
    dense[np.arange(30), rng.integers(0, 25, 30)] = True  # every user has an item
    dense[0] = True
    dense[0, 3] = False  # user 0: one single free item
    return sp.csr_matrix(dense)


@exercise("u2.sample_profile_items", title="plain BPR sampling: a profile item vs a uniform item outside the profile",
          points=4,
          hints=("Each sample needs three draws: a user among those with a profile, one of that user's items, "
                 "and an item outside the profile. In a CSR table a user's items sit in one slice of "
                 "indices, between two entries of indptr: how do you pick a random position in that slice "
                 "for many users at once? And how do you get negatives outside the profile without a loop "
                 "over samples, and without a dense copy of the table?",
                 "Look up rejection sampling: propose negatives among all items and redraw only the proposals "
                 "that landed inside the profile, round after round. A scipy.sparse matrix indexed with two "
                 "integer arrays (rows and columns) answers many membership questions at once while staying "
                 "sparse."),
          delegates=("coursekit.sampling.curatornet.sample_profile_items",
                     "coursekit.sampling.curatornet._pick_in_rows",
                     "coursekit.sampling.curatornet._pick_outside_rows",
                     "coursekit.sampling.curatornet._pick_outside_rows_exact",
                     "coursekit.sampling.curatornet.member", "coursekit.sampling.curatornet.membership"))
def _check_strategy4(sample_profile_items):
    profile = _toy_profiles()
    users, pos, neg = (np.asarray(x) for x in sample_profile_items(profile, 20_000, np.random.default_rng(0)))
    assert users.shape == pos.shape == neg.shape == (20_000,), "return three arrays of n entries"
    dense = profile.toarray()
    assert dense[users, pos].all(), "every positive must be an item of the user's profile"
    assert not dense[users, neg].any(), "no negative may be in the user's profile"
    per_user = np.bincount(users, minlength=profile.shape[0])
    assert per_user.min() > 0.7 * per_user.mean(), (
        "draw users uniformly among all users with a profile, however many items each profile holds")
    assert (neg[users == 0] == 3).all(), "user 0 has only item 3 outside the profile"
    counts = np.bincount(pos[users == 0], minlength=profile.shape[1])[dense[0]]
    assert counts.min() > 0.3 * counts.mean(), "positives should be uniform over the items of the profile"
    counts = np.bincount(neg[users == 1], minlength=profile.shape[1])[~dense[1]]
    assert counts.min() > 0.3 * counts.mean(), "negatives should be uniform over the items outside the profile"


# --------------------------------------------------------------------------- u2.check_strategy3


def _strategy3_case():
    """Valid strategy-3 samples of a random toy shop, and the dense tables to corrupt them."""
    rng = np.random.default_rng(1)
    n_users, n_items = 20, 60
    artist = rng.integers(0, 8, n_items)
    cluster = rng.integers(0, 6, n_items)
    profile = rng.random((n_users, n_items)) < 0.05
    profile[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    la = np.zeros((n_users, 8), bool)
    lc = np.zeros((n_users, 6), bool)
    u_idx, i_idx = np.nonzero(profile)
    la[u_idx, artist[i_idx]] = True
    lc[u_idx, cluster[i_idx]] = True
    good_pos = ~profile & la[:, artist] & lc[:, cluster]
    good_neg = ~la[:, artist] & ~lc[:, cluster]
    users = np.array([u for u in range(n_users) if good_pos[u].any() and good_neg[u].any()])
    pos = np.array([rng.choice(np.flatnonzero(good_pos[u])) for u in users])
    neg = np.array([rng.choice(np.flatnonzero(good_neg[u])) for u in users])
    return users, pos, neg, profile, artist, cluster, la, lc


def _replace(values, j, item):
    out = values.copy()
    out[j] = item
    return out


@exercise("u2.check_strategy3", title="the sanity check of strategy 3 (liked artist and cluster)", points=4,
          hints=("Strategy 3 has five rules: the positive lies outside the profile, and both its artist and "
                 "its cluster appear among the user's purchases; neither the negative's artist nor its cluster "
                 "does. What table would tell, for any user and any artist (or cluster), whether the user "
                 "bought from it? Every sample must obey every rule, not most of them.",
                 "The concept to look up is NumPy's advanced (integer-array) indexing: a boolean table of users "
                 "by artists, filled once from the profile, answers one rule for every sample in a single "
                 "lookup, with no loop over the samples; the same goes for clusters."),
          delegates=("coursekit.sampling.curatornet.check_triples", "coursekit.sampling.curatornet._check_3",
                     "coursekit.sampling.curatornet._neg_outside_taste", "coursekit.inventory._liked",
                     "coursekit.sampling.curatornet.member", "coursekit.sampling.curatornet.membership"))
def _check_check3(check_strategy3):
    users, pos, neg, profile, artist, cluster, la, lc = _strategy3_case()
    args = (profile.copy(), artist.copy(), cluster.copy())
    try:
        check_strategy3(users, pos, neg, *args)
    except AssertionError as exc:
        raise AssertionError(f"your check rejected valid strategy-3 samples ({exc})") from None
    u = users
    corruptions = {
        "a positive inside the profile": (_replace(pos, 0, np.flatnonzero(profile[u[0]])[0]), neg),
        "a positive by an artist the user never bought from": (
            _replace(pos, 1, np.flatnonzero(~la[u[1]][artist] & lc[u[1]][cluster] & ~profile[u[1]])[0]), neg),
        "a positive in a cluster the user never bought from": (
            _replace(pos, 2, np.flatnonzero(la[u[2]][artist] & ~lc[u[2]][cluster] & ~profile[u[2]])[0]), neg),
        "a negative by an artist the user bought from": (pos, _replace(neg, 3, np.flatnonzero(la[u[3]][artist])[0])),
        "a negative in a cluster the user bought from": (
            pos, _replace(neg, 4, np.flatnonzero(lc[u[4]][cluster] & ~la[u[4]][artist])[0])),
    }
    for what, (p, n) in corruptions.items():
        try:
            check_strategy3(users, p, n, *args)
        except AssertionError:
            continue
        raise AssertionError(f"your check accepted {what}")


# --------------------------------------------------------------------------- u2.bpr_loss


@exercise("u2.bpr_loss", title="the BPR loss", points=3,
          hints=("The loss of one triple is -log sigmoid of the margin (positive score minus negative score). "
                 "What do sigmoid and its log give in float32 when the margin is very negative, say -120? "
                 "Return one scalar tensor, the mean over the batch, so that gradients flow.",
                 "-log sigmoid(x) equals log(1 + exp(-x)), and torch has that function in a form that never "
                 "overflows: look for softplus in torch.nn.functional (logsigmoid is its mirror image). "
                 "Mind the sign of its argument, then average."),
          delegates=("coursekit.models.torch_curatornet.bpr_loss",))
def _check_bpr(bpr_loss):
    import torch

    pos = torch.tensor([2.0, 0.0, -1.0, 50.0, -60.0])
    neg = torch.tensor([1.0, 0.0, 1.0, -50.0, 60.0])
    want = np.mean(np.logaddexp(0, neg.numpy().astype(np.float64) - pos.numpy().astype(np.float64)))
    got = bpr_loss(pos, neg)
    assert torch.is_tensor(got) and got.ndim == 0, "return a scalar tensor"
    assert np.isfinite(float(got)), "the loss is not finite for large margins: use a stable formula"
    assert abs(float(got) - want) < 1e-4, f"expected {want:.5f}, got {float(got):.5f}"
    p = pos.clone().requires_grad_(True)
    bpr_loss(p, neg).backward()
    assert p.grad is not None and float(p.grad[0]) < 0, "the loss must decrease when a positive's score grows"


# --------------------------------------------------------------------------- u2.auc_available


def _pairwise_auc(scores, relevant, candidates):
    """AUC by comparing every (relevant, non-relevant) pair of candidates; ties count 1/2."""
    rel = np.zeros(len(scores), bool)
    rel[relevant] = True
    pos = scores[rel & candidates]
    neg = scores[~rel & candidates]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


@exercise("u2.auc_available", title="AUC among the artworks on offer", points=4,
          hints=("Only the candidates take part: a relevant artwork that is not on offer counts neither as a "
                 "positive nor as a negative. AUC is the share of (relevant, non-relevant) pairs in which the "
                 "relevant one scores higher: how should a tie count, and can you count the pairs without "
                 "building them all?",
                 "Look up the Mann-Whitney U statistic: it counts the (relevant, non-relevant) pairs a relevant "
                 "item wins from the ranks of the scores alone, without building the pairs; scipy.stats.rankdata "
                 "gives tied scores their average rank. Only the candidates are ranked."),
          delegates=("coursekit.metrics.auc_score", "coursekit.metrics.pair_auc",
                     "coursekit.inventory.evaluate_scores"))
def _check_auc(auc_available):
    rng = np.random.default_rng(3)
    for trial in range(5):
        n = 50
        scores = rng.integers(0, 8, n).astype(float)  # many ties on purpose
        relevant = rng.choice(n, 3, replace=False)
        candidates = rng.random(n) < 0.6
        candidates[relevant[:2]] = True
        candidates[relevant[2]] = trial % 2 == 0  # sometimes a relevant artwork is no longer on offer
        want = _pairwise_auc(scores, relevant, candidates)
        got = float(auc_available(scores.copy(), relevant.copy(), candidates.copy()))
        assert abs(got - want) < 1e-9, f"expected {want:.4f}, got {got:.4f} (trial {trial})"
