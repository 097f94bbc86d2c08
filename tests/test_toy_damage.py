"""Damaged files, one at a time, in every toy data set.

Two guarantees are checked for each file (the real-layout files and the toy side files) and each
kind of damage (cut in half, emptied, deleted, replaced by random bytes, one byte flipped):

- the loaders (``load_*("toy")``) see the damage through the folder's manifest and generate the
  folder again, giving back exactly the original bytes and data;
- the readers (``read_*(folder)``, which also read real data) either still load or raise a one-line
  DataError; never a numpy, zip, pickle or parser exception.

The data sets are tiny (their generators take sizes), so the whole file runs in seconds.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from coursekit import DataError
from coursekit import datasets as ds
from coursekit.datasets import amazon, art, asos, music30, ugallery
from coursekit.datasets._registry import MANIFEST, check_manifest

SIZES = {
    "art": dict(n_artworks=24, n_users=4, n_styles=3, image_size=8),
    "ugallery": dict(n_artworks=30, n_artists=5, n_styles=3, n_users=10, emb_dim=4, latent_dim=4),
    "amazon": dict(n_items=30, dim=16, links_per_item=3, image_size=8),
    "music30": dict(n_users=12, n_artists=15, n_communities=3, mean_sessions=3, mean_session_len=4),
    "asos": dict(n_users=40, n_products=30),
}
LOADERS = {"art": ds.load_art, "ugallery": ds.load_ugallery, "amazon": ds.load_amazon,
           "music30": ds.load_music30, "asos": ds.load_asos}
GENERATORS = {"art": art.make_toy_art, "ugallery": ugallery.make_toy_ugallery, "amazon": amazon.make_toy_amazon,
              "music30": music30.make_toy_music30, "asos": asos.make_toy_asos}


def _read_amazon(folder):
    data = amazon.read_amazon(folder, dim=SIZES["amazon"]["dim"])
    amazon.read_metadata(folder / amazon.TOY_JSON_META, fmt="json")  # the strict-JSON copy: toy only
    return data


READERS = {"art": art.read_art, "ugallery": ugallery.read_ugallery, "amazon": _read_amazon,
           "music30": music30.read_music30, "asos": asos.read_asos}


def _flip(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


DAMAGE = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "deleted": None,
    "garbage": lambda data: np.random.default_rng(len(data)).bytes(max(len(data), 64)),
    "flipped byte": _flip,
}


def _damage(path: Path, kind: str) -> None:
    if DAMAGE[kind] is None:
        path.unlink()
    else:
        path.write_bytes(DAMAGE[kind](path.read_bytes()))


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _files(folder: Path) -> list[str]:
    """Every file of a toy folder but only the first of its images (they are all alike)."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    images = [f for f in files if f.startswith("images/")]
    return [f for f in files if not f.startswith("images/")] + images[:1]


