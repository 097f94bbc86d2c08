"""Malformed art-course assets: every case is a one-line DataError naming the file and the problem."""

import json

import numpy as np
import pytest

from coursekit import DataError
from coursekit.datasets import read_art
from coursekit.datasets.art import FILES, TOY_STYLES

from ._errors import assert_clean_error


def write_valid(folder, n=5):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "resnet50_feature_matrix.npy", np.ones((n, 4), np.float32))
    np.save(folder / "vgg19_feature_matrix.npy", np.ones((n, 6), np.float32))
    (folder / "index2artworkId.json").write_text(json.dumps(list(range(10, 10 + n))))
    (folder / "artworkImageUrlsCache.json").write_text(json.dumps({"10": {"medium": "a.png"}}))
    (folder / "past_transactions.json").write_text(json.dumps({"u": [10, 11]}))
    (folder / "ground_truth.json").write_text(json.dumps({"u": [12]}))


def _text(name, text):
    return lambda f: (f / name).write_text(text)


def _npy(name, arr):
    return lambda f: np.save(f / name, arr)


def _cut(name, keep=0.5):
    def breaker(f):
        data = (f / name).read_bytes()
        (f / name).write_bytes(data[: int(len(data) * keep)])
    return breaker


CASES = {
    "truncated matrix": (_cut("resnet50_feature_matrix.npy"), "resnet50_feature_matrix.npy: not a valid .npy file"),
    "empty matrix file": (_cut("vgg19_feature_matrix.npy", 0), "vgg19_feature_matrix.npy: file is empty"),
    "id list with text ids": (_text("index2artworkId.json", '["10", "11", "12", "13", "14"]'), "list of integer ids"),
    "missing matrix": (lambda f: (f / "vgg19_feature_matrix.npy").unlink(), "vgg19_feature_matrix.npy: file not found"),
    "empty id list file": (_text("index2artworkId.json", ""), "index2artworkId.json: file is empty"),
    "id list not json": (_text("index2artworkId.json", "[10, 11,"), "index2artworkId.json: not valid JSON"),
    "id list of strings": (_text("index2artworkId.json", '["a", "b", "c", "d", "e"]'), "list of integer ids"),
    "null id": (_text("index2artworkId.json", "[10, null, 12, 13, 14]"), "list of integer ids"),
    "duplicate ids": (_text("index2artworkId.json", "[10, 10, 12, 13, 14]"), "without duplicates"),
    "rows do not match ids": (_npy("resnet50_feature_matrix.npy", np.ones((4, 4), np.float32)), "4 rows but the id list has 5"),
    "matrix of strings": (_npy("resnet50_feature_matrix.npy", np.array([["a"] * 4] * 5)), "numeric array"),
    "matrix is 1-d": (_npy("vgg19_feature_matrix.npy", np.ones(5)), "2-d numeric array"),
    "NaN feature": (_npy("vgg19_feature_matrix.npy", np.array([[1.0] * 6] * 4 + [[np.nan] * 6])), "row 4 holds NaN"),
    "object matrix needs pickle": (_npy("resnet50_feature_matrix.npy", np.array([[object()] * 4] * 5, dtype=object)), "pickle"),
    "not a npy file": (_text("resnet50_feature_matrix.npy", "hello, spreadsheet"), "not a .npy file"),
    "urls not an object": (_text("artworkImageUrlsCache.json", "[1, 2]"), "artworkImageUrlsCache.json: expected an object"),
    "transactions not an object": (_text("past_transactions.json", '"u"'), "past_transactions.json: expected an object"),
    "transaction ids not ints": (_text("ground_truth.json", '{"u": ["x"]}'), "ground_truth.json, user 'u': artwork ids must be integers"),
    "transaction id unknown": (_text("ground_truth.json", '{"u": [99]}'), "ground_truth.json, user 'u': artwork id 99 is not in the id list"),
    "transactions missing": (lambda f: (f / "past_transactions.json").unlink(), "past_transactions.json: file not found"),
    # the toy side file (toy folders only)
    "toy styles of another length": (_text(TOY_STYLES, "[1, 2]"), "toy_styles.json: expected 5 integer styles"),
    "toy styles not a list": (_text(TOY_STYLES, '{"a": 1}'), "toy_styles.json: expected 5 integer styles"),
    "toy styles cut short": (_text(TOY_STYLES, "[1, 2, 3"), "toy_styles.json: not valid JSON"),
    "toy styles garbage": (lambda f: (f / TOY_STYLES).write_bytes(np.random.default_rng(0).bytes(64)),
                           "toy_styles.json: not "),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_art_assets(tmp_path, case):
    folder = tmp_path / "art"
    write_valid(folder)
    read_art(folder)  # the valid files load
    breaker, expected = CASES[case]
    breaker(folder)
    with pytest.raises(DataError) as err:
        read_art(folder)
    assert_clean_error(err, expected, [folder / name for name in (*FILES.values(), TOY_STYLES)])
