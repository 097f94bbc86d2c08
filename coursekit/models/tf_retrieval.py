"""Unit 5: a retrieval model in TensorFlow / Keras trained with sampled negatives.

- :class:`TwoTower`: a Keras model. ``StringLookup`` / ``IntegerLookup`` turn raw user ids (str)
  and product ids (int64) into embedding rows; the score of (user, product) is the dot product of
  their embeddings (plus a product bias).
- :func:`sample_candidates` / :func:`purchase_batches`: a ``tf.data`` pipeline that pairs each
  purchase with ``n_negatives`` sampled products (uniform, or proportional to popularity); the
  positive sits in column 0.
- :func:`sampled_softmax_loss`: softmax cross-entropy over (1 positive + N negatives), with the
  log-q correction for popularity sampling and accidental hits (a negative equal to the positive)
  masked out.
- :class:`TFRetrieval`: the estimator (scikit-learn shape): ``fit(Interactions)``, ``score`` (for
  :func:`coursekit.evaluation.evaluate_model`), ``recommend``, ``similar_items``,
  ``sampled_accuracy``, ``export`` (a SavedModel with ``recommend`` and ``similar_items``
  signatures), and :func:`load_exported`.

Importing this module imports TensorFlow (call ``coursekit.start_notebook`` first to quiet it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import logging  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)  # no retracing notices in notebooks

__all__ = ["TFRetrieval", "TwoTower", "ServingModule", "load_exported", "purchase_batches",
           "sample_candidates", "sample_negatives", "sampled_softmax_loss", "set_seed", "SAMPLERS"]

SAMPLERS = ("uniform", "popularity")
MASKED = -1e9  # logit of a masked candidate: exp(-1e9) is 0, and no inf - inf = NaN can appear


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) and ask TensorFlow for
    deterministic kernels, so that a rerun gives the same figures."""
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- the Keras model

