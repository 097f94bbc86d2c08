"""Visual compatibility in PyTorch: the twin of :mod:`coursekit.models.tf_compat`.

Same models (``EuclideanCompatibility``, ``InnerCompatibility``: ``torch.nn.Module`` with
parameters ``E1``, ``E2`` (feat_dim, style_dim) and ``c``), same wrapper
(:class:`StyleCompatibility` with ``fit`` / ``predict_proba`` / ``embed`` / ``get_weights`` /
``set_weights``), so weights move between the frameworks and give the same outputs.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from .selection import ValidationMonitor

__all__ = ["EuclideanCompatibility", "InnerCompatibility", "StyleCompatibility", "KINDS"]


class _Compatibility(nn.Module):
    def __init__(self, feat_dim: int, style_dim: int = 5, init_std: float = 0.001):
        super().__init__()
        self.E1 = nn.Parameter(torch.randn(feat_dim, style_dim) * init_std)
        self.E2 = nn.Parameter(torch.randn(feat_dim, style_dim) * init_std)
        self.c = nn.Parameter(torch.zeros(()))

    def embed(self, x: torch.Tensor, side: int = 1) -> torch.Tensor:
        """Style vectors (n, style_dim) of features ``x`` (n, feat_dim)."""
        return x @ (self.E1 if side == 1 else self.E2)

    def score(self, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The logit from style vectors ``s1 = x1 E1``, ``s2 = x2 E2`` (batch, style_dim)."""
        raise NotImplementedError

    def logit(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.score(self.embed(x1, 1), self.embed(x2, 2))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Probabilities (batch,) for float32 features ``x1``, ``x2`` (batch, feat_dim)."""
        return torch.sigmoid(self.logit(x1, x2))


class EuclideanCompatibility(_Compatibility):
    """``p = sigmoid(c - ||x1 E1 - x2 E2||^2)``."""

    def score(self, s1, s2):
        return self.c - ((s1 - s2) ** 2).sum(-1)


class InnerCompatibility(_Compatibility):
    """``p = sigmoid(c + <x1 E1, x2 E2>)``."""

    def score(self, s1, s2):
        return self.c + (s1 * s2).sum(-1)


KINDS = {"euclidean": EuclideanCompatibility, "inner": InnerCompatibility}


class StyleCompatibility:
    """The PyTorch twin of :class:`coursekit.models.tf_compat.StyleCompatibility` (same
    parameters, methods and attributes, including ``fit(..., validation=...)``, ``patience``
    and ``select_by``); trains with Adam on shuffled mini-batches."""

    framework = "torch"

    def __init__(self, kind: str = "euclidean", style_dim: int = 5, *, epochs: int = 10,
                 batch_size: int = 512, learning_rate: float = 1e-3, init_std: float = 0.001,
                 patience: int | None = None, select_by: str = "loss", seed: int = 0,
                 verbose: int = 0):
        self.kind = kind
        self.style_dim = style_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.init_std = init_std
        self.patience = patience
        self.select_by = select_by
        self.seed = seed
        self.verbose = verbose

    def _build(self, feat_dim: int):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        torch.manual_seed(self.seed)
        return KINDS[self.kind](feat_dim, self.style_dim, self.init_std)

    def fit(self, features, pairs, labels, *, validation=None) -> "StyleCompatibility":
        """Train on labelled pairs; with ``validation=(pairs, labels)`` keep the best epoch (see
        :meth:`coursekit.models.tf_compat.StyleCompatibility.fit`)."""
        x = torch.as_tensor(np.asarray(features, np.float32))
        p = torch.as_tensor(np.asarray(pairs, np.int64))
        y = torch.as_tensor(np.asarray(labels, np.float32))
        self.net_ = self._build(x.shape[1])
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        gen = torch.Generator().manual_seed(self.seed)
        self.loss_history_ = []

        @torch.no_grad()
        def probs(pv):  # validation scores from the feature tensor already built
            pv = torch.as_tensor(pv)
            net = self.net_
            return torch.sigmoid(net.score(net.embed(x, 1)[pv[:, 0]], net.embed(x, 2)[pv[:, 1]])).numpy()

        monitor = ValidationMonitor(self, probs, validation)
        start, n_seen = time.perf_counter(), 0
        for epoch in range(self.epochs):
            order = torch.randperm(len(p), generator=gen)
            total = 0.0
            for b in order.split(self.batch_size):
                i, j = p[b, 0], p[b, 1]
                loss = nn.functional.binary_cross_entropy_with_logits(self.net_.logit(x[i], x[j]), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            self.loss_history_.append(total / len(p))
            n_seen += len(p)
            if self.verbose:
                print(f"epoch {epoch + 1}: loss {self.loss_history_[-1]:.4f}")
            if monitor.after_epoch(epoch):
                break
        monitor.finish()
        self.fit_seconds_ = time.perf_counter() - start
        self.pairs_per_s_ = n_seen / self.fit_seconds_
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise RuntimeError("this StyleCompatibility is not fitted yet: call fit(features, pairs, labels) first")

    @torch.no_grad()
    def predict_proba(self, features, pairs) -> np.ndarray:
        """float32 (m,): probability that each pair of rows is compatible."""
        self._check_fitted()
        x = torch.as_tensor(np.asarray(features, np.float32))
        p = torch.as_tensor(np.asarray(pairs, np.int64).reshape(-1, 2))
        net = self.net_
        if len(x) <= 2 * len(p):  # many pairs: project every item once, then look up
            s1, s2 = net.embed(x, 1)[p[:, 0]], net.embed(x, 2)[p[:, 1]]
        else:
            s1, s2 = net.embed(x[p[:, 0]], 1), net.embed(x[p[:, 1]], 2)
        return torch.sigmoid(net.score(s1, s2)).numpy().astype(np.float32)

    def embed(self, features, side: int = 1) -> np.ndarray:
        """float32 (n, style_dim): ``features @ E1`` (side 1) or ``@ E2``."""
        self._check_fitted()
        return np.asarray(features, np.float32) @ self.get_weights()["E1" if side == 1 else "E2"]

    def get_weights(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {n: getattr(self.net_, n).detach().numpy().astype(np.float32) for n in ("E1", "E2", "c")}

    def set_weights(self, weights: dict, feat_dim: int | None = None) -> "StyleCompatibility":
        """Load ``{"E1", "E2", "c"}`` (for example from the Keras model); builds the net if needed."""
        if not hasattr(self, "net_"):
            self.net_ = self._build(feat_dim or np.shape(weights["E1"])[0])
        with torch.no_grad():
            for n in ("E1", "E2", "c"):
                getattr(self.net_, n).copy_(torch.as_tensor(np.asarray(weights[n], np.float32)))
        return self
