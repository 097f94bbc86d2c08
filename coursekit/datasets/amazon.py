"""Unit 3 data: Amazon product image features (``.b``) and metadata (``meta_*.json.gz``).

Real layout (``<data home>/amazon/``), as McAuley et al. released it::

    image_features_Musical_Instruments.b      binary: 10-byte ASIN, then 4096 little-endian
                                              float32 (the FC7 output of the Caffe reference
                                              model, an AlexNet-style CNN), repeated
    meta_Musical_Instruments.json.gz          gzipped text, one product per line: a Python-literal
                                              dict (single quotes), e.g. {'asin': 'B0002E1G5C',
                                              'related': {'also_bought': [...]},
                                              'categories': [['Musical Instruments', 'Guitars']],
                                              'imUrl': 'http://...'}

``categories`` is a list of category paths, top level first (``[['Musical Instruments',
'Instrument Accessories', 'Guitar & Bass Accessories', ...], ...]``); the unit's sub-category is
the second level. Some products have only top-level paths (``[['Toys & Games']]``) or none.

The later (2018) releases write strict JSON lines instead (``"also_buy"``, ``"category"``);
:func:`iter_metadata` reads both. Python literals are parsed with :func:`ast.literal_eval`, which
accepts only literals: ``eval`` would run any code a line of the file holds.

The toy version (:func:`make_toy_amazon`) writes the same two files (plus a strict-JSON copy of the
metadata and small PNG images) from latent styles, so the same readers serve both sources.
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import DataError
from ..images import render_artwork, save_png, style_look
from ._io import read_json, read_matrix, require_file
from ._registry import DatasetSpec, RemoteFile, load_verified, register

FILES = {
    "features": "image_features_Musical_Instruments.b",
    "meta": "meta_Musical_Instruments.json.gz",
}
TOY_JSON_META = "meta_Musical_Instruments.strict.json.gz"  # toy only: the strict-JSON variant
FEATURE_DIM = 4096
ASIN_BYTES = 10
MANUAL = (
    "the Amazon product data (McAuley et al.) is released after a request form at "
    "cseweb.ucsd.edu/~jmcauley/datasets.html: put image_features_Musical_Instruments.b and "
    "meta_Musical_Instruments.json.gz into <data home>/amazon"
)
TOY_CATEGORIES = (
    "Guitars", "Instrument Accessories", "Amplifiers & Effects", "Drums & Percussion", "Keyboards",
)


# --------------------------------------------------------------------------- binary features

def _record_dtype(dim: int) -> np.dtype:
    # packed (no padding): itemsize is exactly 10 + 4 * dim bytes, the on-disk record
    return np.dtype([("asin", f"S{ASIN_BYTES}"), ("x", "<f4", (dim,))])


def _at(record: int, itemsize: int) -> str:
    return f"record {record} at byte {record * itemsize}"


def _keep_array(keep) -> np.ndarray:
    # ASINs that can occur in the file: ASCII, 1 to 10 characters (others cannot match a record;
    # encoding them to S10 would fail or truncate them into false matches)
    ok = [k for k in map(str, keep) if 0 < len(k) <= ASIN_BYTES and k.isascii()]
    return np.unique(np.asarray(ok, dtype=f"S{ASIN_BYTES}"))


def _check_asins(chunk: np.ndarray, start: int, path: Path, dim: int) -> None:
    """Every ASIN of a chunk is 1 to 10 printable ASCII characters, NUL-padded (vectorised)."""
    size = chunk.dtype.itemsize
    b = chunk.view(np.uint8).reshape(len(chunk), size)[:, :ASIN_BYTES]
    nul = b == 0
    ok = (((b > 0x20) & (b < 0x7F)) | nul).all(1) & (nul == np.logical_or.accumulate(nul, axis=1)).all(1)
    empty = nul[:, 0]
    bad = np.flatnonzero(~ok | empty)
    if len(bad):
        i = int(bad[0])
        what = ("the ASIN is empty (10 NUL bytes)" if empty[i] else
                f"the ASIN is not 1 to {ASIN_BYTES} printable ASCII characters: {bytes(b[i])!r}")
        raise DataError(
            f"{what}; each record is a {ASIN_BYTES}-byte ASCII ASIN + {dim} float32",
            path=path, where=_at(start + i, size),
            fix=f"fetch the file again; if it is intact, check it is an image-feature file with {dim}-d "
                "vectors (dim=...)",
        )


def _check_unique(asins: np.ndarray, records: np.ndarray, path: Path, itemsize: int) -> None:
    """No ASIN twice (vectorised); the error names the second record and the first."""
    order = np.argsort(asins, kind="stable")
    same = np.flatnonzero(asins[order][1:] == asins[order][:-1])
    if len(same):
        first, second = records[order[same]], records[order[same + 1]]
        k = int(np.argmin(second))  # the earliest repeat in file order
        dup = asins[order[same[k]]].decode("ascii")
        raise DataError(
            f"the ASIN of record {int(first[k])} ({dup!r}) appears again; each product has one record",
            path=path, where=_at(int(second[k]), itemsize),
            fix="fetch the file again (records must have distinct ASINs)",
        )


def read_image_features(
    path: str | os.PathLike,
    *,
    dim: int = FEATURE_DIM,
    keep=None,
    chunk_records: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Stream the binary image-feature file into one preallocated float32 array.

    Each record is a 10-byte ASCII ASIN followed by ``dim`` little-endian float32 values. The
    file is read ``chunk_records`` records at a time into a reusable buffer, so memory is the
    output array plus one chunk (the seed built a Python list of 4096 floats, then a tensor, per
    item).

    Parameters
    ----------
    path : the ``.b`` file.
    dim : feature dimension (4096 for the McAuley files).
    keep : optional iterable of ASINs; only those records are kept (the rest are skipped while
        streaming, so a large file never needs to fit in memory whole). ASINs that cannot occur in
        the file (not ASCII, empty, longer than 10 characters) simply match nothing.

    Returns
    -------
    features : float32 (n, dim), C-contiguous, in file order.
    asins : str array (n,), ``asins[i]`` is the product of row ``i``.

    Raises
    ------
    DataError naming the file and the record (counted from 0) when the file ends inside a
    record, an ASIN is empty or not printable ASCII, an ASIN repeats, or a kept value is NaN /
    infinite.
    """
    path = require_file(path, fix=MANUAL)
    rec = _record_dtype(dim)
    size = path.stat().st_size
    n_records, rest = divmod(size, rec.itemsize)
    if rest:
        raise DataError(
            f"truncated: the file ends {rest} bytes into record {n_records} (counting from 0; "
            f"each record is {rec.itemsize} bytes = {ASIN_BYTES}-byte ASIN + {dim} float32)",
            path=path, where=_at(n_records, rec.itemsize),
            fix=f"the file was cut short (interrupted download or copy): fetch it again; if it is "
                f"intact, the vectors are not {dim}-d (dim=...)",
        )
    keep_arr = None if keep is None else _keep_array(keep)
    n_out = n_records if keep_arr is None else min(n_records, len(keep_arr))
    features = np.empty((n_out, dim), dtype=np.float32)
    asins = np.empty(n_out, dtype=f"S{ASIN_BYTES}")
    records = np.empty(n_out, dtype=np.int64)  # file record of each output row, for messages
    buf = np.empty(max(1, int(chunk_records)), dtype=rec)
    row = 0
    with open(path, "rb") as fh:
        for start in range(0, n_records, len(buf)):
            chunk = buf[: min(len(buf), n_records - start)]
            got = fh.readinto(chunk.view(np.uint8))
            if got != chunk.nbytes:  # the file shrank while we read it
                bad = start + got // rec.itemsize
                raise DataError(f"truncated: the file ends inside record {bad} (counting from 0)",
                                path=path, where=_at(bad, rec.itemsize), fix="fetch the file again")
            _check_asins(chunk, start, path, dim)
            if keep_arr is None:
                idx, sel = np.arange(len(chunk)), chunk  # no copy
            else:
                idx = np.flatnonzero(np.isin(chunk["asin"], keep_arr))
                sel = chunk[idx]
            x = sel["x"]
            finite = np.isfinite(x).all(axis=1)
            if not finite.all():
                bad = start + int(idx[np.argmin(finite)])
                raise DataError(f"holds NaN or infinite feature values (in the {dim} float32 after the ASIN)",
                                path=path, where=_at(bad, rec.itemsize), fix="fetch the file again")
            if row + len(sel) > n_out:  # more records than wanted ASINs: one repeats
                _check_unique(np.concatenate([asins[:row], sel["asin"]]),
                              np.concatenate([records[:row], start + idx]), path, rec.itemsize)
            features[row: row + len(sel)] = x
            asins[row: row + len(sel)] = sel["asin"]
            records[row: row + len(sel)] = start + idx
            row += len(sel)
    features, asins = features[:row], asins[:row]
    _check_unique(asins, records[:row], path, rec.itemsize)
    return features, asins.astype(f"U{ASIN_BYTES}")  # ASCII: checked per chunk


