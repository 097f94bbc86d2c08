"""The ASOS loader: real files, the toy generator's schema, bad input and the download path."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coursekit import DataError
from coursekit.datasets import _registry
from coursekit.datasets.asos import FILES, load_asos, make_toy_asos, read_asos

TRAIN, VALID, USERS, PRODUCTS = (FILES[k][0] for k in ("train", "valid", "users", "products"))



def test_toy_files_have_the_real_schema(asos_toy_folder):
    schema = pq.read_schema(asos_toy_folder / TRAIN)
    assert schema.field("dummyUserId").type == pa.binary()
    assert schema.field("productId").type == pa.int32()
    first_user = (asos_toy_folder / USERS).read_text().splitlines()[0]
    assert len(first_user) == 20 and first_user.isalnum()  # headerless, one id a line
    assert len((asos_toy_folder / PRODUCTS).read_text().splitlines()) == 200


def test_toy_loads_with_normalised_ids_and_split_like_the_real_data(asos_toy_folder):
    data = read_asos(asos_toy_folder)
    assert len(data.users) == 400 and len(data.products) == 200
    assert data.products.dtype == np.int64
    for frame in (data.train, data.valid):
        assert list(frame.columns) == ["user_id", "product_id"]
        assert frame["product_id"].dtype == np.int64
        assert isinstance(frame["user_id"].iloc[0], str)
    assert set(data.valid.user_id) <= set(data.train.user_id)
    assert set(data.train.user_id) == set(data.users)  # every user bought something
    both = data.valid.merge(data.train, on=["user_id", "product_id"])
    assert len(both) == 0  # a valid purchase never repeats a train purchase
    assert not data.train.duplicated().any()


def test_toy_has_a_popularity_skew_and_is_reproducible(asos_toy_folder, tmp_path):
    data = read_asos(asos_toy_folder)
    counts = np.sort(data.train.product_id.value_counts().to_numpy())[::-1]
    top_share = counts[: len(data.products) // 10].sum() / counts.sum()
    assert top_share > 0.25  # top 10 % of products: well above their 10 % share under no skew
    make_toy_asos(tmp_path, seed=3, n_users=400, n_products=200)
    for name in (TRAIN, VALID, USERS, PRODUCTS):
        assert (tmp_path / name).read_bytes() == (asos_toy_folder / name).read_bytes()


def test_toy_bytes_do_not_depend_on_the_generator_block_size(asos_toy_folder, tmp_path, monkeypatch):
    # the generator ranks products in blocks of users to bound memory at real size
    from coursekit.datasets import asos

    monkeypatch.setattr(asos, "_TOY_BLOCK", 37)  # 400 users -> 11 blocks, the last one partial
    make_toy_asos(tmp_path, seed=3, n_users=400, n_products=200)
    for name in (TRAIN, VALID, USERS, PRODUCTS):
        assert (tmp_path / name).read_bytes() == (asos_toy_folder / name).read_bytes()


def test_load_asos_toy_uses_the_cache(data_home):
    a = load_asos("toy", seed=0, n_users=300, n_products=150)
    b = load_asos("toy", seed=0, n_users=300, n_products=150)
    assert a.folder == b.folder and a.folder.parent.parent == data_home
    pd.testing.assert_frame_equal(a.train, b.train)


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in (TRAIN, VALID, USERS, PRODUCTS):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_unknown_user_names_file_column_and_id(asos_toy_folder, tmp_path):
    folder = _copy(asos_toy_folder, tmp_path / "bad")
    users = (folder / USERS).read_text().splitlines()
    dropped = users[0]
    (folder / USERS).write_text("\n".join(users[1:]) + "\n")
    with pytest.raises(DataError) as err:
        read_asos(folder)
    msg = str(err.value)
    assert TRAIN in msg and "'dummyUserId'" in msg and repr(dropped) in msg and "Fix:" in msg


def test_unknown_product_in_valid_is_reported(asos_toy_folder, tmp_path):
    folder = _copy(asos_toy_folder, tmp_path / "bad")
    valid = pq.read_table(folder / VALID).to_pandas()
    first = int(valid.productId.iloc[0])
    products = [p for p in (folder / PRODUCTS).read_text().splitlines() if int(p) != first]
    train = pq.read_table(folder / TRAIN).to_pandas()
    train = train[train.productId != first]  # so that only valid names the dropped product
    pq.write_table(pa.Table.from_pandas(train, preserve_index=False), folder / TRAIN)
    (folder / PRODUCTS).write_text("\n".join(products) + "\n")
    with pytest.raises(DataError, match=rf"{VALID}, column 'productId'.*{first}"):
        read_asos(folder)


def test_non_integer_product_id_is_reported(asos_toy_folder, tmp_path):
    folder = _copy(asos_toy_folder, tmp_path / "bad")
    (folder / PRODUCTS).write_text("123\nabc\n")
    with pytest.raises(DataError, match=r"dsf_asos_productIds.csv.*integer product ids, found 'abc' \(row 1\)"):
        read_asos(folder)


def test_missing_column_and_missing_file(asos_toy_folder, tmp_path):
    folder = _copy(asos_toy_folder, tmp_path / "bad")
    pq.write_table(pa.table({"user": [b"a"], "productId": [1]}), folder / TRAIN)
    with pytest.raises(DataError, match=rf"{TRAIN}: expected the columns 'dummyUserId'"):
        read_asos(folder)
    (folder / TRAIN).unlink()
    with pytest.raises(DataError, match="file not found.*coursekit data fetch asos"):
        read_asos(folder)


# --------------------------------------------------------------------------- download (loopback only)

@pytest.fixture
def local_server():
    """Serve a folder over HTTP on 127.0.0.1; yields (folder, base URL)."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