class TwoTower(keras.Model):
    """Dot-product scores of raw ids.

    ``call((users, candidates))``: ``users`` string (B,), ``candidates`` int64 (B, C) product ids
    -> float32 logits (B, C): ``<user embedding, product embedding> + product bias``. Ids missing
    from the vocabularies map to row 0 of each table (the out-of-vocabulary row).
    """

    def __init__(self, users, products, dim: int = 32, *, use_bias: bool = True, init_std: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.use_bias, self.init_std = int(dim), bool(use_bias), float(init_std)
        self.user_lookup = keras.layers.StringLookup(vocabulary=np.asarray(users, dtype=str), num_oov_indices=1,
                                                     name="user_lookup")
        self.product_lookup = keras.layers.IntegerLookup(vocabulary=np.asarray(products, dtype=np.int64),
                                                         num_oov_indices=1, name="product_lookup")
        init = keras.initializers.RandomNormal(stddev=self.init_std)
        self.user_embedding = keras.layers.Embedding(len(users) + 1, self.dim, embeddings_initializer=init,
                                                     name="user_embedding")
        self.product_embedding = keras.layers.Embedding(len(products) + 1, self.dim, embeddings_initializer=init,
                                                        name="product_embedding")
        self.product_bias = keras.layers.Embedding(len(products) + 1, 1, embeddings_initializer="zeros",
                                                   name="product_bias", trainable=self.use_bias)

    def batch_logits(self, users, positives, negatives):
        """Logits (B, 1 + N) of a training batch: column 0 the bought product, then N negatives
        shared by the batch. users string (B,), positives int64 (B,), negatives int64 (N,)."""
        u = self.user_embedding(self.user_lookup(users))                 # (B, d)
        pos_rows, neg_rows = self.product_lookup(positives), self.product_lookup(negatives)
        pos = tf.reduce_sum(u * self.product_embedding(pos_rows), -1, keepdims=True)
        neg = tf.matmul(u, self.product_embedding(neg_rows), transpose_b=True)   # (B, N)
        bias = tf.squeeze(self.product_bias(tf.concat([pos_rows, neg_rows], 0)), -1)
        n_b = tf.shape(positives)[0]
        return tf.concat([pos + bias[:n_b, None], neg + bias[None, n_b:]], axis=1)

    def call(self, inputs):
        users, candidates = inputs
        u = self.user_embedding(self.user_lookup(users))                 # (B, d)
        p_rows = self.product_lookup(candidates)                         # (B, C)
        p = self.product_embedding(p_rows)                               # (B, C, d)
        logits = tf.einsum("bd,bcd->bc", u, p)
        return logits + tf.squeeze(self.product_bias(p_rows), -1)


# --------------------------------------------------------------------------- the tf.data pipeline

def sample_negatives(n_negatives: int, n_products: int, seed, log_q=None):
    """Rows (int64 (n_negatives,)) of sampled negative products, with a stateless seed (int (2,)).

    ``log_q`` None samples uniformly from ``range(n_products)``; else float32 (n_products,) log
    probabilities (for example log popularity) to sample from. The same seed gives the same rows.
    """
    if log_q is None:
        return tf.random.stateless_uniform((n_negatives,), seed, minval=0, maxval=n_products, dtype=tf.int64)
    return tf.random.stateless_categorical(tf.reshape(log_q, (1, -1)), n_negatives, seed)[0]


def sample_candidates(positives, products, n_negatives: int, seed):
    """Per-purchase candidates, as the seed built them: the positive in column 0, then
    ``n_negatives`` products drawn uniformly for that purchase alone.

    positives int64 (B,), products int64 (n_products,), seed int (2,) -> int64 (B, 1 + n_negatives).
    Used to measure sampled accuracy; training shares one draw per batch (:func:`purchase_batches`).
    """
    batch = tf.shape(positives)[0]
    n = tf.shape(products, out_type=tf.int64)[0]
    idx = tf.random.stateless_uniform((batch, n_negatives), seed, minval=0, maxval=n, dtype=tf.int64)
    return tf.concat([tf.reshape(tf.cast(positives, tf.int64), (-1, 1)), tf.gather(products, idx)], axis=1)


def purchase_batches(users, products_bought, catalogue, *, n_negatives: int = 100, batch_size: int = 1024,
                     sampler: str = "uniform", popularity=None, seed: int = 0, epoch: int = 0,
                     shuffle: bool = True) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of training batches ``(users, positives, negatives, log_q)``.

    users : str (m,) and products_bought : int64 (m,), one row per purchase.
    catalogue : int64 (n_products,) every product that can be sampled as a negative.
    sampler : "uniform" or "popularity" (``popularity`` float (n_products,) counts aligned with
        ``catalogue``; probability proportional to count + 1).
    Yields users string (B,), positives int64 (B,), negatives int64 (n_negatives,) shared by the
    batch, log_q float32 (B, 1 + n_negatives): log sampling probability of each candidate
    (column 0 the positive), for the log-q correction (a constant under uniform sampling).

    Every purchase of the batch is scored against the same ``n_negatives`` products: one
    (B, d) x (d, N) product instead of B x N separate gathers, which makes an epoch over the
    ASOS data about twenty times faster on a CPU. Batches are sliced from a seeded permutation
    and negatives are drawn with stateless random ops keyed by (seed, epoch, batch), so a rerun
    repeats exactly.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, not {sampler!r}")
    users = np.asarray(users).astype(str)
    bought = np.asarray(products_bought, dtype=np.int64)
    catalogue = np.asarray(catalogue, dtype=np.int64)
    order = np.random.default_rng([seed, epoch]).permutation(len(users)) if shuffle else np.arange(len(users))
    n = len(catalogue)
    if sampler == "popularity":
        if popularity is None or len(popularity) != n:
            raise ValueError("sampler='popularity' needs popularity counts aligned with the catalogue")
        w = np.asarray(popularity, dtype=np.float64) + 1.0
        log_q_np = np.log(w / w.sum()).astype(np.float32)
    else:
        log_q_np = np.full(n, -np.log(n), dtype=np.float32)
    pos_rows = np.searchsorted(catalogue, bought, sorter=np.argsort(catalogue))
    pos_rows = np.argsort(catalogue)[np.minimum(pos_rows, n - 1)]
    if not np.array_equal(catalogue[pos_rows], bought):
        bad = bought[catalogue[pos_rows] != bought][0]
        raise ValueError(f"product {bad} was bought but is not in the catalogue")
    u, b = tf.constant(users[order]), tf.constant(bought[order])
    pos_lq = tf.constant(log_q_np[pos_rows[order]])
    cat, log_q = tf.constant(catalogue), tf.constant(log_q_np)
    uniform = sampler == "uniform"
    n_batches = -(-len(users) // batch_size)

    def make(i):
        sl = slice(i * batch_size, (i + 1) * batch_size)
        seed_i = tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + epoch, i])
        rows = sample_negatives(n_negatives, n, seed_i, None if uniform else log_q)
        lq = tf.concat([pos_lq[sl][:, None], tf.broadcast_to(tf.gather(log_q, rows)[None, :],
                                                             (tf.shape(pos_lq[sl])[0], n_negatives))], axis=1)
        return u[sl], b[sl], tf.gather(cat, rows), lq

    return tf.data.Dataset.range(n_batches).map(make).prefetch(2)