def write_image_features(path: str | os.PathLike, asins, features: np.ndarray) -> None:
    """Write ``features`` (n, dim) with their ASINs in the binary format (atomically).

    ASINs must be ASCII and at most 10 characters (shorter ones are padded with NUL bytes).
    """
    path = Path(path)
    x = np.asarray(features, dtype="<f4")
    a = np.asarray(asins, dtype=str)
    if x.ndim != 2 or len(a) != len(x):
        raise ValueError(f"need (n, dim) features and n ASINs, got {x.shape} and {a.shape}")
    out = np.empty(len(x), dtype=_record_dtype(x.shape[1]))
    out["asin"] = np.char.encode(a, "ascii")
    out["x"] = x
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            out.tofile(fh)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


# --------------------------------------------------------------------------- metadata

def _parse_line(text: str, fmt: str):
    if fmt in ("auto", "json"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            if fmt == "json":
                raise ValueError(f"not valid JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    try:
        return ast.literal_eval(text)  # literals only: never eval
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        what = "neither JSON nor a Python literal" if fmt == "auto" else "not a Python literal"
        detail = " ".join(str(exc).split())  # one line
        node = re.search(r"<ast\.(\w+) object", detail)
        if node:  # e.g. a call or a name: code, which literal_eval refuses to run
            detail = f"code, not a literal: {node.group(1)}"
        detail = detail[:80]
        raise ValueError(f"{what} ({type(exc).__name__}: {detail})") from None


def iter_metadata(path: str | os.PathLike, *, fmt: str = "auto") -> Iterator[dict]:
    """Yield one dict per product from a gzipped metadata file.

    ``fmt`` is ``"python"`` (the 2014 files: Python-literal dicts, parsed with
    ``ast.literal_eval``), ``"json"`` (strict JSON lines, the 2018 files) or ``"auto"`` (JSON
    first, then a Python literal, line by line). Blank lines are skipped. Every problem (not
    gzip, a cut-off stream, bad UTF-8, a line that does not parse, a line that is not a dict with
    a non-empty ASCII ``asin``) raises a DataError naming the file and the line (counted from 1).
    """
    for _, item in _numbered_metadata(path, fmt=fmt):
        yield item


_META_FIX = "fetch the file again; if you edited it, each line must be one dict with an 'asin'"


def _numbered_metadata(path: str | os.PathLike, *, fmt: str = "auto") -> Iterator[tuple[int, dict]]:
    """:func:`iter_metadata` with the line number (from 1) of each product."""
    if fmt not in ("auto", "python", "json"):
        raise ValueError(f"fmt must be 'auto', 'python' or 'json', not {fmt!r}")
    path = require_file(path, fix=MANUAL)
    fix = _META_FIX
    number = 0
    try:
        with gzip.open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    text = raw.decode("utf-8").strip()
                except UnicodeDecodeError as exc:
                    raise DataError(f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 4]!r})",
                                    path=path, where=f"line {number}", fix=fix) from None
                if not text:
                    continue
                try:
                    item = _parse_line(text, "python" if fmt == "python" else fmt)
                except ValueError as exc:
                    raise DataError(str(exc), path=path, where=f"line {number}", fix=fix) from None
                if not isinstance(item, dict):
                    raise DataError(f"expected a dict with a string 'asin', found a {type(item).__name__}",
                                    path=path, where=f"line {number}", fix=fix)
                if "asin" not in item:
                    keys = ", ".join(map(repr, list(item)[:5])) or "none"
                    raise DataError(f"expected a dict with a string 'asin', found keys {keys}",
                                    path=path, where=f"line {number}", fix=fix)
                asin = item["asin"]
                if not (isinstance(asin, str) and asin and asin.isascii()):
                    raise DataError(f"'asin' must be a non-empty ASCII string, found {_show(asin)}",
                                    path=path, where=f"line {number}", fix=fix)
                yield number, item
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"broken gzip stream ({type(exc).__name__}: {exc})", path=path,
                        where=f"line {number + 1}", fix="fetch the file again (it is cut short or not gzip)") from None


