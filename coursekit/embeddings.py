"""Image embeddings from ``keras.applications`` CNNs: pixels in, one float32 vector per image out.

    from coursekit.embeddings import ImageEmbedder
    emb = ImageEmbedder("resnet50", weights="imagenet", size=224)   # or weights=None (random, seeded)
    X = emb.embed(paths_or_pil_images_or_arrays)                     # (n, 2048) float32

Models (``MODELS``): ``resnet50`` (2048-d), ``vgg19`` (512-d after global average pooling, or
4096-d from the fc2 layer with ``layer="fc2"``: the features the art course shipped),
``mobilenet_v3_small`` (576-d) and ``efficientnet_b0`` (1280-d). Each uses its own family's
preprocessing (``keras.applications.<family>.preprocess_input``: ResNet50 and VGG19 flip RGB to BGR
and subtract the ImageNet channel means; MobileNetV3 and EfficientNet rescale inside the model, so
they take raw 0-255 pixels). ``layer="avg"`` is ``include_top=False, pooling="avg"``: the last
convolutional block averaged over the spatial positions, so any ``size`` >= 32 works.

Input: file paths, PIL images or arrays (a list of (h, w[, c]) arrays or one (n, h, w, c) array,
pixel values 0-255). Files are read, decoded (JPEG, PNG, GIF, BMP, WebP; other formats through
PIL) and resized to ``size`` x ``size`` (bilinear with antialiasing; the aspect ratio is not kept,
as with Keras' ``load_img(target_size=...)``) in a ``tf.data`` pipeline that works on several
images in parallel and batches them; each batch goes through one compiled forward pass.

Weights: ``"imagenet"`` takes the file from the Keras cache (``$KERAS_HOME/models``, by default
``~/.keras/models``) and downloads it there when it is missing and the machine is online; offline
it raises a :class:`~coursekit.DataError` that names the file, the folder and how to copy it there.
``None`` gives random weights from ``seed`` (reproducible); a path loads a weights file (for
example one written by :meth:`ImageEmbedder.save_weights`).

TensorFlow is imported only when an embedder is built, so ``import coursekit.embeddings`` is light.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import DataError

__all__ = [
    "MODELS", "ImageEmbedder", "embed_images", "feature_file", "imagenet_weights", "keras_cache_dir",
    "list_images", "unreadable_images", "write_image_assets", "IMAGE_SUFFIXES",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Family:
    """One ``keras.applications`` network: constructor, preprocessing module, weight files."""

    name: str
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications.<module>.preprocess_input
    dim: int  # output size with pooling="avg"
    base_url: str
    notop: tuple[str, str]  # (file name, md5) of the weights without the classifier
    top: tuple[str, str] | None = None  # (file name, md5) with the classifier (fc2 needs it)
    fc2_dim: int | None = None


_KA = "https://storage.googleapis.com/tensorflow/keras-applications/"
MODELS: dict[str, Family] = {
    "resnet50": Family(
        "resnet50", "ResNet50", "resnet50", 2048, _KA + "resnet/",
        ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "4d473c1dd8becc155b73f8504c6f6626"),
        ("resnet50_weights_tf_dim_ordering_tf_kernels.h5", "2cb95161c43110f7111970584f804107")),
    "vgg19": Family(
        "vgg19", "VGG19", "vgg19", 512, _KA + "vgg19/",
        ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "253f8cb515780f3b799900260a226db6"),
        ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "cbe5617147190e668d6c5d5026f83318"), fc2_dim=4096),
    "mobilenet_v3_small": Family(
        "mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", 576, _KA + "mobilenet_v3/",
        ("weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5", "d3e8ec802a04aa4fc771ee12a9a9b836"),
        ("weights_mobilenet_v3_small_224_1.0_float.h5", "8768d4c2e7dee89b9d02b2d03d65d862")),
    "efficientnet_b0": Family(
        "efficientnet_b0", "EfficientNetB0", "efficientnet", 1280, "https://storage.googleapis.com/keras-applications/",
        ("efficientnetb0_notop.h5", "50bc09e76180e00e4465e1a485ddc09d"),
        ("efficientnetb0.h5", "902e53a9f72be733fc0bcb005b3ebbac")),
}
_ALIASES = {"mobilenetv3small": "mobilenet_v3_small", "mobilenet": "mobilenet_v3_small",
            "efficientnetb0": "efficientnet_b0", "efficientnet": "efficientnet_b0"}


def model_name(name: str) -> str:
    """The canonical name of a model ("ResNet50" -> "resnet50", "MobileNetV3Small" -> ...)."""
    key = str(name).lower().replace("-", "_")
    key = _ALIASES.get(key.replace("_", ""), key)
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return key


def feature_file(model: str) -> str:
    """File name of a model's feature matrix in the unit-1 layout (``resnet50_feature_matrix.npy``)."""
    return f"{model_name(model)}_feature_matrix.npy"


