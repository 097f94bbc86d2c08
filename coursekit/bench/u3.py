"""Unit 3 hot path: training throughput of the compatibility model on 4096-d image features.

The kit trains on mini-batches (``coursekit.models.tf_compat.StyleCompatibility``); the seed
took one random pair per optimiser step, each step a Python-level ``GradientTape`` on a (1, 4096)
tensor. Rows give seconds per 10,000 training pairs; the note gives pairs per second.
"""

from __future__ import annotations

import time

import numpy as np

from . import Row

TARGET_PAIRS_PER_S = 50_000
PER = 10_000  # rows report seconds per this many pairs


def _data(n_items: int, n_pairs: int, dim: int = 4096, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal((n_items, dim), dtype=np.float32) - 0.5, 0)
    x /= np.linalg.norm(x, axis=1).mean()
    pairs = rng.integers(0, n_items, size=(n_pairs, 2))
    labels = (rng.random(n_pairs) < 0.5).astype(np.float32)
    return x, pairs, labels


def seed_style_steps(x, pairs, labels, n_steps: int) -> float:
    """The seed's loop: one random pair per step, Adam on -log p(y). Returns seconds."""
    import random

    import tensorflow as tf

    from ..models.tf_compat import EuclideanCompatibility

    rows = [tf.constant(x[i: i + 1]) for i in range(len(x))]  # the seed kept one tensor per item
    model = EuclideanCompatibility(x.shape[1], 5)
    model((rows[0], rows[0]))
    opt = tf.keras.optimizers.Adam(1e-3)
    compat = list(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), labels.tolist()))
    rnd = random.Random(0)

    def step():
        i1, i2, y = rnd.choice(compat)
        with tf.GradientTape() as tape:
            p = model((rows[i1], rows[i2]))
            loss = -tf.math.log(p * (2 * y - 1) - y + 1)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    for _ in range(5):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return time.perf_counter() - start


def run(quick: bool = False) -> list[Row]:
    from ..models.tf_compat import StyleCompatibility

    n_items = 3000
    n_pairs = 32_768 if quick else 98_304
    x, pairs, labels = _data(n_items, n_pairs)
    rows = []
    n_ref = 100 if quick else 300
    ref_s = seed_style_steps(x, pairs, labels, n_ref) / n_ref
    for projection, batch in (("catalogue", 8192), ("gather", 2048)):
        epochs = 2 if quick else 3
        model = StyleCompatibility("euclidean", batch_size=batch, epochs=epochs, learning_rate=3e-2,
                                   projection=projection).fit(x, pairs, labels)
        pps = model.pairs_per_s_
        ok = "meets" if pps >= TARGET_PAIRS_PER_S else "BELOW"
        rows.append(Row(
            "u3", f"compatibility training ({projection} projection), per 10,000 pairs",
            f"{n_items:,} items x 4096-d, {n_pairs:,} pairs, batch {batch}",
            PER / pps, PER * ref_s, None,
            note=(f"{pps:,.0f} pairs/s ({ok} the {TARGET_PAIRS_PER_S:,} target; after the tracing step) vs "
                  f"{1 / ref_s:,.0f} pairs/s for the seed's one-pair-per-step loop ({n_ref} steps)"),
        ))
    return rows
