"""Inventory replay, baskets, profiles and the last-basket split of a purchase log (unit 2).

Physical artworks are mostly one-of-a-kind: once sold they leave the inventory. To recommend at
time ``t`` we must know which artworks were on offer then. Rather than replaying the event log once
per question, :func:`replay_inventory` computes, in one pass over all events, the interval during
which each artwork is on offer; any number of times can then be answered by broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

NEVER = np.iinfo(np.int64).max


# --------------------------------------------------------------------------- availability

@dataclass
class Availability:
    """When each artwork is on offer: from ``upload_time`` to ``removal_time`` (both included).

    upload_time, removal_time : int64 (n_items,); ``removal_time`` is the time of the sale of a
        one-of-a-kind artwork (it can still be bought at that very time, not after), ``NEVER``
        for artworks never sold or sold more than once (prints, which stay on offer).
    one_of_a_kind : bool (n_items,) artworks bought at most once in the log.
    sold_before_upload : int, purchases whose artwork was uploaded later (a data quirk, counted).
    """

    upload_time: np.ndarray
    removal_time: np.ndarray
    one_of_a_kind: np.ndarray
    sold_before_upload: int = 0

    @property
    def n_items(self) -> int:
        return len(self.upload_time)

    def mask(self, times) -> np.ndarray:
        """bool (n_times, n_items): which artworks are on offer at each time."""
        t = np.asarray(times, dtype=np.int64)[:, None]
        return (self.upload_time[None, :] <= t) & (t <= self.removal_time[None, :])

    def count(self, times) -> np.ndarray:
        """int64 (n_times,): how many artworks are on offer at each time (no n_times x n_items array)."""
        t = np.asarray(times, dtype=np.int64)
        up = np.sort(self.upload_time)
        gone = np.sort(self.removal_time[self.removal_time != NEVER])
        return np.searchsorted(up, t, side="right") - np.searchsorted(gone, t, side="left")

    def items_at(self, time: int) -> np.ndarray:
        """int64 indices of the artworks on offer at ``time``."""
        return np.flatnonzero(self.mask([time])[0])


def replay_inventory(upload_time, purchase_time, purchase_indptr, purchase_items) -> Availability:
    """Replay uploads and purchases in time order once and return every artwork's offer interval.

    Parameters
    ----------
    upload_time : int64 (n_items,); purchase_time : int64 (n_purchases,);
    purchase_indptr : int64 (n_purchases + 1,), purchase_items : int64 (total,) items of each purchase.

    An artwork bought once is one-of-a-kind and leaves at its sale; an artwork bought several
    times is a print and stays (the seed's rule). One vectorised pass: no replay per query.
    """
    upload_time = np.asarray(upload_time, dtype=np.int64)
    n_items = len(upload_time)
    items = np.asarray(purchase_items, dtype=np.int64)
    sale_time = np.repeat(np.asarray(purchase_time, dtype=np.int64), np.diff(purchase_indptr))
    n_sales = np.bincount(items, minlength=n_items)
    removal = np.full(n_items, NEVER, dtype=np.int64)
    # a sale logged before the upload cannot remove the artwork (it arrives afterwards), as in
    # a step-by-step replay; such sales are counted in ``sold_before_upload``
    sold_once = (n_sales == 1)[items] & (sale_time >= upload_time[items])
    removal[items[sold_once]] = sale_time[sold_once]
    return Availability(
        upload_time=upload_time,
        removal_time=removal,
        one_of_a_kind=n_sales <= 1,
        sold_before_upload=int((sale_time < upload_time[items]).sum()),
    )


def replay_per_query(upload_time, purchase_time, purchase_indptr, purchase_items, time) -> set:
    """Seed-style reference: replay the event log up to ``time`` with Python loops (slow; tests
    and the bench compare :func:`replay_inventory` against it)."""
    events = [(int(t), 0, i) for i, t in enumerate(upload_time)]
    events += [(int(t), 1, r) for r, t in enumerate(purchase_time)]
    events.sort()
    counts: dict[int, int] = {}
    for i in purchase_items:
        counts[int(i)] = counts.get(int(i), 0) + 1
    on_offer: set = set()
    for t, kind, ref in events:
        if t > time or (kind == 1 and t == time):  # sales at ``time`` itself have not happened yet
            break
        if kind == 0:
            on_offer.add(ref)
        else:
            for i in purchase_items[purchase_indptr[ref]:purchase_indptr[ref + 1]]:
                if counts[int(i)] == 1:
                    on_offer.discard(int(i))
    return on_offer


# --------------------------------------------------------------------------- baskets and users

@dataclass
class Baskets:
    """Baskets: the purchases of one user at one timestamp, sorted by (user, time).

    user, time : int64 (n_baskets,); indptr int64 (n_baskets + 1,), items int64: the distinct items
    of basket ``b`` are ``items[indptr[b]:indptr[b + 1]]`` (sorted). ``user_ptr`` int64
    (n_users + 1,): the baskets of user ``u`` are ``user_ptr[u]:user_ptr[u + 1]``.
    """

    user: np.ndarray
    time: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    user_ptr: np.ndarray
    n_items: int

    @property
    def n_baskets(self) -> int:
        return len(self.user)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.indptr)

    def matrix(self) -> sp.csr_matrix:
        """bool CSR (n_baskets, n_items)."""
        return sp.csr_matrix((np.ones(len(self.items), bool), self.items, self.indptr),
                             shape=(self.n_baskets, self.n_items))

    def basket_of_entry(self) -> np.ndarray:
        """int64 (len(items),): the basket of each entry of ``items``."""
        return np.repeat(np.arange(self.n_baskets), self.sizes)


def make_baskets(purchase_user, purchase_time, purchase_indptr, purchase_items, n_users: int, n_items: int) -> Baskets:
    """Group purchase rows into baskets (same user and timestamp), dropping repeated items."""
    lengths = np.diff(purchase_indptr)
    u = np.repeat(np.asarray(purchase_user, np.int64), lengths)
    t = np.repeat(np.asarray(purchase_time, np.int64), lengths)
    i = np.asarray(purchase_items, np.int64)
    order = np.lexsort((i, t, u))
    u, t, i = u[order], t[order], i[order]
    keep = np.ones(len(i), bool)
    keep[1:] = (u[1:] != u[:-1]) | (t[1:] != t[:-1]) | (i[1:] != i[:-1])
    u, t, i = u[keep], t[keep], i[keep]
    new = np.ones(len(i), bool)
    new[1:] = (u[1:] != u[:-1]) | (t[1:] != t[:-1])
    starts = np.flatnonzero(new)
    indptr = np.append(starts, len(i)).astype(np.int64)
    user = u[starts]
    user_ptr = np.searchsorted(user, np.arange(n_users + 1)).astype(np.int64)
    return Baskets(user=user, time=t[starts], indptr=indptr, items=i, user_ptr=user_ptr, n_items=n_items)


@dataclass
class UserSplit:
    """The last-basket split and what each user liked in training.

    baskets : all baskets; ``is_test`` bool (n_baskets,) marks the held-out last basket of every
    user with two or more baskets (users with one basket keep it for training, as in the seed).
    train : the training baskets only (a :class:`Baskets`).
    test_basket : int64 (n_users,) index into ``baskets`` of the held-out basket, -1 where none.
    profile : bool CSR (n_users, n_items) items of the training baskets.
    liked_artists : bool CSR (n_users, n_artists); liked_clusters : bool CSR (n_users, n_clusters).
    """

    baskets: Baskets
    is_test: np.ndarray
    train: Baskets
    test_basket: np.ndarray
    profile: sp.csr_matrix
    liked_artists: sp.csr_matrix
    liked_clusters: sp.csr_matrix

    @property
    def test_users(self) -> np.ndarray:
        return np.flatnonzero(self.test_basket >= 0)


def _select(b: Baskets, keep: np.ndarray, n_users: int) -> Baskets:
    sizes = b.sizes[keep]
    entry_keep = np.repeat(keep, b.sizes)
    user = b.user[keep]
    return Baskets(user=user, time=b.time[keep], indptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                   items=b.items[entry_keep], user_ptr=np.searchsorted(user, np.arange(n_users + 1)).astype(np.int64),
                   n_items=b.n_items)


def _liked(profile: sp.csr_matrix, labels: np.ndarray, n_labels: int) -> sp.csr_matrix:
    onehot = sp.csr_matrix((np.ones(len(labels), np.int32), labels, np.arange(len(labels) + 1)),
                           shape=(len(labels), n_labels))
    out = (profile.astype(np.int32) @ onehot).astype(bool).tocsr()
    out.sort_indices()
    return out


def last_basket_split(baskets: Baskets, artist: np.ndarray, cluster: np.ndarray, n_users: int, *,
                      hold_out: bool = True) -> UserSplit:
    """Hold out each user's last basket (users with 2+ baskets); profiles and likes from the rest.

    ``hold_out=False`` keeps every basket for training (no test baskets)."""
    n_baskets_of = np.diff(baskets.user_ptr)
    last = baskets.user_ptr[1:] - 1
    has_test = (n_baskets_of >= 2) & hold_out
    is_test = np.zeros(baskets.n_baskets, bool)
    is_test[last[has_test]] = True
    test_basket = np.where(has_test, last, -1).astype(np.int64)
    train = _select(baskets, ~is_test, n_users)
    rows = train.user[train.basket_of_entry()]
    profile = sp.csr_matrix((np.ones(len(rows), bool), (rows, train.items)), shape=(n_users, baskets.n_items))
    profile.sum_duplicates()
    profile.sort_indices()
    return UserSplit(
        baskets=baskets, is_test=is_test, train=train, test_basket=test_basket, profile=profile,
        liked_artists=_liked(profile, np.asarray(artist, np.int64), int(artist.max()) + 1),
        liked_clusters=_liked(profile, np.asarray(cluster, np.int64), int(cluster.max()) + 1),
    )


def repeat_artist_share(baskets: Baskets, artist: np.ndarray, availability: Availability) -> tuple[float, float]:
    """How often returning buyers come back to an artist they bought from.

    Over the purchases in a user's second and later baskets: ``(share, by_chance)`` where
    ``share`` is the fraction by an artist of the user's earlier baskets and ``by_chance`` the
    fraction expected if each of those purchases had been an artwork on offer at that time picked
    uniformly at random. Vectorised (dense baskets x artists and baskets x items tables).
    """
    b = baskets
    artist = np.asarray(artist, np.int64)
    n_artists = int(artist.max()) + 1
    entry_basket = b.basket_of_entry()
    bought = np.zeros((b.n_baskets, n_artists), np.int64)
    np.add.at(bought, (entry_basket, artist[b.items]), 1)
    running = np.cumsum(bought, axis=0)  # artists bought in baskets 0..i, over all users
    first = b.user_ptr[b.user]  # the first basket of each basket's user
    before_user = np.where(first[:, None] > 0, running[np.maximum(first - 1, 0)], 0)
    before = np.where(np.arange(b.n_baskets)[:, None] > 0, running[np.maximum(np.arange(b.n_baskets) - 1, 0)], 0)
    known = (before - before_user) > 0  # artists of the same user's earlier baskets (baskets sorted by user, time)
    later = np.arange(b.n_baskets) > first
    if not later.any():
        return float("nan"), float("nan")
    entries = later[entry_basket]
    share = known[entry_basket[entries], artist[b.items[entries]]].mean()
    rows = np.flatnonzero(later)
    on_offer = availability.mask(b.time[rows])
    chance = (on_offer & known[rows][:, artist]).sum(1) / np.maximum(on_offer.sum(1), 1)
    return float(share), float(np.average(chance, weights=b.sizes[rows]))


# --------------------------------------------------------------------------- evaluation

@dataclass
class Holdout:
    """What availability-aware evaluation needs, one row per test user.

    users int64 (n_eval,); time int64 (n_eval,) purchase time of the held-out basket;
    relevant bool CSR (n_eval, n_items) its items; candidates bool (n_eval, n_items): on offer at
    that time and not in the user's training profile.
    """

    users: np.ndarray
    time: np.ndarray
    relevant: sp.csr_matrix
    candidates: np.ndarray


def make_holdout(split: UserSplit, availability: Availability | None, *, items: np.ndarray | None = None) -> Holdout:
    """The held-out last baskets and their candidates: the artworks on offer at the purchase time
    (every artwork when ``availability`` is None: no availability filter) that are not in the
    user's training profile, restricted to ``items`` (bool (n_items,)) when given, for example the
    artworks uploaded after a cut-off (cold start). Items outside the candidates cannot be hit."""
    users = split.test_users
    b = split.test_basket[users]
    time = split.baskets.time[b]
    relevant = split.baskets.matrix()[b]
    n_items = split.baskets.n_items
    candidates = availability.mask(time) if availability is not None else np.ones((len(users), n_items), bool)
    candidates &= ~split.profile[users].toarray()
    if items is not None:
        candidates &= np.asarray(items, bool)[None, :]
    return Holdout(users=users, time=time, relevant=relevant.tocsr(), candidates=candidates)


def restrict_training(split: UserSplit, keep: np.ndarray, artist: np.ndarray, cluster: np.ndarray
                      ) -> tuple[UserSplit, np.ndarray]:
    """The training side of ``split`` on the sub-catalogue ``keep`` (bool (n_items,)), re-indexed.

    Returns ``(sub, index)``: ``sub`` is a :class:`UserSplit` whose baskets are the training
    baskets with the other items removed (baskets left empty are dropped; nothing is held out)
    and whose items are numbered ``0..keep.sum()-1``; ``index`` int64 maps them back
    (``index[j]`` is the catalogue item of sub-item ``j``). Used to train on the artworks known
    at a cut-off time and test on the ones uploaded later (cold start).
    """
    keep = np.asarray(keep, bool)
    index = np.flatnonzero(keep).astype(np.int64)
    new_id = np.full(len(keep), -1, np.int64)
    new_id[index] = np.arange(len(index))
    t = split.train
    entry_keep = keep[t.items]
    sizes = np.bincount(t.basket_of_entry()[entry_keep], minlength=t.n_baskets)
    nonempty = sizes > 0
    user = t.user[nonempty]
    n_users = len(t.user_ptr) - 1
    baskets = Baskets(user=user, time=t.time[nonempty],
                      indptr=np.concatenate([[0], np.cumsum(sizes[nonempty])]).astype(np.int64),
                      items=new_id[t.items[entry_keep]],
                      user_ptr=np.searchsorted(user, np.arange(n_users + 1)).astype(np.int64), n_items=len(index))
    sub = last_basket_split(baskets, np.asarray(artist)[index], np.asarray(cluster)[index], n_users,
                            hold_out=False)
    return sub, index


def auc_per_user(scores: np.ndarray, holdout: Holdout) -> np.ndarray:
    """float64 (n_eval,): each held-out basket's AUC among its candidates, in the order of
    ``holdout.users``; NaN where none of the basket's items is a candidate (nothing to rank). The
    paired figures that tests over users compare (two models: the same users in the same order)."""
    from .metrics import auc_score

    rel = holdout.relevant.multiply(holdout.candidates).tocsr()  # items not on offer cannot be hit
    keep = np.asarray(rel.sum(1)).ravel() > 0
    out = np.full(len(holdout.users), np.nan)
    out[keep] = auc_score(np.asarray(scores)[keep], rel[keep], holdout.candidates[keep])
    return out


def evaluate_scores(scores: np.ndarray, holdout: Holdout, ks=(20, 100)) -> dict[str, float]:
    """AUC, precision@k, recall@k and nDCG@k of scores (n_eval, n_items), ranking candidates only
    (means over the baskets that have a candidate to find; per basket: :func:`auc_per_user`)."""
    from .metrics import ndcg_at_k, precision_at_k, recall_at_k
    from .ranking import top_k

    rel = holdout.relevant.multiply(holdout.candidates).tocsr()  # items not on offer cannot be hit
    keep = np.asarray(rel.sum(1)).ravel() > 0
    masked = np.where(holdout.candidates, scores, -np.inf)[keep]
    rel = rel[keep]
    recs, _ = top_k(masked, max(ks))
    out = {"auc": float(np.nanmean(auc_per_user(scores, holdout)))}
    for k in ks:
        out[f"recall@{k}"] = float(np.nanmean(recall_at_k(recs, rel, k)))
        out[f"precision@{k}"] = float(np.nanmean(precision_at_k(recs, rel, k)))
        out[f"ndcg@{k}"] = float(np.nanmean(ndcg_at_k(recs, rel, k)))
    return out