def _show(value) -> str:
    text = " ".join(repr(value).split())  # one line
    return text if len(text) <= 40 else text[:37] + "..."


def _field(item: dict, key: str, ok, expected: str, value=None):
    """``item[key]`` (``None`` when absent or null), or ValueError when it has the wrong type."""
    value = item.get(key) if value is None else value
    if value is not None and not ok(value):
        raise ValueError(f"field {key!r} must be {expected}, found {type(value).__name__} {_show(value)}")
    return value


def _str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _sub_category(item: dict) -> tuple[str, int]:
    """(sub-category, depth of the deepest category path): the second level of the first path when
    it has one, else the second level of the deepest other path, else ``""``."""
    cats = _field(item, "categories", lambda v: isinstance(v, list) and all(map(_str_list, v)),
                  "a list of category paths (lists of strings)")
    if cats:  # 2014: [['Musical Instruments', 'Guitars', ...], ...]
        depth = max(map(len, cats))
        if len(cats[0]) >= 2:
            return cats[0][1], depth
        if depth >= 2:  # the first path is top level only, e.g. [['Toys & Games'], [..., 'Guitars']]
            return next(path for path in cats if len(path) == depth)[1], depth
    flat = _field(item, "category", _str_list, "a list of strings")  # 2018: ['Musical Instruments', ...]
    if flat and len(flat) >= 2:
        return flat[1], len(flat)
    return "", max(len(flat or []), max(map(len, cats)) if cats else 0)


