"""Visual compatibility in TensorFlow/Keras: two projections E1, E2 into a small style space.

For image features ``x1, x2`` (4096-d) the two models give the probability that the products go
together:

- :class:`EuclideanCompatibility`: ``sigmoid(c - ||x1 E1 - x2 E2||^2)``;
- :class:`InnerCompatibility`: ``sigmoid(c + <x1 E1, x2 E2>)``.

:class:`StyleCompatibility` wraps either one in the scikit-learn shape (hyper-parameters in
``__init__``, ``fit`` returns self, learned state with a trailing underscore) and trains it with
``model.fit`` on mini-batches from a ``tf.data`` pipeline that gathers feature rows by index.
``coursekit.models.torch_compat`` has the same classes in PyTorch.

Importing this module imports TensorFlow (call ``coursekit.start_notebook`` first to quiet it).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["EuclideanCompatibility", "InnerCompatibility", "StyleCompatibility", "make_dataset",
           "set_seed", "KINDS"]


def set_seed(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``); with
    ``deterministic`` also ask TensorFlow for deterministic kernels, so reruns match exactly."""
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


class _Compatibility(keras.Model):
    """Shared parts: the two projections and the bias; subclasses define :meth:`logit`."""

    def __init__(self, feat_dim: int, style_dim: int = 5, init_std: float = 0.001, **kwargs):
        super().__init__(**kwargs)  # the seed's Inner model called super(CompatibilityModel, self)
        self.feat_dim, self.style_dim, self.init_std = int(feat_dim), int(style_dim), float(init_std)
        init = keras.initializers.RandomNormal(stddev=self.init_std)
        self.E1 = self.add_weight(shape=(self.feat_dim, self.style_dim), initializer=init, name="E1")
        self.E2 = self.add_weight(shape=(self.feat_dim, self.style_dim), initializer=init, name="E2")
        self.c = self.add_weight(shape=(), initializer="zeros", name="c")

    def embed(self, x, side: int = 1):
        """Style vectors (n, style_dim) of features ``x`` (n, feat_dim) through E1 or E2."""
        return tf.matmul(x, self.E1 if side == 1 else self.E2)

    def logit(self, x1, x2):  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, inputs):
        """``inputs = (x1, x2)``, both float32 (batch, feat_dim) -> probabilities (batch,)."""
        x1, x2 = inputs
        # keras.ops.sigmoid keeps the logit, so binary cross-entropy is computed from it stably
        return keras.ops.sigmoid(self.logit(x1, x2))

    def get_config(self):
        return {"feat_dim": self.feat_dim, "style_dim": self.style_dim, "init_std": self.init_std}


class EuclideanCompatibility(_Compatibility):
    """``p = sigmoid(c - ||x1 E1 - x2 E2||^2)``: compatible products sit close in style space."""

    def logit(self, x1, x2):
        d = self.embed(x1, 1) - self.embed(x2, 2)
        return self.c - tf.reduce_sum(d * d, axis=-1)


class InnerCompatibility(_Compatibility):
    """``p = sigmoid(c + <x1 E1, x2 E2>)``: compatible products point the same way.

    The dot product is taken per row (``reduce_sum(s1 * s2, axis=-1)``); the seed's
    ``tensordot(s1, s2, 1)`` contracts the wrong axes as soon as a batch has more than one row.
    """

    def logit(self, x1, x2):
        return self.c + tf.reduce_sum(self.embed(x1, 1) * self.embed(x2, 2), axis=-1)


KINDS = {"euclidean": EuclideanCompatibility, "inner": InnerCompatibility}


