import numpy as np
import scipy.sparse as sp

from coursekit.ranking import mask_items, top_k


def test_top_k_matches_full_sort():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(50, 300))
    idx, vals = top_k(s, 7)
    expected = np.argsort(-s, axis=1)[:, :7]
    assert np.array_equal(idx, expected)
    assert np.allclose(vals, np.take_along_axis(s, expected, 1))


def test_masked_items_never_returned_and_padding():
    s = np.array([[0.5, 0.1, 0.9, 0.3]])
    masked = mask_items(s, sp.csr_matrix(np.array([[0, 0, 1, 0]])))
    idx, _ = top_k(masked, 3)
    assert idx.tolist() == [[0, 3, 1]]
    idx, vals = top_k(mask_items(s, np.array([[1, 1, 1, 0]], bool)), 3)
    assert idx.tolist() == [[3, -1, -1]] and np.isneginf(vals[0, 1:]).all()


def test_tie_break_orders_ties_without_changing_real_order():
    s = np.array([[0.0, 0.0, 0.0, 1.0, 0.0]])
    pop = np.array([0.1, 0.9, 0.5, 0.0, 0.3])
    idx, _ = top_k(s, 4, tie_break=pop)
    assert idx.tolist() == [[3, 1, 2, 4]]
