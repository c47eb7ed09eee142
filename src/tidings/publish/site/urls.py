"""The site's URL scheme: where every page lives on disk and how pages link to each other.

Paths here are site-relative, '/'-separated, UTF-8 (what is on disk). `href()` percent-encodes them for
links; pages link relatively (`root` + href) so the site works under any base path; feeds, sitemap,
canonical and Open Graph URLs are absolute (`absolute()`).

    index.html, page/<k>/index.html                      home, stable pagination (see lists.py)
    a/<yyyy>/<mm>/<dd>/<id>-<src6>.html                  one item (date in site.timezone)
    categories/index.html                                the category tree with counts
    c/<category>/[<source>/[<channel>/]]index.html       one tree node (+ page/<k>/, rss.xml, atom.xml, feed.json)
    archives/index.html, archives/<yyyy>/index.html      years and months with counts
    archives/<yyyy>/<mm>/index.html                      one month (+ page/<k>/)
    rss.xml, atom.xml, feed.json, sitemap.xml            whole-site feeds and sitemap
    search/index.html, _pagefind/<shard>/                search page and Pagefind bundles
    static/                                              style.css, search.js
"""
from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from datetime import date, datetime
from urllib.parse import quote

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|#%\s]+')
_RESERVED = {"page", "index.html", "rss.xml", "atom.xml", "feed.json", "con", "prn", "aux", "nul",
             *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_MAX_BYTES = 100


def short_hash(text: str, n: int = 6) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


@functools.lru_cache(maxsize=4096)
def _source_hash(source_key: str) -> str:
    return short_hash(source_key)  # once per source, not once per item of a build


def item_uid(source_key: str, item_id: str) -> str:
    """Item ids are unique per source only: add a short hash of the source key."""
    return f"{item_id}-{_source_hash(source_key)}"


def item_dir(day: date) -> str:
    """'a/yyyy/mm/dd/': the directory of a day's item pages (its local date)."""
    return f"a/{day:%Y/%m/%d}/"


def item_path(local: datetime, uid: str) -> str:
    return f"{item_dir(local)}{uid}.html"


def segment(name: str) -> str:
    """A category/source/channel name as one path segment: keeps CJK, drops what URLs and file systems hate."""
    s = _UNSAFE.sub("-", name).strip("-").lstrip("._")
    b = s.encode("utf-8")
    if len(b) > _MAX_BYTES:
        s = b[:_MAX_BYTES].decode("utf-8", "ignore").rstrip("-")
    if not s:
        return "n-" + short_hash(name)
    if s.lower() in _RESERVED:
        s += "-"
    return s


def tag_segments(tags: Iterable[str]) -> dict[str, str]:
    """Map every tag to its directory ('t/<seg>/'), as node_segments does for top-level names."""
    return {node[0]: "t/" + path[2:] for node, path in node_segments((t,) for t in tags).items()}


def node_segments(paths: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """Map every tree node (a tuple of names) to its directory ('c/<seg>/.../').

    Sibling names that would share a segment (case-insensitively, after cleaning) each get a short hash
    of their name, so the mapping depends only on the set of names, never on the order they come in.
    """
    nodes: set[tuple[str, ...]] = set()
    for p in paths:
        for i in range(1, len(p) + 1):
            nodes.add(p[:i])
    by_parent: dict[tuple[tuple[str, ...], str], list[tuple[str, ...]]] = {}
    for node in nodes:
        by_parent.setdefault((node[:-1], segment(node[-1]).lower()), []).append(node)
    seg: dict[tuple[str, ...], str] = {}
    for group in by_parent.values():
        for node in group:
            s = segment(node[-1])
            seg[node] = s if len(group) == 1 else f"{s}-{short_hash(node[-1])}"
    out: dict[tuple[str, ...], str] = {}
    for node in sorted(nodes, key=len):
        out[node] = (out[node[:-1]] if len(node) > 1 else "c/") + seg[node] + "/"
    return out


def page_path(base_dir: str, k: int) -> str:
    """Numbered page k of a listing whose first page is <base_dir>index.html."""
    return f"{base_dir}page/{k}/index.html"


_PLAIN = re.compile(r"[A-Za-z0-9_.~/-]*")


def href(path: str) -> str:
    """Link form of a site path: percent-encoded, directory index pages as their directory."""
    path = path.removesuffix("index.html")
    return path if _PLAIN.fullmatch(path) else quote(path, safe="/")


def root_for(path: str) -> str:
    """Relative prefix from the page at `path` to the site root."""
    depth = path.count("/")
    return "../" * depth if depth else "./"


def absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + href(path)