# --------------------------------------------------------------------------- weights

def keras_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The Keras cache folder: ``cache_dir``, else ``$KERAS_HOME``, else ``~/.keras`` (read at call
    time). Weight files live in its ``models`` subfolder."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _md5(path: Path) -> str:
    h = hashlib.md5()  # noqa: S324 - the checksum Keras publishes for these files
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url``'s server answers within ``timeout`` seconds (any HTTP status counts).

    Runs in a daemon thread so that a hanging name lookup cannot hold the caller longer.
    """
    import urllib.error
    import urllib.request

    answer: list[bool] = []

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            answer.append(True)
        except urllib.error.HTTPError:
            answer.append(True)  # the server answered
        except Exception:  # noqa: BLE001 - no route, no DNS, refused, blocked: all mean offline
            answer.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    return bool(answer and answer[0])


def imagenet_weights(model: str, *, include_top: bool = False, cache_dir=None, download: bool = True) -> Path:
    """Path of a model's ImageNet weights in the Keras cache, downloaded there if missing.

    A cached file is checked against Keras' published MD5. Offline (the server does not answer
    within a few seconds) with no usable cached file, raises a DataError naming the file, the
    cache folder and how to copy the file there.
    """
    fam = MODELS[model_name(model)]
    fname, md5 = fam.top if include_top else fam.notop
    url = fam.base_url + fname
    home = keras_cache_dir(cache_dir)
    target = home / "models" / fname
    candidates = [target]
    if cache_dir is None and not os.access(home if home.exists() else home.parent, os.W_OK):
        candidates.append(Path("/tmp/.keras/models") / fname)  # where Keras falls back to
    fix = (f"on a machine with internet, download {url} (or let Keras fetch it: "
           f"keras.applications.{fam.constructor}(weights='imagenet', include_top={include_top})) and copy "
           f"{fname} into {target.parent} (the Keras cache; set KERAS_HOME to use another folder); "
           "or use random weights: weights=None (`--weights none`)")
    damaged = None
    for path in candidates:
        if path.is_file():
            if _md5(path) == md5:
                return path
            damaged = path
    if not download or not _reachable(url):
        if damaged is not None:
            raise DataError(f"the cached ImageNet weights of {fam.name} are damaged (MD5 differs from "
                            f"{md5}) and the download server cannot be reached", path=damaged, fix=fix)
        raise DataError(f"ImageNet weights of {fam.name} are not in the Keras cache and cannot be downloaded "
                        f"(no answer from {url.split('/')[2]})", path=target, fix=fix)
    import shutil
    import tempfile

    import keras

    target.parent.mkdir(parents=True, exist_ok=True)
    # Keras downloads (with its progress bar) and checks the MD5 in a private folder beside the
    # cache; only a verified file is renamed into place, so a failed download leaves nothing behind
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        got = keras.utils.get_file(fname, url, cache_subdir="tmp", file_hash=md5, cache_dir=str(staging))
        os.replace(got, target)
    except Exception as exc:  # noqa: BLE001 - any failed download is a data problem for the user
        raise DataError(f"download of the ImageNet weights of {fam.name} failed ({type(exc).__name__}: {exc})",
                        path=target, fix=fix) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- images

def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix, case-insensitive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder of images", path=folder, fix="pass the folder that holds the image files")
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: p.name)


def _rgb_array(item) -> np.ndarray:
    """One image (path, PIL image or array) as an (h, w, 3) array of 0-255 values."""
    if isinstance(item, (str, os.PathLike)):
        from PIL import Image

        with Image.open(item) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    if hasattr(item, "convert") and hasattr(item, "size"):  # a PIL image
        return np.asarray(item.convert("RGB"))
    a = np.asarray(item)
    if a.dtype.kind == "f" and a.size and a.max() <= 1.0:
        warnings.warn("an image array has values in [0, 1]; the models expect pixel values 0-255 "
                      "(multiply by 255)", stacklevel=2)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"an image array must be (h, w), (h, w, 1), (h, w, 3) or (h, w, 4), got {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return a[:, :, :3]


def _why_unreadable(path) -> str:
    try:
        _rgb_array(path)
    except Exception as exc:  # noqa: BLE001 - the reason shown to the user
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:120]
    return ""


def _is_paths(images) -> bool:
    return isinstance(images, (list, tuple)) and len(images) > 0 and all(
        isinstance(p, (str, os.PathLike)) for p in images)


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def _path_dataset(paths: Sequence, size: int | None):
    """tf.data of (index, image float32) decoded (and resized) in parallel; undecodable files are
    dropped, so the indices that come out say which ones worked."""
    tf = _tf()
    idx = np.arange(len(paths))
    names = [os.fspath(p) for p in paths]

    def load(i, path):
        img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        img = tf.cast(img, tf.float32) if size is None else tf.image.resize(img, (size, size), antialias=True)
        return i, img

    ds = tf.data.Dataset.from_tensor_slices((idx.astype(np.int64), names))
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).ignore_errors()


def _item_dataset(items: Sequence, size: int, idx: np.ndarray, failures: dict):
    """tf.data of (index, image) from arrays, PIL images or paths (read with PIL), resized in parallel."""
    tf = _tf()

    def gen():
        for i in idx:
            try:
                a = _rgb_array(items[i])
            except Exception as exc:  # noqa: BLE001 - collected and reported together
                failures[int(i)] = " ".join(f"{type(exc).__name__}: {exc}".split())[:120]
                continue
            yield np.int64(i), a.astype(np.float32, copy=False)

    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec((), tf.int64), tf.TensorSpec((None, None, 3), tf.float32)))
    return ds.map(lambda i, img: (i, tf.image.resize(img, (size, size), antialias=True)),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def unreadable_images(paths: Sequence[str | os.PathLike]) -> list[tuple[str, str]]:
    """``[(path, reason), ...]`` for the files that cannot be decoded as images.

    Decodes every file in a parallel tf.data pass (no resizing, no model); files TensorFlow cannot
    decode get a second chance through PIL (e.g. TIFF).
    """
    if not paths:
        return []
    tf = _tf()
    seen = np.zeros(len(paths), bool)
    for i, _ in _path_dataset(paths, None).map(lambda i, img: (i, tf.shape(img))).batch(256):
        seen[i.numpy()] = True
    bad = []
    for i in np.flatnonzero(~seen):  # the few failures only
        why = _why_unreadable(paths[i])
        if why:
            bad.append((os.fspath(paths[i]), why))
    return bad


def _bad_message(bad: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{Path(p).name} ({why})" for p, why in bad[:20])
    more = f"; and {len(bad) - 20} more" if len(bad) > 20 else ""
    return f"{len(bad)} unreadable image(s): {shown}{more}"


# --------------------------------------------------------------------------- the embedder

class ImageEmbedder:
    """A ``keras.applications`` CNN that turns images into float32 feature vectors.

    Parameters
    ----------
    model : "resnet50", "vgg19", "mobilenet_v3_small" or "efficientnet_b0" (see ``MODELS``).
    weights : "imagenet" (Keras cache; see :func:`imagenet_weights`), None / "none" (random,
        from ``seed``) or a path to a weights file of the same architecture.
    size : side of the square the images are resized to (>= 32). ``layer="fc2"`` needs 224.
    layer : "avg" (global average pooling of the last convolutional block) or "fc2" (VGG19's
        second fully connected layer, 4096-d, as in the art course's files).
    batch_size : images per forward pass.
    seed : seeds the random weights (``keras.utils.set_random_seed``, which also seeds Python's,
        NumPy's legacy and TensorFlow's global generators).
    progress : show a tqdm progress bar while embedding.
    cache_dir : Keras cache folder (default ``$KERAS_HOME`` or ``~/.keras``).

    Attributes: ``name``, ``dim``, ``weights_source`` (a sentence saying where the weights came
    from), ``model_`` (the Keras model), and after :meth:`embed` ``seconds_`` and
    ``images_per_s_`` of the last call (including the first call's graph tracing).
    """

    def __init__(self, model: str = "resnet50", *, weights="imagenet", size: int = 224, layer: str = "avg",
                 batch_size: int = 32, seed: int = 0, progress: bool = True, cache_dir=None):
        self.name = model_name(model)
        fam = MODELS[self.name]
        if layer not in ("avg", "fc2"):
            raise ValueError(f"layer must be 'avg' or 'fc2', got {layer!r}")
        if layer == "fc2" and fam.fc2_dim is None:
            raise ValueError(f"layer='fc2' exists only for vgg19, not {self.name}")
        size = int(size)
        if layer == "fc2" and size != 224:
            raise ValueError("layer='fc2' needs 224 x 224 inputs (the classifier's fixed input); pass size=224")
        if size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {size}")
        self.layer, self.size, self.batch_size, self.seed = layer, size, int(batch_size), int(seed)
        self.progress = progress
        if isinstance(weights, str) and weights.lower() == "none":
            weights = None
        include_top = layer == "fc2"
        if weights is None:
            source, self.weights_source = None, f"random (seed {self.seed})"
        elif weights == "imagenet":
            path = imagenet_weights(self.name, include_top=include_top, cache_dir=cache_dir)
            source, self.weights_source = str(path), f"ImageNet ({path})"
        else:
            path = Path(weights)
            if not path.is_file():
                raise DataError("weights file not found", path=path,
                                fix="pass weights='imagenet', weights=None or the path of a saved weights file")
            source, self.weights_source = str(path), f"file {path}"
        self._build(fam, source, include_top)

    def _build(self, fam: Family, source: str | None, include_top: bool) -> None:
        tf = _tf()
        import keras

        app = getattr(keras.applications, fam.constructor)
        preprocess = getattr(keras.applications, fam.module).preprocess_input
        if source is None:
            keras.utils.set_random_seed(self.seed)
        kwargs = {"weights": None}
        if include_top:
            kwargs.update(include_top=True)
        else:
            kwargs.update(include_top=False, pooling="avg", input_shape=(self.size, self.size, 3))
        base = app(**kwargs)
        if source is not None:
            try:
                with warnings.catch_warnings():
                    # Keras 3 notes the weightless containers of a functional graph (Add, Multiply, ...)
                    warnings.filterwarnings("ignore", message="Skipping nested container")
                    warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
                    base.load_weights(source)
            except Exception as exc:  # noqa: BLE001 - wrong architecture, damaged file, ...
                raise DataError(f"cannot load these weights into {fam.constructor} "
                                f"({'with' if include_top else 'without'} its classifier): "
                                f"{type(exc).__name__}: {exc}", path=source,
                                fix="use a weights file saved from the same model and layer "
                                    "(ImageEmbedder.save_weights)") from None
        self.base_ = base
        self.model_ = keras.Model(base.input, base.get_layer("fc2").output) if include_top else base
        self.dim = int(self.model_.output_shape[-1])
        model = self.model_

        @tf.function(input_signature=[tf.TensorSpec([None, self.size, self.size, 3], tf.float32)])
        def forward(x):
            return model(preprocess(x), training=False)

        self._forward = forward

    def save_weights(self, path: str | os.PathLike) -> Path:
        """Write the network's weights (Keras ``.weights.h5`` format) to ``path``; pass the path
        as ``weights=`` to get the same embedder back."""
        path = Path(path)
        if not path.name.endswith(".weights.h5"):
            raise ValueError(f"Keras weights files end with '.weights.h5', got {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name[:-len('.weights.h5')]}.part.weights.h5")
        try:
            with warnings.catch_warnings():  # Keras 3.15 converts each variable through a NumPy path
                warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
                self.base_.save_weights(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def _run(self, ds, n: int, out: np.ndarray, seen: np.ndarray, bar) -> None:
        tf = _tf()
        # every batch of a call has the same shape, min(batch_size, n): a short last batch is padded,
        # because oneDNN picks its kernels by shape and the same image must give the same vector
        # whatever batch it lands in (calls of n >= batch_size images all agree exactly)
        width = min(self.batch_size, n)
        for i, x in ds.batch(self.batch_size).prefetch(tf.data.AUTOTUNE):
            i = i.numpy()
            if len(i) < width:
                x = tf.pad(x, [[0, width - len(i)], [0, 0], [0, 0], [0, 0]])
            out[i] = self._forward(x).numpy()[: len(i)]
            seen[i] = True
            bar.update(len(i))

    def embed(self, images) -> np.ndarray:
        """Feature vectors of ``images``: float32 (n, dim), row ``i`` for image ``i``.

        ``images``: a list of file paths, of PIL images or of arrays (h, w[, c]) with values 0-255,
        or one array (n, h, w, c). Unreadable files raise one DataError that lists them all (use
        :func:`unreadable_images` first to skip them).
        """
        from tqdm.auto import tqdm

        if isinstance(images, np.ndarray) and images.ndim == 4:
            items: Sequence = images
        else:
            items = list(images)
        n = len(items)
        out = np.zeros((n, self.dim), np.float32)
        seen = np.zeros(n, bool)
        start = time.perf_counter()
        failures: dict[int, str] = {}
        with tqdm(total=n, unit="img", desc=f"{self.name} {self.size}px", disable=not self.progress,
                  leave=False) as bar:
            if _is_paths(items):
                self._run(_path_dataset(items, self.size), n, out, seen, bar)
            rest = np.flatnonzero(~seen)  # everything for PIL images and arrays; failed decodes for paths
            if len(rest):
                self._run(_item_dataset(items, self.size, rest, failures), n, out, seen, bar)
        self.seconds_ = time.perf_counter() - start
        self.images_per_s_ = n / self.seconds_ if self.seconds_ > 0 else float("nan")
        if not seen.all():
            bad = [(os.fspath(items[i]) if isinstance(items[i], (str, os.PathLike)) else f"image {i}",
                    failures.get(int(i), "cannot be decoded")) for i in np.flatnonzero(~seen)]
            raise DataError(_bad_message(bad), fix="fix or remove these files, or skip them "
                                                   "(unreadable_images(), `coursekit data embed --skip-bad`)")
        return out

    def __repr__(self) -> str:
        return (f"ImageEmbedder({self.name!r}, layer={self.layer!r}, size={self.size}, dim={self.dim}, "
                f"weights={self.weights_source})")


def embed_images(images, model: str = "resnet50", **kwargs) -> np.ndarray:
    """One-call :meth:`ImageEmbedder.embed`: ``embed_images(paths, "resnet50", weights=None, size=64)``."""
    return ImageEmbedder(model, **kwargs).embed(images)


# --------------------------------------------------------------------------- unit-1 assets

_INT = re.compile(r"^[0-9]+$")


def _ids_for(files: list[Path]) -> tuple[list[Path], list[int], str]:
    """Files in row order, their artwork ids and the rule used (see :func:`write_image_assets`)."""
    stems = [f.stem for f in files]
    if all(_INT.match(s) for s in stems) and len({int(s) for s in stems}) == len(stems):
        order = sorted(range(len(files)), key=lambda j: int(stems[j]))
        return [files[j] for j in order], [int(stems[j]) for j in order], "integer file names"
    return files, list(range(len(files))), "numbers 0..n-1 in file-name order"


def write_image_assets(images_dir, out, *, models: Iterable[str] = ("resnet50", "vgg19"), weights="imagenet",
                       size: int = 224, vgg_layer: str = "fc2", skip_bad: bool = False, batch_size: int = 32,
                       seed: int = 0, progress: bool = True, cache_dir=None, log=print) -> dict:
    """Embed every image of ``images_dir`` and write the unit-1 asset files into ``out``.

    Writes ``<model>_feature_matrix.npy`` (n, d) float32 per model (``resnet50_feature_matrix.npy``,
    ``vgg19_feature_matrix.npy`` as :mod:`coursekit.datasets.art` reads them; VGG19 from its fc2
    layer at 224 px unless ``vgg_layer="avg"``), ``index2artworkId.json`` (the row order) and
    ``artworkImageUrlsCache.json`` (``{"<id>": {"medium": "<path>"}}``; paths relative to ``out``
    when the images are inside it, else absolute).

    Artwork ids: the file names' integer stems (``123.png`` -> 123) when every image is named so
    and no two share a number; otherwise 0..n-1 in file-name order, counted over every image file
    (so an id keeps its file when another file is skipped). Images are the files directly in
    ``images_dir`` with an image suffix (:data:`IMAGE_SUFFIXES`).

    Unreadable images are listed in one DataError unless ``skip_bad``, which leaves them out (and
    reports them). Every matrix is computed before anything is written, and each file is written
    atomically, so a failure leaves ``out`` as it was. Returns a summary dict.
    """
    from .datasets._io import atomic_write_bytes
    from .datasets.art import FILES

    images_dir = Path(images_dir)
    out = Path(out)
    names = [model_name(m) for m in models]
    if not names:
        raise ValueError("at least one model is needed")
    if not (weights is None or isinstance(weights, str) and weights.lower() in ("none", "imagenet")) and len(names) > 1:
        raise DataError("a weights file fits one model; embed one --model at a time with it", path=weights)
    files = list_images(images_dir)
    if not files:
        raise DataError("no image files found", path=images_dir,
                        fix=f"put images ({', '.join(IMAGE_SUFFIXES)}) directly in this folder")
    files, ids, rule = _ids_for(files)
    if isinstance(weights, str) and weights == "imagenet":  # fail fast: every weights file before any work
        for name in names:
            imagenet_weights(name, include_top=name == "vgg19" and vgg_layer == "fc2", cache_dir=cache_dir)
    bad = unreadable_images(files)
    if bad and not skip_bad:
        raise DataError(_bad_message(bad), path=images_dir,
                        fix="fix or remove these files, or pass --skip-bad (skip_bad=True) to leave them out")
    bad_set = {p for p, _ in bad}
    keep = [j for j, f in enumerate(files) if os.fspath(f) not in bad_set]
    if not keep:
        raise DataError("none of the images can be read", path=images_dir)
    files = [files[j] for j in keep]
    ids = [ids[j] for j in keep]
    if bad:
        log(f"skipped {_bad_message(bad)}")

    staged: dict[Path, bytes] = {}
    dims, speeds = {}, {}
    for name in names:
        layer = vgg_layer if name == "vgg19" else "avg"
        emb = ImageEmbedder(name, weights=weights, size=224 if layer == "fc2" else size, layer=layer,
                            batch_size=batch_size, seed=seed, progress=progress, cache_dir=cache_dir)
        x = emb.embed(files)
        log(f"{name}: {x.shape[0]} x {x.shape[1]} ({layer}, {emb.size} px, weights {emb.weights_source}), "
            f"{emb.images_per_s_:.0f} images/s")
        buf = io.BytesIO()
        np.save(buf, x, allow_pickle=False)
        fname = FILES["resnet"] if name == "resnet50" else FILES["vgg"] if name == "vgg19" else feature_file(name)
        staged[out / fname] = buf.getvalue()
        dims[name], speeds[name] = int(x.shape[1]), emb.images_per_s_

    import json

    out_abs = out.resolve()

    def where(f: Path) -> str:
        f = f.resolve()
        return f.relative_to(out_abs).as_posix() if f.is_relative_to(out_abs) else f.as_posix()

    staged[out / FILES["ids"]] = json.dumps(ids).encode()
    staged[out / FILES["urls"]] = json.dumps({str(i): {"medium": where(f)} for i, f in zip(ids, files)}).encode()
    umask = os.umask(0)
    os.umask(umask)
    for path, data in staged.items():
        atomic_write_bytes(path, data)
        os.chmod(path, 0o666 & ~umask)  # the temporary file was private (0600); give it the usual mode
    for p in sorted(out.glob("*_feature_matrix.npy")):  # matrices of earlier runs with other rows
        if p not in staged:
            log(f"note: {p} was not rewritten by this run (it may hold other images)")
    return {"n": len(ids), "ids": rule, "skipped": bad, "dims": dims, "images_per_s": speeds,
            "written": sorted(os.fspath(p) for p in staged)}
