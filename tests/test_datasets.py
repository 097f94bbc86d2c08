"""Data home, registry, downloads (against a local server), toy generation, the art loader."""

import hashlib
import json
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest

from coursekit import DataError
from coursekit import datasets as ds
from coursekit.datasets import _registry
from coursekit.datasets._registry import DatasetSpec, RemoteFile

from ._http import Server


def folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_data_home_order(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "env"))
    assert ds.get_data_home() == tmp_path / "env"
    assert ds.get_data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("COURSEKIT_DATA")
    assert ds.get_data_home().name == "coursekit"


def test_read_only_home_sends_toy_data_to_user_cache(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    monkeypatch.setenv("COURSEKIT_DATA", str(ro))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        import os

        if os.access(ro, os.W_OK):  # running as root: permissions do not bind
            pytest.skip("root ignores folder permissions")
        assert ds.get_toy_home() == tmp_path / "cache" / "coursekit" / "toy"
    finally:
        ro.chmod(0o755)


def test_toy_art_same_seed_same_bytes(tmp_path):
    a = ds.toy_path("art", seed=3, data_home=tmp_path / "a", n_artworks=120, n_users=10)
    b = ds.toy_path("art", seed=3, data_home=tmp_path / "b", n_artworks=120, n_users=10)
    c = ds.toy_path("art", seed=4, data_home=tmp_path / "c", n_artworks=120, n_users=10)
    assert folder_digest(a) == folder_digest(b)
    assert folder_digest(a) != folder_digest(c)
    assert not list((tmp_path / "a" / "toy").glob(".*"))  # no temporary folder left behind


def test_load_art_toy_round_trip(data_home):
    data = ds.load_art("toy", seed=0)
    assert data.resnet.shape == (1500, 2048) and data.vgg.shape == (1500, 4096)
    assert data.resnet.dtype == np.float32 and (data.resnet >= 0).all()
    assert len(data.users) == 100
    for u in data.users:  # held-out items are never in the profile
        assert not set(data.past[u].tolist()) & set(data.truth[u].tolist())
    rows = data.index_of(data.past["0"])
    assert np.array_equal(data.ids[rows], data.past["0"])
    src = data.image_source(data.ids[0])
    assert (data.folder / src).exists()
    # users buy in their style: purchases share styles far more often than chance
    same = np.mean([len(set(data.styles[data.index_of(data.past[u])])) <= 3 for u in data.users])
    assert same > 0.8


def _write_art(folder: Path, *, n=6, truth=None):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "resnet50_feature_matrix.npy", np.ones((n, 4), np.float32))
    np.save(folder / "vgg19_feature_matrix.npy", np.ones((n, 8), np.float32))
    (folder / "index2artworkId.json").write_text(json.dumps(list(range(100, 100 + n))))
    (folder / "artworkImageUrlsCache.json").write_text(json.dumps({"100": {"medium": "http://x/1.jpg"}}))
    (folder / "past_transactions.json").write_text(json.dumps({"0": [100, 101]}))
    (folder / "ground_truth.json").write_text(json.dumps(truth or {"0": [102]}))


def test_real_art_reader_and_errors(tmp_path):
    _write_art(tmp_path / "art")
    data = ds.read_art(tmp_path / "art")
    assert data.ids.tolist() == list(range(100, 106)) and data.truth["0"].tolist() == [102]
    _write_art(tmp_path / "bad", truth={"0": [999]})
    with pytest.raises(DataError, match="999 is not in the id list"):
        ds.read_art(tmp_path / "bad")
    (tmp_path / "bad" / "ground_truth.json").write_text("{not json")
    with pytest.raises(DataError, match=r"ground_truth.json: not valid JSON \(line 1"):
        ds.read_art(tmp_path / "bad")


