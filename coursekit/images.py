"""Images for the visual units: fetch by URL or path (timeout, retries, cache, placeholder), and
the small rendered pictures that give toy artworks a look that follows their latent style."""

from __future__ import annotations

import colorsys
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Iterable

import numpy as np

PATTERNS = ("stripes", "checker", "rings", "waves", "dots")


def placeholder(text: str = "image not available", size: int = 96):
    """A grey square with a cross and a short caption, shown where an image could not be loaded."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (225, 225, 225))
    draw = ImageDraw.Draw(img)
    draw.line((0, 0, size, size), fill=(170, 170, 170), width=2)
    draw.line((0, size, size, 0), fill=(170, 170, 170), width=2)
    draw.text((4, size - 14), text[:18], fill=(90, 90, 90))
    return img


def _cache_file(cache_dir: Path, source: str) -> Path:
    return cache_dir / (hashlib.sha256(source.encode()).hexdigest()[:32] + ".img")


def fetch_image(
    source: str | os.PathLike,
    *,
    base: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    timeout: float = 3.0,
    retries: int = 2,
    backoff: float = 0.5,
):
    """Load one image from an http(s) URL, a ``file://`` URL or a local path.

    ``base`` resolves relative paths (toy data sets store paths relative to their folder). Remote
    images are cached on disk in ``cache_dir`` (written atomically), so a second call is offline.
    On any failure (timeout, HTTP error, missing file, unreadable bytes) a placeholder image is
    returned instead of raising, so an image grid always renders; ``img.info["placeholder"]`` is
    then True.
    """
    from PIL import Image, UnidentifiedImageError

    src = str(source)
    try:
        if src.startswith(("http://", "https://")):
            data = _fetch_remote(src, cache_dir, timeout, retries, backoff)
        else:
            if src.startswith("file://"):
                src = src[len("file://"):]
            path = Path(src)
            if base is not None and not path.is_absolute():
                path = Path(base) / path
            data = path.read_bytes()
        img = Image.open(io.BytesIO(data))
        img.load()
        return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        img = placeholder("not found")
        img.info["placeholder"] = True
        return img


def _fetch_remote(url, cache_dir, timeout, retries, backoff) -> bytes:
    import requests

    cached = _cache_file(Path(cache_dir), url) if cache_dir is not None else None
    if cached is not None and cached.exists():
        return cached.read_bytes()
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            r = requests.get(url, timeout=timeout)
            if r.status_code == 200:
                data = r.content
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cached.with_suffix(f".{os.getpid()}.part")
                    tmp.write_bytes(data)
                    os.replace(tmp, cached)
                return data
            if 400 <= r.status_code < 500:  # a client error will not go away on retry
                raise OSError(f"HTTP {r.status_code} for {url}")
            last = OSError(f"HTTP {r.status_code} for {url}")
        except requests.RequestException as exc:  # timeout, connection refused, ...
            last = exc
        if attempt < retries:
            time.sleep(backoff * (2**attempt))
    raise OSError(f"cannot fetch {url}: {last}")


def fetch_images(sources: Iterable[str], **kwargs) -> list:
    """:func:`fetch_image` for each source, in order."""
    return [fetch_image(s, **kwargs) for s in sources]


# --------------------------------------------------------------------------- toy rendering

def style_look(style: int, n_styles: int) -> dict:
    """The look of a latent style: a base hue spread around the colour wheel and a pattern."""
    return {
        "hue": (style * 0.6180339887) % 1.0,  # golden-ratio spacing keeps neighbours distinct
        "pattern": PATTERNS[style % len(PATTERNS)],
        "freq": 2.0 + (style * 7 % 5),
        "angle": (style * 37 % 180) * np.pi / 180,
    }


def render_artwork(look: dict, jitter: np.ndarray, size: int = 64) -> np.ndarray:
    """Render a ``size`` x ``size`` RGB uint8 picture of a style, varied by a small ``jitter``.

    ``jitter`` holds 4 numbers of order 1 (hue, frequency, angle and phase offsets), taken from
    the artwork's own latent vector, so items of one style look alike but not identical.
    """
    j = np.asarray(jitter, dtype=float)
    hue = (look["hue"] + 0.04 * j[0]) % 1.0
    freq = look["freq"] * (1 + 0.15 * j[1])
    angle = look["angle"] + 0.25 * j[2]
    phase = j[3]
    yy, xx = np.mgrid[0:size, 0:size] / size
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    p = look["pattern"]
    if p == "stripes":
        t = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * freq * u + phase))
    elif p == "checker":
        t = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * freq * u + phase) * np.sin(2 * np.pi * freq * v))
    elif p == "rings":
        r = np.hypot(xx - 0.5, yy - 0.5)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * freq * 1.5 * r + phase)
    elif p == "waves":
        t = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (u + 0.1 * np.sin(2 * np.pi * 2 * v)) + phase)
    else:  # dots
        t = (np.sin(2 * np.pi * freq * u + phase) * np.sin(2 * np.pi * freq * v) > 0.5).astype(float)
    c1 = np.array(colorsys.hsv_to_rgb(hue, 0.75, 0.95))
    c2 = np.array(colorsys.hsv_to_rgb((hue + 0.08) % 1.0, 0.9, 0.35))
    rgb = t[..., None] * c1 + (1 - t[..., None]) * c2
    return np.clip(rgb * 255, 0, 255).astype(np.uint8)


def save_png(array: np.ndarray, path: str | os.PathLike) -> None:
    """Write an RGB uint8 array as a PNG (deterministic bytes for the same array)."""
    from PIL import Image

    Image.fromarray(array).save(path, format="PNG", optimize=False)
