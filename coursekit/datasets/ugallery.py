"""Unit 2 data: the UGallery release (inventory, purchases, ResNet50 embeddings).

Real layout (``<data home>/ugallery/``), as the authors share it::

    ugallery_inventory.csv            artwork_id_hash,artist_id_hash,upload_timestamp
    ugallery_purchases.csv            user_id_hash,purchase_timestamp,purchased_artwork_ids_hash
                                      (the last column is a list literal: ['id1', 'id2'])
    ugallery_resnet50_embeddings.npy  (n, 2) object array: rows (artwork_id_hash, 2048-d vector)

The embeddings file holds Python objects, so NumPy needs pickle to read it. :func:`convert_embeddings`
reads it once behind an explicit ``allow_pickle=True`` and writes the safe
``ugallery_resnet50_embeddings.npz`` (``ids`` unicode, ``vectors`` float32) that the loader prefers.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..images import placeholder, render_artwork, style_look
from ._io import atomic_write_bytes, read_object_npy, require_file
from ._registry import DatasetSpec, RemoteFile, dataset_path, register

FILES = {
    "inventory": "ugallery_inventory.csv",
    "purchases": "ugallery_purchases.csv",
    "embeddings": "ugallery_resnet50_embeddings.npy",
}
SAFE_EMBEDDINGS = "ugallery_resnet50_embeddings.npz"
TOY_LOOKS = "toy_looks.npz"  # toy only: latent style and jitter of each artwork, to render images
MANUAL = (
    "the UGallery data is shared by its authors on request (see the CuratorNet repository, "
    "github.com/aaossa/CuratorNet): put ugallery_inventory.csv, ugallery_purchases.csv and "
    "ugallery_resnet50_embeddings.npy into <data home>/ugallery"
)
RECOPY = "copy the file again from the UGallery release into <data home>/ugallery"
_ID = re.compile(r"^[0-9A-Za-z_\-]+$")


@dataclass
class UGalleryData:
    """The UGallery data set with integer indices everywhere.

    Items are numbered by their row in the inventory file. Purchases keep one entry per csv row
    (a row may list several artworks), as a CSR-like pair ``purchase_indptr`` / ``purchase_items``.

    Attributes
    ----------
    artwork_ids : str array (n_items,) ids of the artworks (row ``i`` is item ``i``).
    artist : int64 (n_items,) artist index of each item; ``artist_ids`` str (n_artists,) their ids.
    upload_time : int64 (n_items,) upload timestamp of each item.
    embeddings : float32 (n_items, d) visual embedding of each item.
    user_ids : str (n_users,); ``purchase_user`` int64 (n_purchases,) user index of each row.
    purchase_time : int64 (n_purchases,); ``purchase_indptr`` int64 (n_purchases + 1,),
        ``purchase_items`` int64 (total,): the items of row ``r`` are
        ``purchase_items[purchase_indptr[r]:purchase_indptr[r + 1]]``.
    """

    artwork_ids: np.ndarray
    artist: np.ndarray
    artist_ids: np.ndarray
    upload_time: np.ndarray
    embeddings: np.ndarray
    user_ids: np.ndarray
    purchase_user: np.ndarray
    purchase_time: np.ndarray
    purchase_indptr: np.ndarray
    purchase_items: np.ndarray
    folder: Path
    styles: np.ndarray | None = field(default=None, repr=False)  # toy only
    jitter: np.ndarray | None = field(default=None, repr=False)  # toy only
    n_styles: int = 0

    @property
    def n_items(self) -> int:
        return len(self.artwork_ids)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_artists(self) -> int:
        return len(self.artist_ids)

    def summary(self) -> dict[str, int]:
        bought = np.unique(self.purchase_items)
        counts = np.bincount(self.purchase_items, minlength=self.n_items)
        return {
            "artworks": self.n_items,
            "artists": self.n_artists,
            "users": self.n_users,
            "purchases": len(self.purchase_time),
            "artworks ever bought": len(bought),
            "artworks sold more than once": int((counts > 1).sum()),
        }

    def image(self, item: int, size: int = 64):
        """A picture of item ``item``: rendered from its latent style for toy data, else a placeholder
        (the real release ships no images)."""
        if self.styles is None:
            return placeholder("no image")
        from PIL import Image

        look = style_look(int(self.styles[item]), self.n_styles)
        return Image.fromarray(render_artwork(look, self.jitter[item], size))


# --------------------------------------------------------------------------- readers

_MISSING = ["nan", "na", "n/a", "null", "none", "<na>"]  # what spreadsheets and pandas write for "no value"
_ID_COLUMNS = ("artwork_id_hash", "artist_id_hash", "user_id_hash")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _cells(line: str, sep: str) -> set[str]:
    return {c.strip().strip('"').strip() for c in line.split(sep)}


def _header_problem(path: Path, text: str, columns: list[str]) -> None:
    """Raise the likely cause when the first line is not the header: another delimiter, or a title above it."""
    header = ",".join(columns)
    head = text[:65536].splitlines()[:10]
    first = head[0] if head else ""
    for sep in (";", "\t", "|"):
        if set(columns) <= _cells(first, sep):
            raise DataError(f"the columns are separated by {sep!r}, expected commas", path=path, where="line 1",
                            fix=f"save it as comma-separated csv with the header {header}")
    for k, line in enumerate(head[1:], start=2):
        if set(columns) <= _cells(line, ","):
            raise DataError(f"the header is on line {k}, expected on line 1 (line 1 is {first[:60]!r})", path=path,
                            fix=f"delete the line(s) above the header {header}")


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    require_file(path, MANUAL)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is fine (spreadsheet exports)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start})", path=path,
                        where=f"line {line}",
                        fix="save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')") from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError("no header and no rows (the file is blank)", path=path, fix=RECOPY) from None
    except pd.errors.ParserError as exc:
        _header_problem(path, text, columns)
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise DataError(f"expected {m[1]} fields, found {m[3]}", path=path, where=f"line {m[2]}",
                            fix="quote values that contain commas, or remove the extra field") from None
        raise DataError(f"not a valid csv file ({_one_line(exc)})", path=path, fix=MANUAL) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        _header_problem(path, text, columns)
        raise DataError(
            f"missing column(s) {missing}; found {list(df.columns)}", path=path,
            fix=f"the header must be {','.join(columns)}",
        )
    if df.empty:
        raise DataError("no data rows below the header", path=path, fix=RECOPY)
    for c in columns:
        value = df[c].str.strip()
        bad = ((value == "") | value.str.lower().isin(_MISSING)).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = "empty value" if value.iloc[row] == "" else f"missing value {value.iloc[row]!r}"
            raise DataError(what, path=path, where=f"line {row + 2}, column {c!r}",
                            fix=f"fill in the {c} or delete the row")
        if c in _ID_COLUMNS:
            bad = ~value.str.fullmatch(_ID.pattern).to_numpy(dtype=bool)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise DataError(f"expected an id of letters, digits, '_' or '-', found {value.iloc[row]!r}",
                                path=path, where=f"line {row + 2}, column {c!r}",
                                fix="ids are hashes like 0dacfa6d60f0c0fc: correct the value or delete the row")
    return df[columns]


def _int_column(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce")
    as_float = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(as_float) | (as_float % 1 != 0) | (np.abs(as_float) >= 2.0**63)
    if bad.any():
        line = int(np.flatnonzero(bad)[0]) + 2
        raise DataError(
            f"expected an integer timestamp, found {df[col].iloc[line - 2]!r}", path=path,
            where=f"line {line}, column {col!r}", fix="timestamps are whole numbers",
        )
    return values.to_numpy().astype(np.int64)


def parse_id_lists(column: pd.Series, path: Path | str = "purchases", col: str = "list") -> tuple[np.ndarray, np.ndarray]:
    """Parse list literals such as ``['a1', 'b2']`` without ``eval``.

    Returns ``(lengths int64 (n_rows,), ids str (total,))``: the ids of all rows, in order.
    Raises a :class:`DataError` naming the csv line of the first malformed value.
    """
    s = column.astype(str).str.strip()
    ok = (s.str.startswith("[") & s.str.endswith("]")).to_numpy()
    inner = s.str.slice(1, -1).str.strip()
    parts = inner.str.split(",")
    lengths = parts.str.len().to_numpy().astype(np.int64)
    flat = parts.explode().astype(str).str.strip().str.strip("'\"").str.strip()
    tokens = flat.to_numpy().astype(str)
    bad_token = ~flat.str.fullmatch(_ID.pattern).fillna(False).to_numpy(dtype=bool)
    row_of = np.repeat(np.arange(len(s)), lengths)
    bad_rows = ~ok
    bad_rows[row_of[bad_token]] = True
    if bad_rows.any():
        line = int(np.flatnonzero(bad_rows)[0])
        raise DataError(
            f"expected a list of ids like ['a1b2', 'c3d4'], found {column.iloc[line]!r}", path=path,
            where=f"line {line + 2}, column {col!r}", fix="write the artwork ids as a quoted, comma-separated list",
        )
    return lengths, tokens


def _unique_ids(ids: np.ndarray, path: Path) -> None:
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero(ids == ids[row])[0])
        raise DataError(f"artwork {ids[row]} has a second embedding (the first is row {first})", path=path,
                        where=f"row {row}", fix="keep one embedding per artwork")


def read_embeddings(folder: str | Path, *, allow_pickle: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(ids str (n,), vectors float32 (n, d))`` from the safe ``.npz``, else from the ``.npy``.

    The ``.npy`` of the release holds Python objects and needs pickle: it is read only with
    ``allow_pickle=True``, and then converted once to the ``.npz`` so later loads are safe.
    """
    folder = Path(folder)
    safe = folder / SAFE_EMBEDDINGS
    if not safe.exists():
        convert_embeddings(folder, allow_pickle=allow_pickle)
    again = f"delete it and convert {FILES['embeddings']} again"
    with open(safe, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise DataError("not a valid embeddings archive (it is not a .npz zip file)", path=safe, fix=again)
    try:
        with np.load(safe, allow_pickle=False) as z:
            absent = [k for k in ("ids", "vectors") if k not in z.files]
            if absent:
                raise DataError(f"missing array(s) {absent}; found {z.files}", path=safe, fix=again)
            ids, vectors = z["ids"].astype(str), z["vectors"]
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"not a valid embeddings archive ({_one_line(exc)})", path=safe, fix=again) from None
    if vectors.ndim != 2 or len(vectors) != len(ids) or not np.issubdtype(vectors.dtype, np.floating):
        raise DataError(f"expected ids (n,) and float vectors (n, d), found {ids.shape} and {vectors.shape}",
                        path=safe, fix=again)
    _unique_ids(ids, safe)
    if not np.isfinite(vectors).all():
        row = int(np.argwhere(~np.isfinite(vectors))[0, 0])
        raise DataError("NaN or infinite values", path=safe, where=f"row {row}", fix=again)
    return ids, vectors.astype(np.float32, copy=False)


