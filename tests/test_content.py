import numpy as np
import pytest
import scipy.sparse as sp

from coursekit.models import ContentRecommender
from coursekit.models.content import NotFittedError


@pytest.fixture
def feats():
    return np.random.default_rng(2).normal(size=(120, 8)).astype(np.float32)


def test_similar_items_cosine_matches_brute_force(feats):
    model = ContentRecommender("cosine").fit(feats)
    idx, scores = model.similar_items([3, 50], 6)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    for row, q in enumerate([3, 50]):
        sims = unit @ unit[q]
        sims[q] = -np.inf
        assert idx[row].tolist() == np.argsort(-sims)[:6].tolist()
        assert np.allclose(scores[row], np.sort(sims)[::-1][:6], atol=1e-5)


def test_similar_items_euclidean(feats):
    idx, scores = ContentRecommender("euclidean").fit(feats).similar_items([7], 4)
    d = np.linalg.norm(feats - feats[7], axis=1)
    d[7] = np.inf
    assert idx[0].tolist() == np.argsort(d)[:4].tolist()
    assert np.allclose(-scores[0], np.sort(d)[:4], atol=1e-4)


def test_recommend_mean_similarity_excludes_consumed(feats):
    profiles = sp.csr_matrix(([1.0] * 4, ([0, 0, 0, 1], [1, 2, 3, 9])), shape=(2, 120))
    model = ContentRecommender("cosine").fit(feats)
    idx, _ = model.recommend(profiles, 10)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    s0 = (unit[[1, 2, 3]] @ unit.T).mean(0)
    s0[[1, 2, 3]] = -np.inf
    assert idx[0].tolist() == np.argsort(-s0)[:10].tolist()
    assert 9 not in idx[1]


def test_not_fitted_and_bad_metric(feats):
    with pytest.raises(NotFittedError, match="fit"):
        ContentRecommender().similar_items([0])
    with pytest.raises(ValueError, match="metric"):
        ContentRecommender("manhattan").fit(feats)


# --------------------------------------------------------------------------- Euclidean precision

def test_euclidean_ranks_near_duplicates_far_from_the_origin():
    # rows far from the origin differing in the 4th decimal: a float32 expansion of
    # |q|^2 + |x|^2 - 2 q.x would lose them to cancellation
    rng = np.random.default_rng(0)
    base = (1000.0 + rng.normal(size=(1, 16))).astype(np.float32)
    feats = np.repeat(base, 30, axis=0) + (np.arange(30, dtype=np.float32)[:, None] * 1e-3)
    idx, scores = ContentRecommender("euclidean").fit(feats).similar_items([0], 5)
    assert idx[0].tolist() == [1, 2, 3, 4, 5]
    d = np.linalg.norm(feats.astype(np.float64) - feats[0].astype(np.float64), axis=1)
    assert np.allclose(-scores[0], d[1:6], rtol=1e-6)


def test_cosine_ignores_row_lengths_and_euclidean_does_not(feats):
    profiles = sp.csr_matrix(np.random.default_rng(3).random((6, 120)) < 0.05)
    gain = np.exp(np.random.default_rng(4).normal(0, 0.5, size=120)).astype(np.float32)[:, None]
    cos_a, _ = ContentRecommender("cosine").fit(feats).recommend(profiles, 10)
    cos_b, _ = ContentRecommender("cosine").fit(feats * gain).recommend(profiles, 10)
    assert np.array_equal(cos_a, cos_b)
    euc_a, _ = ContentRecommender("euclidean").fit(feats).recommend(profiles, 10)
    euc_b, _ = ContentRecommender("euclidean").fit(feats * gain).recommend(profiles, 10)
    assert not np.array_equal(euc_a, euc_b)


# --------------------------------------------------------------------------- compare_settings

def _slow_ndcg(ranked, relevant, k):
    dcg = sum(1 / np.log2(r + 2) for r, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / np.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / ideal if ideal else np.nan


def _slow_auc(scores, relevant, candidates):
    pos = [scores[i] for i in candidates if i in relevant]
    neg = [scores[i] for i in candidates if i not in relevant]
    if not pos or not neg:
        return np.nan
    return np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg])


