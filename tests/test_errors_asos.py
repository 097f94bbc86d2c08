"""Malformed ASOS files: every case is a one-line DataError naming the file, the place and the problem.

Each case starts from a valid toy data set in the real formats (parquet with bytes user ids and
int32 product ids, two headerless csv id lists), breaks one thing, and checks the message.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coursekit.datasets.asos import FILES, make_toy_asos, read_asos

from ._errors import assert_breaks

TRAIN, VALID, USERS, PRODUCTS = (FILES[k][0] for k in ("train", "valid", "users", "products"))



# --------------------------------------------------------------------------- breakers

def _unlink(name):
    return lambda f: (f / name).unlink()


def _write(name, data: bytes):
    return lambda f: (f / name).write_bytes(data)


def _edit_bytes(name, change):
    """Rewrite a file with ``change(old bytes) -> new bytes``."""
    return lambda f: (f / name).write_bytes(change((f / name).read_bytes()))


def _edit_lines(name, change):
    """Rewrite a csv id list with ``change(list of lines) -> list of lines``."""
    def breaker(f):
        lines = (f / name).read_text().splitlines()
        (f / name).write_text("\n".join(change(lines)) + "\n")
    return breaker


def _edit_table(name, change):
    """Rewrite a parquet file with ``change(dict of column name -> list) -> dict``."""
    def breaker(f):
        columns = pq.read_table(f / name).to_pydict()
        pq.write_table(pa.table(change(columns)), f / name)
    return breaker


def _set(column, row, value, type=None):
    """Set one value of one column; ``type`` converts the whole column (None: keep its type)."""
    def change(cols):
        values = list(cols[column])
        values[row] = value
        cols[column] = pa.array(values, type=type) if type is not None else values
        return cols
    return change


def _rename(old, new):
    return lambda cols: {new if k == old else k: v for k, v in cols.items()}


def _drop(column):
    return lambda cols: {k: v for k, v in cols.items() if k != column}


def _with_fraction(cols):
    ids = [float(p) for p in cols["productId"]]
    ids[3] = 1234.5
    cols["productId"] = pa.array(ids, pa.float64())
    return cols


def _as_text(cols):
    ids = [str(p) for p in cols["productId"]]
    ids[5] = "SKU-77"
    cols["productId"] = pa.array(ids, pa.string())
    return cols


def _valid_user_without_train_purchase(f):
    """Valid row 0 names a user of the user csv who has no train purchase."""
    _edit_lines(USERS, lambda ls: ls + ["NEWCOMER"])(f)
    _edit_table(VALID, _set("dummyUserId", 0, b"NEWCOMER", pa.binary()))(f)


def _another_data_set(f):
    for name in (TRAIN, VALID, USERS, PRODUCTS):
        (f / name).unlink()
    (f / "ugallery_purchases.csv").write_text("user_id,artwork_id\n1,2\n")
    (f / "ugallery_inventory.csv").write_text("artwork_id\n2\n")


def _not_utf8(data: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[9] = b"caf\xe9" + lines[9][4:]  # a latin-1 byte on line 10
    return b"\n".join(lines)


CASES = {
    "missing train": (_unlink(TRAIN), f"{TRAIN}: file not found"),
    "missing valid": (_unlink(VALID), f"{VALID}: file not found"),
    "missing user csv": (_unlink(USERS), f"{USERS}: file not found"),
    "missing product csv": (_unlink(PRODUCTS), f"{PRODUCTS}: file not found"),
    "empty train parquet": (_write(TRAIN, b""), f"{TRAIN}: file is empty"),
    "empty user csv": (_write(USERS, b""), f"{USERS}: file is empty"),
    "empty product csv": (_write(PRODUCTS, b""), f"{PRODUCTS}: file is empty"),
    "truncated parquet": (_edit_bytes(VALID, lambda b: b[: len(b) // 2]),
                          f"{VALID}: truncated parquet file"),
    "parquet that is a csv": (_write(TRAIN, b"dummyUserId,productId\nabc,123\n"),
                              f"{TRAIN}: not a parquet file, it holds text: 'dummyUserId,productId"),
    "renamed column": (_edit_table(TRAIN, _rename("productId", "product_id")),
                       f"{TRAIN}: expected the columns 'dummyUserId' and 'productId', "
                       "found ['dummyUserId', 'product_id']"),
    "dropped column": (_edit_table(VALID, _drop("dummyUserId")),
                       f"{VALID}: expected the columns 'dummyUserId' and 'productId', found ['productId']"),
    "float product ids": (_edit_table(TRAIN, _with_fraction),
                          f"{TRAIN}, column 'productId': expected integer product ids, found 1234.5 (row 3)"),
    "text product ids": (_edit_table(VALID, _as_text),
                         f"{VALID}, column 'productId': expected integer product ids, "
                         "found 'SKU-77' (row 5)"),
    "integer user ids": (_edit_table(TRAIN, lambda c: {**c, "dummyUserId": list(range(len(c["productId"])))}),
                         f"{TRAIN}, column 'dummyUserId': user ids must be bytes or text, found int64"),
    "null user id": (_edit_table(TRAIN, _set("dummyUserId", 2, None, pa.binary())),
                     f"{TRAIN}, column 'dummyUserId': missing user id in row 2"),
    "empty user id": (_edit_table(VALID, _set("dummyUserId", 4, b"", pa.binary())),
                      f"{VALID}, column 'dummyUserId': empty user id in row 4"),
    "duplicate user id": (_edit_lines(USERS, lambda ls: ["TWICE"] + ls[1:] + ["TWICE"]),
                          f"{USERS}, line 401: user id 'TWICE' is listed twice (lines 1 and 401)"),
    "duplicate product id": (_edit_lines(PRODUCTS, lambda ls: ls[:2] + ["42"] + ls[3:7] + ["42"] + ls[8:]),
                             f"{PRODUCTS}, line 8: product id 42 is listed twice (lines 3 and 8)"),
    "train names an unknown user": (_edit_table(TRAIN, _set("dummyUserId", 7, b"NOSUCHUSER", pa.binary())),
                                    f"{TRAIN}, column 'dummyUserId': row 7 names the user 'NOSUCHUSER', "
                                    f"which is not in {USERS}"),
    "train names an unknown product": (_edit_table(TRAIN, _set("productId", 7, 999, pa.int32())),
                                       f"{TRAIN}, column 'productId': row 7 names the product 999, "
                                       f"which is not in {PRODUCTS}"),
    "valid user not in train": (_valid_user_without_train_purchase,
                                f"{VALID}, column 'dummyUserId': row 0 names the user 'NEWCOMER', "
                                f"who has no purchase in {TRAIN}"),
    "product csv with a delimiter": (_edit_lines(PRODUCTS, lambda ls: [";".join(ls)]),
                                     f"{PRODUCTS}, line 1: expected one id a line, found the delimiter ';'"),
    "product csv with a header": (_edit_lines(PRODUCTS, lambda ls: ["productId"] + ls),
                                  f"{PRODUCTS}, line 1: found the header 'productId'"),
    "user csv not utf-8": (_edit_bytes(USERS, _not_utf8), f"{USERS}, line 10: not UTF-8 text (byte 0xe9)"),
    "parquet footer length damaged": (_edit_bytes(TRAIN, lambda b: b[:-6] + bytes([b[-6] ^ 0xFF]) + b[-5:]),
                                      f"{TRAIN}: damaged parquet file"),
    "parquet of random bytes": (_write(VALID, b"PAR1" + np.random.default_rng(0).bytes(300) + b"PAR1"),
                                f"{VALID}: damaged parquet file"),
    "product csv of random bytes": (_write(PRODUCTS, np.random.default_rng(1).bytes(300)),
                                    f"{PRODUCTS}, line "),
    "another data set in the folder": (_another_data_set,
                                       f"{TRAIN}: file not found, nor any other ASOS file: the folder holds "
                                       "ugallery_inventory.csv, ugallery_purchases.csv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_asos_files(asos_toy_folder, tmp_path, case):
    assert_breaks(asos_toy_folder, tmp_path / "asos", read_asos, *CASES[case], (TRAIN, VALID, USERS, PRODUCTS))


def test_real_file_formats_still_load(tmp_path):
    # the lenient parts of the format: a byte order mark, CRLF line ends and a blank last line in
    # the user csv, and product ids stored as whole floats, all load as the same data
    make_toy_asos(tmp_path, seed=3, n_users=60, n_products=40)
    before = read_asos(tmp_path)
    users = (tmp_path / USERS).read_bytes()
    (tmp_path / USERS).write_bytes(b"\xef\xbb\xbf" + users.replace(b"\n", b"\r\n") + b"\r\n")
    table = pq.read_table(tmp_path / TRAIN)
    pq.write_table(table.set_column(1, "productId", table.column("productId").cast(pa.float64())),
                   tmp_path / TRAIN)
    after = read_asos(tmp_path)
    np.testing.assert_array_equal(before.users, after.users)
    assert after.train.equals(before.train) and after.train.product_id.dtype == np.int64
