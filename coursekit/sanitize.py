"""Allow-list sanitising of HTML someone else wrote (a student's markdown and outputs).

Pages built from a submission (feedback, question pages) must read like the notebook (headings,
paragraphs, lists, tables, code, images, the kit's check and claim boxes) and run nothing when an
instructor opens them: no script, no event handler, no ``javascript:`` link, no remote load.
:func:`clean_html` keeps an allow-list of tags and attributes (with `nh3
<https://nh3.readthedocs.io>`_, a binding of the Rust ``ammonia`` sanitiser), keeps inline styles
only for a list of harmless CSS properties and without ``url(...)``, and lets images through only
as embedded ``data:image/...`` (every figure of a notebook is embedded). Everything else is
removed, never shown as escaped text.
"""

from __future__ import annotations

import re

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del", "details",
    "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
}
ATTRIBUTES = {
    "*": {"class", "id", "title", "style", "lang", "dir"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign", "scope"},
    "col": {"span", "width"},
    "table": {"border", "cellpadding", "cellspacing"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
}
STYLE_PROPERTIES = {
    "background", "background-color", "border", "border-bottom", "border-collapse", "border-color", "border-left",
    "border-radius", "border-right", "border-spacing", "border-style", "border-top", "border-width", "color",
    "display", "float", "font", "font-family", "font-size", "font-style", "font-variant", "font-weight", "height",
    "letter-spacing", "line-height", "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right",
    "margin-top", "max-height", "max-width", "min-height", "min-width", "overflow", "overflow-x", "overflow-y",
    "padding", "padding-bottom", "padding-left", "padding-right", "padding-top", "text-align", "text-decoration",
    "text-indent", "text-transform", "vertical-align", "white-space", "width", "word-break", "word-wrap",
}
LINK_RE = re.compile(r"^(https?:|mailto:|#)", re.I)
IMAGE_RE = re.compile(r"^data:image/(png|jpe?g|gif|webp|svg\+xml);", re.I)


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "href":
        return value if LINK_RE.match(value.strip()) else None
    if name == "src":
        return value if tag == "img" and IMAGE_RE.match(value.strip()) else None
    if name == "style" and re.search(r"url\s*\(|expression\s*\(|@import", value, re.I):
        return None
    return value


def clean_html(fragment) -> str:
    """``fragment`` with everything outside the allow-list removed (see the module docstring)."""
    import nh3

    text = fragment.decode("utf-8", "replace") if isinstance(fragment, bytes) else str(fragment)
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, generic_attribute_prefixes={"data-"},
                     url_schemes={"http", "https", "mailto", "data"}, attribute_filter=_attribute,
                     filter_style_properties=STYLE_PROPERTIES, strip_comments=True, link_rel="noopener noreferrer")