def test_real_art_pickles_need_opt_in(tmp_path):
    folder = tmp_path / "art"
    _write_art(folder)
    for name in ("past_transactions", "ground_truth"):
        (folder / f"{name}.json").unlink()
    with open(folder / "past_transactions.pickle", "wb") as fh:
        pickle.dump([[100, 101]], fh)
    with open(folder / "ground_truth.pickle", "wb") as fh:
        pickle.dump([[103]], fh)
    with pytest.raises(DataError, match="pickle"):
        ds.read_art(folder)
    with pytest.warns(UserWarning, match="pickle"):
        ds.convert_art_pickles(folder, allow_pickle=True)
    data = ds.read_art(folder)  # now from the safe JSON files, no opt-in needed
    assert data.past["0"].tolist() == [100, 101] and data.truth["0"].tolist() == [103]


def test_missing_real_data_says_what_to_do(empty_data_home):
    with pytest.raises(DataError) as err:
        ds.load_art("real")
    msg = str(err.value)
    assert "missing" in msg and "art" in msg and "Fix:" in msg and "\n" not in msg


def test_unknown_dataset_and_source():
    with pytest.raises(DataError, match="unknown data set 'nope'.*coursekit data list"):
        ds.get_spec("nope")
    with pytest.raises(DataError, match="unknown data source"):
        ds.dataset_path("art", "imaginary")


# --------------------------------------------------------------------------- downloads

@pytest.fixture
def fake_spec(monkeypatch):
    payload = b"user,item\n" + b"a,1\n" * 5000

    def make(url_base, sha=None):
        spec = DatasetSpec(
            name="fakeset", title="fake", unit="00",
            files=(RemoteFile("f.csv", f"{url_base}/f.csv", sha or hashlib.sha256(payload).hexdigest()),),
        )
        monkeypatch.setitem(_registry._REGISTRY, "fakeset", spec)
        return spec

    return payload, make


def test_download_verifies_and_renames(tmp_path, fake_spec):
    payload, make = fake_spec
    with Server({"/f.csv": payload}) as srv:
        make(srv.url)
        folder = ds.fetch("fakeset", data_home=tmp_path)
    assert (folder / "f.csv").read_bytes() == payload
    assert [p.name for p in folder.iterdir()] == ["f.csv"]
    assert ds.verify("fakeset", data_home=tmp_path) == {"f.csv": True}


def test_download_checksum_mismatch_leaves_nothing(tmp_path, fake_spec):
    payload, make = fake_spec
    with Server({"/f.csv": payload}) as srv:
        make(srv.url, sha="0" * 64)
        with pytest.raises(DataError, match="checksum mismatch.*removed"):
            ds.fetch("fakeset", data_home=tmp_path)
    assert not any((tmp_path / "fakeset").iterdir())


def test_download_truncated_and_http_error(tmp_path, fake_spec):
    payload, make = fake_spec
    with Server({"/f.csv": payload}, {"/f.csv": "truncate"}) as srv:
        make(srv.url)
        with pytest.raises(DataError, match="stopped after|checksum|cannot download"):
            ds.fetch("fakeset", data_home=tmp_path)
    assert not any((tmp_path / "fakeset").iterdir())
    with Server({}, {}) as srv:
        make(srv.url)
        with pytest.raises(DataError, match="HTTP 404"):
            ds.fetch("fakeset", data_home=tmp_path)


def test_download_offline_gives_manual_steps(tmp_path, fake_spec):
    _, make = fake_spec
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection refused, like being offline
    make(f"http://127.0.0.1:{port}")
    with pytest.raises(DataError, match="are you offline.*Fix: download .* by hand"):
        ds.fetch("fakeset", data_home=tmp_path)


def test_network_guard_blocks_real_hosts():
    with pytest.raises(Exception, match="must not touch the network"):
        socket.create_connection(("93.184.216.34", 80), timeout=1)


