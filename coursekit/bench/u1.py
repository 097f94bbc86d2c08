"""Unit 1 hot paths: content top-k over a catalogue of UGallery size (13,297 items), MMR
re-ranking (unit-1 and unit-5 sizes) and CNN embedding of small pictures (batched against the
seed-style one ``model.predict`` per image)."""

from __future__ import annotations

import heapq

import numpy as np

from . import Row, measure, timed


def _seed_style_topk(features: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    # the seed: pairwise distances per query, then a Python heap over every item
    from sklearn.metrics import pairwise_distances

    out = []
    for q in queries:
        d = pairwise_distances(features[q].reshape(1, -1), features, metric="cosine")[0]
        heap: list = []
        for i in range(len(d)):
            if len(heap) < k:
                heapq.heappush(heap, (-d[i], i))
            else:
                heapq.heappushpop(heap, (-d[i], i))
        out.append([i for _, i in sorted(heap, reverse=True)])
    return out


def run(quick: bool = False) -> list[Row]:
    from ..models.content import ContentRecommender

    rng = np.random.default_rng(0)
    n, d, k = 13_297, 100, 10
    features = rng.normal(size=(n, d)).astype(np.float32)
    n_queries = 200 if quick else 2000
    n_ref = 20 if quick else 50
    queries = rng.choice(n, size=n_queries, replace=False)
    model = ContentRecommender("cosine").fit(features)
    (idx, _), kit_s, peak = measure(model.similar_items, queries, k, exclude_self=False)
    ref, ref_s = timed(_seed_style_topk, features, queries[:n_ref], k)
    agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(idx[:n_ref].tolist(), ref)])
    per_query_kit = kit_s / n_queries
    per_query_ref = ref_s / n_ref
    return [
        Row(
            "u1", "content top-10 (cosine), per query", f"{n:,} items x {d}-d, {n_queries} queries",
            per_query_kit, per_query_ref, peak,
            note=f"reference: seed-style heap loop on {n_ref} queries; top-10 agreement {agree:.2f}",
        )
    ] + _mmr_rows(quick) + _embedding_rows(quick)


def _mmr_one_user_at_a_time(scores, features, k, lam):
    # the textbook loop: one user at a time, NumPy over the items
    f = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    out = np.full((len(scores), k), -1, np.int64)
    for u, s in enumerate(scores):
        avail = np.isfinite(s)
        maxsim = np.zeros(len(s))
        for t in range(k):
            obj = np.where(avail, lam * s - (1 - lam) * (maxsim if t else 0.0), -np.inf)
            p = int(np.argmax(obj))
            out[u, t], avail[p] = p, False
            maxsim = np.maximum(maxsim, f @ f[p]) if t else f @ f[p]
    return out


def _mmr_rows(quick: bool) -> list[Row]:
    from ..ranking import mmr

    rows = []
    rng = np.random.default_rng(1)
    cases = [("unit-1 size", 100, 1500, 2048, None), ("unit-5 toy size", 3000, 1500, 32, None),
             ("unit-5 toy size, pool 100", 3000, 1500, 32, 100)]
    for label, n_users, n_items, d, pool in cases:
        scores = rng.normal(size=(n_users, n_items))
        features = rng.normal(size=(n_items, d)).astype(np.float32)
        (idx, _), kit_s, peak = measure(mmr, scores, features, 10, 0.5, pool=pool)
        n_ref = n_users if n_users <= 100 else (100 if quick else 300)
        if pool is None:
            ref, ref_s = timed(_mmr_one_user_at_a_time, scores[:n_ref], features, 10, 0.5)
            same = np.mean(np.all(ref == idx[:n_ref], axis=1))
            note = f"reference: one user at a time (NumPy over items) on {n_ref} users, scaled; identical lists {same:.0%}"
            ref_s *= n_users / n_ref
        else:
            ref_s, note = None, "re-ranks each user's 100 best items only"
        rows.append(Row("u1", f"MMR re-ranking top-10, lambda 0.5 ({label})",
                        f"{n_users:,} users x {n_items:,} items x {d}-d", kit_s, ref_s, peak, note=note))
    return rows


def _seed_style_embed(model, preprocess, paths, size):
    # the seed: load each image, preprocess it and call model.predict on a batch of one
    import keras

    out = []
    for p in paths:
        x = keras.utils.img_to_array(keras.utils.load_img(p, target_size=(size, size)))
        out.append(model.predict(preprocess(x[None]), verbose=0)[0])
    return np.asarray(out, np.float32)


def _embedding_rows(quick: bool) -> list[Row]:
    import tempfile
    from pathlib import Path

    from ..embeddings import MODELS, ImageEmbedder
    from ..images import render_artwork, save_png, style_look

    size, n_kit = 64, (128 if quick else 1500)
    n_ref = 12 if quick else 100
    names = ("mobilenet_v3_small",) if quick else ("mobilenet_v3_small", "resnet50")  # quick: the small CNN only
    rows = []
    with tempfile.TemporaryDirectory(prefix="coursekit-bench-") as tmp:
        rng = np.random.default_rng(2)
        paths = []
        for i in range(n_kit):  # toy-like pictures, as unit 1's data set renders them
            paths.append(Path(tmp) / f"{i}.png")
            save_png(render_artwork(style_look(i % 20, 20), rng.normal(size=4), size), paths[-1])
        for name in names:
            import keras

            emb = ImageEmbedder(name, weights=None, size=size, progress=False)
            emb.embed(paths[:64])  # build and trace outside the timing; the reference warms up too
            x, kit_s = timed(emb.embed, paths)
            preprocess = getattr(keras.applications, MODELS[name].module).preprocess_input
            _seed_style_embed(emb.model_, preprocess, paths[:2], size)
            ref, ref_s = timed(_seed_style_embed, emb.model_, preprocess, paths[:n_ref], size)
            scale = np.abs(x[:n_ref]).max()
            err = float(np.abs(ref - x[:n_ref]).max() / scale) if scale > 0 else 0.0
            rows.append(Row(
                "u1", f"CNN embedding, {name} (random weights), per image",
                f"{n_kit:,} PNGs of {size} px, batches of {emb.batch_size}", kit_s / n_kit, ref_s / n_ref, None,
                note=f"kit {n_kit / kit_s:.0f} images/s (tf.data + one compiled pass per batch); reference: "
                     f"seed-style model.predict per image on {n_ref} images; same features to {err:.0e} (relative); "
                     "TF memory not traced",
            ))
    return rows