def test_compare_settings_matches_a_slow_reference():
    from coursekit.models.content import compare_settings

    rng = np.random.default_rng(5)
    n_items, n_users, k = 40, 7, 5
    sets = {"a": rng.random((n_items, 6)).astype(np.float32), "b": rng.normal(size=(n_items, 3)).astype(np.float32)}
    consumed = [rng.choice(n_items, size=rng.integers(1, 5), replace=False) for _ in range(n_users)]
    held_out = [np.setdiff1d(rng.choice(n_items, size=3, replace=False), c) for c in consumed]
    held_out[2] = np.array([], dtype=np.int64)  # a user with nothing held out: NaN, left out of the means
    past = sp.csr_matrix((np.ones(sum(map(len, consumed))), (np.repeat(np.arange(n_users), [len(c) for c in consumed]),
                                                             np.concatenate(consumed))), shape=(n_users, n_items))
    truth = [h.astype(np.int64) for h in held_out]
    table, per_user = compare_settings(sets, past, truth, k)
    assert list(table.index) == [("a", "cosine"), ("a", "euclidean"), ("b", "cosine"), ("b", "euclidean")]
    for (name, metric), row in table.iterrows():
        x = sets[name].astype(np.float64)
        ndcgs, aucs, precisions = [], [], []
        for u in range(n_users):
            if metric == "cosine":
                unit = x / np.linalg.norm(x, axis=1, keepdims=True)
                sim = unit[consumed[u]] @ unit.T
            else:
                sim = -np.linalg.norm(x[consumed[u]][:, None, :] - x[None, :, :], axis=2)
            scores = sim.mean(axis=0)
            candidates = [i for i in range(n_items) if i not in set(consumed[u])]
            ranked = sorted(candidates, key=lambda i: -scores[i])
            rel = set(truth[u].tolist())
            ndcgs.append(_slow_ndcg(ranked, rel, k))
            aucs.append(_slow_auc(scores, rel, candidates))
            precisions.append(len(rel & set(ranked[:k])) / k)
        assert np.allclose(per_user[(name, metric)][f"ndcg@{k}"], ndcgs, equal_nan=True, atol=1e-5)
        assert np.allclose(per_user[(name, metric)]["auc"], aucs, equal_nan=True, atol=1e-5)
        assert row[f"ndcg@{k}"] == pytest.approx(np.nanmean(ndcgs), abs=1e-5)
        assert row["auc"] == pytest.approx(np.nanmean(aucs), abs=1e-5)
        assert row[f"precision@{k}"] == pytest.approx(np.mean(precisions), abs=1e-9)
    no_auc, _ = compare_settings(sets, past, truth, k, metrics=("cosine",), auc=False)
    assert "auc" not in no_auc.columns and len(no_auc) == 2


def test_mean_ci_is_the_t_interval_of_scipy_and_ignores_undefined_users():
    from scipy import stats

    from coursekit.metrics import mean_ci, mean_ci_table

    x = np.random.default_rng(3).gamma(1.5, 0.1, size=40)
    low, high = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    mean, half = mean_ci(np.r_[x, np.nan])                      # a user without a held-out item: left out
    assert mean == pytest.approx(x.mean()) and half == pytest.approx((high - low) / 2)
    assert mean_ci(x, 0.99)[1] > half
    assert np.isnan(mean_ci([0.3])[1]) and np.isnan(mean_ci([np.nan, np.nan])[0])
    table = mean_ci_table({("a", "cosine"): {"ndcg@10": x}, ("b", "-"): {"ndcg@10": x[:10]}})
    assert list(table.columns) == ["ndcg@10", "ndcg@10 \u00b1"]
    assert table.loc[("a", "cosine"), "ndcg@10 \u00b1"] == pytest.approx(half)
    assert table.loc[("b", "-"), "ndcg@10 \u00b1"] > half         # fewer users, wider interval


def test_compare_settings_reports_the_spread_of_its_per_user_figures(feats):
    from coursekit.metrics import mean_ci
    from coursekit.models.content import compare_settings

    rng = np.random.default_rng(2)
    n_users, n_items = 12, feats.shape[0]
    past = sp.csr_matrix((rng.random((n_users, n_items)) < 0.08).astype(np.float64))
    truth = [rng.choice(n_items, size=3, replace=False) for _ in range(n_users)]
    table, per_user = compare_settings({"f": feats}, past, truth, 5)
    assert list(table.columns) == ["precision@5", "recall@5", "ndcg@5", "ndcg@5 \u00b1", "auc", "auc \u00b1"]
    for setting, figures in per_user.items():
        for figure, values in figures.items():
            assert (table.loc[setting, figure], table.loc[setting, f"{figure} \u00b1"]) == pytest.approx(mean_ci(values))
    bare, _ = compare_settings({"f": feats}, past, truth, 5, ci=None)
    assert list(bare.columns) == ["precision@5", "recall@5", "ndcg@5", "auc"]
    assert bare["ndcg@5"].tolist() == pytest.approx(table["ndcg@5"].tolist())


