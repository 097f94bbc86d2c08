import io

import numpy as np
from PIL import Image

from coursekit.images import fetch_image, render_artwork, style_look

from ._http import Server


def _png(color=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def test_local_path_relative_and_file_url(tmp_path):
    (tmp_path / "a.png").write_bytes(_png())
    for src, base in (("a.png", tmp_path), (str(tmp_path / "a.png"), None), (f"file://{tmp_path}/a.png", None)):
        img = fetch_image(src, base=base)
        assert img.size == (8, 8) and img.getpixel((0, 0)) == (10, 200, 30)


def test_http_cache_and_placeholder(tmp_path):
    with Server({"/x.png": _png((1, 2, 3))}, {"/err.png": "500"}) as srv:
        img = fetch_image(f"{srv.url}/x.png", cache_dir=tmp_path, retries=0)
        assert img.getpixel((0, 0)) == (1, 2, 3)
        bad = fetch_image(f"{srv.url}/err.png", cache_dir=tmp_path, retries=2, backoff=0.01)
        assert bad.info.get("placeholder") and srv.hits["/err.png"] == 3  # first try + 2 retries
        missing = fetch_image(f"{srv.url}/none.png", retries=2, backoff=0.01)
        assert missing.info.get("placeholder") and srv.hits["/none.png"] == 1  # 404 is not retried
        url = f"{srv.url}/x.png"
    # the server is gone: the cached copy still loads
    assert fetch_image(url, cache_dir=tmp_path).getpixel((0, 0)) == (1, 2, 3)


def test_timeout_gives_placeholder():
    with Server({"/slow.png": _png()}, {"/slow.png": "slow"}) as srv:
        img = fetch_image(f"{srv.url}/slow.png", timeout=0.2, retries=0)
    assert img.info.get("placeholder")


def test_rendered_styles_look_alike_within_and_differ_across():
    a1 = render_artwork(style_look(0, 20), np.zeros(4)).astype(float)
    a2 = render_artwork(style_look(0, 20), np.full(4, 0.3)).astype(float)
    b = render_artwork(style_look(1, 20), np.zeros(4)).astype(float)
    mean_colour = lambda x: x.reshape(-1, 3).mean(0)
    assert np.abs(mean_colour(a1) - mean_colour(a2)).sum() < np.abs(mean_colour(a1) - mean_colour(b)).sum()
