"""Unit 1 data: the art-course assets (CNN feature matrices, ids, image URLs, transactions).

Real layout (``<data home>/art/``), as the course shipped it::

    resnet50_feature_matrix.npy     (n_artworks, 2048) float
    vgg19_feature_matrix.npy        (n_artworks, 4096) float, same row order
    index2artworkId.json            [artwork id, ...] the row order of both matrices
    artworkImageUrlsCache.json      {"<artwork id>": {"medium": "<url>"}, ...}
    past_transactions.json          {"<user id>": [artwork id, ...], ...}  (consumed items)
    ground_truth.json               {"<user id>": [artwork id, ...], ...}  (held-out items)

The course shipped the two transaction files as pickles; :func:`convert_art_pickles` turns them
into the JSON files once, behind an explicit ``allow_pickle=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..images import render_artwork, save_png, style_look
from ._io import read_json, read_matrix, read_pickle, write_json
from ._registry import DatasetSpec, RemoteFile, load_verified, register

FILES = {
    "resnet": "resnet50_feature_matrix.npy",
    "vgg": "vgg19_feature_matrix.npy",
    "ids": "index2artworkId.json",
    "urls": "artworkImageUrlsCache.json",
    "past": "past_transactions.json",
    "truth": "ground_truth.json",
}
TOY_STYLES = "toy_styles.json"  # toy folders only: the latent style of each artwork (row order)
TOY_GAINS = "toy_gains.json"  # toy folders only: the photo gain of each artwork (row order)
MANUAL = (
    "the art-course assets are distributed with the course, not downloadable: copy "
    "resnet50_feature_matrix.npy, vgg19_feature_matrix.npy, index2artworkId.json, "
    "artworkImageUrlsCache.json and past_transactions/ground_truth (.json, or .pickle converted with "
    "`coursekit data convert art --allow-pickle`) into <data home>/art"
)


@dataclass
class ArtData:
    """The unit-1 data set. Row ``i`` of both matrices is artwork ``ids[i]``.

    ``past`` and ``truth`` map a user id to an int64 array of artwork ids.
    """

    resnet: np.ndarray
    vgg: np.ndarray
    ids: np.ndarray
    image_urls: dict[str, str]
    past: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]
    folder: Path
    styles: np.ndarray | None = field(default=None, repr=False)  # toy only: latent style per row
    gains: np.ndarray | None = field(default=None, repr=False)  # toy only: photo gain per row

    @property
    def users(self) -> list[str]:
        return list(self.past)

    def index_of(self, artwork_ids) -> np.ndarray:
        """Row indices of artwork ids (vectorised); unknown ids raise a DataError."""
        ids = np.asarray(artwork_ids, dtype=np.int64)
        order = np.argsort(self.ids)
        pos = np.searchsorted(self.ids, ids, sorter=order)
        pos = np.clip(pos, 0, len(self.ids) - 1)
        found = order[pos]
        bad = self.ids[found] != ids
        if bad.any():
            raise DataError(f"artwork id {int(ids[bad][0])} is not in the id list", path=self.folder)
        return found

    def image_source(self, artwork_id) -> str:
        """URL or path of an artwork's image ('' when unknown)."""
        return self.image_urls.get(str(int(artwork_id)), "")

    def validation_split(self, share: float = 0.3, seed: int = 0) -> "ArtData":
        """A validation split carved from the users' **past** purchases (the ground truth is untouched).

        Each user with at least 2 past purchases hides ``round(share * n)`` of them (at least 1,
        never all), drawn at random (seeded). Returns a new ``ArtData`` whose ``past`` is what is
        left and whose ``truth`` is the hidden part; choices (feature set, metric) are made on it,
        and the real ``truth`` is used once, to report the chosen setting. Vectorised over users.
        """
        if not 0 < share < 1:
            raise ValueError(f"share must be between 0 and 1, got {share}")
        users = self.users
        sizes = np.array([len(self.past[u]) for u in users], dtype=np.int64)
        items = np.concatenate([self.past[u] for u in users] or [np.empty(0, np.int64)])
        owner = np.repeat(np.arange(len(users)), sizes)
        order = np.lexsort((np.random.default_rng(seed).random(len(items)), owner))
        rank = np.arange(len(items)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        n_hide = np.where(sizes >= 2, np.clip(np.round(share * sizes), 1, sizes - 1), 0).astype(np.int64)
        hide = rank < np.repeat(n_hide, sizes)  # ranks follow a random order within each user
        bounds = np.cumsum(sizes)[:-1]
        per_user = zip(users, np.split(items[order], bounds), np.split(hide, bounds))
        past, truth = {}, {}
        for user, bought, hidden in per_user:  # one dict entry per user (users are few)
            past[user], truth[user] = np.sort(bought[~hidden]), np.sort(bought[hidden])
        return ArtData(self.resnet, self.vgg, self.ids, self.image_urls, past, truth, self.folder,
                       self.styles, self.gains)


def _read_transactions(folder: Path, key: str, allow_pickle: bool) -> dict[str, np.ndarray]:
    path = folder / FILES[key]
    if path.exists() or not path.with_suffix(".pickle").exists():
        raw = read_json(path, fix=MANUAL)
    else:
        raw = read_pickle(path.with_suffix(".pickle"), allow_pickle=allow_pickle, fix=MANUAL)
    if isinstance(raw, list):  # the course pickles were lists indexed by user number
        raw = dict(enumerate(raw))
    if not isinstance(raw, dict):
        raise DataError("expected an object {user id: [artwork ids]}", path=path, fix=MANUAL)
    out = {}
    for user, items in raw.items():
        try:
            out[str(user)] = np.asarray(list(items), dtype=np.int64)
        except (TypeError, ValueError):
            raise DataError(
                "artwork ids must be integers", path=path, where=f"user {user!r}", fix=MANUAL
            ) from None
    return out


def read_art(folder: str | Path, *, allow_pickle: bool = False) -> ArtData:
    """Read the art-course assets from ``folder`` (see the module docstring for the layout)."""
    folder = Path(folder)
    resnet = read_matrix(folder / FILES["resnet"], fix=MANUAL).astype(np.float32, copy=False)
    vgg = read_matrix(folder / FILES["vgg"], fix=MANUAL).astype(np.float32, copy=False)
    ids_raw = read_json(folder / FILES["ids"], fix=MANUAL)
    try:  # dtype inferred from the JSON values: text, floats, null or booleans are not ids
        ids = np.asarray(ids_raw)
    except (TypeError, ValueError):
        ids = np.asarray([])
    if not isinstance(ids_raw, list) or not np.issubdtype(ids.dtype, np.integer):
        raise DataError("expected a list of integer ids", path=folder / FILES["ids"], fix=MANUAL)
    ids = ids.astype(np.int64)
    if ids.ndim != 1 or len(np.unique(ids)) != len(ids):
        raise DataError("ids must be a flat list without duplicates", path=folder / FILES["ids"], fix=MANUAL)
    for name, mat in (("resnet", resnet), ("vgg", vgg)):
        if len(mat) != len(ids):
            raise DataError(
                f"{len(mat)} rows but the id list has {len(ids)}", path=folder / FILES[name], fix=MANUAL
            )
    urls_raw = read_json(folder / FILES["urls"], fix=MANUAL)
    if not isinstance(urls_raw, dict):
        raise DataError("expected an object {artwork id: {\"medium\": url}}", path=folder / FILES["urls"], fix=MANUAL)
    urls = {str(k): (v.get("medium", "") if isinstance(v, dict) else str(v)) for k, v in urls_raw.items()}
    past = _read_transactions(folder, "past", allow_pickle)
    truth = _read_transactions(folder, "truth", allow_pickle)
    data = ArtData(resnet, vgg, ids, urls, past, truth, folder)
    for key, table in (("past", past), ("truth", truth)):
        known = np.isin(np.concatenate([v for v in table.values()] or [np.empty(0, np.int64)]), ids)
        if not known.all():
            user, bad = next((u, v[~np.isin(v, ids)][0]) for u, v in table.items() if not np.isin(v, ids).all())
            raise DataError(f"artwork id {int(bad)} is not in the id list", path=folder / FILES[key],
                            where=f"user {user!r}", fix="use ids from index2artworkId.json")
    styles_file = folder / TOY_STYLES
    if styles_file.exists():  # toy folders only
        again = f"delete {folder} so the toy data is generated again"
        raw = read_json(styles_file, fix=again)
        try:
            styles = np.asarray(raw, dtype=np.int64) if isinstance(raw, list) else np.empty((0, 0))
        except (TypeError, ValueError, OverflowError):
            styles = np.empty((0, 0))
        if styles.shape != ids.shape:
            raise DataError(f"expected {len(ids)} integer styles, one per artwork", path=styles_file, fix=again)
        data.styles = styles
    gains_file = folder / TOY_GAINS
    if gains_file.exists():  # toy folders only (version 3 on)
        again = f"delete {folder} so the toy data is generated again"
        raw = read_json(gains_file, fix=again)
        try:
            gains = np.asarray(raw, dtype=np.float64) if isinstance(raw, list) else np.empty((0, 0))
        except (TypeError, ValueError):
            gains = np.empty((0, 0))
        if gains.shape != ids.shape or not (np.isfinite(gains) & (gains > 0)).all():
            raise DataError(f"expected {len(ids)} positive gains, one per artwork", path=gains_file, fix=again)
        data.gains = gains
    return data


def convert_art_pickles(folder: str | Path, *, allow_pickle: bool = False) -> list[Path]:
    """Convert ``past_transactions.pickle`` and ``ground_truth.pickle`` to the safe JSON files."""
    folder = Path(folder)
    written = []
    for key in ("past", "truth"):
        src = (folder / FILES[key]).with_suffix(".pickle")
        raw = read_pickle(src, allow_pickle=allow_pickle, fix=MANUAL)
        if isinstance(raw, list):
            raw = dict(enumerate(raw))
        write_json(folder / FILES[key], {str(u): [int(i) for i in v] for u, v in raw.items()})
        written.append(folder / FILES[key])
    return written


def load_art(source: str = "toy", *, seed: int = 0, data_home=None, allow_pickle: bool = False, **sizes) -> ArtData:
    """The unit-1 data set: ``source="toy"`` (generated, default) or ``"real"`` (the course assets).

    A damaged toy folder is generated again (see :func:`~coursekit.datasets.toy_path`)."""
    return load_verified("art", source, lambda folder: read_art(folder, allow_pickle=allow_pickle), seed=seed,
                         data_home=data_home, **sizes)


# --------------------------------------------------------------------------- toy generator

def make_toy_art(
    folder: str | Path,
    seed: int = 0,
    n_artworks: int = 1500,
    n_styles: int = 20,
    n_users: int = 100,
    latent_dim: int = 16,
    image_size: int = 64,
    gain_sigma: float = 0.3,
) -> None:
    """Write a toy art data set in the real file formats.

    The mechanisms, in the order they are drawn (one seeded generator):

    1. **What an artwork shows.** ``n_styles`` latent style centres (normal, sd 1.6) in
       ``latent_dim`` dimensions; each artwork is its style's centre plus its own variation (sd 0.7).
    2. **Two "CNN" feature matrices.** Each is a ReLU of a random linear projection of the latent
       vector plus unit noise, with a threshold (``max(z W + noise - 0.3, 0)``): non-negative,
       about half the units silent per artwork, a few units dead on the whole collection (24 of
       2048, 64 of 4096) and VGG19 noisier than ResNet50 (noise sd 1.6 vs 0.9).
    3. **Purchases.** Each user has a taste point near one or two style centres and buys the
       artworks whose latent vector is closest to it in **Euclidean distance** (utility
       ``-distance**2 / 4`` plus Gumbel noise), 6 to 15 artworks each; 30 % of every user's
       purchases (at least 2) are held out as ground truth.
    4. **How the artwork was photographed** (toy version 3). Every photo gets a gain
       ``g = exp(gain_sigma * N(0, 1))`` (log-normal, ``gain_sigma = 0.3``: two thirds of the photos
       within x0.74 to x1.35 of a typical one) that multiplies **both** feature rows and the
       contrast of its picture. It stands for exposure, contrast and framing: the activations of a
       ReLU network grow with the contrast of its input (without biases they scale exactly with
       it), while a buyer's choice does not depend on them, so the gain is drawn after the
       purchases and never enters them. It is an assumption of this generator, not a value
       measured on the course's real features.

    The statistic these mechanisms give, and that the unit prints for whatever data it loads: the
    length (L2 norm) of a feature row varies from artwork to artwork, with a coefficient of
    variation of about 0.35 on the toy ResNet50 rows (0.15 without the gain), and it mixes two
    things, the artwork's latent content (which buyers care about, mechanism 3) and the photo
    gain (which they do not, mechanism 4). Cosine similarity ignores both, Euclidean distance keeps
    both. Each artwork gets a PNG whose palette and pattern follow its style and whose contrast
    follows its gain. ``toy_styles.json`` and ``toy_gains.json`` keep the hidden style and gain of
    every row (toy data only), so the unit can show what each mechanism does.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.6, size=(n_styles, latent_dim))
    styles = rng.integers(0, n_styles, size=n_artworks)
    z = centers[styles] + rng.normal(0, 0.7, size=(n_artworks, latent_dim))

    def cnn(dim, noise, dead):
        w = rng.normal(0, 1 / np.sqrt(latent_dim), size=(latent_dim, dim))
        x = np.maximum(z @ w + rng.normal(0, noise, size=(n_artworks, dim)) - 0.3, 0)
        x[:, rng.choice(dim, size=dead, replace=False)] = 0.0
        return x

    resnet = cnn(2048, 0.9, dead=24)
    vgg = cnn(4096, 1.6, dead=64)
    ids = np.sort(rng.choice(np.arange(10_000, 100_000), size=n_artworks, replace=False))

    # users: a taste point near one or two style centres; purchases follow latent Euclidean distance
    past, truth = {}, {}
    n_fav = rng.integers(1, 3, size=n_users)
    fav = rng.integers(0, n_styles, size=(n_users, 2))
    mix = np.where(n_fav[:, None] == 2, 0.5, np.array([1.0, 0.0]))
    taste = (centers[fav] * mix[..., None]).sum(1) + rng.normal(0, 0.5, size=(n_users, latent_dim))
    d2 = ((taste[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    utility = -d2 / 4.0 + rng.gumbel(size=d2.shape)
    n_buy = rng.integers(6, 16, size=n_users)
    ranked = np.argsort(-utility, axis=1)
    for u in range(n_users):  # one dict entry per user: users are few, items are vectorised
        bought = ranked[u, : n_buy[u]]
        bought = rng.permutation(bought)
        n_truth = max(2, int(round(0.3 * n_buy[u])))
        past[str(u)] = [int(i) for i in ids[bought[n_truth:]]]
        truth[str(u)] = [int(i) for i in ids[bought[:n_truth]]]

    # the photo gain: drawn after the purchases, which it never influences
    gain = np.exp(gain_sigma * rng.normal(size=n_artworks))
    resnet = (resnet * gain[:, None]).astype(np.float32)
    vgg = (vgg * gain[:, None]).astype(np.float32)

    (folder / "images").mkdir(parents=True, exist_ok=True)
    jitter = np.tanh(z[:, :4] - centers[styles, :4])
    looks = [style_look(s, n_styles) for s in range(n_styles)]
    for row, (artwork, s) in enumerate(zip(ids, styles)):
        picture = render_artwork(looks[s], jitter[row], image_size).astype(np.float64)
        grey = picture.mean()
        picture = np.clip(grey + gain[row] * (picture - grey), 0, 255).astype(np.uint8)
        save_png(picture, folder / "images" / f"{artwork}.png")
    urls = {str(int(a)): {"medium": f"images/{a}.png"} for a in ids}

    np.save(folder / FILES["resnet"], resnet)
    np.save(folder / FILES["vgg"], vgg)
    write_json(folder / FILES["ids"], [int(a) for a in ids])
    write_json(folder / FILES["urls"], urls)
    write_json(folder / FILES["past"], past)
    write_json(folder / FILES["truth"], truth)
    write_json(folder / TOY_STYLES, [int(s) for s in styles])
    write_json(folder / TOY_GAINS, [float(g) for g in gain])


SPEC = register(
    DatasetSpec(
        name="art",
        title="Art-course assets: ResNet50 and VGG19 features of artworks, users' purchases",
        files=tuple(RemoteFile(name) for name in FILES.values()),
        unit="01",
        manual=MANUAL,
        toy=make_toy_art,
        toy_version=3,  # v3: a photo gain multiplies the feature rows and the picture's contrast
    )
)

convert = convert_art_pickles  # `coursekit data convert art --allow-pickle`
