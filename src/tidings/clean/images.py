"""Cover image selection: the first usable image of an item."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from html import unescape

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .rules import CompiledRule, RuleSet, default_rules
from .sanitize import guard_depth
from .urls import (
    is_pixel_url,
    is_placeholder_src,
    lists,
    normalize_url_text,
    parse_srcset,
    resolve,
)

__all__ = ["pick_cover", "usable_image_url"]

_MIN_SIDE = 50
_DIM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", re.I)
# Size encoded in the path by image CDNs, e.g. sinaimg's /w640h398/ or /w50h50/.
_PATH_DIM = re.compile(r"/w(\d{1,4})h(\d{1,4})(?:/|$|_)", re.I)


def _small(value: str | None) -> bool:
    if not value:
        return False
    m = _DIM.match(value)
    return m is not None and float(m.group(1)) < _MIN_SIDE


def usable_image_url(url: str, base_url: str = "") -> str:
    """The absolute http(s) URL of `url` when it can serve as a cover, else ''.

    Refused: data: URLs and other schemes, tracking pixels, lazy-load placeholders, QR codes,
    icons/logos/avatars/emoji, SVG and .ico files, images the CDN path says are smaller than 50 px.
    """
    if not url or not url.strip():
        return ""
    v = resolve(url, base_url)
    if v.startswith("//"):
        v = "https:" + v
    low = v.lower()
    if not (low.startswith("http://") or low.startswith("https://")):
        return ""
    if is_placeholder_src(v) or is_pixel_url(v):
        return ""
    L = lists()
    if L.qr_re.search(low) or L.icon_re.search(low.split("?", 1)[0]):
        return ""
    m = _PATH_DIM.search(low)
    if m and (int(m.group(1)) < _MIN_SIDE or int(m.group(2)) < _MIN_SIDE):
        return ""
    return v


_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SPACES = re.compile(r"\s+")


def _words(values: Iterable[str | None]) -> str:
    """Attribute words as "/a/b/c/": camelCase split, lower-cased, so the URL patterns apply."""
    text = " ".join(v for v in values if v)
    if not text.strip():
        return ""
    return "/" + _SPACES.sub("/", _CAMEL.sub(r"\1 \2", text).strip()).lower() + "/"


@lru_cache(maxsize=4096)
def _named_qr_or_icon(text: str) -> bool:
    """Whether an image's alt, class, id and title (joined by spaces) name a QR code or an icon. Memoised:
    a site's images repeat a few of these."""
    words = _words((text,))
    L = lists()
    return bool(words and (L.qr_re.search(words) or L.icon_re.search(words)))


def _in_qr_block(img: LexborNode, levels: int = 3) -> bool:
    L = lists()
    node = img.parent
    for _ in range(levels):
        if node is None or node.tag in ("-undef", "html", "body", "#document"):
            return False
        attrs = node.attributes
        words = _words((attrs.get("class"), attrs.get("id")))
        if words and L.qr_re.search(words):
            return True
        node = node.parent
    return False


def _img_url(attrs: dict[str, str | None]) -> str:
    L = lists()
    src = attrs.get("src")
    if is_placeholder_src(src):
        src = next((v for a in L.lazy_src_attrs if (v := attrs.get(a)) and not is_placeholder_src(v)),
                   None)
    if not src:
        srcset = attrs.get("srcset") or next((v for a in L.lazy_srcset_attrs if (v := attrs.get(a))), "")
        items = parse_srcset(srcset) if srcset else []
        src = items[0][0] if items else ""
    return normalize_url_text(src or "")


def pick_cover(html: str, candidates: Iterable[str] = (), base_url: str = "",
               rules: RuleSet | None = None, *, cleaned: bool = False) -> str:
    """The cover image of an item, '' when there is none.

    Tries the explicit `candidates` first (enclosure, media:thumbnail, JSON Feed image: whatever
    the parser found), then the <img>s of `html` in document order. `html` may be raw or already
    cleaned: the per-site rules for `base_url` are applied first, so images in boilerplate blocks
    (Sina's QR-code block, say) are never picked. Images declared smaller than 50 px, QR codes,
    pixels, icons, data: URLs and SVGs are skipped.

    `cleaned=True` says `html` is clean_html's output: the site rules have run, and its canonical
    markup lets the <img> tags be read by regex instead of a second parse.
    """
    for c in candidates or ():
        url = usable_image_url(c, base_url)
        if url:
            return url
    if cleaned:
        # clean_html's tags are lower case: no need to lower-case the whole text to look for one.
        if not html or "<img" not in html:
            return ""
        images = _canonical_images(html)
    else:
        if not html or "<img" not in html.lower():
            return ""
        images = _dom_images(html, (rules or default_rules()).for_url(base_url))
    for attrs, in_qr_block in images:
        if in_qr_block or _small(attrs.get("width")) or _small(attrs.get("height")):
            continue
        if _named_qr_or_icon(" ".join(v for k in ("alt", "class", "id", "title") if (v := attrs.get(k)))):
            continue
        url = usable_image_url(_img_url(attrs), base_url)
        if url:
            return url
    return ""


def _dom_images(html: str, rule: CompiledRule) -> Iterator[tuple[dict[str, str | None], bool]]:
    for pattern in rule.drop:
        html = pattern.sub("", html)
    tree = LexborHTMLParser(guard_depth(html), is_fragment=True)
    if rule.remove:
        for node in reversed(tree.css(rule.remove)):
            node.decompose()
    for img in tree.css("img"):
        yield img.attributes, _in_qr_block(img)


_IMG_TAG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'([^\s="]+)="([^"]*)"')


def _canonical_images(html: str) -> Iterator[tuple[dict[str, str | None], bool]]:
    """<img> attributes of clean_html output by regex: exact there (nh3 double-quotes every value
    and escapes '<', '>' and '"' in it), much cheaper than a parse."""
    # str.find, then a match where it points: what finditer finds, without running the regex engine
    # over every character of the text.
    i = html.find("<img")
    while i >= 0:
        m = _IMG_TAG.match(html, i)
        if m is None:
            i = html.find("<img", i + 1)
            continue
        yield {k: unescape(v) if "&" in v else v for k, v in _ATTR.findall(m.group(1))}, False
        i = html.find("<img", m.end())
