"""Malformed Amazon (unit 3) files: every case is a one-line DataError naming the file, the record
or line, what was expected and the fix. Each case starts from a valid toy folder in the real formats
(the binary image features and the gzipped Python-literal metadata), breaks one thing and reads it
back with ``read_amazon``."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

from coursekit import DataError
from coursekit.datasets.amazon import FILES, load_amazon, make_toy_amazon, read_amazon

from ._errors import assert_clean_error

DIM = 16
REC = 10 + 4 * DIM  # bytes per binary record: 10-byte ASIN, then DIM float32
F, M = FILES["features"], FILES["meta"]


@pytest.fixture(scope="module")
def valid_toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("amazon_valid")
    make_toy_amazon(folder, seed=1, n_items=40, dim=DIM, links_per_item=3, image_size=8)
    return folder


def _copy(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        if p.is_file():  # the readers need no images
            shutil.copy2(p, dst / p.name)
    return dst


# --------------------------------------------------------------------------- breakers

def _features(edit):
    """Edit the feature file's raw bytes, as a writable (n, REC) uint8 array."""
    def breaker(folder):
        raw = np.frombuffer((folder / F).read_bytes(), np.uint8).reshape(-1, REC).copy()
        edit(raw)
        (folder / F).write_bytes(raw.tobytes())
    return breaker


def _set_asin(record, value: bytes):
    def edit(raw):
        raw[record, :10] = np.frombuffer(value.ljust(10, b"\0"), np.uint8)
    return _features(edit)


def _copy_asin(src, dst):
    def edit(raw):
        raw[dst, :10] = raw[src, :10]
    return _features(edit)


def _set_value(record, value):
    def edit(raw):
        raw[record, 10 + 4 * 5: 10 + 4 * 6] = np.frombuffer(np.float32(value).tobytes(), np.uint8)
    return _features(edit)


def _rename_all(raw):
    raw[:, :10] = np.frombuffer(b"".join(b"X%09d" % i for i in range(len(raw))), np.uint8).reshape(-1, 10)


def _write(name, data: bytes):
    return lambda folder: (folder / name).write_bytes(data)


def _cut(name, keep_bytes):
    def breaker(folder):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: keep_bytes(len(data))])
    return breaker


def _meta_lines(edit):
    """Edit the metadata's lines (bytes, without newline) and gzip them again."""
    def breaker(folder):
        lines = gzip.decompress((folder / M).read_bytes()).split(b"\n")
        (folder / M).write_bytes(gzip.compress(b"\n".join(edit(lines))))
    return breaker


def _meta_line(index, text):
    def edit(lines):
        lines[index] = text if isinstance(text, bytes) else text.encode()
        return lines
    return _meta_lines(edit)


def _meta_field(index, key, value):
    """Line ``index`` keeps its asin but ``key`` gets ``value`` (a Python literal line)."""
    def edit(lines):
        import ast
        item = ast.literal_eval(lines[index].decode())
        item[key] = value
        lines[index] = repr(item).encode()
        return lines
    return _meta_lines(edit)


def _no_sub_category(lines):
    return [ln.replace(b", 'Guitars']", b"]").replace(b", 'Keyboards']", b"]")
            .replace(b", 'Instrument Accessories']", b"]").replace(b", 'Amplifiers & Effects']", b"]")
            .replace(b", 'Drums & Percussion']", b"]") for ln in lines]


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

