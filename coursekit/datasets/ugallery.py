"""Unit 2 data: the UGallery release (inventory, purchases, ResNet50 embeddings).

Real layout (``<data home>/ugallery/``), as the authors share it::

    ugallery_inventory.csv            artwork_id_hash,artist_id_hash,upload_timestamp
    ugallery_purchases.csv            user_id_hash,purchase_timestamp,purchased_artwork_ids_hash
                                      (the last column is a list literal: ['id1', 'id2'])
    ugallery_resnet50_embeddings.npy  (n, 2) object array: rows (artwork_id_hash, 2048-d vector)

The CuratorNet repository's own download (``experiments/main.ipynb``) saves the same three files
as ``inventory.csv``, ``purchases.csv`` and ``resnet_embeddings.npy``: both layouts are read, file
by file (the ``ugallery_*`` name wins when both are there), and :attr:`UGalleryData.layout` and
``coursekit data list`` say which one was found.

The embeddings file holds Python objects, so NumPy needs pickle to read it. :func:`convert_embeddings`
reads it once behind an explicit ``allow_pickle=True`` and writes the safe ``.npz`` beside it
(``ugallery_resnet50_embeddings.npz`` or ``resnet_embeddings.npz``; ``ids`` unicode, ``vectors``
float32) that the loader prefers.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..images import placeholder, render_artwork, style_look
from ._io import _NPZ_ERRORS, atomic_write_bytes, read_npz, read_object_npy, require_file
from ._registry import DatasetSpec, RemoteFile, load_verified, register

FILES = {
    "inventory": "ugallery_inventory.csv",
    "purchases": "ugallery_purchases.csv",
    "embeddings": "ugallery_resnet50_embeddings.npy",
}
SAFE_EMBEDDINGS = "ugallery_resnet50_embeddings.npz"
# the same files under the names the CuratorNet repository's download gives them
CURATORNET_FILES = {
    "inventory": "inventory.csv",
    "purchases": "purchases.csv",
    "embeddings": "resnet_embeddings.npy",
}
LAYOUTS = {"UGallery": FILES, "CuratorNet": CURATORNET_FILES}
TOY_LOOKS = "toy_looks.npz"  # toy only: each artwork's style and jitter (images), the generator's hidden truth
MANUAL = (
    "the UGallery data is shared by its authors on request (see the CuratorNet repository, "
    "github.com/ialab-puc/CuratorNet): put ugallery_inventory.csv, ugallery_purchases.csv and "
    "ugallery_resnet50_embeddings.npy (or, as the CuratorNet download names them, inventory.csv, "
    "purchases.csv and resnet_embeddings.npy) into <data home>/ugallery"
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
    layout: str = ""  # which file names the folder holds (see LAYOUTS)
    truth: "ToyTruth | None" = field(default=None, repr=False)  # toy only: what the generator knows

    def __repr__(self) -> str:
        return (f"UGalleryData({self.n_items:,} artworks, {self.n_artists:,} artists, {self.n_users:,} users, "
                f"{len(self.purchase_time):,} purchases; {self.layout or 'files'} in {str(self.folder)!r})")

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


@dataclass
class ToyTruth:
    """Toy only: the generator's hidden state, so a notebook can *measure* what a collector would
    buy instead of guessing (see :func:`make_toy_ugallery`).

    latent float (n_items, latent_dim): each artwork's taste-relevant latent vector z (inventory
    order); taste float (n_users, latent_dim): each collector's taste point (order of
    ``UGalleryData.user_ids``); ``taste_width`` and ``loyalty`` as in the generator.
    """

    latent: np.ndarray
    taste: np.ndarray
    taste_width: float
    loyalty: float

    def utility(self, users, items, known_artist=None) -> np.ndarray:
        """float64 (n,): the generator's utility of artwork ``items[j]`` for collector ``users[j]``
        before its Gumbel noise: ``-|taste - z|^2 / (2 taste_width^2)``, plus ``loyalty`` where
        ``known_artist[j]`` (the artwork is by an artist the collector bought from)."""
        d = self.taste[np.asarray(users)].astype(np.float64) - self.latent[np.asarray(items)]
        v = -(d * d).sum(1) / (2 * self.taste_width**2)
        return v if known_artist is None else v + self.loyalty * np.asarray(known_artist, bool)

    def utility_table(self, users, known_artist=None) -> np.ndarray:
        """float64 (len(users), n_items): :meth:`utility` of every artwork for each collector;
        ``known_artist`` bool (len(users), n_items) marks the artworks by an artist the collector
        bought from."""
        t = self.taste[np.asarray(users)]
        d2 = (t * t).sum(1)[:, None] + (self.latent * self.latent).sum(1)[None, :] - 2 * t @ self.latent.T
        v = -np.maximum(d2, 0) / (2 * self.taste_width**2)
        return v if known_artist is None else v + self.loyalty * np.asarray(known_artist, bool)

    @staticmethod
    def preference(v_a, v_b) -> np.ndarray:
        """float64 (n,): the chance that a collector choosing between two artworks of utilities
        ``v_a`` and ``v_b`` takes the second: with standard Gumbel noise on each utility (as the
        generator draws purchases), ``1 / (1 + exp(v_a - v_b))``."""
        return 1.0 / (1.0 + np.exp(np.asarray(v_a, np.float64) - np.asarray(v_b, np.float64)))


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


def _safe_name(npy_name: str) -> str:
    return npy_name.removesuffix(".npy") + ".npz"


def find_files(folder: str | Path) -> tuple[dict[str, Path], str]:
    """The path of each file (``inventory``, ``purchases``, ``embeddings``: the ``.npy``, present
    or already converted to its ``.npz``) and a description of the layout found.

    Each file is looked for under its ``ugallery_*`` name, then under its CuratorNet name; a file
    under neither raises a DataError naming both.
    """
    folder = Path(folder)
    paths, used = {}, []
    for role, name in FILES.items():
        # the file itself under either name first, then (embeddings) its converted .npz
        candidates = [(layout, names[role], names[role]) for layout, names in LAYOUTS.items()]
        if role == "embeddings":
            candidates += [(layout, _safe_name(names[role]), names[role]) for layout, names in LAYOUTS.items()]
        for layout, present, npy in candidates:
            if (folder / present).exists():
                paths[role] = folder / npy
                used.append(layout)
                break
        else:
            raise DataError(f"file not found (nor {CURATORNET_FILES[role]}, its name in the CuratorNet download)",
                            path=folder / name, fix=MANUAL)
    names = ", ".join(p.name for p in paths.values())
    layout = f"{used[0]} names: {names}" if len(set(used)) == 1 else f"mixed names: {names}"
    return paths, layout


def describe_layout(folder: str | Path) -> str:
    """Which names the files of ``folder`` have (for `coursekit data list`); "" when some are missing."""
    try:
        return find_files(folder)[1]
    except DataError:
        return ""


def read_embeddings(folder: str | Path, *, allow_pickle: bool = False,
                    npy: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(ids str (n,), vectors float32 (n, d))`` from the safe ``.npz``, else from the ``.npy``.

    The ``.npy`` of the release holds Python objects and needs pickle: it is read only with
    ``allow_pickle=True``, and then converted once to the ``.npz`` so later loads are safe. ``npy``
    is the release file (default: found with :func:`find_files`); the ``.npz`` sits beside it.
    """
    folder = Path(folder)
    npy = Path(npy) if npy is not None else find_files(folder)[0]["embeddings"]
    safe = npy.with_name(_safe_name(npy.name))
    if not safe.exists():
        convert_embeddings(folder, allow_pickle=allow_pickle, npy=npy)
    again = f"delete it and convert {npy.name} again"
    with open(safe, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise DataError("not a valid embeddings archive (it is not a .npz zip file)", path=safe, fix=again)
    try:
        with np.load(safe, allow_pickle=False) as z:
            absent = [k for k in ("ids", "vectors") if k not in z.files]
            if absent:
                raise DataError(f"missing array(s) {absent}; found {z.files}", path=safe, fix=again)
            ids, vectors = z["ids"].astype(str), z["vectors"]
    except DataError:
        raise
    except _NPZ_ERRORS as exc:
        raise DataError(f"not a valid embeddings archive ({type(exc).__name__}: {_one_line(exc)})", path=safe,
                        fix=again) from None
    if vectors.ndim != 2 or len(vectors) != len(ids) or not np.issubdtype(vectors.dtype, np.floating):
        raise DataError(f"expected ids (n,) and float vectors (n, d), found {ids.shape} and {vectors.shape}",
                        path=safe, fix=again)
    _unique_ids(ids, safe)
    if not np.isfinite(vectors).all():
        row = int(np.argwhere(~np.isfinite(vectors))[0, 0])
        raise DataError("NaN or infinite values", path=safe, where=f"row {row}", fix=again)
    return ids, vectors.astype(np.float32, copy=False)


def convert_embeddings(folder: str | Path, *, allow_pickle: bool = False, npy: str | Path | None = None) -> Path:
    """Convert the release's object ``.npy`` (``npy``; default: ``ugallery_resnet50_embeddings.npy``
    or ``resnet_embeddings.npy``, whichever is there) into the safe ``.npz`` beside it (written
    atomically); returns the ``.npz`` path."""
    folder = Path(folder)
    if npy is None:
        npy = next((folder / names["embeddings"] for names in LAYOUTS.values()
                    if (folder / names["embeddings"]).exists()), folder / FILES["embeddings"])
    src = require_file(npy, MANUAL)
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
    except _NPZ_ERRORS as exc:
        raise DataError(f"not a valid .npy file ({type(exc).__name__}: {_one_line(exc)})", path=src,
                        fix=RECOPY) from None
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
    safe = src.with_name(_safe_name(src.name))
    atomic_write_bytes(safe, buf.getvalue())
    return safe


def read_ugallery(folder: str | Path, *, allow_pickle: bool = False) -> UGalleryData:
    """Read the UGallery files of ``folder`` (either layout of the module docstring) into
    :class:`UGalleryData`; its ``layout`` says which file names were found."""
    folder = Path(folder)
    paths, layout = find_files(folder)
    inv_path, pur_path = paths["inventory"], paths["purchases"]
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
        raise DataError(f"artwork {tokens[first]} is not in {inv_path.name}", path=pur_path,
                        where=f"line {row + 2}, column 'purchased_artwork_ids_hash'",
                        fix="add the artwork to the inventory or remove it from the purchase")
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    emb_ids, vectors = read_embeddings(folder, allow_pickle=allow_pickle, npy=paths["embeddings"])
    rows = pd.Index(emb_ids).get_indexer(artwork_ids)
    if (rows < 0).any():
        missing = artwork_ids[rows < 0]
        raise DataError(f"{len(missing)} inventory artworks have no embedding (first: {missing[0]})",
                        path=paths["embeddings"], fix=MANUAL)
    data = UGalleryData(
        artwork_ids=artwork_ids, artist=artist.astype(np.int64), artist_ids=artist_ids,
        upload_time=upload_time, embeddings=vectors[rows], user_ids=user_ids,
        purchase_user=purchase_user.astype(np.int64), purchase_time=purchase_time,
        purchase_indptr=indptr, purchase_items=items.astype(np.int64), folder=folder, layout=layout,
    )
    looks = folder / TOY_LOOKS
    if looks.exists():  # toy folders only
        data.styles, data.jitter, data.n_styles, data.truth = _read_looks(looks, artwork_ids, user_ids)
    return data


_TRUTH = ("latent", "user_ids", "taste", "taste_width", "loyalty")


def _read_looks(path: Path, artwork_ids: np.ndarray, user_ids: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, int, ToyTruth]:
    """Toy only: the latent style and jitter of each artwork, the number of styles, and the
    generator's hidden truth (:class:`ToyTruth`)."""
    fix = f"delete {path.parent} so the toy data is generated again"
    z = read_npz(path, ("ids", "styles", "jitter", "n_styles") + _TRUTH, fix)
    ids, styles, jitter, n_styles = z["ids"], z["styles"], z["jitter"], z["n_styles"]
    if (ids.ndim != 1 or styles.shape != ids.shape or jitter.ndim != 2 or len(jitter) != len(ids)
            or n_styles.size != 1 or not np.issubdtype(styles.dtype, np.integer)
            or not np.issubdtype(n_styles.dtype, np.integer) or not np.issubdtype(jitter.dtype, np.floating)):
        raise DataError(f"arrays do not fit together (ids {ids.shape}, styles {styles.shape} {styles.dtype}, "
                        f"jitter {jitter.shape} {jitter.dtype}, n_styles {n_styles.shape})", path=path, fix=fix)
    rows = pd.Index(ids.astype(str)).get_indexer(artwork_ids)
    if (rows < 0).any():
        raise DataError(f"artwork {artwork_ids[rows < 0][0]} has no look", path=path, fix=fix)
    latent, taste, t_users = z["latent"], z["taste"], z["user_ids"]
    if (latent.ndim != 2 or len(latent) != len(ids) or taste.ndim != 2 or taste.shape[1] != latent.shape[1]
            or t_users.shape != (len(taste),) or z["taste_width"].size != 1 or z["loyalty"].size != 1):
        raise DataError(f"the generator's truth does not fit together (latent {latent.shape}, taste {taste.shape}, "
                        f"user_ids {t_users.shape})", path=path, fix=fix)
    users = pd.Index(t_users.astype(str)).get_indexer(user_ids)
    if (users < 0).any():
        raise DataError(f"user {user_ids[users < 0][0]} has no taste", path=path, fix=fix)
    truth = ToyTruth(latent[rows].astype(np.float64), taste[users].astype(np.float64), float(z["taste_width"]),
                     float(z["loyalty"]))
    return styles[rows].astype(np.int64), jitter[rows], int(n_styles), truth


def load_ugallery(source: str = "toy", *, seed: int = 0, data_home=None, allow_pickle: bool = False,
                  **sizes) -> UGalleryData:
    """The unit-2 data set: ``source="toy"`` (generated, default) or ``"real"`` (the UGallery release).

    ``sizes`` are passed to :func:`make_toy_ugallery` (toy only). A damaged toy folder is generated
    again (see :func:`~coursekit.datasets.toy_path`).
    """
    return load_verified("ugallery", source, lambda folder: read_ugallery(folder, allow_pickle=allow_pickle),
                         seed=seed, data_home=data_home, **sizes)


# --------------------------------------------------------------------------- toy generator

def _hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 32-character hex ids, like the release's md5 hashes."""
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    ids = np.char.add(np.char.zfill(np.char.mod("%x", raw[:, 0]), 16), np.char.zfill(np.char.mod("%x", raw[:, 1]), 16))
    if len(np.unique(ids)) != n:  # practically impossible; keep ids unique anyway
        ids = np.char.add(ids[:, None].astype("<U32"), np.arange(n).astype(str)[:, None]).ravel()
    return ids


def _zipf(rng: np.random.Generator, exponent: float, size: int, cap: int) -> np.ndarray:
    """``size`` draws of a Zipf law ``P(k) ~ k^-exponent`` on ``1..cap`` (exact inverse-CDF draws)."""
    k = np.arange(1, cap + 1)
    p = k ** -float(exponent)
    return rng.choice(k, size=size, p=p / p.sum())


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
    taste_width: float = 2.75,
    loyalty: float = 1.5,
    return_prob: float = 0.405,
    basket_zipf: float = 3.0,
    max_basket: int = 21,
    initial_stock: float = 0.3,
    nuisance_dim: int = 16,
    nuisance_scale: float = 1.5,
) -> None:
    """Write a toy UGallery in the real formats, a quarter of the release's size by default
    (release: 13,297 artworks, 573 artists, 2,919 users; toy: 3,300, 143, 730).

    The mechanisms of the real gallery, each with the statistic it follows:

    * **Visual taste.** Artists paint in one of ``n_styles`` latent styles with a personal
      signature. A collector's taste is a point near one or two styles; a basket buys the
      artworks of highest utility ``-|taste - z|^2 / (2 taste_width^2) + Gumbel noise``.
      Embeddings are non-negative random projections plus noise, like ResNet50 activations, of
      the taste-relevant latent vector ``z`` *and* of ``nuisance_dim`` = 16 factors no collector
      cares about (what a CNN also sees: subject, lighting, the photograph), as strong as the
      styles. The nuisance makes visual clusters weak, as in the release (silhouette 0.008 in the
      seed's run; toy about 0.07). ``taste_width`` = 2.75 was **calibrated to** the AUC of 0.715
      that the CuratorNet authors report for content-only VisRank on the release: a toy VisRank
      near that figure is by construction, not a finding.
    * **Taste finer than clusters.** Utility falls continuously with the distance between the
      taste point and an artwork's latent vector, and KMeans clusters group artworks by that vector
      *and* by the nuisance: two works of one cluster can lie at very different distances from a
      collector's taste, as real buyers tell works of one look apart (by colour, size, price,
      artist). The generator has no separate colour, size or price; the latent distance and the
      artist (below) stand for them. The share of each collector's utility variance that lies
      within clusters is measured in unit 2, from :class:`ToyTruth` (written to ``toy_looks.npz``
      with the looks: the latent vectors, tastes, ``taste_width`` and ``loyalty``).
    * **Artist loyalty.** Collectors come back to artists they bought from: ``loyalty`` utility
      units (1.5, one and a half Gumbel scales) for every artwork by such an artist. With the
      default seed, 45 % of the purchases in a collector's later baskets are by a known artist,
      against 14 % had they picked an artwork on offer at random. The release's share is not
      published in the sources we checked (Messina et al., UMUAI 2019, found artist preference
      useful on UGallery); the value is our assumption.
    * **One-of-a-kind artworks.** ``unique_share`` = 78 % of the artworks exist once (release:
      78 %) and leave the inventory when sold; the others are editions that stay on offer and
      can sell again (toy: about 11 % of purchases are repeat sales; release: 505 of 6,535, 7.7 %).
      Nobody buys the same artwork twice.
    * **Most of the catalogue never sells.** The demand below (1.68 baskets of 1.33 items per
      collector, the release's 2.24 purchases per user) leaves about 55 % of the artworks unsold
      (release: 6,030 of 13,297 ever bought, 45 %).
    * **Uploads over time, sold-out artworks leave.** ``initial_stock`` = 30 % of the catalogue is
      on offer at time 0, the rest is uploaded uniformly over the period (an assumption: we do
      not know how the release's uploads spread over time); purchases only take what is on offer
      at that moment.
    * **Returning collectors, baskets of several items.** After each basket a collector comes
      back for another with probability ``return_prob`` = 0.405 (geometric numbers of baskets:
      mean 1.68 = the release's 4,897 baskets / 2,919 users, and 16 % of collectors with 3+
      baskets, as the release's 455 of 2,919); basket sizes follow a Zipf law of exponent
      ``basket_zipf`` = 3.0 on 1..21 (mean 1.33 = 6,535 purchases / 4,897 baskets; largest 21).

    The purchase replay is sequential by nature (a sale removes a one-of-a-kind artwork that later
    buyers would otherwise see): one vectorised step over the artworks per basket, in time order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # artworks: artists paint in one style, with a personal signature
    centers = rng.normal(0, 1.5, size=(n_styles, latent_dim))
    artist_style = rng.integers(0, n_styles, size=n_artists)
    artist_center = centers[artist_style] + rng.normal(0, 0.5, size=(n_artists, latent_dim))
    weights = rng.pareto(1.5, size=n_artists) + 0.3  # a few prolific artists, many small ones
    artist = np.sort(np.concatenate([np.arange(n_artists),  # every artist has at least one artwork
                                     rng.choice(n_artists, size=n_artworks - n_artists, p=weights / weights.sum())]))
    z = artist_center[artist] + rng.normal(0, 0.6, size=(n_artworks, latent_dim))
    styles = artist_style[artist]
    w = rng.normal(0, 1 / np.sqrt(latent_dim), size=(latent_dim, emb_dim))
    signal = z @ w
    if nuisance_dim:  # what the photo shows beyond taste: own generator, the other draws stay put
        side = np.random.default_rng([seed, 1])
        signal = signal + side.normal(0, nuisance_scale, size=(n_artworks, nuisance_dim)) @ side.normal(
            0, 1 / np.sqrt(nuisance_dim), size=(nuisance_dim, emb_dim))
    emb = np.maximum(signal + rng.normal(0, 0.8, size=(n_artworks, emb_dim)) - 0.2, 0).astype(np.float32)

    # uploads over time; one-of-a-kind artworks and editions
    horizon = 20 * n_artworks
    upload = np.where(rng.random(n_artworks) < initial_stock, 0, rng.integers(1, horizon, size=n_artworks))
    unique = rng.random(n_artworks) < unique_share

    # collectors: a taste near one or two styles; geometric numbers of baskets at distinct times
    fav = rng.integers(0, n_styles, size=(n_users, 2))
    two = rng.random(n_users) < 0.3
    taste = np.where(two[:, None], (centers[fav[:, 0]] + centers[fav[:, 1]]) / 2, centers[fav[:, 0]])
    taste = taste + rng.normal(0, 0.4, size=(n_users, latent_dim))
    n_baskets = rng.geometric(1 - return_prob, size=n_users)
    basket_user = np.repeat(np.arange(n_users), n_baskets)
    nb = len(basket_user)
    basket_time = rng.permutation(rng.choice(np.arange(horizon // 10, horizon), size=nb, replace=False))
    basket_size = _zipf(rng, basket_zipf, nb, max_basket)

    # visual utility of every basket for every artwork (n_baskets x n_artworks, small at toy scale)
    t = taste[basket_user]
    d2 = (t**2).sum(1)[:, None] + (z**2).sum(1)[None, :] - 2 * t @ z.T
    utility = -d2 / (2 * taste_width**2) + rng.gumbel(size=d2.shape)
    order = np.argsort(basket_time)
    sold = np.zeros(n_artworks, bool)  # one-of-a-kind artworks already sold
    owned = np.zeros((n_users, n_artworks), bool)
    known = np.zeros((n_users, n_artists), bool)  # artists each collector bought from
    items_of = [None] * nb
    for b in order:  # in time order: each step is vectorised over the artworks
        u = basket_user[b]
        util = utility[b] + loyalty * known[u, artist]
        util[sold | owned[u] | (upload > basket_time[b])] = -np.inf  # on offer now, not owned yet
        k = int(basket_size[b])
        top = np.argpartition(-util, k)[:k]
        top = top[np.isfinite(util[top])]
        items_of[b] = top
        sold[top[unique[top]]] = True
        owned[u, top] = True
        known[u, artist[top]] = True

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
             n_styles=np.int64(n_styles), unique=unique, latent=z, user_ids=user_ids, taste=taste,
             taste_width=np.float64(taste_width), loyalty=np.float64(loyalty))
    atomic_write_bytes(folder / TOY_LOOKS, buf.getvalue())


SPEC = register(
    DatasetSpec(
        name="ugallery",
        title="UGallery: one-of-a-kind artworks, purchases and ResNet50 embeddings",
        files=tuple(RemoteFile(n, aliases=(CURATORNET_FILES[role],)) for role, n in FILES.items()),
        unit="02",
        manual=MANUAL,
        toy=make_toy_ugallery,
        toy_version=3,  # v3: the generator's hidden truth (latent vectors, tastes) in toy_looks.npz
        layout=describe_layout,
    )
)

convert = convert_embeddings  # `coursekit data convert ugallery --allow-pickle`
