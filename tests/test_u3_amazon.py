"""Unit 3 data: the binary feature reader, the metadata reader and the toy generator."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from coursekit import DataError
from coursekit.datasets.amazon import (
    FILES, TOY_JSON_META, iter_metadata, load_amazon, make_toy_amazon, read_amazon,
    read_image_features, read_metadata, write_image_features,
)

DIM = 8


def _blob(asins, x):
    # the format written independently of the kit: ASCII ASIN, then little-endian float32
    return b"".join(a.encode("ascii") + struct.pack(f"<{x.shape[1]}f", *row) for a, row in zip(asins, x))


@pytest.fixture(scope="module")
def small_toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    make_toy_amazon(folder, seed=3, n_items=240, dim=DIM * 4, image_size=8)
    return folder


def test_reader_matches_independent_bytes(tmp_path):
    rng = np.random.default_rng(0)
    asins = [f"B{i:09d}" for i in range(7)]
    x = rng.normal(size=(7, DIM)).astype(np.float32)
    (tmp_path / "f.b").write_bytes(_blob(asins, x))
    got, got_asins = read_image_features(tmp_path / "f.b", dim=DIM, chunk_records=3)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got, x)
    assert got_asins.tolist() == asins
    sub, sub_asins = read_image_features(tmp_path / "f.b", dim=DIM, keep=[asins[5], asins[1], "nothere00"])
    assert sub_asins.tolist() == [asins[1], asins[5]]  # file order
    assert np.array_equal(sub, x[[1, 5]])


def test_toy_file_round_trips_exactly(small_toy, tmp_path):
    src = small_toy / FILES["features"]
    x, asins = read_image_features(src, dim=DIM * 4)
    write_image_features(tmp_path / "copy.b", asins, x)
    assert (tmp_path / "copy.b").read_bytes() == src.read_bytes()
    x2, asins2 = read_image_features(tmp_path / "copy.b", dim=DIM * 4)
    assert np.array_equal(x, x2) and np.array_equal(asins, asins2)
    assert not list(tmp_path.glob("*.part"))


def test_truncated_file_names_file_and_record(tmp_path):
    x = np.ones((5, DIM), np.float32)
    blob = _blob([f"B{i:09d}" for i in range(5)], x)
    path = tmp_path / "cut.b"
    path.write_bytes(blob[: 3 * (10 + 4 * DIM) + 11])
    with pytest.raises(DataError) as err:
        read_image_features(path, dim=DIM)
    msg = str(err.value)
    assert "cut.b" in msg and "record 3" in msg and "truncated" in msg


def test_nan_and_duplicate_records_are_named(tmp_path):
    x = np.ones((4, DIM), np.float32)
    x[2, 1] = np.nan
    (tmp_path / "nan.b").write_bytes(_blob([f"B{i:09d}" for i in range(4)], x))
    with pytest.raises(DataError, match="record 2"):
        read_image_features(tmp_path / "nan.b", dim=DIM)
    (tmp_path / "dup.b").write_bytes(_blob(["B000000001", "B000000002", "B000000001"], np.ones((3, DIM), np.float32)))
    with pytest.raises(DataError, match="B000000001"):
        read_image_features(tmp_path / "dup.b", dim=DIM)


def _gz(path, lines):
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_metadata_python_literal_and_json_agree(small_toy):
    py_items, py_links = read_metadata(small_toy / FILES["meta"], fmt="python")
    js_items, js_links = read_metadata(small_toy / TOY_JSON_META, fmt="json")
    assert py_items.equals(js_items) and py_links.equals(js_links)
    assert len(py_items) == 240 and py_items["sub_category"].nunique() == 5
    # a strict JSON reader must reject the Python-literal file
    with pytest.raises(DataError, match="line 1"):
        next(iter_metadata(small_toy / FILES["meta"], fmt="json"))


def test_metadata_both_schemas(tmp_path):
    path = _gz(tmp_path / "m.json.gz", [
        "{'asin': 'A1', 'related': {'also_bought': ['A2', 'A3']}, 'categories': [['Musical Instruments', 'Guitars']], 'imUrl': 'u1'}",
        "",
        '{"asin": "A2", "also_buy": ["A1"], "category": ["Musical Instruments", "Keyboards"], "price": null}',
        "{'asin': 'A3'}",
    ])
    items, links = read_metadata(path)
    assert items["asin"].tolist() == ["A1", "A2", "A3"]
    assert items["sub_category"].tolist() == ["Guitars", "Keyboards", ""]
    assert items["image"].tolist() == ["u1", "", ""]
    assert list(zip(links["asin"], links["other"])) == [("A1", "A2"), ("A1", "A3"), ("A2", "A1")]


def test_top_level_only_categories_fall_back_then_drop_with_one_warning(tmp_path):
    path = _gz(tmp_path / FILES["meta"], [
        "{'asin': 'A1', 'categories': [['Musical Instruments', 'Guitars']]}",
        "{'asin': 'A2', 'categories': [['Toys & Games']]}",  # only the top level: no sub-category
        # the first path is top level only: the deepest other path gives the sub-category
        "{'asin': 'A3', 'categories': [['Toys & Games'], ['Musical Instruments', 'Keyboards', 'Synths'], "
        "['Musical Instruments', 'Drums']]}",
        "{'asin': 'A4', 'title': 'no categories'}",
        "{'asin': 'A5', 'categories': [['Musical Instruments'], ['Toys & Games']]}",
    ])
    items, _ = read_metadata(path)
    assert items["sub_category"].tolist() == ["Guitars", "", "Keyboards", "", ""]
    assert items["category_depth"].tolist() == [2, 1, 3, 0, 1]
    write_image_features(tmp_path / FILES["features"], [f"A{i}" for i in range(1, 6)], np.ones((5, DIM), np.float32))
    with pytest.warns(UserWarning) as record:
        data = read_amazon(tmp_path, dim=DIM)
    assert len(record) == 1 and (
        "3 of 5 products are dropped because they have no sub-category (2 have only top-level category paths such "
        "as [['Toys & Games']], 1 no category at all)") in str(record[0].message)
    assert data.asins.tolist() == ["A1", "A3"] and data.sub_category.tolist() == ["Guitars", "Keyboards"]
    assert data.dropped == {"no sub-category: only top-level category paths": 2,
                            "no sub-category: no category at all": 1, "feature records not used": 3}
    assert data.summary()["dropped: no sub-category: only top-level category paths"] == 2
    assert "3 products or records dropped" not in repr(data) and "6 products or records dropped" in repr(data)
    kept = read_amazon(tmp_path, dim=DIM, require_category=False)  # no warning: nothing dropped for it
    assert kept.asins.tolist() == ["A1", "A2", "A3", "A4", "A5"] and kept.dropped == {}


def test_bad_metadata_line_names_file_and_line(tmp_path):
    path = _gz(tmp_path / "bad.json.gz", ["{'asin': 'A1'}", "{'asin': 'A2', 'related': {'also_bought': [}"])
    with pytest.raises(DataError) as err:
        read_metadata(path)
    assert "bad.json.gz" in str(err.value) and "line 2" in str(err.value)
    path = _gz(tmp_path / "noasin.json.gz", ["{'asin': 'A1'}", "['A2']"])
    with pytest.raises(DataError, match="line 2"):
        read_metadata(path)


def test_metadata_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    path = _gz(tmp_path / "evil.json.gz", [f"__import__('pathlib').Path({str(marker)!r}).touch()"])
    with pytest.raises(DataError, match="line 1"):
        read_metadata(path)
    assert not marker.exists()


def test_broken_gzip_is_a_data_error(tmp_path):
    good = gzip.compress(b"{'asin': 'A1'}\n" * 2000)
    (tmp_path / "cut.json.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="cut.json.gz.*gzip"):
        read_metadata(tmp_path / "cut.json.gz")
    (tmp_path / "plain.json.gz").write_text("{'asin': 'A1'}\n")
    with pytest.raises(DataError, match="line 1"):
        read_metadata(tmp_path / "plain.json.gz")


def test_toy_is_deterministic_and_has_signal(small_toy, tmp_path):
    make_toy_amazon(tmp_path, seed=3, n_items=240, dim=DIM * 4, image_size=8)
    for name in (FILES["features"], FILES["meta"], TOY_JSON_META):
        assert (tmp_path / name).read_bytes() == (small_toy / name).read_bytes()
    data = read_amazon(small_toy, dim=DIM * 4)
    assert 0 < len(data) < 240  # some products have metadata but no features
    assert len(data.styles) == len(data) and (data.styles >= 0).all()
    src, dst = data.link_rows()
    both = (src >= 0) & (dst >= 0)
    assert (~both).any()  # links to products without features exist
    same_style = (data.styles[src[both]] == data.styles[dst[both]]).mean()
    assert same_style > 0.5  # chance is 1/15: links follow style compatibility
    assert (data.images != "").all() and (small_toy / data.image_source(0)).exists()


def test_load_amazon_toy_default_size(data_home):
    data = load_amazon("toy", seed=0)
    assert data.features.shape[1] == 4096 and 2800 <= len(data) <= 3000
    assert data.features.dtype == np.float32
    assert len(data.categories) == 5
    assert (data.category_codes() >= 0).all()


def test_real_source_missing_gives_manual_steps(empty_data_home):
    with pytest.raises(DataError, match="request form"):
        load_amazon("real")
