"""Unit 5 hot path: one epoch of the retrieval model over the ASOS purchases with 100 negatives.

The kit shares one draw of 100 negatives per batch (a (B, d) x (d, 100) product); the reference
is the seed's layout, 100 negatives drawn for every purchase (a (B, 101, d) gather), timed on a
few batches and scaled to the epoch.
"""

from __future__ import annotations

import time

import numpy as np

from . import Row


def run(quick: bool = False) -> list[Row]:
    from ..interactions import Interactions
    from ..models import tf_retrieval as R  # first: it quiets TensorFlow's logs before importing it

    tf = R.tf

    from ._asos import asos_for_bench

    data, source = asos_for_bench()
    train = Interactions.from_frame(data.train, "user_id", "product_id", user_ids=data.users,
                                    item_ids=data.products)
    model = R.TFRetrieval(**{**R.REAL_CONFIG, "epochs": 2}).fit(train)  # the faster epoch: no tracing
    kit_s = model.epoch_s_

    # reference: per-purchase negatives, (B, 101) candidates through the same Keras model
    net, opt = model.net_, tf.keras.optimizers.Adam(0.01)
    users = data.train.user_id.to_numpy().astype(str)
    bought = data.train.product_id.to_numpy().astype(np.int64)
    cat = tf.constant(model.products_)

    @tf.function
    def step(u, pos, seed):
        cand = R.sample_candidates(pos, cat, 100, seed)
        with tf.GradientTape() as tape:
            loss = R.sampled_softmax_loss(net((u, cand)), pos, cand[:, 1:])
        grads = tape.gradient(loss, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    n_batches = 5 if quick else 20
    bs = R.REAL_CONFIG["batch_size"]
    step(tf.constant(users[:bs]), tf.constant(bought[:bs]), tf.constant([0, 0], tf.int64))  # trace
    t0 = time.perf_counter()
    for b in range(1, n_batches + 1):
        sl = slice(b * bs, (b + 1) * bs)
        step(tf.constant(users[sl]), tf.constant(bought[sl]), tf.constant([0, b], tf.int64))
    ref_s = (time.perf_counter() - t0) / n_batches * (-(-len(users) // bs))
    return [Row("u5", "retrieval epoch, 100 negatives (TF)", f"{len(users):,} purchases ({source})",
                kit_s, ref_s, None,
                note=f"reference: seed-style negatives per purchase, {n_batches} batches scaled to the epoch; "
                     "under 10x because both sides share the Keras model and Adam's update of every "
                     "embedding row (about 60 % of a step); the kit saves the (B, 101, d) gather")]