def _fingerprint(data) -> str:
    """What a loaded data set holds, as text, to compare a healed load with the original."""
    arrays = [v for v in vars(data).values() if isinstance(v, np.ndarray)]
    frames = [v for v in vars(data).values() if hasattr(v, "to_csv")]
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes() if a.dtype != object else repr(a.tolist()).encode())
    for f in frames:
        h.update(f.to_csv(index=False).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- loaders heal the cache

@pytest.mark.parametrize("name", sorted(SIZES))
def test_loaders_regenerate_a_damaged_toy_cache(name, tmp_path):
    load = LOADERS[name]
    home = tmp_path / "home"
    data = load("toy", seed=1, data_home=home, **SIZES[name])
    folder = data.folder
    assert check_manifest(folder) is None
    original, expected = _digest(folder), _fingerprint(data)
    files = _files(folder)
    assert MANIFEST in files and len(files) >= 5
    for rel in files:
        for kind in DAMAGE:
            _damage(folder / rel, kind)
            assert check_manifest(folder) is not None, (rel, kind)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                again = load("toy", seed=1, data_home=home, **SIZES[name])  # no exception at all
            if not (rel == MANIFEST and kind == "deleted"):  # a folder without manifest: an older kit's
                assert any("is damaged" in str(w.message) for w in caught), (rel, kind)
            assert again.folder == folder and _digest(folder) == original, (rel, kind)
            assert _fingerprint(again) == expected, (rel, kind)
    assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_cache_written_before_manifests_is_regenerated_silently(tmp_path):
    folder = ds.toy_path("music30", seed=2, data_home=tmp_path, **SIZES["music30"])
    original = _digest(folder)
    (folder / MANIFEST).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds.toy_path("music30", seed=2, data_home=tmp_path, **SIZES["music30"]) == folder
    assert _digest(folder) == original and check_manifest(folder) is None


def test_manifest_names_what_is_wrong(tmp_path):
    folder = ds.toy_path("asos", seed=0, data_home=tmp_path, **SIZES["asos"])
    users = asos.FILES["users"][0]
    path = folder / users
    data = path.read_bytes()
    path.write_bytes(_flip(data))
    assert check_manifest(folder) == f"{users} changed since it was generated (sha256 differs)"
    path.write_bytes(data + b"x")
    assert check_manifest(folder) == f"{users} has {len(data) + 1} bytes, {len(data)} when generated"
    path.unlink()
    assert check_manifest(folder) == f"{users} is missing"
    (folder / MANIFEST).write_text("{")
    assert check_manifest(folder) == f"{MANIFEST} is damaged"


def test_processes_loading_one_damaged_cache_at_once_all_succeed(tmp_path):
    """Three processes find the same damaged cache together: each regenerates or reuses a complete
    folder (swapped in with renames), all read the same plays, and nothing is left behind."""
    home = tmp_path / "home"
    data = ds.load_music30("toy", data_home=home, **SIZES["music30"])
    original = _digest(data.folder)
    _damage(data.folder / music30.FILES["sessions"], "truncated")
    code = ("import sys, warnings; warnings.simplefilter('ignore'); "
            "from coursekit.datasets import load_music30; "
            f"print(len(load_music30('toy', data_home=sys.argv[1], **{SIZES['music30']!r}).plays))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    assert {out.strip() for out, _ in results} == {str(len(data.plays))}
    assert _digest(data.folder) == original
    assert not [p.name for p in data.folder.parent.iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- readers: DataError only

def _reader_problems(folder: Path, read, files, **kwargs) -> list[str]:
    problems = []
    for rel in files:
        intact = (folder / rel).read_bytes()
        for kind in DAMAGE:
            _damage(folder / rel, kind)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    read(folder, **kwargs)
            except DataError as err:
                msg = str(err)
                if "\n" in msg or "Fix:" not in msg or str(folder) not in msg:
                    problems.append(f"{rel} {kind}: badly formed DataError {msg!r}")
            except Exception as exc:  # noqa: BLE001 - the point of the test
                problems.append(f"{rel} {kind}: {type(exc).__name__}: {exc}")
            (folder / rel).write_bytes(intact)
    return problems


@pytest.mark.parametrize("name", sorted(SIZES))
def test_readers_raise_only_data_errors_on_damaged_files(name, tmp_path):
    folder = tmp_path / name
    GENERATORS[name](folder, seed=3, **SIZES[name])
    read = READERS[name]
    read(folder)  # the intact folder loads
    files = [f for f in _files(folder) if not f.startswith("images/")]
    assert _reader_problems(folder, read, files) == []


def test_ugallery_object_npy_damage_is_a_data_error(tmp_path):
    """The release's object .npy is read (behind the pickle opt-in) only when its safe .npz is absent."""
    folder = tmp_path / "ugallery"
    ugallery.make_toy_ugallery(folder, seed=3, **SIZES["ugallery"])
    (folder / ugallery.SAFE_EMBEDDINGS).unlink()

    def read(f, **kwargs):
        try:
            return ugallery.read_ugallery(f, **kwargs)
        finally:
            (f / ugallery.SAFE_EMBEDDINGS).unlink(missing_ok=True)  # read the .npy again next time

    problems = _reader_problems(folder, read, [ugallery.FILES["embeddings"]], allow_pickle=True)
    assert problems == []
