"""Interactions: ids <-> sparse matrix round trips, universes, errors, count scaling."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coursekit import DataError
from coursekit.interactions import Interactions, row_shares, scale_counts


def _table():
    return pd.DataFrame({
        "user": ["b", "a", "b", "c", "a", "b"],
        "item": [20, 10, 20, 30, 30, 10],
        "plays": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })


def test_from_frame_sums_duplicates_and_sorts_ids():
    inter = Interactions.from_frame(_table(), "user", "item", "plays")
    assert list(inter.user_ids) == ["a", "b", "c"]
    assert list(inter.item_ids) == [10, 20, 30]
    assert inter.matrix.dtype == np.float32 and sp.isspmatrix_csr(inter.matrix) or sp.issparse(inter.matrix)
    expected = np.array([[2, 0, 5], [6, 4, 0], [0, 0, 4]], dtype=np.float32)  # b-20 is 1 + 3
    np.testing.assert_array_equal(inter.matrix.toarray(), expected)


def test_without_counts_each_row_is_one():
    inter = Interactions.from_frame(_table(), "user", "item")
    assert inter.matrix[inter.user_index(["b"])[0], inter.item_index([20])[0]] == 2.0  # two rows b-20


def test_round_trip_to_frame():
    df = _table()
    inter = Interactions.from_frame(df, "user", "item", "plays")
    back = inter.to_frame()
    assert list(back.columns) == ["user", "item", "plays"]
    again = Interactions.from_frame(back, "user", "item", "plays")
    np.testing.assert_array_equal(again.matrix.toarray(), inter.matrix.toarray())
    expected = df.groupby(["user", "item"], as_index=False)["plays"].sum()
    pd.testing.assert_frame_equal(back.astype({"plays": float}), expected, check_dtype=False)


def test_given_universe_fixes_rows_and_columns():
    inter = Interactions.from_frame(_table(), "user", "item", user_ids=["c", "b", "a", "z"], item_ids=[30, 20, 10, 40])
    assert inter.matrix.shape == (4, 4)
    assert inter.matrix[0, 0] == 1.0  # c-30
    assert inter.matrix[3].nnz == 0 and inter.matrix[:, 3].nnz == 0


def test_outside_universe_raises_or_drops():
    with pytest.raises(DataError, match="30"):
        Interactions.from_frame(_table(), "user", "item", item_ids=[10, 20])
    dropped = Interactions.from_frame(_table(), "user", "item", item_ids=[10, 20], unknown="drop")
    assert dropped.nnz == 3  # a-10, b-10, b-20


def test_index_lookup_and_unknown_id_error():
    inter = Interactions.from_frame(_table(), "user", "item")
    np.testing.assert_array_equal(inter.user_index(["c", "a"]), [2, 0])
    assert inter.user_index(["c"]).dtype == np.int64
    np.testing.assert_array_equal(inter.item_index(np.array([30, 10])), [2, 0])
    with pytest.raises(DataError, match="'nobody'"):
        inter.user_index(["a", "nobody"])
    with pytest.raises(DataError, match="99"):
        inter.item_index([99])


def test_bad_input_errors_name_the_field():
    df = _table()
    with pytest.raises(DataError, match="'user_id'"):
        Interactions.from_frame(df)
    bad = df.assign(plays=[1, -2, 3, 4, 5, 6])
    with pytest.raises(DataError, match="'plays'.*row 1|row 1.*'plays'"):
        Interactions.from_frame(bad, "user", "item", "plays")
    missing = df.astype({"user": object})
    missing.loc[2, "user"] = None
    with pytest.raises(DataError, match="row 2"):
        Interactions.from_frame(missing, "user", "item")


def test_mixed_and_bytes_ids():
    df = pd.DataFrame({"u": [b"x", b"y", b"x"], "i": ["p", 3, "p"]})
    inter = Interactions.from_frame(df, "u", "i")
    assert inter.matrix.shape == (2, 2)
    assert inter.matrix[inter.user_index([b"x"])[0], inter.item_index(["p"])[0]] == 2.0


def test_scale_counts():
    m = sp.csr_matrix(np.array([[1.0, 0, 4], [3, 2, 0]], dtype=np.float32))
    np.testing.assert_allclose(scale_counts(m, "log").toarray(), np.log1p(m.toarray()), rtol=1e-6)
    np.testing.assert_allclose(scale_counts(m, "minmax").toarray(), [[1 / 3, 0, 1], [1, 1, 0]], rtol=1e-6)
    np.testing.assert_array_equal(scale_counts(m, "binary").toarray(), m.toarray() > 0)
    np.testing.assert_array_equal(scale_counts(m, None).toarray(), m.toarray())
    with pytest.raises(ValueError):
        scale_counts(m, "zscore")



def test_row_shares():
    m = sp.csr_matrix(np.array([[1.0, 0, 3], [0, 0, 0], [2, 2, 4]], dtype=np.float32))
    shares = row_shares(m)
    np.testing.assert_allclose(shares.toarray(), [[0.25, 0, 0.75], [0, 0, 0], [0.25, 0.25, 0.5]])
    assert shares.nnz == m.nnz and shares.dtype == np.float64
    # the seed's positive rule: at least 10 % of the user's plays
    np.testing.assert_array_equal((row_shares(m) >= 0.3).toarray(), [[0, 0, 1], [0, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="non-negative"):
        row_shares(sp.csr_matrix(np.array([[1.0, -1.0]])))
