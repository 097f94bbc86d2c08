import numpy as np
import pytest

from coursekit import features as F


def test_zscore_guards_constant_columns():
    x = np.array([[1.0, 7.0, 2.0], [3.0, 7.0, 4.0], [5.0, 7.0, 9.0]])
    z = F.zscore(x)
    assert np.isfinite(z).all()
    assert np.allclose(z[:, 1], 0)
    assert np.allclose(z[:, [0, 2]].mean(0), 0, atol=1e-6)
    assert np.allclose(z[:, [0, 2]].std(0), 1, atol=1e-6)
    assert np.allclose(z[:, 0], [-np.sqrt(1.5), 0, np.sqrt(1.5)], atol=1e-6)


def test_concat_and_shape_error():
    a, b = np.ones((3, 2)), np.zeros((3, 4))
    c = F.concat(a, b)
    assert c.shape == (3, 6) and c.dtype == np.float32 and c[:, :2].all() and not c[:, 2:].any()
    with pytest.raises(ValueError, match="same number of rows"):
        F.concat(a, np.zeros((2, 4)))


def test_pca_is_deterministic_and_keeps_variance_order():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 30)) * np.linspace(5, 0.1, 30)
    p1, p2 = F.pca(x, 5, seed=3), F.pca(x, 5, seed=3)
    assert p1.shape == (200, 5) and np.array_equal(p1, p2)
    var = p1.var(axis=0)
    assert np.all(np.diff(var) <= 1e-6)
    kept = F.explained_variance(x, 30)
    assert kept[-1] == pytest.approx(1.0, abs=1e-5) and np.all(np.diff(kept) >= 0)