def sampled_softmax_loss(logits, positives, negatives, log_q=None):
    """Mean softmax cross-entropy over (1 positive + N negatives), the positive in column 0.

    logits : float32 (B, 1 + N); positives int64 (B,); negatives int64 (N,) or (B, N).
    log_q : optional float32 (B, 1 + N) log sampling probabilities: subtracting them (the log-q
        correction) removes the bias popularity sampling puts on the scores.
    Negatives equal to the row's positive ("accidental hits") are masked (logit set very low), so
    the model is never asked to push a product away from a user who bought it.
    """
    if log_q is not None:
        logits = logits - log_q
    neg = negatives[None, :] if negatives.shape.rank == 1 else negatives
    hit = tf.equal(neg, positives[:, None])
    logits = tf.concat([logits[:, :1], tf.where(hit, tf.constant(MASKED, logits.dtype), logits[:, 1:])], axis=1)
    labels = tf.zeros(tf.shape(logits)[0], tf.int64)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


def sampled_hits(logits, positives, negatives):
    """float32 (B,): 1 where the positive (column 0) scores strictly above every negative that is
    not an accidental hit. A tie counts as a miss: argmax would pick column 0 on a tie and flatter
    a model that scores everything the same. negatives int64 (N,) or (B, N)."""
    neg_ids = negatives[None, :] if negatives.shape.rank == 1 else negatives
    hit = tf.equal(neg_ids, positives[:, None])
    neg = tf.where(hit, tf.constant(MASKED, logits.dtype), logits[:, 1:])
    return tf.cast(logits[:, 0] > tf.reduce_max(neg, axis=1), tf.float32)


# --------------------------------------------------------------------------- serving

