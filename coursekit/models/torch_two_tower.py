"""A two-tower recommender in PyTorch: a user tower and an item tower meet in one embedding space.

Each tower maps an id (plus optional side features) to a vector: an embedding table followed by a
small MLP. A user and an item are close when the user likes the item, so users with similar tastes
end up close to each other, and so do similar items.

Training uses the (user, item) interactions as positives and ``n_negatives`` items drawn uniformly
at random per positive as negatives, in shuffled mini-batches with Adam. Which interactions are
positives is an option: ``min_share=0`` (default) takes every played pair; ``min_share=0.1`` is the
music seed's rule, a pair is a positive only when the item has at least 10 % of the user's total
count (so a user has at most 10 positives; played pairs below the threshold are simply left out,
as in the seed, and can still be drawn as negatives like any other item).

- ``loss="cosine"``: :func:`torch.nn.functional.cosine_embedding_loss` - cosine of a positive pair
  pushed to 1, of a negative pair pushed below ``margin`` (the seed's loss);
- ``loss="bpr"``: Bayesian personalised ranking, ``-log sigmoid(s(u, i+) - s(u, i-))`` on dot products.

A random ``valid_fraction`` of the users (with at least two items) each hide one item; after each
epoch HR@10 on those hidden items is measured (seen items excluded) and training stops when it has
not improved for ``patience`` epochs; the best epoch's weights are kept.

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
from ..ranking import mask_items, top_k
from .knn import popularity_tie_break

__all__ = ["Tower", "TwoTowerModel"]


class Tower(nn.Module):
    """id (and optional float features) -> vector: embedding + MLP([embedding, features]).

    The MLP is Linear(dim + n_features, hidden) - ReLU - Linear(hidden, dim); its output is added
    to the id embedding (a residual connection, so the model starts as plain matrix factorisation).

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
        self.mlp = nn.Sequential(nn.Linear(dim + extra, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb = self.embedding(ids)
        x = emb if self.features is None else torch.cat([emb, self.features[ids]], dim=1)
        return emb + self.mlp(x)  # residual: the id embedding passes straight through


class TwoTowerModel:
    """Two-tower recommender with scikit-learn's shape.

    Parameters
    ----------
    dim, hidden : embedding size and MLP hidden size of both towers.
    loss : ``"cosine"`` or ``"bpr"``.
    n_negatives : random negative items per positive.
    min_share : a training pair is a positive when its count is at least this share of the user's
        total count (0: every non-zero pair; 0.1: the seed's rule). The validation items are drawn
        before the filter, from all pairs, so both choices are validated on the same items.
    margin : cosine embedding loss margin for negatives.
    epochs, batch_size, learning_rate, weight_decay : training.
    valid_fraction, patience : early stopping on HR@10 of one hidden item per validation user.
    seed : seeds the initialisation, the validation split, shuffling and negatives.
    n_threads : torch CPU threads while fitting (restored afterwards; ``None`` leaves torch's
        setting). Small batches run fastest on one thread, and a busy machine makes extra threads
        wait for each other (measured here: 30 steps took 0.5 s on 1 thread, 11 s on 2 busy cores).

    Attributes after fit: ``user_vectors_`` float32 (n_users, dim), ``item_vectors_`` float32
    (n_items, dim) (L2-normalised for the cosine loss), ``history_`` (list of dicts with epoch,
    loss, valid_hr), ``best_epoch_``, ``fit_seconds_``, ``n_positives_`` (training positives
    after the validation hold-out and the ``min_share`` filter).
    """

    def __init__(self, dim: int = 48, hidden: int = 64, loss: str = "cosine", n_negatives: int = 4,
                 margin: float = 0.0, epochs: int = 40, batch_size: int = 2048, learning_rate: float = 0.01,
                 weight_decay: float = 0.0, valid_fraction: float = 0.1, patience: int = 3, seed: int = 0,
                 verbose: int = 0, batch_users: int = 2048, n_threads: int | None = 1, min_share: float = 0.0):
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
        train = sp.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], m.indices[keep])), shape=m.shape)
        return train, users, items

    def _loss(self, u, i, j):
        if self.loss == "cosine":
            n = len(u)
            uu = torch.cat([u, u.repeat(self.n_negatives, 1)])  # negatives j are laid out block by block
            it = torch.cat([i, j])
            target = torch.cat([torch.ones(n), -torch.ones(n * self.n_negatives)])
            return nn.functional.cosine_embedding_loss(uu, it, target, margin=self.margin)
        pos = (u * i).sum(1)
        neg = (u.repeat(self.n_negatives, 1) * j).sum(1)
        return -nn.functional.logsigmoid(pos.repeat(self.n_negatives) - neg).mean()

    def fit(self, interactions: Interactions, *, user_features=None, item_features=None) -> "TwoTowerModel":
        """Train on the non-zeros of ``interactions.matrix`` (each pair once; counts only decide,
        with ``min_share``, which pairs are positives).

        ``user_features`` / ``item_features``: optional float arrays (n_users, f) / (n_items, g)
        concatenated to the id embeddings.
        """
        threads = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            return self._fit(interactions, user_features, item_features)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, interactions, user_features, item_features) -> "TwoTowerModel":
        if self.loss not in ("cosine", "bpr"):
            raise ValueError(f"loss must be 'cosine' or 'bpr', got {self.loss!r}")
        if not isinstance(interactions, Interactions):
            raise TypeError("fit expects a coursekit.interactions.Interactions")
        start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        self.interactions_ = interactions
        self.tie_break_ = popularity_tie_break(interactions.item_popularity())
        if not 0.0 <= self.min_share <= 1.0:
            raise ValueError(f"min_share must lie in [0, 1], got {self.min_share!r}")
        m = sp.csr_matrix(interactions.matrix)
        train, v_users, v_items = self._split(m, rng)
        positives = train
        if self.min_share > 0:
            share = row_shares(m)
            share.data = (share.data >= self.min_share).astype(np.float32)
            share.eliminate_zeros()
            positives = sp.csr_matrix(train.multiply(share))
            positives.eliminate_zeros()
        self.n_positives_ = int(positives.nnz)
        self.user_tower_ = Tower(m.shape[0], self.dim, self.hidden, user_features)
        self.item_tower_ = Tower(m.shape[1], self.dim, self.hidden, item_features)
        params = list(self.user_tower_.parameters()) + list(self.item_tower_.parameters())
        opt = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        coo = positives.tocoo()
        pu = torch.as_tensor(coo.row.astype(np.int64))
        pi = torch.as_tensor(coo.col.astype(np.int64))
        n_items = m.shape[1]
        self.history_ = []
        best, best_state, waited = -1.0, None, 0
        for epoch in range(1, self.epochs + 1):
            self.user_tower_.train()
            self.item_tower_.train()
            order = torch.randperm(len(pu), generator=gen)
            total = 0.0
            for b in order.split(self.batch_size):
                neg = torch.randint(0, n_items, (len(b) * self.n_negatives,), generator=gen)
                loss = self._loss(self.user_tower_(pu[b]), self.item_tower_(pi[b]), self.item_tower_(neg))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            self._refresh_vectors()
            hr = self._valid_hr(train, v_users, v_items) if len(v_users) else float("nan")
            self.history_.append({"epoch": epoch, "loss": total / max(len(pu), 1), "valid_hr": hr})
            if self.verbose:
                print(f"epoch {epoch}: loss {total / max(len(pu), 1):.4f}, valid HR@10 {hr:.4f}")
            if not len(v_users) or hr > best:
                best, waited, self.best_epoch_ = hr, 0, epoch
                best_state = copy.deepcopy((self.user_tower_.state_dict(), self.item_tower_.state_dict()))
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.user_tower_.load_state_dict(best_state[0])
        self.item_tower_.load_state_dict(best_state[1])
        self._refresh_vectors()
        self.fit_seconds_ = time.perf_counter() - start
        return self

    @torch.no_grad()
    def _refresh_vectors(self) -> None:
        self.user_tower_.eval()
        self.item_tower_.eval()
        u = self.user_tower_(torch.arange(self.user_tower_.embedding.num_embeddings))
        i = self.item_tower_(torch.arange(self.item_tower_.embedding.num_embeddings))
        if self.loss == "cosine":
            u = nn.functional.normalize(u, dim=1)
            i = nn.functional.normalize(i, dim=1)
        self.user_vectors_ = u.numpy().astype(np.float32)
        self.item_vectors_ = i.numpy().astype(np.float32)

    def _valid_hr(self, train: sp.csr_matrix, users: np.ndarray, items: np.ndarray, k: int = 10) -> float:
        scores = mask_items(self.user_vectors_[users] @ self.item_vectors_.T, train[users])
        idx, _ = top_k(scores, k, tie_break=self.tie_break_)
        return float((idx == items[:, None]).any(axis=1).mean())

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if not hasattr(self, "user_vectors_"):
            raise RuntimeError("TwoTowerModel is not fitted yet: call fit(interactions) first")

    def score(self, user_rows) -> np.ndarray:
        """float64 (len(user_rows), n_items): cosine (or dot product for BPR) of user and item vectors."""
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
            s = mask_items(self.score(b), inter.matrix[b] if exclude_seen else None)
            out[start:start + len(b)] = top_k(s, n, tie_break=self.tie_break_)[0]
        return inter.item_ids[out]

    def similar_items(self, item_ids, n: int = 10) -> np.ndarray:
        """ORIGINAL ids (len(item_ids), n) of the items whose vectors are closest (by cosine)."""
        self._check_fitted()
        cols = self.interactions_.item_index(item_ids)
        v = self.item_vectors_ / np.maximum(np.linalg.norm(self.item_vectors_, axis=1, keepdims=True), 1e-12)
        s = v[cols] @ v.T
        s[np.arange(len(cols)), cols] = -np.inf
        return self.interactions_.item_ids[top_k(s, n)[0]]