def make_dataset(features, pairs, labels=None, *, batch_size: int = 512, shuffle: bool = False,
                 seed: int = 0) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of ``((x1, x2), y)`` batches (or ``(x1, x2)`` without labels).

    Only the (m, 2) index pairs are sliced and shuffled; each batch gathers its feature rows
    from one constant tensor, so memory stays at one copy of ``features`` (n, d) float32.
    """
    x = features if isinstance(features, tf.Tensor) else tf.constant(np.asarray(features, np.float32))
    pairs = np.asarray(pairs, dtype=np.int32)
    parts = (pairs[:, 0], pairs[:, 1]) if labels is None else (
        pairs[:, 0], pairs[:, 1], np.asarray(labels, np.float32))
    ds = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if labels is None:
        ds = ds.map(lambda i, j: (tf.gather(x, i), tf.gather(x, j)))
    else:
        ds = ds.map(lambda i, j, y: ((tf.gather(x, i), tf.gather(x, j)), y))
    return ds.prefetch(2)


class StyleCompatibility:
    """A compatibility model over image features, scikit-learn style (Keras inside).

    Parameters
    ----------
    kind : "euclidean" or "inner".
    style_dim : size of the style space (the seed used 5).
    epochs, batch_size, learning_rate : Adam on binary cross-entropy, mini-batches.
    init_std : standard deviation of the initial E1, E2.
    seed : seeds the weights and the shuffling; training is deterministic.

    Attributes after ``fit``: ``net_`` (the Keras model), ``loss_history_`` (mean training loss
    per epoch), ``fit_seconds_``, ``pairs_per_s_`` (training throughput).
    """

    framework = "tensorflow"

    def __init__(self, kind: str = "euclidean", style_dim: int = 5, *, epochs: int = 10,
                 batch_size: int = 512, learning_rate: float = 1e-3, init_std: float = 0.001,
                 seed: int = 0, verbose: int = 0):
        self.kind = kind
        self.style_dim = style_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.init_std = init_std
        self.seed = seed
        self.verbose = verbose

    def _build(self, feat_dim: int):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        set_seed(self.seed)
        net = KINDS[self.kind](feat_dim, self.style_dim, self.init_std)
        net((tf.zeros((1, feat_dim)), tf.zeros((1, feat_dim))))  # create the weights
        return net

    def fit(self, features, pairs, labels) -> "StyleCompatibility":
        """Train on labelled pairs: ``features`` float32 (n, d), ``pairs`` int (m, 2) rows,
        ``labels`` (m,) 0/1. Returns self."""
        features = np.asarray(features, np.float32)
        self.net_ = self._build(features.shape[1])
        self.net_.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                          loss=keras.losses.BinaryCrossentropy())
        ds = make_dataset(features, pairs, labels, batch_size=self.batch_size, shuffle=True, seed=self.seed)
        start = time.perf_counter()
        hist = self.net_.fit(ds, epochs=self.epochs, verbose=self.verbose)
        self.fit_seconds_ = time.perf_counter() - start
        self.pairs_per_s_ = self.epochs * len(pairs) / self.fit_seconds_
        self.loss_history_ = [float(v) for v in hist.history["loss"]]
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise RuntimeError("this StyleCompatibility is not fitted yet: call fit(features, pairs, labels) first")

    def predict_proba(self, features, pairs) -> np.ndarray:
        """float32 (m,): probability that each pair of rows is compatible."""
        self._check_fitted()
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        x = np.asarray(features, np.float32)
        out = [self.net_((x[p[:, 0]], x[p[:, 1]])).numpy()
               for p in np.array_split(pairs, max(1, -(-len(pairs) // 8192)))]
        return np.concatenate(out).astype(np.float32) if out else np.empty(0, np.float32)

    def embed(self, features, side: int = 1) -> np.ndarray:
        """float32 (n, style_dim): the style vectors ``features @ E1`` (side 1) or ``@ E2``."""
        self._check_fitted()
        return np.asarray(features, np.float32) @ self.get_weights()["E1" if side == 1 else "E2"]

    def get_weights(self) -> dict[str, np.ndarray]:
        """``{"E1": (d, k), "E2": (d, k), "c": ()}`` as float32 NumPy arrays."""
        self._check_fitted()
        return {n: np.asarray(getattr(self.net_, n).numpy(), np.float32) for n in ("E1", "E2", "c")}

    def set_weights(self, weights: dict, feat_dim: int | None = None) -> "StyleCompatibility":
        """Load ``{"E1", "E2", "c"}`` (for example from the PyTorch twin); builds the net if needed."""
        if not hasattr(self, "net_"):
            self.net_ = self._build(feat_dim or np.shape(weights["E1"])[0])
        for n in ("E1", "E2", "c"):
            getattr(self.net_, n).assign(np.asarray(weights[n], np.float32))
        return self