class ServingModule(tf.Module):
    """What the SavedModel holds: the id vocabularies, the learned vectors and two functions.

    ``recommend(user_ids string (B,)) -> {"product_ids": int64 (B, k), "scores": float32 (B, k)}``:
    the top-k products by dot product, the user's training purchases left out; users missing from
    the vocabulary get the most popular products (score = log of the count).
    ``similar_items(product_ids int64 (B,)) -> same keys``: top-k products by cosine similarity of
    the product vectors, the query itself left out; unknown products get the most popular ones.
    """

    def __init__(self, users, products, user_vectors, product_vectors, product_bias, seen_rows, seen_cols,
                 popularity, k: int = 10):
        super().__init__()
        self.k = int(k)
        n_users = len(users)
        self.user_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(np.asarray(users, str)),
                                                tf.range(n_users, dtype=tf.int64)), -1)
        self.product_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(np.asarray(products, np.int64)),
                                                tf.range(len(products), dtype=tf.int64)), -1)
        self.products = tf.constant(np.asarray(products, np.int64))
        self.user_vectors = tf.constant(np.asarray(user_vectors, np.float32))
        self.product_vectors = tf.constant(np.asarray(product_vectors, np.float32))
        self.product_bias = tf.constant(np.asarray(product_bias, np.float32))
        unit = np.asarray(product_vectors, np.float32)
        unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
        self.unit_vectors = tf.constant(unit)
        splits = np.concatenate([[0], np.cumsum(np.bincount(seen_rows, minlength=n_users))]).astype(np.int64)
        self.seen_splits = tf.constant(splits)
        self.seen_cols = tf.constant(np.asarray(seen_cols, np.int64)[np.argsort(seen_rows, kind="stable")])
        self.log_popularity = tf.constant(np.log1p(np.asarray(popularity, np.float32)))

    def _top(self, scores, known):
        fallback = tf.broadcast_to(self.log_popularity, tf.shape(scores))
        scores = tf.where(known[:, None], scores, fallback)
        values, idx = tf.math.top_k(scores, k=self.k)
        return {"product_ids": tf.gather(self.products, idx), "scores": values}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id")])
    def recommend(self, user_id):
        rows = self.user_table.lookup(user_id)
        known = rows >= 0
        safe = tf.maximum(rows, 0)
        scores = tf.matmul(tf.gather(self.user_vectors, safe), self.product_vectors, transpose_b=True)
        scores = scores + self.product_bias[None, :]
        seen = tf.RaggedTensor.from_row_splits(self.seen_cols, self.seen_splits)
        seen = tf.gather(seen, safe)
        where = tf.stack([seen.value_rowids(), seen.flat_values], axis=1)
        masked = tf.fill(tf.shape(where)[:1], tf.constant(-np.inf, tf.float32))
        scores = tf.tensor_scatter_nd_update(scores, where, masked)
        return self._top(scores, known)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="product_id")])
    def similar_items(self, product_id):
        rows = self.product_table.lookup(product_id)
        known = rows >= 0
        safe = tf.maximum(rows, 0)
        scores = tf.matmul(tf.gather(self.unit_vectors, safe), self.unit_vectors, transpose_b=True)
        own = tf.stack([tf.range(tf.shape(safe, out_type=tf.int64)[0]), safe], axis=1)
        scores = tf.tensor_scatter_nd_update(scores, own, tf.fill(tf.shape(safe), tf.constant(-np.inf, tf.float32)))
        return self._top(scores, known)


def load_exported(path):
    """Reload a SavedModel written by :meth:`TFRetrieval.export`; call ``.signatures["recommend"]``
    or ``.signatures["similar_items"]`` with keyword arguments ``user_id=`` / ``product_id=``."""
    return tf.saved_model.load(str(path))


# --------------------------------------------------------------------------- the estimator

