"""Choosing training settings on validation pairs, for the Keras and the PyTorch compatibility
models alike (no framework is imported here).

- :class:`ValidationMonitor`: used inside ``StyleCompatibility.fit(..., validation=...)``; scores
  the validation pairs after every epoch (log-loss and AUC), keeps the weights of the best epoch
  and stops when ``patience`` epochs bring no improvement.
- :func:`select_on_validation`: one fit per learning rate; the best on validation wins.

A fit that ends because it reached its epoch cap, not because ``patience`` epochs went by
without a better validation score, may have stopped while the validation loss was still falling
(under-trained): ``stopped_at_cap_`` says so, and a notebook counts such fits
(``train/stopped_at_cap``) instead of trusting them.

The criterion (``select_by``) is the validation log-loss by default: it is what training
minimises, and it also asks for calibrated probabilities, so accuracy at the 0.5 threshold stays
meaningful. ``"auc"`` ranks by validation AUC instead (ranking quality only).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ValidationMonitor", "select_on_validation", "log_loss"]

_CRITERIA = ("loss", "auc")


def log_loss(labels, probs, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities ``probs`` for 0/1 ``labels``."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.clip(np.asarray(probs, dtype=np.float64).ravel(), eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def _better(criterion: str, new: float, old: float) -> bool:
    return new < old if criterion == "loss" else new > old


class ValidationMonitor:
    """Per-epoch validation scores for a wrapper with ``get_weights`` / ``set_weights`` and the
    attributes ``select_by``, ``patience``, ``verbose``.

    ``probs(pairs)`` scores pairs with the current weights (each wrapper passes one that reuses
    the feature tensor it already holds). After ``fit``: ``val_loss_`` and ``val_auc_`` (one value
    per epoch), ``best_epoch_`` (1-based; its weights are restored), ``best_val_loss_``,
    ``best_val_auc_`` (both at that epoch) and ``stopped_at_cap_``: True when training ran all
    ``model.epochs`` epochs without ``patience`` epochs in a row failing to improve (without
    patience, every fit runs to its cap), so the validation score may still have been improving.
    """

    def __init__(self, model, probs, validation):
        self.model, self.probs = model, probs
        self.criterion = getattr(model, "select_by", "loss")
        if self.criterion not in _CRITERIA:
            raise ValueError(f"select_by must be one of {_CRITERIA}, not {self.criterion!r}")
        self.active = validation is not None
        self.stopped_early = False
        for name in ("val_loss_", "val_auc_", "best_epoch_", "best_val_loss_", "best_val_auc_", "stopped_at_cap_"):
            if hasattr(model, name):
                delattr(model, name)
        if not self.active:
            return
        from ..metrics import pair_auc

        self.pair_auc = pair_auc
        v_pairs, v_labels = validation
        self.pairs = np.asarray(v_pairs, dtype=np.int64).reshape(-1, 2)
        self.labels = np.asarray(v_labels, dtype=np.float32).ravel()
        if len(self.pairs) != len(self.labels) or not len(self.labels):
            raise ValueError(f"validation: {len(self.pairs)} pairs and {len(self.labels)} labels "
                             "(need the same number, at least one)")
        model.val_loss_, model.val_auc_ = [], []
        self.best_epoch, self.weights = 0, None

    def after_epoch(self, epoch: int) -> bool:
        """Score the validation pairs after ``epoch`` (0-based); True when patience has run out."""
        if not self.active:
            return False
        m = self.model
        p = self.probs(self.pairs)
        m.val_loss_.append(log_loss(self.labels, p))
        m.val_auc_.append(self.pair_auc(self.labels, p))
        values = m.val_loss_ if self.criterion == "loss" else m.val_auc_
        if self.weights is None or _better(self.criterion, values[-1], values[self.best_epoch - 1]):
            self.best_epoch, self.weights = epoch + 1, m.get_weights()
        if getattr(m, "verbose", 0):
            print(f"epoch {epoch + 1}: validation loss {m.val_loss_[-1]:.4f}, AUC {m.val_auc_[-1]:.4f}")
        patience = getattr(m, "patience", None)
        self.stopped_early = patience is not None and epoch + 1 - self.best_epoch >= patience
        return self.stopped_early

    def finish(self) -> None:
        """Restore the best epoch's weights and set the ``best_*`` attributes."""
        if self.active and self.weights is not None:
            m = self.model
            m.set_weights(self.weights)
            m.best_epoch_ = self.best_epoch
            m.best_val_loss_ = float(m.val_loss_[self.best_epoch - 1])
            m.best_val_auc_ = float(m.val_auc_[self.best_epoch - 1])
            m.stopped_at_cap_ = not self.stopped_early


def select_on_validation(make_model, features, train, valid, learning_rates):
    """Choose the learning rate and the number of epochs on validation pairs.

    ``make_model(learning_rate)`` returns an unfitted wrapper (Keras or PyTorch); each is fitted
    on ``train = (pairs, labels)`` with ``validation=valid = (pairs, labels)`` and keeps its best
    epoch. Returns the best model by its own ``select_by`` criterion (ties: the first learning
    rate) and a ``pandas.DataFrame`` with one row per learning rate: ``learning_rate``,
    ``best_epoch``, ``epochs_run``, ``stopped_at_cap`` (see :class:`ValidationMonitor`),
    ``valid_loss``, ``valid_auc``. Test pairs are never passed in.
    """
    import pandas as pd

    rows, best = [], None
    for lr in learning_rates:
        model = make_model(lr).fit(features, *train, validation=valid)
        rows.append({"learning_rate": lr, "best_epoch": model.best_epoch_, "epochs_run": len(model.val_loss_),
                     "stopped_at_cap": bool(model.stopped_at_cap_), "valid_loss": model.best_val_loss_,
                     "valid_auc": model.best_val_auc_})
        criterion = getattr(model, "select_by", "loss")
        key = "best_val_loss_" if criterion == "loss" else "best_val_auc_"
        if best is None or _better(criterion, getattr(model, key), getattr(best, key)):
            best = model
    return best, pd.DataFrame(rows)
