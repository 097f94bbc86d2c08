"""Unit 2 models and evaluation on a small toy UGallery (the exercise checks: test_u2_exercises.py)."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.clusters import visual_clusters
from coursekit.datasets.ugallery import load_ugallery
from coursekit.inventory import evaluate_scores, last_basket_split, make_baskets, make_holdout, replay_inventory
from coursekit.models.visrank import PopularityRanker, RandomRanker, VisRank
from coursekit.sampling.curatornet import SamplingContext, sample_all, split_triples

SIZES = dict(n_artworks=900, n_artists=40, n_styles=12, n_users=260, emb_dim=48)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = load_ugallery("toy", seed=1, data_home=tmp_path_factory.mktemp("ug"), **SIZES)
    vc = visual_clusters(data.embeddings, n_components=16, n_clusters=12, n_restarts=2, seed=0)
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    b = make_baskets(data.purchase_user, data.purchase_time, data.purchase_indptr, data.purchase_items,
                     data.n_users, data.n_items)
    split = last_basket_split(b, data.artist, vc.labels, data.n_users)
    ctx = SamplingContext.from_split(split, data.artist, vc.labels, vc.reduced)
    holdout = make_holdout(split, av)
    return data, vc, split, ctx, holdout


def test_clusters_pick_the_best_silhouette(setup):
    data, vc, *_ = setup
    assert vc.labels.shape == (data.n_items,) and vc.reduced.shape == (data.n_items, 16)
    assert vc.best == int(np.argmax(vc.silhouettes)) and vc.n_clusters == 12
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(data.styles, vc.labels) > 0.3  # clusters recover the latent styles
    members = vc.members(0)
    assert (vc.labels[members] == 0).all()


def test_holdout_ranks_only_available_non_profile_items(setup):
    data, vc, split, ctx, holdout = setup
    assert len(holdout.users) == len(split.test_users) > 20
    prof = split.profile[holdout.users].toarray()
    assert not (holdout.candidates & prof).any()
    assert holdout.candidates.sum(1).min() < data.n_items  # some artworks are gone


def test_curatornet_beats_baselines(setup):
    from coursekit.models.torch_curatornet import CuratorNet

    data, vc, split, ctx, holdout = setup
    triples = sample_all(ctx, 1500, seed=0)
    train, valid = split_triples(triples, 0.1, seed=0)
    p = split.profile[holdout.users]
    model = CuratorNet(hidden=64, dim=32, max_epochs=4, batch_size=256, seed=0).fit(vc.reduced, train, valid)
    res = evaluate_scores(model.score_profiles(p.indptr, p.indices), holdout)
    rnd = evaluate_scores(RandomRanker(0).fit(data.n_items).score_profiles(p.indptr, p.indices), holdout)
    pop = evaluate_scores(PopularityRanker().fit(split.train.items, data.n_items).score_profiles(p.indptr, p.indices), holdout)
    vis = evaluate_scores(VisRank().fit(vc.reduced).score_profiles(p.indptr, p.indices), holdout)
    assert abs(rnd["auc"] - 0.5) < 0.08
    assert res["auc"] >= rnd["auc"] + 0.15 and res["auc"] >= 0.7
    assert res["ndcg@20"] > pop["ndcg@20"]
    assert vis["auc"] >= rnd["auc"] + 0.15
    assert model.best_epoch_ >= 1 and len(model.history_) >= model.best_epoch_
    # same seed, same model
    again = CuratorNet(hidden=64, dim=32, max_epochs=1, batch_size=256, seed=0).fit(vc.reduced, train)
    once = CuratorNet(hidden=64, dim=32, max_epochs=1, batch_size=256, seed=0).fit(vc.reduced, train)
    np.testing.assert_array_equal(again.item_embeddings(), once.item_embeddings())


def test_models_refuse_to_score_before_fit():
    from coursekit.models.torch_curatornet import CuratorNet

    with pytest.raises(RuntimeError, match="not fitted"):
        CuratorNet().score_profiles(np.array([0, 1]), np.array([0]))
    with pytest.raises(RuntimeError, match="not fitted"):
        VisRank().score_profiles(np.array([0, 1]), np.array([0]))


def test_evaluate_scores_perfect_and_reversed():
    import scipy.sparse as sp

    from coursekit.inventory import Holdout

    cand = np.ones((2, 6), bool)
    cand[0, 5] = False
    rel = sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]], bool))
    h = Holdout(np.arange(2), np.zeros(2, np.int64), rel, cand)
    good = np.array([[6, 5, 4, 3, 2, 9], [0, 1, 2, 3, 4, 5]], float)
    out = evaluate_scores(good, h, ks=(2,))
    assert out["auc"] == 1.0 and out["ndcg@2"] == 1.0 and out["recall@2"] == 1.0
    out = evaluate_scores(-good, h, ks=(2,))
    assert out["auc"] == 0.0 and out["recall@2"] == 0.0


def test_auc_per_user_is_the_paired_figure_of_each_basket():
    import scipy.sparse as sp

    from coursekit.inventory import Holdout, auc_per_user

    cand = np.ones((3, 5), bool)
    cand[2, 4] = False  # basket 2 bought item 4 only, which is gone: nothing to find
    rel = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 1]], bool))
    h = Holdout(np.arange(3), np.zeros(3, np.int64), rel, cand)
    scores = np.array([[5, 1, 2, 3, 4], [0, 3, 1, 2, 4], [1, 2, 3, 4, 5]], float)
    got = auc_per_user(scores, h)
    # basket 0: item 0 beats all 4; basket 1: item 1 beats 0, 3 (loses to 4), item 2 beats 0 only -> 3 of 6
    np.testing.assert_allclose(got[:2], [1.0, 0.5])
    assert np.isnan(got[2])
    assert evaluate_scores(scores, h, ks=(2,))["auc"] == pytest.approx(0.75)  # the mean of the baskets that count


def test_mean_interval_and_interval_bars():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from scipy import stats

    from coursekit.plots import interval_bars
    from coursekit.stats import mean_interval

    x = np.array([0.70, 0.72, 0.71, 0.74, np.nan])
    m, low, high = mean_interval(x)
    half = stats.t.ppf(0.975, 3) * np.std(x[:4], ddof=1) / 2
    assert m == pytest.approx(0.7175) and (low, high) == pytest.approx((m - half, m + half))
    with pytest.raises(ValueError, match="at least two"):
        mean_interval([0.5, np.nan])
    table = pd.DataFrame({"mean": [0.7, 0.6], "ci low": [0.68, 0.55], "ci high": [0.72, 0.66]}, index=["a", "b"])
    fig = interval_bars(table, reference={"chance": 0.5}, ylim=(0.4, 0.8), title="t")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.7, 0.6])
    assert ax.get_ylim() == (0.4, 0.8) and ax.get_legend() is not None
    segments = ax.collections[0].get_segments()  # the error bars
    assert [tuple(np.round(seg[:, 1], 3)) for seg in segments] == [(0.68, 0.72), (0.55, 0.66)]


def test_vbpr_learns_from_real_user_triples(setup):
    from coursekit.models.torch_curatornet import VBPR

    data, vc, split, ctx, holdout = setup
    triples = sample_all(ctx, 1500, seed=0, strategies=(1, 2, 3, 4))
    train, valid = split_triples(triples, 0.1, seed=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        VBPR().score_users([0])
    model = VBPR(dim=8, visual_dim=8, max_epochs=40, seed=0).fit(vc.reduced, data.n_users, train, valid)
    scores = model.score_users(holdout.users)
    assert scores.shape == (len(holdout.users), data.n_items)
    assert evaluate_scores(scores, holdout)["auc"] >= 0.65


def test_holdout_without_filter_and_on_a_sub_catalogue(setup):
    data, vc, split, ctx, holdout = setup
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    everything = make_holdout(split, None)
    prof = split.profile[everything.users].toarray()
    np.testing.assert_array_equal(everything.candidates, ~prof)  # no availability filter
    assert (holdout.candidates <= everything.candidates).all() and holdout.candidates.sum() < everything.candidates.sum()
    new = data.upload_time > np.median(data.upload_time)
    cold = make_holdout(split, av, items=new)
    assert not cold.candidates[:, ~new].any()
    np.testing.assert_array_equal(cold.candidates, holdout.candidates & new[None, :])


def test_restrict_training_renumbers_and_drops_the_other_items(setup):
    from coursekit.inventory import restrict_training

    data, vc, split, ctx, holdout = setup
    keep = data.upload_time <= np.quantile(data.upload_time, 0.6)
    sub, index = restrict_training(split, keep, data.artist, vc.labels)
    np.testing.assert_array_equal(index, np.flatnonzero(keep))
    assert sub.train.n_items == keep.sum() and len(sub.test_users) == 0
    # the same purchases, minus the dropped items, in the same baskets
    t = split.train
    want = sorted((int(t.user[bb]), int(t.time[bb]), int(i)) for bb in range(t.n_baskets)
                  for i in t.items[t.indptr[bb]:t.indptr[bb + 1]] if keep[i])
    st = sub.train
    got = sorted((int(st.user[bb]), int(st.time[bb]), int(index[i])) for bb in range(st.n_baskets)
                 for i in st.items[st.indptr[bb]:st.indptr[bb + 1]])
    assert got == want and (st.sizes > 0).all()


def test_cold_start_models_never_see_new_artworks(setup):
    from coursekit.inventory import restrict_training
    from coursekit.models.torch_curatornet import VBPR, CuratorNet
    from coursekit.sampling.curatornet import SamplingContext, training_set

    data, vc, split, ctx, holdout = setup
    av = replay_inventory(data.upload_time, data.purchase_time, data.purchase_indptr, data.purchase_items)
    new = data.upload_time > np.quantile(data.upload_time[data.upload_time > 0], 0.5)
    sub, index = restrict_training(split, ~new, data.artist, vc.labels)
    sctx = SamplingContext.from_split(sub, data.artist[index], vc.labels[index], vc.reduced[index])
    triples = training_set(sctx, "guided", 6000, seed=0).to_catalogue(index, data.n_items)
    touched = np.concatenate([triples.pos, triples.neg, triples.profile_items])
    assert not new[touched].any()
    cold = make_holdout(split, av, items=new)
    p = split.profile[cold.users]
    model = CuratorNet(hidden=64, dim=32, max_epochs=3, patience=None, seed=0).fit(vc.reduced, triples)
    assert len(model.history_) == 3 and model.best_epoch_ == 3  # patience=None: every epoch, last weights
    auc = evaluate_scores(model.score_profiles(p.indptr, p.indices), cold, ks=(20,))["auc"]
    vbpr = VBPR(dim=8, visual_dim=8, max_epochs=4, seed=0).fit(vc.reduced, data.n_users, triples)
    assert not vbpr.seen_[new].any() and vbpr.seen_[~new].mean() > 0.5
    rnd = evaluate_scores(RandomRanker(0).fit(data.n_items).score_profiles(p.indptr, p.indices), cold, ks=(20,))["auc"]
    assert auc > rnd + 0.1  # CuratorNet ranks artworks it never saw in training
    # VBPR scores a new artwork by its visual terms only (no leftover random latent vector)
    import torch

    scores = vbpr.score_users(cold.users[:3])
    net, f = vbpr.net_, torch.as_tensor(vc.reduced)
    with torch.no_grad():
        visual = (net.theta_user(torch.as_tensor(cold.users[:3])) @ net.embed(f).T + net.beta_visual(f).squeeze(1)).numpy()
    np.testing.assert_allclose(scores[:, new], visual[:, new], rtol=1e-5, atol=1e-5)
    assert np.abs(scores[:, ~new] - visual[:, ~new]).max() > 1e-3


def test_monitor_chooses_the_epoch(setup):
    from coursekit.models.torch_curatornet import CuratorNet

    data, vc, split, ctx, holdout = setup
    triples = sample_all(ctx, 500, seed=0)
    seen = []

    def monitor(model):  # a made-up validation figure that peaks at epoch 2
        seen.append(model.net_.training)
        return [0.5, 0.9, 0.6, 0.55, 0.5][len(seen) - 1]

    model = CuratorNet(hidden=32, dim=16, max_epochs=5, patience=2, seed=0).fit(vc.reduced, triples, monitor=monitor)
    assert model.best_epoch_ == 2 and len(model.history_) == 4  # stopped after two worse epochs
    assert [round(r["monitor"], 2) for r in model.history_] == [0.5, 0.9, 0.6, 0.55]
    assert not any(seen)  # the monitor sees the network in evaluation mode


# --------------------------------------------------------------------------- the map of the artworks

def _agreement_reference(x, labels, k):
    """Loops: each item's k nearest other items by Euclidean distance, share with its label."""
    shares = []
    for i in range(len(x)):
        d = np.sqrt(((x - x[i]) ** 2).sum(1))
        d[i] = np.inf
        nearest = np.argsort(d, kind="stable")[:k]
        shares.append(np.mean(labels[nearest] == labels[i]))
    return float(np.mean(shares))