class TFRetrieval:
    """A dot-product retrieval model trained with sampled softmax, scikit-learn style.

    Parameters
    ----------
    dim : embedding size.
    n_negatives : sampled negatives per purchase (the seed used 100).
    sampler : "uniform" or "popularity" (proportional to training count + 1).
    log_q : subtract the log sampling probability from the logits (the correction that popularity
        sampling needs; no effect with uniform sampling).
    use_bias : add a learned per-product bias to the dot product.
    epochs, batch_size, learning_rate, l2 : Adam on the mean loss plus ``l2`` x the mean squared
        norm of the embeddings used in the batch.
    seed : seeds the weights, the shuffling and the negatives; training is deterministic.

    Attributes after ``fit``: ``net_`` (:class:`TwoTower`), ``users_`` (str), ``products_``
    (int64), ``user_vectors_`` (n_users, dim) float32, ``product_vectors_`` (n_products, dim),
    ``product_bias_`` (n_products,), ``history_`` (list of dicts: epoch, loss, sampled_acc,
    seconds), ``epoch_s_`` (seconds of the fastest epoch).
    """

    framework = "tensorflow"

    def __init__(self, dim: int = 32, *, n_negatives: int = 100, sampler: str = "uniform", log_q: bool = True,
                 use_bias: bool = True, epochs: int = 5, batch_size: int = 1024, learning_rate: float = 0.01,
                 l2: float = 0.0, init_std: float = 0.05, top_k: int = 10, seed: int = 0, verbose: int = 0):
        self.dim = dim
        self.n_negatives = n_negatives
        self.sampler = sampler
        self.log_q = log_q
        self.use_bias = use_bias
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.l2 = l2
        self.init_std = init_std
        self.top_k = top_k
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ training
    def fit(self, train) -> "TFRetrieval":
        """Train on the purchases of ``train`` (:class:`coursekit.interactions.Interactions`
        with str user ids and int64 product ids; its id order is the order of ``score``)."""
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, not {self.sampler!r}")
        set_seed(self.seed)
        self.train_ = train
        self.users_ = np.asarray(train.user_ids).astype(str)
        self.products_ = np.asarray(train.item_ids, dtype=np.int64)
        coo = train.matrix.tocoo()
        self._seen = (coo.row.astype(np.int64), coo.col.astype(np.int64))
        self.popularity_ = train.item_popularity()
        users, bought = self.users_[coo.row], self.products_[coo.col]
        net = self.net_ = TwoTower(self.users_, self.products_, self.dim, use_bias=self.use_bias,
                                   init_std=self.init_std)
        net((tf.constant(self.users_[:1]), tf.constant(self.products_[:1].reshape(1, 1))))  # build
        opt = keras.optimizers.Adam(self.learning_rate)
        use_log_q = self.log_q
        l2 = float(self.l2)

        @tf.function(reduce_retracing=True)
        def step(u, pos, neg, lq):
            with tf.GradientTape() as tape:
                logits = net.batch_logits(u, pos, neg)
                loss = sampled_softmax_loss(logits, pos, neg, lq if use_log_q else None)
                loss_total = loss
                if l2 > 0:
                    reg = tf.reduce_mean(tf.reduce_sum(tf.square(net.user_embedding(net.user_lookup(u))), -1))
                    reg += tf.reduce_mean(tf.reduce_sum(tf.square(net.product_embedding(net.product_lookup(pos))), -1))
                    loss_total = loss + l2 * reg
            grads = tape.gradient(loss_total, net.trainable_variables)
            opt.apply_gradients(zip(grads, net.trainable_variables))
            return loss, tf.reduce_sum(sampled_hits(logits, pos, neg))

        self.history_ = []
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            ds = purchase_batches(users, bought, self.products_, n_negatives=self.n_negatives,
                                  batch_size=self.batch_size, sampler=self.sampler, popularity=self.popularity_,
                                  seed=self.seed, epoch=epoch)
            total, hits = 0.0, 0.0
            for u, pos, neg, lq in ds:
                loss, h = step(u, pos, neg, lq)
                total += float(loss) * int(pos.shape[0])
                hits += float(h)
            row = {"epoch": epoch + 1, "loss": total / len(users), "sampled_acc": hits / len(users),
                   "seconds": time.perf_counter() - t0}
            self.history_.append(row)
            if self.verbose:
                print(f"epoch {row['epoch']}: loss {row['loss']:.4f}, sampled accuracy (train) "
                      f"{row['sampled_acc']:.4f}, {row['seconds']:.1f} s")
        self.epoch_s_ = min(r["seconds"] for r in self.history_) if self.history_ else float("nan")
        w = net.user_embedding.embeddings.numpy()
        self.user_vectors_ = w[1:].astype(np.float32)
        self.product_vectors_ = net.product_embedding.embeddings.numpy()[1:].astype(np.float32)
        self.product_bias_ = net.product_bias.embeddings.numpy()[1:, 0].astype(np.float32)
        self.serving_ = ServingModule(self.users_, self.products_, self.user_vectors_, self.product_vectors_,
                                      self.product_bias_, self._seen[0], self._seen[1], self.popularity_,
                                      k=self.top_k)
        return self

    def _check_fitted(self):
        if not hasattr(self, "net_"):
            raise RuntimeError("this TFRetrieval is not fitted yet: call fit(train_interactions) first")

    # ------------------------------------------------------------------ scoring
    def score(self, user_rows) -> np.ndarray:
        """float32 (len(user_rows), n_products): dot product + bias, in the train id order."""
        self._check_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        return self.user_vectors_[rows] @ self.product_vectors_.T + self.product_bias_[None, :]

    def top_n(self, user_rows, n: int = 10, exclude=None) -> np.ndarray:
        """int64 (len(user_rows), n) item columns of the best scores, best first; the non-zeros of
        ``exclude`` (sparse (len(user_rows), n_products), e.g. training purchases) left out.
        Scores and top-k run in TensorFlow in float32 (what :func:`evaluate_model` calls)."""
        self._check_fitted()
        rows = np.asarray(user_rows, dtype=np.int64)
        scores = tf.matmul(tf.gather(self.user_vectors_, rows), self.product_vectors_, transpose_b=True)
        scores = scores + self.product_bias_[None, :]
        if exclude is not None:
            r, c = exclude.nonzero()
            if len(r):
                where = np.stack([r, c], axis=1).astype(np.int64)
                scores = tf.tensor_scatter_nd_update(scores, where, tf.fill([len(r)], -np.inf))
        return tf.math.top_k(scores, k=int(n)).indices.numpy().astype(np.int64)

    def sampled_accuracy(self, frame, *, n_negatives: int = 100, user_col: str = "user_id",
                         item_col: str = "product_id", seed: int = 0, batch_size: int = 4096) -> float:
        """Share of purchases in ``frame`` whose product scores strictly above ``n_negatives``
        uniformly sampled products (accidental hits ignored): the seed's categorical accuracy."""
        self._check_fitted()
        users = tf.constant(frame[user_col].to_numpy().astype(str))
        bought = tf.constant(frame[item_col].to_numpy().astype(np.int64))
        cat = tf.constant(self.products_)
        hits = 0.0
        for start in range(0, len(frame), batch_size):
            pos = bought[start:start + batch_size]
            cand = sample_candidates(pos, cat, n_negatives, tf.constant([seed, start], tf.int64))
            hits += float(tf.reduce_sum(sampled_hits(self.net_((users[start:start + batch_size], cand)), pos,
                                                     cand[:, 1:])))
        return hits / len(frame)

    def recommend(self, user_ids, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``top_k`` products for raw user ids (training purchases left out), through the same
        TF function the SavedModel serves: (ids int64 (B, k), scores float32 (B, k))."""
        self._check_fitted()
        out = self.serving_.recommend(tf.constant(np.asarray(user_ids).astype(str).reshape(-1)))
        return self._cut(out, n)

    def similar_items(self, product_ids, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``top_k`` products by cosine similarity of product vectors (the query left out)."""
        self._check_fitted()
        out = self.serving_.similar_items(tf.constant(np.asarray(product_ids, np.int64).reshape(-1)))
        return self._cut(out, n)

    def _cut(self, out, n):
        n = self.top_k if n is None else int(n)
        if n > self.top_k:
            raise ValueError(f"n={n} is more than top_k={self.top_k} set at construction")
        return out["product_ids"].numpy()[:, :n], out["scores"].numpy()[:, :n]

    # ------------------------------------------------------------------ export
    def export(self, path) -> Path:
        """Write a SavedModel with the signatures ``recommend`` and ``similar_items``; return the path.

        Write it to a temporary or build folder (it holds the vectors of every user)."""
        self._check_fitted()
        path = Path(path)
        tf.saved_model.save(self.serving_, str(path), signatures={
            "recommend": self.serving_.recommend.get_concrete_function(),
            "similar_items": self.serving_.similar_items.get_concrete_function(),
        })
        return path


# Settings measured on the real ASOS data (see the unit-5 notebook): popularity-proportional
# negatives with the log-q correction and an L2 penalty; the toy data uses the same recipe.
REAL_CONFIG = dict(dim=32, n_negatives=100, sampler="popularity", log_q=True, l2=0.3, epochs=10,
                   batch_size=1024, learning_rate=0.01, seed=0)
TOY_CONFIG = dict(dim=16, n_negatives=100, sampler="popularity", log_q=True, l2=0.1, epochs=6,
                  batch_size=1024, learning_rate=0.01, seed=0)
