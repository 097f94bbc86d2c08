"""Malformed UGallery files: every case is a one-line DataError naming the file, the record and the fix."""

from contextlib import nullcontext

import numpy as np
import pandas as pd
import pytest

from coursekit import DataError
from coursekit.datasets.ugallery import (CURATORNET_FILES, FILES, SAFE_EMBEDDINGS, TOY_LOOKS, make_toy_ugallery,
                                         read_ugallery)

from ._errors import assert_clean_error

TINY = dict(n_artworks=30, n_artists=5, n_styles=3, n_users=10, emb_dim=4, latent_dim=4)
INV, PUR, NPY = FILES["inventory"], FILES["purchases"], FILES["embeddings"]


def _lines(name, edit):
    """Edit the text lines of a csv: ``edit(lines) -> lines`` (line 0 is the header)."""
    def breaker(f):
        lines = (f / name).read_text().splitlines()
        (f / name).write_text("\n".join(edit(lines)) + "\n")
    return breaker


def _cell(name, row, col, value):
    """Set one cell (data row ``row``, 0-based; csv line ``row + 2``) and save like pandas does."""
    def breaker(f):
        df = pd.read_csv(f / name, dtype=str, keep_default_na=False)
        df.loc[row, col] = value
        df.to_csv(f / name, index=False)
    return breaker


def _frame(name, edit, **to_csv):
    def breaker(f):
        df = pd.read_csv(f / name, dtype=str, keep_default_na=False)
        edit(df).to_csv(f / name, index=False, **to_csv)
    return breaker


def _duplicate_artwork(f):
    df = pd.read_csv(f / INV, dtype=str, keep_default_na=False)
    df.loc[4, "artwork_id_hash"] = df.loc[1, "artwork_id_hash"]
    df.to_csv(f / INV, index=False)


def _npz(edit):
    """Rewrite the safe archive: ``edit(ids, vectors) -> dict of arrays``."""
    def breaker(f):
        with np.load(f / SAFE_EMBEDDINGS) as z:
            arrays = edit(z["ids"], z["vectors"].copy())
        np.savez(f / SAFE_EMBEDDINGS, **arrays)
    return breaker


def _nan_vector(ids, vectors):
    vectors[7, 2] = np.nan
    return {"ids": ids, "vectors": vectors}


def _duplicate_embedding(ids, vectors):
    ids = ids.copy()
    ids[9] = ids[3]
    return {"ids": ids, "vectors": vectors}