def test_neighbour_agreement_matches_a_loop_and_hand_cases():
    from coursekit.clusters import neighbour_agreement

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5))
    labels = rng.integers(0, 4, 120)
    for k in (1, 5, 10):
        assert neighbour_agreement(x, labels, k) == pytest.approx(_agreement_reference(x, labels, k), abs=1e-12)
    blobs = np.r_[rng.normal(0, 0.1, (20, 2)), rng.normal(10, 0.1, (20, 2))]
    assert neighbour_agreement(blobs, np.repeat([0, 1], 20), k=5) == 1.0
    assert neighbour_agreement(blobs, np.tile([0, 1], 20), k=19) == pytest.approx(9 / 19)
    with pytest.raises(ValueError, match="k must be"):
        neighbour_agreement(x, labels, k=120)
    with pytest.raises(ValueError, match="labels"):
        neighbour_agreement(x, labels[:-1])


def test_map_2d_is_the_pca_plane_or_a_seeded_tsne():
    from sklearn.decomposition import PCA

    from coursekit.clusters import map_2d

    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 6)) * np.array([5, 3, 1, 1, 1, 1])
    xy = map_2d(x, method="pca")
    ref = PCA(2).fit_transform(x)
    assert xy.shape == (80, 2) and xy.dtype == np.float32
    np.testing.assert_allclose(np.abs(xy), np.abs(ref), atol=1e-4)  # the same plane, up to the axes' signs
    np.testing.assert_allclose(xy.var(0), ref.var(0), rtol=1e-4)
    tsne = map_2d(x[:40], method="tsne", seed=3, max_iter=250)
    np.testing.assert_array_equal(tsne, map_2d(x[:40], method="tsne", seed=3, max_iter=250))
    assert tsne.shape == (40, 2) and np.isfinite(tsne).all()
    with pytest.raises(ValueError, match="unknown method"):
        map_2d(x, method="umap")


def test_cluster_scatter_colours_every_cluster_or_highlights_a_few():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.plots import cluster_scatter

    rng = np.random.default_rng(2)
    xy = rng.normal(size=(300, 2))
    labels = rng.integers(0, 45, 300)
    fig = cluster_scatter(xy, labels, title="all")
    colours = fig.axes[0].collections[0].get_facecolors()
    assert len(colours) == 300
    by_label = {}
    for lab, c in zip(labels, map(tuple, colours)):
        by_label.setdefault(lab, set()).add(c)
    assert all(len(c) == 1 for c in by_label.values())  # one colour per cluster ...
    assert len({next(iter(c)) for c in by_label.values()}) == len(by_label)  # ... and a different one each
    plt.close(fig)
    fig = cluster_scatter(xy, labels, highlight=[3, 7])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["other clusters", "cluster 3", "cluster 7"]
    assert len(fig.axes[0].collections[1].get_offsets()) == (labels == 3).sum()
    plt.close(fig)
    with pytest.raises(ValueError, match="one label per row"):
        cluster_scatter(xy, labels[:-1])
