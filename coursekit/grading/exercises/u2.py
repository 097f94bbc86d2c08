"""Unit 2 exercise checks: availability replay, strategy 4 (profile items), the sanity check of
strategy 3, BPR, AUC. Strategies are numbered as in the seed notebook and the CuratorNet paper."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..checks import exercise


def _toy_log(seed=0):
    rng = np.random.default_rng(seed)
    n_items = 40
    upload = rng.integers(0, 50, n_items)
    lengths = rng.integers(1, 3, 15)
    times = np.sort(rng.choice(np.arange(20, 100), 15, replace=False))
    items = rng.choice(n_items, lengths.sum(), replace=True)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return upload, times, indptr, items


@exercise("u2.available_mask", title="which artworks are on offer at each time, in one pass",
          hint="An artwork bought exactly once leaves at its sale time (it is still on offer at that time); "
               "compute its removal time with np.bincount and fancy indexing, then compare with broadcasting.")
def _check_available(available_mask):
    from ...inventory import replay_per_query

    for seed in (0, 1):
        upload, times, indptr, items = _toy_log(seed)
        queries = np.array([0, 25, int(times[3]), int(times[7]) + 1, 200])
        got = np.asarray(available_mask(upload, times, indptr, items, queries))
        assert got.shape == (len(queries), len(upload)), f"expected shape {(len(queries), len(upload))}, got {got.shape}"
        for row, t in enumerate(queries):
            want = replay_per_query(upload, times, indptr, items, int(t))
            have = set(np.flatnonzero(got[row]).tolist())
            assert have == want, (f"at time {t}: {len(have ^ want)} artworks differ from a step-by-step replay "
                                  f"(e.g. item {sorted(have ^ want)[0]})")


def _toy_profiles(seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.random((30, 25)) < 0.15
    dense[np.arange(30), rng.integers(0, 25, 30)] = True  # every user has an item
    dense[0] = True
    dense[0, 3] = False  # user 0: one single free item
    return sp.csr_matrix(dense)


@exercise("u2.sample_profile_items", title="strategy 4: a profile item vs an item outside the profile",
          hint="Draw users with rng.integers, a positive at indptr[u] + floor(random * row length), and "
               "negatives by drawing again only where the candidate is in the profile (vectorised rounds).")
def _check_strategy4(sample_profile_items):
    profile = _toy_profiles()
    users, pos, neg = (np.asarray(x) for x in sample_profile_items(profile, 20_000, np.random.default_rng(0)))
    assert users.shape == pos.shape == neg.shape == (20_000,), "return three arrays of n entries"
    dense = profile.toarray()
    assert dense[users, pos].all(), "every positive must be an item of the user's profile"
    assert not dense[users, neg].any(), "no negative may be in the user's profile"
    assert len(np.unique(users)) == profile.shape[0], "draw users from all users with a profile"
    assert (neg[users == 0] == 3).all(), "user 0 has only item 3 outside the profile"
    counts = np.bincount(neg[users == 1], minlength=profile.shape[1])[~dense[1]]
    assert counts.min() > 0.5 * counts.mean(), "negatives should be uniform over the items outside the profile"


@exercise("u2.check_strategy3", title="the sanity check of strategy 3 (liked artist and cluster)",
          hint="Use dense boolean lookups such as liked_artists[users, artist[pos]] and raise AssertionError "
               "when any sample breaks a rule.")
def _check_check3(check_strategy3):
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
    args = dict(profile=profile, artist=artist, cluster=cluster)
    check_strategy3(users, pos, neg, **args)  # valid samples must pass
    corruptions = {
        "a positive inside the profile": (users, np.where(np.arange(len(users)) == 0,
                                                           np.flatnonzero(profile[users[0]])[0], pos), neg),
        "a negative by a liked artist": (users, pos, np.where(np.arange(len(users)) == 1,
                                                               np.flatnonzero(la[users[1]][artist])[0], neg)),
        "a positive in a cluster the user never bought": (
            users, np.where(np.arange(len(users)) == 2, np.flatnonzero(~lc[users[2]][cluster] & ~profile[users[2]])[0],
                            pos), neg),
    }
    for what, (u, p, n) in corruptions.items():
        try:
            check_strategy3(u, p, n, **args)
        except AssertionError:
            continue
        raise AssertionError(f"your check accepted {what}")


@exercise("u2.bpr_loss", title="the BPR loss", hint="mean of -log sigmoid(pos - neg); "
          "torch.nn.functional.softplus(neg - pos) is the same and stays finite for large margins.")
def _check_bpr(bpr_loss):
    import torch

    pos = torch.tensor([2.0, 0.0, -1.0, 50.0, -60.0])
    neg = torch.tensor([1.0, 0.0, 1.0, -50.0, 60.0])
    want = np.mean(np.logaddexp(0, (neg - pos).numpy().astype(np.float64)))
    got = bpr_loss(pos, neg)
    assert torch.is_tensor(got) and got.ndim == 0, "return a scalar tensor"
    assert np.isfinite(float(got)), "the loss is not finite for large margins: use a stable formula"
    assert abs(float(got) - want) < 1e-4, f"expected {want:.5f}, got {float(got):.5f}"
    p = pos.clone().requires_grad_(True)
    bpr_loss(p, neg).backward()
    assert p.grad is not None and float(p.grad[0]) < 0, "the loss must decrease when a positive's score grows"


@exercise("u2.auc_available", title="AUC among the artworks on offer",
          hint="Keep candidate items only; count pairs (relevant, non-relevant) where the relevant one scores "
               "higher, ties counting 1/2 (scipy.stats.rankdata does it in one call).")
def _check_auc(auc_available):
    from ...metrics import auc_score

    rng = np.random.default_rng(3)
    for trial in range(5):
        n = 50
        scores = rng.integers(0, 8, n).astype(float)  # many ties on purpose
        relevant = rng.choice(n, 3, replace=False)
        candidates = rng.random(n) < 0.6
        candidates[relevant[:2]] = True
        rel = np.zeros(n, bool)
        rel[relevant] = True
        want = float(auc_score(scores[None], rel[None], candidates[None])[0])
        got = float(auc_available(scores, relevant, candidates))
        assert abs(got - want) < 1e-9, f"expected {want:.4f}, got {got:.4f} (trial {trial})"
