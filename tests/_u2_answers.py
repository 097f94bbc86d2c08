"""Answers to the unit-2 exercises that the exercise tests share: one independent correct answer per
exercise (``GOOD``) and a catalogue of plausible wrong ones (``WRONG``), each with the kind of
mistake, whether the visible check catches it, and the hidden parts it still passes.

Every answer is the source of a notebook cell, run by :func:`answer` in a notebook-like namespace.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np

EXERCISES = ["u2.available_mask", "u2.sample_profile_items", "u2.check_strategy3", "u2.bpr_loss",
             "u2.auc_available"]

# the hidden parts of the solution, by exercise (a letter each, in the notebook's order)
PARTS = {
    "u2.available_mask": {
        "A": "artworks arrive at their upload, and those not sold exactly once never leave",
        "B": "an artwork sold once stays on offer up to its sale time included; a sale logged before its upload "
             "removes nothing",
        "C": "one pass, no replay per query: 100,000 artworks, 30,000 sales and 100 query times in a second",
    },
    "u2.sample_profile_items": {
        "A": "every positive inside and every negative outside the user's profile; every user with a profile drawn",
        "B": "users uniform among the users with a profile, whatever its size; positives and negatives uniform",
        "C": "sparse and vectorised: 200,000 samples from 30,000 users and 100,000 items, no dense copy, in a "
             "second",
    },
    "u2.check_strategy3": {
        "A": "rejects one bad positive anywhere in a batch: inside the profile, or by an artist or in a cluster "
             "never bought from",
        "B": "rejects one bad negative anywhere in a batch: by an artist or in a cluster the user bought from",
        "C": "vectorised: 400,000 valid samples accepted and one bad negative among them caught, in a second",
    },
    "u2.bpr_loss": {
        "A": "the mean loss and its gradient at ordinary margins",
        "B": "exact at margins of +-100 and over a batch of 200,000 in half a second (no loop over the batch)",
    },
    "u2.auc_available": {
        "A": "only candidates count: relevant artworks no longer on offer are left out",
        "B": "tied scores count one half",
        "C": "no Python loop; exact on 100,000 artworks with 100 bought, in a second",
    },
}


def answer(exercise_id: str, source: str, **names):
    """The function a notebook cell holding ``source`` defines (named after the exercise). As in a
    Jupyter kernel, the cell's source is kept in ``linecache``, so ``inspect.getsource`` finds it."""
    import linecache

    import pandas as pd
    import torch

    code = textwrap.dedent(source)
    filename = f"<cell {exercise_id} {hash(code) & 0xFFFFFFFF:08x}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    ns = {"__name__": "__main__", "np": np, "pd": pd, "torch": torch, **names}
    exec(compile(code, filename, "exec"), ns)  # noqa: S102 - a notebook cell
    return ns[exercise_id.split(".")[1]]


GOOD = {
    "u2.available_mask": """
        def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
            up = np.asarray(upload_time)
            sales = pd.DataFrame({"item": np.asarray(purchase_items),
                                  "t": np.repeat(np.asarray(purchase_time), np.diff(purchase_indptr))})
            g = sales.groupby("item")["t"].agg(["count", "first"])
            once = g[(g["count"] == 1) & (g["first"].to_numpy() >= up[g.index.to_numpy()])]
            gone = np.full(len(up), np.inf)
            gone[once.index.to_numpy()] = once["first"].to_numpy()
            t = np.asarray(times, dtype=float)[:, None]
            return (up[None, :] <= t) & (t <= gone[None, :])
    """,
    "u2.sample_profile_items": """
        def sample_profile_items(profile, n, rng):
            lengths = np.diff(profile.indptr)
            users = rng.choice(np.flatnonzero(lengths), n)
            pos = profile.indices[profile.indptr[users] + rng.integers(0, lengths[users])]
            keys = np.repeat(np.arange(profile.shape[0]), lengths) * profile.shape[1] + profile.indices
            neg = rng.integers(0, profile.shape[1], n)
            while True:  # binary search in the sorted (user, item) keys: no dense copy
                q = users * profile.shape[1] + neg
                hit = keys[np.minimum(np.searchsorted(keys, q), len(keys) - 1)] == q
                if not hit.any():
                    return users, pos, neg
                neg[hit] = rng.integers(0, profile.shape[1], hit.sum())
    """,
    "u2.check_strategy3": """
        def check_strategy3(users, pos, neg, profile, artist, cluster):
            import scipy.sparse as sp
            owned = sp.csr_matrix(profile.astype(np.int32))  # liked artists and clusters by sparse products
            by_artist = sp.csr_matrix((np.ones(len(artist), np.int32), (np.arange(len(artist)), artist)))
            by_cluster = sp.csr_matrix((np.ones(len(cluster), np.int32), (np.arange(len(cluster)), cluster)))
            la, lc = (owned @ by_artist).toarray() > 0, (owned @ by_cluster).toarray() > 0
            assert not profile[users, pos].any(), "positive in the profile"
            assert la[users, artist[pos]].all() and lc[users, cluster[pos]].all(), "positive outside the taste"
            assert not la[users, artist[neg]].any() and not lc[users, cluster[neg]].any(), "negative in the taste"
    """,
    "u2.bpr_loss": """
        def bpr_loss(pos_scores, neg_scores):
            return -torch.nn.functional.logsigmoid(pos_scores - neg_scores).mean()
    """,
    "u2.auc_available": """
        def auc_available(scores, relevant, candidates):
            rel = np.zeros(len(scores), bool)
            rel[relevant] = True
            d = scores[rel & candidates][:, None] - scores[~rel & candidates][None, :]
            return float(((d > 0) + 0.5 * (d == 0)).mean())
    """,
}


