"""Unit 5 hot paths: one epoch of the retrieval model over the ASOS purchases with 100 negatives,
the full-catalogue top-10, and (with the real files, not in ``--quick``) the whole notebook on
the real ASOS data against its 5-minute budget.

- Epoch: the kit shares one draw of 100 negatives per batch (a (B, d) x (d, 100) product); the
  reference is the seed's layout, 100 negatives drawn for every purchase (a (B, 101, d) gather),
  timed on a few batches and scaled to the epoch.
- Top-10: :func:`coursekit.models.tf_retrieval.top_k_rows` (only the blocks of columns that can
  hold a winner are ranked) against ``tf.math.top_k`` on the same scores of every validation user.
- Notebook: ``coursekit build --unit 05 -p DATA_SOURCE=real`` wall time, budget
  :data:`REAL_NOTEBOOK_BUDGET_S`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import Row

REAL_NOTEBOOK_BUDGET_S = 300  # the whole unit-5 notebook on the real ASOS data (issue 12)


def run(quick: bool = False) -> list[Row]:
    from ..interactions import Interactions
    from ..models import tf_retrieval as R  # first: it quiets TensorFlow's logs before importing it

    tf = R.tf

    from ._asos import asos_for_bench

    data, source = asos_for_bench()
    train = Interactions.from_frame(data.train, "user_id", "product_id", user_ids=data.users,
                                    item_ids=data.products)
    config = {**R.REAL_CONFIG, "n_negatives": 100, "epochs": 2}
    model = R.TFRetrieval(**config).fit(train)  # the faster epoch: no tracing
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
    bs = config["batch_size"]
    step(tf.constant(users[:bs]), tf.constant(bought[:bs]), tf.constant([0, 0], tf.int64))  # trace
    t0 = time.perf_counter()
    for b in range(1, n_batches + 1):
        sl = slice(b * bs, (b + 1) * bs)
        step(tf.constant(users[sl]), tf.constant(bought[sl]), tf.constant([0, b], tf.int64))
    ref_s = (time.perf_counter() - t0) / n_batches * (-(-len(users) // bs))
    rows = [Row("u5", "retrieval epoch, 100 negatives (TF)", f"{len(users):,} purchases ({source})",
                kit_s, ref_s, None,
                note=f"reference: seed-style negatives per purchase, {n_batches} batches scaled to the epoch; "
                     "both sides share the Keras model and Adam's update of every embedding row; "
                     "the kit saves the (B, 101, d) gather")]

    # top-10 of the whole catalogue for (a block of) users
    n_users = 4096 if quick else 16384
    scores = tf.constant(model.score(np.arange(min(n_users, len(model.users_)))))
    R.top_k_rows(scores[:8], 10), tf.math.top_k(scores[:8], 10)  # trace both

    def kit():
        return R.top_k_rows(scores, 10)[1].numpy()

    def ref():
        return tf.math.top_k(scores, 10).indices.numpy()

    kit_t, ref_t = _best(kit), _best(ref)
    assert np.array_equal(kit(), ref()), "top_k_rows disagrees with tf.math.top_k"
    rows.append(Row("u5", "top-10 of the catalogue (TF)", f"{scores.shape[0]:,} users x {scores.shape[1]:,} products",
                    kit_t, ref_t, None, note="reference: tf.math.top_k over whole rows; same indices"))

    if not quick and source == "real ASOS":
        rows.append(_real_notebook_row())
    return rows


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _real_notebook_row() -> Row:
    """Wall time of ``coursekit build --unit 05 -p DATA_SOURCE=real`` (kernel start to last cell)."""
    from ..datasets._home import get_data_home

    env = {**os.environ, "COURSEKIT_DATA": str(get_data_home())}
    env.pop("COURSEKIT_RECORD", None)
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="bench-u5-") as out:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "coursekit.cli", "build", "--unit", "05", "--out", out,
                               "-p", "DATA_SOURCE=real"], cwd=repo, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    over = " (OVER)" if seconds > REAL_NOTEBOOK_BUDGET_S else ""
    failed = "" if done.returncode == 0 else " (FAILED)"
    return Row("nb", "notebook 05_fashion_retrieval_tf, real data", "real ASOS", seconds,
               note=f"budget {REAL_NOTEBOOK_BUDGET_S} s{over}{failed}; load average "
                    f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
