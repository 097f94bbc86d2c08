"""CuratorNet in PyTorch (Messina et al., arXiv 2009.04426, ComplexRec workshop at RecSys 2020).

Frozen visual features go through one shared item MLP; a user (or any profile) is the mean and
the max of its items' vectors, concatenated and passed through a user MLP; the score of an item
for a profile is the dot product of the two vectors. Trained with the BPR loss on
(profile, positive, negative) triples from :mod:`coursekit.sampling.curatornet`, in mini-batches,
with early stopping on held-out triples.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from ..sampling.curatornet import Triples, gather_profiles


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Mean of ``-log sigmoid(pos - neg)``, computed stably (softplus of the negated margin)."""
    return nn.functional.softplus(neg_scores - pos_scores).mean()


class _EarlyStopping:
    """Keeps the best weights and says when ``patience`` epochs passed without an improvement of
    more than 1e-4. "Best" is the highest ``monitor`` value when there is one (for example a
    validation AUC), else the lowest validation loss (train loss without validation).
    ``patience=None`` trains every epoch and keeps the last weights."""

    def __init__(self, patience: int | None):
        self.patience, self.best, self.state, self.waited, self.epoch = patience, np.inf, None, 0, 0

    def stop(self, row: dict, net, epoch: int) -> bool:
        if self.patience is None:
            self.epoch = epoch
            return False
        current = -row["monitor"] if "monitor" in row else row.get("valid_loss", row["train_loss"])
        if current < self.best - 1e-4:
            self.best, self.state, self.waited, self.epoch = current, copy.deepcopy(net.state_dict()), 0, epoch
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self, net) -> None:
        if self.state is not None:
            net.load_state_dict(self.state)
        net.eval()