def _cut(name):
    def breaker(f):
        data = (f / name).read_bytes()
        (f / name).write_bytes(data[: len(data) // 2])
    return breaker


def _not_utf8(f):
    (f / PUR).write_bytes((f / PUR).read_bytes().replace(b"\n", b"\n\xff\xfe", 1))  # at the start of line 2


def _object_npy(edit=None, *, allow_pickle=True):
    """Only the release's object ``.npy`` is left (no safe archive), optionally edited; the breaker
    returns the keyword arguments of the load."""
    def breaker(f):
        (f / SAFE_EMBEDDINGS).unlink()
        if edit is not None:
            edit(f)
        return {"allow_pickle": allow_pickle}
    return breaker


def _flip(name):
    def breaker(f):
        data = bytearray((f / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (f / name).write_bytes(bytes(data))
    return breaker


def _rewrite_looks(edit):
    def breaker(f):
        with np.load(f / TOY_LOOKS) as z:
            arrays = edit({k: z[k] for k in z.files})
        np.savez(f / TOY_LOOKS, **arrays)
    return breaker


def _curatornet_names(drop=None):
    """Rename the files as the CuratorNet repository's download names them (and drop one)."""
    def breaker(f):
        for role, name in FILES.items():
            (f / name).rename(f / CURATORNET_FILES[role])
        (f / SAFE_EMBEDDINGS).rename(f / CURATORNET_FILES["embeddings"].replace(".npy", ".npz"))
        if drop:
            (f / CURATORNET_FILES[drop]).unlink()
    return breaker


def _ragged_vectors(f):
    arr = np.load(f / NPY, allow_pickle=True)
    arr[5, 1] = arr[5, 1][:-1]
    np.save(f / NPY, arr, allow_pickle=True)


# name -> (breaker, expected substring); a breaker may return keyword arguments for read_ugallery
# (the cases on the release's object .npy delete the safe .npz and opt in to pickle).
CASES = {
    "missing inventory": (lambda f: (f / INV).unlink(), f"{INV}: file not found"),
    "empty purchases (0 bytes)": (lambda f: (f / PUR).write_bytes(b""), f"{PUR}: file is empty"),
    "inventory header only": (_lines(INV, lambda ls: ls[:1]), f"{INV}: no data rows below the header"),
    "renamed column": (_frame(INV, lambda df: df.rename(columns={"artist_id_hash": "artist"})),
                       f"{INV}: missing column(s) ['artist_id_hash']"),
    "dropped column": (_frame(PUR, lambda df: df.drop(columns="purchase_timestamp")),
                       f"{PUR}: missing column(s) ['purchase_timestamp']"),
    "text timestamp": (_cell(INV, 2, "upload_timestamp", "yesterday"),
                       f"{INV}, line 4, column 'upload_timestamp': expected an integer timestamp, found 'yesterday'"),
    "empty artwork id": (_cell(INV, 1, "artwork_id_hash", np.nan),
                         f"{INV}, line 3, column 'artwork_id_hash': empty value"),
    "NaN user id": (_cell(PUR, 3, "user_id_hash", "NaN"),
                    f"{PUR}, line 5, column 'user_id_hash': missing value 'NaN'"),
    "id with a space": (_cell(INV, 5, "artist_id_hash", "van gogh"),
                        f"{INV}, line 7, column 'artist_id_hash': expected an id of letters, digits, '_' or '-'"),
    "duplicate artwork id": (_duplicate_artwork, f"{INV}, line 6: artwork "),
    "purchase of an unknown artwork": (_cell(PUR, 2, "purchased_artwork_ids_hash", "['ffff0000', 'a1']"),
                                       f"{PUR}, line 4, column 'purchased_artwork_ids_hash': artwork ffff0000 "
                                       f"is not in {INV}"),
    "unclosed list": (_cell(PUR, 1, "purchased_artwork_ids_hash", "[1, 2"),
                      f"{PUR}, line 3, column 'purchased_artwork_ids_hash': expected a list of ids like"),
    "code instead of a list": (_cell(PUR, 0, "purchased_artwork_ids_hash", "__import__('os').system('ls')"),
                               f"{PUR}, line 2, column 'purchased_artwork_ids_hash': expected a list of ids like"),
    "semicolon delimiter (inventory)": (_frame(INV, lambda df: df, sep=";"),
                                        f"{INV}, line 1: the columns are separated by ';'"),
    "semicolon delimiter (purchases)": (_frame(PUR, lambda df: df, sep=";"),
                                        f"{PUR}, line 1: the columns are separated by ';'"),
    "title line above the header": (_lines(INV, lambda ls: ["UGallery inventory (export)"] + ls),
                                    f"{INV}: the header is on line 2"),
    "row with an extra field": (_lines(INV, lambda ls: ls[:3] + [ls[3] + ",oops"] + ls[4:]),
                                f"{INV}, line 4: expected 3 fields, found 4"),
    "bytes that are not UTF-8": (_not_utf8, f"{PUR}, line 2: not UTF-8 text"),
    "object npy without the pickle opt-in": (_object_npy(allow_pickle=False),
                                             "need pickle to read, and reading pickle can run code hidden in the file "
                                             "Fix: pass allow_pickle=True"),
    "truncated npy": (_object_npy(_cut(NPY)), f"{NPY}: not a valid .npy file"),
    "ragged vectors in the npy": (_object_npy(_ragged_vectors), f"{NPY}, row 5: vector of length 3, expected 4"),
    "truncated npz": (_cut(SAFE_EMBEDDINGS), f"{SAFE_EMBEDDINGS}: not a valid embeddings archive"),
    "npz without vectors": (_npz(lambda ids, vectors: {"ids": ids}),
                            f"{SAFE_EMBEDDINGS}: missing array(s) ['vectors']"),
    "NaN in an embedding": (_npz(_nan_vector), f"{SAFE_EMBEDDINGS}, row 7: NaN or infinite values"),
    "duplicate embedding id": (_npz(_duplicate_embedding), f"{SAFE_EMBEDDINGS}, row 9: artwork "),
    # the toy side file (unit 2's rendered looks): damage is a DataError, never a numpy or zip error
    "toy looks cut short": (_cut(TOY_LOOKS), f"{TOY_LOOKS}: not a valid .npz archive: truncated or damaged"),
    "toy looks empty": (lambda f: (f / TOY_LOOKS).write_bytes(b"") and None, f"{TOY_LOOKS}: file is empty"),
    "toy looks flipped byte": (_flip(TOY_LOOKS), f"{TOY_LOOKS}: not a valid .npz archive: truncated or damaged"),
    "toy looks garbage": (lambda f: (f / TOY_LOOKS).write_bytes(np.random.default_rng(0).bytes(900)) and None,
                          f"{TOY_LOOKS}: not a .npz archive"),
    "toy looks without jitter": (_rewrite_looks(lambda z: {k: v for k, v in z.items() if k != "jitter"}),
                                 f"{TOY_LOOKS}: missing array(s) ['jitter']"),
    "toy looks of other artworks": (_rewrite_looks(lambda z: {**z, "ids": np.char.add(z["ids"].astype(str), "x")}),
                                    f"{TOY_LOOKS}: artwork "),
    "toy looks without the generator's tastes": (_rewrite_looks(lambda z: {k: v for k, v in z.items() if k != "taste"}),
                                                 f"{TOY_LOOKS}: missing array(s) ['taste']"),
    "toy tastes of other collectors": (_rewrite_looks(lambda z: {**z, "user_ids": np.char.add(z["user_ids"].astype(str),
                                                                                              "x")}),
                                       f"{TOY_LOOKS}: user "),
    # the CuratorNet download's names: a missing file names both
    "CuratorNet names, purchases missing": (_curatornet_names(drop="purchases"),
                                            f"{PUR}: file not found (nor purchases.csv, its name in the CuratorNet"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_ugallery_files(tmp_path, case):
    folder = tmp_path / "ugallery"
    make_toy_ugallery(folder, seed=1, **TINY)
    read_ugallery(folder)  # the valid files load
    breaker, expected = CASES[case]
    kwargs = breaker(folder) or {}
    warns = pytest.warns(UserWarning, match="pickle") if kwargs.get("allow_pickle") else nullcontext()
    with warns, pytest.raises(DataError) as err:
        read_ugallery(folder, **kwargs)
    assert_clean_error(err, expected, [folder / n for n in (*FILES.values(), SAFE_EMBEDDINGS, TOY_LOOKS)])


def test_curatornet_file_names_load_the_same_data(tmp_path):
    """The CuratorNet repository saves the files as inventory.csv, purchases.csv and
    resnet_embeddings.npy: the same data loads, and the object says which names it found."""
    folder = tmp_path / "ugallery"
    make_toy_ugallery(folder, seed=1, **TINY)
    seed_names = read_ugallery(folder)
    assert seed_names.layout.startswith("UGallery names: ugallery_inventory.csv")
    _curatornet_names()(folder)
    data = read_ugallery(folder)
    assert data.layout == "CuratorNet names: inventory.csv, purchases.csv, resnet_embeddings.npy"
    assert "CuratorNet names" in repr(data)
    assert np.array_equal(data.embeddings, seed_names.embeddings)
    assert np.array_equal(data.purchase_items, seed_names.purchase_items)
    # only the release's object .npy under its CuratorNet name: converted beside it, behind the opt-in
    (folder / "resnet_embeddings.npz").unlink()
    with pytest.raises(DataError, match="resnet_embeddings.npy: holds Python objects"):
        read_ugallery(folder)
    with pytest.warns(UserWarning, match="pickle"):
        assert np.array_equal(read_ugallery(folder, allow_pickle=True).embeddings, seed_names.embeddings)
    assert (folder / "resnet_embeddings.npz").exists() and not (folder / SAFE_EMBEDDINGS).exists()
    # one file under the other name: read, and said to be mixed
    (folder / "inventory.csv").rename(folder / FILES["inventory"])
    assert read_ugallery(folder).layout == ("mixed names: ugallery_inventory.csv, purchases.csv, "
                                            "resnet_embeddings.npy")

