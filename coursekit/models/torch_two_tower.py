"""A two-tower recommender in PyTorch: a user tower and an item tower meet in one embedding space.

Each tower maps its input to a vector through a small MLP with a residual connection. The item
tower reads the item's id (an embedding table), the user tower either the user's id
(``user_input="id"``: one free vector per user) or the user's **listening history**
(``user_input="history"``: the weighted mean of an input embedding of the items the user
interacted with, as YouTube's retrieval model reads a watch history, Covington et al. 2016). A
user and an item are close when the user likes the item, so users with similar tastes end up
close to each other, and so do similar items. Optional side features are concatenated to the
id embeddings.

Training uses the (user, item) interactions as positives, in shuffled mini-batches with Adam. Which
interactions are positives is an option: ``min_share=0`` (default) takes every played pair;
``min_share=0.1`` is the music seed's rule, a pair is a positive only when the item has at least
10 % of the user's total count (so a user has at most 10 positives; played pairs below the
threshold are simply left out, as in the seed, and can still be drawn as negatives like any other
item). The loss:

- ``loss="cosine"``: :func:`torch.nn.functional.cosine_embedding_loss` - cosine of a positive pair
  pushed to 1, of each of ``n_negatives`` random items pushed below ``margin`` (the seed's loss);
- ``loss="bpr"``: Bayesian personalised ranking, ``-log sigmoid(s(u, i+) - s(u, i-))`` on dot
  products, against ``n_negatives`` random items per positive;
- ``loss="softmax"``: the softmax over the **whole catalogue**, in batches of users: each user's
  positives are the classes to predict among every item (the multinomial likelihood of Liang et
  al. 2018; YouTube's model samples this softmax when the catalogue is too large). Memory is
  ``batch_size`` users x n_items floats, so it suits catalogues of up to some 10^5 items.

``weighting="log"`` weighs each positive by ``log(1 + count)`` (scaled to mean 1), the confidence
that implicit-feedback ALS gives a play count: a user's most played artists pull harder. With the
history tower, ``history_dropout`` hides that share of each user's history at every step (the
denoising of Liang et al.), so the tower learns to predict items from the others, not to copy.

Early stopping: after each epoch HR@10 is measured on held-out items (seen items excluded) and
training stops when it has not improved for ``patience`` epochs; the best epoch's weights are
kept. The held-out items are the ``valid=`` table given to :meth:`TwoTowerModel.fit` (a validation
split carved by the caller), else one random item of a random ``valid_fraction`` of the users.
``stopped_at_cap_`` tells whether training ran to ``epochs`` without patience running out (then
validation may still have been improving: raise ``epochs``).

The seed's towers ended in a sigmoid, so every embedding had positive coordinates and the cosine of
any two was > 0. Its cosine embedding loss (margin 0) only asks a negative pair for a cosine <= 0,
which such vectors never reach: every negative kept a positive loss whose gradient pulls the
coordinates towards the sigmoid's flat tails. The towers here end linear.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..interactions import Interactions, row_shares
from .knn import dense_top_n, popularity_tie_break, similar_by_vectors

__all__ = ["HistoryTower", "Tower", "TwoTowerModel"]


class Tower(nn.Module):
    """id (and optional float features) -> vector: embedding + MLP([embedding, features]).

    The MLP is Linear(dim + n_features, hidden) - ReLU - Linear(hidden, dim); its output is added
    to the id embedding (a residual connection, so the model starts as plain matrix factorisation).
    ``hidden=0`` leaves the MLP out.

    ``forward(ids)`` takes int64 (batch,) and returns float32 (batch, dim).
    """

    def __init__(self, n: int, dim: int, hidden: int, features: np.ndarray | None = None):
        super().__init__()
        self.embedding = nn.Embedding(n, dim)
        nn.init.normal_(self.embedding.weight, std=0.1)
        extra = 0
        if features is not None:
            self.register_buffer("features", torch.as_tensor(np.asarray(features, np.float32)))
            extra = self.features.shape[1]
        else:
            self.features = None
        self.mlp = nn.Sequential(nn.Linear(dim + extra, hidden), nn.ReLU(), nn.Linear(hidden, dim)) if hidden else None

    def head(self, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        if self.mlp is None:
            return emb
        x = emb if self.features is None else torch.cat([emb, self.features[ids]], dim=1)
        return emb + self.mlp(x)  # residual: the embedding passes straight through

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(ids), ids)


class HistoryTower(Tower):
    """A user's history -> vector: the weighted mean of an input embedding of the items in the
    user's row of ``history`` (CSR users x items, weights ``log(1 + count)``), then the MLP.

    ``forward(users, dropout=p, generator=g)`` hides each history entry with probability ``p``
    (the rest reweighted to a mean again); users with an empty (or fully hidden) history get the
    MLP of a zero vector.
    """

    def __init__(self, history: sp.csr_matrix, dim: int, hidden: int, features: np.ndarray | None = None):
        super().__init__(history.shape[1], dim, hidden, features)
        self.indptr = np.asarray(history.indptr, dtype=np.int64)
        self.items = torch.as_tensor(history.indices.astype(np.int64))
        self.weights = torch.as_tensor(np.log1p(np.asarray(history.data, np.float64)).astype(np.float32))

    def forward(self, ids: torch.Tensor, dropout: float = 0.0, generator=None) -> torch.Tensor:
        rows = ids.numpy()
        starts, lengths = self.indptr[rows], np.diff(self.indptr)[rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pos = torch.as_tensor(np.repeat(starts - offsets, lengths) + np.arange(lengths.sum()))
        bag = torch.as_tensor(np.repeat(np.arange(len(rows)), lengths))
        w = self.weights[pos]
        if dropout > 0:
            w = w * (torch.rand(len(w), generator=generator) >= dropout)
        total = torch.zeros(len(rows)).index_add_(0, bag, w)
        w = w / total.clamp(min=1e-12)[bag]
        emb = nn.functional.embedding_bag(self.items[pos], self.embedding.weight, torch.as_tensor(offsets),
                                          mode="sum", per_sample_weights=w)
        return self.head(emb, ids)


class TwoTowerModel:
    """Two-tower recommender with scikit-learn's shape.

    Parameters
    ----------
    dim, hidden : embedding size and MLP hidden size of both towers (``hidden=0``: no MLP).
    loss : ``"cosine"``, ``"bpr"`` or ``"softmax"`` (see the module docstring).
    n_negatives : random negative items per positive (``"cosine"`` and ``"bpr"``).
    user_input : ``"id"`` or ``"history"`` (the user tower's input).
    history_dropout : share of a user's history hidden at each training step (history tower).
    weighting : None (every positive counts the same) or ``"log"`` (weight ``log(1 + count)``).
    min_share : a training pair is a positive when its count is at least this share of the user's
        total count (0: every non-zero pair; 0.1: the seed's rule). The validation items are drawn
        before the filter, from all pairs, so both choices are validated on the same items.
    margin : cosine embedding loss margin for negatives.
    epochs, batch_size, learning_rate, weight_decay : training (``epochs`` is the cap;
        ``batch_size`` counts positive pairs, or users for ``"softmax"``).
    valid_fraction, patience : early stopping on HR@10 of one hidden item per validation user
        (``valid_fraction`` only when ``fit`` is given no ``valid=`` table; 0: no early stopping,
        every epoch runs and the last one is kept).
    seed : seeds the initialisation, the validation split, shuffling, dropout and negatives.
    n_threads : torch CPU threads while fitting (restored afterwards; ``None`` leaves torch's
        setting). Small batches run fastest on one thread, and a busy machine makes extra threads
        wait for each other (measured here: 30 steps took 0.5 s on 1 thread, 11 s on 2 busy cores).

    Attributes after fit: ``user_vectors_`` float32 (n_users, dim), ``item_vectors_`` float32
    (n_items, dim) (L2-normalised for the cosine loss), ``history_`` (list of dicts with epoch,
    loss, valid_hr), ``best_epoch_``, ``stopped_at_cap_`` (True when the epoch cap ended training
    before patience ran out), ``fit_seconds_``, ``n_positives_`` (training positives after the
    validation hold-out and the ``min_share`` filter).
    """

    LOSSES = ("cosine", "bpr", "softmax")

    def __init__(self, dim: int = 48, hidden: int = 64, loss: str = "cosine", n_negatives: int = 4,
                 margin: float = 0.0, epochs: int = 40, batch_size: int = 2048, learning_rate: float = 0.01,
                 weight_decay: float = 0.0, valid_fraction: float = 0.1, patience: int = 3, seed: int = 0,
                 verbose: int = 0, batch_users: int = 2048, n_threads: int | None = 1, min_share: float = 0.0,
                 weighting: str | None = None, user_input: str = "id", history_dropout: float = 0.5):
        self.dim = dim
        self.hidden = hidden
        self.loss = loss
        self.n_negatives = n_negatives
        self.margin = margin
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.valid_fraction = valid_fraction
        self.patience = patience
        self.seed = seed
        self.verbose = verbose
        self.batch_users = batch_users
        self.n_threads = n_threads
        self.min_share = min_share
        self.weighting = weighting
        self.user_input = user_input
        self.history_dropout = history_dropout

    def get_params(self) -> dict:
        """The constructor's arguments (for tables of the settings tried)."""
        import inspect

        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def set_params(self, **params) -> "TwoTowerModel":
        known = self.get_params()
        for name, value in params.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(known)}")
            setattr(self, name, value)
        return self

    # ------------------------------------------------------------------ training
    def _split(self, m: sp.csr_matrix, rng: np.random.Generator):
        """Hide one random item of a ``valid_fraction`` of the users with >= 2 items."""
        n_per_user = np.diff(m.indptr)
        eligible = np.flatnonzero(n_per_user >= 2)
        n_valid = int(round(self.valid_fraction * len(eligible)))
        users = np.sort(rng.choice(eligible, size=n_valid, replace=False)) if n_valid else np.empty(0, np.int64)
        pos = m.indptr[users] + (rng.random(len(users)) * n_per_user[users]).astype(np.int64)
        items = m.indices[pos]
        keep = np.ones(m.nnz, dtype=bool)
        keep[pos] = False
        rows = np.repeat(np.arange(m.shape[0]), n_per_user)
        train = sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)
        return train, users, items

    @staticmethod
    def _given_valid(interactions: Interactions, valid) -> tuple[np.ndarray, np.ndarray]:
        """(user rows, item columns) of a validation table; items outside the catalogue are dropped."""
        import pandas as pd

        if not isinstance(valid, pd.DataFrame):
            raise TypeError("valid= must be a DataFrame of held-out (user, item) pairs")
        user_col, item_col = interactions.user_col, interactions.item_col
        missing = [c for c in (user_col, item_col) if c not in valid.columns]
        if missing:
            raise ValueError(f"the validation table has no column {missing[0]!r} (columns: {list(valid.columns)})")
        cols = interactions._item_index.get_indexer(valid[item_col].to_numpy())
        known = cols >= 0
        rows = interactions.user_index(valid[user_col].to_numpy()[known])
        return rows, cols[known].astype(np.int64)

    def _pair_loss(self, u, i, j, w):
        n = len(u)
        if self.loss == "cosine":
            uu = torch.cat([u, u.repeat(self.n_negatives, 1)])  # negatives j are laid out block by block
            it = torch.cat([i, j])
            target = torch.cat([torch.ones(n), -torch.ones(n * self.n_negatives)])
            per = nn.functional.cosine_embedding_loss(uu, it, target, margin=self.margin, reduction="none")
            per = per[:n] + per[n:].view(self.n_negatives, n).sum(0)
            return (per * w).mean() / (1 + self.n_negatives)
        pos = (u * i).sum(1)
        neg = (u.repeat(self.n_negatives, 1) * j).sum(1)
        per = -nn.functional.logsigmoid(pos.repeat(self.n_negatives) - neg).view(self.n_negatives, n).mean(0)
        return (per * w).mean()

    def _users(self, ids: torch.Tensor, train: bool, gen=None) -> torch.Tensor:
        if self.user_input == "history":
            return self.user_tower_(ids, self.history_dropout if train else 0.0, gen)
        return self.user_tower_(ids)

    def fit(self, interactions: Interactions, *, valid=None, user_features=None,
            item_features=None) -> "TwoTowerModel":
        """Train on the non-zeros of ``interactions.matrix`` (each pair once; counts decide, with
        ``min_share``, which pairs are positives and, with ``weighting``, how much each counts).

        ``valid``: optional DataFrame of held-out (user, item) pairs, with the interactions' user and
        item columns, for early stopping (then no pair is held out of ``interactions``).
        ``user_features`` / ``item_features``: optional float arrays (n_users, f) / (n_items, g)
        concatenated to the id (or history) embeddings.
        """
        threads = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            return self._fit(interactions, valid, user_features, item_features)
        finally:
            torch.set_num_threads(threads)

    def _check_settings(self, interactions) -> None:
        if self.loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {self.LOSSES}, got {self.loss!r}")
        if self.weighting not in (None, "log"):
            raise ValueError(f"weighting must be None or 'log', got {self.weighting!r}")
        if self.user_input not in ("id", "history"):
            raise ValueError(f"user_input must be 'id' or 'history', got {self.user_input!r}")
        if not isinstance(interactions, Interactions):
            raise TypeError("fit expects a coursekit.interactions.Interactions")
        if not 0.0 <= self.min_share <= 1.0:
            raise ValueError(f"min_share must lie in [0, 1], got {self.min_share!r}")
        if not 0.0 <= self.history_dropout < 1.0:
            raise ValueError(f"history_dropout must lie in [0, 1), got {self.history_dropout!r}")

    def _fit(self, interactions, valid, user_features, item_features) -> "TwoTowerModel":
        self._check_settings(interactions)
        start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        self.interactions_ = interactions
        self.tie_break_ = popularity_tie_break(interactions.item_popularity())
        m = sp.csr_matrix(interactions.matrix)
        if valid is not None:
            train = m
            v_users, v_items = self._given_valid(interactions, valid)
        else:
            train, v_users, v_items = self._split(m, rng)
        positives = train
        if self.min_share > 0:
            share = row_shares(m)
            share.data = (share.data >= self.min_share).astype(np.float32)
            share.eliminate_zeros()
            positives = sp.csr_matrix(train.multiply(share))
            positives.eliminate_zeros()
        positives = sp.csr_matrix(positives)
        self.n_positives_ = int(positives.nnz)
        if self.user_input == "history":
            self.user_tower_ = HistoryTower(train, self.dim, self.hidden, user_features)
        else:
            self.user_tower_ = Tower(m.shape[0], self.dim, self.hidden, user_features)
        self.item_tower_ = Tower(m.shape[1], self.dim, self.hidden, item_features)
        params = list(self.user_tower_.parameters()) + list(self.item_tower_.parameters())
        opt = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        weight = np.ones(positives.nnz, np.float32)
        if self.weighting == "log" and len(weight):
            weight = np.log1p(np.asarray(positives.data, np.float64))
            weight = (weight / max(weight.mean(), 1e-12)).astype(np.float32)
        step = self._softmax_epoch if self.loss == "softmax" else self._pair_epoch
        data = (positives, weight, m.shape[1])
        self.history_ = []
        best, best_state, waited = -1.0, None, 0
        self.stopped_at_cap_ = False
        for epoch in range(1, self.epochs + 1):
            self.user_tower_.train()
            self.item_tower_.train()
            total = step(opt, gen, *data)
            self._refresh_vectors()
            hr = self._valid_hr(train, v_users, v_items) if len(v_users) else float("nan")
            self.history_.append({"epoch": epoch, "loss": total, "valid_hr": hr})
            if self.verbose:
                print(f"epoch {epoch}: loss {total:.4f}, valid HR@10 {hr:.4f}")
            if not len(v_users) or hr > best:
                best, waited, self.best_epoch_ = hr, 0, epoch
                best_state = copy.deepcopy((self.user_tower_.state_dict(), self.item_tower_.state_dict()))
            else:
                waited += 1
                if waited >= self.patience:
                    break
        else:
            self.stopped_at_cap_ = bool(len(v_users))  # the cap, not patience, ended training
        self.user_tower_.load_state_dict(best_state[0])
        self.item_tower_.load_state_dict(best_state[1])
        self._refresh_vectors()
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _pair_epoch(self, opt, gen, positives, weight, n_items) -> float:
        """One pass over the positive pairs in shuffled batches, random negatives; mean loss."""
        coo = positives.tocoo()
        pu, pi = torch.as_tensor(coo.row.astype(np.int64)), torch.as_tensor(coo.col.astype(np.int64))
        pw = torch.as_tensor(weight)
        total = 0.0
        for b in torch.randperm(len(pu), generator=gen).split(self.batch_size):
            neg = torch.randint(0, n_items, (len(b) * self.n_negatives,), generator=gen)
            loss = self._pair_loss(self._users(pu[b], True, gen), self.item_tower_(pi[b]), self.item_tower_(neg), pw[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        return total / max(len(pu), 1)

    def _softmax_epoch(self, opt, gen, positives, weight, n_items) -> float:
        """One pass over the users with positives in shuffled batches, each user's positives
        predicted among all items (weighted cross-entropy); mean loss per user."""
        target_all = sp.csr_matrix((weight, positives.indices, positives.indptr), shape=positives.shape)
        active = torch.as_tensor(np.flatnonzero(np.diff(positives.indptr)))
        every_item = torch.arange(n_items)
        total = 0.0
        for b in active[torch.randperm(len(active), generator=gen)].split(self.batch_size):
            target = torch.as_tensor(target_all[b.numpy()].toarray())
            logits = self._users(b, True, gen) @ self.item_tower_(every_item).T
            per = -(target * torch.log_softmax(logits, dim=1)).sum(1) / target.sum(1)
            loss = per.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        return total / max(len(active), 1)

    @torch.no_grad()
    def _refresh_vectors(self) -> None:
        self.user_tower_.eval()
        self.item_tower_.eval()
        n_users, n_items = self.interactions_.n_users, self.interactions_.n_items
        u = self._users(torch.arange(n_users), False)
        i = self.item_tower_(torch.arange(n_items))
        if self.loss == "cosine":
            u = nn.functional.normalize(u, dim=1)
            i = nn.functional.normalize(i, dim=1)
        self.user_vectors_ = u.numpy().astype(np.float32)
        self.item_vectors_ = i.numpy().astype(np.float32)

    def _valid_hr(self, seen: sp.csr_matrix, users: np.ndarray, items: np.ndarray, k: int = 10) -> float:
        """HR@10 of the held-out ``items`` (one per row of ``users``), ``seen`` items excluded: a
        held-out item is hit when fewer than ``k`` unseen items score higher (no sort needed)."""
        hits = 0
        for start in range(0, len(users), self.batch_users):
            u, it = users[start:start + self.batch_users], items[start:start + self.batch_users]
            scores = self.user_vectors_[u] @ self.item_vectors_.T
            own = scores[np.arange(len(u)), it]
            higher = (scores > own[:, None]).sum(axis=1)
            s = seen[u]
            rows = np.repeat(np.arange(len(u)), np.diff(s.indptr))
            higher -= np.bincount(rows[scores[rows, s.indices] > own[rows]], minlength=len(u))
            hits += int((higher < k).sum())
        return hits / len(users)

    def top_n(self, user_rows, n: int = 10, exclude=None) -> np.ndarray:
        """int64 (len(user_rows), n): the best item columns, ``exclude``'s items left out (the
        evaluation's fast path; the same rankings as :meth:`recommend`)."""
        self._check_fitted()
        return dense_top_n(self.score(user_rows), n, exclude, self.tie_break_)

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if not hasattr(self, "user_vectors_"):
            raise RuntimeError("TwoTowerModel is not fitted yet: call fit(interactions) first")

    def score(self, user_rows) -> np.ndarray:
        """float64 (len(user_rows), n_items): cosine (or dot product) of user and item vectors."""
        self._check_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        return (self.user_vectors_[rows] @ self.item_vectors_.T).astype(np.float64)

    def recommend(self, users, n: int = 10, exclude_seen: bool = True) -> np.ndarray:
        """ORIGINAL item ids (len(users), n), best first; seen items excluded; in user batches."""
        self._check_fitted()
        inter = self.interactions_
        rows = inter.user_index(users)
        out = np.empty((len(rows), n), dtype=np.int64)
        for start in range(0, len(rows), self.batch_users):
            b = rows[start:start + self.batch_users]
            out[start:start + len(b)] = dense_top_n(self.score(b), n, inter.matrix[b] if exclude_seen else None,
                                                    self.tie_break_)
        return inter.item_ids[out]

    def similar_items(self, item_ids, n: int = 10) -> np.ndarray:
        """ORIGINAL ids (len(item_ids), n) of the items whose vectors are closest (by cosine)."""
        self._check_fitted()
        return similar_by_vectors(self.item_vectors_, self.interactions_, item_ids, n)