class _Net(nn.Module):
    def __init__(self, in_dim: int, hidden: int, dim: int, dropout: float):
        super().__init__()
        self.item = nn.Sequential(nn.Linear(in_dim, hidden), nn.SELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.user = nn.Sequential(nn.Linear(2 * dim, hidden), nn.SELU(), nn.Linear(hidden, dim))

    def pool(self, emb: torch.Tensor, segment: torch.Tensor, n: int) -> torch.Tensor:
        """Mean and max of the item vectors of each profile -> user vectors (n, dim)."""
        dim = emb.shape[1]
        idx = segment[:, None].expand(-1, dim)
        total = torch.zeros(n, dim).index_add_(0, segment, emb)
        counts = torch.bincount(segment, minlength=n).clamp(min=1)[:, None]
        biggest = torch.zeros(n, dim).scatter_reduce(0, idx, emb, reduce="amax", include_self=False)
        return self.user(torch.cat([total / counts, biggest], dim=1))


class CuratorNet:
    """CuratorNet with a scikit-learn-like interface.

    Parameters: ``hidden`` and ``dim`` sizes of the MLPs; ``lr``, ``weight_decay`` of Adam;
    ``batch_size``; ``max_epochs``; ``patience`` epochs without a better validation figure before
    stopping (``None``: train exactly ``max_epochs`` epochs); ``dropout`` in the item MLP; ``seed``.

    Learned state: ``net_`` (the torch module), ``history_`` (one dict per epoch), ``best_epoch_``.
    """

    def __init__(self, hidden: int = 256, dim: int = 64, lr: float = 1e-3, weight_decay: float = 1e-6,
                 batch_size: int = 1024, max_epochs: int = 10, patience: int = 2, dropout: float = 0.1,
                 seed: int = 0, n_threads: int | None = 1, verbose: bool = False):
        self.hidden = hidden
        self.dim = dim
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.dropout = dropout
        self.seed = seed
        self.n_threads = n_threads
        self.verbose = verbose

    # ---------------------------------------------------------------- training
    def _batch_scores(self, tr: Triples, idx: np.ndarray):
        flat, seg = gather_profiles(tr.profile_indptr, tr.profile_items, tr.profile[idx])
        needed = np.concatenate([flat, tr.pos[idx], tr.neg[idx]])
        uniq, inv = np.unique(needed, return_inverse=True)
        emb = self.net_.item(self._features[torch.from_numpy(uniq)])
        inv = torch.from_numpy(inv)
        n_flat, b = len(flat), len(idx)
        users = self.net_.pool(emb[inv[:n_flat]], torch.from_numpy(seg), b)
        pos = (users * emb[inv[n_flat:n_flat + b]]).sum(1)
        neg = (users * emb[inv[n_flat + b:]]).sum(1)
        return pos, neg

    def _evaluate(self, tr: Triples) -> tuple[float, float]:
        self.net_.eval()
        losses, wins, n = 0.0, 0.0, 0
        with torch.no_grad():
            for s in range(0, len(tr), 4096):
                idx = np.arange(s, min(s + 4096, len(tr)))
                pos, neg = self._batch_scores(tr, idx)
                losses += float(bpr_loss(pos, neg)) * len(idx)
                wins += float((pos > neg).float().sum())
                n += len(idx)
        return losses / max(n, 1), wins / max(n, 1)

    def fit(self, features: np.ndarray, train: Triples, valid: Triples | None = None, *,
            monitor=None) -> "CuratorNet":
        """Train on ``train`` triples; ``features`` float (n_items, d) are frozen inputs.

        ``valid`` triples report a validation loss and accuracy each epoch. ``monitor(model) ->
        float`` (higher is better), called after every epoch, is recorded as ``monitor`` in the
        history and drives early stopping instead of the validation loss: for example the AUC on
        validation baskets, to choose the number of epochs on the task itself.
        """
        old_threads = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            return self._fit(features, train, valid, monitor)
        finally:
            torch.set_num_threads(old_threads)

    def _fit(self, features, train, valid, monitor=None):
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self._features = torch.as_tensor(np.asarray(features, np.float32))
        self.net_ = _Net(self._features.shape[1], self.hidden, self.dim, self.dropout)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.history_, stopper = [], _EarlyStopping(self.patience)
        for epoch in range(1, self.max_epochs + 1):
            t0 = time.perf_counter()
            self.net_.train()
            order = rng.permutation(len(train))
            total = 0.0
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                pos, neg = self._batch_scores(train, idx)
                loss = bpr_loss(pos, neg)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            row = {"epoch": epoch, "train_loss": total / len(order), "seconds": time.perf_counter() - t0}
            if valid is not None and len(valid):
                row["valid_loss"], row["valid_accuracy"] = self._evaluate(valid)
            if monitor is not None:
                self.net_.eval()
                row["monitor"] = float(monitor(self))
            self.history_.append(row)
            if self.verbose:
                print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            if stopper.stop(row, self.net_, epoch):
                break
        stopper.restore(self.net_)
        self.best_epoch_ = stopper.epoch
        return self

    # ---------------------------------------------------------------- scoring
    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise RuntimeError("CuratorNet is not fitted yet: call fit(features, triples) first")

    def item_embeddings(self) -> np.ndarray:
        """float32 (n_items, dim): every item through the item MLP."""
        self._check_fitted()
        with torch.no_grad():
            return self.net_.item(self._features).numpy()

    def score_profiles(self, indptr, items) -> np.ndarray:
        """float32 (n_profiles, n_items) scores of every item for each profile of a CSR table."""
        self._check_fitted()
        indptr = np.asarray(indptr, np.int64)
        items = np.asarray(items, np.int64)
        rows = np.arange(len(indptr) - 1)
        flat, seg = gather_profiles(indptr, items, rows)
        with torch.no_grad():
            emb = self.net_.item(self._features)
            users = self.net_.pool(emb[torch.from_numpy(flat)], torch.from_numpy(seg), len(rows))
            return (users @ emb.T).numpy()


class _VBPRNet(nn.Module):
    def __init__(self, n_users: int, n_items: int, in_dim: int, dim: int, visual_dim: int):
        super().__init__()
        self.gamma_user = nn.Embedding(n_users, dim)
        self.theta_user = nn.Embedding(n_users, visual_dim)
        self.gamma_item = nn.Embedding(n_items, dim)
        self.beta_item = nn.Embedding(n_items, 1)
        self.embed = nn.Linear(in_dim, visual_dim, bias=False)  # E
        self.beta_visual = nn.Linear(in_dim, 1, bias=False)  # beta'
        for emb in (self.gamma_user, self.theta_user, self.gamma_item):
            nn.init.normal_(emb.weight, std=0.05)
        nn.init.zeros_(self.beta_item.weight)

    def forward(self, users, items, features):
        f = features[items]
        return (self.beta_item(items).squeeze(1) + (self.gamma_user(users) * self.gamma_item(items)).sum(1)
                + (self.theta_user(users) * self.embed(f)).sum(1) + self.beta_visual(f).squeeze(1))


class VBPR:
    """VBPR (He & McAuley, 2016): BPR matrix factorisation plus a visual term.

    ``score(u, i) = beta_i + gamma_u . gamma_i + theta_u . (E f_i) + beta' . f_i`` with frozen visual
    features ``f_i``. It needs real users, so ``fit`` uses only the triples with ``user >= 0``
    (strategies 1-4). Parameters as in :class:`CuratorNet`; learned state ``net_``,
    ``history_``, ``best_epoch_``.
    """

    def __init__(self, dim: int = 16, visual_dim: int = 16, lr: float = 5e-3, weight_decay: float = 1e-5,
                 batch_size: int = 1024, max_epochs: int = 10, patience: int = 2, seed: int = 0,
                 n_threads: int | None = 1):
        self.dim = dim
        self.visual_dim = visual_dim
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.n_threads = n_threads

    def _loss(self, tr: Triples, idx) -> torch.Tensor:
        u = torch.from_numpy(tr.user[idx])
        pos = self.net_(u, torch.from_numpy(tr.pos[idx]), self._features)
        neg = self.net_(u, torch.from_numpy(tr.neg[idx]), self._features)
        return bpr_loss(pos, neg)

    def fit(self, features: np.ndarray, n_users: int, train: Triples, valid: Triples | None = None) -> "VBPR":
        old_threads = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            torch.manual_seed(self.seed)
            rng = np.random.default_rng(self.seed)
            self._features = torch.as_tensor(np.asarray(features, np.float32))
            n_items, in_dim = self._features.shape
            self.net_ = _VBPRNet(n_users, n_items, in_dim, self.dim, self.visual_dim)
            opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            train_idx = np.flatnonzero(train.user >= 0)
            valid_idx = np.flatnonzero(valid.user >= 0) if valid is not None else np.empty(0, np.int64)
            self.seen_ = np.zeros(n_items, bool)  # items with a learned vector and bias
            self.seen_[train.pos[train_idx]] = True
            self.seen_[train.neg[train_idx]] = True
            self.history_, stopper = [], _EarlyStopping(self.patience)
            for epoch in range(1, self.max_epochs + 1):
                self.net_.train()
                order = rng.permutation(train_idx)
                total = 0.0
                for s in range(0, len(order), self.batch_size):
                    idx = order[s:s + self.batch_size]
                    loss = self._loss(train, idx)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                row = {"epoch": epoch, "train_loss": total / max(len(order), 1)}
                if len(valid_idx):
                    self.net_.eval()
                    with torch.no_grad():
                        row["valid_loss"] = float(self._loss(valid, valid_idx))
                self.history_.append(row)
                if stopper.stop(row, self.net_, epoch):
                    break
            stopper.restore(self.net_)
            self.best_epoch_ = stopper.epoch
        finally:
            torch.set_num_threads(old_threads)
        return self

    def score_users(self, users) -> np.ndarray:
        """float32 (len(users), n_items) scores of every item for each user index.

        An item that no training triple touched (a new artwork) has no learned vector or bias:
        its latent term and bias are zero, so only the visual terms score it, as in VBPR's
        cold-start setting (its random initial vector would only add noise).
        """
        if not hasattr(self, "net_"):
            raise RuntimeError("VBPR is not fitted yet: call fit(features, n_users, triples) first")
        users = torch.as_tensor(np.asarray(users, np.int64))
        n_items = self._features.shape[0]
        with torch.no_grad():
            net = self.net_
            seen = torch.from_numpy(self.seen_.astype(np.float32))
            visual = net.embed(self._features)  # (n_items, visual_dim)
            bias = net.beta_item.weight.squeeze(1) * seen + net.beta_visual(self._features).squeeze(1)
            gamma = net.gamma_item.weight * seen[:, None]
            s = net.gamma_user(users) @ gamma.T + net.theta_user(users) @ visual.T + bias[None, :]
        assert s.shape[1] == n_items
        return s.numpy()
