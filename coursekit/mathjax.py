"""MathJax for every page the kit writes, offline: no CDN, nothing fetched when a page opens.

nbconvert's HTML links MathJax (and require.js) from a CDN, so exported notebooks, feedback and
question pages show raw TeX on a machine without internet. The kit ships MathJax 2.7 through the
``jupyter-server-mathjax`` package (a dependency) and builds one JavaScript bundle from it: the
configuration, the core, the TeX input with the AMS extensions and the operator tables, native
MathML output (rendered by the browser itself, so no web fonts are needed) and the ``Safe``
extension (math a student wrote cannot add links to ``javascript:`` or styles). Every component
the bundle holds is marked as loaded, so MathJax never asks for another file (the tests open the
pages with the network cut and check that nothing was requested).

- :func:`script_tags` ``("inline")``: the bundle inside the page (a single file that is read
  anywhere: ``coursekit export``);
- :func:`write_bundle` + :func:`script_tags` ``(url)``: one shared copy beside a folder of pages
  (``build/html``, the grader's feedback and question pages).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

BUNDLE_NAME = "coursekit-mathjax.js"
CONFIG = {
    "jax": ["input/TeX", "output/NativeMML"],
    "extensions": ["tex2jax.js", "Safe.js"],
    "TeX": {"extensions": ["AMSmath.js", "AMSsymbols.js", "noErrors.js", "noUndefined.js"],
            "equationNumbers": {"autoNumber": "AMS", "useLabelIds": True}},
    "tex2jax": {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
                "processEscapes": True, "processEnvironments": True},
    # the combined file also carries the HTML-CSS output: told it has no fonts, it never asks for any
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": None, "imageFont": None},
    "displayAlign": "center",
    "messageStyle": "none",
    "showMathMenu": False,
    "showProcessingMessages": False,
    "menuSettings": {"zoom": "None"},
}


def mathjax_root() -> Path:
    """The MathJax 2.7 files of the ``jupyter-server-mathjax`` package."""
    import jupyter_server_mathjax

    return Path(jupyter_server_mathjax.__file__).resolve().parent / "static"


@functools.lru_cache(maxsize=1)
def bundle() -> str:
    """The whole offline bundle, as JavaScript."""
    root = mathjax_root()
    core = (root / "MathJax.js").read_text(encoding="utf-8")
    combined = (root / "config" / "TeX-AMS-MML_HTMLorMML-full.js").read_text(encoding="utf-8")
    extra = ["extensions/Safe.js", *(f"jax/element/mml/optable/{p.name}"
                                     for p in sorted((root / "jax/element/mml/optable").glob("*.js")))]
    preloading = ", ".join(json.dumps(f"[MathJax]/{name}") for name in extra)
    return "\n".join([
        "/* MathJax 2.7 (Apache License 2.0, https://www.mathjax.org), bundled by coursekit for offline pages */",
        f"window.MathJax = {json.dumps(CONFIG)};",
        core,
        combined,
        f"MathJax.Ajax.Preloading({preloading});",  # the operator tables and Safe: never fetched either
        *((root / name).read_text(encoding="utf-8") for name in extra),
    ])


def write_bundle(folder: str | Path) -> Path:
    """Write the bundle into ``folder`` (once: an identical file is left alone); returns its path."""
    from .notebooks import write_text_atomic

    path = Path(folder) / BUNDLE_NAME
    text = bundle()
    if not (path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(text.encode()).digest()):
        write_text_atomic(path, text)
    return path


def script_tags(where: str = "inline") -> str:
    """The ``<script>`` that typesets a page's math: the bundle inline, or a relative URL of a
    copy written by :func:`write_bundle`."""
    if where == "inline":
        code = re.sub(r"</(script)", r"<\\/\1", bundle(), flags=re.I)  # the script cannot end itself early
        return f'<script type="text/javascript" id="coursekit-mathjax">{code}</script>'
    return f'<script type="text/javascript" id="coursekit-mathjax" src="{where}"></script>'
