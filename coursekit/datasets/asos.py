"""Unit 5 data: the ASOS DSF 2020 fashion purchases (public, downloadable).

Real layout (``<data home>/asos/``), the files of github.com/ASOS/dsf2020 unchanged::

    dsf_asos_train_with_alphanumeric_dummy_ids.parquet   dummyUserId (bytes), productId (int32)
    dsf_asos_valid_with_alphanumeric_dummy_ids.parquet   same columns, later purchases
    dsf_asos_dummy_users_with_alphanumeric_dummy_ids.csv one user id a line, no header (text)
    dsf_asos_productIds.csv                              one product id a line, no header

The user ids are stored as bytes in the parquet files and as text in the csv: :func:`read_asos`
decodes them to ``str`` so that the three files agree. :func:`make_toy_asos` writes a small data set
in exactly this layout, with a real signal to learn (latent tastes and a popularity skew).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ._io import atomic_write_bytes, require_file
from ._registry import DatasetSpec, RemoteFile, load_verified, register

BASE_URL = "https://raw.githubusercontent.com/ASOS/dsf2020/main/"
FILES = {
    "train": ("dsf_asos_train_with_alphanumeric_dummy_ids.parquet",
              "d96096d61aff5ff2ffd2ca868ada0c3e8f13ea54a792a68770a0340a29410427"),
    "valid": ("dsf_asos_valid_with_alphanumeric_dummy_ids.parquet",
              "f4dbf22c933d4268b1ef596ced133ee92f02f13a1e8872c5ce620a1459233fc1"),
    "users": ("dsf_asos_dummy_users_with_alphanumeric_dummy_ids.csv",
              "9c524aed767df81ec204acad7b8ce243397e5c7e04761c83486b62b2004ac145"),
    "products": ("dsf_asos_productIds.csv",
                 "160c762fd03a63629fb22885734e94783434afbcb1dd3fd693838368f1a23a31"),
}
USER_COL, PRODUCT_COL = "dummyUserId", "productId"  # column names in the parquet files
FIX = "re-download the data set with `coursekit data fetch asos` (delete the damaged file first)"


@dataclass
class AsosData:
    """The unit-5 data set.

    ``train`` and ``valid``: DataFrames with columns ``user_id`` (str) and ``product_id`` (int64),
    one row per purchase. ``users``: (n_users,) str array of every user id (the csv order);
    ``products``: (n_products,) int64 array of every product id (the csv order).
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    users: np.ndarray
    products: np.ndarray
    folder: Path

    def __repr__(self) -> str:
        return (
            f"AsosData({len(self.train):,} train and {len(self.valid):,} valid purchases, "
            f"{len(self.users):,} users, {len(self.products):,} products, folder={str(self.folder)!r})"
        )


# --------------------------------------------------------------------------- reading

_HEADERS = {"dummyuserid", "userid", "user_id", "user", "productid", "product_id", "product", "id"}
_DELIMITERS = ",;\t|"


def _show(value) -> str:
    """A value for a message: a plain Python repr (not ``np.int64(3)``), long text cut short."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (str, bytes)) and len(value) > 40:
        value = value[:40] + ("..." if isinstance(value, str) else b"...")
    return repr(value)


def _decode_ids(column, path: Path, name: str) -> np.ndarray:
    """User ids as a str array: a pyarrow binary column is decoded as UTF-8 (vectorised), text is kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        try:
            column = pc.cast(column, pa.string())
        except pa.ArrowInvalid:
            raise DataError("user ids are not UTF-8 text", path=path, where=f"column {name!r}", fix=FIX) from None
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise DataError(f"user ids must be bytes or text, found {column.type}", path=path,
                        where=f"column {name!r}", fix=FIX)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"missing user id in row {row}", path=path, where=f"column {name!r}", fix=FIX)
    ids = np.asarray(column.to_numpy(zero_copy_only=False)).astype(str)
    empty = np.flatnonzero(ids == "")
    if len(empty):
        raise DataError(f"empty user id in row {int(empty[0])}", path=path, where=f"column {name!r}", fix=FIX)
    return ids