CASES = {
    # ---- image_features_Musical_Instruments.b
    "features missing": (lambda f: (f / F).unlink(), f"{F}: file not found"),
    "features empty": (_write(F, b""), f"{F}: file is empty"),
    "features cut mid-record": (_cut(F, lambda n: 3 * REC + 21), f"{F}, record 3 at byte {3 * REC}: truncated"),
    "features ASIN not ASCII": (_set_asin(2, "B\u00e9t\u00e9".encode()), f"{F}, record 2 at byte {2 * REC}: the ASIN is not"),
    "features ASIN empty": (_set_asin(4, b""), f"{F}, record 4 at byte {4 * REC}: the ASIN is empty"),
    "features duplicate ASIN": (_copy_asin(1, 6), f"{F}, record 6 at byte {6 * REC}: the ASIN of record 1"),
    "features NaN value": (_set_value(3, np.nan), f"{F}, record 3 at byte {3 * REC}: holds NaN or infinite"),
    "features infinite value": (_set_value(5, -np.inf), f"{F}, record 5 at byte {5 * REC}: holds NaN or infinite"),
    "features of other products": (_features(_rename_all), f"{F}: no record matches a product of {M}"),
    # ---- meta_Musical_Instruments.json.gz
    "meta missing": (lambda f: (f / M).unlink(), f"{M}: file not found"),
    "meta empty": (_write(M, b""), f"{M}: file is empty"),
    "meta gzip of nothing": (_write(M, gzip.compress(b"\n\n")), f"{M}: holds no product"),
    "meta random bytes after gzip header": (
        _write(M, GZIP_HEADER + np.random.default_rng(0).bytes(300)), f"{M}, line 1: broken gzip stream"),
    "meta gzip cut short": (_cut(M, lambda n: n // 2), "broken gzip stream (EOFError"),
    "meta not UTF-8": (_meta_line(2, b"{'asin': 'B\xe9\xff'}"), f"{M}, line 3: not UTF-8 text"),
    "meta unclosed dict": (_meta_line(1, "{'asin': 'X'"), f"{M}, line 2: neither JSON nor a Python literal"),
    "meta code instead of a literal": (
        _meta_line(0, "__import__('os').getpid()"), f"{M}, line 1: neither JSON nor a Python literal (ValueError: code, not a literal: Call)"),
    "meta literal not a dict": (_meta_line(3, "['B000000001']"), f"{M}, line 4: expected a dict with a string 'asin', found a list"),
    "meta dict without asin": (_meta_line(0, "{'title': 'Guitar'}"), f"{M}, line 1: expected a dict with a string 'asin', found keys"),
    "meta asin empty": (_meta_line(5, "{'asin': ''}"), f"{M}, line 6: 'asin' must be a non-empty ASCII string, found ''"),
    "meta categories not a list": (
        _meta_field(0, "categories", "Guitars"), "field 'categories' must be a list of category paths"),
    "meta also_bought not a list": (
        _meta_field(1, "related", {"also_bought": "B000000001"}), "field 'related.also_bought' must be a list of ASIN strings"),
    "meta without sub-categories": (_meta_lines(_no_sub_category), f"{M}: none of the 40 products has a sub-category"),
    # ---- toy side files (toy folders only)
    "toy side file damaged": (_write("toy_asins.json", b"["), "toy_asins.json: not valid JSON"),
    "toy styles cut short": (_cut("toy_styles.npy", lambda n: n - 3), "toy_styles.npy: not a valid .npy file"),
    "toy styles of another length": (lambda f: np.save(f / "toy_styles.npy", np.zeros(3, np.int64)),
                                     "toy_styles.npy: does not match the toy data (3 styles for 40 ASINs)"),
    "toy partner garbage": (_write("toy_partner.npy", b"\x93NUMPY" + bytes(range(200))),
                            "toy_partner.npy: not a valid .npy file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_amazon_files(valid_toy, tmp_path, case):
    folder = _copy(valid_toy, tmp_path / "amazon")
    assert len(read_amazon(folder, dim=DIM)) > 30  # the valid files load
    breaker, expected = CASES[case]
    breaker(folder)
    with pytest.raises(DataError) as err:
        read_amazon(folder, dim=DIM)
    assert_clean_error(err, expected, [folder / F, folder / M, folder / "toy_asins.json", folder / "toy_styles.npy",
                                       folder / "toy_partner.npy"])


def test_documented_drops_and_tolerated_fields(valid_toy, tmp_path):
    """Not errors, by design: products without features, links to unknown ASINs, features without
    metadata, a repeated metadata line (the first wins) and fields the loader does not use."""
    folder = _copy(valid_toy, tmp_path / "amazon")
    base = read_amazon(folder, dim=DIM)
    lines = gzip.decompress((folder / M).read_bytes()).split(b"\n")
    first = lines[0]
    lines[0] = first[:-1] + b", 'price': '$12.99', 'salesRank': {'Musical Instruments': 3}}"
    lines.append(b"{'asin': 'B000000000', 'categories': [['Musical Instruments', 'Guitars']], "
                 b"'related': {'also_bought': ['NOWHERE001']}}")  # no features: dropped
    lines.append(first.replace(b"Musical Instruments'", b"Musical Instruments', 'Other'"))  # repeat
    (folder / M).write_bytes(gzip.compress(b"\n".join(lines)))
    data = read_amazon(folder, dim=DIM)
    assert data.asins.tolist() == base.asins.tolist() and "B000000000" not in data.asins
    assert np.array_equal(data.sub_category, base.sub_category)  # the first of a repeated asin wins
    src, dst = data.link_rows()
    ghost = (data.links["asin"] == "B000000000").to_numpy()
    assert ghost.sum() == 1 and src[ghost][0] == -1 and dst[ghost][0] == -1  # kept, marked -1


def test_load_amazon_toy_sizes_and_damaged_cache(empty_data_home):
    data = load_amazon("toy", seed=2, n_items=30, dim=DIM, image_size=8)  # dim reaches the reader
    assert data.features.shape[1] == DIM and len(data) > 20
    folder = data.folder
    intact = (folder / F).read_bytes()
    (folder / F).write_bytes(intact[:-5])  # a cut-off toy file is seen by the manifest and generated again
    with pytest.warns(UserWarning, match=f"{F} has {len(intact) - 5} bytes, {len(intact)} when generated"):
        again = load_amazon("toy", seed=2, n_items=30, dim=DIM, image_size=8)
    assert (folder / F).read_bytes() == intact and np.array_equal(again.features, data.features)