def convert_embeddings(folder: str | Path, *, allow_pickle: bool = False) -> Path:
    """Convert the release's object ``.npy`` into the safe ``.npz`` (written atomically)."""
    folder = Path(folder)
    src = require_file(folder / FILES["embeddings"], MANUAL)
    with open(src, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise DataError("not a valid .npy file (it does not start with the NumPy header)", path=src, fix=RECOPY)
    try:
        arr = np.load(src, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise DataError(f"not a valid .npy file ({_one_line(exc)})", path=src, fix=RECOPY) from None
        try:
            arr = read_object_npy(src, allow_pickle=allow_pickle, fix=RECOPY)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - unpickling a damaged file can raise any error
            raise DataError(f"not a valid .npy file (truncated or damaged: {type(exc).__name__}: {_one_line(exc)})",
                            path=src, fix=RECOPY) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"not a valid .npy file ({_one_line(exc)})", path=src, fix=RECOPY) from None
    if arr.dtype != object or arr.ndim != 2 or arr.shape[1] != 2:
        raise DataError(f"expected (n, 2) rows of (artwork id, vector), found shape {arr.shape} dtype {arr.dtype}",
                        path=src, fix=MANUAL)
    ids = arr[:, 0].astype(str)
    _unique_ids(ids, src)
    try:
        vectors = np.stack(arr[:, 1]).astype(np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors have shape {vectors.shape[1:]}, expected (d,)")
    except (TypeError, ValueError) as exc:
        sizes = pd.Series(arr[:, 1]).map(np.size).to_numpy()  # error path only: which row differs
        odd = sizes != np.bincount(sizes).argmax()
        if odd.any():
            row = int(np.flatnonzero(odd)[0])
            raise DataError(f"vector of length {sizes[row]}, expected {np.bincount(sizes).argmax()} like the others",
                            path=src, where=f"row {row}", fix=RECOPY) from None
        raise DataError(f"vectors are not numeric arrays of one length ({_one_line(exc)})", path=src,
                        fix=RECOPY) from None
    buf = io.BytesIO()
    np.savez(buf, ids=ids, vectors=vectors)
    atomic_write_bytes(folder / SAFE_EMBEDDINGS, buf.getvalue())
    return folder / SAFE_EMBEDDINGS


def read_ugallery(folder: str | Path, *, allow_pickle: bool = False) -> UGalleryData:
    """Read the UGallery files of ``folder`` (layout in the module docstring) into :class:`UGalleryData`."""
    folder = Path(folder)
    inv_path, pur_path = folder / FILES["inventory"], folder / FILES["purchases"]
    inv = _read_csv(inv_path, ["artwork_id_hash", "artist_id_hash", "upload_timestamp"])
    artwork_ids = inv["artwork_id_hash"].str.strip().to_numpy().astype(str)
    dup = pd.Series(artwork_ids).duplicated().to_numpy()
    if dup.any():
        line = int(np.flatnonzero(dup)[0]) + 2
        raise DataError(f"artwork {artwork_ids[line - 2]} is listed twice", path=inv_path,
                        where=f"line {line}", fix="keep one row per artwork")
    artist_ids, artist = np.unique(inv["artist_id_hash"].str.strip().to_numpy().astype(str), return_inverse=True)
    upload_time = _int_column(inv, "upload_timestamp", inv_path)

    pur = _read_csv(pur_path, ["user_id_hash", "purchase_timestamp", "purchased_artwork_ids_hash"])
    purchase_time = _int_column(pur, "purchase_timestamp", pur_path)
    user_ids, purchase_user = np.unique(pur["user_id_hash"].str.strip().to_numpy().astype(str), return_inverse=True)
    lengths, tokens = parse_id_lists(pur["purchased_artwork_ids_hash"], pur_path, "purchased_artwork_ids_hash")
    item_of = pd.Index(artwork_ids)
    items = item_of.get_indexer(tokens)
    if (items < 0).any():
        first = int(np.flatnonzero(items < 0)[0])
        row = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise DataError(f"artwork {tokens[first]} is not in {FILES['inventory']}", path=pur_path,
                        where=f"line {row + 2}, column 'purchased_artwork_ids_hash'",
                        fix="add the artwork to the inventory or remove it from the purchase")
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    emb_ids, vectors = read_embeddings(folder, allow_pickle=allow_pickle)
    rows = pd.Index(emb_ids).get_indexer(artwork_ids)
    if (rows < 0).any():
        missing = artwork_ids[rows < 0]
        raise DataError(f"{len(missing)} inventory artworks have no embedding (first: {missing[0]})",
                        path=folder / FILES["embeddings"], fix=MANUAL)
    data = UGalleryData(
        artwork_ids=artwork_ids, artist=artist.astype(np.int64), artist_ids=artist_ids,
        upload_time=upload_time, embeddings=vectors[rows], user_ids=user_ids,
        purchase_user=purchase_user.astype(np.int64), purchase_time=purchase_time,
        purchase_indptr=indptr, purchase_items=items.astype(np.int64), folder=folder,
    )
    looks = folder / TOY_LOOKS
    if looks.exists():
        with np.load(looks, allow_pickle=False) as z:
            rows = pd.Index(z["ids"].astype(str)).get_indexer(artwork_ids)
            data.styles, data.jitter, data.n_styles = z["styles"][rows], z["jitter"][rows], int(z["n_styles"])
    return data


def load_ugallery(source: str = "toy", *, seed: int = 0, data_home=None, allow_pickle: bool = False,
                  **sizes) -> UGalleryData:
    """The unit-2 data set: ``source="toy"`` (generated, default) or ``"real"`` (the UGallery release).

    ``sizes`` are passed to :func:`make_toy_ugallery` (toy only).
    """
    folder = dataset_path("ugallery", source, seed=seed, data_home=data_home, **sizes)
    return read_ugallery(folder, allow_pickle=allow_pickle)


# --------------------------------------------------------------------------- toy generator

def _hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 32-character hex ids, like the release's md5 hashes."""
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    ids = np.char.add(np.char.zfill(np.char.mod("%x", raw[:, 0]), 16), np.char.zfill(np.char.mod("%x", raw[:, 1]), 16))
    if len(np.unique(ids)) != n:  # practically impossible; keep ids unique anyway
        ids = np.char.add(ids[:, None].astype("<U32"), np.arange(n).astype(str)[:, None]).ravel()
    return ids


def make_toy_ugallery(
    folder: str | Path,
    seed: int = 0,
    n_artworks: int = 3300,
    n_artists: int = 143,
    n_styles: int = 40,
    n_users: int = 730,
    emb_dim: int = 512,
    latent_dim: int = 16,
    unique_share: float = 0.78,
) -> None:
    """Write a toy UGallery in the real formats (about a quarter of the real scale by default).

    Each artist paints in one latent style (with a personal offset); embeddings are non-negative
    random projections of the artworks' latent vectors plus noise, like ResNet50 activations.
    Artworks are uploaded over time (a third at time 0); 78 % are one-of-a-kind and leave the
    inventory when sold. Each user has a taste near one or two styles and a few baskets at
    distinct times; a basket buys the available artworks with the highest utility
    ``-|taste - z|^2 / 4 + Gumbel noise``, so visual features predict purchases.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, size=(n_styles, latent_dim))
    artist_style = rng.integers(0, n_styles, size=n_artists)
    artist_center = centers[artist_style] + rng.normal(0, 0.5, size=(n_artists, latent_dim))
    weights = rng.pareto(1.5, size=n_artists) + 0.3  # a few prolific artists, many small ones
    artist = np.sort(rng.choice(n_artists, size=n_artworks, p=weights / weights.sum()))
    artist[:n_artists] = np.arange(n_artists)  # every artist has at least one artwork
    artist = np.sort(artist)
    z = artist_center[artist] + rng.normal(0, 0.6, size=(n_artworks, latent_dim))
    styles = artist_style[artist]
    w = rng.normal(0, 1 / np.sqrt(latent_dim), size=(latent_dim, emb_dim))
    emb = np.maximum(z @ w + rng.normal(0, 0.8, size=(n_artworks, emb_dim)) - 0.2, 0).astype(np.float32)

    horizon = 20 * n_artworks
    upload = np.where(rng.random(n_artworks) < 0.33, 0, rng.integers(0, horizon, size=n_artworks))
    unique = rng.random(n_artworks) < unique_share

    # users: a taste near one or two styles; 1 + geometric number of baskets at distinct times
    fav = rng.integers(0, n_styles, size=(n_users, 2))
    two = rng.random(n_users) < 0.3
    taste = np.where(two[:, None], (centers[fav[:, 0]] + centers[fav[:, 1]]) / 2, centers[fav[:, 0]])
    taste = taste + rng.normal(0, 0.4, size=(n_users, latent_dim))
    n_baskets = np.minimum(rng.geometric(0.45, size=n_users), 40)
    basket_user = np.repeat(np.arange(n_users), n_baskets)
    nb = len(basket_user)
    basket_time = np.sort(rng.choice(np.arange(horizon // 10, horizon), size=nb, replace=False))
    basket_time = rng.permutation(basket_time)  # distinct times, in random order across users
    basket_size = np.where(rng.random(nb) < 0.8, 1, 1 + rng.geometric(0.5, size=nb)).clip(1, 8)

    # utilities of every basket for every artwork (nb x n_artworks, small at toy scale)
    t = taste[basket_user]
    d2 = (t**2).sum(1)[:, None] + (z**2).sum(1)[None, :] - 2 * t @ z.T
    utility = -d2 / 4.0 + rng.gumbel(size=d2.shape)
    utility[basket_time[:, None] < upload[None, :]] = -np.inf  # not uploaded yet
    order = np.argsort(basket_time)
    sold = np.zeros(n_artworks, bool)
    items_of = [None] * nb
    # The replay is sequential by nature: each sale removes a one-of-a-kind artwork that later
    # buyers would otherwise see. One step per basket, vectorised over the artworks.
    for b in order:
        u = np.where(sold, -np.inf, utility[b])
        k = int(basket_size[b])
        top = np.argpartition(-u, k)[:k]
        top = top[np.isfinite(u[top])]
        items_of[b] = top
        sold[top[unique[top]]] = True
        utility[np.ix_(basket_user == basket_user[b], top)] = -np.inf  # nobody buys the same print twice

    keep = np.array([len(x) > 0 for x in items_of])
    ids = _hashes(rng, n_artworks + n_artists + n_users)
    art_ids, artist_ids, user_ids = ids[:n_artworks], ids[n_artworks:n_artworks + n_artists], ids[n_artworks + n_artists:]
    inv = pd.DataFrame({"artwork_id_hash": art_ids, "artist_id_hash": artist_ids[artist], "upload_timestamp": upload})
    inv = inv.iloc[np.argsort(upload, kind="stable")]
    lists = ["[" + ", ".join(f"'{a}'" for a in art_ids[np.sort(items_of[b])]) + "]" for b in order if keep[b]]
    pur = pd.DataFrame({"user_id_hash": user_ids[basket_user[order][keep[order]]],
                        "purchase_timestamp": basket_time[order][keep[order]],
                        "purchased_artwork_ids_hash": lists})
    atomic_write_bytes(folder / FILES["inventory"], inv.to_csv(index=False).encode())
    atomic_write_bytes(folder / FILES["purchases"], pur.to_csv(index=False).encode())
    # the release's format: object rows (id, vector), which needs pickle ...
    obj = np.empty((n_artworks, 2), dtype=object)
    obj[:, 0] = art_ids
    obj[:, 1] = list(emb)
    np.save(folder / FILES["embeddings"], obj, allow_pickle=True)
    # ... and the safe archive that a one-time conversion would write (so toy loads need no pickle)
    import io

    buf = io.BytesIO()
    np.savez(buf, ids=art_ids, vectors=emb)
    atomic_write_bytes(folder / SAFE_EMBEDDINGS, buf.getvalue())
    jitter = np.tanh(z[:, :4] - artist_center[artist, :4] + 0.3 * (artist_center[artist, :4] - centers[styles, :4]))
    buf = io.BytesIO()
    np.savez(buf, ids=art_ids, styles=styles.astype(np.int64), jitter=jitter.astype(np.float32),
             n_styles=np.int64(n_styles), unique=unique)
    atomic_write_bytes(folder / TOY_LOOKS, buf.getvalue())


SPEC = register(
    DatasetSpec(
        name="ugallery",
        title="UGallery: one-of-a-kind artworks, purchases and ResNet50 embeddings",
        files=tuple(RemoteFile(n) for n in FILES.values()),
        unit="02",
        manual=MANUAL,
        toy=make_toy_ugallery,
    )
)

convert = convert_embeddings  # `coursekit data convert ugallery --allow-pickle`