# --------------------------------------------------------------------------- unit-1 data: validation split, toy gain

def _art(past):
    from coursekit.datasets.art import ArtData

    ids = np.arange(100, 130, dtype=np.int64)
    return ArtData(np.ones((30, 2), np.float32), np.ones((30, 3), np.float32), ids, {},
                   {u: np.asarray(v, np.int64) for u, v in past.items()},
                   {u: np.array([129], np.int64) for u in past}, folder=None)


def test_validation_split_carves_from_past_purchases_only():
    past = {"a": list(range(100, 110)), "b": [110, 111], "c": [112], "d": list(range(113, 120))}
    data = _art(past)
    valid = data.validation_split(0.3, seed=1)
    sizes = {u: (len(valid.past[u]), len(valid.truth[u])) for u in past}
    assert sizes == {"a": (7, 3), "b": (1, 1), "c": (1, 0), "d": (5, 2)}
    for u, items in past.items():  # a partition of each user's past purchases
        assert sorted(valid.past[u].tolist() + valid.truth[u].tolist()) == sorted(items)
    assert {u: v.tolist() for u, v in data.truth.items()} == {u: [129] for u in past}  # ground truth untouched
    assert all(np.array_equal(data.past[u], past[u]) for u in past)
    again = data.validation_split(0.3, seed=1)
    assert all(np.array_equal(again.truth[u], valid.truth[u]) for u in past)
    other = data.validation_split(0.3, seed=2)
    assert any(not np.array_equal(other.truth[u], valid.truth[u]) for u in past)
    with pytest.raises(ValueError, match="share"):
        data.validation_split(1.0)


def test_toy_gain_scales_rows_and_never_enters_the_purchases(tmp_path):
    from coursekit.datasets.art import make_toy_art, read_art

    sizes = dict(n_artworks=150, n_users=12, image_size=8)
    make_toy_art(tmp_path / "flat", seed=4, gain_sigma=0.0, **sizes)
    make_toy_art(tmp_path / "gain", seed=4, **sizes)
    flat, gain = read_art(tmp_path / "flat"), read_art(tmp_path / "gain")
    assert np.array_equal(flat.gains, np.ones(150))
    assert gain.gains.shape == (150,) and (gain.gains > 0).all()
    assert 0.2 < np.log(gain.gains).std() < 0.4  # log-normal, sigma 0.3
    # the purchases and the styles do not depend on the gain; the rows are the flat rows times the gain
    assert {u: v.tolist() for u, v in flat.past.items()} == {u: v.tolist() for u, v in gain.past.items()}
    assert {u: v.tolist() for u, v in flat.truth.items()} == {u: v.tolist() for u, v in gain.truth.items()}
    assert np.array_equal(flat.styles, gain.styles)
    for a, b in ((flat.resnet, gain.resnet), (flat.vgg, gain.vgg)):
        assert np.allclose(a * gain.gains[:, None], b, rtol=1e-5, atol=1e-6)
    cv = lambda m: np.linalg.norm(m, axis=1).std() / np.linalg.norm(m, axis=1).mean()  # noqa: E731
    assert cv(gain.resnet) > cv(flat.resnet) + 0.1


def test_toy_gains_file_is_checked(tmp_path):
    import json

    from coursekit.datasets.art import make_toy_art, read_art
    from coursekit.errors import DataError

    make_toy_art(tmp_path, seed=1, n_artworks=40, n_users=5, image_size=8)
    gains = json.loads((tmp_path / "toy_gains.json").read_text())
    (tmp_path / "toy_gains.json").write_text(json.dumps([-1.0] + gains[1:]))
    with pytest.raises(DataError, match="positive gains") as info:
        read_art(tmp_path)
    assert "toy_gains.json" in str(info.value)


# --------------------------------------------------------------------------- "because you bought X"

