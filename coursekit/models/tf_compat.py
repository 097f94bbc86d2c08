"""Visual compatibility in TensorFlow/Keras: two projections E1, E2 into a small style space.

For image features ``x1, x2`` (4096-d) the two models give the probability that the products go
together:

- :class:`EuclideanCompatibility`: ``sigmoid(c - ||x1 E1 - x2 E2||^2)``;
- :class:`InnerCompatibility`: ``sigmoid(c + <x1 E1, x2 E2>)``.

:class:`StyleCompatibility` wraps either one in the scikit-learn shape (hyper-parameters in
``__init__``, ``fit`` returns self, learned state with a trailing underscore) and trains it with
shuffled mini-batches of index pairs from ``tf.data`` (one compiled ``tf.function`` step per batch).
``coursekit.models.torch_compat`` has the same classes in PyTorch.

Importing this module imports TensorFlow (call ``coursekit.start_notebook`` first to quiet it).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # silences the oneDNN banner; results repeat exactly

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from .selection import ValidationMonitor, select_on_validation  # noqa: E402,F401

__all__ = ["EuclideanCompatibility", "InnerCompatibility", "StyleCompatibility", "make_dataset", "pair_batches",
           "select_on_validation", "set_seed", "KINDS"]


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
        # one initializer object per weight: a Keras initializer reused draws the same values again,
        # which would start E1 equal to E2
        self.E1 = self.add_weight(shape=(self.feat_dim, self.style_dim), name="E1",
                                  initializer=keras.initializers.RandomNormal(stddev=self.init_std))
        self.E2 = self.add_weight(shape=(self.feat_dim, self.style_dim), name="E2",
                                  initializer=keras.initializers.RandomNormal(stddev=self.init_std))
        self.c = self.add_weight(shape=(), initializer="zeros", name="c")

    def embed(self, x, side: int = 1):
        """Style vectors (n, style_dim) of features ``x`` (n, feat_dim) through E1 or E2."""
        return tf.matmul(x, self.E1 if side == 1 else self.E2)

    def score(self, s1, s2):  # pragma: no cover - abstract
        """The logit from style vectors ``s1 = x1 E1``, ``s2 = x2 E2`` (batch, style_dim)."""
        raise NotImplementedError

    def logit(self, x1, x2):
        """``score(x1 E1, x2 E2)``: the logit (batch,) of features (batch, feat_dim)."""
        return self.score(self.embed(x1, 1), self.embed(x2, 2))

    def call(self, inputs):
        """``inputs = (x1, x2)``, both float32 (batch, feat_dim) -> probabilities (batch,)."""
        x1, x2 = inputs
        # keras.ops.sigmoid keeps the logit, so binary cross-entropy is computed from it stably
        return keras.ops.sigmoid(self.logit(x1, x2))

    def get_config(self):
        return {"feat_dim": self.feat_dim, "style_dim": self.style_dim, "init_std": self.init_std}


class EuclideanCompatibility(_Compatibility):
    """``p = sigmoid(c - ||x1 E1 - x2 E2||^2)``: compatible products sit close in style space."""

    def score(self, s1, s2):
        return self.c - tf.reduce_sum(tf.square(s1 - s2), axis=-1)


class InnerCompatibility(_Compatibility):
    """``p = sigmoid(c + <x1 E1, x2 E2>)``: compatible products point the same way.

    The dot product is taken per row (``reduce_sum(s1 * s2, axis=-1)``); the seed's
    ``tensordot(s1, s2, 1)`` contracts the wrong axes as soon as a batch has more than one row.
    """

    def score(self, s1, s2):
        return self.c + tf.reduce_sum(s1 * s2, axis=-1)


KINDS = {"euclidean": EuclideanCompatibility, "inner": InnerCompatibility}


def pair_batches(pairs, labels=None, *, batch_size: int = 2048, shuffle: bool = True,
                 seed: int = 0, epochs: int = 1) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of index batches ``(i, j, y)`` (int32, int32, float32), or
    ``(i, j)`` without labels, for ``epochs`` passes over the pairs (``ceil(m / batch_size)``
    batches each, the last one possibly smaller).

    With ``shuffle`` every pass has its own seeded permutation (pass ``e`` uses ``seed + e``), so
    every epoch differs and a rerun repeats exactly. The pipeline slices whole batches from
    permuted arrays: a per-element ``shuffle().batch()`` costs some microseconds per pair, which
    on a small CPU is more than the training step itself. One pipeline serves all epochs, so its
    slicing function is traced once, not once per epoch.
    """
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    m, epochs = len(p), int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if shuffle:
        order = np.concatenate([np.random.default_rng(seed + e).permutation(m) for e in range(epochs)])
    else:
        order = np.tile(np.arange(m), epochs)
    cols = [tf.constant(p[order, 0].astype(np.int32)), tf.constant(p[order, 1].astype(np.int32))]
    if labels is not None:
        cols.append(tf.constant(np.asarray(labels, np.float32).ravel()[order]))
    n_batches = -(-m // batch_size)

    def batch(b):
        epoch, k = b // n_batches, b % n_batches
        start = epoch * m + k * batch_size
        end = tf.minimum(start + batch_size, (epoch + 1) * m)
        return tuple(c[start:end] for c in cols)

    return tf.data.Dataset.range(n_batches * epochs).map(batch).prefetch(2)


def make_dataset(features, pairs, labels=None, *, batch_size: int = 2048, shuffle: bool = False,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches of features ``((x1, x2), y)`` (or ``(x1, x2)``) for ``keras.Model.fit`` / ``predict``.

    Each batch gathers its rows from one constant tensor, so memory stays at one copy of
    ``features`` (n, d) float32.
    """
    x = features if isinstance(features, tf.Tensor) else tf.constant(np.asarray(features, np.float32))
    ds = pair_batches(pairs, labels, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if labels is None:
        return ds.map(lambda i, j: (tf.gather(x, i), tf.gather(x, j)))
    return ds.map(lambda i, j, y: ((tf.gather(x, i), tf.gather(x, j)), y))


def catalogue_projector(x: tf.Tensor):
    """``project(E1, E2) -> x @ [E1 E2]`` (n, 2k) for a constant catalogue ``x`` (n, d).

    The gradient ``x^T dS`` is computed as ``(dS^T x)^T``: on CPU that product runs about twice
    as fast as the transposed matmul TensorFlow's own gradient uses, and it is the bulk of a step.
    """

    @tf.custom_gradient
    def project(e1, e2):
        k = e1.shape[1]

        def grad(ds):
            g = tf.transpose(tf.matmul(ds, x, transpose_a=True))  # (d, 2k)
            return g[:, :k], g[:, k:]

        return tf.matmul(x, tf.concat([e1, e2], axis=1)), grad

    return project


class StyleCompatibility:
    """A compatibility model over image features, scikit-learn style (Keras inside).

    Parameters
    ----------
    kind : "euclidean" or "inner".
    style_dim : size of the style space (the seed used 5).
    epochs, batch_size, learning_rate : Adam on binary cross-entropy over shuffled mini-batches
        of pairs from ``tf.data``.
    init_std : standard deviation of the initial E1, E2.
    projection : how a step computes the style vectors of its pairs. ``"gather"`` gathers the
        2 x batch feature rows and projects them; ``"catalogue"`` projects every item once
        (``X @ [E1 E2]``, n x 2k) and gathers the small style vectors, which costs the same for
        any batch size and wins when a batch is large next to the catalogue. ``"auto"`` picks
        ``"catalogue"`` when ``n_items <= 2 * batch_size``. Both give the same gradients.
    patience : with validation pairs, stop when ``patience`` epochs in a row did not improve on
        the best validation score (None: run all ``epochs``).
    select_by : "loss" (validation log-loss, the default) or "auc": which validation score
        picks the epoch whose weights are kept.
    seed : seeds the weights and the shuffling; training is deterministic.

    Attributes after ``fit``: ``net_`` (the Keras model), ``loss_history_`` (mean training loss
    per epoch), ``fit_seconds_`` (all of ``fit``), ``pairs_per_s_`` (training throughput after
    the first step, which also traces the graph), ``projection_``. With ``validation``:
    ``val_loss_`` and ``val_auc_`` (after each epoch), ``best_epoch_`` (1-based; the weights of
    that epoch are the ones kept), ``best_val_loss_`` and ``best_val_auc_``.
    """

    framework = "tensorflow"

    def __init__(self, kind: str = "euclidean", style_dim: int = 5, *, epochs: int = 10,
                 batch_size: int = 512, learning_rate: float = 1e-3, init_std: float = 0.001,
                 projection: str = "auto", patience: int | None = None, select_by: str = "loss",
                 seed: int = 0, verbose: int = 0):
        self.kind = kind
        self.style_dim = style_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.init_std = init_std
        self.projection = projection
        self.patience = patience
        self.select_by = select_by
        self.seed = seed
        self.verbose = verbose

    def _build(self, feat_dim: int):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        set_seed(self.seed)
        net = KINDS[self.kind](feat_dim, self.style_dim, self.init_std)
        net((tf.zeros((1, feat_dim)), tf.zeros((1, feat_dim))))  # create the weights
        return net

    def fit(self, features, pairs, labels, *, validation=None) -> "StyleCompatibility":
        """Train on labelled pairs: ``features`` float32 (n, d), ``pairs`` int (m, 2) rows,
        ``labels`` (m,) 0/1. Returns self.

        ``validation`` : optional ``(pairs, labels)`` held out from the training pairs. After
        every epoch the model scores them (log-loss and AUC); the weights of the best epoch by
        ``select_by`` are kept (ties: the earlier epoch), and with ``patience`` training stops
        early. This is how the number of epochs is chosen without looking at test pairs.
        """
        features = np.asarray(features, np.float32)
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        if len(pairs) != len(labels):
            raise ValueError(f"{len(pairs)} pairs but {len(labels)} labels")
        if self.projection not in ("auto", "gather", "catalogue"):
            raise ValueError(f"projection must be 'auto', 'gather' or 'catalogue', not {self.projection!r}")
        n = len(features)
        self.projection_ = self.projection if self.projection != "auto" else (
            "catalogue" if n <= 2 * self.batch_size else "gather")
        net = self.net_ = self._build(features.shape[1])
        opt = keras.optimizers.Adam(self.learning_rate)
        opt.build(net.trainable_variables)  # slots exist before tracing: the step is traced once
        x = tf.constant(features)
        k = self.style_dim
        catalogue = self.projection_ == "catalogue"
        project = catalogue_projector(x)
        index = tf.TensorSpec([None], tf.int32)

        @tf.function(input_signature=[index, index, tf.TensorSpec([None], tf.float32)])
        def step(i, j, y):
            with tf.GradientTape() as tape:
                if catalogue:
                    s = project(tf.convert_to_tensor(net.E1), tf.convert_to_tensor(net.E2))  # (n, 2k)
                    s1, s2 = tf.gather(s[:, :k], i), tf.gather(s[:, k:], j)
                else:
                    s1, s2 = net.embed(tf.gather(x, i), 1), net.embed(tf.gather(x, j), 2)
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, net.score(s1, s2)))
            grads = tape.gradient(loss, net.trainable_variables)
            opt.apply_gradients(zip(grads, net.trainable_variables))
            return loss * tf.cast(tf.shape(y)[0], tf.float32)

        self.loss_history_ = []

        def probs(p):  # validation scores from the features already on the TensorFlow side
            s = tf.matmul(x, tf.concat([net.E1, net.E2], axis=1))
            return tf.sigmoid(net.score(tf.gather(s[:, :k], p[:, 0]), tf.gather(s[:, k:], p[:, 1]))).numpy()

        monitor = ValidationMonitor(self, probs, validation)
        start = time.perf_counter()
        warm, seen, timed = None, 0, 0.0  # throughput: from the end of the first (tracing) step
        n_batches = -(-len(pairs) // self.batch_size)
        batches = iter(pair_batches(pairs, labels, batch_size=self.batch_size, seed=self.seed * 100_003,
                                    epochs=self.epochs))
        for epoch in range(self.epochs):
            total = 0.0
            for _ in range(n_batches):
                i, j, y = next(batches)
                total += float(step(i, j, y))
                if warm is None:
                    warm = time.perf_counter()
                else:
                    seen += int(y.shape[0])
            self.loss_history_.append(total / len(pairs))
            if self.verbose:
                print(f"epoch {epoch + 1}: loss {self.loss_history_[-1]:.4f}")
            if warm is not None:
                timed += time.perf_counter() - warm
            stop = monitor.after_epoch(epoch)  # not timed as training
            warm = time.perf_counter() if warm is not None else None
            if stop:
                break
        monitor.finish()
        self.fit_seconds_ = time.perf_counter() - start
        self.pairs_per_s_ = seen / timed if seen and timed > 0 else float("nan")
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise RuntimeError("this StyleCompatibility is not fitted yet: call fit(features, pairs, labels) first")

    def predict_proba(self, features, pairs) -> np.ndarray:
        """float32 (m,): probability that each pair of rows is compatible.

        When there are many pairs for the catalogue, every item is projected once and the pairs
        look up their style vectors; otherwise only the rows of the pairs are projected.
        """
        self._check_fitted()
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        x = np.asarray(features, np.float32)
        if len(x) <= 2 * len(pairs):  # one conversion and one product for the whole catalogue
            k = self.net_.style_dim
            s = tf.matmul(tf.constant(x), tf.concat([self.net_.E1, self.net_.E2], axis=1))
            s1, s2 = tf.gather(s[:, :k], pairs[:, 0]), tf.gather(s[:, k:], pairs[:, 1])
        else:
            s1, s2 = self.net_.embed(x[pairs[:, 0]], 1), self.net_.embed(x[pairs[:, 1]], 2)
        return tf.sigmoid(self.net_.score(s1, s2)).numpy().astype(np.float32)

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