def _to_int64(values: pd.Series, path: Path, column: str | None) -> np.ndarray:
    """Product ids as an int64 array; the first value that is not an integer raises a DataError.

    ``column``: the parquet column, or None for the headerless csv (the error then names the line).
    """
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(dtype=np.int64)
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna().to_numpy() | (np.asarray(num, dtype=float) % 1 != 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = values.iloc[i]
        found = "a missing value" if pd.isna(value) else _show(value)
        raise DataError(
            f"expected integer product ids, found {found} (row {i})", path=path,
            where=f"column {column!r}" if column else f"line {i + 1}", fix=FIX,
        )
    return num.to_numpy(dtype=np.int64)


def _check_parquet_bytes(path: Path) -> None:
    """Tell a truncated download and a file of another format apart from other damage."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            fh.seek(-4, 2)
            tail = fh.read(4)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror})", path=path, fix=FIX) from None
    if not head.startswith(b"PAR1"):
        try:
            text = head.decode("utf-8").splitlines()[0]
        except (UnicodeDecodeError, IndexError):
            text = None
        kind = f"it holds text: {_show(text)} (a csv?)" if text and text.isprintable() else \
            "it does not start with the parquet magic bytes PAR1"
        raise DataError(f"not a parquet file, {kind}", path=path, fix=FIX)
    if tail != b"PAR1":
        raise DataError("truncated parquet file: it does not end with the parquet footer (an interrupted "
                        "download?)", path=path, fix=FIX)


def _read_purchases(path: Path) -> pd.DataFrame:
    require_file(path, fix=FIX)
    import pyarrow.parquet as pq

    _check_parquet_bytes(path)
    try:
        table = pq.read_table(path)
        names = table.column_names  # a damaged footer can hold names that are not UTF-8
        missing = [c for c in (USER_COL, PRODUCT_COL) if c not in names]
        if not missing:
            users, products = table.column(USER_COL).combine_chunks(), table.column(PRODUCT_COL).to_pandas()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many error types for a damaged file
        detail = (str(exc).splitlines() or [""])[0]
        raise DataError(f"damaged parquet file ({type(exc).__name__}: {detail})", path=path,
                        fix=FIX) from None
    if missing:
        raise DataError(f"expected the columns {USER_COL!r} and {PRODUCT_COL!r}, found {names}",
                        path=path, fix=FIX)
    return pd.DataFrame({
        "user_id": _decode_ids(users, path, USER_COL),
        "product_id": _to_int64(products, path, PRODUCT_COL),
    })


def _read_id_lines(path: Path) -> np.ndarray:
    """The ids of a headerless one-id-a-line csv as a str array (surrounding spaces and a BOM dropped)."""
    require_file(path, fix=FIX)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror})", path=path, fix=FIX) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", path=path, where=f"line {line}",
                        fix="save the file as UTF-8 text, or " + FIX) from None
    lines = np.array(text.rstrip().splitlines(), dtype=str)
    if not len(lines):
        raise DataError("holds no ids (only blank lines)", path=path, fix=FIX)
    lines = np.char.strip(lines)
    if lines[0].lower() in _HEADERS:
        raise DataError(f"found the header {_show(lines[0])}, but the file has one id a line and no header",
                        path=path, where="line 1", fix="delete the first line, or " + FIX)
    blank = np.flatnonzero(lines == "")
    if len(blank):
        raise DataError("empty line: expected one id a line", path=path, where=f"line {int(blank[0]) + 1}",
                        fix="delete the empty line, or " + FIX)
    for delimiter in _DELIMITERS:
        hit = np.flatnonzero(np.char.find(lines, delimiter) >= 0)
        if len(hit):
            i = int(hit[0])
            raise DataError(
                f"expected one id a line, found the delimiter {delimiter!r} in {_show(str(lines[i]))}",
                path=path, where=f"line {i + 1}",
                fix="save one id a line, without index or header, or " + FIX,
            )
    return lines


def _check_known(ids: np.ndarray, known: np.ndarray, path: Path, column: str, what: str, reason: str):
    """Every id must be in ``known``; else name the first row, the id and ``reason`` ("which is not in")."""
    unknown = pd.Index(known).get_indexer(ids) < 0  # hash look-up (np.isin on strings is quadratic-slow)
    if unknown.any():
        rows = np.flatnonzero(unknown)
        others = f"; {len(rows)} rows do so" if len(rows) > 1 else ""
        raise DataError(
            f"row {int(rows[0])} names the {what} {_show(ids[rows[0]])}, {reason}{others}",
            path=path, where=f"column {column!r}", fix=FIX,
        )


def _check_unique(ids: np.ndarray, path: Path, what: str) -> None:
    again = np.flatnonzero(pd.Index(ids).duplicated())
    if len(again):
        i = int(again[0])
        first = int(np.flatnonzero(ids == ids[i])[0])
        raise DataError(f"{what} {_show(ids[i])} is listed twice (lines {first + 1} and {i + 1})", path=path,
                        where=f"line {i + 1}", fix=FIX)


def _check_folder(folder: Path, paths: dict[str, Path]) -> None:
    """A missing folder, or a folder holding none of the four files (another data set's?), in one line."""
    if not folder.is_dir():
        raise DataError("folder not found", path=folder, fix=FIX)
    if any(p.exists() for p in paths.values()):
        return  # a single missing file is reported by the reader of that file
    others = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    held = f"the folder holds {', '.join(others[:5])}{', ...' if len(others) > 5 else ''}" if others else \
        "the folder is empty"
    raise DataError(f"file not found, nor any other ASOS file: {held}", path=paths["train"],
                    fix=f"point to the folder of the ASOS files, or {FIX}")


def read_asos(folder: str | Path) -> AsosData:
    """Read the four ASOS files from ``folder`` (layout in the module docstring).

    Checks that every user and product of train and valid is in the id lists, and that every valid
    user has train purchases; any malformed file is a one-line DataError naming the file, the column
    or line, and the first bad value.
    """
    folder = Path(folder)
    paths = {key: folder / name for key, (name, _) in FILES.items()}
    _check_folder(folder, paths)
    users = _read_id_lines(paths["users"])
    products = _to_int64(pd.Series(_read_id_lines(paths["products"])), paths["products"], None)
    _check_unique(users, paths["users"], "user id")
    _check_unique(products, paths["products"], "product id")
    frames = {}
    for key in ("train", "valid"):
        frame = _read_purchases(paths[key])
        _check_known(frame["user_id"].to_numpy(), users, paths[key], USER_COL, "user",
                     f"which is not in {paths['users'].name}")
        _check_known(frame["product_id"].to_numpy(), products, paths[key], PRODUCT_COL, "product",
                     f"which is not in {paths['products'].name}")
        frames[key] = frame
    _check_known(frames["valid"]["user_id"].to_numpy(), pd.unique(frames["train"]["user_id"]), paths["valid"],
                 USER_COL, "user",
                 f"who has no purchase in {paths['train'].name} (every valid user must be a train user)")
    return AsosData(frames["train"], frames["valid"], users, products, folder)


def load_asos(source: str = "toy", *, seed: int = 0, data_home=None, **sizes) -> AsosData:
    """The unit-5 data set: ``source="toy"`` (generated, the default) or ``"real"`` (downloaded).

    ``sizes`` go to :func:`make_toy_asos` (toy only): ``n_users``, ``n_products``, ... A damaged toy
    folder is generated again (see :func:`~coursekit.datasets.toy_path`).
    """
    return load_verified("asos", source, read_asos, seed=seed, data_home=data_home, **sizes)


# --------------------------------------------------------------------------- toy generator

def _write_parquet(path: Path, users: np.ndarray, products: np.ndarray) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        USER_COL: pa.array([u.encode("ascii") for u in users], type=pa.binary()),
        PRODUCT_COL: pa.array(products.astype(np.int32), type=pa.int32()),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write_bytes(path, buf.getvalue())


_TOY_BLOCK = 2048  # users per block of the toy generator (2048 x 29,696 float64 = 0.5 GB)


def make_toy_asos(
    folder: str | Path,
    seed: int = 0,
    n_users: int = 3000,
    n_products: int = 1500,
    n_styles: int = 12,
    latent_dim: int = 16,
    mean_purchases: float = 5.0,
    valid_fraction: float = 0.3,
    taste_strength: float = 6.0,
    popularity_skew: float = 0.7,
) -> None:
    """Write a toy ASOS data set in the real file formats (parquet with bytes ids, headerless csv).

    Products belong to ``n_styles`` latent styles; each user likes one or two styles. A user's
    utility for a product is ``taste_strength`` x the cosine of their latent vectors, plus
    ``popularity_skew`` x a log-normal log-popularity, plus Gumbel noise; each user buys the
    products of highest utility (between 1 and ~4 x ``mean_purchases``, geometric). About
    ``valid_fraction`` of the users get their last one or two purchases moved to valid, so that,
    as in the real data, every valid user is in train and no valid purchase repeats a train one.

    What the toy figures are *calibrated to* (so a notebook must not present them as findings):
    ``taste_strength`` and ``popularity_skew`` were set (from 2.5 and 1.0 to 6.0 and 0.7) so that
    personalised models beat popularity by a clear margin, as the course asks of every toy data
    set; with the first values user-kNN reached about 0.6 x popularity's HR@10 on the toy test
    purchases, with these about 3 x. How far a model leads popularity on toy data, and the share
    of purchases that goes to best sellers (set by ``popularity_skew``), follow from that choice.
    The purchase model itself (a dot product of taste and style vectors plus log-popularity) is
    the form a retrieval model fits, which favours retrieval models on toy data by construction.
    Nothing here is fitted to the real data's figures beyond the file formats and the train /
    valid structure.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_styles, latent_dim))
    styles = rng.integers(0, n_styles, size=n_products)
    items = centers[styles] + 0.6 * rng.normal(size=(n_products, latent_dim))
    fav = rng.integers(0, n_styles, size=(n_users, 2))
    two = rng.random(n_users) < 0.4
    tastes = centers[fav[:, 0]] + two[:, None] * centers[fav[:, 1]] + 0.5 * rng.normal(size=(n_users, latent_dim))
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    tastes /= np.linalg.norm(tastes, axis=1, keepdims=True)
    log_pop = rng.normal(0.0, 1.0, size=n_products)
    # each user's `cap` best products, in blocks of users so that memory stays bounded at real
    # size (43,607 x 29,696); the Gumbel draws follow one another as in a single (n_users,
    # n_products) draw, so the bytes do not depend on the block size
    cap = min(max(int(4 * mean_purchases), 1), n_products)
    ranked = np.empty((n_users, cap), np.int64)
    for s in range(0, n_users, _TOY_BLOCK):
        e = min(s + _TOY_BLOCK, n_users)
        utility = (taste_strength * tastes[s:e] @ items.T + popularity_skew * log_pop[None, :]
                   + rng.gumbel(size=(e - s, n_products)))
        part = np.argpartition(-utility, cap - 1, axis=1)[:, :cap] if cap < n_products else \
            np.broadcast_to(np.arange(n_products), utility.shape)
        order = np.argsort(-np.take_along_axis(utility, part, axis=1), axis=1)
        ranked[s:e] = np.take_along_axis(part, order, axis=1)
    n_buy = np.minimum(rng.geometric(1.0 / mean_purchases, size=n_users), int(4 * mean_purchases))
    n_buy = np.maximum(n_buy, 1)
    # shuffle each user's bought products so the train/valid split is not "best first"
    width = int(n_buy.max())
    top = ranked[:, :width]
    keys = rng.random(top.shape) + (np.arange(width)[None, :] >= n_buy[:, None])  # bought first
    top = np.take_along_axis(top, np.argsort(keys, axis=1), axis=1)
    n_valid = np.where((rng.random(n_users) < valid_fraction) & (n_buy >= 2),
                       np.minimum(rng.integers(1, 3, size=n_users), n_buy - 1), 0)
    col = np.arange(width)[None, :]
    in_valid = col < n_valid[:, None]
    in_train = (col >= n_valid[:, None]) & (col < n_buy[:, None])

    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    user_ids = np.array(["".join(r) for r in letters[rng.integers(0, len(letters), size=(n_users, 20))]])
    product_ids = np.sort(rng.choice(np.arange(5_000_000, 13_000_000), size=n_products, replace=False))
    rows = np.broadcast_to(np.arange(n_users)[:, None], top.shape)

    for key, mask in (("train", in_train), ("valid", in_valid)):
        order = rng.permutation(int(mask.sum()))  # the real files are not sorted by user
        _write_parquet(folder / FILES[key][0], user_ids[rows[mask]][order], product_ids[top[mask]][order])
    atomic_write_bytes(folder / FILES["users"][0], ("\n".join(user_ids) + "\n").encode())
    atomic_write_bytes(folder / FILES["products"][0], ("\n".join(map(str, product_ids)) + "\n").encode())


SPEC = register(
    DatasetSpec(
        name="asos",
        title="ASOS DSF 2020: fashion purchases (user id, product id), train and valid",
        files=tuple(RemoteFile(name, BASE_URL + name, sha) for name, sha in FILES.values()),
        unit="05",
        homepage="https://github.com/ASOS/dsf2020",
        toy=make_toy_asos,
        toy_version=2,
    )
)