def _point_spec_at(monkeypatch, base_url: str, checksums: dict[str, str] | None = None):
    spec = _registry.get_spec("asos")
    files = tuple(
        dataclasses.replace(f, url=base_url + f.name, sha256=(checksums or {}).get(f.name, f.sha256))
        for f in spec.files
    )
    monkeypatch.setitem(_registry._REGISTRY, "asos", dataclasses.replace(spec, files=files))


def test_fetch_downloads_and_verifies_the_real_files(real_data_home, empty_data_home, local_server, monkeypatch):
    source = real_data_home / "asos"
    if not (source / TRAIN).exists():
        pytest.skip("real ASOS files not present")
    _point_spec_at(monkeypatch, local_server(source))  # the registered (real) checksums
    folder = _registry.fetch("asos")
    assert folder == empty_data_home / "asos"
    assert _registry.verify("asos") == {name: True for name in (TRAIN, VALID, USERS, PRODUCTS)}
    data = load_asos("real")
    assert (len(data.train), len(data.valid)) == (165_042, 35_567)


def test_fetch_rejects_a_wrong_checksum_and_leaves_nothing(asos_toy_folder, tmp_path, empty_data_home,
                                                           local_server, monkeypatch):
    served = _copy(asos_toy_folder, tmp_path / "served")
    sums = {n: hashlib.sha256((served / n).read_bytes()).hexdigest() for n in (TRAIN, VALID, USERS, PRODUCTS)}
    sums[VALID] = "0" * 64
    _point_spec_at(monkeypatch, local_server(served), sums)
    with pytest.raises(DataError, match="checksum mismatch"):
        _registry.fetch("asos")
    left = sorted(p.name for p in (empty_data_home / "asos").iterdir())
    assert VALID not in left and not [n for n in left if n.endswith(".part")]
    sums[VALID] = hashlib.sha256((served / VALID).read_bytes()).hexdigest()
    _point_spec_at(monkeypatch, local_server(served), sums)
    data = read_asos(_registry.fetch("asos"))  # the retry fetches only what is missing
    assert len(data.users) == 400


@pytest.mark.real_data
def test_real_files_load_with_the_documented_sizes(real_data_home):
    if not (real_data_home / "asos" / TRAIN).exists():
        pytest.skip("real ASOS files not present")
    data = load_asos("real", data_home=real_data_home)
    assert (len(data.train), len(data.valid), len(data.users), len(data.products)) == (
        165_042, 35_567, 43_607, 29_696)
    assert data.train.user_id.iloc[0] == "PIXcm7Ru5KmntCy0yA1K" and data.train.product_id.iloc[0] == 10524048
    assert set(data.valid.user_id) <= set(data.train.user_id)


def test_user_ids_that_are_not_utf8_are_reported(asos_toy_folder, tmp_path):
    folder = _copy(asos_toy_folder, tmp_path / "bad")
    pq.write_table(pa.table({"dummyUserId": pa.array([b"\xff\xfe"], pa.binary()),
                             "productId": pa.array([1], pa.int32())}), folder / VALID)
    with pytest.raises(DataError, match=rf"{VALID}, column 'dummyUserId': user ids are not UTF-8"):
        read_asos(folder)