def _also_bought(item: dict) -> list:
    related = _field(item, "related", lambda v: isinstance(v, dict), "a dict")
    if related is not None and related.get("also_bought") is not None:
        return _field(item, "related.also_bought", _str_list, "a list of ASIN strings",
                      related["also_bought"])
    return _field(item, "also_buy", _str_list, "a list of ASIN strings") or []


def _image_url(item: dict) -> str:
    url = _field(item, "imUrl", lambda v: isinstance(v, str), "a string")
    if url is not None:
        return url
    for key in ("imageURLHighRes", "imageURL"):
        urls = _field(item, key, _str_list, "a list of strings")
        if urls:
            return urls[0]
    return ""


def read_metadata(path: str | os.PathLike, *, fmt: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a metadata file into two tables.

    Returns
    -------
    items : DataFrame with one row per product: ``asin`` (str), ``sub_category`` (str, the
        second level of the first category path that has one, else of the deepest path; ``""``
        when every path has only its top level or there is none), ``category_depth`` (int64, the
        number of levels of the deepest path, 0 without categories), ``image`` (URL or relative
        path, ``""`` when absent).
    links : DataFrame of the ``also_bought`` relations: ``asin``, ``other`` (str), one row per link,
        in file order (links may point to products without features or metadata).

    Fields the kit does not read (``price``, ``title``, ``salesRank``, ...) are ignored; the ones it
    reads (``categories`` / ``category``, ``related.also_bought`` / ``also_buy``, ``imUrl`` /
    ``imageURL``) may be absent or null but must have their documented types, else a DataError
    names the line, the asin and the field.
    """
    asins, subs, depths, images, src, dst = [], [], [], [], [], []
    for number, item in _numbered_metadata(path, fmt=fmt):
        try:
            (sub, depth), image, others = _sub_category(item), _image_url(item), _also_bought(item)
        except ValueError as exc:
            raise DataError(str(exc), path=path, where=f"line {number}, asin {item['asin']!r}",
                            fix=_META_FIX + "; the fields the kit reads must keep their types") from None
        asins.append(item["asin"])
        subs.append(sub)
        depths.append(depth)
        images.append(image)
        src.extend([item["asin"]] * len(others))
        dst.extend(others)
    items = pd.DataFrame({"asin": asins, "sub_category": subs, "category_depth": np.asarray(depths, np.int64),
                          "image": images})
    links = pd.DataFrame({"asin": src, "other": dst}, dtype=object)
    return items, links


# --------------------------------------------------------------------------- the data set

@dataclass
class AmazonData:
    """The unit-3 data set: products with image features, their sub-category and links.

    ``features[i]`` (float32, 4096-d) is product ``asins[i]``; ``sub_category[i]`` its
    sub-category (``""`` when unknown); ``links`` the raw ``also_bought`` table (columns
    ``asin``, ``other``), including links to products without features. ``dropped`` counts what
    :func:`read_amazon` left out, by reason (see :meth:`summary`).
    """

    features: np.ndarray
    asins: np.ndarray
    sub_category: np.ndarray
    images: np.ndarray
    links: pd.DataFrame
    folder: Path
    styles: np.ndarray | None = field(default=None, repr=False)  # toy only: latent style per row
    style_partner: np.ndarray | None = field(default=None, repr=False)  # toy only: per style
    dropped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self._index = pd.Index(self.asins)

    def summary(self) -> dict[str, int]:
        """Products kept, sub-categories, links, and what was dropped on reading (by reason)."""
        out = {"products": len(self), "sub-categories": len(self.categories), "also_bought links": len(self.links)}
        out.update({f"dropped: {reason}": n for reason, n in self.dropped.items()})
        return out

    def __repr__(self) -> str:
        dropped = sum(self.dropped.values())
        return (f"AmazonData({len(self):,} products with {self.features.shape[1]}-d features, "
                f"{len(self.categories)} sub-categories, {len(self.links):,} also_bought links"
                f"{f'; {dropped:,} products or records dropped (see summary())' if dropped else ''}, "
                f"folder={str(self.folder)!r})")

    def __len__(self) -> int:
        return len(self.asins)

    @property
    def categories(self) -> list[str]:
        return sorted(set(self.sub_category.tolist()) - {""})

    def index_of(self, asins) -> np.ndarray:
        """Row of each ASIN (int64), ``-1`` for products without features (vectorised)."""
        return self._index.get_indexer(np.asarray(asins, dtype=object)).astype(np.int64)

    def category_codes(self) -> np.ndarray:
        """int64 (n,) code of each row's sub-category in :attr:`categories`, ``-1`` when unknown."""
        return pd.Categorical(self.sub_category, categories=self.categories).codes.astype(np.int64)

    def link_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows (int64) of both ends of every ``also_bought`` link, ``-1`` where a product has no
        features. Use :func:`coursekit.sampling.pairs.positive_pairs` to clean them."""
        return self.index_of(self.links["asin"].to_numpy()), self.index_of(self.links["other"].to_numpy())

    def toy_compatible(self, rows_a, rows_b) -> np.ndarray:
        """Toy data only: bool array, True where the generator made the two rows' latent styles
        compatible (the same style, or partner styles)."""
        if self.styles is None or self.style_partner is None:
            raise ValueError("latent styles are known for toy data only")
        a, b = self.styles[np.asarray(rows_a)], self.styles[np.asarray(rows_b)]
        return (a == b) | (self.style_partner[a] == b)

    def image_source(self, row: int) -> str:
        """URL or path (relative to :attr:`folder`) of a row's image, ``""`` when unknown."""
        return str(self.images[int(row)])


def read_amazon(folder: str | Path, *, fmt: str = "auto", require_category: bool = True,
                dim: int = FEATURE_DIM) -> AmazonData:
    """Read the metadata, then stream the features of the products it describes.

    With ``require_category`` (the default, as in the seed) only products that have a
    sub-category keep their features, so hard negatives can always be drawn. The sub-category is
    the second level of the first category path; when that path has only its top level (e.g.
    ``[['Toys & Games']]``), the second level of the deepest other path; products with no second
    level anywhere are dropped, and one warning says how many and why.

    Dropped by design, not errors (the real files are like this): products in the metadata without
    a feature record, feature records of products the metadata does not describe (or describes
    without a sub-category), and repeated metadata lines (the first one wins); ``links`` keep links
    to unknown products (their rows are ``-1`` in :meth:`AmazonData.link_rows`). Each count is in
    :attr:`AmazonData.dropped`. A DataError is raised when nothing is left: no product in the
    metadata, none with a sub-category, or no feature record matching one.
    """
    folder = Path(folder)
    meta_path, features_path = folder / FILES["meta"], folder / FILES["features"]
    items, links = read_metadata(meta_path, fmt=fmt)
    dropped = {"repeated metadata lines": int(items["asin"].duplicated().sum())}
    items = items.drop_duplicates("asin", keep="first")
    n_meta = len(items)
    if not n_meta:
        raise DataError("holds no product (only blank lines)", path=meta_path,
                        fix="fetch the file again (meta_Musical_Instruments.json.gz)")
    if require_category:
        none = items["sub_category"] == ""
        top_only = int((none & (items["category_depth"] == 1)).sum())
        no_cats = int((none & (items["category_depth"] == 0)).sum())
        dropped["no sub-category: only top-level category paths"] = top_only
        dropped["no sub-category: no category at all"] = no_cats
        if none.all():
            raise DataError(
                f"none of the {n_meta} products has a sub-category (a second level in 'categories' "
                f"or 'category'; {top_only} have only top-level paths, {no_cats} no category)", path=meta_path,
                fix="use the Musical Instruments metadata of McAuley et al., or pass require_category=False",
            )
        if none.any():
            import warnings

            warnings.warn(
                f"{meta_path}: {top_only + no_cats:,} of {n_meta:,} products are dropped because they have no "
                f"sub-category ({top_only:,} have only top-level category paths such as [['Toys & Games']], "
                f"{no_cats:,} no category at all); pass require_category=False to keep them", stacklevel=2)
        items = items[~none]
    # metadata products without features are dropped (documented): only products in both files count
    features, asins = read_image_features(features_path, dim=dim, keep=items["asin"])
    dropped["metadata without a feature record"] = len(items) - len(asins)
    dropped["feature records not used"] = features_path.stat().st_size // _record_dtype(dim).itemsize - len(asins)
    if not len(asins):
        raise DataError(
            f"no record matches a product of {FILES['meta']} ({len(items)} products"
            f"{' with a sub-category' if require_category else ''}): the two files do not belong together",
            path=features_path,
            fix=f"put the image features and the metadata of the same category into {folder}",
        )
    info = items.set_index("asin").reindex(asins)
    styles = partner = None
    styles_file = folder / "toy_styles.npy"
    if styles_file.exists():
        styles, partner = _toy_styles(folder, asins)
    return AmazonData(
        features=features,
        asins=asins,
        sub_category=info["sub_category"].fillna("").to_numpy(dtype=object),
        images=info["image"].fillna("").to_numpy(dtype=object),
        links=links,
        folder=folder,
        styles=styles,
        style_partner=partner,
        dropped={reason: n for reason, n in dropped.items() if n},
    )


def _toy_styles(folder: Path, asins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Toy only: the latent style of each row and the partner of each style."""
    fix = f"delete {folder} so the toy data is generated again"
    toy_asins = read_json(folder / "toy_asins.json", fix=fix)
    if not (isinstance(toy_asins, list) and all(isinstance(a, str) for a in toy_asins)
            and len(set(toy_asins)) == len(toy_asins)):
        raise DataError("does not match the toy data (expected a list of distinct ASINs)",
                        path=folder / "toy_asins.json", fix=fix)
    toy_styles = read_matrix(folder / "toy_styles.npy", fix, ndim=1)  # aligned with toy_asins.json
    partner = read_matrix(folder / "toy_partner.npy", fix, ndim=1)
    if len(toy_styles) != len(toy_asins) or not np.issubdtype(toy_styles.dtype, np.integer):
        raise DataError(f"does not match the toy data ({len(toy_styles)} styles for {len(toy_asins)} ASINs)",
                        path=folder / "toy_styles.npy", fix=fix)
    if (not np.issubdtype(partner.dtype, np.integer) or toy_styles.min(initial=0) < 0
            or toy_styles.max(initial=0) >= len(partner) or partner.min(initial=0) < 0
            or partner.max(initial=0) >= len(partner)):
        raise DataError(f"does not match the toy data ({len(partner)} partners for styles up to "
                        f"{toy_styles.max(initial=0)})", path=folder / "toy_partner.npy", fix=fix)
    styles = pd.Series(toy_styles, index=toy_asins).reindex(asins).to_numpy()
    if pd.isna(styles).any():
        raise DataError("does not match the toy data (a product has no style)", path=folder / "toy_asins.json",
                        fix=fix)
    return styles.astype(np.int64), partner.astype(np.int64)


def load_amazon(source: str = "toy", *, seed: int = 0, data_home=None, fmt: str = "auto",
                **sizes) -> AmazonData:
    """The unit-3 data set: ``source="toy"`` (generated, default) or ``"real"`` (Musical
    Instruments files under ``<data home>/amazon``). ``sizes`` go to :func:`make_toy_amazon`."""
    dim = int(sizes.get("dim", FEATURE_DIM)) if source == "toy" else FEATURE_DIM
    # a damaged toy folder is generated again (see coursekit.datasets.toy_path)
    return load_verified("amazon", source, lambda folder: read_amazon(folder, fmt=fmt, dim=dim), seed=seed,
                         data_home=data_home, **sizes)


# --------------------------------------------------------------------------- toy generator

def make_toy_amazon(
    folder: str | Path,
    seed: int = 0,
    n_items: int = 3000,
    n_styles: int = 15,
    n_categories: int = 5,
    links_per_item: int = 6,
    latent_dim: int = 16,
    dim: int = FEATURE_DIM,
    image_size: int = 32,
) -> None:
    """Write a toy Musical-Instruments data set in the real formats (a few seconds).

    - Each product has a latent style (``n_styles``); each style belongs mostly to one of
      ``n_categories`` sub-categories (guitars, accessories, ...); 15 % of products get a random one.
    - Image features look like FC7 activations (non-negative, sparse, 4096-d): random
      projections of (style centre + category centre + noise) with feature noise, cut at zero.
    - Style compatibility: a style goes with itself and with one partner style. Each product's
      ``also_bought`` list (2 to ``2 * links_per_item`` links) picks compatible products, nearer
      ones in latent space more often. 3 % of products have metadata but no features, and a few
      links point to ASINs that exist nowhere (as in the real files).
    - Metadata is written as Python-literal lines (the real 2014 format) and, as a strict-JSON
      copy, ``meta_Musical_Instruments.strict.json.gz``; each product gets a small PNG whose
      look follows its style.

    The generator copies the real files' formats and mechanisms (links between products of
    compatible styles, sub-categories that mostly follow the style, products without features,
    links to unknown ASINs), but it is calibrated to no figure of the real Musical Instruments
    files: its shares (five sub-categories of about equal size, 85 % of products put in their
    style's sub-category and the rest in a random one, two compatible styles out of
    ``n_styles``, 3 % of products without features) are design choices. A figure they fix (the share of random pairs in different
    sub-categories, or of random pairs that are compatible) is set by this design, not found in
    the data, and the notebook says so where it shows one.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    n_categories = min(n_categories, len(TOY_CATEGORIES))
    style_centre = rng.normal(0, 1.0, size=(n_styles, latent_dim))
    cat_centre = rng.normal(0, 0.7, size=(n_categories, latent_dim))
    style_cat = np.arange(n_styles) % n_categories
    partner = np.arange(n_styles) ^ 1  # 0-1, 2-3, ...: complementary styles
    partner[partner >= n_styles] = n_styles - 1
    styles = rng.integers(0, n_styles, size=n_items)
    cats = np.where(rng.random(n_items) < 0.85, style_cat[styles], rng.integers(0, n_categories, n_items))
    z = style_centre[styles] + cat_centre[cats] + rng.normal(0, 0.45, size=(n_items, latent_dim))

    w = rng.normal(0, 1 / np.sqrt(latent_dim), size=(latent_dim, dim)).astype(np.float32)
    feats = z.astype(np.float32) @ w
    feats += rng.standard_normal((n_items, dim), dtype=np.float32) * 0.8
    np.maximum(feats - 0.5, 0, out=feats)

    asins = np.array([f"B{n:09d}" for n in rng.choice(10**9, size=n_items + 40, replace=False)])
    ghost = asins[n_items:]  # linked to, but with neither features nor metadata
    asins = asins[:n_items]

    # also_bought: compatible products, nearer in latent space more often (Gumbel top-k)
    compatible = (styles[:, None] == styles[None, :]) | (partner[styles][:, None] == styles[None, :])
    np.fill_diagonal(compatible, False)
    sq = (z * z).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * z @ z.T
    score = np.where(compatible, -d2 / 8.0 + rng.gumbel(size=d2.shape), -np.inf)
    k_max = 2 * links_per_item
    top = np.argpartition(-score, k_max - 1, axis=1)[:, :k_max]
    top_score = np.take_along_axis(score, top, axis=1)
    order = np.argsort(-top_score, axis=1)
    top = np.take_along_axis(top, order, axis=1)
    n_links = rng.integers(2, k_max + 1, size=n_items)
    keep = (np.arange(k_max)[None, :] < n_links[:, None]) & np.isfinite(
        np.take_along_axis(top_score, order, axis=1))
    other = np.where(keep, asins[top], "")
    add_ghost = rng.random(n_items) < 0.05

    no_features = rng.random(n_items) < 0.03
    (folder / "images").mkdir(parents=True, exist_ok=True)
    looks = [style_look(s, n_styles) for s in range(n_styles)]
    jitter = np.tanh(z[:, :4] - style_centre[styles, :4] - cat_centre[cats, :4])
    lines_py, lines_json = [], []
    for i in range(n_items):  # one line per product: the file format is line-based
        bought = [a for a in other[i].tolist() if a]
        if add_ghost[i]:
            bought.append(str(ghost[i % len(ghost)]))
        item = {
            "asin": str(asins[i]),
            "title": f"{TOY_CATEGORIES[cats[i]].rstrip('s')} no. {i}",
            "imUrl": f"images/{asins[i]}.png",
            "related": {"also_bought": bought},
            "categories": [["Musical Instruments", TOY_CATEGORIES[cats[i]]]],
        }
        lines_py.append(repr(item))
        lines_json.append(json.dumps(item))
        save_png(render_artwork(looks[styles[i]], jitter[i], image_size), folder / "images" / f"{asins[i]}.png")

    has = ~no_features
    write_image_features(folder / FILES["features"], asins[has], feats[has])
    for name, lines in ((FILES["meta"], lines_py), (TOY_JSON_META, lines_json)):
        data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
        (folder / name).write_bytes(data)
    (folder / "toy_asins.json").write_text(json.dumps(asins.tolist()))
    np.save(folder / "toy_styles.npy", styles.astype(np.int64))
    np.save(folder / "toy_partner.npy", partner.astype(np.int64))


SPEC = register(
    DatasetSpec(
        name="amazon",
        title="Amazon product images: 4096-d CNN features and also-bought metadata",
        files=tuple(RemoteFile(n) for n in FILES.values()),
        unit="03",
        manual=MANUAL,
        toy=make_toy_amazon,
        toy_version=2,
    )
)