def test_asos_spec_matches_shared_checksums():
    spec = ds.get_spec("asos")
    sums = Path(__file__).resolve().parents[2] / "shared" / "data" / "asos" / "SHA256SUMS"
    if not sums.exists():
        pytest.skip("../shared/data/asos/SHA256SUMS not present")
    expected = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    assert {f.name: f.sha256 for f in spec.files} == expected
    assert all(f.url.startswith("https://raw.githubusercontent.com/ASOS/dsf2020/") for f in spec.files)


# --------------------------------------------------------------------------- layouts and the toy manifest

def test_ugallery_curatornet_names_count_as_present(tmp_path, monkeypatch, capsys):
    """The CuratorNet repository's download names the UGallery files inventory.csv, purchases.csv and
    resnet_embeddings.npy: the registry finds them, and `coursekit data list` says which names it found."""
    from coursekit import cli
    from coursekit.datasets.ugallery import CURATORNET_FILES, FILES, make_toy_ugallery

    folder = tmp_path / "ugallery"
    make_toy_ugallery(folder, seed=1, n_artworks=30, n_artists=5, n_styles=3, n_users=10, emb_dim=4, latent_dim=4)
    for role, name in FILES.items():
        (folder / name).rename(folder / CURATORNET_FILES[role])
    (folder / "ugallery_resnet50_embeddings.npz").rename(folder / "resnet_embeddings.npz")  # as if converted
    assert ds.real_path("ugallery", tmp_path) == folder
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    assert cli.main(["data", "list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("ugallery"))
    assert "present (CuratorNet names: inventory.csv, purchases.csv, resnet_embeddings.npy)" in line
    data = ds.load_ugallery("real", data_home=tmp_path)
    assert data.layout.startswith("CuratorNet names") and data.n_items == 30
    (folder / "purchases.csv").unlink()
    assert ds.get_spec("ugallery").status(folder) == "missing"
    with pytest.raises(DataError, match="missing ugallery_purchases.csv or purchases.csv"):
        ds.real_path("ugallery", tmp_path)


def test_toy_manifest_lists_every_file(tmp_path):
    folder = ds.toy_path("art", seed=3, data_home=tmp_path, n_artworks=40, n_users=5)
    manifest = json.loads((folder / _registry.MANIFEST).read_text())
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and p.name != _registry.MANIFEST)
    assert sorted(manifest["files"]) == files and sum(f.startswith("images/") for f in files) == 40
    for rel in files:
        entry = manifest["files"][rel]
        assert entry == {"size": (folder / rel).stat().st_size,
                         "sha256": hashlib.sha256((folder / rel).read_bytes()).hexdigest()}
    assert manifest["dataset"] == "art" and manifest["seed"] == 3
    assert ds.check_manifest(folder) is None


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    import os
    import stat

    from coursekit.datasets._io import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]  # no temporary file left


def test_toy_lastfm_is_the_release_format_with_the_toy_listening(tmp_path):
    from coursekit.datasets.lastfm import FILES, TOP_ARTISTS, load_lastfm

    data = load_lastfm("toy", seed=4, data_home=tmp_path, n_users=150, n_artists=300)
    again = ds.toy_path("lastfm2k", seed=4, data_home=tmp_path, n_users=150, n_artists=300)
    assert folder_digest(again) == folder_digest(ds.toy_path("lastfm2k", seed=4, data_home=tmp_path / "other",
                                                             n_users=150, n_artists=300))  # same seed, same bytes
    first = (again / FILES["user_artists"][0]).read_bytes().split(b"\r\n")[0]
    assert first == b"userID\tartistID\tweight"  # header first, tabs, CRLF
    assert (again / FILES["tags"][0]).read_bytes().count(b"\xe9") >= 1  # latin-1, as in the release
    per_user = data.plays.groupby("user_id").size()
    assert per_user.max() <= TOP_ARTISTS and data.plays["plays"].min() >= 1
    assert set(data.plays["artist_id"]) <= set(data.artists["artist_id"])
    pairs = set(zip(data.friends["user_id"], data.friends["friend_id"]))
    assert pairs and all((b, a) in pairs for a, b in pairs)  # each friendship both ways