@dataclass(frozen=True)
class Wrong:
    """A wrong answer: its ``kind`` (off-by-one, loop, dense, shape-only, or a wrong rule), its
    ``source``, whether the visible check catches it, and the letters of the hidden parts it still
    passes (:data:`PARTS`)."""

    kind: str
    source: str
    visible_fails: bool
    parts_passed: str = ""


def _edit(exercise_id: str, old: str, new: str) -> str:
    source = GOOD[exercise_id]
    assert source.count(old) == 1, old
    return source.replace(old, new)


_AM, _SP, _C3, _BPR, _AUC = EXERCISES

WRONG: dict[str, dict[str, Wrong]] = {
    _AM: {
        "gone already at the sale time": Wrong("off-by-one", _edit(_AM, "(t <= gone[None, :])", "(t < gone[None, :])"),
                                               True, "A"),
        "prints leave at their first sale too": Wrong("rule", _edit(_AM, '(g["count"] == 1) & ', ""), True, "B"),
        "a sale logged before the upload removes the artwork": Wrong(
            "rule", _edit(_AM, ' & (g["first"].to_numpy() >= up[g.index.to_numpy()])', ""), True, "A"),
        "every uploaded artwork on offer": Wrong("shape-only", """
            def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
                return np.asarray(upload_time)[None, :] <= np.asarray(times)[:, None]
        """, True, "A"),
        "a replay of the sales for every query time": Wrong("loop", """
            def available_mask(upload_time, purchase_time, purchase_indptr, purchase_items, times):
                up = np.asarray(upload_time)
                sold = np.bincount(purchase_items, minlength=len(up))
                out = np.zeros((len(times), len(up)), bool)
                for row, t in enumerate(times):  # the seed's way: replay the log for each question
                    on = up <= t
                    for r in range(len(purchase_time)):
                        for i in purchase_items[purchase_indptr[r]:purchase_indptr[r + 1]]:
                            if sold[i] == 1 and up[i] <= purchase_time[r] < t:
                                on[i] = False
                    out[row] = on
                return out
        """, False, "AB"),
    },
    _SP: {
        "negatives never redrawn": Wrong("rule", """
            def sample_profile_items(profile, n, rng):
                lengths = np.diff(profile.indptr)
                users = rng.choice(np.flatnonzero(lengths), n)
                pos = profile.indices[profile.indptr[users] + rng.integers(0, lengths[users])]
                return users, pos, rng.integers(0, profile.shape[1], n)  # inside the profile now and then
        """, True, "B"),
        "users in proportion to their profile size": Wrong("rule", _edit(
            _SP, "users = rng.choice(np.flatnonzero(lengths), n)",
            "users = np.repeat(np.arange(profile.shape[0]), lengths)[rng.integers(0, lengths.sum(), n)]"), True, "AC"),
        "always the first profile item": Wrong("rule", _edit(_SP, "rng.integers(0, lengths[users])", "0"), True, "AC"),
        "never the last profile item": Wrong("off-by-one", _edit(
            _SP, "rng.integers(0, lengths[users])", "rng.integers(0, np.maximum(lengths[users] - 1, 1))"), True, "AC"),
        "never the last item as a negative": Wrong("off-by-one", _edit(_SP, "rng.integers(0, profile.shape[1], n)",
                                                                       "rng.integers(0, profile.shape[1] - 1, n)")
                                                   .replace("rng.integers(0, profile.shape[1], hit.sum())",
                                                            "rng.integers(0, profile.shape[1] - 1, hit.sum())"),
                                                   True, "AC"),
        "a dense copy of the profile": Wrong("dense", """
            def sample_profile_items(profile, n, rng):
                dense = profile.toarray().astype(bool)
                lengths = dense.sum(1)
                users = rng.choice(np.flatnonzero(lengths), n)
                pos = profile.indices[profile.indptr[users] + rng.integers(0, lengths[users])]
                neg = rng.integers(0, dense.shape[1], n)
                bad = np.flatnonzero(dense[users, neg])
                while len(bad):
                    neg[bad] = rng.integers(0, dense.shape[1], len(bad))
                    bad = bad[dense[users[bad], neg[bad]]]
                return users, pos, neg
        """, False, "AB"),
        "a Python loop over the samples": Wrong("loop", """
            def sample_profile_items(profile, n, rng):
                lengths = np.diff(profile.indptr)
                users = rng.choice(np.flatnonzero(lengths), n)
                pos, neg = np.empty(n, np.int64), np.empty(n, np.int64)
                for j, u in enumerate(users):  # one sample at a time, as the seed did
                    mine = set(profile.indices[profile.indptr[u]:profile.indptr[u + 1]].tolist())
                    pos[j] = rng.choice(sorted(mine))
                    neg[j] = rng.integers(profile.shape[1])
                    while neg[j] in mine:
                        neg[j] = rng.integers(profile.shape[1])
                return users, pos, neg
        """, False, "AB"),
        "random items of the right shape": Wrong("shape-only", """
            def sample_profile_items(profile, n, rng):
                users = rng.choice(np.flatnonzero(np.diff(profile.indptr)), n)
                return users, rng.integers(0, profile.shape[1], n), rng.integers(0, profile.shape[1], n)
        """, True, ""),
    },
    _C3: {
        "negatives checked against artists only": Wrong("rule", _edit(
            _C3, " and not lc[users, cluster[neg]].any()", ""), True, "A"),
        "the outside-the-profile rule forgotten": Wrong("rule", _edit(
            _C3, 'assert not profile[users, pos].any(), "positive in the profile"', "pass"), True, "BC"),
        "accepts everything": Wrong("shape-only", """
            def check_strategy3(users, pos, neg, profile, artist, cluster):
                pass
        """, True, ""),
        "a table one artist short": Wrong("off-by-one", _edit(
            _C3, "(np.arange(len(artist)), artist)))",
            "(np.arange(len(artist)), artist)), shape=(len(artist), artist.max()))"), True, ""),
        "a Python loop over the samples": Wrong("loop", """
            def check_strategy3(users, pos, neg, profile, artist, cluster):
                for u, p, q in zip(users, pos, neg):  # sample by sample
                    mine = np.flatnonzero(profile[u])
                    artists, clusters = set(artist[mine].tolist()), set(cluster[mine].tolist())
                    assert not profile[u, p], "positive in the profile"
                    assert artist[p] in artists and cluster[p] in clusters, "positive outside the user's taste"
                    assert artist[q] not in artists and cluster[q] not in clusters, "negative in the user's taste"
        """, False, "AB"),
    },
    _BPR: {
        "-log(sigmoid) overflows for large margins": Wrong("rule", _edit(
            _BPR, "-torch.nn.functional.logsigmoid(pos_scores - neg_scores).mean()",
            "-torch.log(torch.sigmoid(pos_scores - neg_scores)).mean()"), True, "A"),
        "a sum, not a mean": Wrong("rule", _edit(_BPR, ".mean()", ".sum()"), True, ""),
        "the margin's sign swapped": Wrong("rule", _edit(_BPR, "pos_scores - neg_scores", "neg_scores - pos_scores"),
                                           True, ""),
        "the per-sample losses, not their mean": Wrong("shape-only", _edit(_BPR, ".mean()", ""), True, ""),
        "a Python loop over the batch": Wrong("loop", """
            def bpr_loss(pos_scores, neg_scores):
                losses = [torch.nn.functional.softplus(n - p) for p, n in zip(pos_scores, neg_scores)]
                return torch.stack(losses).mean()
        """, False, "A"),
    },
    _AUC: {
        "ties counted as losses": Wrong("rule", _edit(_AUC, " + 0.5 * (d == 0)", ""), True, "A"),
        "relevant artworks no longer on offer still counted": Wrong("rule", _edit(
            _AUC, "scores[rel & candidates]", "scores[rel]"), True, "B"),
        "every artwork a candidate": Wrong("rule", _edit(
            _AUC, "rel[relevant] = True", "rel[relevant] = True\n            candidates = np.ones(len(scores), bool)"),
            True, ""),
        "ranks counted from 0": Wrong("off-by-one", """
            def auc_available(scores, relevant, candidates):
                from scipy.stats import rankdata
                rel = np.zeros(len(scores), bool)
                rel[relevant] = True
                s, r = scores[candidates], rel[candidates]
                ranks = rankdata(s) - 1  # 0-based ranks: every relevant item loses one pair
                n_pos, n_neg = r.sum(), (~r).sum()
                return (ranks[r].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        """, True, ""),
        "a Python loop over the pairs": Wrong("loop", """
            def auc_available(scores, relevant, candidates):
                rel = set(np.asarray(relevant).tolist())
                pos = [scores[i] for i in range(len(scores)) if candidates[i] and i in rel]
                neg = [scores[i] for i in range(len(scores)) if candidates[i] and i not in rel]
                wins = 0.0
                for a in pos:
                    for b in neg:
                        wins += 1.0 if a > b else 0.5 if a == b else 0.0
                return wins / (len(pos) * len(neg))
        """, False, "AB"),
        "always one half": Wrong("shape-only", """
            def auc_available(scores, relevant, candidates):
                return 0.5
        """, True, ""),
    },
}