def _slow_explain(feats, metric, consumed, recommended):
    """For each recommended item, the consumed item with the largest similarity (ties: lower index)."""
    x = feats.astype(np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    out, sims = [], []
    for i in recommended:
        if i < 0 or not len(consumed):
            out.append(-1)
            sims.append(np.nan)
            continue
        best, best_sim = -1, -np.inf
        for j in sorted(consumed):
            s = x[i] @ x[j] if metric == "cosine" else -np.linalg.norm(x[i] - x[j])
            if s > best_sim:
                best, best_sim = j, s
        out.append(best)
        sims.append(best_sim)
    return out, sims


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_explain_names_the_profile_item_that_contributed_most(feats, metric):
    rng = np.random.default_rng(8)
    n_users = 9
    consumed = [rng.choice(120, size=rng.integers(1, 7), replace=False) for _ in range(n_users)]
    consumed[4] = np.array([], dtype=np.int64)  # an empty profile explains nothing
    rows = np.repeat(np.arange(n_users), [len(c) for c in consumed])
    profiles = sp.csr_matrix((np.ones(len(rows)), (rows, np.concatenate(consumed))), shape=(n_users, 120))
    model = ContentRecommender(metric).fit(feats)
    recommended, _ = model.recommend(profiles, 6)
    recommended[1, -2:] = -1  # padding
    because, sim = model.explain(profiles, recommended)
    assert because.shape == sim.shape == recommended.shape
    for u in range(n_users):
        expected, expected_sim = _slow_explain(feats, metric, consumed[u].tolist(), recommended[u].tolist())
        assert because[u].tolist() == expected
        assert np.allclose(sim[u], expected_sim, equal_nan=True, atol=1e-5)
    assert (because[4] == -1).all() and (because[1, -2:] == -1).all()
    # the explanation is the largest term of the score: similarity / |profile| >= score of every other term
    scores = model.score_users(profiles)
    u = 0
    for t, i in enumerate(recommended[u]):
        terms = model.similarity([i])[0, consumed[u]]
        assert scores[u, i] == pytest.approx(terms.mean(), abs=1e-5)
        assert sim[u, t] == pytest.approx(terms.max(), abs=1e-5)


def test_explain_breaks_ties_by_the_lower_index():
    feats = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], np.float32)  # 0, 1, 2 point the same way
    profiles = sp.csr_matrix(np.array([[0, 1, 1, 0]], float))
    because, sim = ContentRecommender("cosine").fit(feats).explain(profiles, np.array([[0, 3]]))
    assert because.tolist() == [[1, 1]] and np.allclose(sim, [[1.0, 0.0]])
    with pytest.raises(ValueError, match="rows"):
        ContentRecommender("cosine").fit(feats).explain(profiles, np.array([[0], [1]]))


# --------------------------------------------------------------------------- unit-1 plots

def test_because_grid_puts_each_explanation_under_its_recommendation():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coursekit.plots import because_grid

    red, blue = np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    fig = because_grid([red, red, None], [blue, blue, blue], ["#1", "#2", "#3"], ["a", "b", "c"],
                       highlight=[True, False, False])
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[1]] == ["a", "b", "c"]
    assert (axes[1, 0].images[0].get_array()[..., 2] == 255).all()  # explanations in the bottom row
    assert axes[0, 0].spines["top"].get_linewidth() == 3 and axes[0, 1].spines["top"].get_linewidth() != 3
    plt.close(fig)
    with pytest.raises(ValueError, match="explanations"):
        because_grid([red], [blue, blue])


def test_embedding_map_spreads_thumbnails_and_colours_by_category():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import AnnotationBbox

    from coursekit.plots import _spread_points, embedding_map

    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 20])
    rows = _spread_points(xy, 9)
    assert 2 <= len(rows) <= 9 and len(set(rows.tolist())) == len(rows)
    assert (rows < 50).any() and (rows >= 50).any()  # both clusters get a thumbnail
    assert np.array_equal(rows, _spread_points(xy, 9))
    asked = []
    fig = embedding_map(xy, colour=np.repeat([3, 7], 50), images=lambda r: asked.append(r) or [None] * len(r),
                        thumbnails=9, title="t")
    ax = fig.axes[0]
    boxes = [a for a in ax.artists if isinstance(a, AnnotationBbox)]
    assert len(boxes) == len(asked[0]) == len(rows)
    colours = ax.collections[0].get_facecolors()
    assert len(np.unique(colours[:50], axis=0)) == 1 and not np.allclose(colours[0], colours[50])
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        embedding_map(np.zeros((5, 3)))
