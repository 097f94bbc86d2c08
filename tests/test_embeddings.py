"""coursekit.embeddings and `coursekit data embed`: CNN features from pixels, offline-safe.

Models are built with random weights (weights=None) at 32 px and shared per module: building a
Keras network and tracing its forward pass takes seconds. Nothing here touches the network
(tests/conftest.py blocks it); the ImageNet cache is pointed at a temporary KERAS_HOME.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from coursekit import DataError, cli
from coursekit import embeddings as E
from coursekit.images import render_artwork, save_png, style_look

SIZE = 32


def _picture(i: int, size: int = SIZE) -> np.ndarray:
    rng = np.random.default_rng(i)
    return render_artwork(style_look(i % 5, 5), rng.normal(size=4), size)


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory):
    """Nine PNGs named by artwork id; 1009 is a byte copy of 1001."""
    d = tmp_path_factory.mktemp("images")
    for i in range(8):
        save_png(_picture(i), d / f"{1000 + i}.png")
    shutil.copy(d / "1001.png", d / "1009.png")
    (d / "notes.txt").write_text("not an image suffix: ignored")
    return d


@pytest.fixture(scope="module")
def resnet():
    return E.ImageEmbedder("resnet50", weights=None, size=SIZE, batch_size=4, progress=False)


@pytest.fixture(scope="module")
def mobilenet():
    return E.ImageEmbedder("mobilenet_v3_small", weights=None, size=SIZE, progress=False)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


# ---------------------------------------------------------------- the embedder


def test_identical_images_get_identical_vectors(resnet, images_dir):
    paths = E.list_images(images_dir)
    assert [p.name for p in paths][-1] == "1009.png" and len(paths) == 9  # notes.txt is not an image
    x = resnet.embed(paths)
    assert x.shape == (9, 2048) and x.dtype == np.float32 and np.isfinite(x).all()
    assert np.array_equal(x[1], x[8])  # 1001 and its copy, in different batches of 4
    assert not np.allclose(x[0], x[1])
    assert np.array_equal(resnet.embed(paths[::-1])[::-1], x)  # order and batching change nothing
    assert resnet.images_per_s_ > 0


def test_paths_pil_images_and_arrays_agree(resnet, images_dir):
    paths = E.list_images(images_dir)[:4]
    x = resnet.embed(paths)
    pil = [Image.open(p) for p in paths]
    np.testing.assert_allclose(resnet.embed(pil), x, rtol=1e-5, atol=1e-5)
    arrays = np.stack([np.asarray(im.convert("RGB")) for im in pil])
    np.testing.assert_allclose(resnet.embed(arrays), x, rtol=1e-5, atol=1e-5)
    # grey (h, w) and RGBA arrays become RGB; a bigger picture is resized to the model's input
    grey = arrays[0].mean(axis=2).astype(np.uint8)
    rgba = np.concatenate([arrays[0], np.full((SIZE, SIZE, 1), 255, np.uint8)], axis=2)
    y = resnet.embed([grey, rgba, _picture(0, 96)])
    np.testing.assert_allclose(y[0], resnet.embed([np.repeat(grey[:, :, None], 3, 2)])[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y[1], x[0], rtol=1e-5, atol=1e-5)
    assert y.shape == (3, 2048) and np.isfinite(y).all()


def test_family_preprocessing_and_average_pooling(resnet, images_dir):
    import keras

    arrays = np.stack([_picture(i) for i in range(3)]).astype(np.float32)
    # what the embedder computes: ResNet50's caffe preprocessing, then the pooled last block
    expected = resnet.model_(keras.applications.resnet50.preprocess_input(arrays.copy())).numpy()
    np.testing.assert_allclose(resnet.embed(arrays), expected, rtol=1e-4, atol=1e-4)
    raw = resnet.model_(arrays).numpy()  # without the preprocessing the features differ
    assert not np.allclose(raw, expected, rtol=1e-2, atol=1e-2)


def test_random_weights_are_seeded(mobilenet):
    arrays = np.stack([_picture(i) for i in range(3)])
    x = mobilenet.embed(arrays)
    assert x.shape == (3, 576) and mobilenet.dim == 576 and np.isfinite(x).all()
    same = E.ImageEmbedder("MobileNetV3Small", weights="none", size=SIZE, seed=0, progress=False)
    assert np.array_equal(same.embed(arrays), x)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(same.model_.weights, mobilenet.model_.weights))


def test_saved_weights_round_trip(mobilenet, tmp_path):
    arrays = np.stack([_picture(i) for i in range(3)])
    path = mobilenet.save_weights(tmp_path / "w" / "mnv3.weights.h5")
    assert path.is_file() and not list(path.parent.glob("*.part*"))
    back = E.ImageEmbedder("mobilenet_v3_small", weights=path, size=SIZE, seed=7, progress=False)
    # seed 7 would give other random weights: every one of them came from the file
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(back.model_.weights, mobilenet.model_.weights))
    assert np.array_equal(back.embed(arrays), mobilenet.embed(arrays))
    assert str(path) in back.weights_source
    with pytest.raises(DataError, match="cannot load these weights into ResNet50"):
        E.ImageEmbedder("resnet50", weights=path, size=SIZE, progress=False)
    with pytest.raises(DataError, match="weights file not found"):
        E.ImageEmbedder("resnet50", weights=tmp_path / "missing.weights.h5", progress=False)
    with pytest.raises(ValueError, match=".weights.h5"):
        mobilenet.save_weights(tmp_path / "w.h5")


def test_vgg19_fc2_gives_the_course_4096_features():
    emb = E.ImageEmbedder("vgg19", weights=None, layer="fc2", batch_size=2, progress=False)
    x = emb.embed([_picture(0), _picture(1, 64)])
    assert emb.size == 224 and x.shape == (2, 4096) and x.dtype == np.float32 and np.isfinite(x).all()
    with pytest.raises(ValueError, match="224"):
        E.ImageEmbedder("vgg19", weights=None, layer="fc2", size=64)
    with pytest.raises(ValueError, match="only for vgg19"):
        E.ImageEmbedder("resnet50", weights=None, layer="fc2")
    with pytest.raises(ValueError, match="unknown model"):
        E.ImageEmbedder("alexnet", weights=None)


def test_unreadable_files_are_listed_together(resnet, images_dir, tmp_path):
    bad1 = tmp_path / "broken.png"
    bad1.write_bytes(b"not a picture")
    bad2 = tmp_path / "truncated.png"
    bad2.write_bytes((images_dir / "1000.png").read_bytes()[:60])
    paths = [images_dir / "1000.png", bad1, images_dir / "1002.png", bad2]
    found = E.unreadable_images(paths)
    assert [p for p, _ in found] == [str(bad1), str(bad2)]
    assert all(why for _, why in found)
    with pytest.raises(DataError, match=r"2 unreadable image\(s\): broken.png .*truncated.png"):
        resnet.embed(paths)


def test_formats_tensorflow_cannot_decode_go_through_pil(resnet, images_dir, tmp_path):
    tif = tmp_path / "1000.tif"
    Image.open(images_dir / "1000.png").save(tif)
    assert E.unreadable_images([tif]) == []
    np.testing.assert_allclose(resnet.embed([tif]), resnet.embed([images_dir / "1000.png"]), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- ImageNet weights offline


def test_offline_without_cached_weights_names_file_folder_and_fix(keras_home):
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        E.ImageEmbedder("resnet50", weights="imagenet", progress=False)
    assert time.perf_counter() - start < 10  # no long wait for a network that is not there
    msg = str(err.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg
    assert str(keras_home / "models") in msg and "copy" in msg and "weights=None" in msg
    # VGG19's fc2 needs the file with the classifier
    with pytest.raises(DataError, match=r"vgg19_weights_tf_dim_ordering_tf_kernels\.h5"):
        E.imagenet_weights("vgg19", include_top=True)


def test_damaged_cached_weights_are_not_loaded(keras_home):
    target = keras_home / "models" / E.MODELS["mobilenet_v3_small"].notop[0]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half a download")
    with pytest.raises(DataError, match="damaged"):
        E.imagenet_weights("mobilenet_v3_small")


def test_cached_weights_are_found_and_checked(keras_home, mobilenet, monkeypatch):
    # stand-in for a cached ImageNet file: saved weights registered under their own MD5
    fname = "cached_mnv3.weights.h5"
    path = mobilenet.save_weights(keras_home / "models" / fname)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    fam = dataclasses.replace(E.MODELS["mobilenet_v3_small"], notop=(fname, md5))
    monkeypatch.setitem(E.MODELS, "mobilenet_v3_small", fam)
    assert E.imagenet_weights("mobilenet_v3_small") == path
    assert E.imagenet_weights("mobilenet_v3_small", cache_dir=keras_home) == path
    path.write_bytes(path.read_bytes()[:-10])  # the same file, cut short
    with pytest.raises(DataError, match="damaged"):
        E.imagenet_weights("mobilenet_v3_small")


def test_weights_download_into_the_cache_from_a_local_server(keras_home, mobilenet, tmp_path, monkeypatch):
    from ._http import Server

    body = mobilenet.save_weights(tmp_path / "served.weights.h5").read_bytes()
    fname = "served_mnv3.weights.h5"
    with Server({f"/w/{fname}": body, f"/bad/{fname}": body}, {f"/bad/{fname}": "corrupt"}) as srv:
        fam = E.MODELS["mobilenet_v3_small"]
        md5 = hashlib.md5(body).hexdigest()
        monkeypatch.setitem(E.MODELS, "mobilenet_v3_small",
                            dataclasses.replace(fam, base_url=f"{srv.url}/bad/", notop=(fname, md5)))
        with pytest.raises(DataError, match="download of the ImageNet weights of mobilenet_v3_small failed"):
            E.imagenet_weights("mobilenet_v3_small")
        models = keras_home / "models"
        assert not list(models.iterdir())  # the corrupted download was not kept
        monkeypatch.setitem(E.MODELS, "mobilenet_v3_small",
                            dataclasses.replace(fam, base_url=f"{srv.url}/w/", notop=(fname, md5)))
        path = E.imagenet_weights("mobilenet_v3_small")
        assert path == models / fname and path.read_bytes() == body
        assert [p.name for p in models.iterdir()] == [fname]
        E.imagenet_weights("mobilenet_v3_small")  # now from the cache
        assert srv.hits[f"/w/{fname}"] == 1


# ---------------------------------------------------------------- the CLI


def _embed(*args) -> int:
    return cli.main(["data", "embed", *map(str, args), "--no-progress"])


def test_cli_writes_unit1_assets_that_read_art_loads(images_dir, tmp_path, capsys):
    from coursekit.datasets.art import FILES, read_art

    out = tmp_path / "assets"
    assert _embed(images_dir, "--out", out, "--model", "resnet50", "vgg19", "--vgg-layer", "avg",
                  "--weights", "none", "--size", SIZE) == 0
    stdout = capsys.readouterr().out
    assert "integer file names" in stdout and "past_transactions.json" in stdout
    x = np.load(out / FILES["resnet"])
    assert x.shape == (9, 2048) and x.dtype == np.float32 and np.isfinite(x).all()
    assert np.load(out / FILES["vgg"]).shape == (9, 512)
    ids = json.loads((out / FILES["ids"]).read_text())
    assert ids == [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1009]
    assert np.array_equal(x[1], x[8])  # 1001 and its byte copy 1009
    urls = json.loads((out / FILES["urls"]).read_text())
    assert set(urls) == {str(i) for i in ids}
    assert all((images_dir / f"{i}.png").samefile(urls[str(i)]["medium"]) for i in ids)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    # unit 1 reads the folder once transactions are added
    (out / FILES["past"]).write_text(json.dumps({"u1": [1000, 1003]}))
    (out / FILES["truth"]).write_text(json.dumps({"u1": [1009]}))
    data = read_art(out)
    assert data.resnet.shape == (9, 2048) and data.ids.tolist() == ids


def test_cli_refuses_or_skips_unreadable_images(images_dir, tmp_path, capsys):
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("b_cat.png", "a_dog.png", "c_sun.png"):
        shutil.copy(images_dir / "1002.png", src / name)
    (src / "b_cat.png").write_bytes(b"oops")
    out = tmp_path / "out"
    args = ["--out", out, "--model", "mobilenet_v3_small", "--weights", "none", "--size", SIZE]
    assert _embed(src, *args) == 2
    err = capsys.readouterr().err
    assert "1 unreadable image(s): b_cat.png" in err and "--skip-bad" in err
    assert not out.exists() or not list(out.iterdir())  # refused: nothing written
    assert _embed(src, *args, "--skip-bad") == 0
    captured = capsys.readouterr()
    assert "skipped 1 unreadable image(s): b_cat.png" in captured.out
    # names are not integers: ids number every image file in name order (a_dog 0, b_cat 1, c_sun 2)
    assert json.loads((out / "index2artworkId.json").read_text()) == [0, 2]
    x = np.load(out / "mobilenet_v3_small_feature_matrix.npy")
    assert x.shape == (2, 576) and np.array_equal(x[0], x[1])  # a_dog and c_sun are the same picture


def test_cli_offline_imagenet_writes_nothing(images_dir, tmp_path, keras_home, capsys):
    out = tmp_path / "out"
    assert _embed(images_dir, "--out", out, "--model", "resnet50") == 2
    err = capsys.readouterr().err
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in err and str(keras_home / "models") in err
    assert not out.exists()


def test_cli_rejects_bad_options(images_dir, tmp_path, capsys):
    assert _embed(images_dir, "--out", tmp_path / "o", "--model", "alexnet", "--weights", "none") == 2
    assert "choose from resnet50" in capsys.readouterr().err
    assert _embed(tmp_path / "nowhere", "--out", tmp_path / "o", "--weights", "none") == 2
    assert "not a folder of images" in capsys.readouterr().err
    assert _embed(images_dir, "--weights", "none") == 2  # no --out


def test_ids_rule_and_import_is_light(tmp_path):
    files = [tmp_path / n for n in ("10.png", "9.png", "010.jpg")]
    assert E._ids_for(files)[2] != "integer file names"  # 10 and 010 collide: numbering instead
    ordered, ids, rule = E._ids_for(files[:2])
    assert ids == [9, 10] and [p.name for p in ordered] == ["9.png", "10.png"] and rule == "integer file names"
    code = "import sys, coursekit.embeddings; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
